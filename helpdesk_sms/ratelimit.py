"""Per-provider sending rates, counted across every worker process: :func:`acquire`.

A provider may limit the messages it takes per second and per minute
(``Provider.rate_per_second`` / ``rate_per_minute``). Before submitting, a worker asks
``acquire(provider, n)`` for ``n`` messages and sends only the granted ones; the rest wait
until ``retry_at`` (a limit delays a message, never drops it).

Fixed windows: the current second and the current minute (UTC, whole seconds since 1970).
Both must have room: the grant is the smallest room, and it counts in both windows, so a
worker never takes part of a window another worker was promised. The count lives where every
worker sees it:

* **Redis** when ``HELPDESK_SMS["RATE_LIMIT_REDIS_URL"]`` is set: one Lua script per call
  reads and increments both windows atomically, the keys expiring with their windows.
* **The database** otherwise: ``RateWindow`` rows, read and incremented in one short
  transaction with the rows locked (``SELECT … FOR UPDATE``; SQLite serialises writers, and
  the transaction's first statement is a write, so it holds the write lock throughout).

An unreachable Redis falls back to the database (a warning once per outage; Redis is tried
again after :data:`REDIS_RETRY_AFTER` seconds): a send never fails because of the limiter.
A provider without limits costs nothing: no query, no Redis call.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from . import conf
from .models import Provider, RateWindow

logger = logging.getLogger(__name__)

#: Windows older than this (seconds) are deleted, at most once a minute per process.
KEEP_WINDOWS = 120

#: After Redis failed, count in the database for this many seconds before trying it again.
REDIS_RETRY_AFTER = 30.0

#: Read both windows, grant the smallest room (never below 0), add the grant to both.
#: KEYS: the windows; ARGV: wanted, then each window's limit and expiry (seconds).
#: Returns the grant, then each window's count before it.
REDIS_SCRIPT = """
local granted = tonumber(ARGV[1])
local used = {}
for i, key in ipairs(KEYS) do
  used[i] = tonumber(redis.call('GET', key) or '0')
  local room = tonumber(ARGV[i * 2]) - used[i]
  if room < granted then granted = room end
end
if granted < 0 then granted = 0 end
if granted > 0 then
  for i, key in ipairs(KEYS) do
    redis.call('INCRBY', key, granted)
    redis.call('EXPIRE', key, tonumber(ARGV[i * 2 + 1]))
  end
end
table.insert(used, 1, granted)
return used
"""


@dataclass(frozen=True)
class Grant:
    """What :func:`acquire` allowed: send ``granted`` now; the rest not before ``retry_at``.

    ``retry_at`` is the start of the next window with room (None when all were granted).
    """

    granted: int
    retry_at: datetime | None


@dataclass(frozen=True)
class Window:
    """One fixed window of one provider: its length, its limit and where it starts."""

    scope: str  # RateWindow.Scope: "second" or "minute"
    seconds: int
    limit: int
    start: int  # whole seconds since 1970, UTC

    @property
    def end(self) -> int:
        return self.start + self.seconds


def windows(provider: Provider, now: datetime) -> list[Window]:
    """The provider's limited windows containing ``now`` ([] when it has no limits)."""
    epoch = int(now.timestamp())
    found = []
    if provider.rate_per_second is not None:
        found.append(Window(RateWindow.Scope.SECOND, 1, provider.rate_per_second, epoch))
    if provider.rate_per_minute is not None:
        found.append(
            Window(RateWindow.Scope.MINUTE, 60, provider.rate_per_minute, epoch - epoch % 60)
        )
    return found


def acquire(provider: Provider, wanted: int, now: datetime | None = None) -> Grant:
    """Ask to send ``wanted`` messages through ``provider`` now; see :class:`Grant`.

    Call it outside a transaction: in one, the database backend's window rows stay locked
    (other workers of the provider wait) until it ends.
    """
    if wanted <= 0:
        return Grant(0, None)
    if provider.rate_per_second is None and provider.rate_per_minute is None:
        return Grant(wanted, None)
    now = now or timezone.now()
    limited = windows(provider, now)
    url = conf.get("RATE_LIMIT_REDIS_URL")
    counted = _redis_acquire(url, provider, limited, wanted) if url else None
    if counted is None:
        counted = _database_acquire(provider, limited, wanted, now)
    granted, used = counted
    return Grant(granted, _retry_at(limited, used, granted, wanted))


