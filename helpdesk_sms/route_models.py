"""Routes: which providers carry the messages to a country, a number prefix, or the rest.

Kept apart from ``models`` (which imports this module at its end) so routing has one home;
the foreign keys name their models by string so either module can be imported first.
Validation lives in ``clean`` so the admin and ``sms_route`` refuse the same input, each
error naming the field to fix.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from . import country_profiles

#: A number prefix as stored: ``+`` and 1 to 15 digits (E.164 has at most 15).
PREFIX = re.compile(r"\+[1-9][0-9]{0,14}")


def prefix_regions(prefix: str) -> list[str]:
    """The regions whose calling code starts ``prefix`` (+23480 -> ["NG"]); [] if none.

    Shared codes (+1, +7, +44) give every region of the code: the prefix cannot say which.
    """
    digits = prefix.lstrip("+")
    for length in (1, 2, 3):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:length] or 0))
        if regions and len(digits) >= length:
            return [r for r in regions if r != "001"]
    return []


class Route(models.Model):
    """A destination (a country, a number prefix, or every other number) and its providers."""

    name = models.CharField(
        _("name"),
        max_length=100,
        unique=True,
        help_text=_("How operators refer to the route, e.g. 'Nigeria' or 'Airtel Nigeria'."),
    )
    country = models.CharField(
        _("country"),
        max_length=2,
        blank=True,
        help_text=_(
            "Two-letter country (ISO 3166, as phonenumbers names it, e.g. NG) whose numbers "
            "take this route. Leave empty for a prefix route or the default route."
        ),
    )
    prefix = models.CharField(
        _("number prefix"),
        max_length=16,
        blank=True,
        help_text=_(
            "Numbers starting with these digits take this route, written with +, e.g. +23480. "
            "A longer matching prefix wins over a shorter one and over a country route. Leave "
            "empty for a country route or the default route."
        ),
    )
    country_profile = country_profiles.profile_field(
        _(
            "The destination country's rules for the messages routed here (before their "
            "provider's profile): SMS part limit, default quiet hours, whether a registered "
            "(DLT) template id is required, sender ID format. Empty: the provider's profile."
        ),
    )
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_(
            "Inactive routes are ignored. At most one active route per destination, and one "
            "active default route (neither country nor prefix)."
        ),
    )
    created_at = models.DateTimeField(
        _("created"), auto_now_add=True, help_text=_("When the route was added.")
    )

    class Meta:
        verbose_name = _("route")
        verbose_name_plural = _("routes")
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                fields=["country", "prefix"],
                condition=Q(is_active=True),
                name="hsms_route_one_active_per_destination",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def destination(self) -> str:
        """What the route catches, in words: "country NG", "prefix +23480" or "default"."""
        if self.prefix:
            return f"prefix {self.prefix}"
        if self.country:
            return f"country {self.country}"
        return "default (every other number)"

    def regions(self) -> list[str]:
        """The countries this route's numbers can be in: what its providers must allow."""
        if self.country:
            return [self.country]
        if self.prefix:
            return prefix_regions(self.prefix)
        return []

    def clean(self) -> None:
        super().clean()
        self.country = (self.country or "").strip().upper()
        self.prefix = (self.prefix or "").strip().replace(" ", "")
        errors: dict[str, Any] = {}
        if self.country and self.prefix:
            errors["prefix"] = _(
                "Give a country or a number prefix, not both: a route has one destination."
            )
        if self.country and self.country not in phonenumbers.SUPPORTED_REGIONS:
            errors["country"] = _(
                "%(value)s is not a two-letter country phonenumbers knows (e.g. NG, IN, NL)."
            ) % {"value": self.country}
        if self.prefix and not PREFIX.fullmatch(self.prefix):
            errors["prefix"] = _(
                "%(value)s is not a number prefix: write + and digits only, e.g. +23480."
            ) % {"value": self.prefix}
        elif self.prefix and not prefix_regions(self.prefix):
            errors["prefix"] = _("%(value)s does not start with a country calling code.") % {
                "value": self.prefix
            }
        if not errors and self.is_active:
            errors.update(self._duplicate_errors())
        if errors:
            raise ValidationError(errors)

    def _duplicate_errors(self) -> dict[str, str]:
        """Another active route for the same destination, named on the field to change."""
        other = (
            Route.objects.filter(is_active=True, country=self.country, prefix=self.prefix)
            .exclude(pk=self.pk)
            .first()
        )
        if other is None:
            return {}
        field = "prefix" if self.prefix else "country" if self.country else "is_active"
        what = "the default route" if field == "is_active" else f"the route for {self.destination}"
        return {
            field: _(
                "Route %(other)r is already %(what)s; deactivate one of them or change this one."
            )
            % {"other": other.name, "what": what}
        }


