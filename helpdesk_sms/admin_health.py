"""Provider health in the admin: the circuit's state in words, its filter, history and reset.

The provider list shows every provider's circuit from one LEFT JOIN (``select_related``);
a provider without a health row is closed. The texts are the dashboard's too, so both
pages say the same thing of the same circuit.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import health
from .admin_times import to_the_second
from .health_models import CircuitState, ProviderHealth, ProviderHealthChange
from .models import Provider

if TYPE_CHECKING:  # pragma: no cover
    from django_stubs_ext import StrOrPromise


#: How many of a provider's latest health changes its page shows.
RECENT_CHANGES = 20


def clock(value: datetime) -> str:
    """A time of day to the second in the site's zone: when a circuit opens again."""
    return date_format(timezone.localtime(value), "H:i:s")


def row_of(provider: Provider) -> ProviderHealth | None:
    """The provider's health row if it has one (loaded with it by ``select_related``)."""
    try:
        return provider.health
    except ProviderHealth.DoesNotExist:
        return None


def describe(row: ProviderHealth | None, now: datetime | None = None) -> StrOrPromise:
    """The circuit in words: healthy, open until when and why, or probing."""
    if row is None or row.state == CircuitState.CLOSED:
        failures = row.consecutive_failures if row is not None else 0
        if failures:
            return ngettext(
                "healthy (%(n)s failure in a row)", "healthy (%(n)s failures in a row)", failures
            ) % {"n": failures}
        return _("healthy")
    reason = f"{row.last_failure_category}: {row.last_failure}" if row.last_failure else ""
    if row.state == CircuitState.HALF_OPEN:
        since = clock(row.probe_started_at) if row.probe_started_at else "?"
        return _("half-open: probing since %(since)s") % {"since": since}
    now = now or timezone.now()
    if row.retry_at is not None and row.retry_at > now:
        return _("open until %(until)s: %(reason)s") % {
            "until": clock(row.retry_at),
            "reason": reason,
        }
    return _("open, probe due: %(reason)s") % {"reason": reason}


class HealthStateFilter(admin.SimpleListFilter):
    """By circuit state; "closed" includes the providers that never failed (no row)."""

    title = _("health")
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return CircuitState.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == CircuitState.CLOSED:
            return queryset.filter(Q(health__isnull=True) | Q(health__state=value))
        if value in CircuitState.values:
            return queryset.filter(health__state=value)
        return queryset


class ProviderHealthAdminMixin:
    """The provider admin's health column, its page's history and the reset action."""

    message_user: Any

    @admin.display(description=_("health"), ordering="health__state")
    def health_shown(self, obj: Provider) -> StrOrPromise:
        return describe(row_of(obj))

    @admin.display(description=_("health changes"))
    def health_history(self, obj: Provider | None) -> SafeString | StrOrPromise:
        """The latest changes of the circuit, newest first: read-only, as the system wrote them.

        A table rather than an inline: an inline's formset would have to be posted back with
        every save of the provider form, though nobody may change these rows.
        """
        if obj is None or not obj.pk:
            return _("Save the provider first.")
        changes = list(
            ProviderHealthChange.objects.filter(provider=obj).order_by("-created_at", "-pk")[
                :RECENT_CHANGES
            ]
        )
        if not changes:
            return _("No change yet: the circuit has always been closed (healthy).")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    to_the_second(c.created_at),
                    c.get_from_state_display(),
                    c.get_to_state_display(),
                    c.reason,
                )
                for c in changes
            ),
        )
        return format_html(
            '<table class="hsms-health-history"><caption>{}</caption><thead><tr><th>{}</th>'
            "<th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("The latest %(n)s changes, newest first") % {"n": RECENT_CHANGES},
            _("time"),
            _("from"),
            _("to"),
            _("reason"),
            rows,
        )

    @admin.action(description=_("Close the circuit (mark healthy)"), permissions=["change"])
    def close_circuit(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        source = f"admin ({request.user})"
        closed = [p for p in queryset.order_by("name") if health.reset(p, source)]
        if closed:
            self.message_user(
                request,
                _("Circuit closed: %(names)s.") % {"names": ", ".join(p.name for p in closed)},
                messages.SUCCESS,
            )
        else:
            self.message_user(request, _("No selected provider's circuit was open."), messages.INFO)
