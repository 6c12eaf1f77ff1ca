"""The admin's view of retention: a list filter for rows erased by a purge (retention.py).

Shared by the message and inbound SMS lists, whose rows keep their state, counts and
times but not their text or number once purged.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _


class PurgedFilter(admin.SimpleListFilter):
    """Rows whose text and number were erased (retention or an erasure request), or not."""

    title = _("purged")
    parameter_name = "purged"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("purged")), ("no", _("not purged"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(purged_at__isnull=self.value() == "no")
        return queryset
