"""Receiving a customer's SMS: read the push, store it once, process it once.

A gateway repeats a push it thinks we missed (a timeout, a 5xx, its own retry policy), so
each SMS is stored under a deduplication key unique per provider (the gateway's id, else a
hash of sender, text and time). The insert either creates the row or, on the unique
constraint, counts the repeat with one ``UPDATE … SET repeat_count = repeat_count + 1``:
two workers taking the same push at once on PostgreSQL create one row, and only the one
that created it processes it. Processing may fail; the row stays, marked ``error``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from . import inbound_processing
from .gateways.base import redact, redact_params
from .inbound_models import InboundAction, InboundMessage
from .inputs import check_text
from .models import Provider
from .signals import send_robustly, sms_received

logger = logging.getLogger(__name__)

#: Kept of the pushed data: this many parameters, each value cut to this many characters.
RAW_MAX_FIELDS = 50
RAW_MAX_CHARS = 2000
#: The longest processing error kept on the row.
DETAIL_MAX_CHARS = 500


@dataclass(frozen=True)
class Received:
    """A push taken: the stored SMS, and whether this push created it (False: a repeat)."""

    message: InboundMessage
    created: bool


def receive(provider: Provider, data: Mapping[str, str]) -> Received:
    """Store the SMS pushed as ``data`` once; process it only when it is new.

    Raises :class:`~.gateways.inbound.InboundFieldError` (or SmsInputError) naming the
    parameter when the push cannot be read; nothing is written then.
    """
    sms = provider.get_gateway().parse_inbound(data)
    for name in ("recipient", "text", "gateway_id"):
        check_text(getattr(sms, name), name)
    now = timezone.now()
    key = sms.dedup_key()
    # Stored and processed in one transaction: a worker killed while processing stores
    # nothing, so the gateway's retry (it got no 200) processes the SMS, never a row left
    # unprocessed forever. A concurrent duplicate waits on the unique key until then.
    with transaction.atomic():
        earlier = sms.earlier_dedup_key()
        if earlier is not None:
            repeat = _count_repeat(provider, earlier, now)
            if repeat is not None:
                return Received(repeat, created=False)
        try:
            with transaction.atomic():
                message = InboundMessage.objects.create(
                    provider=provider,
                    sender=sms.sender,
                    recipient=sms.recipient,
                    text=sms.text,
                    encoding=sms.encoding,
                    received_at=sms.received_at if sms.time_given else now,
                    gateway_id=sms.gateway_id,
                    dedup_key=key,
                    last_pushed_at=now,
                    raw=stored_raw(provider, data),
                )
        except IntegrityError:
            repeat = _count_repeat(provider, key, now)
            if repeat is None:
                raise  # not our constraint: the provider went away, or a real fault
            return Received(repeat, created=False)
        ticket = _process(provider, message)
    _announce(message, ticket)
    return Received(message, created=True)


def _count_repeat(provider: Provider, key: str, now: Any) -> InboundMessage | None:
    """Count one more push of the SMS stored under ``key``; None when there is none."""
    mine = InboundMessage.objects.filter(provider=provider, dedup_key=key)
    if not mine.update(repeat_count=F("repeat_count") + 1, last_pushed_at=now):
        return None
    logger.info("helpdesk_sms: %s pushed an SMS again (%s); not processed twice", provider, key)
    return mine.get()


def _process(provider: Provider, message: InboundMessage) -> Any:
    """Run the processing hook; the ticket it went to. A failure rolls back what processing
    wrote, is logged and recorded on the row, never raised."""
    try:
        with transaction.atomic():
            return inbound_processing.process(message)
    except Exception as exc:  # noqa: BLE001 - the SMS is stored; the push must still succeed
        detail = redact(f"{type(exc).__name__}: {exc}", provider.secret_values())
        logger.error(
            "helpdesk_sms: inbound SMS #%s from %s could not be processed: %s",
            message.pk,
            provider,
            detail,
        )
        message.action = InboundAction.ERROR
        message.action_detail = detail[:DETAIL_MAX_CHARS]
        InboundMessage.objects.filter(pk=message.pk).update(
            action=message.action, action_detail=message.action_detail
        )
        return None


def _announce(message: InboundMessage, ticket: Any) -> None:
    """Send ``sms_received`` once the reply's own writes are done, in a savepoint of its
    own: a receiver's failed write rolls back only itself, never the opt-out or the
    follow-up it was told about."""
    with transaction.atomic():
        send_robustly(sms_received, "sms_received", InboundMessage, message=message, ticket=ticket)


def stored_raw(provider: Provider, data: Mapping[str, Any]) -> dict[str, str]:
    """The pushed parameters fit for storing: secret-like names and every credential masked."""
    kept = {str(k)[:100]: str(v) for k, v in list(data.items())[:RAW_MAX_FIELDS]}
    masked: dict[str, str] = redact(redact_params(kept), provider.secret_values())
    return {k: v[:RAW_MAX_CHARS] for k, v in masked.items()}
