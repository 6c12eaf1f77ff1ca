"""Admin pages and actions: what operators use to run the SMS side of the helpdesk.

Modelled on django-celery-beat's admin: filters, search, read-only fields, and
``@admin.action``s that report their outcome with ``message_user``. Two rules shape it:
provider credentials are write-only (never rendered anywhere), and the message log is a
record, changed only through the state machine's operator actions (retry, cancel).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models, transaction
from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import admin_preview, api, balances, kick, outbox, resend, template_variables
from .admin_budget import HeldByBudgetFilter
from .admin_consent import ContactConsentMixin
from .admin_group_send import GroupSendProgressAdmin, SendToGroupAdmin
from .admin_health import HealthStateFilter, ProviderHealthAdminMixin
from .admin_json import json_block as _json_block
from .admin_profiles import CountryProfileAdminMixin
from .admin_retention import PurgedFilter
from .admin_times import seconds_field, to_the_second
from .consent import opted_out_numbers
from .dashboard.views import DashboardAdmin
from .exceptions import SmsInputError
from .forms import (
    SECRET_FIELDS,
    ProviderAdminForm,
    ProviderPriceFormSet,
    SenderIDInlineForm,
    SenderIDInlineFormSet,
    TestSmsForm,
)
from .gateways import registry
from .gateways.base import Capability, GatewayError, redact
from .models import (
    AgentProfile,
    BalanceSnapshot,
    Contact,
    Dashboard,
    GroupSend,
    Message,
    MessageEvent,
    NotificationTemplate,
    Provider,
    ProviderPrice,
    RecipientGroup,
    SenderID,
)
from .preview import preview_html
from .pricing import format_cost
from .states import Status

if TYPE_CHECKING:  # pragma: no cover
    from django_stubs_ext import StrOrPromise, WithAnnotations

    ModelAdmin = admin.ModelAdmin
    TabularInline = admin.TabularInline
else:
    from .generics import Unsubscripted as _Unsubscripted

    ModelAdmin = _Unsubscripted(admin.ModelAdmin)
    TabularInline = _Unsubscripted(admin.TabularInline)

_M = TypeVar("_M", bound=models.Model)

logger = logging.getLogger(__name__)


def _superuser_only_delete(request: HttpRequest) -> bool:
    """Log-like records are evidence: only superusers may prune them."""
    return bool(request.user.is_active and request.user.is_superuser)


# -- providers and sender IDs ------------------------------------------------------------


def _latest_balances() -> QuerySet[BalanceSnapshot]:
    """The newest snapshot of each (provider, account): one query for a whole page."""
    newest = (
        BalanceSnapshot.objects.filter(provider=OuterRef("provider"), account=OuterRef("account"))
        .order_by("-taken_at", "-pk")
        .values("pk")[:1]
    )
    return BalanceSnapshot.objects.filter(pk=Subquery(newest)).order_by("account")


def _gateway_summary(name: str) -> SafeString:
    """Capabilities and understood option keys of one gateway, as a short HTML block."""
    label = dict(registry.choices()).get(name, name)
    try:
        cls = registry.gateway_class(name)
    except (KeyError, ImportError) as exc:
        return format_html("<p><strong>{}</strong>: {}</p>", label, exc)
    capabilities = ", ".join(sorted(str(c) for c in cls.capabilities)) or _("none")
    limits = [
        format_html("{}: {}", _("numbers per request"), cls.max_numbers_per_request),
        format_html("{}: {}", _("max parts"), cls.max_parts or _("no documented limit")),
        format_html(
            "{}: {}", _("max sender ID length"), cls.max_sender_length or _("no documented limit")
        ),
    ]
    if cls.option_help:
        options = format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li><code>{}</code>: {}</li>", sorted(cls.option_help.items())),
        )
    else:
        options = format_html("<p>{}</p>", _("This gateway takes no options."))
    if cls.message_option_help:
        options += format_html(
            "<p>{}:</p><ul>{}</ul>",
            _("Options a template or send_sms call may set for its own messages"),
            format_html_join(
                "", "<li><code>{}</code>: {}</li>", sorted(cls.message_option_help.items())
            ),
        )
    return format_html(
        "<div><p><strong>{}</strong></p><p>{}: {}</p><p>{}</p><p>{}:</p>{}</div>",
        label,
        _("Capabilities"),
        capabilities,
        format_html_join("; ", "{}", ((item,) for item in limits)),
        _("Options it understands"),
        options,
    )


class SenderIDInline(TabularInline[SenderID, Provider]):
    model = SenderID
    form = SenderIDInlineForm
    formset = SenderIDInlineFormSet
    fields = ("value", "description", "is_active")
    extra = 0
    show_change_link = True


class ProviderPriceInline(TabularInline[ProviderPrice, Provider]):
    """Prices per destination country: a number in one of these regions costs this instead."""

    model = ProviderPrice
    formset = ProviderPriceFormSet
    fields = ("region", "price_per_part")
    extra = 0
    verbose_name = _("price for one destination country")
    verbose_name_plural = _("prices per destination country (override the price per part)")


def _push_url(
    obj: Provider | None,
    url_name: str,
    capability: Capability,
    unsupported: StrOrPromise,
    advice: StrOrPromise,
) -> StrOrPromise:
    """A provider's push URL (reports, replies) with the secret as a placeholder."""
    if obj is None or not obj.pk:
        return _("Save the provider first.")
    if not obj.gateway_class().has(capability):
        return unsupported
    path = reverse(url_name, kwargs={"provider_id": obj.pk, "secret": "SECRET"})
    return format_html(
        "https://&lt;your site&gt;{}<br>{}", path.replace("SECRET", "<callback secret>"), advice
    )


