"""The route pages: a route and its providers on one form, refused as a whole when wrong.

Validation is the models' (``Route.clean``, ``RouteHop.clean``), so the admin refuses what
``sms_route`` refuses, each error on the field to fix; a refused provider row keeps the
route from being saved too (the admin saves a form and its rows together or not at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .admin_profiles import CountryProfileAdminMixin
from .forms import InlineFormSet
from .models import Route, RouteHop

if TYPE_CHECKING:  # pragma: no cover
    ModelAdmin = admin.ModelAdmin
    TabularInline = admin.TabularInline
else:
    from .generics import Unsubscripted as _Unsubscripted

    ModelAdmin = _Unsubscripted(admin.ModelAdmin)
    TabularInline = _Unsubscripted(admin.TabularInline)


class RouteHopFormSet(InlineFormSet[RouteHop, Route, Any]):
    """The provider rows: at least one, each provider once."""

    def get_unique_error_message(self, unique_check: Sequence[str]) -> str:
        return str(_("Each provider can be on a route once: remove the repeated row."))


class RouteHopInline(TabularInline[RouteHop, Route]):
    """The route's providers, tried by position; weights share out the lowest position."""

    model = RouteHop
    formset = RouteHopFormSet
    fields = ("position", "provider", "weight", "sender")
    ordering = ("position", "pk")
    extra = 1
    min_num = 1

    def get_formset(self, request: HttpRequest, obj: Route | None = None, **kwargs: Any) -> Any:
        # A route without providers sends nothing; the admin has no option for this.
        kwargs.setdefault("validate_min", True)
        return super().get_formset(request, obj, **kwargs)


@admin.register(Route)
class RouteAdmin(CountryProfileAdminMixin, ModelAdmin[Route]):
    list_display = ("name", "destination_shown", "country_profile", "is_active", "providers_shown")
    list_filter = ("is_active", "country", "country_profile", "hops__provider")
    search_fields = ("name", "country", "prefix", "hops__provider__name")
    fields = (
        "name",
        "country",
        "prefix",
        "is_active",
        "country_profile",
        "country_profile_summary",
    )
    readonly_fields = ("country_profile_summary",)
    inlines = [RouteHopInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Route]:
        hops = RouteHop.objects.select_related("provider").order_by("position", "pk")
        return super().get_queryset(request).prefetch_related(Prefetch("hops", queryset=hops))

    @admin.display(description=_("destination"), ordering="prefix")
    def destination_shown(self, route: Route) -> str:
        return route.destination

    @admin.display(description=_("providers in order"))
    def providers_shown(self, route: Route) -> str:
        hops = list(route.hops.all())
        return ", ".join(
            f"{h.position}. {h.provider.name}" + (f" ×{h.weight}" if h.weight != 1 else "")
            for h in hops
        ) or str(_("none: its numbers fall through"))
