"""Provider health: a circuit breaker per provider, shared by every worker process.

After ``CIRCUIT_FAILURES`` requests in a row that a provider provably did not take, its
circuit **opens**: the outbox skips it (the next provider on the route takes its messages)
for ``CIRCUIT_COOLDOWN`` seconds. Then one request is let through as a **probe**
(**half-open**): its success closes the circuit, its failure opens it again for another
cool-down. A probe whose worker died is let through again after a cool-down.

Only provable failures count (:data:`PROVABLE`): a refused recipient or text says nothing
about the gateway, and an ambiguous answer may have been a success.

Every worker reads the state from the database, so a move is a conditional UPDATE on the
state it was read in: of two workers making the same move only one changes a row, and only
that one records the change. A change is written with its history row in one transaction;
its log line and ``provider_health_changed`` follow the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from . import conf, signals
from .gateways.base import ErrorCategory
from .health_models import CircuitState, ProviderHealth, ProviderHealthChange
from .models import Provider

logger = logging.getLogger(__name__)

#: The categories that prove the provider, not the message, is the problem: they count
#: toward opening its circuit, and a message failing with one may go to another provider.
PROVABLE: frozenset[ErrorCategory] = frozenset(
    {
        ErrorCategory.AUTHENTICATION,
        ErrorCategory.INSUFFICIENT_CREDIT,
        ErrorCategory.THROTTLED,
        ErrorCategory.TRANSIENT,
        ErrorCategory.INVALID_SENDER,
    }
)

#: How often a move is tried again after another worker changed the row first.
ATTEMPTS = 5


def is_provable(category: ErrorCategory | str | None) -> bool:
    """Whether a failure of this category proves the provider did not take the request."""
    return category in PROVABLE


def cooldown() -> timedelta:
    return timedelta(seconds=float(conf.get("CIRCUIT_COOLDOWN")))


def threshold() -> int:
    return max(1, int(conf.get("CIRCUIT_FAILURES")))


class CircuitBoard:
    """Every provider's circuit as read once, to decide a dispatch pass's providers.

    Reading is one query for all providers; ``allows`` writes only to claim a probe. The
    board is a snapshot: a circuit another worker opens meanwhile is seen at the next load.
    """

    def __init__(self, rows: Iterable[ProviderHealth], now: datetime | None = None) -> None:
        self.rows = {row.provider_id: row for row in rows}
        #: The time ``allows`` judges by when given none; None: the clock at each call.
        self.now = now

    @classmethod
    def load(cls, now: datetime | None = None) -> CircuitBoard:
        return cls(ProviderHealth.objects.all(), now)

    def state(self, provider: Provider) -> str:
        row = self.rows.get(provider.pk)
        return row.state if row is not None else CircuitState.CLOSED

    def retry_at(self, provider: Provider) -> datetime | None:
        """When the circuit may let a request through next (None when it is closed): an
        open one at its ``retry_at``; a half-open one, whose probe is in flight, once that
        probe is a cool-down old (the time a stale probe is replaced)."""
        row = self.rows.get(provider.pk)
        if row is None or row.state == CircuitState.CLOSED:
            return None
        if row.state == CircuitState.HALF_OPEN and row.probe_started_at is not None:
            return row.probe_started_at + cooldown()
        return row.retry_at

    def reason(self, provider: Provider) -> str:
        """Why the circuit is not closed, in words ("" when it is)."""
        row = self.rows.get(provider.pk)
        if row is None or row.state == CircuitState.CLOSED:
            return ""
        return f"{row.last_failure_category}: {row.last_failure}"[:200]

    def succeeded(self, provider: Provider) -> None:
        """A request was taken: record it only when there is something to clear, so a
        healthy provider's requests cost the breaker no query."""
        row = self.rows.get(provider.pk)
        if row is None or (row.state == CircuitState.CLOSED and not row.consecutive_failures):
            return
        record_success(provider)
        row.state, row.consecutive_failures = CircuitState.CLOSED, 0

    def failed(self, provider: Provider, category: ErrorCategory | str, text: str) -> None:
        """A request was provably not taken: count it, and read the provider's circuit
        again, so the rest of this pass sees it open as soon as it opens."""
        if not is_provable(category):
            return
        record_failure(provider, category, text)
        row = ProviderHealth.objects.filter(provider=provider).first()
        if row is not None:
            self.rows[provider.pk] = row

    def allows(self, provider: Provider, now: datetime | None = None) -> bool:
        """Whether a request may go to ``provider`` now; claims the probe when one is due.

        An open circuit whose cool-down is over moves to half-open for the one worker whose
        conditional UPDATE wins; a half-open circuit whose probe started a cool-down ago
        (its worker died) is claimed again the same way. Everyone else is refused.
        """
        row = self.rows.get(provider.pk)
        if row is None or row.state == CircuitState.CLOSED:
            return True
        now = now or self.now or timezone.now()
        if row.state == CircuitState.OPEN:
            if row.retry_at is not None and row.retry_at > now:
                return False
            return self._claim_probe(provider, row, now)
        if row.probe_started_at is not None and row.probe_started_at > now - cooldown():
            return False
        return self._reclaim_probe(provider, row, now)

    def _claim_probe(self, provider: Provider, row: ProviderHealth, now: datetime) -> bool:
        claimed = _move(
            provider,
            CircuitState.OPEN,
            CircuitState.HALF_OPEN,
            reason="cool-down over: one probe request is let through",
            when=Q(retry_at__lte=now) | Q(retry_at__isnull=True),
            now=now,
            probe_started_at=now,
        )
        # Won or lost, this board lets nothing else through to the provider.
        row.state, row.probe_started_at = CircuitState.HALF_OPEN, now
        return claimed

    def _reclaim_probe(self, provider: Provider, row: ProviderHealth, now: datetime) -> bool:
        stale = Q(probe_started_at__lte=now - cooldown()) | Q(probe_started_at__isnull=True)
        claimed = bool(
            ProviderHealth.objects.filter(
                stale, provider=provider, state=CircuitState.HALF_OPEN
            ).update(probe_started_at=now)
        )
        if claimed:
            logger.info(
                "helpdesk_sms: provider %s: the probe started %s had no answer; probing again",
                provider,
                row.probe_started_at,
            )
        row.probe_started_at = now
        return claimed


