"""The admin's group send: the form that texts a recipient group, and the send's progress.

Two bases for ``admin.py`` to build on (its other pages stay there):
:class:`SendToGroupAdmin` gives the recipient group admin its "Send SMS to this group"
action and page (preview, then confirm), :class:`GroupSendProgressAdmin` gives the group
send record its list and its progress page, which a small script refreshes from the same
view's JSON until every message is final. Sending needs the "Can add group send"
permission and the view permission on the group; following a send, the view permission on
group sends. The rules of what is sent are :mod:`group_sends`'s.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import group_sends
from .admin_times import seconds_field
from .exceptions import SmsInputError
from .models import (
    Event,
    GroupSend,
    Message,
    NotificationTemplate,
    Provider,
    RecipientGroup,
    SenderID,
)
from .preview import ENCODING_LABELS
from .pricing import format_cost
from .states import Status

if TYPE_CHECKING:  # pragma: no cover
    from django.db.models import QuerySet

    ModelAdmin = admin.ModelAdmin
else:
    from .generics import Unsubscripted as _Unsubscripted

    ModelAdmin = _Unsubscripted(admin.ModelAdmin)

#: A form token: 32 hex digits (uuid4().hex), made when the form is first shown.
TOKEN = re.compile(r"[0-9a-f]{32}")

#: The form's fields, where an input error naming them is shown.
FORM_FIELDS = frozenset({"text", "template", "provider", "sender"})

PHASE_LABELS = {
    "sending": _("sending: some messages are still on their way to the gateway"),
    "awaiting reports": _("sent: waiting for delivery reports"),
    "final": _("final: every message is in its final state"),
}


class _TemplateChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name}" + ("" if obj.is_active else f" ({_('inactive')})")


class _SenderChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.value} ({obj.provider.name})"


class GroupSendForm(forms.Form):
    """What the operator chooses; every SMS rule is the composer's (see group_sends.plan)."""

    text = forms.CharField(
        label=_("text"),
        required=False,
        # Not stripped: what is typed is what is sent and billed.
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("Exactly what each member receives; the provider bills every part."),
    )
    template = _TemplateChoice(
        label=_("or a template"),
        queryset=NotificationTemplate.objects.filter(event=Event.MANUAL).order_by("name"),
        required=False,
        help_text=_(
            "Templates of the “sent directly” event (no helpdesk event sends them, active or "
            "not). They may use {{ recipient_name }}, the member's name, and nothing of a "
            "ticket."
        ),
    )
    provider = forms.ModelChoiceField(
        label=_("provider"),
        queryset=Provider.objects.order_by("priority", "name"),
        required=False,
        empty_label=_("the template's, else the preferred active one"),
    )
    sender = _SenderChoice(
        label=_("sender ID"),
        queryset=SenderID.objects.filter(is_active=True).select_related("provider"),
        required=False,
        empty_label=_("the provider's default"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        if data.get("text") and data.get("template"):
            self.add_error("template", _("Type a text or choose a template, not both."))
        elif not data.get("text") and not data.get("template") and "template" not in self.errors:
            self.add_error("text", _("Type the text to send, or choose a template."))
        return data

    def add_input_error(self, error: SmsInputError) -> None:
        """Show a composer's verdict on the field it names, else above the form."""
        self.add_error(error.field if error.field in FORM_FIELDS else None, error.message)


class SendToGroupAdmin(ModelAdmin[RecipientGroup]):
    """The recipient group admin's way to text a group's members (one group at a time)."""

    change_form_template = "admin/helpdesk_sms/recipientgroup/change_form.html"
    send_template = "admin/helpdesk_sms/recipientgroup/send.html"

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        return [
            path(
                "<path:object_id>/send/",
                self.admin_site.admin_view(self.send_view),
                name=f"{opts.app_label}_{opts.model_name}_send",
            ),
            *super().get_urls(),
        ]

    def has_send_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{GroupSend._meta.app_label}.add_groupsend")

    @admin.action(description=_("Send SMS to this group"), permissions=["send"])
    def send_sms_to_group(
        self, request: HttpRequest, queryset: QuerySet[RecipientGroup]
    ) -> HttpResponse | None:
        """To the send page of the one group selected; a send goes to one group at a time."""
        groups = list(queryset[:2])
        if len(groups) != 1:
            self.message_user(
                request,
                _(
                    "Select exactly one group to send to: a send goes to one group at a time "
                    "(%(count)d selected)."
                )
                % {"count": queryset.count()},
                messages.ERROR,
            )
            return None
        opts = self.opts
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_send", args=[groups[0].pk])
        )

    def send_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Step 1 previews (nothing written), step 2 confirms; the same form carries both."""
        group = self.get_object(request, unquote(object_id))
        if group is None:
            raise Http404(_("No recipient group with id %(id)s.") % {"id": object_id})
        if not (self.has_view_permission(request, group) and self.has_send_permission(request)):
            raise PermissionDenied
        token = request.POST.get("token", "")
        if not TOKEN.fullmatch(token):
            token = uuid.uuid4().hex
        plan: group_sends.Plan | None = None
        if request.method == "POST":
            done = (
                GroupSend.objects.filter(token=token).first()
                if "_confirm" in request.POST
                else None
            )
            if done is not None:  # confirmed already: a second click, a refresh, Back
                return self._to_progress(request, done, created=False)
            form = GroupSendForm(request.POST)
            plan = self._plan(form, group)
            if plan is not None and "_confirm" in request.POST:
                if request.POST.get("previewed") == plan.digest():
                    send, created = group_sends.confirm(plan, token=token, user=request.user)
                    return self._to_progress(request, send, created=created)
                form.add_error(
                    None,
                    _(
                        "What would be sent changed since the preview (the text, template, "
                        "provider, sender or the group's members): check the preview below "
                        "and confirm again."
                    ),
                )
        else:
            form = GroupSendForm()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Send SMS to group “%(group)s”") % {"group": group.name},
            "opts": self.opts,
            "original": group,
            "form": form,
            "token": token,
            "plan": plan,
            "summary": _summary(plan) if plan is not None else None,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.send_template, context)

    @staticmethod
    def _plan(form: GroupSendForm, group: RecipientGroup) -> group_sends.Plan | None:
        if not form.is_valid():
            return None
        data = form.cleaned_data
        try:
            return group_sends.plan(
                group,
                text=data["text"],
                template=data["template"],
                provider=data["provider"],
                sender=data["sender"],
            )
        except SmsInputError as exc:
            form.add_input_error(exc)
            return None

    def _to_progress(self, request: HttpRequest, send: GroupSend, *, created: bool) -> HttpResponse:
        if created:
            text = ngettext(
                "%(count)d message queued to group %(group)s.",
                "%(count)d messages queued to group %(group)s.",
                send.recipients,
            ) % {"count": send.recipients, "group": send.group_name}
            if send.skipped:
                text += " " + ngettext(
                    "%(count)d member skipped: see below.",
                    "%(count)d members skipped: see below.",
                    len(send.skipped),
                ) % {"count": len(send.skipped)}
            self.message_user(request, text, messages.WARNING if send.skipped else messages.SUCCESS)
        else:
            self.message_user(
                request,
                _("This send was confirmed already: nothing was sent again."),
                messages.WARNING,
            )
        opts = GroupSend._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_progress", args=[send.pk])
        )


def _summary(plan: group_sends.Plan) -> list[tuple[Any, Any]]:
    """The preview's lines: who is texted, how it is encoded, how many parts, what it costs."""
    low, high = plan.parts_range
    cost: Any
    if plan.estimated_cost is None:
        cost = _("unknown: provider %(provider)s has no price") % {"provider": plan.provider}
    else:
        cost = format_cost(plan.estimated_cost, plan.currency)
        if plan.unpriced:
            cost += " " + str(
                ngettext(
                    "(%(count)d message has no price and is not counted)",
                    "(%(count)d messages have no price and are not counted)",
                    plan.unpriced,
                )
                % {"count": plan.unpriced}
            )
    not_texted = []
    if plan.skipped:
        not_texted.append(
            _("%(count)d with a number the provider cannot text") % {"count": len(plan.skipped)}
        )
    if plan.inactive:
        not_texted.append(_("%(count)d inactive") % {"count": plan.inactive})
    if plan.opted_out:
        not_texted.append(_("%(count)d opted out") % {"count": plan.opted_out})
    return [
        (_("Recipients"), len(plan.drafts)),
        (_("Not texted"), ", ".join(str(n) for n in not_texted) or "0"),
        *_providers(plan),
        (_("Encoding"), ", ".join(str(ENCODING_LABELS[e]) for e in plan.encodings)),
        (_("Parts per message"), low if low == high else f"{low}–{high}"),
        (_("Total parts"), plan.total_parts),
        (_("Estimated cost"), cost),
    ]


def _providers(plan: group_sends.Plan) -> list[tuple[Any, Any]]:
    """The provider and sender; with routes, each route's provider and its share."""
    routes = plan.routes
    if len(routes) == 1 and routes[0][0].via is None:
        return [
            (_("Provider"), f"{plan.provider.name} ({plan.composer.label})"),
            (_("Sender ID"), plan.sender),
        ]
    lines = []
    for composer, count in routes:
        how = f"route {composer.via.name!r}" if composer.via else str(_("no route: by priority"))
        lines.append(
            f"{composer.provider.name} ({composer.label}), {how}, sender {composer.route.sender}: "
            + str(ngettext("%(count)d message", "%(count)d messages", count) % {"count": count})
        )
    return [(_("Providers"), "; ".join(lines))]


class GroupSendProgressAdmin(ModelAdmin[GroupSend]):
    """The group send records: who sent what to which group, and each send's progress."""

    progress_template = "admin/helpdesk_sms/groupsend/progress.html"
    list_display = (
        "id",
        "created",
        "group_name",
        "created_by",
        "provider",
        "recipients",
        "skipped_count",
        "parts",
        "estimated_cost_shown",
        "progress_link",
    )
    list_filter = ("provider", "created_at", "group")
    search_fields = ("group_name", "text", "sender")
    date_hierarchy = "created_at"
    list_select_related = ("provider", "created_by")
    created = seconds_field("created_at", GroupSend)
    fields = (
        "group",
        "group_name",
        "created_by",
        "created",
        "template",
        "text",
        "provider",
        "sender",
        "recipients",
        "skipped_shown",
        "parts",
        "estimated_cost_shown",
        "progress_link",
    )
    readonly_fields = fields

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        return [
            path(
                "<path:object_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name=f"{opts.app_label}_{opts.model_name}_progress",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("skipped"))
    def skipped_count(self, obj: GroupSend) -> int:
        return len(obj.skipped or [])

    @admin.display(description=_("members skipped"))
    def skipped_shown(self, obj: GroupSend) -> Any:
        if not obj.skipped:
            return self.get_empty_value_display()
        rows = ((s.get("name"), s.get("phone"), s.get("reason")) for s in obj.skipped)
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} ({}): {}</li>", rows))

    @admin.display(description=_("estimated cost"), ordering="estimated_cost")
    def estimated_cost_shown(self, obj: GroupSend) -> str:
        if obj.estimated_cost is None:
            return self.get_empty_value_display()
        return format_cost(obj.estimated_cost, obj.currency)

    @admin.display(description=_("progress"))
    def progress_link(self, obj: GroupSend) -> str:
        opts = self.opts
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_progress", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("progress"))

    def progress_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Counts by state; ``?format=json`` for the script that refreshes them."""
        send = self.get_object(request, unquote(object_id))
        if send is None:
            raise Http404(_("No group send with id %(id)s.") % {"id": object_id})
        if not self.has_view_permission(request, send):
            raise PermissionDenied
        state = group_sends.progress(send)
        if request.GET.get("format") == "json":
            return JsonResponse(_as_json(state, send))
        message_opts = Message._meta
        context = {
            **self.admin_site.each_context(request),
            "title": _("%(send)s: progress") % {"send": send},
            "opts": self.opts,
            "original": send,
            "send": send,
            "progress": state,
            "rows": [(value, label, state.counts[value]) for value, label in Status.choices],
            "cost": _cost_text(state.cost, send.currency),
            "estimated": self.estimated_cost_shown(send) if send.estimated_cost is not None else "",
            "phase_label": PHASE_LABELS[state.phase],
            "messages_url": reverse(
                f"admin:{message_opts.app_label}_{message_opts.model_name}_changelist"
            )
            + f"?group_send__id__exact={send.pk}",
            "json_url": request.path + "?format=json",
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.progress_template, context)


def _cost_text(cost: Decimal | None, currency: str) -> str:
    return format_cost(cost or Decimal(0), currency) if currency else ""


def _as_json(state: group_sends.Progress, send: GroupSend) -> dict[str, Any]:
    return {
        "counts": state.counts,
        "total": state.total,
        "parts": state.parts,
        "cost": _cost_text(state.cost, send.currency),
        "phase": state.phase,
        "phase_label": str(PHASE_LABELS[state.phase]),
        "final": state.final,
    }
