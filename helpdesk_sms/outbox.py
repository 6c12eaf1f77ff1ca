"""The outbox: claim due messages, submit them, record what the gateway said.

At most once per message: a message is claimed by a conditional ``queued -> sending``
update (row locks with ``skip_locked`` where the database has them), so only one worker
ever submits it. After submission only the gateway's answer decides: accepted, failed
(refused, permanent), back to queued (provably not taken: retried with back-off), or
unknown (may have been taken: never resent automatically).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import conf
from .compose import uses_gateway_scheduling
from .gateways.base import (
    Batch,
    Capability,
    ErrorCategory,
    GatewayError,
    Recipient,
    RecipientResult,
    ReportRef,
)
from .models import Message, MessageEvent, Provider
from .states import Source, Status
from .transitions import move

logger = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    """What one outbox pass did, for logs, the CLI and tests."""

    claimed: int = 0
    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    retrying: int = 0
    released: int = 0
    stale: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"claimed {self.claimed}: accepted {self.accepted}, failed {self.failed}, "
            f"unknown {self.unknown}, retrying {self.retrying}; released {self.released} "
            f"scheduled, {self.stale} stale"
        )


def dispatch(*, limit: int | None = None, now: datetime | None = None) -> DispatchReport:
    """One full pass: release due scheduled messages, then submit until nothing is due."""
    report = DispatchReport()
    now = now or timezone.now()
    report.released = release_scheduled(now)
    report.stale = expire_stale_sending(now)
    batch_size = int(limit or conf.get("BATCH_SIZE"))
    while True:
        claimed = claim(batch_size, now)
        if not claimed:
            break
        report.claimed += len(claimed)
        for provider, messages in _by_provider(claimed).items():
            for chunk in group_into_batches(provider, messages):
                submit(provider, chunk, report)
        if limit or len(claimed) < batch_size:
            break
    if report.claimed:
        logger.info("helpdesk_sms outbox: %s", report)
    return report


def release_scheduled(now: datetime) -> int:
    """Locally scheduled messages whose time has come: ``scheduled -> queued``."""
    released = 0
    for message in Message.objects.filter(status=Status.SCHEDULED, send_at__lte=now):
        released += move(message, Status.QUEUED, source=Source.SYSTEM, note="send time reached")
    return released


def expire_stale_sending(now: datetime) -> int:
    """Messages stuck in ``sending`` (the worker died mid-request) become ``unknown``.

    The request may or may not have reached the gateway, so resending could double it.
    """
    cutoff = now - timedelta(seconds=int(conf.get("STALE_SENDING_AFTER")))
    stale = 0
    for message in Message.objects.filter(status=Status.SENDING, status_changed_at__lt=cutoff):
        stale += move(
            message,
            Status.UNKNOWN,
            source=Source.SYSTEM,
            note="left in 'sending' by a worker that stopped; not resent",
            error_category=ErrorCategory.AMBIGUOUS,
            error_text="The worker stopped while submitting; the gateway may have the message.",
        )
    return stale


def claim(limit: int, now: datetime) -> list[Message]:
    """Take up to ``limit`` due messages for this worker alone (``queued -> sending``)."""
    with transaction.atomic():
        candidates = list(
            Message.objects.due(now)
            .select_for_update(skip_locked=True)
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        mine: list[int] = []
        for pk in candidates:
            # The condition on status is the real guarantee, also where rows cannot be locked.
            if Message.objects.filter(pk=pk, status=Status.QUEUED).update(
                status=Status.SENDING, status_changed_at=now, updated_at=now
            ):
                mine.append(pk)
        MessageEvent.objects.bulk_create(
            MessageEvent(
                message_id=pk,
                from_status=Status.QUEUED,
                to_status=Status.SENDING,
                source=Source.SEND,
                note="claimed by the outbox",
                created_at=now,
            )
            for pk in mine
        )
    return list(
        Message.objects.filter(pk__in=mine)
        .select_related("provider", "group")
        .order_by("created_at", "pk")
    )


def _by_provider(messages: Iterable[Message]) -> dict[Provider, list[Message]]:
    grouped: dict[Provider, list[Message]] = defaultdict(list)
    for message in messages:
        grouped[message.provider].append(message)
    return grouped


def _batch_key(message: Message, gateway_schedules: bool) -> tuple[Any, ...]:
    schedule = message.send_at if gateway_schedules and message.send_at else None
    return (
        message.sender,
        message.body,
        message.encoding,
        message.flash,
        message.group_id,
        message.registered_template_id,
        schedule,
    )


def group_into_batches(provider: Provider, messages: list[Message]) -> list[list[Message]]:
    """Messages that may share one gateway request, within the gateway's numbers limit."""
    limit = provider.gateway_class().max_numbers_per_request
    limit = int((provider.options or {}).get("max_numbers", limit)) or 1
    gateway_schedules = uses_gateway_scheduling(provider)
    same: dict[tuple[Any, ...], list[Message]] = defaultdict(list)
    for message in messages:
        key = _batch_key(message, gateway_schedules)
        if message.group_id:
            key += (message.pk,)  # a group send is a request of its own
        same[key].append(message)
    return [chunk for group in same.values() for chunk in _chunks(group, limit)]


