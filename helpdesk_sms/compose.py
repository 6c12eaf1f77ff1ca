"""Turn a request to send into unsaved, fully validated Message rows.

Every entry point (``send_sms``, notifications, the CLI, the admin) composes through here,
so the same input gets the same verdict everywhere and nothing is written until all of it
is valid.

A :class:`Composer` checks what a request has in common (provider, sender, text, flash,
schedule) once; each recipient then costs only its number's check. A send to 10,000
numbers is one provider lookup, not 10,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from . import conf, country_profiles, dlt
from . import text as sms_text
from .exceptions import (
    EmptyText,
    InvalidGatewayOption,
    InvalidRecipient,
    InvalidSchedule,
    InvalidSender,
    TextTooLong,
    UnknownProvider,
    UnsupportedFeature,
)
from .gateways.base import Capability, Gateway
from .models import Message, MessageEvent, Provider, RecipientGroup, SenderID
from .phones import PhoneNumberError, check_allowed, country_of, normalize
from .pricing import PriceList
from .routing import RandomSource, RouteChoice, RouteTable
from .states import Source, Status

#: A send_at this far in the past still counts as "now" (clock skew, slow forms).
PAST_TOLERANCE = timedelta(minutes=1)


@dataclass
class Route:
    """Where and how a message goes: the provider, its sender and the gateway's abilities."""

    provider: Provider
    sender: str

    @property
    def gateway_class(self) -> Any:
        return self.provider.gateway_class()

    @property
    def gateway(self) -> Gateway:
        """The provider's adapter (no connection is made): what its options allow."""
        return self.provider.get_gateway()

    def supports(self, capability: Capability) -> bool:
        return self.gateway_class.has(capability)


def resolve_provider(provider: Provider | str | int | None) -> Provider:
    """The named (or preferred) active provider; UnknownProvider otherwise.

    One query, the default sender joined: the sender check needs it next.
    """
    providers = Provider.objects.select_related("default_sender")
    found: Provider | None
    if isinstance(provider, Provider):
        found = provider
    elif provider in (None, ""):
        found = providers.preferred()
        if found is None:
            raise UnknownProvider("No active SMS provider is configured.")
        return found
    else:
        match = Q(name=str(provider))
        if str(provider).isdigit():
            match |= Q(pk=int(str(provider)))
        found = providers.filter(match).first()
        if found is None:
            known = ", ".join(Provider.objects.values_list("name", flat=True)) or "none"
            raise UnknownProvider(f"Unknown provider {provider!r} (known: {known}).")
    if not found.is_active:
        raise UnknownProvider(f"Provider {found.name!r} is not active.")
    return found


def resolve_sender(provider: Provider, sender: SenderID | str | None) -> str:
    """The sender ID text: the given one, else the provider's default; checked by the gateway."""
    if isinstance(sender, SenderID):
        if sender.provider_id != provider.pk:
            raise InvalidSender(f"Sender ID {sender.value!r} belongs to another provider.")
        value = sender.value
    elif sender:
        value = str(sender)
    elif provider.default_sender is not None:
        value = provider.default_sender.value
    else:
        value = ""
    if not value:
        raise InvalidSender(
            f"Provider {provider.name!r} has no default sender ID; name one with the sender field."
        )
    problems = provider.get_gateway().sender_errors(value)
    if problems:
        raise InvalidSender(f"Invalid sender ID {value!r}: " + "; ".join(problems) + ".")
    return value


def check_text(route: Route, body: str) -> sms_text.TextInfo:
    """Encoding and parts of ``body``, refused when the gateway cannot carry it."""
    if not body or not body.strip():
        raise EmptyText("The text is empty.")
    # Asked before UCS-2 is settled on: a provider that carries ISO-8859-1 (Unified's
    # charset option) sends "Zoë" as 8-bit, 140 characters a part rather than 70.
    latin1 = sms_text.LATIN1 in route.gateway.text_encodings()
    info = sms_text.analyze(body, latin1=latin1)
    gateway = route.gateway_class
    label = gateway.verbose_name or gateway.name
    if info.is_unicode and not route.supports(Capability.UNICODE):
        index, char = info.unicode_chars[0]
        others = len(info.unicode_chars) - 1
        more = f" (and {others} more)" if others else ""
        raise UnsupportedFeature(
            f"{label} cannot send Unicode text; the {sms_text.describe(char)} at position "
            f"{index + 1}{more} is not in the GSM-7 alphabet: replace it, or turn on smart "
            "replacement.",
            field="text",
        )
    if gateway.max_parts and info.parts > gateway.max_parts:
        raise TextTooLong(
            f"{label} allows at most {gateway.max_parts} SMS parts; this text needs {info.parts} "
            f"({info.units} {info.unit_name})."
        )
    return info


