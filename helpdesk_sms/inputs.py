"""Type and character checks on what callers hand the public API, before anything else.

Python callers can pass anything: an int for a number, a string for a time, text with a
NUL or a lone surrogate (from a badly decoded form). Each is refused here with an
:class:`SmsInputError` naming the field and the rule, instead of a ``TypeError`` deep in
the composer or a database error at insert time, and nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .exceptions import SmsInputError

if TYPE_CHECKING:  # pragma: no cover
    from .gateways.base import DeliveryReport

#: Control characters (Unicode category Cc) other than line feed and carriage return, which
#: GSM-7 has, and lone surrogates, which no encoding can send.
_UNSENDABLE = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: The longest phone number we accept as typed (E.164 has 15 digits; spaces and signs).
MAX_NUMBER_LENGTH = 32
#: Message.idempotency_key's column.
MAX_IDEMPOTENCY_KEY_LENGTH = 255
#: notify()'s occurrence goes into that key beside the event, ticket and template ids.
MAX_OCCURRENCE_LENGTH = 100
#: Longest per-message gateway option name or value (a route id, a channel).
MAX_OPTION_LENGTH = 100


def check_text(value: Any, field: str, *, max_length: int | None = None) -> str:
    """``value`` if it is sendable text; SmsInputError naming ``field`` otherwise."""
    if not isinstance(value, str):
        raise SmsInputError(
            f"{field} must be text (a str), not {type(value).__name__}.", field=field
        )
    bad = _UNSENDABLE.search(value)
    if bad is not None:
        char, position = bad.group(), bad.start()
        if "\ud800" <= char <= "\udfff":
            rule = "an unpaired surrogate: it is not valid Unicode and cannot be sent"
        else:
            rule = "a control character; only line breaks can be sent by SMS"
        raise SmsInputError(
            f"{field} has U+{ord(char):04X} at position {position}, {rule}.", field=field
        )
    if max_length is not None and len(value) > max_length:
        raise SmsInputError(
            f"{field} has {len(value)} characters; at most {max_length} are allowed.",
            field=field,
        )
    return value


def validate_sendable_text(value: str) -> None:
    """The same rule as :func:`check_text`, as a model/form validator (admin, full_clean)."""
    from django.core.exceptions import ValidationError

    try:
        check_text(value, "the text")
    except SmsInputError as exc:
        raise ValidationError(exc.message[0].upper() + exc.message[1:], code="unsendable") from None


def check_numbers(to: Any) -> list[str]:
    """The numbers ``to`` names (one, or an iterable of them), each checked as text."""
    if to is None:
        return []
    if isinstance(to, str):
        return [check_text(to, "to", max_length=MAX_NUMBER_LENGTH)]
    if isinstance(to, bytes) or not isinstance(to, Iterable):
        raise SmsInputError(
            f"to must be a phone number as text, or a list of them, not {type(to).__name__}.",
            field="to",
        )
    numbers = list(to)
    for number in numbers:
        if not isinstance(number, str):
            raise SmsInputError(
                f"to must hold phone numbers as text, not {type(number).__name__} ({number!r}).",
                field="to",
            )
        check_text(number, "to", max_length=MAX_NUMBER_LENGTH)
    return numbers


def check_send_options(
    *,
    send_at: Any,
    flash: Any,
    idempotency_key: Any,
    smart_replace: Any,
    sender: Any,
    provider: Any,
    group: Any = None,
    gateway_options: Any = None,
    priority: Any = None,
) -> None:
    """The keyword arguments of ``send_sms`` other than the numbers and the text."""
    if send_at is not None and not isinstance(send_at, datetime):
        raise SmsInputError(
            f"send_at must be a date and time (a datetime), not {type(send_at).__name__}.",
            field="send_at",
        )
    for name, value in (("flash", flash), ("smart_replace", smart_replace)):
        if value is not None and not isinstance(value, bool):
            raise SmsInputError(
                f"{name} must be True or False, not {type(value).__name__}.", field=name
            )
    if idempotency_key is not None:
        check_text(idempotency_key, "idempotency_key", max_length=MAX_IDEMPOTENCY_KEY_LENGTH)
    if isinstance(sender, str):
        check_text(sender, "sender")
    if isinstance(group, str):
        check_text(group, "group")
    check_provider(provider)
    check_gateway_options(gateway_options)
    check_priority(priority)


def check_dlt(template_id: Any, entity_id: Any, pattern: Any) -> None:
    """India's DLT arguments: ids of at most 64 characters, a pattern written right."""
    from .dlt import pattern_errors

    for name, value in (
        ("registered_template_id", template_id),
        ("registered_entity_id", entity_id),
    ):
        if value is not None:
            check_text(value, name, max_length=64)
    if pattern is not None:
        check_text(pattern, "registered_pattern")
        problems = pattern_errors(pattern)
        if problems:
            raise SmsInputError(
                "registered_pattern: " + "; ".join(problems) + ".", field="registered_pattern"
            )