def _chunks(messages: list[Message], limit: int) -> list[list[Message]]:
    """Requests of at most ``limit`` numbers, none carrying the same number twice.

    A gateway answers one entry per number, so a number twice in one request would leave
    one of its messages without an answer (and waiting for a report forever).
    """
    chunks: list[list[Message]] = []
    for message in messages:
        for chunk in chunks:
            if len(chunk) < limit and all(m.recipient != message.recipient for m in chunk):
                chunk.append(message)
                break
        else:
            chunks.append([message])
    return chunks


def submit(provider: Provider, messages: list[Message], report: DispatchReport) -> None:
    """Send one batch and record each message's outcome. Never raises."""
    first = messages[0]
    gateway = provider.get_gateway()
    schedule_at = first.send_at if uses_gateway_scheduling(provider) else None
    if schedule_at is not None and schedule_at <= timezone.now():
        schedule_at = None
    batch = Batch(
        recipients=[Recipient(m.pk, m.recipient) for m in messages],
        text=first.body,
        sender=first.sender,
        unicode=first.encoding == "ucs2",
        flash=first.flash,
        schedule_at=schedule_at,
        group_id=first.group.provider_group_id if first.group_id else "",
        template_id=first.registered_template_id,
    )
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(attempts=F("attempts") + 1)
    for message in messages:
        message.attempts += 1
    try:
        outcome = gateway.send(batch)
    except GatewayError as error:
        data = {"error": _error_data(error)}
        for message in messages:
            _record_error(message, error, data, report)
        return
    except Exception as exc:  # an adapter bug after the request may have gone out
        logger.exception("helpdesk_sms: %s adapter failed while sending", provider.gateway)
        error = GatewayError(
            ErrorCategory.AMBIGUOUS, gateway.redact(f"adapter error: {type(exc).__name__}: {exc}")
        )
        for message in messages:
            _record_error(message, error, {"error": _error_data(error)}, report)
        return
    exchange = {"request": outcome.request, "response": outcome.response}
    results = {result.ref: result for result in outcome.results}
    for message in messages:
        result = results.get(message.pk)
        if result is None:
            error = GatewayError(
                ErrorCategory.AMBIGUOUS, "The gateway's answer did not mention this message."
            )
            _record_error(message, error, exchange, report)
        elif result.accepted:
            _record_accepted(message, result, exchange, report)
        else:
            error = result.error or GatewayError(ErrorCategory.INVALID_REQUEST, "refused")
            _record_error(message, error, {**exchange, "result": result.raw}, report)


def _record_accepted(
    message: Message, result: RecipientResult, exchange: dict[str, Any], report: DispatchReport
) -> None:
    moved = move(
        message,
        Status.ACCEPTED,
        source=Source.SEND,
        note="accepted by the gateway",
        data={**exchange, "result": result.raw},
        expected=Status.SENDING,
        provider_message_id=result.provider_message_id[:100],
        provider_job_id=result.job_id[:100],
        submitted_at=timezone.now(),
        error_category="",
        error_code="",
        error_text="",
        next_attempt_at=None,
    )
    report.accepted += moved
    if moved and result.members:
        _record_group_members(message, result, exchange)


def _record_group_members(
    parent: Message, result: RecipientResult, exchange: dict[str, Any]
) -> None:
    """One accepted message per number a gateway-side group expanded to.

    Each member is billed and delivered on its own, so each gets its own row: the log
    accounts for every SMS, and delivery reports (keyed by message id) find their message.
    """
    now = timezone.now()
    members = [
        Message(
            recipient=_as_e164(member.number),
            body=parent.body,
            encoding=parent.encoding,
            parts=parent.parts,
            provider=parent.provider,
            sender=parent.sender,
            flash=parent.flash,
            status=Status.ACCEPTED,
            status_changed_at=now,
            provider_message_id=member.provider_message_id[:100],
            provider_job_id=result.job_id[:100],
            submitted_at=now,
            attempts=1,
            parent=parent,
            event=parent.event,
            audience=parent.audience,
            template=parent.template,
            registered_template_id=parent.registered_template_id,
            ticket_type=parent.ticket_type,
            ticket_id=parent.ticket_id,
        )
        for member in result.members
    ]
    with transaction.atomic():
        Message.objects.bulk_create(members)
        MessageEvent.objects.bulk_create(
            MessageEvent(
                message=member,
                from_status="",
                to_status=Status.ACCEPTED,
                source=Source.SEND,
                note=f"texted as a member of group send #{parent.pk}",
                data=exchange,
                created_at=now,
            )
            for member in members
        )


