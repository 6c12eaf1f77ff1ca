"""Each panel's figures as database aggregates, returned as plain data.

Every function runs a fixed number of queries (one, or two for failures) whatever the
number of messages, providers or countries: the database groups and counts, Python only
arranges the few rows it gets back. States over time, delivery rates and spend share one
grouped pass over the period (:func:`tally`): a 30-day period is most of the table, and
reading it once instead of three times is most of the page's time. The filters (a period's
``created_at``, a state) match the indexes of migration 0012, so a short period is read from
an index rather than the table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from ..models import BalanceSnapshot, Message, Provider
from ..states import Status
from .periods import Window


@dataclass(frozen=True)
class StateGroup:
    """States an operator reads as one outcome; a chart series."""

    key: str
    label: Any
    statuses: frozenset[str]


#: The outcomes the dashboard shows, in stacking order (best at the bottom).
STATE_GROUPS: tuple[StateGroup, ...] = (
    StateGroup("delivered", _("delivered"), frozenset({Status.DELIVERED})),
    StateGroup("accepted", _("accepted, awaiting report"), frozenset({Status.ACCEPTED})),
    StateGroup(
        "pending",
        _("not sent yet (scheduled, queued, sending)"),
        frozenset({Status.SCHEDULED, Status.QUEUED, Status.SENDING}),
    ),
    StateGroup(
        "failed",
        _("failed, undelivered or expired"),
        frozenset({Status.FAILED, Status.UNDELIVERED, Status.EXPIRED}),
    ),
    StateGroup("unknown", _("unknown (may have gone out)"), frozenset({Status.UNKNOWN})),
    StateGroup(
        "not_sent", _("canceled or suppressed"), frozenset({Status.CANCELED, Status.SUPPRESSED})
    ),
)
GROUP_OF: dict[str, str] = {s: g.key for g in STATE_GROUPS for s in g.statuses}
FAILURE_STATUSES = next(g for g in STATE_GROUPS if g.key == "failed").statuses

#: The places of Message.cost: a price like 0.0035 a part.
CENT_FRACTION = Decimal("0.0001")

#: States in which a message may have been billed: accepted by a gateway, or perhaps.
BILLED_STATUSES = frozenset(
    {Status.ACCEPTED, Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED, Status.UNKNOWN}
)


def provider_names() -> dict[int | None, str]:
    """Every provider's name by pk: one small query instead of a join over the messages."""
    names: dict[int | None, str] = dict(Provider.objects.values_list("pk", "name"))
    names[None] = str(_("no provider"))
    return names


# -- the period's tally: one pass for states, rates and spend --------------------------


class TallyRow(NamedTuple):
    """The count and spend of one (bucket, state, provider, country, currency) group."""

    bucket: int
    status: str
    provider: int | None
    country: str
    currency: str
    messages: int
    spent: Any  # Decimal, or float on SQLite; None when no row of the group had a cost


@dataclass
class Tally:
    """The period's messages grouped as finely as any panel needs, and summed once.

    States over time, delivery rates and spend each used to read the whole period; each
    is now a different way of adding up these few rows (at most buckets × states ×
    providers × countries × currencies), so a long period is read once.
    """

    rows: list[TallyRow]


def tally(window: Window) -> Tally:
    """One grouped count and sum over the period's messages.

    The spend is summed for every group; :func:`spend` keeps only the groups whose state
    may have been billed and that have a currency, which the grouping keeps apart, so the
    result is the one a filtered sum would give.
    """
    rows = (
        Message.objects.filter(created_at__gte=window.since)
        .order_by()
        .values_list(window.bucket("created_at"), "status", "provider", "country", "currency")
        .annotate(n=Count("*"), spent=Sum(Coalesce("cost", "estimated_cost")))
    )
    return Tally([TallyRow(*row) for row in rows])


# -- messages by state over time --------------------------------------------------------


@dataclass
class StateSeries:
    """Per state group, one count per bucket; and the period's totals."""

    counts: dict[str, list[int]]

    def totals(self) -> dict[str, int]:
        return {key: sum(values) for key, values in self.counts.items()}

    @property
    def total(self) -> int:
        return sum(self.totals().values())


def states_over_time(window: Window, tally: Tally) -> StateSeries:
    """Messages created in each bucket, by state group, from the period's tally."""
    counts = {g.key: [0] * len(window.buckets) for g in STATE_GROUPS}
    for row in tally.rows:
        counts[GROUP_OF.get(row.status, "pending")][row.bucket] += row.messages
    return StateSeries(counts)


# -- delivery rate per provider and per country -----------------------------------------


