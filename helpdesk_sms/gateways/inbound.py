"""Inbound SMS (a customer's reply) as a gateway pushes it: presets, field mapping, parsing.

No vendor document we hold describes an inbound push, so the shapes here are the ones
known in the field, and every name is editable per provider:

* ``generic``: ``from``, ``to``, ``text``, ``id``, ``time``, ``coding``, as Kannel-style
  (``get-url`` with ``from=%p&to=%P&text=%a&id=%I&time=%t&coding=%c``) and RouteSMS-style
  platforms push it, by GET or POST (form or JSON).
* ``sms1601``: 1601SMS's virtual-number push. **An assumption to confirm with the vendor**:
  it mirrors 1601SMS's documented delivery-notification push (a GET with Dutch parameter
  names, ``datum`` as ``yyyymmdduummss`` in the account's clock): ``van`` (from), ``naar``
  (to), ``bericht`` (text, the send API's word), ``smsid``, ``datum``.

A provider overrides names with the option ``inbound_fields`` (``{"sender": "msisdn"}``),
picks a preset with ``inbound_preset`` and a time format with ``inbound_time_format``.

Text coding (decided): when the encoding field says UCS-2 (Kannel's ``coding=2``, SMPP's
``8``, or ``ucs2``/``utf-16``/``unicode``) and the text is hexadecimal in groups of four,
it is read as UTF-16BE hex (``00480069`` is "Hi"); otherwise the text is taken as the
Unicode the request already carried (platforms that convert to UTF-8 still send the flag).
Raw UTF-16 bytes percent-encoded into a query are not read: they arrive with NUL characters
and are refused with 400 naming the text; configure hex or UTF-8 instead.

This module imports nothing from Django at load time, so the simulators read the presets.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

#: What we read from a push, by our name. ``sender`` and ``text`` are required.
FIELDS: tuple[str, ...] = ("sender", "recipient", "text", "gateway_id", "time", "encoding")
REQUIRED_FIELDS = frozenset({"sender", "text"})
#: Longest text, number, id and encoding taken from a push (a concatenated SMS is ~1,600).
FIELD_LIMITS = {
    "sender": 32,
    "recipient": 32,
    "text": 8000,
    "gateway_id": 100,
    "time": 64,
    "encoding": 20,
}
#: Encoding field values meaning UCS-2 (Kannel coding 2, SMPP data_coding 8, names).
UCS2_VALUES = frozenset({"2", "8", "ucs2", "ucs-2", "utf-16", "utf16", "utf-16be", "unicode"})
#: Other encoding values we name: Kannel's 0 and 1.
ENCODING_NAMES = {"0": "gsm7", "1": "8bit", "gsm7": "gsm7", "7bit": "gsm7", "8bit": "8bit"}
#: ``inbound_time_format`` value for seconds since 1970 (Kannel's ``%T``).
UNIX_TIME = "unix"
#: Without a gateway id or time, identical pushes inside one slot this long are one SMS.
DEDUP_SLOT_SECONDS = 600

_HEX_UTF16 = re.compile(r"(?:[0-9A-Fa-f]{4})+")


@dataclass(frozen=True)
class InboundPreset:
    """One known push shape: our field -> the parameter the gateway sends it in."""

    name: str
    description: str
    fields: Mapping[str, str]
    #: ``strptime`` formats tried in turn (or :data:`UNIX_TIME`), in the gateway's clock.
    time_formats: tuple[str, ...]
    #: How the gateway pushes (the simulators push this way; the endpoint takes any).
    method: str = "POST"


PRESETS: dict[str, InboundPreset] = {
    "generic": InboundPreset(
        name="generic",
        description="from/to/text/id/time/coding, as Kannel- and RouteSMS-style platforms push",
        fields={
            "sender": "from",
            "recipient": "to",
            "text": "text",
            "gateway_id": "id",
            "time": "time",
            "encoding": "coding",
        },
        time_formats=("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", UNIX_TIME),
    ),
    "sms1601": InboundPreset(
        name="sms1601",
        description=(
            "1601SMS virtual number (van/naar/bericht/smsid/datum): assumed from its "
            "delivery-notification push, to be confirmed with the vendor"
        ),
        fields={
            "sender": "van",
            "recipient": "naar",
            "text": "bericht",
            "gateway_id": "smsid",
            "time": "datum",
            "encoding": "",
        },
        time_formats=("%Y%m%d%H%M%S", "%Y%m%d%H%M"),
        method="GET",
    ),
}

#: Provider options every gateway with the INBOUND capability understands.
INBOUND_OPTION_HELP: dict[str, str] = {
    "inbound_preset": (
        "Shape of the gateway's inbound (reply) push: "
        + "; ".join(f"'{p.name}': {p.description}" for p in PRESETS.values())
        + ". Default: the gateway's own."
    ),
    "inbound_fields": (
        "Parameter names of the inbound push overriding the preset's, as a JSON object with "
        f'keys among {", ".join(FIELDS)}, e.g. {{"sender": "msisdn", "text": "message"}}; '
        "an empty name leaves an optional field unread."
    ),
    "inbound_time_format": (
        "strptime format of the pushed time (e.g. '%d/%m/%Y %H:%M:%S'), or 'unix'; "
        "default: the preset's. Read in the provider's time zone."
    ),
}


@dataclass
class InboundSms:
    """One SMS a customer sent us, as read from a push."""

    #: E.164 (``+919812345678``).
    sender: str
    #: Our number or sender ID it was sent to, as the gateway wrote it ("" when not sent).
    recipient: str
    text: str
    gateway_id: str = ""
    #: When the gateway says it received it; the time of the push when it does not say.
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: "gsm7", "8bit", "ucs2", or "" when the push does not say.
    encoding: str = ""
    #: Whether ``received_at`` came from the push (False: it is the push's own time).
    time_given: bool = False
    #: The pushed time as sent, for the deduplication key.
    time_text: str = ""

    def dedup_key(self) -> str:
        """Same SMS, same key: the gateway's id, else a hash of sender, text and time.

        Without a pushed time, the ten-minute slot of ``received_at`` stands in for it.
        """
        if self.gateway_id:
            return f"id:{self.gateway_id}"
        when = self.time_text or f"slot:{self._slot()}"
        return self._hashed(when)

    def earlier_dedup_key(self) -> str | None:
        """The key a first push of this SMS had if it came in the slot before (only keys made
        of a slot have one): a push at 12:09:59 and its repeat at 12:10:03 are one SMS."""
        if self.gateway_id or self.time_text:
            return None
        return self._hashed(f"slot:{self._slot() - 1}")

    def _slot(self) -> int:
        return int(self.received_at.timestamp()) // DEDUP_SLOT_SECONDS

    def _hashed(self, when: str) -> str:
        digest = hashlib.sha256("\n".join((self.sender, self.text, when)).encode()).hexdigest()
        return f"sha256:{digest}"


class InboundFieldError(ValueError):
    """A push we cannot read, naming the parameter and the rule (answered with 400)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def preset_for(options: Mapping[str, Any], default: str) -> InboundPreset:
    """The provider's preset (``inbound_preset``), else the gateway's ``default``."""
    name = options.get("inbound_preset") or default
    return PRESETS.get(str(name), PRESETS[default])