def check_priority(priority: Any) -> None:
    """``priority``: None (normal) or one of the Priority values."""
    from .exceptions import InvalidPriority
    from .states import Priority

    if priority is not None and priority not in Priority.values:
        raise InvalidPriority(
            f"priority must be one of {', '.join(Priority.values)}, not {priority!r}."
        )


def check_gateway_options(options: Any) -> None:
    """``gateway_options``: None or a mapping of option names to text or whole numbers.

    Which names and values are allowed is the provider's gateway's to say (the composer
    asks it); here only the shape, so a list or a nested dict never reaches it.
    """
    if options is None:
        return
    field = "gateway_options"
    if not isinstance(options, Mapping):
        raise SmsInputError(
            f"{field} must be a dict of option names to values, not {type(options).__name__}.",
            field=field,
        )
    for name, value in options.items():
        if not isinstance(name, str):
            raise SmsInputError(
                f"{field} names must be text, not {type(name).__name__} ({name!r}).", field=field
            )
        check_text(name, field, max_length=MAX_OPTION_LENGTH)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise SmsInputError(
                f"{field}[{name!r}] must be text or a whole number, not {type(value).__name__}.",
                field=field,
            )
        check_text(str(value), field, max_length=MAX_OPTION_LENGTH)


def check_provider(provider: Any) -> None:
    """A provider argument: a Provider, its name or its id (or None for the preferred one)."""
    if isinstance(provider, str):
        check_text(provider, "provider")
    elif provider is not None and (isinstance(provider, bool) or not _is_model_or_int(provider)):
        raise SmsInputError(
            f"provider must be a Provider, its name or its id, not {type(provider).__name__}.",
            field="provider",
        )


def check_notify_arguments(event: Any, ticket: Any, occurrence: Any, provider: Any) -> None:
    """What ``notify`` is called with, before the ticket is read or anything written."""
    from django.db.models import Model

    from .models import Event

    if event not in Event.values:
        raise SmsInputError(
            f"event must be one of {', '.join(Event.values)}, not {event!r}.", field="event"
        )
    if not isinstance(ticket, Model) or ticket.pk is None:
        kind = type(ticket).__name__ if not isinstance(ticket, Model) else "an unsaved ticket"
        raise SmsInputError(f"ticket must be a saved model instance, not {kind}.", field="ticket")
    if occurrence is not None:
        check_text(occurrence, "occurrence", max_length=MAX_OCCURRENCE_LENGTH)
    check_provider(provider)


#: Longest pushed parameter taken from a gateway (names and values): no real report needs more.
MAX_PUSHED_FIELD_LENGTH = 1000
#: Columns a delivery report's fields are written to (Message's), by DeliveryReport field.
REPORT_FIELD_LENGTHS = {
    "provider_message_id": 100,
    "error_code": 50,
    "error_text": MAX_PUSHED_FIELD_LENGTH,
    "number": MAX_NUMBER_LENGTH,
}


def check_pushed_fields(fields: Mapping[str, Any]) -> None:
    """A pushed query or form: every name and value sendable text of a sane length."""
    limit = MAX_PUSHED_FIELD_LENGTH
    for name in fields:
        check_text(str(name), "parameter name", max_length=limit)
        for value in fields.getlist(name) if hasattr(fields, "getlist") else [fields[name]]:
            check_text(str(value), f"parameter {str(name)[:40]!r}", max_length=limit)


def check_report(report: DeliveryReport) -> None:
    """A parsed delivery report's texts, before any of them reaches a query or a column."""
    for name, limit in REPORT_FIELD_LENGTHS.items():
        check_text(getattr(report, name) or "", name, max_length=limit)
    _check_nested(report.raw, "raw")


def _check_nested(value: Any, field: str) -> None:
    """Strings anywhere in a JSON-like value (PostgreSQL's jsonb refuses U+0000)."""
    if isinstance(value, str):
        check_text(value, field)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_nested(str(key), field)
            _check_nested(item, f"{field}.{str(key)[:40]}")
    elif isinstance(value, list | tuple):
        for item in value:
            _check_nested(item, field)


def _is_model_or_int(value: Any) -> bool:
    from .models import Provider

    return isinstance(value, Provider | int)
