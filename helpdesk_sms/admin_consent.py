"""The opt-out list and its history in the admin.

Adding a number to the list, deleting it (or the "Opt in" action) and ticking a contact's
"opted out" box all go through :mod:`~helpdesk_sms.consent`, so each is audited with the
operator (source ``admin``) and the list and the contacts stay in step. The history
(:class:`ConsentChange`) is read-only: it is the record of who changed what.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import consent
from .consent_models import ConsentChange, ConsentSource, OptOut, pseudonym
from .models import Contact

if TYPE_CHECKING:  # pragma: no cover
    ModelAdmin = admin.ModelAdmin
else:
    from .generics import Unsubscripted as _Unsubscripted

    ModelAdmin = _Unsubscripted(admin.ModelAdmin)


@admin.register(OptOut)
class OptOutAdmin(ModelAdmin[OptOut]):
    list_display = ("number", "opted_out_at", "source", "keyword", "provider")
    list_filter = ("source", "provider", "opted_out_at")
    search_fields = ("number", "keyword", "note")
    list_select_related = ("provider",)
    date_hierarchy = "opted_out_at"
    actions = ["opt_in_selected"]

    def get_fields(self, request: HttpRequest, obj: OptOut | None = None) -> Any:
        if obj is None:  # added by an operator: the number and why
            return ("number", "note")
        return ("number", "opted_out_at", "source", "keyword", "provider", "note")

    def get_readonly_fields(self, request: HttpRequest, obj: OptOut | None = None) -> Any:
        if obj is None:
            return ()
        return ("number", "opted_out_at", "source", "keyword", "provider")

    def save_model(
        self, request: HttpRequest, obj: OptOut, form: ModelForm[Any], change: bool
    ) -> None:
        """A new entry is an opt-out by the operator (audited); an edit changes the note."""
        if change:
            super().save_model(request, obj, form, change)
            return
        consent.opt_out(obj.number, ConsentSource.ADMIN, user=request.user, note=obj.note)
        # A number erased on request stays listed under its hash: that entry is the one.
        found = OptOut.objects.filter(number__in=[obj.number, pseudonym(obj.number)])
        saved = found.order_by("pk").first()
        if saved is None:  # pragma: no cover - opt_out just wrote one of the two
            return
        if saved.number != obj.number:
            self.message_user(
                request,
                _("This number was already opted out, and erased on request since: it stays so."),
                messages.INFO,
            )
        obj.pk, obj.opted_out_at, obj.source = saved.pk, saved.opted_out_at, saved.source

    def delete_model(self, request: HttpRequest, obj: OptOut) -> None:
        consent.opt_in(obj.number, ConsentSource.ADMIN, user=request.user, note="deleted in admin")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[OptOut]) -> None:
        self._opt_in(request, queryset, "deleted in admin")

    @admin.action(description=_("Opt in selected numbers (they are texted again)"))
    def opt_in_selected(self, request: HttpRequest, queryset: QuerySet[OptOut]) -> None:
        count = self._opt_in(request, queryset, "opted in by the admin action")
        self.message_user(
            request,
            ngettext("%(count)d number opted in.", "%(count)d numbers opted in.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @staticmethod
    def _opt_in(request: HttpRequest, queryset: QuerySet[OptOut], note: str) -> int:
        numbers = list(queryset.values_list("number", flat=True))
        return sum(
            consent.opt_in(number, ConsentSource.ADMIN, user=request.user, note=note)
            for number in numbers
        )


@admin.register(ConsentChange)
class ConsentChangeAdmin(ModelAdmin[ConsentChange]):
    """Who opted out or in, when and how: a record, never edited."""

    list_display = ("at", "number", "change", "source", "keyword", "provider", "by")
    list_filter = ("change", "source", "provider", "at")
    search_fields = ("number", "keyword", "note")
    list_select_related = ("provider", "by")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ContactConsentMixin:
    """For the contact page: ticking or clearing "opted out" changes the opt-out list."""

    def save_model(
        self, request: HttpRequest, obj: Contact, form: ModelForm[Any], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        if "opted_out" not in form.changed_data or not obj.phone:
            return
        apply = consent.opt_out if obj.opted_out else consent.opt_in
        apply(obj.phone, ConsentSource.ADMIN, user=request.user, note=f"contact {obj.name}")
