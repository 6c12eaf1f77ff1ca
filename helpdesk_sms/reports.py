"""Delivery reports: fetch them (polling) or take them (push), and apply them.

A report only ever moves a message forward: a final state is never overwritten by a
later-arriving earlier one, and a report that changes nothing writes nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from . import conf
from .gateways.base import Capability, DeliveryReport, DeliveryStatus, GatewayError, ReportRef
from .models import Message, Provider
from .states import AWAITING_REPORT, Source, Status
from .transitions import move, record_unchanged

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
        {ReportRef(m.provider_message_id, m.provider_job_id) for m in open_messages},
        key=lambda ref: (ref.job_id, ref.provider_message_id),
    )
    if not refs:
        return 0
    reports = provider.get_gateway().fetch_reports(refs)
    return apply_reports(provider, reports, source=Source.POLL)


def apply_reports(provider: Provider, reports: list[DeliveryReport], *, source: str) -> int:
    """Move each reported message to the report's state, when that is a step forward.

    A pushed report that moves nothing (repeated, or older than what we know) is still kept
    on the message's timeline; a polled one is not, since polling repeats every minute.
    """
    moved = 0
    for report in reports:
        message = _find(provider, report)
        if message is None:
            logger.info(
                "helpdesk_sms: %s report for unknown message %r",
                provider,
                report.provider_message_id,
            )
            continue
        target = _TARGET[report.status]
        data = {
            "report": report.raw,
            "occurred_at": report.occurred_at.isoformat() if report.occurred_at else None,
        }
        fields = {}
        if report.error_code or report.error_text:
            fields = {"error_code": report.error_code[:50], "error_text": report.error_text}
        note = f"delivery report: {report.status}"
        if target != message.status and move(
            message, target, source=source, note=note, data=data, **fields
        ):
            moved += 1
        elif source == Source.WEBHOOK:
            record_unchanged(
                message, source=source, data=data, note=f"{note} (kept {message.status})"
            )
    return moved


def _find(provider: Provider, report: DeliveryReport) -> Message | None:
    messages = Message.objects.filter(provider=provider)
    if report.provider_message_id:
        found = messages.filter(provider_message_id=report.provider_message_id).first()
        if found is not None or report.ref is None:
            return found
    if report.ref is not None:
        return messages.filter(pk=report.ref).first()
    if report.number:
        return (
            messages.filter(recipient=report.number, status__in=AWAITING_REPORT)
            .order_by("-submitted_at")
            .first()
        )
    return None
