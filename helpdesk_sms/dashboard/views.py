"""The dashboard page: the admin of the ``Dashboard`` proxy, whose list is the dashboard.

Registering the proxy is what lists "SMS dashboard" on the admin index, the app's index
and the side bar, linked to /admin/helpdesk_sms/dashboard/, without overriding a template
of the host's. Anyone who may view the message log may view it; nothing can be added,
changed or deleted through it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..admin_health import clock, describe, row_of
from ..budget import BudgetBoard, amount_text
from ..health_models import CircuitState
from ..inbound_models import InboundAction, InboundMessage
from ..models import Dashboard, Provider
from ..pricing import format_cost
from ..states import Status
from . import queries, svg
from .periods import PERIODS, Window, choose

if TYPE_CHECKING:  # pragma: no cover
    ModelAdmin = admin.ModelAdmin
else:
    from ..generics import Unsubscripted as _Unsubscripted

    ModelAdmin = _Unsubscripted(admin.ModelAdmin)


def messages_url(**filters: Any) -> str:
    """The message list filtered by ``filters`` (its own query-string lookups)."""
    values = {
        k: v.isoformat()
        if isinstance(v, datetime)
        else ",".join(v)
        if isinstance(v, (list, tuple))
        else v
        for k, v in filters.items()
    }
    return reverse("admin:helpdesk_sms_message_changelist") + "?" + urlencode(values)


def duration(age: timedelta) -> str:
    """``3 d 4 h``, ``2 h 05 min``, ``4 min``: an age an operator takes in at a glance."""
    minutes = int(age.total_seconds() // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


class DashboardAdmin(ModelAdmin[Dashboard]):
    """Lists as "SMS dashboard"; its only page is the dashboard."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = request.user
        return user.has_perm("helpdesk_sms.view_message") or user.has_perm(
            "helpdesk_sms.change_message"
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.dashboard_view), name=name)]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        started = time.perf_counter()
        period, problem = choose(request.GET.get("period"))
        window = Window.of(period)
        context = {
            **self.admin_site.each_context(request),
            **panels(window),
            "title": _("SMS dashboard"),
            "subtitle": period.label,
            "opts": self.opts,
            "periods": [(p.key, p.label, p.key == period.key) for p in PERIODS.values()],
            "period_problem": problem,
            "patterns": svg.defs(),
        }
        context["elapsed_ms"] = round((time.perf_counter() - started) * 1000)
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/helpdesk_sms/dashboard.html", context)


def panels(window: Window) -> dict[str, Any]:
    """Every panel's plain figures and charts for ``window``: a fixed number of queries."""
    names = queries.provider_names()
    tally = queries.tally(window)
    labels = [window.label(b) for b in window.buckets]
    tooltips = [window.long_label(b) for b in window.buckets]
    return {
        "window": window,
        "bucket_name": window.bucket_name,
        **_states_panel(window, tally, labels, tooltips),
        **_rates_panel(tally, names),
        **_failures_panel(window),
        "spends": _spend_panel(window, tally, names, labels, tooltips),
        "balances": _balance_panel(window, names),
        "budgets": _budget_panel(window.now),
        **_outbox_panel(window.now),
        "health": _health_panel(window.now),
    }


def _budget_panel(now: datetime) -> list[dict[str, Any]]:
    """Each active budget cap with its spend this period (one query without caps, two with)."""
    return [
        {
            "scope": state.cap.provider.name if state.cap.provider else _("overall"),
            "period": state.cap.get_period_display(),
            "spent": amount_text(state.spent, state.cap.unit),
            "limit": amount_text(state.cap.limit, state.cap.unit),
            "percent": state.percent,
            "over": state.over,
        }
        for state in BudgetBoard.load(now).caps
    ]


