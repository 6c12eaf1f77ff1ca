"""Threading a customer's SMS reply into a ticket: which ticket, then onto it.

:func:`match_ticket` decides, reading only; :func:`deliver` writes. The rules, in order:

1. **A ticket reference in the text**: ``#123`` or ``<queue slug>-123`` (django-helpdesk's
   ``ticket_for_url``, e.g. ``support-12``), honoured only if we have texted *this* number
   about *that* ticket. Anyone can type ``#123``: without that check a stranger could add
   text to any ticket, and read its public page's updates by SMS afterwards. A reference
   that fails the check falls through to the next rule, as if it were not there.
2. **The open ticket we most recently texted this number about**, if that message is at
   most ``HELPDESK_SMS["REPLY_WINDOW_DAYS"]`` days (default 7) older than the reply.
3. **A new django-helpdesk ticket** when ``HELPDESK_SMS["REPLY_NEW_TICKETS"]`` is True,
   in the queue whose slug is ``REPLY_NEW_TICKET_QUEUE``.
4. Otherwise **unassigned**: the reply waits for a person (the inbound dashboard).

"Texted" means a message the number heard or will hear (not suppressed, failed or
canceled: sticky.NOT_HEARD). "Open" is the host's: see :func:`is_open`.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Case, Value, When

from . import conf
from .integrations import django_helpdesk, helpdesk_replies, watcher_replies
from .models import Audience, Message
from .reply_values import Delivered, How, Reply, TicketMatch
from .sticky import NOT_HEARD, sticky_route

logger = logging.getLogger(__name__)

__all__ = [
    "Delivered",
    "How",
    "Reply",
    "TicketMatch",
    "deliver",
    "is_open",
    "match_ticket",
    "references",
    "sticky_route",
]

#: ``#123``, or a queue slug and a number (``support-12``, ``it-desk-7``), as a word.
REFERENCE = re.compile(
    r"(?<![\w#-])(?:#(?P<pk>\d+)|(?P<slug>[a-z0-9][a-z0-9_-]*?)-(?P<queue_pk>\d+))(?![\w-])",
    re.IGNORECASE,
)

#: The most messages to one number the last-texted rule looks through for an open ticket.
LAST_TEXTED_SCAN = 200


@dataclass(frozen=True)
class Reference:
    """One ticket reference found in a text: ``#pk`` (slug None) or ``slug-pk``."""

    pk: str
    slug: str | None
    text: str


def references(text: str) -> list[Reference]:
    """The ticket references in ``text``, in the order written, each once."""
    found: list[Reference] = []
    for match in REFERENCE.finditer(text or ""):
        pk = match["pk"] or match["queue_pk"]
        reference = Reference(str(int(pk)), match["slug"], match.group(0))
        if reference not in found:
            found.append(reference)
    return found


def is_open(ticket: models.Model) -> bool:
    """Whether a reply may still thread onto ``ticket`` without naming it.

    django-helpdesk: not closed and not a duplicate (a resolved ticket awaits the
    customer's answer: their reply belongs there). The model watcher's ticket model: its
    ``OPEN_FIELD``. Any other ticket model: open.
    """
    if django_helpdesk.is_helpdesk_ticket(ticket):
        return helpdesk_replies.is_open(ticket)
    return watcher_replies.is_open(ticket)


def _ticket(type_pk: int, ticket_pk: str) -> models.Model | None:
    """The ticket a message names, or None when it is gone (or its model is)."""
    model = ContentType.objects.get_for_id(type_pk).model_class()
    if model is None:
        return None
    ticket = model._default_manager.filter(pk=ticket_pk).first()
    if ticket is not None and django_helpdesk.is_helpdesk_ticket(ticket):
        return helpdesk_replies.merged_into(ticket)
    return ticket


def _texted(number: str) -> Any:
    """Messages about a ticket that ``number`` heard (or will hear) as its customer, newest
    first. An agent's or a group member's phone texted about a ticket is no customer of
    it: their answer must not become a follow-up "from the submitter"."""
    return (
        Message.objects.filter(recipient=number, audience=Audience.CUSTOMER)
        .exclude(ticket_type=None)
        .exclude(ticket_id="")
        .exclude(status__in=NOT_HEARD)
        .order_by("-created_at", "-pk")
    )


