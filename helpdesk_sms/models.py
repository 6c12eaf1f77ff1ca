"""The app's data: providers and senders, recipients, templates, and the message log."""

from __future__ import annotations

import zoneinfo
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import country_profiles
from .fields import EncryptedTextField
from .gateways import registry
from .gateways.base import Capability
from .inputs import validate_sendable_text
from .states import Priority, Source, Status

if TYPE_CHECKING:  # pragma: no cover
    from .gateways.base import Gateway


class Event(models.TextChoices):
    TICKET_CREATED = "ticket_created", _("ticket created")
    TICKET_ASSIGNED = "ticket_assigned", _("ticket assigned")
    TASK_ADDED = "task_added", _("task added to ticket")
    MANUAL = "manual", _("sent directly")


class Audience(models.TextChoices):
    CUSTOMER = "customer", _("customer")
    ASSIGNEE = "assignee", _("assigned agent")
    GROUP = "group", _("recipient group")


def _gateway_choices() -> list[tuple[str, str]]:
    return registry.choices()


def _validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("%(value)s is not a known time zone (use a name like Asia/Kolkata)."),
            params={"value": value},
        ) from None


def _validate_currency(value: str) -> None:
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise ValidationError(
            _("%(value)s is not an ISO 4217 currency code (three capital letters, e.g. INR)."),
            params={"value": value},
        )


def _validate_region(value: str) -> None:
    if len(value) != 2 or not value.isascii() or not value.isalpha():
        raise ValidationError(
            _("%(value)s is not a two-letter region code (e.g. IN, NG, NL)."),
            params={"value": value},
        )


def _rate_field(label: Any, help_text: Any) -> models.PositiveIntegerField[Any, Any]:
    """A provider's limit of messages per second or minute (ratelimit.py); empty for none."""
    return models.PositiveIntegerField(
        label, null=True, blank=True, validators=[MinValueValidator(1)], help_text=help_text
    )


#: The longest API key or password accepted (as typed, before encryption).
CREDENTIAL_MAX_LENGTH = 255

#: Provider fields stored encrypted and never shown.
CREDENTIAL_FIELDS = ("api_key", "password", "callback_secrets")

#: Options the outbox reads for every gateway (adapters document their own in option_help).
OUTBOX_OPTIONS: dict[str, str] = {
    "scheduling": "'local' (default): the app holds scheduled messages until due; "
    "'gateway': hand them to the gateway's own scheduler at once",
    "max_numbers": "at most this many numbers in one gateway request",
    "help_reply": "the text sent back when a customer texts HELP through this provider "
    "(default: the HELP_REPLY setting; docs/replies.md)",
    "opt_out_reply": "the confirmation of a STOP texted through this provider, e.g. in its "
    "customers' language; empty for none (default: the OPT_OUT_REPLY setting)",
    "opt_in_reply": "the confirmation of a START texted through this provider; empty for "
    "none (default: the OPT_IN_REPLY setting)",
}


#: How the credential fields are named in messages.
CREDENTIAL_LABELS = {"username": "username", "api_key": "API key", "password": "password"}


class ProviderQuerySet(models.QuerySet["Provider"]):
    def active(self) -> ProviderQuerySet:
        return self.filter(is_active=True)

    def preferred(self) -> Provider | None:
        """The active provider used when none is named: lowest priority number first."""
        return self.active().order_by("priority", "pk").first()