@admin.register(Provider)
class ProviderAdmin(CountryProfileAdminMixin, ProviderHealthAdminMixin, ModelAdmin[Provider]):
    form = ProviderAdminForm
    # Explicit, and https: a gateway that only speaks http must be written with http://.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = (
        "name",
        "gateway",
        "country_profile",
        "is_active",
        "priority",
        "health_shown",
        "latest_balance",
        "threshold_shown",
    )
    list_filter = ("gateway", "country_profile", "is_active", HealthStateFilter)
    search_fields = ("name",)
    readonly_fields = (
        "credential_status",
        "gateway_info",
        "callback_url",
        "inbound_url",
        "threshold_status",
        "health_shown",
        "health_history",
        "country_profile_summary",
        "created_at",
        "updated_at",
    )
    inlines = [SenderIDInline, ProviderPriceInline]
    actions = ["check_balance", "send_test_sms", "close_circuit"]
    fieldsets = (
        (None, {"fields": ("name", "gateway", "is_active", "priority")}),
        (
            _("Connection"),
            {
                "fields": (
                    "base_url",
                    "username",
                    "credential_status",
                    "api_key",
                    "clear_api_key",
                    "password",
                    "clear_password",
                    "timezone",
                ),
                "description": _(
                    "Credentials are write-only: they are never shown again, only whether one "
                    "is stored."
                ),
            },
        ),
        (
            _("Sending"),
            {
                "fields": (
                    "default_sender",
                    "options",
                    "default_region",
                    "allowed_countries",
                    "gateway_info",
                )
            },
        ),
        (
            _("Country profile"),
            {
                "fields": ("country_profile", "country_profile_summary"),
                "description": _(
                    "Presets of a destination country's rules; a route's profile wins over "
                    "the provider's for the messages it carries. Defaults, not legal advice."
                ),
            },
        ),
        (
            _("Delivery reports and customer replies pushed by the gateway"),
            {
                "fields": (
                    "callback_secrets",
                    "clear_callback_secrets",
                    "callback_url",
                    "inbound_url",
                )
            },
        ),
        (_("Prices"), {"fields": ("price_per_part", "currency")}),
        (
            _("Rate limits"),
            {
                "fields": ("rate_per_second", "rate_per_minute"),
                "description": _(
                    "The most messages the gateway takes, counted across every worker; empty "
                    "for no limit. Messages over a limit wait for the next second or minute."
                ),
            },
        ),
        (_("Balance"), {"fields": ("low_balance_threshold", "threshold_status")}),
        (_("Health"), {"fields": ("health_shown", "health_history")}),
        (_("History"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Provider]:
        return (
            super()
            .get_queryset(request)
            .select_related("health")
            .prefetch_related(
                Prefetch("balances", queryset=_latest_balances(), to_attr="latest_balances")
            )
        )

    def get_fieldsets(self, request: HttpRequest, obj: Provider | None = None) -> Any:
        """Without the change permission the credential fields are not on the page at all.

        Django shows a read-only user every form field as its stored value; a credential
        would be printed in clear. Such users see ``credential_status`` instead.
        """
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        hidden = {*SECRET_FIELDS, *SECRET_FIELDS.values()}
        return [
            (title, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for title, options in fieldsets
        ]

    @admin.display(description=_("credentials"))
    def credential_status(self, obj: Provider | None) -> SafeString | StrOrPromise:
        """Whether each credential is set and when they last changed; never a value."""
        if obj is None or not obj.pk:
            return _("Not set yet.")
        labels = {
            "api_key": _("API key"),
            "password": _("password"),
            "callback_secrets": _("callback secrets"),
        }
        rows = [
            (labels[name], _("set") if getattr(obj, name) else _("not set"))
            for name in SECRET_FIELDS
        ]
        changed_at = obj.credentials_changed_at
        changed: StrOrPromise
        if changed_at:
            changed = _("Last changed %(when)s.") % {
                "when": date_format(timezone.localtime(changed_at), "DATETIME_FORMAT")
            }
        elif obj.secret_values():
            changed = _("Last change not recorded (set before this was tracked).")
        else:
            changed = ""
        return format_html(
            "{}<div>{}</div>", format_html_join("", "<div>{}: {}</div>", rows), changed
        )

    @admin.display(description=_("latest balance"))
    def latest_balance(self, obj: Provider) -> SafeString | str:
        snapshots = getattr(obj, "latest_balances", None)
        if snapshots is None:
            snapshots = list(_latest_balances().filter(provider=obj))
        if not snapshots:
            return self.get_empty_value_display()
        threshold = obj.low_balance_threshold
        rows = []
        for snap in snapshots:
            low = threshold is not None and snap.amount < threshold
            rows.append(
                (
                    snap.account or _("balance"),
                    snap.amount,
                    snap.unit,
                    format_html(' <strong style="color: #ba2121">{}</strong>', _("low"))
                    if low
                    else "",
                )
            )
        return format_html_join("", "<div>{}: {} {}{}</div>", rows)

    @admin.display(description=_("low-balance threshold"), ordering="low_balance_threshold")
    def threshold_shown(self, obj: Provider) -> SafeString | str:
        """The threshold, or a visible warning where a balance is read but nobody is warned."""
        if obj.low_balance_threshold is not None:
            return str(obj.low_balance_threshold)
        return self.threshold_status(obj)

    @admin.display(description=_("threshold"))
    def threshold_status(self, obj: Provider | None) -> SafeString | str:
        """'No threshold set' for a gateway with a balance: its running dry goes unwarned."""
        if obj is None or obj.low_balance_threshold is not None:
            return ""
        if not self._has_balance_feature(obj):
            return str(_("this gateway has no balance feature"))
        return format_html(
            '<span class="hsms-warning" style="color: #a35200; font-weight: bold">⚠ {}</span>'
            '<div class="help">{}</div>',
            _("no threshold set"),
            _("Nobody is warned when the balance runs low: set a low-balance threshold."),
        )

    @admin.display(description=_("callback URL"))
    def callback_url(self, obj: Provider | None) -> StrOrPromise:
        """Where the gateway should push reports; the secret is shown only as a placeholder."""
        return _push_url(
            obj,
            "helpdesk_sms:callback",
            Capability.DLR_PUSH,
            _("This gateway does not push delivery reports."),
            _("Give the gateway this URL with one of the callback secrets in place."),
        )

    @admin.display(description=_("inbound SMS URL"))
    def inbound_url(self, obj: Provider | None) -> StrOrPromise:
        """Where the gateway should push customer replies (docs/replies.md); no secret."""
        return _push_url(
            obj,
            "helpdesk_sms:inbound",
            Capability.INBOUND,
            _("This gateway does not push customer replies."),
            _("Give the gateway this URL for replies, with one of the callback secrets in place."),
        )

    @admin.display(description=_("gateway capabilities and options"))
    def gateway_info(self, obj: Provider | None) -> SafeString:
        if obj is None or not obj.pk:
            return format_html_join(
                "",
                "{}",
                ((_gateway_summary(name),) for name, _label in registry.offered_choices()),
            )
        return _gateway_summary(obj.gateway)

    @admin.action(description=_("Check balance now"), permissions=["view"])
    def check_balance(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        for provider in queryset:
            if not self._has_balance_feature(provider):
                # Nothing is wrong: there is just no balance to read (Unified, console).
                self.message_user(
                    request,
                    _("%(provider)s: this gateway has no balance feature.")
                    % {"provider": provider},
                    messages.INFO,
                )
                continue
            try:
                snapshots = balances.check_provider(provider)
            except GatewayError as exc:  # adapters redact their texts; redact again anyway
                self.message_user(
                    request,
                    _("%(provider)s: balance check failed: %(error)s")
                    % {"provider": provider, "error": redact(str(exc), provider.secret_values())},
                    messages.ERROR,
                )
                continue
            except Exception as exc:  # an adapter bug: its text may hold a credential
                logger.error(
                    "helpdesk_sms: balance check of %s failed: %s",
                    provider,
                    redact(f"{type(exc).__name__}: {exc}", provider.secret_values()),
                )
                self.message_user(
                    request,
                    _("%(provider)s: balance check failed unexpectedly (%(kind)s); see the log.")
                    % {"provider": provider, "kind": type(exc).__name__},
                    messages.ERROR,
                )
                continue
            if not snapshots:
                self.message_user(
                    request,
                    _("%(provider)s: the gateway reported no balance.") % {"provider": provider},
                    messages.WARNING,
                )
                continue
            low = any(s.is_low for s in snapshots)
            summary = "; ".join(
                f"{s.account or _('balance')}: {s.amount} {s.unit}"
                + (f" ({_('low')})" if s.is_low else "")
                for s in snapshots
            )
            self.message_user(
                request,
                f"{provider}: {summary}",
                messages.WARNING if low else messages.SUCCESS,
            )

    @staticmethod
    def _has_balance_feature(provider: Provider) -> bool:
        """False only for a loadable gateway without BALANCE; an unloadable one is an error."""
        try:
            return provider.gateway_class().has(Capability.BALANCE)
        except (KeyError, ImportError):
            return True  # check_provider reports it as the failure it is

    @admin.action(description=_("Send a test SMS"), permissions=["change"])
    def send_test_sms(
        self, request: HttpRequest, queryset: QuerySet[Provider]
    ) -> HttpResponse | None:
        """Ask for a number and a text on an intermediate page, then queue one SMS each.

        Like Django's delete confirmation: the page posts back to this action with
        ``action``, ``_selected_action`` and ``apply``. Any invalid input (on any of the
        selected providers) shows on the page and nothing is queued.
        """
        providers = list(queryset)
        if "apply" in request.POST:
            form = TestSmsForm(request.POST)
            if form.is_valid() and self._queue_test_sms(request, form, providers):
                return None
        else:
            form = TestSmsForm()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Send a test SMS"),
            "opts": self.model._meta,
            "providers": providers,
            "form": form,
            "action_name": "send_test_sms",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/helpdesk_sms/provider/send_test_sms.html", context)

    def _queue_test_sms(
        self, request: HttpRequest, form: TestSmsForm, providers: list[Provider]
    ) -> bool:
        """Queue the test messages, all or none; errors go onto ``form``. True when queued."""
        data = form.cleaned_data
        sent: list[tuple[Provider, Sequence[Message]]] = []
        failed = False
        with transaction.atomic():
            for provider in providers:
                try:
                    queued = api.send_sms(
                        data["to"], data["text"], provider=provider, **form.send_kwargs()
                    )
                except SmsInputError as exc:
                    failed = True
                    form.add_input_error(exc, prefix="" if len(providers) == 1 else f"{provider}: ")
                else:
                    sent.append((provider, queued))
            if failed:
                transaction.set_rollback(True)  # none of them, and no dispatch kick either
                return False
        for provider, queued in sent:
            ids = ", ".join(f"#{m.pk}" for m in queued)
            text = ngettext(
                "%(provider)s: test SMS queued as message %(ids)s.",
                "%(provider)s: test SMS queued as messages %(ids)s.",
                len(queued),
            ) % {"provider": provider, "ids": ids}
            if data.get("send_at"):
                text += " " + _("It goes out at %(when)s.") % {
                    "when": timezone.localtime(data["send_at"]).strftime("%Y-%m-%d %H:%M %Z")
                }
            self.message_user(request, text, messages.SUCCESS)
        return True


@admin.register(SenderID)
class SenderIDAdmin(ModelAdmin[SenderID]):
    list_display = ("value", "provider", "description", "is_active")
    list_filter = ("provider", "is_active")
    search_fields = ("value", "description", "provider__name", "registered_template_id")
    list_select_related = ("provider",)


# -- recipients ------------------------------------------------------------------------


@admin.register(Contact)
class ContactAdmin(ContactConsentMixin, ModelAdmin[Contact]):
    list_display = ("name", "phone", "is_active", "opted_out", "created_at")
    list_filter = ("is_active", "opted_out", "groups")
    search_fields = ("name", "phone")
    readonly_fields = ("created_at",)


class _MemberTotal(TypedDict):
    """What ``RecipientGroupAdmin.get_queryset`` annotates each group with."""

    member_total: int


@admin.register(RecipientGroup)
class RecipientGroupAdmin(SendToGroupAdmin):
    list_display = ("name", "member_count", "provider", "provider_group_id")
    list_filter = ("provider",)
    search_fields = ("name", "description", "provider_group_id")
    filter_horizontal = ("members",)
    list_select_related = ("provider",)
    actions = ["send_sms_to_group"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RecipientGroup]:
        return super().get_queryset(request).annotate(member_total=Count("members"))

    @admin.display(description=_("members"), ordering="member_total")
    def member_count(self, obj: WithAnnotations[RecipientGroup, _MemberTotal]) -> int:
        return obj.member_total


@admin.register(AgentProfile)
class AgentProfileAdmin(ModelAdmin[AgentProfile]):
    list_display = ("user", "phone", "sms_opt_in")
    list_filter = ("sms_opt_in",)
    search_fields = ("user__username", "user__first_name", "user__last_name", "phone")
    # raw_id rather than autocomplete: works with any user model and user admin.
    raw_id_fields = ("user",)
    list_select_related = ("user",)


# -- templates -------------------------------------------------------------------------


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(ModelAdmin[NotificationTemplate]):
    list_display = ("name", "event", "audience", "is_active", "priority", "urgent", "provider")
    list_filter = ("event", "audience", "is_active", "priority", "urgent", "provider")
    search_fields = ("name", "body")
    list_select_related = ("provider",)
    readonly_fields = ("preview", "variables", "created_at", "updated_at")
    actions = ["activate", "deactivate"]
    fieldsets = (
        (None, {"fields": ("name", "event", "audience", "group", "is_active")}),
        (
            _("Text"),
            {
                "fields": (
                    "body",
                    "variables",
                    "smart_replace",
                    "preview",
                    "registered_template_id",
                    "registered_entity_id",
                    "registered_pattern",
                )
            },
        ),
        (
            _("Sending"),
            {
                "fields": (
                    "priority",
                    "provider",
                    "sender",
                    "gateway_options",
                    "hourly_limit_per_number",
                    "quiet_hours",
                    "urgent",
                )
            },
        ),
        (_("History"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    @admin.display(description=_("variables"))
    def variables(self, obj: NotificationTemplate | None) -> SafeString:
        """What a body may use: anything else is refused when the template is saved."""
        return template_variables.help_table()

    class Media:
        js = ("helpdesk_sms/template_preview.js",)

    def get_urls(self) -> list[URLPattern]:
        live = path(
            "live-preview/",
            self.admin_site.admin_view(functools.partial(admin_preview.live_preview, self)),
            name="helpdesk_sms_notificationtemplate_live_preview",
        )
        return [live, *super().get_urls()]

    @admin.display(description=_("preview"))
    def preview(self, obj: NotificationTemplate | None) -> SafeString | StrOrPromise:
        """The saved text rendered; template_preview.js refreshes it as the form is edited."""
        if obj is None or not obj.pk:
            shown: SafeString | StrOrPromise = _(
                "Type the text to see it rendered with a sample ticket."
            )
        else:
            shown = preview_html(obj)
        return format_html(
            '<div id="hsms-live-preview" data-url="{}" aria-live="polite">{}</div>',
            reverse("admin:helpdesk_sms_notificationtemplate_live_preview"),
            shown,
        )

    @admin.action(description=_("Activate selected templates"), permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[NotificationTemplate]) -> None:
        """Activate one by one, refusing any that would double another's SMS (see clean())."""
        count = 0
        for template in queryset.filter(is_active=False).order_by("pk"):
            template.is_active = True
            twin = template.active_twin()
            if twin is not None:
                self.message_user(
                    request, f"{template.name}: {template.twin_error(twin)}", messages.ERROR
                )
                continue
            template.save(update_fields=["is_active", "updated_at"])
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d template activated.", "%(count)d templates activated.", count)
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )

    @admin.action(description=_("Deactivate selected templates"), permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[NotificationTemplate]) -> None:
        count = queryset.update(is_active=False)
        self.message_user(
            request,
            ngettext("%(count)d template deactivated.", "%(count)d templates deactivated.", count)
            % {"count": count},
            messages.SUCCESS,
        )


# -- the message log -------------------------------------------------------------------


#: Status -> badge colour. The badge always carries the status's text: colour only helps.
STATUS_COLOURS: dict[str, str] = {
    Status.SCHEDULED: "#5a6a75",
    Status.QUEUED: "#5a6a75",
    Status.SENDING: "#205067",
    Status.ACCEPTED: "#205067",
    Status.DELIVERED: "#2e7d32",
    Status.UNDELIVERED: "#ba2121",
    Status.EXPIRED: "#ba2121",
    Status.FAILED: "#ba2121",
    Status.UNKNOWN: "#a35200",
    Status.CANCELED: "#6b6b6b",
    Status.SUPPRESSED: "#6b6b6b",
}

#: Statuses whose row in the message list says why (the message was not sent).
REASON_STATUSES = frozenset({Status.FAILED, Status.SUPPRESSED})


def _clipped(text: str) -> SafeString:
    """A list cell's text, cut to two lines by message_list.css (the page has it whole)."""
    return format_html('<span class="hsms-clip">{}</span>', text)


class ReadOnlyLogAdmin(ModelAdmin[_M], Generic[_M]):
    """Records written by the system: viewable, never added or edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The changelist asks without obj (actions need it); a record's page is view-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _superuser_only_delete(request)


#: A message in one of these states never went out: no parts sent, nothing billed.
NOT_SENT = frozenset({Status.SUPPRESSED, Status.FAILED, Status.CANCELED})


def cost_totals(messages: QuerySet[Message]) -> list[str]:
    """The billed cost of ``messages``, one total per currency: one aggregate query."""
    rows = (
        messages.order_by()
        .exclude(currency="")
        .values("currency")
        .annotate(total=Sum("cost"))
        .order_by("currency")
    )
    return [format_cost(row["total"] or Decimal(0), row["currency"]) for row in rows]


@admin.register(Message)
class MessageAdmin(ReadOnlyLogAdmin[Message]):
    list_display = (
        "id",
        "created",
        "to",
        "status_label",
        "provider",
        "cost_shown",
        "origin",
        "short_body",
        "reason",
    )
    list_display_links = ("id", "created")
    list_filter = (
        "status",
        HeldByBudgetFilter,
        "quiet_hours",
        "priority",
        "provider",
        "route",
        "event",
        "is_test",
        PurgedFilter,
        "created_at",
    )
    search_fields = ("recipient", "body", "provider_message_id", "ticket_id", "idempotency_key")
    date_hierarchy = "created_at"
    list_select_related = ("provider", "group")
    actions = ["retry_failed", "resend_suppressed", "cancel_pending"]
    # The page is view-only (see ReadOnlyLogAdmin), which shows every field read-only; only
    # the computed ones need naming here.
    readonly_fields = (
        "status_label",
        "held",
        "parts_shown",
        "estimated_cost_shown",
        "cost_shown",
        "timeline",
        "resent_as",
        "status_changed",
        "send_at_shown",
        "next_attempt",
        "claimed",
        "request_started",
        "submitted",
        "created",
        "updated",
        "purged",
    )
    status_changed = seconds_field("status_changed_at", Message)
    send_at_shown = seconds_field("send_at", Message)
    next_attempt = seconds_field("next_attempt_at", Message)
    claimed = seconds_field("claimed_at", Message)
    request_started = seconds_field("request_started_at", Message)
    submitted = seconds_field("submitted_at", Message)
    created = seconds_field("created_at", Message)
    updated = seconds_field("updated_at", Message)
    purged = seconds_field("purged_at", Message)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "recipient",
                    "group",
                    "body",
                    "encoding",
                    "parts_shown",
                    "estimated_cost_shown",
                    "cost_shown",
                    "provider",
                    "route",
                    "sender",
                    "flash",
                    "gateway_options",
                    "is_test",
                    "parent",
                    "resend_of",
                    "resent_as",
                )
            },
        ),
        (
            _("Status"),
            {
                "fields": (
                    "status_label",
                    "held",
                    "priority",
                    "status_changed",
                    "error_category",
                    "error_code",
                    "error_text",
                    "attempts",
                    "send_at_shown",
                    "next_attempt",
                    "claimed",
                    "request_started",
                    "submitted",
                    "provider_message_id",
                    "provider_job_id",
                )
            },
        ),
        (
            _("Origin"),
            {
                "fields": (
                    "event",
                    "audience",
                    "template",
                    "registered_template_id",
                    "registered_entity_id",
                    "ticket_type",
                    "ticket_id",
                    "group_send",
                    "idempotency_key",
                    "created",
                    "updated",
                    "purged",
                )
            },
        ),
        (_("Timeline"), {"fields": ("timeline",)}),
    )

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, obj: Message) -> str:
        """The status, saying so where 'accepted' is as far as the gateway will ever tell.

        A coloured badge with the status's text in it: readable without the colour.
        """
        label = format_html(
            '<span class="hsms-status hsms-status-{}" style="display: inline-block; '
            "padding: 1px 6px; border-radius: 3px; color: #fff; background: {}; "
            'max-width: 9em">{}</span>',
            obj.status,
            STATUS_COLOURS.get(obj.status, "#6b6b6b"),
            obj.get_status_display(),
        )
        if obj.is_test:
            return format_html(
                '{} <span class="help" title="{}">({})</span>',
                label,
                _("Sent in the provider's test mode: the gateway checked it and sent nothing."),
                _("test: not sent"),
            )
        if obj.status == Status.ACCEPTED and obj.provider is not None:
            gateway = obj.provider.gateway_class()
            if not (gateway.has(Capability.DLR_POLL) or gateway.has(Capability.DLR_PUSH)):
                return format_html(
                    '{} <span class="help">({})</span>',
                    label,
                    _("final: this gateway does not report delivery"),
                )
        return label

    @admin.display(description=_("parts"), ordering="parts")
    def parts_shown(self, obj: Message) -> int | str:
        """The parts sent; a message that never went out has none to show (not "1")."""
        if obj.status in NOT_SENT:
            return self.get_empty_value_display()
        return obj.parts

    @admin.display(description=_("cost"), ordering="cost")
    def cost_shown(self, obj: Message) -> str:
        """What it was billed; nothing for one never sent; its estimate while on its way."""
        if obj.cost is not None:
            return format_cost(obj.cost, obj.currency)
        if obj.status in NOT_SENT:
            return format_cost(Decimal(0), obj.currency)
        if obj.estimated_cost is not None:
            return "≈ " + format_cost(obj.estimated_cost, obj.currency)
        return self.get_empty_value_display()

    @admin.display(description=_("estimated cost"))
    def estimated_cost_shown(self, obj: Message) -> str:
        if obj.estimated_cost is None:
            return self.get_empty_value_display()
        return format_cost(obj.estimated_cost, obj.currency)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The list, with the total cost of the messages the current filter shows."""
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context is not None and "cl" in context:
            context["cost_totals"] = cost_totals(context["cl"].queryset)
        return response

    @admin.display(description=_("recipient"), ordering="recipient")
    def to(self, obj: Message) -> str:
        if obj.recipient:
            return obj.recipient
        if obj.purged_at is not None:
            return str(_("purged"))
        return str(obj.group) if obj.group_id else self.get_empty_value_display()

    @admin.display(description=_("event"), ordering="event")
    def origin(self, obj: Message) -> str:
        """The event and its ticket in one narrow cell (the list must fit 1366 px)."""
        ticket = f" #{obj.ticket_id}" if obj.ticket_id else ""
        return f"{obj.get_event_display()}{ticket}"

    @admin.display(description=_("text"))
    def short_body(self, obj: Message) -> SafeString:
        return _clipped(Truncator(obj.body).chars(50))

    @admin.display(description=_("reason"))
    def reason(self, obj: Message) -> SafeString | str:
        """Why a failed or suppressed message was not sent, or a queued one waits, in short;
        the page has it all."""
        if obj.status == Status.QUEUED and obj.held_reason:
            return _clipped(Truncator(obj.held_reason).chars(60))
        if obj.status == Status.SCHEDULED and obj.quiet_hours:
            return str(_("held for quiet hours"))
        if obj.status not in REASON_STATUSES:
            return ""
        text = obj.error_text or obj.error_category
        if not text and obj.is_test:
            return str(_("test mode: the gateway sent nothing"))
        return _clipped(Truncator(text).chars(60)) if text else self.get_empty_value_display()

    @admin.display(description=_("held because"))
    def held(self, obj: Message) -> str:
        """Why a queued message waits (a budget cap reached); nothing once it is not held."""
        if obj.status == Status.QUEUED and obj.held_reason:
            return obj.held_reason
        return self.get_empty_value_display()

    @admin.display(description=_("events"))
    def timeline(self, obj: Message) -> SafeString:
        # Newest first: what happened last is what an operator looks for.
        events = list(obj.events.select_related("exchange").order_by("-created_at", "-pk"))
        if not events:
            return format_html("<p>{}</p>", _("No events recorded."))
        secrets = obj.provider.secret_values() if obj.provider is not None else []
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{} &rarr; {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    to_the_second(event.created_at),
                    event.get_from_status_display() or "—",
                    event.get_to_status_display(),
                    event.get_source_display(),
                    event.note,
                    _json_block(event.full_data, secrets),
                )
                for event in events
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            _("time"),
            _("from → to"),
            _("source"),
            _("note"),
            _("raw data"),
            rows,
        )

    @admin.action(description=_("Retry failed messages"), permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        requeued = skipped = unsendable = opted_out = 0
        listed = opted_out_numbers(m.recipient for m in queryset if m.recipient)
        for message in queryset:
            if message.status != Status.FAILED:
                skipped += 1
            elif message.recipient in listed:
                opted_out += 1
            elif outbox.retry(message, note=f"retried by {request.user} in the admin"):
                requeued += 1
            else:
                unsendable += 1
        if requeued:
            kick.dispatch_on_commit()  # one wake-up for all of them
        self._report(
            request,
            ngettext("%(count)d message re-queued.", "%(count)d messages re-queued.", requeued),
            requeued,
            ngettext(
                "%(count)d skipped because it is not failed.",
                "%(count)d skipped because they are not failed.",
                skipped,
            ),
            skipped,
        )
        if unsendable:
            self.message_user(
                request,
                ngettext(
                    "%(count)d failed message cannot be retried: it has no text, recipient or "
                    "provider. Fix the cause; the next event creates a new message.",
                    "%(count)d failed messages cannot be retried: they have no text, recipient "
                    "or provider. Fix the cause; the next event creates new messages.",
                    unsendable,
                )
                % {"count": unsendable},
                messages.WARNING,
            )
        if opted_out:
            self.message_user(
                request,
                ngettext(
                    "%(count)d failed message was not retried: its number is on the opt-out list.",
                    "%(count)d failed messages were not retried: their numbers are on the "
                    "opt-out list.",
                    opted_out,
                )
                % {"count": opted_out},
                messages.WARNING,
            )

    @admin.display(description=_("re-sent as"))
    def resent_as(self, obj: Message) -> SafeString | str:
        """The message that replaced this suppressed one, linked."""
        found = list(obj.resends.values_list("pk", flat=True))
        if not found:
            return self.get_empty_value_display()
        return format_html_join(
            ", ",
            '<a href="{}">#{}</a>',
            ((reverse("admin:helpdesk_sms_message_change", args=[pk]), pk) for pk in found),
        )

    @admin.action(description=_("Re-send suppressed messages"), permissions=["change"])
    def resend_suppressed(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        """A new, linked message for each suppressed one whose cause is fixed (see resend.py).

        The number is looked up and checked again; one still not sendable is named with the
        reason, and nothing is written for it.
        """
        sent: list[Message] = []
        skipped = 0
        for message in queryset.select_related("template", "provider"):
            if message.status != Status.SUPPRESSED:
                skipped += 1
                continue
            try:
                sent.append(
                    resend.resend(
                        message, note=f"re-send of #{message.pk} by {request.user} in the admin"
                    )
                )
            except resend.ResendRefused as exc:
                self.message_user(
                    request,
                    _("Message #%(pk)s not re-sent: %(reason)s.")
                    % {"pk": message.pk, "reason": exc},
                    messages.ERROR,
                )
        if sent:
            self.message_user(
                request,
                ngettext(
                    "%(count)d message re-sent: %(list)s.",
                    "%(count)d messages re-sent: %(list)s.",
                    len(sent),
                )
                % {
                    "count": len(sent),
                    "list": ", ".join(
                        f"#{m.resend_of_id} as #{m.pk} to {m.recipient}" for m in sent
                    ),
                },
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d skipped because it is not suppressed (a failed message is "
                    "retried with “Retry failed messages”).",
                    "%(count)d skipped because they are not suppressed (a failed message is "
                    "retried with “Retry failed messages”).",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Cancel scheduled or queued messages"), permissions=["change"])
    def cancel_pending(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        canceled = skipped = 0
        for message in queryset:
            try:
                done = outbox.cancel(message, note=f"canceled by {request.user} in the admin")
            except GatewayError as exc:
                self.message_user(
                    request,
                    _("Message #%(pk)s: the gateway did not withdraw it: %(error)s")
                    % {"pk": message.pk, "error": exc},
                    messages.ERROR,
                )
                continue
            if done:
                canceled += 1
            else:
                skipped += 1
        self._report(
            request,
            ngettext("%(count)d message canceled.", "%(count)d messages canceled.", canceled),
            canceled,
            ngettext(
                "%(count)d skipped: it is neither waiting to be sent nor held for later by a "
                "gateway that can withdraw it.",
                "%(count)d skipped: they are neither waiting to be sent nor held for later by a "
                "gateway that can withdraw them.",
                skipped,
            ),
            skipped,
        )

    def _report(
        self, request: HttpRequest, done_text: str, done: int, skipped_text: str, skipped: int
    ) -> None:
        text = done_text % {"count": done}
        if skipped:
            text += " " + skipped_text % {"count": skipped}
        level = messages.SUCCESS if done and not skipped else messages.WARNING
        self.message_user(request, text, level)


@admin.register(GroupSend)
class GroupSendAdmin(GroupSendProgressAdmin, ReadOnlyLogAdmin[GroupSend]):
    """Group sends are records of what was sent: made by the group's send page only."""


@admin.register(MessageEvent)
class MessageEventAdmin(ReadOnlyLogAdmin[MessageEvent]):
    list_display = ("time", "message", "from_status", "to_status", "source", "note")
    list_display_links = ("time", "message")
    list_filter = ("source", "to_status", "created_at")
    search_fields = ("message__recipient", "message__provider_message_id", "note")
    date_hierarchy = "created_at"
    list_select_related = ("message", "message__group", "exchange")
    readonly_fields = (
        "message",
        "from_status",
        "to_status",
        "source",
        "note",
        "pretty_data",
        "time",
    )
    fields = readonly_fields
    time = seconds_field("created_at", MessageEvent)

    @admin.display(description=_("raw data"))
    def pretty_data(self, obj: MessageEvent) -> SafeString | str:
        provider = obj.message.provider
        secrets = provider.secret_values() if provider is not None else []
        return _json_block(obj.full_data, secrets) or self.get_empty_value_display()


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ReadOnlyLogAdmin[BalanceSnapshot]):
    list_display = ("provider", "account", "amount", "unit", "taken", "low")
    list_filter = ("provider", "taken_at")
    search_fields = ("provider__name", "account")
    date_hierarchy = "taken_at"
    list_select_related = ("provider",)
    readonly_fields = ("provider", "account", "amount", "unit", "taken", "low", "pretty_raw")
    fields = readonly_fields

    taken = seconds_field("taken_at", BalanceSnapshot)

    @admin.display(description=_("level"))
    def low(self, obj: BalanceSnapshot) -> SafeString | str:
        """In words, not a red or green icon: "low" stands out even without colour."""
        if obj.provider.low_balance_threshold is None:
            return str(_("no threshold set"))
        if obj.is_low:
            return format_html('<strong class="sms-balance-low">{}</strong>', _("LOW"))
        return str(_("ok"))

    @admin.display(description=_("raw data"))
    def pretty_raw(self, obj: BalanceSnapshot) -> SafeString | str:
        return _json_block(obj.raw, obj.provider.secret_values()) or self.get_empty_value_display()


admin.site.register(Dashboard, DashboardAdmin)


# Registered by importing: the route and inbound SMS pages live in their own modules.
from . import admin_inbound, admin_routes  # noqa: E402, F401