def field_map(options: Mapping[str, Any], default: str) -> dict[str, str]:
    """Our field -> pushed parameter name: the preset's, with ``inbound_fields`` over it."""
    mapping = dict(preset_for(options, default).fields)
    overrides = options.get("inbound_fields") or {}
    if isinstance(overrides, Mapping):
        mapping.update({k: str(v).strip() for k, v in overrides.items() if k in mapping})
    return mapping


def option_errors(options: Mapping[str, Any]) -> list[str]:
    """Problems with the inbound options, as sentences naming the option and the rule."""
    problems = []
    preset = options.get("inbound_preset")
    if preset is not None and preset not in PRESETS:
        problems.append(
            f"inbound_preset must be one of {', '.join(sorted(PRESETS))}, not {preset!r}"
        )
    overrides = options.get("inbound_fields")
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            problems.append(
                "inbound_fields must be a JSON object of field -> parameter name, "
                f'e.g. {{"sender": "msisdn"}}, not {overrides!r}'
            )
        else:
            for key, value in overrides.items():
                if key not in FIELDS:
                    problems.append(
                        f"inbound_fields has no field {key!r} (known: {', '.join(FIELDS)})"
                    )
                elif not isinstance(value, str):
                    problems.append(f"inbound_fields[{key!r}] must be a parameter name (text)")
                elif key in REQUIRED_FIELDS and not value.strip():
                    problems.append(f"inbound_fields[{key!r}] may not be empty: it is required")
                elif len(value) > 100:
                    problems.append(f"inbound_fields[{key!r}] is longer than 100 characters")
    time_format = options.get("inbound_time_format")
    if time_format is not None and (not isinstance(time_format, str) or not time_format.strip()):
        problems.append(
            f"inbound_time_format must be a strptime format or 'unix', not {time_format!r}"
        )
    elif isinstance(time_format, str) and time_format != UNIX_TIME and "%" not in time_format:
        problems.append(
            f"inbound_time_format {time_format!r} has no % directive; write e.g. "
            "'%Y-%m-%d %H:%M:%S', or 'unix'"
        )
    return problems


