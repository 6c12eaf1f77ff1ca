"""Rate windows: how many messages a provider was granted in one second or one minute.

The database backend of :mod:`helpdesk_sms.ratelimit` (used when no Redis is configured).
Kept apart from ``models`` (which imports this module at its end), as the route models are.
Rows live about two minutes: :func:`helpdesk_sms.ratelimit.acquire` deletes older ones.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RateWindow(models.Model):
    """The messages granted to one provider in one fixed window (a second or a minute)."""

    class Scope(models.TextChoices):
        SECOND = "second", _("second")
        MINUTE = "minute", _("minute")

    provider = models.ForeignKey(
        "helpdesk_sms.Provider",
        verbose_name=_("provider"),
        on_delete=models.CASCADE,
        related_name="rate_windows",
        help_text=_("The gateway account whose sending rate is counted."),
    )
    scope = models.CharField(
        _("window"),
        max_length=6,
        choices=Scope.choices,
        help_text=_("The length of the window: one second or one minute."),
    )
    window_start = models.BigIntegerField(
        _("window start"),
        help_text=_("Start of the window, in whole seconds since 1970 (UTC)."),
    )
    count = models.PositiveIntegerField(
        _("messages granted"),
        default=0,
        help_text=_("Messages the provider was allowed to send in this window, by all workers."),
    )

    class Meta:
        verbose_name = _("rate window")
        verbose_name_plural = _("rate windows")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "scope", "window_start"], name="hsms_rate_window_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider_id} {self.scope} @{self.window_start}: {self.count}"