def _states_panel(
    window: Window, tally: queries.Tally, labels: list[str], tooltips: list[str]
) -> dict[str, Any]:
    states = queries.states_over_time(window, tally)
    series = [
        svg.Series(str(g.label), i, states.counts[g.key])
        for i, g in enumerate(queries.STATE_GROUPS)
    ]
    totals = states.totals()
    legend = [
        {
            "swatch": svg.swatch(i),
            "label": g.label,
            "total": totals[g.key],
            "url": messages_url(status__in=sorted(g.statuses), created_at__gte=window.since),
        }
        for i, g in enumerate(queries.STATE_GROUPS)
    ]
    rows = [
        {"when": tooltips[i], "counts": [states.counts[g.key][i] for g in queries.STATE_GROUPS]}
        for i in range(len(window.buckets))
    ]
    return {
        "states_chart": svg.stacked_bars(
            labels, tooltips, series, title=_("Messages by state, per %s") % window.bucket_name
        ),
        "states_legend": legend,
        "states_rows": rows,
        "states_groups": [g.label for g in queries.STATE_GROUPS],
        "states_total": states.total,
    }


def _rate_text(rate: queries.Rate) -> str:
    if rate.rate is None:
        return _("no outcome yet (%(n)s waiting)") % {"n": f"{rate.waiting:,}"}
    return _("%(pct).1f %% delivered (%(d)s of %(s)s)") % {
        "pct": rate.rate * 100,
        "d": f"{rate.delivered:,}",
        "s": f"{rate.settled:,}",
    }


def _rates_panel(tally: queries.Tally, names: dict[int | None, str]) -> dict[str, Any]:
    by_provider, by_country = queries.delivery_rates(tally, names)

    def chart(rates: list[queries.Rate], title: str) -> Any:
        return svg.rate_bars([(r.label, r.rate, _rate_text(r)) for r in rates], title=title)

    return {
        "rates_provider": by_provider,
        "rates_country": by_country,
        "rates_provider_chart": chart(by_provider, _("Delivery rate per provider")),
        "rates_country_chart": chart(by_country, _("Delivery rate per destination country")),
    }


def _failures_panel(window: Window) -> dict[str, Any]:
    found = queries.failures(window)
    statuses = sorted(queries.FAILURE_STATUSES)
    return {
        "failures_total": found.total,
        "failure_categories": [
            {
                "category": category or _("(none given)"),
                "count": n,
                "url": messages_url(
                    status__in=statuses, error_category=category, created_at__gte=window.since
                ),
            }
            for category, n in found.categories
        ],
        "failure_texts": [
            {"category": category or _("(none given)"), "text": text or _("(no text)"), "count": n}
            for category, text, n in found.texts
        ],
    }


def _spend_panel(
    window: Window,
    tally: queries.Tally,
    names: dict[int | None, str],
    labels: list[str],
    tooltips: list[str],
) -> list[dict[str, Any]]:
    out = []
    for entry in queries.spend(window, tally, names):
        series = [
            svg.Series(name, i + 1, values)
            for i, (name, values) in enumerate(entry.by_provider.items())
        ]
        out.append(
            {
                "currency": entry.currency,
                "total": format_cost(entry.total, entry.currency),
                "chart": svg.stacked_bars(
                    labels,
                    tooltips,
                    series,
                    title=_("Spend in %(currency)s per %(bucket)s")
                    % {"currency": entry.currency, "bucket": window.bucket_name},
                    unit=entry.currency,
                    width=500,
                    height=210,
                ),
                "legend": [
                    {
                        "swatch": svg.swatch(i + 1),
                        "label": name,
                        "total": format_cost(total, entry.currency),
                    }
                    for i, (name, total) in enumerate(entry.totals().items())
                ],
            }
        )
    return out


def _balance_panel(window: Window, names: dict[int | None, str]) -> list[dict[str, Any]]:
    out = []
    when = "%H:%M" if window.period.hourly else "%m-%d"
    for trend in queries.balances(window, names):
        local = [(timezone.localtime(m, window.tz), a) for m, a in trend.points]
        projection = trend.projection
        out.append(
            {
                "label": trend.label,
                "unit": trend.unit,
                "latest": svg.number(trend.latest),
                "chart": svg.balance_line(
                    local,
                    timezone.localtime(window.since, window.tz),
                    timezone.localtime(window.now, window.tz),
                    title=_("Balance of %(account)s") % {"account": trend.label},
                    unit=trend.unit,
                    when=when,
                ),
                "runs_out": _run_out_text(projection, window.now, trend.unit),
            }
        )
    return out