def _room(limited: list[Window], used: list[int], wanted: int) -> int:
    """The grant: ``wanted``, or less where a window has less room (never below 0)."""
    return max(0, min([wanted, *(w.limit - u for w, u in zip(limited, used, strict=True))]))


def _retry_at(limited: list[Window], used: list[int], granted: int, wanted: int) -> datetime | None:
    """When every window the grant filled has ended (None when nothing was refused)."""
    if granted >= wanted:
        return None
    full = [w.end for w, u in zip(limited, used, strict=True) if u + granted >= w.limit]
    return datetime.fromtimestamp(max(full), tz=UTC)


# -- the database ---------------------------------------------------------------------------

#: The minute this process last deleted old windows in (whole seconds since 1970).
_pruned_minute: int | None = None


def _database_acquire(
    provider: Provider, limited: list[Window], wanted: int, now: datetime
) -> tuple[int, list[int]]:
    """Grant from ``RateWindow`` rows: created if missing, then locked, read and incremented."""
    _prune(now)
    match = Q()
    for window in limited:
        match |= Q(scope=window.scope, window_start=window.start)
    with transaction.atomic():
        # First a write, so SQLite takes its write lock before the read below.
        RateWindow.objects.bulk_create(
            [RateWindow(provider=provider, scope=w.scope, window_start=w.start) for w in limited],
            ignore_conflicts=True,
        )
        rows = {
            scope: (pk, count)
            for scope, pk, count in RateWindow.objects.select_for_update()
            .filter(match, provider=provider)
            .order_by("pk")
            .values_list("scope", "pk", "count")
        }
        used = [rows[w.scope][1] for w in limited]
        granted = _room(limited, used, wanted)
        if granted:
            RateWindow.objects.filter(pk__in=[pk for pk, _ in rows.values()]).update(
                count=F("count") + granted
            )
    return granted, used


def _prune(now: datetime) -> None:
    """Delete every provider's windows older than :data:`KEEP_WINDOWS`, once a minute."""
    global _pruned_minute
    epoch = int(now.timestamp())
    minute = epoch - epoch % 60
    if _pruned_minute == minute:
        return
    RateWindow.objects.filter(window_start__lt=epoch - KEEP_WINDOWS).delete()
    _pruned_minute = minute


# -- Redis ----------------------------------------------------------------------------------


@dataclass
class _RedisState:
    """One Redis URL's client and script, and whether it is being avoided after a failure."""

    script: Any = None
    down_until: float = 0.0
    warned: bool = False


_redis: dict[str, _RedisState] = {}


def _redis_acquire(
    url: str, provider: Provider, limited: list[Window], wanted: int
) -> tuple[int, list[int]] | None:
    """Grant with the Lua script; None when Redis cannot answer (count in the database)."""
    state = _redis.setdefault(url, _RedisState())
    if time.monotonic() < state.down_until:
        return None
    prefix = conf.get("RATE_LIMIT_REDIS_PREFIX")
    keys = [f"{prefix}{provider.pk}:{w.scope}:{w.start}" for w in limited]
    args: list[int] = [wanted]
    for window in limited:
        args += [window.limit, window.seconds * 2 + 1]
    try:
        from redis import Redis
        from redis.exceptions import RedisError
    except ImportError as exc:  # pragma: no cover - redis is a dependency
        _redis_failed(url, state, exc)
        return None
    try:
        if state.script is None:
            client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
            state.script = client.register_script(REDIS_SCRIPT)
        reply = state.script(keys=keys, args=args)
    except (RedisError, OSError) as exc:
        _redis_failed(url, state, exc)
        return None
    if state.warned:
        logger.warning(
            "helpdesk_sms: rate limits are counted in Redis again (%s)", redacted_url(url)
        )
        state.warned = False
    return int(reply[0]), [int(n) for n in reply[1:]]


def _redis_failed(url: str, state: _RedisState, exc: BaseException) -> None:
    state.down_until = time.monotonic() + REDIS_RETRY_AFTER
    if not state.warned:
        logger.warning(
            "helpdesk_sms: Redis for rate limits (%s) failed (%s: %s); counting in the database "
            "until it answers again",
            redacted_url(url),
            type(exc).__name__,
            exc,
        )
        state.warned = True


def redacted_url(url: str) -> str:
    """The URL without a password, for the log."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if rest else url