def check_gateway_options(route: Route, options: Any) -> dict[str, str]:
    """Per-message gateway options (a template's, a call's) as the gateway will send them.

    Only what the provider's gateway lists in ``message_option_help``, with values its
    provider allows; InvalidGatewayOption naming the option otherwise.
    """
    if not options:
        return {}
    if not isinstance(options, dict):
        raise InvalidGatewayOption("gateway_options must be a JSON object of option names.")
    gateway = route.gateway
    problems = gateway.message_option_errors(options)
    if problems:
        raise InvalidGatewayOption(
            f"gateway_options for provider {route.provider.name!r}: " + "; ".join(problems) + "."
        )
    return gateway.clean_message_options(options)


def apply_smart_replace(body: str, enabled: bool | None) -> tuple[str, str]:
    """The body with typographic characters replaced when enabled (None: the site setting).

    Returns the text and a note saying what changed ("" when nothing did), for the message's
    first event: the operator should know the text sent is not quite the text written.
    """
    if enabled is None:
        enabled = bool(conf.get("SMART_REPLACE"))
    if not enabled:
        return body, ""
    replaced, changes = sms_text.smart_replace(body)
    if not changes:
        return body, ""
    pairs = ", ".join(f"{old!r} -> {new!r}" for old, new in changes)
    return replaced, f"typographic characters replaced to stay GSM-7: {pairs}"


def check_schedule(route: Route, send_at: datetime | None, now: datetime) -> None:
    if send_at is None:
        return
    if timezone.is_naive(send_at):
        raise InvalidSchedule("The send time needs a time zone (an aware datetime).")
    if send_at < now - PAST_TOLERANCE:
        raise InvalidSchedule(
            f"The send time {send_at.isoformat()} is in the past; it must be now or later."
        )


