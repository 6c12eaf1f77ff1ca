"""Turn a request to send into unsaved, fully validated Message rows.

Every entry point (``send_sms``, notifications, the CLI, the admin) composes through here,
so the same input gets the same verdict everywhere and nothing is written until all of it
is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from . import conf
from . import text as sms_text
from .exceptions import (
    EmptyText,
    InvalidRecipient,
    InvalidSchedule,
    InvalidSender,
    TextTooLong,
    UnknownProvider,
    UnsupportedFeature,
)
from .gateways.base import Capability
from .models import Message, Provider, RecipientGroup, SenderID
from .phones import PhoneNumberError, check_allowed, normalize
from .states import Status

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

    def supports(self, capability: Capability) -> bool:
        return self.gateway_class.has(capability)


def resolve_provider(provider: Provider | str | int | None) -> Provider:
    """The named (or preferred) active provider; UnknownProvider otherwise."""
    if isinstance(provider, Provider):
        found = provider
    elif provider in (None, ""):
        found = Provider.objects.preferred()
        if found is None:
            raise UnknownProvider("No active SMS provider is configured.")
        return found
    else:
        query = Provider.objects.filter(name=str(provider))
        if str(provider).isdigit():
            query = query | Provider.objects.filter(pk=int(provider))
        found = query.first()
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
    elif provider.default_sender_id:
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
    info = sms_text.analyze(body)
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
            f"({info.units} {'septets' if info.encoding == 'gsm7' else 'UCS-2 units'})."
        )
    return info


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


def uses_gateway_scheduling(provider: Provider) -> bool:
    """True when the provider hands scheduled messages to the gateway's own scheduler."""
    gateway = provider.gateway_class()
    return (
        gateway.has(Capability.SCHEDULE)
        and (provider.options or {}).get("scheduling", "local") == "gateway"
    )


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
    **fields: Any,
) -> Message:
    """An unsaved Message, or the SmsInputError that says what is wrong with the input."""
    now = now or timezone.now()
    chosen = resolve_provider(provider)
    route = Route(chosen, resolve_sender(chosen, sender))
    label = route.gateway_class.verbose_name or chosen.gateway
    info = check_text(route, body)
    if flash and not route.supports(Capability.FLASH):
        raise UnsupportedFeature(f"{label} cannot send flash messages.", field="flash")
    check_schedule(route, send_at, now)
    wants_gateway = (chosen.options or {}).get("scheduling") == "gateway"
    if send_at is not None and wants_gateway and not route.supports(Capability.SCHEDULE):
        raise UnsupportedFeature(
            f"{label} cannot schedule messages; set the provider's option scheduling to 'local'.",
            field="send_at",
        )
    if group is not None:
        if not (group.provider_id == chosen.pk and group.provider_group_id):
            raise InvalidRecipient(
                f"Group {group.name!r} has no group id on provider {chosen.name!r}.", field="group"
            )
        if not route.supports(Capability.GROUP):
            raise UnsupportedFeature(f"{label} cannot send to groups.", field="group")
        recipient = ""
    else:
        try:
            recipient = normalize(to or "", chosen.default_region or None)
            check_allowed(recipient, chosen.allowed_country_list(), provider_name=chosen.name)
        except PhoneNumberError as exc:
            raise InvalidRecipient(str(exc)) from None
    later = send_at is not None and send_at > now
    status = Status.SCHEDULED if later and not uses_gateway_scheduling(chosen) else Status.QUEUED
    return Message(
        recipient=recipient,
        body=body,
        encoding=info.encoding,
        parts=info.parts,
        provider=chosen,
        sender=route.sender,
        flash=flash,
        group=group,
        send_at=send_at,
        status=status,
        status_changed_at=now,
        **fields,
    )
