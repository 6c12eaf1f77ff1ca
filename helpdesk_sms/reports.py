"""Delivery reports: fetch them (polling) or take them (push), and apply them.

A report only ever moves a message forward: a final state is never overwritten by a
later-arriving earlier one, and a report that changes nothing writes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from . import conf
from .gateways.base import Capability, DeliveryReport, DeliveryStatus, GatewayError, ReportRef
from .models import Message, MessageEvent, Provider
from .states import AWAITING_REPORT, Source, Status, can_move
from .transitions import Expr, Outcome, apply_alike_outcomes

logger = logging.getLogger(__name__)

_TARGET = {
    DeliveryStatus.ACCEPTED: Status.ACCEPTED,
    DeliveryStatus.DELIVERED: Status.DELIVERED,
    DeliveryStatus.UNDELIVERED: Status.UNDELIVERED,
    DeliveryStatus.EXPIRED: Status.EXPIRED,
}


def poll_reports(provider: Provider | None = None, *, now: datetime | None = None) -> int:
    """Ask each polling-capable provider about its open messages; returns messages moved."""
    now = now or timezone.now()
    providers = [provider] if provider else list(Provider.objects.active())
    moved = 0
    for item in providers:
        if not item.gateway_class().has(Capability.DLR_POLL):
            continue
        try:
            moved += poll_provider(item, now)
        except GatewayError as exc:
            logger.warning("helpdesk_sms: report poll of %s failed: %s", item, exc)
    return moved


def poll_provider(provider: Provider, now: datetime) -> int:
    since = now - timedelta(seconds=int(conf.get("REPORT_POLL_MAX_AGE")))
    open_messages = Message.objects.filter(
        provider=provider, status__in=AWAITING_REPORT, submitted_at__gte=since
    ).exclude(provider_message_id="")
    refs = sorted(
        {
            ReportRef(message_id, job_id)
            for message_id, job_id in open_messages.values_list(
                "provider_message_id", "provider_job_id"
            )
        },
        key=lambda ref: (ref.job_id, ref.provider_message_id),
    )
    if not refs:
        return 0
    gateway = provider.get_gateway()  # one kept-alive session for all of this poll's requests
    try:
        reports = gateway.fetch_reports(refs)
    finally:
        gateway.close()
    return apply_reports(provider, reports, source=Source.POLL)


#: The cost of a message the gateway proved it had (one Expr: alike moves stay one update).
BILLED = Expr("estimated_cost")

#: Where a report moves a message the gateway had: from an ``unknown``, now billed.
_BILLED_STATES = frozenset({Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED})


def apply_reports(provider: Provider, reports: list[DeliveryReport], *, source: str) -> int:
    """Move each reported message to the report's state, when that is a step forward.

    Set-based: the messages of a whole reply are found in one query and moved in one
    transaction (bulk update, bulk events). A pushed report that moves nothing (repeated,
    or older than what we know) is still kept on the message's timeline; a polled one is
    not, since polling repeats every minute.
    """
    if not reports:
        return 0
    found = _find_all(provider, reports)
    current: dict[int, str] = {}
    outcomes: dict[int, Outcome] = {}
    unchanged: list[MessageEvent] = []
    for report, message in zip(reports, found, strict=True):
        if message is None:
            logger.info(
                "helpdesk_sms: %s report for unknown message %r",
                provider,
                report.provider_message_id,
            )
            continue
        pk, status = message
        status = current.setdefault(pk, status)
        target = _TARGET[report.status]
        data = {
            "report": report.raw,
            "occurred_at": report.occurred_at.isoformat() if report.occurred_at else None,
        }
        note = f"delivery report: {report.status}"
        if target != status and can_move(status, target):
            earlier = outcomes.get(pk)
            fields: dict[str, Any] = {}
            if report.error_code or report.error_text:
                fields = {"error_code": report.error_code[:50], "error_text": report.error_text}
            if status == Status.UNKNOWN and target in _BILLED_STATES:
                fields["cost"] = BILLED  # the gateway had it after all: it was billed
            outcomes[pk] = Outcome(
                pk=pk,
                to_status=target,
                note=note,
                data=data,
                fields={**(earlier.fields if earlier else {}), **fields},
                expected=earlier.expected if earlier else (status,),
            )
            current[pk] = target
        elif source == Source.WEBHOOK:
            unchanged.append(
                MessageEvent(
                    message_id=pk,
                    from_status=status,
                    to_status=status,
                    source=source,
                    note=f"{note} (kept {status})",
                    data=data,
                )
            )
    with transaction.atomic():
        moved = apply_alike_outcomes(list(outcomes.values()), source=source)
        MessageEvent.objects.bulk_create(unchanged)
    return len(moved)


def _find_all(provider: Provider, reports: list[DeliveryReport]) -> list[tuple[int, str] | None]:
    """Each report's message as ``(pk, status)``, or None: a few queries for a whole reply."""
    messages = Message.objects.filter(provider=provider)
    ids = {r.provider_message_id for r in reports if r.provider_message_id}
    by_id: dict[str, tuple[int, str]] = {}
    # Oldest first, so the newest message wins where a gateway reused an id.
    for pk, status, ref in (
        messages.filter(provider_message_id__in=ids)
        .order_by("created_at", "pk")
        .values_list("pk", "status", "provider_message_id")
    ):
        by_id[ref] = (pk, status)
    refs = {
        r.ref
        for r in reports
        if r.ref is not None and not (r.provider_message_id and r.provider_message_id in by_id)
    }
    by_ref = dict(
        (pk, (pk, status))
        for pk, status in messages.filter(pk__in=refs).values_list("pk", "status")
    )
    found: list[tuple[int, str] | None] = []
    for report in reports:
        if report.provider_message_id and report.provider_message_id in by_id:
            found.append(by_id[report.provider_message_id])
        elif report.provider_message_id and report.ref is None:
            found.append(None)
        elif report.ref is not None:
            found.append(by_ref.get(report.ref))
        elif report.number:
            found.append(_latest_awaiting(messages, report.number))
        else:
            found.append(None)
    return found


def _latest_awaiting(messages: QuerySet[Message], number: str) -> tuple[int, str] | None:
    """A report that names only the number: the latest message to it awaiting a report."""
    return (
        messages.filter(recipient=number, status__in=AWAITING_REPORT)
        .order_by("-submitted_at")
        .values_list("pk", "status")
        .first()
    )
