"""Budget caps at work: the period's spend, which messages wait, and one alert per crossing.

A pass of the outbox loads a :class:`BudgetBoard` (the active caps and their spends, in two
queries however many messages there are), leaves out of its claim what
:meth:`BudgetBoard.held_filter` matches, asks :meth:`BudgetBoard.would_exceed` before a
batch and counts what it sent with :meth:`BudgetBoard.add`. :func:`hold` writes on the held
messages why they wait, and :func:`alert_crossings` tells the operator once per crossing.

Only normal-priority messages are ever held; critical ones are always sent. The spend of a
period is what the gateways accepted in it (``submitted_at``): the costs in the cap's
currency, or the parts for a cap in parts. Periods follow the site's ``TIME_ZONE``: a day
starts at local midnight, a month on the 1st.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from django.core.mail import mail_admins
from django.db.models import Q, Sum
from django.utils import timezone

from . import signals
from .budget_models import PARTS, BudgetCap
from .models import Message, Provider
from .states import Priority, Status

logger = logging.getLogger(__name__)

ZERO = Decimal(0)


def period_start(period: str, now: datetime) -> datetime:
    """When the ``period`` holding ``now`` began: local midnight, or the 1st of the month."""
    local = timezone.localtime(now) if timezone.is_aware(now) else now
    day = local.date()
    if period == BudgetCap.Period.MONTHLY:
        day = day.replace(day=1)
    return datetime.combine(day, time.min, tzinfo=local.tzinfo)


@dataclass
class CapState:
    """One active cap, the start of its current period and what was spent since."""

    cap: BudgetCap
    start: datetime
    spent: Decimal = ZERO
    #: A batch did not fit under the cap in this pass (see ``BudgetBoard.would_exceed``).
    full: bool = False

    @property
    def start_date(self) -> date:
        return self.start.date()

    @property
    def over(self) -> bool:
        """The cap is reached: its normal-priority messages wait.

        Reached when the spend is at the limit, or when a batch did not fit under it: then
        (once alerted, ``alerted_for`` is this period) until the period turns or the cap is
        changed. Otherwise the batch that did not fit would be claimed again every pass.
        """
        return self.full or self.spent >= self.cap.limit or self.cap.alerted_for == self.start_date

    @property
    def percent(self) -> int:
        """The share of the limit spent, in whole percent (over 100 once past it)."""
        return int(self.spent * 100 / self.cap.limit) if self.cap.limit else 0

    def amount(self, message_cost: Decimal | None, parts: int, currency: str) -> Decimal:
        """What a message adds to this cap's spend (nothing when in another currency)."""
        if self.cap.counts_parts:
            return Decimal(parts)
        return (message_cost or ZERO) if currency == self.cap.unit else ZERO

    def covers(self, provider_id: int | None) -> bool:
        return self.cap.provider_id is None or self.cap.provider_id == provider_id

    def scope_q(self) -> Q:
        """The queued normal-priority messages this cap may hold."""
        q = Q(status=Status.QUEUED, priority=Priority.NORMAL)
        if self.cap.provider_id is not None:
            q &= Q(provider_id=self.cap.provider_id)
        return q

    def reason(self, verb: str = "reached") -> str:
        """Why its messages wait, as an operator reads it on a held message."""
        cap = self.cap
        scope = f"provider {cap.provider}'s" if cap.provider_id else "the overall"
        when = "today" if cap.period == BudgetCap.Period.DAILY else "this month"
        short = (
            "; the next messages do not fit" if verb == "reached" and self.spent < cap.limit else ""
        )
        return (
            f"held: {scope} {cap.period} cap of {amount_text(cap.limit, cap.unit)} {verb} "
            f"({amount_text(self.spent, cap.unit)} spent {when}{short})"
        )[:255]


def amount_text(value: Decimal, unit: str) -> str:
    """An amount in a cap's unit: "512.40 NGN" or "120 parts"."""
    if unit == PARTS:
        return f"{value.normalize():f} parts"
    return f"{value.quantize(Decimal('0.01'))} {unit}"