class Provider(models.Model):
    """One configured SMS gateway account."""

    name = models.CharField(
        _("name"), max_length=100, unique=True, help_text=_("How operators refer to it.")
    )
    gateway = models.CharField(
        _("gateway"),
        max_length=30,
        choices=_gateway_choices,
        help_text=_("Which gateway protocol this account speaks."),
    )
    base_url = models.URLField(
        _("base URL"),
        blank=True,
        help_text=_("The gateway's address, e.g. http://www.canlog.in (no trailing path)."),
    )
    api_key = EncryptedTextField(
        _("API key"),
        blank=True,
        validators=[MaxLengthValidator(CREDENTIAL_MAX_LENGTH)],
        help_text=_(
            "Write-only: never shown again, stored encrypted. Leave empty to keep the stored key."
        ),
    )
    username = models.CharField(
        _("username"), max_length=150, blank=True, help_text=_("Account login, when no API key.")
    )
    password = EncryptedTextField(
        _("password"),
        blank=True,
        validators=[MaxLengthValidator(CREDENTIAL_MAX_LENGTH)],
        help_text=_(
            "Write-only: never shown again, stored encrypted. Leave empty to keep the stored "
            "password."
        ),
    )
    options = models.JSONField(
        _("gateway options"),
        default=dict,
        blank=True,
        help_text=_(
            'Gateway-specific settings as JSON, e.g. {"channel": "Trans", "route": "15"} for '
            "Canlog. See the gateway's documentation page."
        ),
    )
    default_sender = models.ForeignKey(
        "SenderID",
        verbose_name=_("default sender ID"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Used when a message names no sender."),
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"),
        default=100,
        help_text=_("Lower numbers are preferred when no provider is named."),
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive providers send nothing.")
    )
    low_balance_threshold = models.DecimalField(
        _("low-balance threshold"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Warn the site admins once when a balance falls below this amount."),
    )
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        default="UTC",
        validators=[_validate_timezone],
        help_text=_("The gateway's clock, for scheduled sends (e.g. Asia/Kolkata)."),
    )
    default_region = models.CharField(
        _("default region"),
        max_length=2,
        blank=True,
        help_text=_(
            "Region for numbers written without a country code (IN, NG, AZ, NL…); empty for "
            "the site's HELPDESK_SMS['DEFAULT_REGION']."
        ),
    )
    allowed_countries = models.CharField(
        _("allowed destination countries"),
        max_length=200,
        blank=True,
        help_text=_(
            "Comma-separated regions this provider may text (e.g. 'IN,NP'); empty for any. "
            "A number elsewhere is refused: protection against SMS pumping."
        ),
    )
    price_per_part = models.DecimalField(
        _("price per SMS part"),
        max_digits=12,  # prices like 0.0035 a part; totals up to 99,999,999.9999
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_(
            "What the gateway charges for one SMS part, in the currency below; empty when "
            "unknown (costs are then not shown). Per-country prices below take precedence."
        ),
    )
    currency = models.CharField(
        _("currency"),
        max_length=3,
        blank=True,
        validators=[_validate_currency],
        help_text=_("ISO 4217 code of the prices, e.g. INR, EUR, NGN."),
    )
    rate_per_second = _rate_field(
        _("messages per second"),
        _(
            "The most messages the gateway takes in one second, counted across every worker; "
            "empty for no limit. Messages over it wait for the next second, never dropped."
        ),
    )
    rate_per_minute = _rate_field(
        _("messages per minute"),
        _(
            "The most messages the gateway takes in one minute, counted across every worker; "
            "empty for no limit. Messages over it wait for the next minute, never dropped."
        ),
    )
    callback_secrets = EncryptedTextField(
        _("callback secrets"),
        blank=True,
        help_text=_(
            "Write-only, stored encrypted. Secrets accepted in this provider's delivery-report "
            "URL, one per line; several during a rotation. Leave empty to keep the stored ones."
        ),
    )
    country_profile = country_profiles.profile_field(
        _(
            "The destination country's rules: sender ID format, SMS part limit, default "
            "quiet hours, whether a registered (DLT) template id is required, Nigeria's DND "
            "route for smsclone. Empty: none. See docs/compliance.md, “Country profiles”."
        ),
    )
    credentials_changed_at = models.DateTimeField(
        _("credentials last changed"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When the API key, password or callback secrets were last set or cleared."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ProviderQuerySet.as_manager()

    #: The credential values as last read or written, to notice a change on save.
    _saved_credentials: tuple[str, str, str] = ("", "", "")

    class Meta:
        verbose_name = _("SMS provider")
        verbose_name_plural = _("SMS providers")
        ordering = ("priority", "name")

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Stamp ``credentials_changed_at`` whenever a credential differs from the stored one."""
        current = self._credentials()
        update_fields = kwargs.get("update_fields")
        writes_credentials = update_fields is None or bool(
            set(update_fields) & set(CREDENTIAL_FIELDS)
        )
        if writes_credentials and current != self._saved_credentials:
            self.credentials_changed_at = timezone.now()
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "credentials_changed_at"}
        super().save(*args, **kwargs)
        if writes_credentials:
            self._saved_credentials = current

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Provider:
        instance = super().from_db(db, field_names, values)
        instance._saved_credentials = instance._credentials()
        return instance

    def _credentials(self) -> tuple[str, str, str]:
        # A deferred field is not read just to compare it (that would decrypt it).
        deferred = self.get_deferred_fields()
        return tuple(  # type: ignore[return-value]
            "" if name in deferred else getattr(self, name) or "" for name in CREDENTIAL_FIELDS
        )

    def gateway_class(self) -> type[Gateway]:
        return registry.gateway_class(self.gateway)

    def get_gateway(self) -> Gateway:
        return self.gateway_class()(self)

    def scheduling(self) -> str:
        """The ``scheduling`` option as set: ``local`` (the default) or ``gateway``."""
        return (self.options or {}).get("scheduling", "local")

    def schedules_at_gateway(self) -> bool:
        """Messages for later go to the gateway at once with their send time, for it to hold.

        Only when asked for (option ``scheduling: "gateway"``) and the gateway can; otherwise
        the app holds them until due.
        """
        return self.scheduling() == "gateway" and self.gateway_class().has(Capability.SCHEDULE)

    def numbers_per_request(self) -> int:
        """At most this many numbers in one gateway request: the ``max_numbers`` option, else
        the gateway's own default (never less than one)."""
        default = self.gateway_class().max_numbers_per_request
        return int((self.options or {}).get("max_numbers", default)) or 1

    def secret_values(self) -> list[str]:
        return [v for v in (self.api_key, self.password, *self.callback_secret_list()) if v]

    def callback_secret_list(self) -> list[str]:
        """The secrets a delivery-report URL may carry (rotation: more than one)."""
        return [line.strip() for line in self.callback_secrets.splitlines() if line.strip()]

    def allowed_country_list(self) -> list[str]:
        return [c.strip().upper() for c in self.allowed_countries.split(",") if c.strip()]

    def missing_credentials(self, cls: type[Gateway]) -> dict[str, str]:
        """{field: why} for an active provider lacking what its gateway logs in with.

        The gateway declares the sets it accepts (``credential_sets``); the set closest to
        complete names the missing fields. An inactive provider may be saved half set up.
        """
        if not self.is_active or not cls.credential_sets:
            return {}
        present = {name for name in CREDENTIAL_LABELS if getattr(self, name)}
        # The set missing fewest fields; on a tie the gateway's first (its usual way).
        closest = min(cls.credential_sets, key=lambda needed: len(needed - present))
        if closest <= present:
            return {}
        label = cls.verbose_name or cls.name
        ways = ", or the ".join(
            " and ".join(CREDENTIAL_LABELS[name] for name in CREDENTIAL_LABELS if name in needed)
            for needed in cls.credential_sets
        )
        return {
            name: _(
                "%(gateway)s logs in with the %(ways)s: the %(field)s is missing. Enter it, or "
                "untick “active” until you have it."
            )
            % {"gateway": label, "ways": ways, "field": CREDENTIAL_LABELS[name]}
            for name in CREDENTIAL_LABELS
            if name in closest - present
        }

    def clean(self) -> None:
        super().clean()
        try:
            cls = self.gateway_class()
        except (KeyError, ImportError) as exc:
            raise ValidationError({"gateway": str(exc)}) from None
        if not isinstance(self.options, dict):
            raise ValidationError({"options": _("Gateway options must be a JSON object.")})
        known = set(cls.option_help) | set(OUTBOX_OPTIONS)
        unknown = sorted(set(self.options) - known)
        if unknown:
            raise ValidationError(
                {
                    "options": _(
                        "%(gateway)s does not know the option(s) %(keys)s; known: %(known)s"
                    )
                    % {
                        "gateway": cls.verbose_name or cls.name,
                        "keys": ", ".join(unknown),
                        "known": ", ".join(sorted(known)),
                    }
                }
            )
        gateway = cls(self)
        problems = (
            gateway.option_errors() + gateway.inbound_option_errors() + gateway.dlt_option_errors()
        )
        from .consent_models import reply_option_errors

        problems = [*problems, *reply_option_errors(self.options)]
        if problems:
            raise ValidationError({"options": [p[0].upper() + p[1:] + "." for p in problems]})
        scheduling = self.scheduling()
        if scheduling not in ("local", "gateway"):
            raise ValidationError({"options": _("scheduling must be 'local' or 'gateway'.")})
        if scheduling == "gateway" and Capability.SCHEDULE not in cls.capabilities:
            raise ValidationError(
                {
                    "options": _(
                        "%(gateway)s cannot schedule messages: use scheduling 'local' "
                        "(the app holds them until they are due)."
                    )
                    % {"gateway": cls.verbose_name or cls.name}
                }
            )
        for region in self.allowed_country_list():
            if len(region) != 2 or not region.isalpha():
                raise ValidationError(
                    {
                        "allowed_countries": _("%(value)s is not a two-letter region code.")
                        % {"value": region}
                    }
                )
        if self.default_region and (
            len(self.default_region) != 2 or not self.default_region.isalpha()
        ):
            raise ValidationError(
                {"default_region": _("Use a two-letter region code such as IN, NG, AZ or NL.")}
            )
        if self.currency:
            self.currency = self.currency.strip().upper()
        if self.price_per_part is not None and not self.currency:
            raise ValidationError(
                {"currency": _("Give the currency of the price (ISO 4217 code, e.g. INR).")}
            )
        sender = self.default_sender if self.default_sender_id else None
        if sender is not None and sender.provider_id != self.pk:
            raise ValidationError(
                {"default_sender": _("The default sender must belong to this provider.")}
            )
        profile = country_profiles.get(self.country_profile)
        if sender is not None and profile is not None and profile.sender_error(sender.value):
            raise ValidationError({"default_sender": profile.sender_error(sender.value)})
        missing = self.missing_credentials(cls)
        if missing:
            raise ValidationError(missing)


class ProviderPrice(models.Model):
    """The price of one SMS part to numbers of one destination country, on one provider."""

    provider = models.ForeignKey(
        Provider,
        verbose_name=_("provider"),
        on_delete=models.CASCADE,
        related_name="prices",
        help_text=_("The gateway account the price is for."),
    )
    region = models.CharField(
        _("destination country"),
        max_length=2,
        validators=[_validate_region],
        help_text=_("Two-letter region code of the numbers this price is for (IN, NG, NL…)."),
    )
    price_per_part = models.DecimalField(
        _("price per SMS part"),
        max_digits=12,  # prices like 0.0035 a part; totals up to 99,999,999.9999
        decimal_places=4,
        help_text=_("In the provider's currency."),
    )

    class Meta:
        verbose_name = _("price per country")
        verbose_name_plural = _("prices per country")
        ordering = ("provider", "region")
        constraints = [
            models.UniqueConstraint(fields=["provider", "region"], name="hsms_price_unique")
        ]

    def __str__(self) -> str:
        return f"{self.region}: {self.price_per_part}"

    def clean(self) -> None:
        super().clean()
        self.region = (self.region or "").strip().upper()


class SenderID(models.Model):
    """An approved sender name or number on one provider."""

    provider = models.ForeignKey(
        Provider,
        verbose_name=_("provider"),
        on_delete=models.CASCADE,
        related_name="senders",
        help_text=_("The gateway account this sender ID is approved on."),
    )
    value = models.CharField(
        _("sender ID"),
        max_length=32,
        validators=[validate_sendable_text],
        help_text=_("Exactly as approved by the gateway."),
    )
    description = models.CharField(
        _("description"), max_length=200, blank=True, help_text=_("What it is used for.")
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive sender IDs are not offered.")
    )
    registered_template_id = models.CharField(
        _("default registered template id"),
        max_length=64,
        blank=True,
        help_text=_(
            "India's DLT: the template id for messages from this sender that name none "
            "themselves (before the provider's dlt_template_id option)."
        ),
    )
    registered_entity_id = models.CharField(
        _("default registered entity id"),
        max_length=64,
        blank=True,
        help_text=_(
            "India's DLT: the principal entity id (PE ID) for messages from this sender that "
            "name none themselves (before the provider's dlt_entity_id option)."
        ),
    )

    class Meta:
        verbose_name = _("sender ID")
        verbose_name_plural = _("sender IDs")
        ordering = ("provider", "value")
        constraints = [
            models.UniqueConstraint(fields=["provider", "value"], name="hsms_sender_unique")
        ]

    def __str__(self) -> str:
        return f"{self.value} ({self.provider})"

    def clean(self) -> None:
        super().clean()
        if not self.provider_id:
            return
        problems = self.provider.gateway_class()(self.provider).sender_errors(self.value)
        if problems:
            raise ValidationError({"value": [p[0].upper() + p[1:] + "." for p in problems]})
        profile = country_profiles.get(self.provider.country_profile)
        if profile is not None and profile.sender_error(self.value):
            raise ValidationError({"value": profile.sender_error(self.value)})


class Contact(models.Model):
    """A person who can be texted as a member of recipient groups."""

    name = models.CharField(_("name"), max_length=150, help_text=_("Who this is."))
    phone = models.CharField(
        _("phone"), max_length=20, help_text=_("Mobile number in international form, +CC…")
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive contacts are skipped.")
    )
    opted_out = models.BooleanField(
        _("opted out"),
        default=False,
        help_text=_("The person asked not to be texted: messages to them are suppressed."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ("name",)
        indexes = [models.Index(fields=["phone"], name="hsms_contact_phone")]

    def __str__(self) -> str:
        return f"{self.name} ({self.phone})"

    def clean(self) -> None:
        from .phones import PhoneNumberError, normalize

        super().clean()
        try:
            self.phone = normalize(self.phone)
        except PhoneNumberError as exc:
            raise ValidationError({"phone": str(exc)}) from None


class RecipientGroup(models.Model):
    """Named set of contacts, optionally mirrored by a group kept on the gateway."""

    name = models.CharField(_("name"), max_length=100, unique=True, help_text=_("Group name."))
    description = models.TextField(_("description"), blank=True, help_text=_("What it is for."))
    members = models.ManyToManyField(
        Contact,
        verbose_name=_("members"),
        blank=True,
        related_name="groups",
        help_text=_("Contacts texted when a message goes to this group."),
    )
    provider = models.ForeignKey(
        Provider,
        verbose_name=_("provider"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="groups",
        help_text=_("With a provider-side group id: send once to the gateway's own group."),
    )
    provider_group_id = models.CharField(
        _("provider-side group id"),
        max_length=100,
        blank=True,
        help_text=_("The group's id on the gateway (Canlog groupid); empty to text members."),
    )

    class Meta:
        verbose_name = _("recipient group")
        verbose_name_plural = _("recipient groups")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if bool(self.provider_id) != bool(self.provider_group_id):
            raise ValidationError(
                _("A provider-side group needs both a provider and its group id.")
            )


class NotificationTemplate(models.Model):
    """The text sent to one audience when one event happens (the notification rule)."""

    name = models.CharField(_("name"), max_length=100, help_text=_("For operators."))
    event = models.CharField(
        _("event"), max_length=30, choices=Event.choices, help_text=_("What triggers it.")
    )
    audience = models.CharField(
        _("audience"), max_length=20, choices=Audience.choices, help_text=_("Who is texted.")
    )
    body = models.TextField(
        _("body"),
        validators=[validate_sendable_text],
        help_text=_(
            "Django template syntax, e.g. 'Ticket #{{ ticket.pk }} received: {{ ticket.title }}'."
        ),
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Only active templates send.")
    )
    group = models.ForeignKey(
        RecipientGroup,
        verbose_name=_("recipient group"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text=_("For the 'recipient group' audience: who receives it."),
    )
    provider = models.ForeignKey(
        Provider,
        verbose_name=_("provider"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        help_text=_("Send through this provider; empty for the preferred active one."),
    )
    sender = models.ForeignKey(
        SenderID,
        verbose_name=_("sender ID"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        help_text=_("Empty for the provider's default sender."),
    )
    registered_template_id = models.CharField(
        _("registered template id"),
        max_length=64,
        blank=True,
        help_text=_(
            "The id this text is registered under where regulation requires (India's DLT)."
        ),
    )
    registered_entity_id = models.CharField(
        _("registered entity id"),
        max_length=64,
        blank=True,
        help_text=_(
            "India's DLT: the principal entity id (PE ID) the template is registered by; "
            "empty for the sender's, else the provider's dlt_entity_id option."
        ),
    )
    registered_pattern = models.TextField(
        _("registered pattern"),
        blank=True,
        help_text=_(
            "India's DLT: the text exactly as registered, {#var#} where a value goes. "
            "Each rendered message is checked against it and not sent when it differs."
        ),
    )
    gateway_options = models.JSONField(
        _("gateway options"),
        default=dict,
        blank=True,
        help_text=_(
            'Per-message options of the provider\'s gateway, e.g. {"route": "22", "channel": '
            "\"Promo\"} for Canlog: they override the provider's own for this template's "
            "messages. Needs a provider; see the gateway's documentation page."
        ),
    )
    smart_replace = models.BooleanField(
        _("replace typographic characters"),
        default=False,
        help_text=_(
            "Turn curly quotes, dashes, ellipses and non-breaking spaces into their GSM "
            "look-alikes, so a pasted ’ does not make the message Unicode (2-3x the parts)."
        ),
    )
    priority = models.CharField(
        _("priority"),
        max_length=8,
        choices=Priority.choices,
        default=Priority.NORMAL,
        help_text=_(
            "Critical messages are always sent; normal ones are held (queued, with the reason) "
            "while a budget cap of their provider, or an overall one, is reached."
        ),
    )
    hourly_limit_per_number = models.PositiveSmallIntegerField(
        _("messages per number per hour"),
        null=True,
        blank=True,
        help_text=_(
            "At most this many messages of this event to one number in an hour; more are "
            "suppressed with the reason. Empty: the site's setting (NUMBER_HOURLY_LIMIT, 3, "
            "for customers; AGENT_HOURLY_LIMIT, 30, for agents); 0: no limit."
        ),
    )
    quiet_hours = models.CharField(
        _("quiet hours"),
        max_length=20,
        blank=True,
        help_text=_(
            "Local hours of the recipient when this template sends nothing, e.g. "
            "21:00-08:00 (may wrap midnight): a message due then waits, scheduled, until "
            "the window opens. Empty: the site's HELPDESK_SMS['QUIET_HOURS']; 'off': none."
        ),
    )
    urgent = models.BooleanField(
        _("urgent"),
        default=False,
        help_text=_(
            "Sent at once, whatever the quiet hours: e.g. an assignment to an on-call agent."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("notification template")
        verbose_name_plural = _("notification templates")
        ordering = ("event", "audience", "name")
        indexes = [models.Index(fields=["event", "is_active"], name="hsms_template_event")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        errors: dict[str, Any] = {}
        body_error = self.body_error()
        if body_error:
            errors["body"] = body_error
        if self.audience == Audience.GROUP and not self.group_id:
            errors["group"] = _("Choose the group this template texts.")
        if self.audience != Audience.GROUP and self.group_id:
            errors["group"] = _("Only the 'recipient group' audience uses a group.")
        sender = self.sender if self.sender_id and self.provider_id else None
        if sender is not None and sender.provider_id != self.provider_id:
            errors["sender"] = _("This sender ID belongs to another provider.")
        problems = self.gateway_option_errors()
        if problems:
            errors["gateway_options"] = problems
        quiet = self.quiet_hours_error()
        if quiet:
            errors["quiet_hours"] = quiet
        errors.update(self.dlt_errors())
        errors.update(self.profile_errors())
        other = self.active_twin()
        if other is not None:
            errors[NON_FIELD_ERRORS] = self.twin_error(other)
        if errors:
            raise ValidationError(errors)

    def dlt_errors(self) -> dict[str, Any]:
        """A registered pattern must be written right and belong to a template id."""
        from .dlt import pattern_errors

        errors: dict[str, Any] = {}
        problems = pattern_errors(self.registered_pattern)
        if problems:
            errors["registered_pattern"] = [p[0].upper() + p[1:] + "." for p in problems]
        elif self.registered_pattern.strip() and not self.registered_template_id.strip():
            errors["registered_template_id"] = _(
                "A registered pattern is registered under a template id: enter it."
            )
        return errors

    def pinned_provider(self) -> Provider | None:
        """The provider the template always sends through (its own, or its sender's)."""
        if self.provider_id:
            return self.provider
        sender = self.sender if self.sender_id else None
        return sender.provider if sender is not None else None

    def profile_errors(self) -> dict[str, Any]:
        """A pinned provider whose country profile requires a registered template id needs
        one here (or a default on the sender): its operators drop texts without."""
        provider = self.pinned_provider()
        if provider is None:
            return {}
        profile = country_profiles.get(provider.country_profile)
        if profile is None or not profile.registered_template_required:
            return {}
        sender = self.sender if self.sender_id else None
        if self.registered_template_id.strip():
            return {}
        if sender is not None and sender.registered_template_id.strip():
            return {}
        if str((provider.options or {}).get("dlt_template_id") or "").strip():
            return {}
        return {
            "registered_template_id": _(
                "Provider %(provider)s has the %(profile)s profile, which requires a "
                "registered (DLT) template id: enter it."
            )
            % {"provider": provider.name, "profile": profile.name}
        }

    def body_error(self) -> str:
        """What is wrong with the body (syntax, a variable the event lacks); "" if nothing.

        Also what the live preview shows while the body is being typed.
        """
        from .rendering import TemplateRenderError, unknown_variables

        try:
            unknown = unknown_variables(self.body, self.event) if self.event else []
        except TemplateRenderError as exc:
            return str(exc)
        if not unknown:
            return ""
        return ngettext(
            "%(names)s is not a template variable for the “%(event)s” event; the "
            "variables are listed below the body.",
            "%(names)s are not template variables for the “%(event)s” event; the "
            "variables are listed below the body.",
            len(unknown),
        ) % {
            "names": ", ".join(f"{{{{ {name} }}}}" for name in unknown),
            "event": Event(self.event).label,
        }

    def active_twin(self) -> NotificationTemplate | None:
        """Another active template this one, active too, would double every SMS with.

        Every active template of an event sends, so two for the same event, audience and
        provider (and group, for the group audience) text the same people twice.
        """
        if not (self.is_active and self.event and self.audience):
            return None
        twins = NotificationTemplate.objects.filter(
            is_active=True, event=self.event, audience=self.audience, provider=self.provider_id
        )
        if self.audience == Audience.GROUP:
            twins = twins.filter(group=self.group_id)
        if self.pk:
            twins = twins.exclude(pk=self.pk)
        return twins.order_by("pk").first()

    def twin_error(self, other: NotificationTemplate) -> str:
        return _(
            "The active template “%(other)s” (#%(pk)s) already texts this audience on this "
            "event through the same provider: both would send, doubling every SMS. "
            "Deactivate one of them, or change it."
        ) % {"other": other.name, "pk": other.pk}

    def quiet_hours_error(self) -> str:
        """What is wrong with ``quiet_hours`` (a sentence naming the rule); "" if nothing."""
        from .quiet_hours import OFF, parse

        value = (self.quiet_hours or "").strip()
        if not value or value.lower() == OFF:
            return ""
        try:
            parse(value, "Quiet hours")
        except ValueError as exc:
            return f"{exc} Leave it empty for the site's setting, or write 'off' for none."
        return ""

    def gateway_option_errors(self) -> list[str]:
        """Why the provider's gateway would refuse ``gateway_options`` (sentences)."""
        options = self.gateway_options
        if options in (None, {}):
            return []
        if not isinstance(options, dict):
            return [str(_("Gateway options must be a JSON object."))]
        provider = self.provider if self.provider_id else None
        if provider is None:
            return [str(_("Gateway options need a provider: choose the provider they are for."))]
        problems = provider.get_gateway().message_option_errors(options)
        return [p[0].upper() + p[1:] + "." for p in problems]


class GroupSend(models.Model):
    """One send to a recipient group's members from the admin: who, what, to how many.

    Its messages point back at it (``Message.group_send``), so the progress page counts them
    in one query. ``token`` comes from the confirmed form: a second submission of the same
    form (a double click, a refresh) finds this row instead of sending again.
    """

    group = models.ForeignKey(
        RecipientGroup,
        verbose_name=_("recipient group"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sends",
        help_text=_("The group whose members were texted (empty if it was deleted since)."),
    )
    group_name = models.CharField(
        _("group name"),
        max_length=100,
        help_text=_("The group's name when it was sent (kept if it is renamed or deleted)."),
    )
    template = models.ForeignKey(
        NotificationTemplate,
        verbose_name=_("template"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The template the texts were rendered from; empty for a text typed in."),
    )
    text = models.TextField(
        _("text"),
        help_text=_(
            "The text as typed, or the template's body; each message holds exactly what it sent."
        ),
    )
    provider = models.ForeignKey(
        Provider,
        verbose_name=_("provider"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The gateway account the messages go through."),
    )
    sender = models.CharField(
        _("sender ID"), max_length=32, blank=True, help_text=_("As sent to the gateway.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The operator who confirmed the send."),
    )
    created_at = models.DateTimeField(_("sent"), auto_now_add=True, db_index=True)
    token = models.CharField(
        _("form token"),
        max_length=32,
        unique=True,
        help_text=_(
            "Identifies the confirmed form: submitting the same form again finds this send "
            "instead of texting the group twice."
        ),
    )
    recipients = models.PositiveIntegerField(
        _("messages"), default=0, help_text=_("Messages created: one per member texted.")
    )
    skipped = models.JSONField(
        _("members skipped"),
        default=list,
        blank=True,
        help_text=_("Members not texted because of their number, with the reason for each."),
    )
    parts = models.PositiveIntegerField(
        _("parts"), default=0, help_text=_("SMS parts of all its messages together.")
    )
    estimated_cost = models.DecimalField(
        _("estimated cost"),
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("The messages' estimated costs added up; empty without a price."),
    )
    currency = models.CharField(
        _("currency"), max_length=3, blank=True, help_text=_("ISO 4217 code of the cost.")
    )

    class Meta:
        verbose_name = _("group send")
        verbose_name_plural = _("group sends")
        ordering = ("-created_at", "-pk")

    def __str__(self) -> str:
        return f"Group send #{self.pk} to {self.group_name}"


class MessageQuerySet(models.QuerySet["Message"]):
    def due(self, now: Any = None) -> MessageQuerySet:
        """Queued messages whose time has come (send_at and retry back-off passed)."""
        now = now or timezone.now()
        return self.filter(status=Status.QUEUED).filter(
            models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now)
        )


class Message(models.Model):
    """One SMS to one number, tracked to its final state."""

    recipient = models.CharField(
        _("recipient"), max_length=20, blank=True, help_text=_("E.164, e.g. +919812345678.")
    )
    country = models.CharField(
        _("destination country"),
        max_length=2,
        blank=True,
        help_text=_(
            "Two-letter region of the recipient's number (IN, NG, NL…), set when composed; "
            "empty for a group send or a number that is not one."
        ),
    )
    body = models.TextField(_("text"), blank=True, help_text=_("Exactly what is sent."))
    encoding = models.CharField(
        _("encoding"),
        max_length=8,
        default="gsm7",
        choices=[
            ("gsm7", "GSM-7"),
            ("ucs2", "UCS-2 (Unicode)"),
            ("latin1", "ISO-8859-1 (8-bit)"),
        ],
        help_text=_(
            "GSM-7 fits 160 characters a part; Unicode 70; ISO-8859-1 140, where the "
            "provider carries it."
        ),
    )
    parts = models.PositiveSmallIntegerField(
        _("parts"), default=1, help_text=_("SMS parts billed by the gateway.")
    )
    estimated_cost = models.DecimalField(
        _("estimated cost"),
        max_digits=12,  # prices like 0.0035 a part; totals up to 99,999,999.9999
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("Parts × the provider's price when it was composed; empty without a price."),
    )
    cost = models.DecimalField(
        _("cost"),
        max_digits=12,  # prices like 0.0035 a part; totals up to 99,999,999.9999
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_(
            "What the gateway billed, set when it accepted the message: the parts sent × the "
            "price (no gateway reports a charged amount). Never set for a message not sent."
        ),
    )
    currency = models.CharField(
        _("currency"), max_length=3, blank=True, help_text=_("ISO 4217 code of the costs.")
    )
    provider = models.ForeignKey(
        Provider,
        verbose_name=_("provider"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="messages",
        help_text=_("The gateway account it goes through."),
    )
    sender = models.CharField(
        _("sender ID"), max_length=32, blank=True, help_text=_("As sent to the gateway.")
    )
    flash = models.BooleanField(_("flash"), default=False, help_text=_("Shown immediately."))
    gateway_options = models.JSONField(
        _("gateway options"),
        default=dict,
        blank=True,
        help_text=_(
            "Per-message gateway options chosen by its template or send_sms call (Canlog "
            "route, channel), overriding the provider's."
        ),
    )
    is_test = models.BooleanField(
        _("test"),
        default=False,
        help_text=_(
            "Sent in the provider's test mode (1601SMS test=ja): the gateway checked it and "
            "sent nothing."
        ),
    )
    group = models.ForeignKey(
        RecipientGroup,
        verbose_name=_("provider-side group"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        help_text=_("Sent to the gateway's own group instead of one number."),
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=Status.choices,
        default=Status.QUEUED,
        db_index=True,
        help_text=_("Where the message is in its life."),
    )
    status_changed_at = models.DateTimeField(
        _("status changed"), default=timezone.now, help_text=_("When the status last changed.")
    )
    priority = models.CharField(
        _("priority"),
        max_length=8,
        choices=Priority.choices,
        default=Priority.NORMAL,
        help_text=_(
            "Critical: always sent. Normal: held while a budget cap is reached. From the "
            "template, or send_sms(priority=...)."
        ),
    )
    held_reason = models.CharField(
        _("held because"),
        max_length=255,
        blank=True,
        help_text=_(
            "Why a queued message is waiting (a budget cap reached); empty when it is not "
            "held. It goes out when the period turns or the cap is raised."
        ),
    )
    quiet_hours = models.BooleanField(
        _("held for quiet hours"),
        default=False,
        help_text=_(
            "Due inside its template's quiet hours in the recipient's local time, it was "
            "scheduled for the window's opening (send at); the reason is in its timeline."
        ),
    )
    provider_message_id = models.CharField(
        _("gateway message id"), max_length=100, blank=True, help_text=_("The gateway's id.")
    )
    provider_job_id = models.CharField(
        _("gateway job id"), max_length=100, blank=True, help_text=_("The gateway's batch id.")
    )
    error_category = models.CharField(
        _("error category"), max_length=30, blank=True, help_text=_("Normalized error kind.")
    )
    error_code = models.CharField(
        _("error code"), max_length=50, blank=True, help_text=_("The gateway's own code.")
    )
    error_text = models.TextField(
        _("error text"), blank=True, help_text=_("The gateway's words, or ours.")
    )
    attempts = models.PositiveSmallIntegerField(
        _("attempts"), default=0, help_text=_("Submissions tried (refused ones included).")
    )
    send_at = models.DateTimeField(
        _("send at"), null=True, blank=True, help_text=_("Deliver no earlier than this.")
    )
    next_attempt_at = models.DateTimeField(
        _("next attempt"), null=True, blank=True, help_text=_("When the outbox next tries.")
    )
    submitted_at = models.DateTimeField(
        _("submitted"), null=True, blank=True, help_text=_("When the gateway accepted it.")
    )
    claim_token = models.CharField(
        _("claimed by"),
        max_length=32,
        blank=True,
        help_text=_("The outbox pass that holds it while 'sending' (empty otherwise)."),
    )
    claimed_at = models.DateTimeField(
        _("claimed"),
        null=True,
        blank=True,
        help_text=_(
            "When the outbox last claimed it (or renewed its claim). An unsent claim older "
            "than HELPDESK_SMS['CLAIM_LEASE'] goes back to 'queued'."
        ),
    )
    request_started_at = models.DateTimeField(
        _("request started"),
        null=True,
        blank=True,
        help_text=_(
            "When its last gateway request began: from then on the gateway may have it, so "
            "it is never queued again automatically."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    purged_at = models.DateTimeField(
        _("purged on"),
        null=True,
        blank=True,
        help_text=_(
            "When its text, number and raw data were erased (retention, or an erasure "
            "request); its state, parts, cost, provider, country and times are kept."
        ),
    )
    idempotency_key = models.CharField(
        _("idempotency key"),
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Stops a repeated event from creating the message twice."),
    )
    event = models.CharField(
        _("event"),
        max_length=30,
        choices=Event.choices,
        default=Event.MANUAL,
        help_text=_("What caused it."),
    )
    audience = models.CharField(
        _("audience"),
        max_length=20,
        choices=Audience.choices,
        blank=True,
        help_text=_("Who it was for."),
    )
    template = models.ForeignKey(
        NotificationTemplate,
        verbose_name=_("template"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        help_text=_("The template it was rendered from."),
    )
    registered_template_id = models.CharField(
        _("registered template id"),
        max_length=64,
        blank=True,
        help_text=_("Sent to the gateway where regulation requires it."),
    )
    registered_entity_id = models.CharField(
        _("registered entity id"),
        max_length=64,
        blank=True,
        help_text=_("India's DLT principal entity id (PE ID), sent with the template id."),
    )
    ticket_type = models.ForeignKey(
        ContentType,
        verbose_name=_("ticket type"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        help_text=_("The host's ticket model."),
    )
    ticket_id = models.CharField(
        _("ticket id"), max_length=64, blank=True, help_text=_("The ticket's primary key.")
    )
    ticket = GenericForeignKey("ticket_type", "ticket_id")
    parent = models.ForeignKey(
        "self",
        verbose_name=_("group send"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="members",
        help_text=_("For a member of a gateway-side group: the group send it came from."),
    )
    resend_of = models.ForeignKey(
        "self",
        verbose_name=_("re-send of"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="resends",
        help_text=_(
            "For a re-send: the suppressed message it replaces (its cause fixed by an operator "
            "or a corrected number)."
        ),
    )

    route = models.ForeignKey(
        "helpdesk_sms.Route",
        verbose_name=_("route"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        help_text=_(
            "The route that chose its provider; empty when a provider was named (a template's, "
            "a call's) or no route matched and the preferred provider was used."
        ),
    )

    providers_tried = models.JSONField(
        _("providers tried"),
        default=list,
        blank=True,
        help_text=_(
            "The providers (ids) that provably did not take it before failover moved it on: "
            "it is never submitted to one of them again."
        ),
    )

    group_send = models.ForeignKey(
        GroupSend,
        verbose_name=_("sent to a recipient group"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        help_text=_("The admin's send to a recipient group that created it, if one did."),
    )

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS messages")
        ordering = ("-created_at", "-pk")
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="hsms_msg_due"),
            models.Index(fields=["provider", "provider_message_id"], name="hsms_msg_ref"),
            models.Index(fields=["ticket_type", "ticket_id"], name="hsms_msg_ticket"),
            models.Index(fields=["claim_token"], name="hsms_msg_claim"),
            # The dashboard: a period's messages by time, state, provider and country are
            # read from this index alone; a state's oldest or newest ones from the next.
            models.Index(
                fields=["created_at", "status", "provider", "country"], name="hsms_msg_dash"
            ),
            models.Index(fields=["status", "created_at"], name="hsms_msg_status_age"),
            # Budget caps: the normal-priority queued messages of a provider (held, or to be
            # held), and a period's spend by provider and currency (submitted_at first).
            models.Index(fields=["status", "priority", "provider"], name="hsms_msg_budget"),
            models.Index(fields=["submitted_at", "provider", "currency"], name="hsms_msg_spend"),
            # The hourly limit per number: one event's recent messages to a pass's numbers.
            models.Index(fields=["recipient", "event", "created_at"], name="hsms_msg_number_hour"),
            # Retention: the messages not purged yet, by age (a purge never re-reads the
            # purged history, however long).
            models.Index(
                fields=["created_at"],
                condition=models.Q(purged_at__isnull=True),
                name="hsms_msg_unpurged",
            ),
        ]

    def __str__(self) -> str:
        if self.recipient:
            to = self.recipient
        elif self.group_id:
            to = f"group {self.group}"
        elif self.parent_id:
            to = f"a member of group send #{self.parent_id}"
        else:
            to = "nobody"
        return f"SMS #{self.pk} to {to} ({self.get_status_display()})"


class GatewayExchange(models.Model):
    """One request to a gateway and its answer, stored once for all the messages it carried.

    A request of 100 numbers is one row here, referenced by its 100 messages' events, rather
    than 100 copies of the same request and answer. Everything is redacted before it is
    stored.
    """

    class Operation(models.TextChoices):
        SEND = "send", _("send")
        REPORTS = "reports", _("report poll")

    provider = models.ForeignKey(
        Provider,
        verbose_name=_("provider"),
        on_delete=models.CASCADE,
        related_name="exchanges",
        help_text=_("The gateway account the request went to."),
    )
    operation = models.CharField(
        _("operation"),
        max_length=10,
        choices=Operation.choices,
        default=Operation.SEND,
        help_text=_("What the request was for."),
    )
    started_at = models.DateTimeField(
        _("started"), help_text=_("When the request began (the gateway may have it from then).")
    )
    finished_at = models.DateTimeField(
        _("finished"), null=True, blank=True, help_text=_("When its answer (or failure) came.")
    )
    numbers = models.PositiveIntegerField(
        _("numbers"), default=0, help_text=_("How many messages the request carried.")
    )
    request = models.JSONField(
        _("request"), default=dict, blank=True, help_text=_("What was sent, credentials removed.")
    )
    response = models.JSONField(
        _("response"),
        null=True,
        blank=True,
        help_text=_("What the gateway answered, credentials removed."),
    )
    error = models.JSONField(
        _("error"),
        null=True,
        blank=True,
        help_text=_("Why the whole request failed, when it did: category, code, text."),
    )
    purged_at = models.DateTimeField(
        _("purged on"),
        null=True,
        blank=True,
        help_text=_("When its request and answer were erased (retention)."),
    )

    class Meta:
        verbose_name = _("gateway exchange")
        verbose_name_plural = _("gateway exchanges")
        ordering = ("-started_at", "-pk")
        indexes = [
            models.Index(
                fields=["started_at"],
                condition=models.Q(purged_at__isnull=True),
                name="hsms_exchange_unpurged",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} to {self.provider_id} at {self.started_at}"

    def as_data(self) -> dict[str, Any]:
        """The request and answer as the timeline shows them."""
        data: dict[str, Any] = {"request": self.request, "response": self.response}
        if self.error:
            data["error"] = self.error
        return data


class MessageEvent(models.Model):
    """One status change of a message, with who caused it and the raw gateway data."""

    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="events"
    )
    from_status = models.CharField(
        _("from"), max_length=12, choices=Status.choices, blank=True, help_text=_("Before.")
    )
    to_status = models.CharField(
        _("to"), max_length=12, choices=Status.choices, help_text=_("After.")
    )
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, help_text=_("What caused it.")
    )
    note = models.TextField(_("note"), blank=True, help_text=_("Why, in words."))
    data = models.JSONField(
        _("raw data"),
        default=dict,
        blank=True,
        help_text=_("What the gateway said about this message, credentials removed."),
    )
    exchange = models.ForeignKey(
        GatewayExchange,
        verbose_name=_("gateway exchange"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        help_text=_("The request and answer this event came from (shared by its batch)."),
    )
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("message event")
        verbose_name_plural = _("message events")
        ordering = ("created_at", "pk")

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status} ({self.source})"

    @property
    def full_data(self) -> dict[str, Any]:
        """The event's own data with its exchange's request and answer, for display."""
        exchange = self.exchange if self.exchange_id is not None else None
        if exchange is None:
            return self.data
        return {**exchange.as_data(), **(self.data or {})}


class BalanceSnapshot(models.Model):
    """A provider's balance as read at one moment."""

    provider = models.ForeignKey(
        Provider, verbose_name=_("provider"), on_delete=models.CASCADE, related_name="balances"
    )
    account = models.CharField(
        _("account"), max_length=50, blank=True, help_text=_("Channel or sub-account, e.g. Trans.")
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    unit = models.CharField(_("unit"), max_length=20, default="credits")
    raw = models.JSONField(_("raw data"), default=dict, blank=True)
    taken_at = models.DateTimeField(_("taken"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("balance snapshot")
        verbose_name_plural = _("balance snapshots")
        ordering = ("-taken_at", "-pk")
        indexes = [
            models.Index(fields=["provider", "account", "-taken_at"], name="hsms_balance_latest")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.account}: {self.amount} {self.unit}"

    @property
    def is_low(self) -> bool:
        threshold = self.provider.low_balance_threshold
        return threshold is not None and self.amount < threshold


class AgentProfile(models.Model):
    """An agent's phone and consent to be texted about assignments."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="sms_profile",
    )
    phone = models.CharField(
        _("phone"), max_length=20, blank=True, help_text=_("Mobile number, +CC…")
    )
    sms_opt_in = models.BooleanField(
        _("texts me on assignment"),
        default=True,
        help_text=_("Untick to stop assignment texts to this agent."),
    )

    class Meta:
        verbose_name = _("agent SMS profile")
        verbose_name_plural = _("agent SMS profiles")

    def __str__(self) -> str:
        return f"{self.user} ({self.phone or 'no phone'})"

    def clean(self) -> None:
        from .phones import PhoneNumberError, normalize

        super().clean()
        if self.phone:
            try:
                self.phone = normalize(self.phone)
            except PhoneNumberError as exc:
                raise ValidationError({"phone": str(exc)}) from None


class Dashboard(Message):
    """The operator's dashboard as an entry of the admin's app list (no table of its own).

    A proxy, so the admin index, the app index and the side bar list it like the models,
    linked to /admin/helpdesk_sms/dashboard/, with no template of the host's overridden.
    """

    class Meta:
        proxy = True
        verbose_name = _("SMS dashboard")
        verbose_name_plural = _("SMS dashboard")


# Imported last: the route, health, budget, consent, inbound and rate-window models refer to
# Provider and SenderID by name, and Django finds models only through this module.
from .budget_models import BudgetCap as BudgetCap  # noqa: E402
from .consent_models import ConsentChange as ConsentChange  # noqa: E402
from .consent_models import OptOut as OptOut  # noqa: E402
from .health_models import ProviderHealth as ProviderHealth  # noqa: E402
from .health_models import ProviderHealthChange as ProviderHealthChange  # noqa: E402
from .inbound_models import InboundMessage as InboundMessage  # noqa: E402
from .ratelimit_models import RateWindow as RateWindow  # noqa: E402
from .route_models import Route as Route  # noqa: E402
from .route_models import RouteHop as RouteHop  # noqa: E402