@dataclass
class Rate:
    """How one provider's (or country's) messages of the period came out."""

    key: Any
    label: str
    total: int = 0
    delivered: int = 0
    failed: int = 0
    unknown: int = 0

    @property
    def settled(self) -> int:
        """Messages whose fate counts for the rate: delivered, failed, or lost (unknown)."""
        return self.delivered + self.failed + self.unknown

    @property
    def rate(self) -> float | None:
        """Delivered out of settled; None before any settled (no rate is not 0 %)."""
        return self.delivered / self.settled if self.settled else None

    @property
    def waiting(self) -> int:
        """Not settled yet, or never sent: the rest of the total."""
        return self.total - self.settled


def delivery_rates(tally: Tally, names: dict[int | None, str]) -> tuple[list[Rate], list[Rate]]:
    """Per provider and per destination country, from the period's tally."""
    by_provider: dict[Any, Rate] = {}
    by_country: dict[Any, Rate] = {}
    for _bucket, status, provider, country, _currency, n, _spent in tally.rows:
        for table, key, label in (
            (by_provider, provider, names.get(provider, f"#{provider}")),
            (by_country, country, country or str(_("none (group or invalid number)"))),
        ):
            rate = table.setdefault(key, Rate(key, label))
            rate.total += n
            group = GROUP_OF.get(status)
            if group == "delivered":
                rate.delivered += n
            elif group == "failed":
                rate.failed += n
            elif group == "unknown":
                rate.unknown += n
    order = lambda r: (-r.total, r.label)  # noqa: E731 - the busiest first
    return sorted(by_provider.values(), key=order), sorted(by_country.values(), key=order)


# -- failures ---------------------------------------------------------------------------


@dataclass
class Failures:
    """The period's failed, undelivered and expired messages by category, and top texts."""

    categories: list[tuple[str, int]]
    texts: list[tuple[str, str, int]]  # category, text, count

    @property
    def total(self) -> int:
        return sum(n for _, n in self.categories)


#: How many of the most frequent error texts the panel lists.
TOP_TEXTS = 10


def failures(window: Window) -> Failures:
    """Two grouped counts over the period's failures (a small share of the messages)."""
    failed = Message.objects.filter(
        created_at__gte=window.since, status__in=FAILURE_STATUSES
    ).order_by()
    categories = list(
        failed.values_list("error_category").annotate(n=Count("*")).order_by("-n", "error_category")
    )
    texts = list(
        failed.values_list("error_category", "error_text")
        .annotate(n=Count("*"))
        .order_by("-n", "error_category", "error_text")[:TOP_TEXTS]
    )
    return Failures(categories, texts)


# -- spend ------------------------------------------------------------------------------


@dataclass
class Spend:
    """One currency's spend: per provider, one amount per bucket."""

    currency: str
    by_provider: dict[str, list[Decimal]] = field(default_factory=dict)

    def totals(self) -> dict[str, Decimal]:
        return {name: sum(values, Decimal(0)) for name, values in self.by_provider.items()}

    @property
    def total(self) -> Decimal:
        return sum(self.totals().values(), Decimal(0))


def spend(window: Window, tally: Tally, names: dict[int | None, str]) -> list[Spend]:
    """What the period's messages cost, per bucket, provider and currency, from the tally.

    The billed cost where the gateway accepted the message; the estimate for an ``unknown``
    one (it may have been billed). Never-sent messages cost nothing. Currencies are never
    added together: one :class:`Spend` each.
    """
    found: dict[str, Spend] = {}
    for row in tally.rows:
        if row.spent is None or row.status not in BILLED_STATUSES or not row.currency:
            continue
        entry = found.setdefault(row.currency, Spend(row.currency))
        name = names.get(row.provider, f"#{row.provider}")
        values = entry.by_provider.setdefault(name, [Decimal(0)] * len(window.buckets))
        # Summed as floats by some databases (SQLite): back to the cost column's places.
        values[row.bucket] += Decimal(row.spent).quantize(CENT_FRACTION)
    for entry in found.values():
        entry.by_provider = dict(sorted(entry.by_provider.items()))
    return [found[c] for c in sorted(found)]


# -- balances ---------------------------------------------------------------------------


@dataclass
class Projection:
    """When the balance runs out at its current burn rate, or why that cannot be said."""

    burn_per_day: Decimal | None = None
    runs_out_at: datetime | None = None
    reason: str = ""


