"""The dashboard's periods and their time buckets, in the site's time zone.

Buckets are hours for the last 24 hours and days for 7 or 30 days. The period starts at
its first bucket's start, so every bucket holds a whole hour or day (the last one: up to
now). The database numbers each row's bucket by comparing its time with the buckets'
boundaries (:meth:`Window.bucket`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Period:
    """One choice of the period selector."""

    key: str
    label: Any  # a lazy translation
    hourly: bool
    buckets: int


PERIODS: dict[str, Period] = {
    p.key: p
    for p in (
        Period("24h", _("last 24 hours"), hourly=True, buckets=24),
        Period("7d", _("last 7 days"), hourly=False, buckets=7),
        Period("30d", _("last 30 days"), hourly=False, buckets=30),
    )
}
DEFAULT = "7d"


def choose(value: str | None) -> tuple[Period, str]:
    """The period named by ``value``, or the default with a sentence saying why."""
    if value in (None, ""):
        return PERIODS[DEFAULT], ""
    period = PERIODS.get(str(value))
    if period is not None:
        return period, ""
    known = ", ".join(PERIODS)
    shown = str(value)[:20]
    return PERIODS[DEFAULT], str(
        _("Unknown period %(value)r: showing the %(default)s. Choose one of %(known)s.")
        % {"value": shown, "default": PERIODS[DEFAULT].label, "known": known}
    )


@dataclass(frozen=True)
class Window:
    """A period as of ``now``: its buckets' starts (aware, local) and how to name them."""

    period: Period
    now: datetime
    tz: tzinfo
    buckets: tuple[datetime, ...]

    @classmethod
    def of(cls, period: Period, now: datetime | None = None) -> Window:
        tz = timezone.get_current_timezone()
        now = now or timezone.now()
        local = timezone.localtime(now, tz)
        if period.hourly:
            last = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
            # Stepped in UTC: an hour is an hour across a daylight-saving change.
            starts = [(last - timedelta(hours=i)).astimezone(tz) for i in range(period.buckets)]
        else:
            today = local.date()
            starts = [
                datetime.combine(today - timedelta(days=i), time(), tzinfo=tz)
                for i in range(period.buckets)
            ]
        return cls(period, now, tz, tuple(reversed(starts)))

    @property
    def since(self) -> datetime:
        return self.buckets[0]

    def bucket(self, field: str) -> Case | Value:
        """The database expression numbering ``field``'s bucket (0 for the first).

        Comparisons with the buckets' boundaries, which Python computed in the site's
        time zone: the database does no time-zone arithmetic and calls no function per
        row (SQLite's date truncation is a Python function called for every row). The
        comparisons nest as a binary search, so a row of a 30-day period costs five of
        them rather than up to thirty: on SQLite at a million messages that is a quarter
        of the dashboard's grouped pass.
        """
        return self._bucket_between(field, 0, len(self.buckets) - 1)

    def _bucket_between(self, field: str, first: int, last: int) -> Case | Value:
        """The bucket of a row known to lie in buckets ``first`` to ``last``."""
        if first == last:
            return Value(first)
        middle = (first + last + 1) // 2
        return Case(
            When(
                **{f"{field}__lt": self.buckets[middle]},
                then=self._bucket_between(field, first, middle - 1),
            ),
            default=self._bucket_between(field, middle, last),
            output_field=IntegerField(),
        )

    def label(self, start: datetime) -> str:
        """``13:00`` for an hour, ``Mon 04`` for a day (short: they sit under bars)."""
        local = start.astimezone(self.tz)
        return local.strftime("%H:%M") if self.period.hourly else local.strftime("%a %d")

    def long_label(self, start: datetime) -> str:
        """``2025-03-04 13:00`` or ``Mon 2025-03-04``, for tooltips and tables."""
        local = start.astimezone(self.tz)
        return (
            local.strftime("%Y-%m-%d %H:%M")
            if self.period.hourly
            else local.strftime("%a %Y-%m-%d")
        )

    @property
    def bucket_name(self) -> Any:
        return _("hour") if self.period.hourly else _("day")