def _run_out_text(projection: queries.Projection, now: datetime, unit: str) -> str:
    if projection.runs_out_at is None or projection.burn_per_day is None:
        return projection.reason
    at = timezone.localtime(projection.runs_out_at)
    left = projection.runs_out_at - now
    burn = svg.number(projection.burn_per_day.quantize(Decimal("0.01")))
    if left.total_seconds() <= 0:
        return _("ran out around %(at)s at %(burn)s %(unit)s a day") % {
            "at": at.strftime("%Y-%m-%d %H:%M"),
            "burn": burn,
            "unit": unit,
        }
    return _("runs out around %(at)s (in %(left)s) at %(burn)s %(unit)s a day") % {
        "at": at.strftime("%Y-%m-%d %H:%M"),
        "left": duration(left),
        "burn": burn,
        "unit": unit,
    }


def _outbox_panel(now: datetime) -> dict[str, Any]:
    waiting = queries.backlog()
    recent = queries.attention(now)
    day_ago = now - queries.ATTENTION_SPAN
    oldest = waiting.oldest_age(now)
    return {
        "backlog": waiting,
        "oldest_age": duration(oldest) if oldest is not None else "",
        "backlog_urls": {
            s: messages_url(status__exact=s)
            for s in (Status.QUEUED, Status.SENDING, Status.SCHEDULED, Status.UNKNOWN)
        },
        "quiet_hours_url": messages_url(status__exact=Status.SCHEDULED, quiet_hours__exact=1),
        "attention": [
            {
                "label": _("unknown in the last 24 hours (may have gone out; never resent)"),
                "count": recent[Status.UNKNOWN],
                "url": messages_url(status__exact=Status.UNKNOWN, created_at__gte=day_ago),
            },
            {
                "label": _("failed in the last 24 hours"),
                "count": recent[Status.FAILED],
                "url": messages_url(status__exact=Status.FAILED, created_at__gte=day_ago),
            },
            {
                "label": _("unknown, of any age"),
                "count": waiting.unknown,
                "url": messages_url(status__exact=Status.UNKNOWN),
            },
            *_replies_attention(),
        ],
    }


def _replies_attention() -> list[dict[str, Any]]:
    """Customer replies a person must look at: kept for a human, or failed to process.
    One query for both counts."""
    counts = dict(
        InboundMessage.objects.filter(action__in=[InboundAction.UNASSIGNED, InboundAction.ERROR])
        .values_list("action")
        .annotate(n=Count("pk"))
        .values_list("action", "n")
    )
    listing = reverse("admin:helpdesk_sms_inboundmessage_changelist")
    return [
        {
            "label": label,
            "count": counts.get(action, 0),
            "url": listing + "?" + urlencode({"action__exact": action}),
        }
        for action, label in (
            (InboundAction.UNASSIGNED, _("customer replies kept for a human")),
            (InboundAction.ERROR, _("customer replies that could not be handled")),
        )
    ]


#: The order of the health panel: what needs attention first.
HEALTH_ORDER = {CircuitState.OPEN: 0, CircuitState.HALF_OPEN: 1, CircuitState.CLOSED: 2}


def _health_panel(now: datetime) -> list[dict[str, Any]]:
    """Each active provider's circuit, open ones first: one query for all of them."""
    rows = []
    for provider in Provider.objects.active().select_related("health"):
        row = row_of(provider)
        state = row.state if row is not None else CircuitState.CLOSED
        since = ""
        if row is not None and state != CircuitState.CLOSED and row.opened_at is not None:
            since = _("since %(at)s (%(age)s)") % {
                "at": clock(row.opened_at),
                "age": duration(now - row.opened_at),
            }
        rows.append(
            {
                "name": provider.name,
                "state": state,
                "text": describe(row, now),
                "since": since,
                "url": reverse("admin:helpdesk_sms_provider_change", args=[provider.pk]),
            }
        )
    return sorted(rows, key=lambda r: (HEALTH_ORDER[r["state"]], r["name"]))
