"""Forms used by the admin: write-only provider credentials, sender checks, the test SMS.

Kept apart from ``admin.py`` so the rules about secrets (never rendered, empty keeps the
stored value, an explicit checkbox erases it) are in one small place that is easy to audit.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .exceptions import SmsInputError
from .gateways import registry
from .models import Provider, ProviderPrice, SenderID

if TYPE_CHECKING:  # pragma: no cover
    from django_stubs_ext import StrOrPromise

    ModelForm = forms.ModelForm
    InlineFormSet = BaseInlineFormSet
else:
    from .generics import Unsubscripted as _Unsubscripted

    ModelForm = _Unsubscripted(forms.ModelForm)
    InlineFormSet = _Unsubscripted(BaseInlineFormSet)

#: Write-only credential fields of Provider and the checkbox that erases each.
SECRET_FIELDS: dict[str, str] = {
    "api_key": "clear_api_key",
    "password": "clear_password",
    "callback_secrets": "clear_callback_secrets",
}


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never sends its value back to the browser (several secrets, one a line)."""

    def format_value(self, value: Any) -> None:
        return None


def _formfield(db_field: models.Field[Any, Any], **kwargs: Any) -> forms.Field | None:
    """Model fields as form fields; URLs without a scheme are taken as https (explicit)."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


def _secret_field(label: StrOrPromise, *, strip: bool) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=strip,
        max_length=255,
        # render_value=False: the stored secret (or a rejected new one) never goes back to the
        # browser, not even after a validation error.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class ProviderPriceFormSet(InlineFormSet[ProviderPrice, Provider, ModelForm[ProviderPrice]]):
    """Per-country prices are in the provider's currency: refused while it has none."""

    def clean(self) -> None:
        super().clean()
        priced = any(
            form.cleaned_data and not form.cleaned_data.get("DELETE")
            for form in self.forms
            if hasattr(form, "cleaned_data")
        )
        if priced and not self.instance.currency:
            raise forms.ValidationError(
                _(
                    "Prices per country are in the provider's currency: set the currency "
                    "(ISO 4217 code, e.g. INR) under Prices."
                )
            )