@dataclass
class BudgetBoard:
    """The active caps with their spends at one moment, for one outbox pass."""

    now: datetime
    caps: list[CapState] = field(default_factory=list)

    @classmethod
    def load(cls, now: datetime | None = None) -> BudgetBoard:
        """The active caps and their current spends: two queries (one without caps).

        The spends are one grouped query over the messages submitted since the earliest
        period start, with a daily and a monthly sum per provider and currency.
        """
        caps = BudgetCap.objects.filter(is_active=True).select_related("provider")
        return cls.of(caps, now)

    @classmethod
    def of(cls, caps: Iterable[BudgetCap], now: datetime | None = None) -> BudgetBoard:
        """A board of the given caps (already read, e.g. an admin page's): one query."""
        now = now or timezone.now()
        board = cls(now=now)
        for cap in caps:
            board.caps.append(CapState(cap, period_start(cap.period, now)))
        if board.caps:
            board._read_spends()
        return board

    def state_of(self, cap: BudgetCap) -> CapState | None:
        """The cap's current period and spend, when it is on the board."""
        return next((s for s in self.caps if s.cap.pk == cap.pk), None)

    def _read_spends(self) -> None:
        # From the earliest period start: the month's sums, and the day's within them.
        today = Q(submitted_at__gte=period_start(BudgetCap.Period.DAILY, self.now))
        rows = (
            Message.objects.filter(submitted_at__gte=min(c.start for c in self.caps))
            .filter(submitted_at__lte=self.now)
            .values("provider_id", "currency")
            .order_by()
            .annotate(
                day_cost=Sum("cost", filter=today),
                day_parts=Sum("parts", filter=today),
                month_cost=Sum("cost"),
                month_parts=Sum("parts"),
            )
        )
        for row in rows:
            for state in self.caps:
                if not state.covers(row["provider_id"]):
                    continue
                prefix = "day" if state.cap.period == BudgetCap.Period.DAILY else "month"
                state.spent += state.amount(
                    row[f"{prefix}_cost"], row[f"{prefix}_parts"] or 0, row["currency"]
                )

    @property
    def over(self) -> list[CapState]:
        """The caps reached now."""
        return [state for state in self.caps if state.over]

    def over_cap_providers(self) -> set[int]:
        """The providers whose own cap is reached (an overall cap: see ``overall_over``)."""
        return {s.cap.provider_id for s in self.over if s.cap.provider_id is not None}

    @property
    def overall_over(self) -> bool:
        """An overall cap is reached: every normal-priority message waits."""
        return any(s.cap.provider_id is None for s in self.over)

    def held_filter(self) -> Q | None:
        """The messages to leave out of a claim (``.exclude()`` them); None if none.

        Normal-priority messages of a provider over its cap, or all normal-priority ones
        while an overall cap is reached. Critical messages never match.
        """
        if self.overall_over:
            return Q(priority=Priority.NORMAL)
        providers = self.over_cap_providers()
        if not providers:
            return None
        return Q(priority=Priority.NORMAL, provider_id__in=sorted(providers))

    def would_exceed(
        self,
        provider: Provider | int,
        estimated_cost: Decimal | None,
        parts: int,
        currency: str | None = None,
    ) -> str | None:
        """Why sending this much more through ``provider`` now would go over a cap, or None.

        For the normal-priority messages of a batch about to go out (their estimated costs
        and parts added up). ``currency`` defaults to the provider's. A batch that does not
        fit makes the cap reached for the rest of the period (or until it is changed), once
        :func:`alert_crossings` has recorded it: call it after the pass.
        """
        provider_id, currency = self._identify(provider, currency)
        for state in self.caps:
            if not state.covers(provider_id):
                continue
            more = state.amount(estimated_cost, parts, currency)
            if state.over:
                return state.reason()
            if more and state.spent + more > state.cap.limit:
                state.full = True  # reached for this period: alert_crossings() records it
                return state.reason("would be exceeded")
        return None

    def _identify(self, provider: Provider | int, currency: str | None) -> tuple[int, str]:
        """The provider's id, and the currency its costs are in (given, or the provider's)."""
        if isinstance(provider, Provider):
            return provider.pk, provider.currency if currency is None else currency
        if currency is not None:
            return provider, currency
        for state in self.caps:  # a cap of it was loaded with its provider
            if state.cap.provider_id == provider and state.cap.provider is not None:
                return provider, state.cap.provider.currency
        found = Provider.objects.filter(pk=provider).values_list("currency", flat=True).first()
        return provider, found or ""

    def add(
        self,
        provider: Provider | int,
        cost: Decimal | None,
        parts: int,
        currency: str | None = None,
    ) -> None:
        """Count what the pass just had accepted through ``provider`` (cost and parts)."""
        provider_id, currency = self._identify(provider, currency)
        for state in self.caps:
            if state.covers(provider_id):
                state.spent += state.amount(cost, parts, currency)


