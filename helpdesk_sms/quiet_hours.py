"""Quiet hours: no customer texted at 02:00 their time for a ticket that can wait.

A window (``21:00-08:00``, wrapping midnight or not) is read in the recipient's local time:
the number's own time zone (phonenumbers' tables, by country and area); where the number
spans several zones, the ticket's or the provider's when it is one of them, else the
first; where it has none, the ticket's own time zone (a host's ``timezone`` /
``time_zone`` attribute, or ``HELPDESK_SMS["TICKET_TIMEZONE_RESOLVER"]``), else the
provider's, else the site's ``TIME_ZONE``. A message due inside the window is written
``scheduled`` until the window opens (the outbox releases it then); an urgent template's
messages ignore it.

All in memory: a number's zones are cached, so a notification pass costs no query more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.conf import settings as django_settings
from phonenumbers import timezone as phone_timezones

from . import conf
from .states import Status

if TYPE_CHECKING:  # pragma: no cover
    from .country_profiles import CountryProfile

#: How a window is written: "21:00-08:00" (an en dash or " to " also read).
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*(?:-|–|to)\s*(\d{1,2}):(\d{2})\s*$")

#: A template's value that switches quiet hours off for it, whatever the setting.
OFF = "off"

#: phonenumbers' answer when it knows no zone for a number.
UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True)
class Window:
    """The local hours in which nothing is sent: from ``start`` up to ``end``."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"

    def contains(self, moment: time) -> bool:
        """Whether a local time of day falls inside the window (``end`` is outside)."""
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # wraps midnight

    def opening(self, local: datetime) -> datetime:
        """The first local moment at or after ``local`` when the window is over."""
        candidate = datetime.combine(local.date(), self.end, tzinfo=local.tzinfo)
        if candidate < local:
            candidate += timedelta(days=1)
        return candidate


def parse(value: Any, name: str) -> Window:
    """A window from ``{"start": "21:00", "end": "08:00"}`` or ``"21:00-08:00"``.

    ValueError naming ``name`` and the rule otherwise: the settings check and the
    template's clean() show it as it is.
    """
    rule = (
        f"{name} must be a window of local hours when nothing is sent, written "
        '"HH:MM-HH:MM" or {"start": "HH:MM", "end": "HH:MM"} (e.g. 21:00-08:00; it may '
        "wrap midnight; start and end differ)"
    )
    if isinstance(value, dict):
        if set(value) != {"start", "end"}:
            raise ValueError(f"{rule}, not {value!r}.")
        text = f"{value['start']}-{value['end']}"
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"{rule}, not {value!r}.")
    found = _WINDOW.match(text)
    if found is None:
        raise ValueError(f"{rule}, not {value!r}.")
    hours_minutes = [int(part) for part in found.groups()]
    try:
        start = time(hours_minutes[0], hours_minutes[1])
        end = time(hours_minutes[2], hours_minutes[3])
    except ValueError:
        raise ValueError(f"{rule}; {value!r} is not a time of day.") from None
    if start == end:
        raise ValueError(f"{rule}; {value!r} starts and ends at the same time.")
    return Window(start, end)


def site_window() -> Window | None:
    """``HELPDESK_SMS["QUIET_HOURS"]``, None when off (the default)."""
    value = conf.get("QUIET_HOURS")
    if value in (None, "", {}):
        return None
    key = repr(value)
    found = _settings_read.get(key)
    if found is None:
        found = _settings_read[key] = parse(value, "HELPDESK_SMS['QUIET_HOURS']")
    return found


#: The setting's windows as read, by their repr (a dict is not hashable for lru_cache).
_settings_read: dict[str, Window] = {}


def template_window(template: Any, profile: CountryProfile | None = None) -> Window | None:
    """The window a template's messages keep: none when urgent, else its own, else the
    site's, else their country profile's default (its own value ``off``: none)."""
    if getattr(template, "urgent", False):
        return None
    own = (getattr(template, "quiet_hours", "") or "").strip()
    if not own:
        site = site_window()
        if site is None and profile is not None and profile.quiet_hours:
            return _parsed_template(profile.quiet_hours)
        return site
    if own.lower() == OFF:
        return None
    return _parsed_template(own)