class ProviderAdminForm(ModelForm[Provider]):
    """Provider form whose credentials are write-only.

    An empty credential field keeps the stored value; the matching "clear" checkbox erases
    it. The form's initial values for the secrets are blanked so that neither the widget nor
    ``changed_data`` (and with it the admin history) ever sees the stored value.
    """

    api_key = _secret_field(_("API key"), strip=True)
    password = _secret_field(_("password"), strip=False)
    clear_api_key = forms.BooleanField(
        label=_("clear stored API key"),
        required=False,
        help_text=_("Tick to erase the stored API key."),
    )
    clear_password = forms.BooleanField(
        label=_("clear stored password"),
        required=False,
        help_text=_("Tick to erase the stored password."),
    )
    callback_secrets = forms.CharField(
        label=_("callback secrets"),
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 2, "cols": 60, "autocomplete": "off"}),
    )
    clear_callback_secrets = forms.BooleanField(
        label=_("clear stored callback secrets"),
        required=False,
        help_text=_("Tick to erase them: every delivery-report push is then refused."),
    )

    class Meta:
        model = Provider
        formfield_callback = _formfield
        fields = (
            "name",
            "gateway",
            "is_active",
            "priority",
            "base_url",
            "username",
            "api_key",
            "password",
            "timezone",
            "default_region",
            "allowed_countries",
            "callback_secrets",
            "default_sender",
            "options",
            "low_balance_threshold",
            "price_per_part",
            "currency",
            "rate_per_second",
            "rate_per_minute",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored = {name: getattr(self.instance, name) or "" for name in SECRET_FIELDS}
        for name in SECRET_FIELDS:
            self.initial[name] = ""
            if name in self.fields:
                state = _("stored") if self._stored[name] else _("not set")
                self.fields[name].help_text = _(
                    "Currently: %(state)s. Write-only: never shown. Leave empty to keep the "
                    "stored value."
                ) % {"state": state}
        if "callback_secrets" in self.fields:
            self.fields["callback_secrets"].help_text += " " + str(
                _(
                    "To rotate, enter the new secret and the old one, one per line; once the "
                    "gateway uses the new URL, save the new one alone."
                )
            )
        gateway = self.fields.get("gateway")
        if isinstance(gateway, forms.ChoiceField):
            # Console and in-memory send nothing: offered only where they are meant to be used.
            gateway.choices = [("", "---------"), *registry.offered_choices(self.instance.gateway)]
        sender = self.fields.get("default_sender")
        if isinstance(sender, forms.ModelChoiceField):  # the ForeignKey's field, when shown
            # Only this provider's own sender IDs make sense (the model refuses the others).
            sender.queryset = (
                SenderID.objects.filter(provider=self.instance)
                if self.instance.pk
                else SenderID.objects.none()
            )
            if not self.instance.pk:
                sender.help_text = _("Add sender IDs below, save, then choose the default here.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned is None:  # a parent clean() may return None: Django keeps cleaned_data then
            cleaned = self.cleaned_data
        for name, clear in SECRET_FIELDS.items():
            if name not in self.fields:
                continue
            new_value = cleaned.get(name) or ""
            if cleaned.get(clear):
                if new_value:
                    self.add_error(
                        clear, _("Either enter a new value or clear the stored one, not both.")
                    )
                cleaned[name] = ""
            elif not new_value:
                cleaned[name] = self._stored[name]
        return cleaned


class SenderIDInlineFormSet(InlineFormSet[SenderID, Provider, ModelForm[SenderID]]):
    """Hands each form its provider, so gateway rules apply even before the provider exists.

    On the provider's add page the inline rows have no saved provider yet, and the model's
    own ``clean()`` then skips the gateway's sender rules.
    """

    def add_fields(self, form: forms.ModelForm[SenderID], index: int | None) -> None:
        super().add_fields(form, index)
        if isinstance(form, SenderIDInlineForm):  # the inline's form; no other one reads it
            form.parent_provider = self.instance


class SenderIDInlineForm(ModelForm[SenderID]):
    """Checks the sender ID against the (possibly unsaved) parent provider's gateway."""

    parent_provider: Provider | None = None

    class Meta:
        model = SenderID
        fields = ("value", "description", "is_active")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned is None:  # a parent clean() may return None: Django keeps cleaned_data then
            cleaned = self.cleaned_data
        provider = self.parent_provider
        value = cleaned.get("value")
        if provider is None or provider.pk or not value or not provider.gateway:
            return cleaned  # a saved provider: the model's clean() checks the value
        try:
            gateway = provider.gateway_class()(provider)
        except KeyError:
            return cleaned  # the provider form reports the unknown gateway
        problems = gateway.sender_errors(value)
        if problems:
            self.add_error("value", [p[0].upper() + p[1:] + "." for p in problems])
        return cleaned


class SiteTimeDateTimeField(forms.DateTimeField):
    """A date and time; one written without an offset is read in ``settings.TIME_ZONE``.

    Not in the browser's or an activated zone: ``sms_send --at`` reads naive times the same
    way, so the same text means the same instant from the shell and from the admin.
    """

    def to_python(self, value: Any) -> datetime | None:
        with timezone.override(timezone.get_default_timezone()):
            return super().to_python(value)


#: ``SmsInputError.field`` -> the TestSmsForm field that shows it; None (and any field not
#: listed) is a non-field error: the provider and the group are not chosen on this form.
INPUT_ERROR_FIELDS: dict[str, str | None] = {
    "to": "to",
    "text": "text",
    "sender": "sender",
    "send_at": "send_at",
    "flash": "flash",
    "registered_template_id": "registered_template_id",
    "registered_entity_id": "registered_entity_id",
    "registered_pattern": "registered_pattern",
    "provider": None,
    "group": None,
    "__all__": None,
}


class TestSmsForm(forms.Form):
    """What the operator types on the "Send a test SMS" page.

    Only the form's own checks live here (a number, a text, a well-formed time); every SMS
    rule is ``api.send_sms``'s, whose errors :meth:`add_input_error` puts on the right field.
    """

    to = forms.CharField(
        label=_("phone number"),
        max_length=32,
        help_text=_("Mobile number in international form, e.g. +919812345678."),
    )
    text = forms.CharField(
        label=_("text"),
        initial=_("Test message from Helpdesk SMS."),
        # Not stripped: what is typed is what is sent and billed, and a blank text gets the
        # API's verdict, as on the command line.
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Exactly what is sent; the provider bills every part."),
    )
    sender = forms.CharField(
        label=_("sender ID"),
        required=False,
        max_length=32,
        help_text=_("Empty for each provider's default sender ID."),
    )
    send_at = SiteTimeDateTimeField(
        label=_("send at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"placeholder": "YYYY-MM-DD HH:MM", "size": 25}),
    )
    flash = forms.BooleanField(
        label=_("flash SMS"),
        required=False,
        help_text=_(
            "Shown on the screen at once and usually not stored; not every gateway sends it."
        ),
    )
    registered_template_id = forms.CharField(
        label=_("DLT template id"),
        required=False,
        max_length=64,
        help_text=_("India's DLT: empty for the sender's, else the provider's default."),
    )
    registered_entity_id = forms.CharField(
        label=_("DLT entity id (PE ID)"),
        required=False,
        max_length=64,
        help_text=_("India's DLT: empty for the sender's, else the provider's default."),
    )
    registered_pattern = forms.CharField(
        label=_("DLT registered text"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_(
            "India's DLT: the text as registered, {#var#} for each value. A text that does "
            "not fit it is refused, showing where they differ; empty: not checked."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["send_at"].help_text = _(
            "Empty to send now. Without an offset the time is read in %(zone)s, e.g. "
            "2030-03-01 09:30; with one, e.g. 2030-03-01T09:30+05:30."
        ) % {"zone": timezone.get_default_timezone_name()}

    def send_kwargs(self) -> dict[str, Any]:
        """The cleaned input as keyword arguments of ``api.send_sms`` (after the number)."""
        data = self.cleaned_data
        return {
            "sender": data["sender"] or None,
            "send_at": data.get("send_at"),
            "flash": bool(data.get("flash")),
            "registered_template_id": data.get("registered_template_id") or None,
            "registered_entity_id": data.get("registered_entity_id") or None,
            "registered_pattern": data.get("registered_pattern") or None,
        }

    def add_input_error(self, error: SmsInputError, *, prefix: str = "") -> None:
        """Show an API input error on the field it names, else above the form."""
        self.add_error(INPUT_ERROR_FIELDS.get(error.field), prefix + error.message)
