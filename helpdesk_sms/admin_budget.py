"""The budget cap pages, and the message list's "held by a budget cap" filter.

Validation is the model's (``BudgetCap.clean``), each error on the field to fix. The list
shows each active cap's spend in its current period, read for all the page's caps in one
grouped query (``BudgetBoard.of``), never one per row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .budget import BudgetBoard, CapState, amount_text
from .models import BudgetCap, Message
from .states import Status

if TYPE_CHECKING:  # pragma: no cover
    ModelAdmin = admin.ModelAdmin
else:
    from .generics import Unsubscripted as _Unsubscripted

    ModelAdmin = _Unsubscripted(admin.ModelAdmin)


class HeldByBudgetFilter(admin.SimpleListFilter):
    """Queued messages waiting for a budget cap (their reason is in the list)."""

    title = _("held by a budget cap")
    parameter_name = "held"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("held")), ("no", _("not held"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        if self.value() == "yes":
            return queryset.filter(status=Status.QUEUED).exclude(held_reason="")
        if self.value() == "no":
            return queryset.filter(held_reason="")
        return queryset


@admin.register(BudgetCap)
class BudgetCapAdmin(ModelAdmin[BudgetCap]):
    list_display = ("scope_shown", "period", "limit_shown", "spent_shown", "used", "is_active")
    list_filter = ("period", "is_active", "provider")
    search_fields = ("provider__name", "unit")
    list_select_related = ("provider",)
    fields = ("provider", "period", "limit", "unit", "is_active", "alerted_for")
    readonly_fields = ("alerted_for",)

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        """The page's caps, each with its spend this period: one query for all of them."""
        changelist = super().get_changelist_instance(request)
        caps = list(changelist.result_list)
        board = BudgetBoard.of([c for c in caps if c.is_active])
        for cap in caps:
            cap.budget_state = board.state_of(cap)
        return changelist

    @admin.display(description=_("scope"), ordering="provider__name")
    def scope_shown(self, cap: BudgetCap) -> str:
        return cap.provider.name if cap.provider_id and cap.provider else str(_("overall"))

    @admin.display(description=_("limit"), ordering="limit")
    def limit_shown(self, cap: BudgetCap) -> str:
        return amount_text(cap.limit, cap.unit)

    @admin.display(description=_("spent this period"))
    def spent_shown(self, cap: BudgetCap) -> str:
        state = _state(cap)
        return amount_text(state.spent, cap.unit) if state else self.get_empty_value_display()

    @admin.display(description=_("used"))
    def used(self, cap: BudgetCap) -> str:
        """In words too: "reached" stands out without colour."""
        state = _state(cap)
        if state is None:
            return self.get_empty_value_display()
        if state.over:
            return str(
                _("%(percent)s%% (reached: normal messages held)") % {"percent": state.percent}
            )
        return f"{state.percent}%"


def _state(cap: BudgetCap) -> CapState | None:
    return getattr(cap, "budget_state", None)