def _as_e164(number: str) -> str:
    digits = number.strip().lstrip("+")
    return f"+{digits}"[:20] if digits.isdigit() else number[:20]


def _record_error(
    message: Message, error: GatewayError, data: dict[str, Any], report: DispatchReport
) -> None:
    fields = dict(
        error_category=error.category.value, error_code=error.code[:50], error_text=error.text
    )
    if error.category.retryable and message.attempts < int(conf.get("MAX_ATTEMPTS")):
        delay = min(
            int(conf.get("RETRY_BACKOFF")) * 2 ** (message.attempts - 1),
            int(conf.get("RETRY_BACKOFF_MAX")),
        )
        report.retrying += move(
            message,
            Status.QUEUED,
            source=Source.SEND,
            expected=Status.SENDING,
            note=f"not taken by the gateway ({error.category}); retry in {delay}s",
            data=data,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            **fields,
        )
    elif error.category == ErrorCategory.AMBIGUOUS:
        report.unknown += move(
            message,
            Status.UNKNOWN,
            source=Source.SEND,
            expected=Status.SENDING,
            note="the gateway may have taken it: not resent",
            data=data,
            **fields,
        )
    else:
        note = "refused by the gateway"
        if error.category.retryable:
            note = f"gave up after {message.attempts} attempts"
        report.failed += move(
            message,
            Status.FAILED,
            source=Source.SEND,
            expected=Status.SENDING,
            note=note,
            data=data,
            **fields,
        )
    report.errors.append(f"message {message.pk}: {error}")


def _error_data(error: GatewayError) -> dict[str, Any]:
    return {
        "category": error.category.value,
        "code": error.code,
        "text": error.text,
        "raw": error.raw,
    }


# -- operator actions --------------------------------------------------------------------


def retry(message: Message, *, note: str = "retried by an operator") -> bool:
    """Re-queue a failed message: an explicit operator decision, never automatic.

    Messages that never had a sendable form (a template that did not render, no provider)
    cannot be retried; fix the cause and let the next event create a new one.
    """
    if not (message.provider_id and message.body and (message.recipient or message.group_id)):
        return False
    moved = move(
        message,
        Status.QUEUED,
        source=Source.ADMIN,
        note=note,
        expected=Status.FAILED,
        next_attempt_at=None,
        attempts=0,
    )
    if moved:
        from .kick import dispatch_on_commit

        dispatch_on_commit()
    return moved


def cancel(message: Message, *, note: str = "canceled by an operator") -> bool:
    """Cancel a message before it goes out; True when it is now canceled.

    A message still with us (scheduled or queued) is simply canceled. One the gateway holds
    for later delivery is withdrawn through the gateway first, where the gateway can (its
    refusal raises GatewayError and the message stays as it was).
    """
    for status in (Status.SCHEDULED, Status.QUEUED):
        if move(message, Status.CANCELED, source=Source.ADMIN, note=note, expected=status):
            return True
    if not is_held_by_gateway(message):
        return False
    gateway = message.provider.get_gateway()
    gateway.cancel(ReportRef(message.provider_message_id, message.provider_job_id))
    withdrawn = f"{note}; withdrawn from the gateway's schedule"
    canceled = move(
        message, Status.CANCELED, source=Source.ADMIN, note=withdrawn, expected=Status.ACCEPTED
    )
    for member in message.members.filter(status=Status.ACCEPTED):  # a group send's members
        move(
            member,
            Status.CANCELED,
            source=Source.ADMIN,
            expected=Status.ACCEPTED,
            note=f"group send #{message.pk} {withdrawn}",
        )
    return canceled


def is_held_by_gateway(message: Message) -> bool:
    """Accepted for a later time by a gateway that can withdraw it."""
    return bool(
        message.status == Status.ACCEPTED
        and message.send_at
        and message.send_at > timezone.now()
        and message.provider_id
        and message.provider.gateway_class().has(Capability.CANCEL)
    )