def record_success(provider: Provider, now: datetime | None = None) -> None:
    """The provider took a request: its failures in a row end, an open circuit closes.

    A healthy provider costs one SELECT (nothing to change).
    """
    now = now or timezone.now()
    for _attempt in range(ATTEMPTS):
        found = (
            ProviderHealth.objects.filter(provider=provider)
            .exclude(state=CircuitState.CLOSED, consecutive_failures=0)
            .values_list("state", flat=True)
            .first()
        )
        if found is None:
            return
        if found == CircuitState.CLOSED:
            ProviderHealth.objects.filter(provider=provider, state=found).update(
                consecutive_failures=0
            )
            return
        if _move(provider, found, CircuitState.CLOSED, reason="a request succeeded", now=now):
            return


def record_failure(
    provider: Provider, category: ErrorCategory | str, text: str, now: datetime | None = None
) -> None:
    """Count a failed request; a provable one may open the circuit (or reopen a probe's).

    Non-provable categories are ignored without a query. A closed circuit costs two
    UPDATEs: the count, then the opening if the count reached ``CIRCUIT_FAILURES`` (made
    by one worker only however many failed at once). Each UPDATE names the state it
    applies to, so an open or half-open circuit simply makes the first one miss.
    """
    if not is_provable(category):
        return
    now = now or timezone.now()
    category = str(ErrorCategory(category))
    noted = {"last_failure": text, "last_failure_category": category}
    counted: dict[str, Any] = {"consecutive_failures": F("consecutive_failures") + 1, **noted}
    limit = threshold()
    rows = ProviderHealth.objects.filter(provider=provider)
    for _attempt in range(ATTEMPTS):
        if rows.filter(state=CircuitState.CLOSED).update(**counted):
            _open_at_threshold(provider, limit, noted, now)
            return
        if rows.filter(state=CircuitState.OPEN).update(**counted):
            return
        if _move(
            provider,
            CircuitState.HALF_OPEN,
            CircuitState.OPEN,
            reason=f"the probe failed: {category}: {text}",
            now=now,
            retry_at=now + cooldown(),
            probe_started_at=None,
            **counted,
        ):
            return
        if _create(provider, noted, now, opens=limit <= 1):
            return
    logger.warning("helpdesk_sms: provider %s: a failure went uncounted (contention)", provider)


