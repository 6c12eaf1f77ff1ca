"""The admin's view of a country profile: what choosing one implies, beside the choice."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from . import country_profiles


class CountryProfileAdminMixin:
    """``country_profile_summary`` (read-only): the chosen profile's rules, and every
    profile's, so the choice is made knowing what it does."""

    @admin.display(description=_("what the profile implies"))
    def country_profile_summary(self, obj: Any) -> SafeString:
        chosen = country_profiles.summary(getattr(obj, "country_profile", ""))
        every = format_html_join(
            "",
            "<li><b>{}</b>: {}</li>",
            ((str(p), p.summary()) for p in country_profiles.PROFILES.values()),
        )
        return format_html(
            "{}<ul>{}</ul>", chosen or _("No profile: none of these rules apply."), every
        )