class RouteHop(models.Model):
    """One provider on a route: its place in the order, its share and its sender ID there."""

    route = models.ForeignKey(
        Route,
        verbose_name=_("route"),
        on_delete=models.CASCADE,
        related_name="hops",
        help_text=_("The route this provider serves."),
    )
    provider = models.ForeignKey(
        "helpdesk_sms.Provider",
        verbose_name=_("provider"),
        on_delete=models.CASCADE,
        related_name="route_hops",
        help_text=_("The gateway account that carries this route's messages."),
    )
    position = models.PositiveSmallIntegerField(
        _("position"),
        default=1,
        help_text=_("Order on the route: the lowest position is tried first."),
    )
    weight = models.PositiveSmallIntegerField(
        _("weight"),
        default=1,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Share of the traffic among providers with the same lowest position: weights 3 "
            "and 1 send about three messages in four through the first."
        ),
    )
    sender = models.ForeignKey(
        "helpdesk_sms.SenderID",
        verbose_name=_("sender ID"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="route_hops",
        help_text=_(
            "The provider's own approved sender ID to use on this route (empty: the sender "
            "asked for, else the provider's default)."
        ),
    )

    class Meta:
        verbose_name = _("route provider")
        verbose_name_plural = _("route providers")
        ordering = ("route", "position", "pk")
        constraints = [
            models.UniqueConstraint(
                fields=["route", "provider"],
                name="hsms_route_hop_unique_provider",
                violation_error_message=_("This provider is already on the route."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.route} #{self.position}: {self.provider}"

    def clean(self) -> None:
        super().clean()
        # The admin checks a new route's rows before the route is saved: the unsaved route
        # is set on them, without a pk.
        try:
            route = self.route
        except Route.DoesNotExist:
            return
        if not self.provider_id:
            return
        errors: dict[str, Any] = {}
        provider = self.provider
        allowed = provider.allowed_country_list()
        regions = route.regions()
        if allowed and regions and not set(regions) & set(allowed):
            errors["provider"] = _(
                "Provider %(provider)r may only text %(allowed)s, not %(regions)s (%(route)s): "
                "allow the country on the provider or pick another provider."
            ) % {
                "provider": provider.name,
                "allowed": ", ".join(allowed),
                "regions": ", ".join(regions),
                "route": route.destination,
            }
        if self.sender_id:
            sender = self.sender
            if sender is not None and sender.provider_id != self.provider_id:
                errors["sender"] = _(
                    "Sender ID %(sender)r belongs to provider %(other)r, not %(provider)r: "
                    "each provider sends with its own approved sender IDs."
                ) % {
                    "sender": sender.value,
                    "other": str(sender.provider),
                    "provider": provider.name,
                }
            elif sender is not None and not sender.is_active:
                errors["sender"] = _("Sender ID %(sender)r is inactive.") % {"sender": sender.value}
        if "sender" not in errors:
            errors.update(self._profile_errors(route, provider))
        if errors:
            raise ValidationError(errors)

    def _profile_errors(self, route: Route, provider: Any) -> dict[str, str]:
        """The sender this provider uses on the route (the row's, else the provider's
        default) must fit the route's country profile."""
        profile = country_profiles.get(route.country_profile)
        sender = self.sender if self.sender_id else provider.default_sender
        if profile is None or sender is None:
            return {}
        problem = profile.sender_error(sender.value)
        if not problem:
            return {}
        if not self.sender_id:
            problem = _(
                "%(problem)s This row has no sender ID, so the provider's default is used: "
                "choose one that fits."
            ) % {"problem": problem}
        return {"sender": str(problem)}