def lookup(data: Mapping[str, str], name: str) -> str:
    """The pushed value of parameter ``name`` (any case), stripped; "" when absent."""
    if not name:
        return ""
    if name in data:
        return str(data[name]).strip()
    wanted = name.lower()
    for key, value in data.items():
        if str(key).lower() == wanted:
            return str(value).strip()
    return ""


def decode_text(text: str, encoding: str) -> str:
    """``text`` as Unicode: UCS-2 hex decoded where the encoding says UCS-2 (see above)."""
    if encoding == "ucs2" and _HEX_UTF16.fullmatch(text):
        try:
            return bytes.fromhex(text).decode("utf-16-be")
        except UnicodeDecodeError:
            raise InboundFieldError(
                "text is marked UCS-2 but its hex is not valid UTF-16", field="text"
            ) from None
    return text


def encoding_name(value: str) -> str:
    """A pushed encoding value as we store it: gsm7, 8bit, ucs2, or "" when unknown."""
    lowered = value.strip().lower()
    if lowered in UCS2_VALUES:
        return "ucs2"
    return ENCODING_NAMES.get(lowered, "")


def parse_time(value: str, formats: tuple[str, ...], tz: tzinfo) -> datetime | None:
    """The pushed time as an aware datetime, or None when no format reads it."""
    for fmt in formats:
        try:
            if fmt == UNIX_TIME:
                if value.isascii() and value.isdigit() and len(value) <= 12:
                    return datetime.fromtimestamp(int(value), UTC)
                continue
            parsed = datetime.strptime(value, fmt)
        except (ValueError, OverflowError, OSError):
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def parse(
    data: Mapping[str, str],
    *,
    mapping: Mapping[str, str],
    time_formats: tuple[str, ...],
    tz: tzinfo,
    region: str | None,
) -> InboundSms:
    """Read one push by ``mapping``; InboundFieldError naming the parameter otherwise."""
    from ..phones import PhoneNumberError, normalize

    values = {name: lookup(data, mapping.get(name, "")) for name in FIELDS}
    for name in FIELDS:
        limit = FIELD_LIMITS[name]
        if len(values[name]) > limit:
            raise InboundFieldError(
                f"{mapping[name]} ({name}) has {len(values[name])} characters; "
                f"at most {limit} are allowed",
                field=name,
            )
    for name in sorted(REQUIRED_FIELDS):
        if not values[name]:
            raise InboundFieldError(
                f"the {name} is missing: expected in parameter {mapping.get(name)!r}",
                field=name,
            )
    raw_sender = values["sender"]
    try:
        sender = normalize(raw_sender, region)
    except PhoneNumberError as exc:
        digits = "".join(c for c in raw_sender if c.isascii() and c.isdigit())
        if not digits or raw_sender.startswith("+") or digits != raw_sender.lstrip("+"):
            raise InboundFieldError(
                f"{mapping['sender']} (sender) is not a phone number: {exc}", field="sender"
            ) from None
        try:  # country code and number without the +, as most gateways write it
            sender = normalize("+" + digits, None)
        except PhoneNumberError:
            raise InboundFieldError(
                f"{mapping['sender']} (sender) is not a phone number: {exc}", field="sender"
            ) from None
    encoding = encoding_name(values["encoding"])
    message = InboundSms(
        sender=sender,
        recipient=values["recipient"],
        text=decode_text(values["text"], encoding),
        gateway_id=values["gateway_id"],
        encoding=encoding,
        time_text=values["time"],
    )
    if values["time"]:
        when = parse_time(values["time"], time_formats, tz)
        if when is not None:
            message.received_at, message.time_given = when, True
    return message