@dataclass
class Composer:
    """One request to send, checked once: every message it makes differs only by number.

    :meth:`start` raises what is wrong with the shared input, in the order ``compose``
    always checked it (provider, sender, text, flash, schedule); :meth:`number` and
    :meth:`message` then check only what each recipient adds.
    """

    route: Route
    now: datetime
    send_at: datetime | None = None
    flash: bool = False
    status: str = Status.QUEUED
    region: str | None = None
    allowed: list[str] = field(default_factory=list)
    gateway_options: dict[str, str] = field(default_factory=dict)
    via: RouteChoice | None = None
    note: str = ""  # why this provider, when something other than a route chose it
    _texts: dict[str, sms_text.TextInfo] = field(default_factory=dict, repr=False)
    _prices: PriceList | None = field(default=None, repr=False)
    _dlt: dict[tuple[str, str], dlt.DltIds] = field(default_factory=dict, repr=False)
    #: The sender's record, for its DLT defaults: given or the provider's default (no
    #: query), else read on first need (``_sender_known`` False).
    _sender: SenderID | None = field(default=None, repr=False)
    _sender_known: bool = field(default=False, repr=False)

    @classmethod
    def start(
        cls,
        *,
        provider: Provider | str | int | None = None,
        sender: SenderID | str | None = None,
        body: str | None = None,
        send_at: datetime | None = None,
        flash: bool = False,
        now: datetime | None = None,
        gateway_options: dict[str, Any] | None = None,
    ) -> Composer:
        """Resolve the route and check the shared input; ``body`` too when there is one."""
        now = now or timezone.now()
        chosen = resolve_provider(provider)
        route = Route(chosen, resolve_sender(chosen, sender))
        composer = cls(
            route=route,
            now=now,
            send_at=send_at,
            flash=flash,
            region=chosen.default_region or None,
            allowed=chosen.allowed_country_list(),
        )
        if isinstance(sender, SenderID):
            composer._sender, composer._sender_known = sender, True
        elif not sender:
            composer._sender, composer._sender_known = chosen.default_sender, True
        if body is not None:
            composer.text(body)
        label = composer.label
        if flash and not route.supports(Capability.FLASH):
            raise UnsupportedFeature(f"{label} cannot send flash messages.", field="flash")
        check_schedule(route, send_at, now)
        wants_gateway = chosen.scheduling() == "gateway"
        if send_at is not None and wants_gateway and not route.supports(Capability.SCHEDULE):
            raise UnsupportedFeature(
                f"{label} cannot schedule messages; set the provider's option scheduling to "
                "'local'.",
                field="send_at",
            )
        later = send_at is not None and send_at > now
        if later and not chosen.schedules_at_gateway():
            composer.status = Status.SCHEDULED
        composer.gateway_options = check_gateway_options(route, gateway_options)
        return composer

    @property
    def provider(self) -> Provider:
        return self.route.provider

    @property
    def label(self) -> str:
        return self.route.gateway_class.verbose_name or self.provider.gateway

    @property
    def profile(self) -> country_profiles.CountryProfile | None:
        """The messages' country profile: the route's, else the provider's (no query)."""
        route_profile = self.via.country_profile if self.via is not None else ""
        return country_profiles.effective(route_profile, self.provider.country_profile)

    @property
    def route_note(self) -> str:
        """Why this provider, for the message's first event ("" when none was routed)."""
        if self.note:
            return self.note
        if self.via is None:
            return ""
        return f"route {self.via.name!r} → {self.provider.name}"

    @property
    def prices(self) -> PriceList:
        """The provider's prices, read on first use: at most one query per composer."""
        if self._prices is None:
            self._prices = PriceList.for_provider(self.provider)
        return self._prices

    def text(self, body: str) -> sms_text.TextInfo:
        """Encoding and parts of ``body``, checked once per distinct text."""
        info = self._texts.get(body)
        if info is None:
            info = self._texts[body] = check_text(self.route, body)
        return info

    def number(self, to: str | None) -> str:
        """``to`` in E.164, or InvalidRecipient saying why this provider cannot text it."""
        try:
            recipient = normalize(to or "", self.region)
        except PhoneNumberError as exc:
            raise InvalidRecipient(str(exc)) from None
        return self.allowed_number(recipient)

    def allowed_number(self, e164: str) -> str:
        """An E.164 number this provider may text (its allowed countries), else
        InvalidRecipient: a routed number is normalized once, before its provider is known."""
        try:
            check_allowed(e164, self.allowed, provider_name=self.provider.name)
        except PhoneNumberError as exc:
            raise InvalidRecipient(str(exc)) from None
        return e164

    def check_group(self, group: RecipientGroup) -> None:
        """A provider-side group must live on this provider, whose gateway sends to groups."""
        if not (group.provider_id == self.provider.pk and group.provider_group_id):
            raise InvalidRecipient(
                f"Group {group.name!r} has no group id on provider {self.provider.name!r}.",
                field="group",
            )
        if not self.route.supports(Capability.GROUP):
            raise UnsupportedFeature(f"{self.label} cannot send to groups.", field="group")

    def message(
        self,
        *,
        to: str | None = None,
        body: str,
        group: RecipientGroup | None = None,
        recipient: str | None = None,
        registered_template_id: str = "",
        registered_entity_id: str = "",
        **fields: Any,
    ) -> Message:
        """An unsaved Message to ``to`` (checked here) or an already checked ``recipient``.

        Its DLT ids are the given ones, else the sender's or provider's defaults
        (:func:`~helpdesk_sms.dlt.resolve_ids`).
        """
        info = self.text(body)
        ids = self.dlt_ids(registered_template_id, registered_entity_id)
        self.check_profile(info, ids)
        if group is not None:
            self.check_group(group)
            recipient = ""
        elif recipient is None:
            recipient = self.number(to)
        return Message(
            recipient=recipient,
            country=country_of(recipient),
            body=body,
            encoding=info.encoding,
            parts=info.parts,
            # A gateway-side group's size is the gateway's to know: its members are
            # estimated and billed one by one when it accepts (outbox._record_group_members).
            estimated_cost=(
                None if group is not None else self.prices.estimate(info.parts, recipient)
            ),
            currency=self.prices.currency,
            provider=self.provider,
            sender=self.route.sender,
            flash=self.flash,
            group=group,
            send_at=self.send_at,
            status=self.status,
            status_changed_at=self.now,
            gateway_options=dict(self.gateway_options),
            registered_template_id=ids.template_id,
            registered_entity_id=ids.entity_id,
            route_id=self.via.pk if self.via is not None else None,
            **fields,
        )

    def check_profile(self, info: sms_text.TextInfo, ids: dlt.DltIds) -> None:
        """Refuse what the country profile forbids: a sender of another form
        (InvalidSender), too many parts (TextTooLong), no registered template id where
        one is required (RegisteredTemplateRequired)."""
        profile = self.profile
        if profile is None:
            return
        problem = profile.sender_error(self.route.sender)
        if problem:
            raise InvalidSender(problem)
        country_profiles.check_message(profile, parts=info.parts, template_id=ids.template_id)

    def dlt_ids(self, template_id: str, entity_id: str) -> dlt.DltIds:
        """The resolved DLT ids, read once per composer and pair of given ids."""
        key = (template_id or "", entity_id or "")
        ids = self._dlt.get(key)
        if ids is None:
            sender = None if all(key) else self.sender_record()
            ids = self._dlt[key] = dlt.resolve_ids(self.provider, sender, *key)
        return ids

    def sender_record(self) -> SenderID | None:
        """The SenderID the messages go from (None for a value no record has)."""
        if not self._sender_known:
            self._sender = SenderID.objects.filter(
                provider=self.provider, value=self.route.sender
            ).first()
            self._sender_known = True
        return self._sender