def reset(provider: Provider, source: str, now: datetime | None = None) -> bool:
    """Close ``provider``'s circuit by hand (an operator says it is healthy again).

    Returns whether it was open or half-open; the failures in a row are cleared either way.
    """
    now = now or timezone.now()
    for _attempt in range(ATTEMPTS):
        found = (
            ProviderHealth.objects.filter(provider=provider).values_list("state", flat=True).first()
        )
        if found is None:
            return False
        if found == CircuitState.CLOSED:
            ProviderHealth.objects.filter(provider=provider, state=found).update(
                consecutive_failures=0
            )
            return False
        if _move(provider, found, CircuitState.CLOSED, reason=f"closed by {source}", now=now):
            return True
    return False


def _create(provider: Provider, noted: dict[str, str], now: datetime, *, opens: bool) -> bool:
    """The provider's first counted failure; False if another worker created the row first."""
    try:
        with transaction.atomic():
            ProviderHealth.objects.create(
                provider=provider, consecutive_failures=1, changed_at=now, **noted
            )
    except IntegrityError:
        return False
    if opens:
        _open_at_threshold(provider, 1, noted, now)
    return True


def _open_at_threshold(
    provider: Provider, limit: int, noted: dict[str, str], now: datetime
) -> None:
    """Open a closed circuit whose failures in a row reached ``limit`` (one worker does)."""
    _move(
        provider,
        CircuitState.CLOSED,
        CircuitState.OPEN,
        reason=f"{limit} failure{'s' if limit > 1 else ''} in a row, the last "
        f"{noted['last_failure_category']}: {noted['last_failure']}",
        when=Q(consecutive_failures__gte=limit),
        now=now,
        retry_at=now + cooldown(),
        probe_started_at=None,
    )


def _move(
    provider: Provider,
    from_state: str,
    to_state: str,
    *,
    reason: str,
    now: datetime,
    when: Q | None = None,
    **fields: Any,
) -> bool:
    """Move the circuit if it is still ``from_state`` (and ``when`` holds); record it."""
    if to_state == CircuitState.CLOSED:
        fields = {
            "consecutive_failures": 0,
            "opened_at": None,
            "retry_at": None,
            "probe_started_at": None,
            **fields,
        }
    elif from_state == CircuitState.CLOSED:
        fields = {"opened_at": now, **fields}
    rows = ProviderHealth.objects.filter(provider=provider, state=from_state)
    if when is not None:
        rows = rows.filter(when)
    # No savepoint: nothing here catches an error, and the common miss costs one statement.
    with transaction.atomic(savepoint=False):
        if not rows.update(state=to_state, changed_at=now, **fields):
            return False
        ProviderHealthChange.objects.create(
            provider=provider,
            from_state=from_state,
            to_state=to_state,
            reason=reason,
            created_at=now,
        )
    transaction.on_commit(lambda: _announce(provider, from_state, to_state, reason, fields))
    return True


def _announce(
    provider: Provider, from_state: str, to_state: str, reason: str, fields: dict[str, Any]
) -> None:
    """Log and signal a committed change; a receiver's error is logged, never raised."""
    if to_state == CircuitState.OPEN:
        retry_at = fields.get("retry_at")
        logger.warning(
            "helpdesk_sms: provider %s circuit opened (%s); skipped until %s",
            provider,
            reason,
            retry_at.isoformat() if retry_at else "a probe",
        )
    else:
        logger.info(
            "helpdesk_sms: provider %s circuit %s -> %s (%s)",
            provider,
            from_state,
            to_state,
            reason,
        )
    signals.send_robustly(
        signals.provider_health_changed,
        "provider_health_changed",
        Provider,
        provider=provider,
        from_state=str(from_state),
        to_state=str(to_state),
        reason=reason,
    )
