"""Retention: erase what identifies a person after HELPDESK_SMS["RETENTION"] days, and on
request for one number.

Erased *in place*: the rows stay, so every count, state, cost, part, provider, country and
time the dashboard and the reports read is unchanged; only the texts, the numbers and the
raw gateway data go (replaced by :data:`MARKER` or emptied), and ``purged_at`` says when.

The age purge works in bounded batches: select at most ``batch_size`` primary keys of rows
older than the cutoff and not purged yet, then one UPDATE of exactly those, each batch its
own short transaction, so the tables are never locked for long and a purge interrupted
half-way resumes where it stopped. Only messages in a final state are purged (one still
scheduled, queued, sending, accepted or unknown may yet need its number).

An erasure request (:func:`erase_number`) removes a number everywhere, whatever the age:
messages to it (those still waiting are canceled first), replies from it, its contacts and
its consent history; an opt-out entry keeps only a keyed hash of the number
(:func:`~helpdesk_sms.consent_models.pseudonym`), so the opt-out still holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import models, transaction
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.functions import Replace
from django.utils import timezone

from . import conf
from .consent_models import ConsentChange, OptOut, pseudonym
from .inbound_models import InboundMessage
from .models import Contact, GatewayExchange, GroupSend, Message, MessageEvent
from .phones import PhoneNumberError, normalize
from .states import FINAL, PENDING, Source, Status
from .transitions import move_where

logger = logging.getLogger(__name__)

#: What replaces an erased text.
MARKER = "[purged]"

#: What replaces the erased number inside a kept sentence (an error text).
NUMBER_MARKER = "[number]"


@dataclass
class PurgeReport:
    """How many rows of each table were (or, in a dry run, would be) erased."""

    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    batches: int = 0

    def add(self, table: str, count: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + count

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> list[str]:
        verb = "would erase" if self.dry_run else "erased"
        return [f"{table}: {verb} {count}" for table, count in sorted(self.counts.items())]


def retention_days() -> int | None:
    """The RETENTION setting: days, or None (keep forever)."""
    days = conf.get("RETENTION")
    return None if days is None else int(days)


def purge_configured(*, now: datetime | None = None) -> PurgeReport | None:
    """The periodic job: purge per the RETENTION setting; None when it keeps forever."""
    days = retention_days()
    return None if days is None else purge(days, now=now)


def purge(
    older_than_days: int,
    *,
    batch_size: int = 1000,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PurgeReport:
    """Erase the texts, numbers and raw data of rows created more than ``older_than_days``
    days before ``now``: final messages (with their events), inbound replies and gateway
    exchanges. Returns the counts per table."""
    if older_than_days < 0 or batch_size < 1:
        raise ValueError("older_than_days must be 0 or more and batch_size 1 or more")
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    report = PurgeReport(dry_run=dry_run)
    old_messages = Message.objects.filter(
        created_at__lt=cutoff, purged_at__isnull=True, status__in=FINAL
    )
    old_inbound = InboundMessage.objects.filter(created_at__lt=cutoff, purged_at__isnull=True)
    old_exchanges = GatewayExchange.objects.filter(started_at__lt=cutoff, purged_at__isnull=True)
    jobs: list[tuple[str, models.QuerySet[Any], Callable[[list[int], datetime], int]]] = [
        ("messages", old_messages, _erase_messages),
        ("inbound messages", old_inbound, _erase_inbound),
        ("gateway exchanges", old_exchanges, _erase_exchanges),
    ]
    for table, queryset, erase in jobs:
        _in_batches(report, table, queryset, erase, batch_size)
    return report


def _in_batches(
    report: PurgeReport,
    table: str,
    queryset: models.QuerySet[Any],
    erase: Callable[[list[int], datetime], int],
    batch_size: int,
) -> None:
    """Erase what ``queryset`` matches, ``batch_size`` rows per short transaction."""
    report.add(table, 0)
    if report.dry_run:
        report.add(table, queryset.count())
        return
    after = 0  # keyset: each batch starts past the last, never re-reading what it left
    while True:
        with transaction.atomic():
            batch = queryset.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)
            pks = list(batch[:batch_size])
            if not pks:
                return
            report.add(table, erase(pks, timezone.now()))
            report.batches += 1
            after = pks[-1]


def _masked(text: str, number: Any) -> Replace:
    """SQL: the column ``text`` with ``number`` (an expression: the row's own number)
    replaced by :data:`NUMBER_MARKER`, so a kept sentence no longer names it."""
    return Replace(F(text), cast(Value, number), Value(NUMBER_MARKER))


def _erase_messages(pks: list[int], now: datetime) -> int:
    """Erase messages ``pks`` and their events. The events first: their notes lose the
    message's number, read from the message before it is erased."""
    recipient = Subquery(Message.objects.filter(pk=OuterRef("message_id")).values("recipient")[:1])
    MessageEvent.objects.filter(message_id__in=pks).exclude(note="").update(
        note=_masked("note", recipient)
    )
    MessageEvent.objects.filter(message_id__in=pks).update(data={})
    return Message.objects.filter(pk__in=pks, purged_at__isnull=True).update(
        body=MARKER,
        recipient="",
        gateway_options={},
        error_text=_masked("error_text", F("recipient")),
        purged_at=now,
    )


def _erase_inbound(pks: list[int], now: datetime) -> int:
    return InboundMessage.objects.filter(pk__in=pks, purged_at__isnull=True).update(
        sender="",
        text=MARKER,
        raw={},
        action_detail=_masked("action_detail", F("sender")),
        purged_at=now,
    )


def _erase_exchanges(pks: list[int], now: datetime) -> int:
    return GatewayExchange.objects.filter(pk__in=pks, purged_at__isnull=True).update(
        request={}, response=None, error=None, purged_at=now
    )


# -- erasure of one number ----------------------------------------------------------------


def _erase_from_group_sends(e164: str) -> int:
    """Mask ``e164`` in the members a group send skipped (kept as the operator typed them,
    so each is read as a number first); the count of group sends changed. Group sends are
    an operator's few, so they are read whole."""
    changed = 0
    for send in GroupSend.objects.exclude(skipped=[]).only("pk", "skipped"):
        kept = [_skipped_without(entry, e164) for entry in send.skipped]
        if kept != send.skipped:
            GroupSend.objects.filter(pk=send.pk).update(skipped=kept)
            changed += 1
    return changed


def _skipped_without(entry: Any, e164: str) -> Any:
    """A skipped member's entry with ``e164`` masked (its phone, and in its reason)."""
    if not isinstance(entry, dict):
        return entry
    phone = str(entry.get("phone") or "")
    try:
        same = normalize(phone, conf.get("DEFAULT_REGION")) == e164
    except PhoneNumberError:
        same = False
    if not same and e164 not in str(entry.get("reason") or ""):
        return entry
    masked = dict(entry, reason=str(entry.get("reason") or "").replace(e164, NUMBER_MARKER))
    if same:
        masked["reason"] = masked["reason"].replace(phone, NUMBER_MARKER)
        masked["phone"] = NUMBER_MARKER
    return masked


def erase_number(number: str, *, batch_size: int = 1000) -> PurgeReport:
    """Remove ``number`` everywhere, whatever the age: messages to it (those still waiting,
    scheduled or queued, are canceled first: nothing goes out to an erased number), replies
    from it, its contacts (deleted: an address-book entry is the number), its consent
    history (the number replaced by its keyed hash) and its opt-out entry (the same, so
    the opt-out still holds). Gateway exchanges that carried its messages are erased too.

    ValueError for something that is not a phone number.
    """
    try:
        e164 = normalize(number or "", conf.get("DEFAULT_REGION"))
    except PhoneNumberError as exc:
        raise ValueError(str(exc)) from None
    if batch_size < 1:
        raise ValueError("batch_size must be 1 or more")
    report = PurgeReport()
    for status in sorted(PENDING):
        move_where(
            Message.objects.filter(recipient=e164, status=status),
            status,
            Status.CANCELED,
            source=Source.SYSTEM,
            note="canceled: the number was erased on request",
            next_attempt_at=None,
        )
    exchanges = GatewayExchange.objects.filter(
        purged_at__isnull=True, events__message__recipient=e164
    ).distinct()
    _in_batches(report, "gateway exchanges", exchanges, _erase_exchanges, batch_size)
    messages = Message.objects.filter(recipient=e164)
    _in_batches(report, "messages", messages, _erase_messages, batch_size)
    inbound = InboundMessage.objects.filter(sender=e164)
    _in_batches(report, "inbound messages", inbound, _erase_inbound, batch_size)
    # Other messages' timelines may name it too ("re-sent as message #8 to +91…").
    mentions = MessageEvent.objects.filter(note__contains=e164)
    report.add("timeline notes", mentions.update(note=_masked("note", Value(e164))))
    report.add("group sends", _erase_from_group_sends(e164))
    hashed = pseudonym(e164)
    with transaction.atomic():
        report.add("contacts", Contact.objects.filter(phone=e164).delete()[0])
        report.add(
            "consent changes",
            ConsentChange.objects.filter(number=e164).update(number=hashed, note=""),
        )
        listed = OptOut.objects.filter(number=e164)
        report.add("opt-out entries", listed.update(number=hashed, note=""))
    logger.info("helpdesk_sms: erased a number on request: %s", report.lines())
    return report
