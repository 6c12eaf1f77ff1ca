"""Provider health: each provider's circuit breaker and the history of its changes.

Kept apart from ``models`` (which imports this module at its end) as the route models are;
the foreign keys name Provider by string. The rules that move a circuit live in ``health``:
these models only hold what every worker process must agree on.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CircuitState(models.TextChoices):
    CLOSED = "closed", _("closed (healthy)")
    OPEN = "open", _("open (not used)")
    HALF_OPEN = "half_open", _("half-open (probing)")


class ProviderHealth(models.Model):
    """One provider's circuit breaker; a provider without a row is closed (healthy)."""

    State = CircuitState

    provider = models.OneToOneField(
        "helpdesk_sms.Provider",
        verbose_name=_("provider"),
        on_delete=models.CASCADE,
        related_name="health",
        help_text=_("The gateway account whose health this is."),
    )
    state = models.CharField(
        _("state"),
        max_length=10,
        choices=CircuitState.choices,
        default=CircuitState.CLOSED,
        help_text=_(
            "Closed: messages go to the provider. Open: it is skipped until the cool-down "
            "ends. Half-open: one probe request is testing it."
        ),
    )
    consecutive_failures = models.PositiveIntegerField(
        _("failures in a row"),
        default=0,
        help_text=_(
            "Requests in a row the provider provably did not take (connection refused, "
            "throttled, authentication, credit, sender refused); a success resets it."
        ),
    )
    opened_at = models.DateTimeField(
        _("open since"),
        null=True,
        blank=True,
        help_text=_("When the circuit last opened after being closed; empty while closed."),
    )
    retry_at = models.DateTimeField(
        _("probe after"),
        null=True,
        blank=True,
        help_text=_("When an open circuit lets one probe request through."),
    )
    probe_started_at = models.DateTimeField(
        _("probe started"),
        null=True,
        blank=True,
        help_text=_(
            "When the half-open circuit's probe was let through; another is allowed once "
            "this is a cool-down old (its worker died)."
        ),
    )
    last_failure = models.TextField(
        _("last failure"),
        blank=True,
        help_text=_("The gateway's text for the last provable failure counted."),
    )
    last_failure_category = models.CharField(
        _("last failure category"),
        max_length=32,
        blank=True,
        help_text=_("The error category of the last provable failure counted."),
    )
    changed_at = models.DateTimeField(
        _("state changed"),
        default=timezone.now,
        help_text=_("When the state last changed."),
    )

    class Meta:
        verbose_name = _("provider health")
        verbose_name_plural = _("provider health")

    def __str__(self) -> str:
        return f"{self.provider}: {self.get_state_display()}"


class ProviderHealthChange(models.Model):
    """One change of a provider's circuit: when, from what to what, and why."""

    provider = models.ForeignKey(
        "helpdesk_sms.Provider",
        verbose_name=_("provider"),
        on_delete=models.CASCADE,
        related_name="health_changes",
        help_text=_("The gateway account whose circuit changed."),
    )
    from_state = models.CharField(
        _("from"),
        max_length=10,
        choices=CircuitState.choices,
        help_text=_("The state before the change."),
    )
    to_state = models.CharField(
        _("to"),
        max_length=10,
        choices=CircuitState.choices,
        help_text=_("The state after the change."),
    )
    reason = models.TextField(
        _("reason"), blank=True, help_text=_("Why it changed, e.g. the last failure's text.")
    )
    created_at = models.DateTimeField(
        _("time"), default=timezone.now, help_text=_("When it changed.")
    )

    class Meta:
        verbose_name = _("provider health change")
        verbose_name_plural = _("provider health changes")
        ordering = ("-created_at", "-pk")
        indexes = [
            models.Index(fields=["provider", "-created_at"], name="hsms_health_change_recent")
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.from_state} -> {self.to_state}"