def hold(board: BudgetBoard, now: datetime | None = None) -> int:
    """Write why they wait on the queued messages a reached cap holds; clear it on the rest.

    Set-based: one UPDATE per reached cap (messages already held keep their first reason),
    one for the messages no longer held. No event is written: waiting is not a move between
    states. Returns how many messages were newly marked held.
    """
    stamp = now or timezone.now()
    marked = 0
    for state in board.over:
        marked += Message.objects.filter(state.scope_q(), held_reason="").update(
            held_reason=state.reason(), updated_at=stamp
        )
    released = Message.objects.filter(status=Status.QUEUED).exclude(held_reason="")
    held = board.held_filter()
    if held is not None:
        released = released.exclude(held)
    released.update(held_reason="", updated_at=stamp)
    return marked


def alert_crossings(board: BudgetBoard) -> list[BudgetCap]:
    """Alert the operator about each cap reached and not yet alerted for this period.

    A conditional UPDATE of ``alerted_for`` decides which worker alerts: only the one that
    changed it sends the signal, the log warning and the mail to ADMINS. Nothing is written
    for a cap already alerted for this period. Changing a cap (raising it) clears
    ``alerted_for``, so reaching it again is a new crossing.
    """
    alerted = []
    for state in board.over:
        cap = state.cap
        this_period = state.start_date
        if cap.alerted_for == this_period:
            continue
        claimed = (
            # The terms judged by: a cap changed meanwhile (raised) is not marked reached.
            BudgetCap.objects.filter(
                pk=cap.pk,
                is_active=True,
                limit=cap.limit,
                unit=cap.unit,
                period=cap.period,
                provider__isnull=cap.provider_id is None,
            )
            .filter(Q(alerted_for__isnull=True) | ~Q(alerted_for=this_period))
            .update(alerted_for=this_period)
        )
        if not claimed:
            continue
        cap.alerted_for = this_period
        _alert(state)
        alerted.append(cap)
    return alerted


def _alert(state: CapState) -> None:
    cap = state.cap
    text = (
        f"The {cap.get_period_display()} SMS budget cap for {cap.scope} "
        f"({amount_text(cap.limit, cap.unit)}) is reached: "
        f"{amount_text(state.spent, cap.unit)} spent since {state.start:%Y-%m-%d %H:%M %Z}. "
        "Normal-priority messages now wait (queued, with the reason) until the period turns "
        "or the cap is raised; critical ones are still sent."
    )
    logger.warning("helpdesk_sms: %s", text)
    # Robust: a receiver's error (logged by Django) must not stop the mail or the pass.
    signals.budget_cap_reached.send_robust(
        sender=BudgetCap, cap=cap, spent=state.spent, period_start=state.start
    )
    mail_admins(f"SMS budget cap reached: {cap.scope}, {cap.period}", text, fail_silently=True)


def check(now: datetime | None = None) -> BudgetBoard:
    """Load the board, mark what it holds and alert new crossings: one call per pass."""
    board = BudgetBoard.load(now)
    hold(board)  # also with no cap left: what a removed cap held is free to go
    alert_crossings(board)
    return board