def _by_reference(reply: Reply) -> TicketMatch | None:
    wanted = references(reply.text)
    if not wanted:
        return None
    texted: dict[str, list[int]] = {}
    for type_pk, ticket_pk in (
        _texted(reply.number)
        .filter(ticket_id__in={r.pk for r in wanted})
        .values_list("ticket_type_id", "ticket_id")
    ):
        types = texted.setdefault(ticket_pk, [])
        if type_pk not in types:
            types.append(type_pk)
    for reference in wanted:
        for type_pk in texted.get(reference.pk, []):
            ticket = _ticket(type_pk, reference.pk)
            if ticket is None:
                continue
            if reference.slug is not None and not helpdesk_replies.has_slug(ticket, reference.slug):
                continue
            return TicketMatch(ticket, "reference", f"the reply names {reference.text}")
    names = ", ".join(r.text for r in wanted)
    logger.info(
        "helpdesk_sms: reply from %s names %s, never texted to that number: ignored",
        reply.number,
        names,
    )
    return None


def _by_last_texted(reply: Reply) -> TicketMatch | None:
    days = conf.get("REPLY_WINDOW_DAYS")
    since = reply.received_at - timedelta(days=days)
    seen: set[tuple[int, str]] = set()
    recent = _texted(reply.number).filter(created_at__gte=since)
    if reply.provider is not None:
        # A customer texted by two lines about two tickets answers the line of the one
        # they mean: tickets last texted through the provider the reply came in on first.
        same_line = Case(When(provider=reply.provider, then=Value(0)), default=Value(1))
        recent = recent.order_by(same_line, "-created_at", "-pk")
    for type_pk, ticket_pk in recent.values_list("ticket_type_id", "ticket_id")[:LAST_TEXTED_SCAN]:
        if (type_pk, ticket_pk) in seen:
            continue
        seen.add((type_pk, ticket_pk))
        ticket = _ticket(type_pk, ticket_pk)
        if ticket is not None and is_open(ticket):
            return TicketMatch(
                ticket,
                "last_texted",
                f"the open ticket last texted to {reply.number} within {days} days",
            )
    return None


def _new_or_unassigned(reply: Reply) -> TicketMatch:
    if not conf.get("REPLY_NEW_TICKETS"):
        return TicketMatch(None, "unassigned", "no ticket matched; new tickets are off")
    slug = conf.get("REPLY_NEW_TICKET_QUEUE")
    problem = helpdesk_replies.new_ticket_problem(slug)
    if problem:
        logger.warning("helpdesk_sms: reply from %s not made a ticket: %s", reply.number, problem)
        return TicketMatch(None, "unassigned", f"no ticket matched; {problem}")
    return TicketMatch(None, "new_ticket", f"no ticket matched; a new ticket in queue {slug!r}")


def match_ticket(reply: Reply) -> TicketMatch:
    """The ticket ``reply`` belongs to, by the rules of the module docstring; writes nothing."""
    return _by_reference(reply) or _by_last_texted(reply) or _new_or_unassigned(reply)


def reply_key(reply: Reply) -> str:
    """A stable id of one reply, so delivering it twice adds it once (django-helpdesk keeps
    it as the follow-up's message id)."""
    raw = "\n".join([reply.number, reply.our_number, reply.received_at.isoformat(), reply.text])
    return f"<sms-{hashlib.sha256(raw.encode()).hexdigest()[:32]}@helpdesk-sms>"


def deliver(reply: Reply, match: TicketMatch) -> Delivered:
    """Put ``reply`` on the ticket ``match`` found (or the new ticket it calls for).

    django-helpdesk: a public follow-up from the submitter, django-helpdesk's own e-mail
    to the owner, and a reopen where django-helpdesk would reopen for an e-mail. The model
    watcher's ticket: a REPLY_MODEL row, if configured. Neither texts the customer back.
    Unassigned: nothing (the caller keeps the reply for a person). One transaction.
    """
    with transaction.atomic():
        if match.how == "new_ticket":
            return helpdesk_replies.new_ticket(reply, reply_key(reply))
        ticket = match.ticket
        if ticket is None:
            return Delivered(None)
        if django_helpdesk.is_helpdesk_ticket(ticket):
            return helpdesk_replies.follow_up(ticket, reply, reply_key(reply))
        return watcher_replies.reply_row(ticket, reply)