@dataclass
class BalanceTrend:
    """One provider account's balance over the period."""

    provider: str
    account: str
    unit: str
    points: list[tuple[datetime, Decimal]]  # (when read, amount), oldest first
    projection: Projection

    @property
    def latest(self) -> Decimal:
        return self.points[-1][1]

    @property
    def label(self) -> str:
        return f"{self.provider} – {self.account}" if self.account else self.provider


def project(points: list[tuple[datetime, Decimal]], now: datetime) -> Projection:
    """Linear run-out from the current falling stretch (since the last top-up).

    The burn rate is what the balance lost from the stretch's first point to its last,
    over the time between them. Fewer than two points, or a balance that did not fall,
    gives no date: "not enough data", never a guess.
    """
    if not points:
        return Projection(reason=str(_("no reading in this period")))
    if points[-1][1] <= 0:
        return Projection(runs_out_at=points[-1][0], reason=str(_("already used up")))
    start = len(points) - 1
    while start > 0 and points[start - 1][1] >= points[start][1]:
        start -= 1
    (t0, a0), (t1, a1) = points[start], points[-1]
    seconds = (t1 - t0).total_seconds()
    if start == len(points) - 1 or a1 >= a0 or seconds <= 0:
        return Projection(reason=str(_("not enough data: no fall in the balance to project")))
    per_second = (a0 - a1) / Decimal(seconds)
    left = timedelta(seconds=float(a1 / per_second))
    return Projection(burn_per_day=per_second * 86400, runs_out_at=t1 + left)


def balances(window: Window, names: dict[int | None, str]) -> list[BalanceTrend]:
    """Per provider account: its readings in the period, and the projection.

    The readings themselves, not bucketed ones: a top-up inside a bucket would hide in a
    bucket's lowest value and skew the burn rate. They are few whatever the traffic: one
    per account per balance check (hourly by default), and a flat stretch is two rows
    (``balances.record``).
    """
    rows = (
        BalanceSnapshot.objects.filter(taken_at__gte=window.since)
        .order_by("taken_at", "pk")
        .values_list("provider", "account", "unit", "taken_at", "amount")
    )
    points: dict[tuple[Any, str, str], list[tuple[datetime, Decimal]]] = defaultdict(list)
    for provider, account, unit, taken_at, amount in rows:
        points[(provider, account, unit)].append((taken_at, amount))
    trends = [
        BalanceTrend(
            names.get(provider, f"#{provider}"), account, unit, found, project(found, window.now)
        )
        for (provider, account, unit), found in points.items()
    ]
    return sorted(trends, key=lambda t: (t.provider, t.account, t.unit))


# -- the outbox and what needs attention ------------------------------------------------


@dataclass
class Backlog:
    """What waits in the outbox now, and the ``unknown`` messages of any age."""

    queued: int
    sending: int
    scheduled: int
    unknown: int
    oldest_queued_at: datetime | None
    quiet_hours: int = 0  # of the scheduled: held for their recipient's quiet hours

    def oldest_age(self, now: datetime) -> timedelta | None:
        return None if self.oldest_queued_at is None else now - self.oldest_queued_at


def backlog() -> Backlog:
    """One aggregate over the waiting states (read from the (status, created_at) index)."""
    waiting = (Status.QUEUED, Status.SENDING, Status.SCHEDULED, Status.UNKNOWN)
    found = (
        Message.objects.filter(status__in=waiting)
        .order_by()
        .aggregate(
            queued=Count("pk", filter=Q(status=Status.QUEUED)),
            sending=Count("pk", filter=Q(status=Status.SENDING)),
            scheduled=Count("pk", filter=Q(status=Status.SCHEDULED)),
            unknown=Count("pk", filter=Q(status=Status.UNKNOWN)),
            oldest=Min("created_at", filter=Q(status=Status.QUEUED)),
            quiet=Count("pk", filter=Q(status=Status.SCHEDULED, quiet_hours=True)),
        )
    )
    return Backlog(
        found["queued"],
        found["sending"],
        found["scheduled"],
        found["unknown"],
        found["oldest"],
        found["quiet"],
    )


#: "Needs attention" looks this far back, whatever the period shown.
ATTENTION_SPAN = timedelta(days=1)
ATTENTION_STATUSES = (Status.UNKNOWN, Status.FAILED)


def attention(now: datetime) -> dict[str, int]:
    """Messages created in the last day that are ``unknown`` or ``failed``: one count."""
    rows = (
        Message.objects.filter(created_at__gte=now - ATTENTION_SPAN, status__in=ATTENTION_STATUSES)
        .order_by()
        .values_list("status")
        .annotate(n=Count("*"))
    )
    found = {str(s): 0 for s in ATTENTION_STATUSES}
    found.update({status: n for status, n in rows})
    return found
