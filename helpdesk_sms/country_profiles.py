"""Country profiles: presets of the rules a destination country's texts live by.

An operator picks a profile on a provider (its sender IDs, its default DND route) or on a
route (the messages routed there); a message's *effective* profile is its route's, else its
provider's (:func:`effective`). A profile says:

* which sender IDs the country's operators take (checked when a sender ID or a provider's
  default sender is saved, and when a message is composed);
* the most SMS parts one message may take (a longer text is refused like ``TextTooLong``);
* the default quiet hours (when neither the template nor ``HELPDESK_SMS["QUIET_HOURS"]``
  sets them);
* whether a registered (DLT) template id is required (a message without one is refused
  before it is queued);
* for Nigeria, the smsclone route that reaches numbers on the Do-Not-Disturb register.

The values are conservative defaults (docs/compliance.md, "Country profiles", says where
each comes from), not legal advice. Everything is in memory: no query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from .exceptions import SmsInputError, TextTooLong


@dataclass(frozen=True)
class SenderRule:
    """What a sender ID must look like: a pattern (matched whole) and the rule in words."""

    pattern: str
    description: str

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value or "") is not None


@dataclass(frozen=True)
class CountryProfile:
    """One country's preset (see the module docstring)."""

    code: str
    name: str
    sender_rule: SenderRule
    max_parts: int
    quiet_hours: str | None = None  # "HH:MM-HH:MM", read by quiet_hours.parse
    registered_template_required: bool = False
    #: The smsclone ``route`` option value used when the provider sets none (Nigeria).
    dnd_route: str | None = None
    #: Gateway -> option -> value: defaults the provider's own options override.
    option_defaults: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def sender_error(self, value: str) -> str:
        """Why ``value`` is not a sender ID of this country ("" when it is one)."""
        if self.sender_rule.matches(value):
            return ""
        return (
            f"{value!r} is not a sender ID for the {self.name} profile: "
            f"{self.sender_rule.description}."
        )

    def parts_error(self, parts: int) -> str:
        """Why a text of ``parts`` SMS parts is too long for this country ("" if it is not)."""
        if parts <= self.max_parts:
            return ""
        return (
            f"The {self.name} profile allows at most {self.max_parts} SMS parts; this text "
            f"needs {parts}."
        )

    def summary(self) -> str:
        """What choosing the profile implies, in one line for the admin."""
        bits = [
            f"sender IDs: {self.sender_rule.description}",
            f"at most {self.max_parts} SMS parts a message",
            f"default quiet hours {self.quiet_hours}" if self.quiet_hours else "no quiet hours",
        ]
        if self.registered_template_required:
            bits.append("a registered (DLT) template id is required")
        if self.dnd_route:
            bits.append(f"smsclone route {self.dnd_route!r} unless the provider sets one")
        return "; ".join(bits) + "."


_ALNUM_11 = SenderRule(
    r"(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{1,11}",
    "1 to 11 letters and digits, at least one letter (an alphanumeric sender ID)",
)

PROFILES: dict[str, CountryProfile] = {
    profile.code: profile
    for profile in (
        CountryProfile(
            code="IN",
            name="India",
            sender_rule=SenderRule(
                r"[A-Za-z]{6}", "exactly 6 letters (the DLT header registered for the sender)"
            ),
            max_parts=6,
            quiet_hours="21:00-09:00",
            registered_template_required=True,
        ),
        CountryProfile(
            code="NG",
            name="Nigeria",
            sender_rule=_ALNUM_11,
            max_parts=6,
            quiet_hours="20:00-08:00",
            dnd_route="dnd-fallback",
            option_defaults={"smsclone": {"route": "dnd-fallback"}},
        ),
        CountryProfile(
            code="AZ",
            name="Azerbaijan",
            sender_rule=_ALNUM_11,
            max_parts=6,
            quiet_hours="22:00-08:00",
        ),
        CountryProfile(
            code="NL",
            name="Netherlands",
            sender_rule=SenderRule(
                r"(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{1,11}|\+[1-9][0-9]{6,14}|[0-9]{4,5}",
                "1 to 11 letters and digits with at least one letter, a long number written "
                "with + (e.g. +31612345678) or a 4- or 5-digit short code",
            ),
            max_parts=3,
            quiet_hours="21:00-08:00",
        ),
    )
}

#: The choices of ``Provider.country_profile`` and ``Route.country_profile`` (blank: none).
CHOICES = [(code, f"{profile.name} ({code})") for code, profile in PROFILES.items()]


def profile_field(help_text: Any) -> models.CharField[str, str]:
    """The ``country_profile`` column of a provider or a route: a code, blank for none."""
    return models.CharField(
        _("country profile"), max_length=2, blank=True, choices=CHOICES, help_text=help_text
    )


def get(code: str | None) -> CountryProfile | None:
    """The profile of ``code`` (None for blank or unknown)."""
    return PROFILES.get((code or "").strip().upper())


def effective(route_code: str | None, provider_code: str | None) -> CountryProfile | None:
    """A message's profile: its route's, else its provider's."""
    return get(route_code) or get(provider_code)


def summary(code: str | None) -> str:
    """The admin's line for a chosen profile ("" for none)."""
    profile = get(code)
    return profile.summary() if profile else ""


def option_defaults(provider: Any, gateway_name: str) -> Mapping[str, str]:
    """The gateway options the provider's profile sets when the provider sets none."""
    profile = get(getattr(provider, "country_profile", ""))
    return profile.option_defaults.get(gateway_name, {}) if profile else {}


class RegisteredTemplateRequired(SmsInputError):
    """The country's operators drop a text sent without a registered template id."""

    field = "registered_template_id"


def check_message(profile: CountryProfile | None, *, parts: int, template_id: str) -> None:
    """Refuse a message its profile forbids: too many parts (``TextTooLong``), no
    registered template id where one is required (:class:`RegisteredTemplateRequired`)."""
    if profile is None:
        return
    problem = profile.parts_error(parts)
    if problem:
        raise TextTooLong(problem)
    if profile.registered_template_required and not template_id.strip():
        raise RegisteredTemplateRequired(
            f"The {profile.name} profile requires a registered (DLT) template id: give the "
            "template's registered template id, or a default on the sender ID or the provider "
            "(dlt_template_id option)."
        )