@lru_cache(maxsize=256)
def _parsed_template(value: str) -> Window:
    return parse(value, "quiet hours")


#: Old names phonenumbers still uses, and today's (what a provider's setting is written in).
CURRENT_NAMES = {
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Atlantic/Faeroe": "Atlantic/Faroe",
    "Europe/Kiev": "Europe/Kyiv",
    "America/Godthab": "America/Nuuk",
}


@lru_cache(maxsize=4096)
def number_zones(e164: str) -> tuple[str, ...]:
    """The time zones phonenumbers gives a number (its country, and area where known),
    by today's names."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = phone_timezones.time_zones_for_number(number)
    return tuple(CURRENT_NAMES.get(z, z) for z in zones if z != UNKNOWN_ZONE)


def zone_name(value: Any) -> str | None:
    """A time zone name from a string or a tzinfo; None for nothing usable."""
    if value is None or value == "":
        return None
    if isinstance(value, tzinfo):
        key = getattr(value, "key", None) or getattr(value, "zone", None)
        if key:
            return str(key)
        return "UTC" if value.utcoffset(None) == timedelta(0) else None
    text = str(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return text


def ticket_zone(ticket: Any) -> str | None:
    """The ticket's own time zone where the host gives one: the resolver setting, else a
    ``timezone`` or ``time_zone`` attribute. Never raises: a broken one is no zone."""
    try:
        dotted = conf.get("TICKET_TIMEZONE_RESOLVER")
        if dotted:
            return zone_name(conf.resolver("TICKET_TIMEZONE_RESOLVER")(ticket))
        for attribute in ("timezone", "time_zone"):
            found = zone_name(getattr(ticket, attribute, None))
            if found:
                return found
    except Exception:  # the host's code: no zone rather than no message
        return None
    return None


def local_zone(recipient: str, *, ticket_tz: str | None, provider_tz: str | None) -> str:
    """The recipient's local time zone name (see the module's docstring for the order)."""
    zones = number_zones(recipient) if recipient else ()
    if len(zones) == 1:
        return zones[0]
    for preferred in (ticket_tz, provider_tz):
        if preferred and (not zones or preferred in zones):
            return preferred
    if zones:
        return zones[0]
    return zone_name(getattr(django_settings, "TIME_ZONE", None)) or "UTC"


@dataclass(frozen=True)
class Hold:
    """A message held for quiet hours: until when, and why (for its timeline)."""

    until: datetime  # UTC
    note: str


def hold_for(
    window: Window | None,
    recipient: str,
    due: datetime,
    *,
    ticket_tz: str | None = None,
    provider_tz: str | None = None,
) -> Hold | None:
    """The hold of a message to ``recipient`` due at ``due``; None when it may go then."""
    if window is None:
        return None
    zone = local_zone(recipient, ticket_tz=ticket_tz, provider_tz=provider_tz)
    local = due.astimezone(ZoneInfo(zone))
    if not window.contains(local.time().replace(tzinfo=None)):
        return None
    opening = window.opening(local)
    note = (
        f"quiet hours {window} in {zone}: held until {window.end:%H:%M} local "
        f"({opening:%Y-%m-%d %H:%M %Z})"
    )
    return Hold(opening.astimezone(UTC), note)


def apply(
    message: Any,
    template: Any,
    now: datetime,
    *,
    ticket_tz: str | None = None,
    profile: CountryProfile | None = None,
) -> str:
    """Hold an unsaved notification ``message`` for quiet hours when its template keeps
    them and it is due inside them; returns the note for its first event ("" if not held).

    A later ``send_at`` it already has stays when that is outside the window.
    """
    if message.status not in (Status.QUEUED, Status.SCHEDULED):
        return ""
    window = template_window(template, profile)
    if window is None:
        return ""
    due = message.send_at if message.send_at and message.send_at > now else now
    provider = message.provider if message.provider_id else None
    provider_tz = zone_name(provider.timezone) if provider is not None else None
    hold = hold_for(window, message.recipient, due, ticket_tz=ticket_tz, provider_tz=provider_tz)
    if hold is None:
        return ""
    message.status = Status.SCHEDULED
    message.send_at = hold.until
    message.quiet_hours = True
    return hold.note
