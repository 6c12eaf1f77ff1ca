"""Budget caps: how much a provider (or all of them) may spend in a day or a month.

Kept apart from ``models`` (which imports this module at its end), like the routes; the
foreign key names its model by string so either module can be imported first. What a cap
does (the spend, holding messages, the alert) lives in ``budget``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

#: The unit of a cap counting SMS parts rather than money (for providers without prices).
PARTS = "parts"

#: What a cap says: changing any of them re-arms its alert (``alerted_for`` cleared).
CAP_TERMS = ("provider_id", "period", "limit", "unit", "is_active")


class BudgetCap(models.Model):
    """A daily or monthly spending limit for one provider, or for all of them together."""

    class Period(models.TextChoices):
        DAILY = "daily", _("daily")
        MONTHLY = "monthly", _("monthly")

    provider = models.ForeignKey(
        "helpdesk_sms.Provider",
        verbose_name=_("provider"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="budget_caps",
        help_text=_(
            "The gateway account this cap limits; empty for an overall cap, counting the "
            "messages of every provider."
        ),
    )
    period = models.CharField(
        _("period"),
        max_length=8,
        choices=Period.choices,
        help_text=_(
            "Daily: from local midnight; monthly: from the 1st (the site's TIME_ZONE). Held "
            "messages go out when the period turns."
        ),
    )
    limit = models.DecimalField(
        _("limit"),
        max_digits=14,
        decimal_places=2,
        help_text=_(
            "Normal-priority messages are held once the period's spend reaches this amount; "
            "critical ones are always sent."
        ),
    )
    unit = models.CharField(
        _("unit"),
        max_length=5,
        help_text=_(
            "A currency code (e.g. NGN): the costs of the messages submitted in that currency "
            "are added up; for a provider's cap it must be the provider's currency. Or 'parts': "
            "SMS parts are counted (for providers without prices)."
        ),
    )
    is_active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Inactive caps hold nothing. At most one active cap per provider and period."),
    )
    alerted_for = models.DateField(
        _("alerted for period"),
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "The start of the period the site admins were last alerted for: one alert per "
            "crossing of the cap."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("budget cap")
        verbose_name_plural = _("budget caps")
        ordering = ("provider", "period", "pk")
        constraints = [
            # Two partial indexes rather than one: NULLs are distinct in a unique index on
            # SQLite and PostgreSQL alike, so the overall caps need their own.
            models.UniqueConstraint(
                fields=["provider", "period"],
                condition=Q(is_active=True, provider__isnull=False),
                name="hsms_budget_one_active_per_provider",
                violation_error_message=_(
                    "This provider already has an active cap for this period."
                ),
            ),
            models.UniqueConstraint(
                fields=["period"],
                condition=Q(is_active=True, provider__isnull=True),
                name="hsms_budget_one_active_overall",
                violation_error_message=_(
                    "There is already an active overall cap for this period."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope}: {self.get_period_display()} {self.limit} {self.unit}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """A changed cap (raised, lowered, re-scoped, re-activated) is no longer "reached":
        its spend is compared afresh, and reaching it again alerts again."""
        if self.pk is not None and self.alerted_for is not None:
            stored = BudgetCap.objects.filter(pk=self.pk).values(*CAP_TERMS).first()
            if stored is not None and any(stored[f] != self._term(f) for f in CAP_TERMS):
                self.alerted_for = None
                if kwargs.get("update_fields") is not None:
                    kwargs["update_fields"] = {*kwargs["update_fields"], "alerted_for"}
        super().save(*args, **kwargs)

    def _term(self, name: str) -> Any:
        """A term as the database holds it (a limit given as text compares as a number)."""
        value = getattr(self, name)
        return Decimal(value) if name == "limit" and value is not None else value

    @property
    def scope(self) -> str:
        """Whose spend the cap limits, in words."""
        return f"provider {self.provider}" if self.provider_id else "overall"

    @property
    def counts_parts(self) -> bool:
        return self.unit == PARTS

    def clean(self) -> None:
        super().clean()
        unit = (self.unit or "").strip()
        self.unit = PARTS if unit.lower() == PARTS else unit.upper()
        errors: dict[str, Any] = {}
        if self.limit is not None and self.limit <= Decimal(0):
            errors["limit"] = _("The limit must be more than zero.")
        if not self.counts_parts:
            errors.update(self._unit_errors())
        if not errors and self.is_active:
            errors.update(self._duplicate_errors())
        if errors:
            raise ValidationError(errors)

    def _unit_errors(self) -> dict[str, str]:
        unit = self.unit
        if len(unit) != 3 or not unit.isascii() or not unit.isalpha():
            return {
                "unit": _(
                    "%(value)s is neither a currency code (three letters, e.g. NGN) nor 'parts'."
                )
                % {"value": unit}
            }
        provider = self.provider if self.provider_id else None
        if provider is None or provider.currency == unit:
            return {}
        why: Any
        if not provider.currency:
            why = _("has no prices set, so only its parts can be counted: use 'parts'")
        else:
            why = _("is priced in %(currency)s: use %(currency)s or 'parts'") % {
                "currency": provider.currency
            }
        return {
            "unit": _("Provider %(provider)r %(why)s.") % {"provider": provider.name, "why": why}
        }

    def _duplicate_errors(self) -> dict[str, str]:
        """Another active cap for the same scope and period, named on the field to change."""
        others = BudgetCap.objects.filter(
            is_active=True, period=self.period, provider=self.provider_id
        ).exclude(pk=self.pk)
        if not others.exists():
            return {}
        return {
            "period": _(
                "There is already an active %(period)s cap for %(scope)s: raise that one, or "
                "deactivate it first."
            )
            % {"period": self.get_period_display(), "scope": self.scope}
        }