class Composers:
    """The composers of one send: the named provider's, or one per route and provider.

    A named provider (``provider=``) always wins. Otherwise each number takes its route
    (:mod:`~helpdesk_sms.routing`), read once per send, and the route's first provider (a
    weighted pick among equals); a number no route matches, or any number when there are no
    routes, goes to the preferred provider as before. Each distinct provider is checked once,
    when its first number arrives; numbers cost dictionary look-ups, not queries.
    """

    def __init__(
        self,
        *,
        provider: Provider | str | int | None = None,
        sender: SenderID | str | None = None,
        body: str | None = None,
        send_at: datetime | None = None,
        flash: bool = False,
        now: datetime | None = None,
        gateway_options: dict[str, Any] | None = None,
        table: RouteTable | None = None,
        rng: RandomSource | None = None,
    ) -> None:
        self._sender = sender
        self._common: dict[str, Any] = dict(
            body=body,
            send_at=send_at,
            flash=flash,
            now=now or timezone.now(),
            gateway_options=gateway_options,
        )
        self._rng = rng
        self._composers: dict[tuple[int | None, int | None], Composer] = {}
        pinned = provider not in (None, "")
        if pinned:
            self.table = RouteTable({}, {}, None)
        else:  # its read finds the preferred provider too: routing costs no query of its own
            self.table = table if table is not None else RouteTable.load()
        preferred = self.table.preferred
        #: Where a number without a country code is read before its route is known.
        self.region: str | None = (preferred.default_region or None) if preferred else None
        if not self.table:
            # Today's behaviour, its errors raised before any number's.
            self.region = self.for_route(None, provider).region

    @property
    def all(self) -> list[Composer]:
        """The composers made so far, in the order their first number came."""
        return list(self._composers.values())

    def for_number(self, to: str | None) -> tuple[Composer, str]:
        """The composer for ``to`` and ``to`` in E.164, checked for that provider."""
        if not self.table:
            composer = self._composers[(None, None)]
            return composer, composer.number(to)
        try:
            e164 = normalize(to or "", self.region)
        except PhoneNumberError as exc:
            raise InvalidRecipient(str(exc)) from None
        composer = self.for_route(self.table.route_for(e164))
        return composer, composer.allowed_number(e164)

    def for_route(self, choice: RouteChoice | None, unrouted: Any = None) -> Composer:
        """The composer of ``choice``'s first provider; for None, ``unrouted`` (a named
        provider) or the preferred one."""
        if choice is None:
            key: tuple[int | None, int | None] = (None, None)
            found = self._composers.get(key)
            if found is None:
                found = Composer.start(
                    provider=unrouted or self.table.preferred, sender=self._sender, **self._common
                )
        else:
            hop = choice.first(self._rng)
            key = (choice.pk, hop.provider.pk)
            found = self._composers.get(key)
            if found is None:
                sender = hop.sender or self._sender
                found = Composer.start(provider=hop.provider, sender=sender, **self._common)
                found.via = choice
        self._composers[key] = found
        return found


def compose(
    *,
    to: str | None,
    body: str,
    provider: Provider | str | int | None = None,
    sender: SenderID | str | None = None,
    send_at: datetime | None = None,
    flash: bool = False,
    group: RecipientGroup | None = None,
    now: datetime | None = None,
    gateway_options: dict[str, Any] | None = None,
    **fields: Any,
) -> Message:
    """An unsaved Message, or the SmsInputError that says what is wrong with the input."""
    composer = Composer.start(
        provider=provider,
        sender=sender,
        body=body,
        send_at=send_at,
        flash=flash,
        now=now,
        gateway_options=gateway_options,
    )
    return composer.message(to=to, body=body, group=group, **fields)


def creation_event(message: Message, note: str = "") -> MessageEvent:
    """The unsaved first event of a saved ``message`` (how it came to be), for a bulk
    insert."""
    return MessageEvent(
        message=message,
        from_status="",
        to_status=message.status,
        source=Source.CREATE,
        note=note,
        data={},
        created_at=message.status_changed_at,
    )
