"""What a newly received customer SMS leads to: the one hook the receiving code calls.

Receiving (``inbound``) stores each SMS once and calls :func:`process` for a new one only,
inside a savepoint: a failure here rolls back what processing wrote and leaves the row
marked ``error``. In order:

1. A keyword alone (STOP, START, HELP and their configured equivalents) changes consent
   and is answered from the provider and number the customer texted; it is not put on a
   ticket (an opt-out is not a message for the agent).
2. Anything else is threaded (:mod:`.reply_threading`): a ticket reference, else the open
   ticket last texted, else a new ticket where allowed, else kept for a human.

The caller (``inbound.receive``) then sends ``sms_received`` with the ticket it went to
(or None), after these writes and apart from them.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import consent, reply_threading
from .exceptions import SmsInputError
from .inbound_models import InboundAction, InboundMessage
from .reply_values import Reply

logger = logging.getLogger(__name__)

#: What a threading rule means for the row.
ACTIONS = {
    "reference": InboundAction.TICKET,
    "last_texted": InboundAction.TICKET,
    "new_ticket": InboundAction.NEW_TICKET,
}


def process(message: InboundMessage) -> Any:
    """Decide what ``message`` means and record it on the row; the ticket it went to."""
    ticket: Any = None
    outcome = consent.handle_keyword(message.sender, message.text, message.provider)
    if outcome is not None:
        message.action = InboundAction.KEYWORD
        message.action_detail = _keyword_detail(outcome) + _answer(outcome, message)
    else:
        reply = Reply(
            number=message.sender,
            text=message.text,
            provider=message.provider,
            our_number=message.recipient,
            received_at=message.received_at,
        )
        match = reply_threading.match_ticket(reply)
        if match.how in ACTIONS:
            ticket = reply_threading.deliver(reply, match).ticket
        message.action = ACTIONS.get(match.how, InboundAction.UNASSIGNED)
        message.action_detail = match.detail
        if ticket is not None:
            message.ticket = ticket
            message.handled_at = timezone.now()
    message.save(
        update_fields=["action", "action_detail", "ticket_type", "ticket_id", "handled_at"]
    )
    return ticket


def _answer(outcome: consent.KeywordOutcome, message: InboundMessage) -> str:
    """Queue the keyword's reply; how it went, for the row. A reply that cannot be sent
    (a destination the provider may not text, a text its gateway cannot carry) never
    undoes the consent change itself: an opt-out must hold even when unconfirmed."""
    try:
        with transaction.atomic():
            sent = consent.send_reply(outcome, message.sender, message.provider, message.recipient)
    except SmsInputError as exc:
        logger.warning(
            "helpdesk_sms: the reply to %r from %s was not sent: %s",
            outcome.keyword,
            message.sender,
            exc,
        )
        return f"; no reply sent: {exc}"
    return "; answered" if sent is not None else "; no reply sent"


def _keyword_detail(outcome: consent.KeywordOutcome) -> str:
    """One sentence for the operator: what the keyword did."""
    did = {
        "opt_out": "opted out" if outcome.changed else "already opted out",
        "opt_in": "opted in" if outcome.changed else "was not opted out",
        "help": "asked for help",
    }[outcome.kind]
    return f"{outcome.keyword!r}: {outcome.number} {did}"
