"""Inbound SMS in the admin: every customer reply, what became of it, and the ticket.

Read-only: the rows are what gateways pushed (raw data masked before it was stored, and
masked again when shown). The only change an operator makes is the action "mark handled"
for replies kept for a human, and "keep for a human" to put one back on that list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .admin_json import json_block
from .admin_retention import PurgedFilter
from .inbound_models import InboundAction, InboundMessage

if TYPE_CHECKING:  # pragma: no cover
    ModelAdmin = admin.ModelAdmin
else:
    from .generics import Unsubscripted as _Unsubscripted

    ModelAdmin = _Unsubscripted(admin.ModelAdmin)

#: Characters of the text shown in the list (the page has it whole).
LIST_TEXT_CHARS = 60


@admin.register(InboundMessage)
class InboundMessageAdmin(ModelAdmin[InboundMessage]):
    list_display = (
        "received_at",
        "sender",
        "recipient",
        "text_excerpt",
        "provider",
        "action",
        "ticket_link",
        "repeat_count",
    )
    list_filter = (
        "action",
        "provider",
        PurgedFilter,
        ("received_at", admin.DateFieldListFilter),
    )
    search_fields = ("sender", "recipient", "text", "gateway_id")
    list_select_related = ("provider", "ticket_type")
    date_hierarchy = "received_at"
    actions = ("mark_handled", "keep_for_a_human")
    fields = (
        "provider",
        "sender",
        "recipient",
        "text",
        "encoding",
        "received_at",
        "gateway_id",
        "repeat_count",
        "last_pushed_at",
        "action",
        "action_detail",
        "ticket_link",
        "handled_at",
        "created_at",
        "purged_at",
        "raw_shown",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("text"))
    def text_excerpt(self, obj: InboundMessage) -> str:
        return Truncator(obj.text).chars(LIST_TEXT_CHARS)

    @admin.display(description=_("ticket"), ordering="ticket_id")
    def ticket_link(self, obj: InboundMessage) -> SafeString | str:
        """A link to the ticket's admin page where the host registers one; else its id."""
        if not obj.ticket_id:
            return self.get_empty_value_display()
        label = f"#{obj.ticket_id}"
        kind = obj.ticket_type
        if kind is None:
            return label
        try:
            url = reverse(f"admin:{kind.app_label}_{kind.model}_change", args=[obj.ticket_id])
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description=_("pushed data (credentials masked)"))
    def raw_shown(self, obj: InboundMessage) -> SafeString | str:
        return json_block(obj.raw, obj.provider.secret_values()) or self.get_empty_value_display()

    @admin.action(description=_("Mark handled"), permissions=["change"])
    def mark_handled(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        done = queryset.exclude(action=InboundAction.HANDLED).update(
            action=InboundAction.HANDLED,
            action_detail=f"marked handled by {request.user}",
            handled_at=timezone.now(),
        )
        self.message_user(
            request,
            ngettext("%(n)s reply marked handled.", "%(n)s replies marked handled.", done)
            % {"n": done},
            messages.SUCCESS,
        )

    @admin.action(description=_("Keep for a human"), permissions=["change"])
    def keep_for_a_human(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        done = queryset.exclude(action=InboundAction.UNASSIGNED).update(
            action=InboundAction.UNASSIGNED,
            action_detail=f"kept for a human by {request.user}",
            handled_at=None,
        )
        self.message_user(
            request,
            ngettext("%(n)s reply kept for a human.", "%(n)s replies kept for a human.", done)
            % {"n": done},
            messages.SUCCESS,
        )
