"""The "Unified Communications" bulk SMS API (RouteSMS-style): HTTP GET, ``code|number|id`` text.

The protocol is the vendor's "Unified Communications API's" document
(``gateway-docs/001_…``): ``/bulksms/bulksms`` to send now, ``/bulksms/schedulemsg`` to send
later, one reply entry per destination. The document has no delivery-report call and no
balance call; reports arrive by push (the RouteSMS ``sSender``/``sMobileNo``/``sStatus``…
request known from live deployments). Every decision taken on the document's ambiguities
is listed in :class:`UnifiedGateway`'s docstring and in ``docs/gateways/unified.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils import timezone

from ..text import GSM7, LATIN1, analyze
from .base import (
    DLT_OPTION_HELP,
    Batch,
    Capability,
    DeliveryReport,
    DeliveryStatus,
    ErrorCategory,
    Gateway,
    GatewayError,
    RecipientResult,
    SendOutcome,
    digits,
    is_number,
    match_entries,
    redact_params,
)
from .inbound import INBOUND_OPTION_HELP

if TYPE_CHECKING:  # pragma: no cover
    from django.http import HttpRequest

SEND_PATH = "/bulksms/bulksms"
SCHEDULE_PATH = "/bulksms/schedulemsg"

#: The success code: ``1701|<CELL_NO>|<MESSAGE ID>``.
SUCCESS = "1701"

#: The document's error table: code -> (its words, our category). Codes compare as integers.
#: The document forbids resending on every code but 1709, so only 1709 is retryable; 1715
#: ("Response timeout") must never be resubmitted: the message may have gone out.
ERRORS: dict[str, tuple[str, ErrorCategory]] = {
    "1702": (
        "Invalid URL. This means that one of the parameters was not provided or left blank.",
        ErrorCategory.INVALID_REQUEST,
    ),
    "1703": ("Invalid value in username or password field.", ErrorCategory.AUTHENTICATION),
    "1704": ("Invalid value in type field.", ErrorCategory.INVALID_REQUEST),
    "1705": ("Invalid message.", ErrorCategory.CONTENT_REJECTED),
    "1706": ("Invalid destination.", ErrorCategory.INVALID_RECIPIENT),
    "1707": ("Invalid source (Sender).", ErrorCategory.INVALID_SENDER),
    "1708": ("Invalid value for dlr parameter.", ErrorCategory.INVALID_REQUEST),
    "1709": ("User validation failed.", ErrorCategory.TRANSIENT),
    "1710": ("Internal error.", ErrorCategory.INVALID_REQUEST),
    "1725": ("Insufficient credit.", ErrorCategory.INSUFFICIENT_CREDIT),
    "1715": ("Response timeout.", ErrorCategory.AMBIGUOUS),
    "1732": ("DND reject.", ErrorCategory.INVALID_RECIPIENT),
    "1028": ("Spam message", ErrorCategory.CONTENT_REJECTED),
    "1041": ("Duplicate Message.", ErrorCategory.CONTENT_REJECTED),
    "1042": ("Explicit DND Destination", ErrorCategory.INVALID_RECIPIENT),
    "1033": ("Message Template Mismatch.", ErrorCategory.CONTENT_REJECTED),
    "69": ("Internal Error", ErrorCategory.INVALID_REQUEST),
    "8": ("Internal Error", ErrorCategory.INVALID_REQUEST),
    "16": ("IP Blacklisted.", ErrorCategory.AUTHENTICATION),
    "18": ("Non Whitelisted User IP.", ErrorCategory.AUTHENTICATION),
}

#: The document's ``type`` values we send (3 "Reserved" and 4 "WAP Push" are never used).
TYPE_PLAIN = "0"
TYPE_FLASH = "1"
TYPE_UNICODE = "2"
TYPE_PLAIN_LATIN1 = "5"
TYPE_UNICODE_FLASH = "6"
TYPE_FLASH_LATIN1 = "7"

#: Pushed ``sStatus`` words (upper-cased) -> our status. Any other word: still on its way.
DELIVERY_STATUSES: dict[str, DeliveryStatus] = {
    "DELIVRD": DeliveryStatus.DELIVERED,
    "DELIVERED": DeliveryStatus.DELIVERED,
    "UNDELIV": DeliveryStatus.UNDELIVERED,
    "UNDELIVERED": DeliveryStatus.UNDELIVERED,
    "REJECTD": DeliveryStatus.UNDELIVERED,
    "REJECTED": DeliveryStatus.UNDELIVERED,
    "DELETED": DeliveryStatus.UNDELIVERED,
    "EXPIRED": DeliveryStatus.EXPIRED,
    "UNKNOWN": DeliveryStatus.ACCEPTED,
    "ACKED": DeliveryStatus.ACCEPTED,
    "ENROUTE": DeliveryStatus.ACCEPTED,
    "ACCEPTED": DeliveryStatus.ACCEPTED,
    "ACCEPTD": DeliveryStatus.ACCEPTED,
}

#: The push's parameters, as the live gateways name them.
PUSH_FIELDS = ("sSender", "sMobileNo", "sStatus", "dtSubmit", "dtDone", "sMessageId", "iErrCode")

#: Longest sender IDs: 18 digits when numeric, 11 characters when alphanumeric.
MAX_NUMERIC_SENDER = 18
MAX_ALPHANUMERIC_SENDER = 11

_CODE = re.compile(r"\s*(\d+)\s*")
_NUMERIC_SENDER = re.compile(r"\+?\d+")
_ALPHANUMERIC_SENDER = re.compile(r"[A-Za-z0-9]+")
_PUSH_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Entry:
    """One ``code|number|id`` piece of a reply (``number:id`` and bare ``code`` too)."""

    code: str
    number: str = ""
    message_id: str = ""
    raw: str = ""

    @property
    def accepted(self) -> bool:
        return _integer(self.code) == int(SUCCESS)


class UnifiedGateway(Gateway):
    """The Unified Communications (RouteSMS-style) HTTP API.

    Decisions on the document's ambiguities (also in ``docs/gateways/unified.md``):

    * **Endpoints**: sends go to ``/bulksms/bulksms``; scheduled ones to
      ``/bulksms/schedulemsg`` as section 2.1 says, although every example of section 2.2
      calls ``/bulksms/bulksms`` with ``date``/``time``/``gmt`` (option
      ``schedule_endpoint: "bulksms"`` follows the examples). A base URL that already ends in
      ``/bulksms`` is not repeated. The ``ip=x`` of the first cURL example is in no table:
      never sent.
    * **Credentials**: ``username`` and ``password`` of the HTTP account; the provider's API
      key stands in for an empty password. ``SendOutcome.request`` holds the path and the
      redacted parameters, never the URL.
    * **type**: 2 (Unicode) or 6 (Unicode flash) for Unicode batches; 0 (plain) or 1 (flash)
      for GSM-7 ones. With option ``charset: "iso-8859-1"`` the provider carries ISO-8859-1
      (:meth:`text_encodings`): a text that is not GSM-7 but fits ISO-8859-1 (``Zoë``) is
      composed as 8-bit and goes as 5 (plain) or 7 (flash), counted 140 octets in one part
      and 134 a part when longer (the document gives no sizes for 5/7; GSM 03.40's 8-bit
      sizes apply) instead of UCS-2's 70/67. A GSM-7 text stays 0/1: 160/153 hold more.
      3 (reserved) and 4 (WAP push) are never sent. Unicode text
      goes URL-UTF-8 encoded as the document says; option ``unicode_hex`` sends it as UCS-2
      hex instead (the document's 280/268 "characters" for Unicode are hex digits, which is
      how older RouteSMS panels want it).
    * **dlr** is 1 unless option ``dlr`` is false: pushed reports are the only way to learn
      the outcome.
    * **Replies**: one entry per destination, separated by commas (newlines too); each
      ``code|number|id`` or ``code|number:id`` (live variant), or a bare ``code``; whitespace
      and a trailing CRLF are ignored; codes compare as integers. Entries are matched to
      recipients by digits, then by the last ten digits; a one-recipient batch takes a
      one-entry reply whatever its number says (the document's own
      ``1701|<CELL_NO>|<MESSAGE ID>`` example). A reply whose entries carry no number and
      an error code is a whole-request error. A recipient the reply does not mention, or
      whose entry cannot be read, is AMBIGUOUS (the gateway may have taken it), as is a reply
      with no readable entry at all (e.g. the document's ``<Error_Code>|…`` template).
    * **Codes**: only 1709 is retryable (TRANSIENT) and 1715 is AMBIGUOUS, as the document's
      notes demand. The "Internal error" codes 1710, 69 and 8 are INVALID_REQUEST (the
      gateway answered, and the document forbids resending). Codes outside the table (the
      document warns of SMPP v3.4 codes) are INVALID_REQUEST, never retried.
    * **Scheduling**: ``date`` ``MM/DD/YYYY``, ``time`` ``hh:mm am``/``pm`` (12-hour,
      ``12:05 am`` after midnight) and ``gmt`` ``+hh:mm``, all in the provider's time zone
      at that instant (daylight saving included). An offset the document cannot write
      (beyond ±12 hours, or minutes other than 00/30) is sent as the same instant in UTC
      (``+00:00``). Seconds are rounded up to the next minute, so a message never leaves
      early.
    * **Sender IDs**: either numeric (digits, an optional leading ``+`` that is not counted,
      at most 18 digits) or alphanumeric (ASCII letters and digits, at most 11); the ``+``
      is URL-encoded by the HTTP client.
    * **Pushed reports**: GET query or POST form/JSON, names matched case-insensitively;
      ``sMessageId`` finds the message (``sMobileNo`` when it is missing); ``dtDone`` (else
      ``dtSubmit``) is naive ``yyyy-mm-dd hh:mm:ss`` in the provider's time zone, and
      ``0000-00-00 00:00:00`` means none. ``iErrCode`` is kept as the error code of a failed
      delivery. Statuses: DELIVRD delivered; UNDELIV, REJECTD, DELETED undelivered; EXPIRED
      expired; ACKED, ENROUTE, ACCEPTED, UNKNOWN and unknown words still accepted.
    * **DLT**: the document names no parameter but answers 1033 "Message Template
      Mismatch". A batch's ``template_id`` goes out as ``tempid`` and its entity id as
      ``entityid``, as RouteSMS-style Indian panels name them; options
      ``dlt_template_param`` and ``dlt_entity_param`` name others. 1033 is
      CONTENT_REJECTED: permanent, never resent (as the document says of every code but
      1709).
    * **No balance, no polling, no cancel, no groups**: the document has none of them.
    """

    name = "unified"
    verbose_name = "Unified Communications"
    credential_sets = (frozenset({"username", "password"}), frozenset({"username", "api_key"}))
    capabilities = frozenset(
        {
            Capability.UNICODE,
            Capability.FLASH,
            Capability.SCHEDULE,
            Capability.BULK,
            Capability.DLR_PUSH,
            Capability.INBOUND,
            Capability.DLT,
        }
    )
    dlt_param_names = ("tempid", "entityid")
    request_params = frozenset(
        {"username", "password", "type", "dlr", "destination", "source", "message"}
        | {"date", "time", "gmt"}
    )
    max_numbers_per_request = 100
    max_parts = None
    max_sender_length = MAX_NUMERIC_SENDER
    option_help: ClassVar[dict[str, str]] = {
        "scheduling": (
            "'local' (default): messages for later are held here until due; "
            "'gateway': sent at once through schedulemsg with date, time and gmt."
        ),
        "schedule_endpoint": (
            "'schedulemsg' (default, the document's section 2.1) or 'bulksms' (its examples): "
            "where scheduled messages are sent."
        ),
        "max_numbers": "Numbers per request, comma-separated in 'destination' (default 100).",
        "charset": (
            "'gsm' (default): texts outside GSM 03.38 go as Unicode, type 2/6 (70 characters "
            "a part); 'iso-8859-1': those that fit ISO-8859-1 (ë, á, ê…) go as type 5/7 "
            "instead (8-bit, 140 characters a part, 134 when longer)."
        ),
        "unicode_hex": (
            "true: Unicode texts are sent as UCS-2 hex (older RouteSMS panels); "
            "false (default): URL-UTF-8 as the document says."
        ),
        "dlr": "Ask for delivery reports (dlr=1, the default); false sends dlr=0.",
        **DLT_OPTION_HELP,
        **INBOUND_OPTION_HELP,
    }

    # -- operations ------------------------------------------------------------------------

    def send(self, batch: Batch) -> SendOutcome:
        """One bulksms (or schedulemsg) request for the whole batch."""
        path = self.path_for(batch)
        params = self.send_params(batch)
        response = self.http("GET", self.url(path), params=params)
        body = self.reply_text(response.content)
        entries, unreadable = parse_reply(body)
        raw = self.clip(body, 4000)
        if not entries:
            raise GatewayError(
                ErrorCategory.AMBIGUOUS,
                "Unified's answer could not be read; it may have taken the message",
                raw=raw,
            )
        self._raise_whole_request_error(entries, raw)
        return SendOutcome(
            results=self._results(batch, entries, unreadable),
            request={"path": path, "params": self.redact(redact_params(params))},
            response=raw,
        )

    def parse_callback(self, request: HttpRequest) -> list[DeliveryReport]:
        """One pushed delivery report (GET query, POST form or JSON) as a DeliveryReport."""
        fields = _callback_fields(request)
        message_id = fields.get("smessageid", "").strip()
        number = digits(fields.get("smobileno", ""))
        word = fields.get("sstatus", "").strip()
        if not word or not (message_id or number):
            raise GatewayError(
                ErrorCategory.INVALID_REQUEST,
                "not a Unified delivery report: sStatus and sMessageId or sMobileNo are needed",
                raw=self.redact(fields),
            )
        status = DELIVERY_STATUSES.get(word.upper(), DeliveryStatus.ACCEPTED)
        failed = status in (DeliveryStatus.UNDELIVERED, DeliveryStatus.EXPIRED)
        return [
            DeliveryReport(
                provider_message_id=message_id,
                status=status,
                occurred_at=self.push_time(fields.get("dtdone"))
                or self.push_time(fields.get("dtsubmit")),
                error_code=fields.get("ierrcode", "").strip() if failed else "",
                error_text=word if failed else "",
                raw=self.redact(_named(fields)),
                number=f"+{number}" if number else "",
            )
        ]

    # -- validation and request building ---------------------------------------------------

    def sender_errors(self, sender: str) -> list[str]:
        """The document's rule: 18 digits if numeric, 11 characters if alphanumeric."""
        value = sender.strip()
        if not value:
            return ["the sender ID is empty"]
        if _NUMERIC_SENDER.fullmatch(value):
            length = len(value.lstrip("+"))
            if length > MAX_NUMERIC_SENDER:
                return [
                    f"a numeric Unified sender ID has at most {MAX_NUMERIC_SENDER} digits; "
                    f"{sender!r} has {length}"
                ]
            return []
        problems = []
        if len(value) > MAX_ALPHANUMERIC_SENDER:
            problems.append(
                f"an alphanumeric Unified sender ID has at most {MAX_ALPHANUMERIC_SENDER} "
                f"characters; {sender!r} has {len(value)}"
            )
        if not _ALPHANUMERIC_SENDER.fullmatch(value):
            problems.append(
                f"a Unified sender ID is digits (with an optional leading +) or letters and "
                f"digits (A-Z, 0-9); {sender!r} has other characters"
            )
        return problems

    def option_errors(self) -> list[str]:
        """A charset the adapter does not know is refused when the provider is saved."""
        value = self.option("charset")
        if value is not None and _charset(value) is None:
            return [f"the charset option must be 'gsm' or 'iso-8859-1', not {value!r}"]
        return []

    def text_encodings(self) -> frozenset[str]:
        """ISO-8859-1 (types 5/7) when option ``charset`` says so."""
        return frozenset({LATIN1}) if _charset(self.option("charset")) == LATIN1 else frozenset()

    def format_number(self, e164: str) -> str:
        """International digits without ``+`` (the document allows either; this is safest)."""
        return digits(e164)

    def path_for(self, batch: Batch) -> str:
        if batch.schedule_at is None:
            return SEND_PATH
        if str(self.option("schedule_endpoint") or "schedulemsg").strip().lower() == "bulksms":
            return SEND_PATH
        return SCHEDULE_PATH

    def send_params(self, batch: Batch) -> dict[str, str]:
        """The query in the document's order, credentials included."""
        params = {
            "username": self.provider.username,
            "password": self.provider.password or self.provider.api_key,
            "type": self.message_type(batch),
            "dlr": "1" if _truthy(self.option("dlr", True)) else "0",
            "destination": ",".join(self.format_number(r.number) for r in batch.recipients),
            "source": batch.sender,
            "message": self.message_text(batch),
        }
        if batch.schedule_at is not None:
            params.update(self.schedule_params(batch.schedule_at))
        params.update(self.dlt_params(batch))
        return params

    def message_type(self, batch: Batch) -> str:
        """The document's ``type`` for the encoding the message was composed (and counted) in.

        A batch built without an encoding (by hand) is analyzed here as the composer would.
        """
        if batch.unicode:
            return TYPE_UNICODE_FLASH if batch.flash else TYPE_UNICODE
        encoding = batch.encoding
        if not encoding:
            encoding = analyze(batch.text, latin1=LATIN1 in self.text_encodings()).encoding
        if encoding == LATIN1:
            return TYPE_FLASH_LATIN1 if batch.flash else TYPE_PLAIN_LATIN1
        return TYPE_FLASH if batch.flash else TYPE_PLAIN

    def message_text(self, batch: Batch) -> str:
        if batch.unicode and _truthy(self.option("unicode_hex", False)):
            return batch.text.encode("utf-16-be").hex().upper()
        return batch.text

    def schedule_params(self, when: datetime) -> dict[str, str]:
        """``date``, ``time`` and ``gmt`` naming ``when`` in the provider's time zone."""
        if timezone.is_naive(when):
            when = timezone.make_aware(when)
        if when.second or when.microsecond:
            when = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        local = when.astimezone(self.tz)
        offset = local.utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        if abs(minutes) > 12 * 60 or minutes % 30:
            local, minutes = when.astimezone(UTC), 0
        sign = "-" if minutes < 0 else "+"
        hours, rest = divmod(abs(minutes), 60)
        return {
            "date": local.strftime("%m/%d/%Y"),
            "time": local.strftime("%I:%M %p").lower(),
            "gmt": f"{sign}{hours:02d}:{rest:02d}",
        }

    def push_time(self, value: Any) -> datetime | None:
        """A pushed ``yyyy-mm-dd hh:mm:ss`` (the gateway's local time) as an aware datetime."""
        text = " ".join(str(value or "").split())
        if not text or text.startswith("0000"):
            return None
        for pattern in (_PUSH_TIME, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"):
            try:
                return datetime.strptime(text, pattern).replace(tzinfo=self.tz)
            except ValueError:
                continue
        return None

    def url(self, path: str) -> str:
        base = self.provider.base_url.rstrip("/")
        if base.lower().endswith("/bulksms") and path.startswith("/bulksms/"):
            path = path[len("/bulksms") :]
        return base + path

    # -- replies ---------------------------------------------------------------------------

    def _raise_whole_request_error(self, entries: list[Entry], raw: str) -> None:
        """A reply of number-less error entries refuses the whole request."""
        if any(e.number or e.accepted for e in entries):
            return
        raise self.error(entries[0], raw=raw)

    def error(self, entry: Entry, *, raw: str = "") -> GatewayError:
        """The GatewayError an error entry stands for."""
        known = _known(entry.code)
        if known:
            text, category = known
        else:
            text = f"unknown Unified error code {entry.code}"
            category = ErrorCategory.INVALID_REQUEST
        return GatewayError(category, text, code=entry.code, raw=raw or self.redact(entry.raw))

    def _results(
        self, batch: Batch, entries: list[Entry], unreadable: list[str]
    ) -> list[RecipientResult]:
        matched = match_entries(
            [self.format_number(r.number) for r in batch.recipients],
            entries,
            lambda entry: entry.number,
        )
        results = []
        for index, recipient in enumerate(batch.recipients):
            entry = matched.get(index)
            if entry is None:
                results.append(self._unmentioned(recipient.ref, unreadable))
            elif entry.accepted:
                results.append(
                    RecipientResult(
                        ref=recipient.ref,
                        accepted=True,
                        provider_message_id=entry.message_id,
                        raw=self.redact(entry.raw),
                    )
                )
            else:
                results.append(
                    RecipientResult(
                        ref=recipient.ref,
                        accepted=False,
                        error=self.error(entry),
                        raw=self.redact(entry.raw),
                    )
                )
        return results

    def _unmentioned(self, ref: int, unreadable: list[str]) -> RecipientResult:
        raw = self.redact(", ".join(unreadable)) if unreadable else ""
        return RecipientResult(
            ref=ref,
            accepted=False,
            error=GatewayError(
                ErrorCategory.AMBIGUOUS,
                "Unified's answer has no readable entry for this number; "
                "it may have taken the message",
                raw=raw,
            ),
            raw={"unreadable": raw} if raw else None,
        )


# -- reply parsing (pure functions, shared with the docs and tests) ------------------------


def parse_reply(body: str) -> tuple[list[Entry], list[str]]:
    """(readable entries, unreadable pieces) of a bulksms/schedulemsg reply."""
    entries: list[Entry] = []
    unreadable: list[str] = []
    for piece in re.split(r"[,\r\n]+", body):
        if not piece.strip():
            continue
        entry = parse_entry(piece)
        if entry is None:
            unreadable.append(piece.strip())
        else:
            entries.append(entry)
    return entries, unreadable


def parse_entry(piece: str) -> Entry | None:
    """``1701|919812345678|id``, ``1701|919812345678:id``, ``1706|9198…`` or ``1702``."""
    code, _, rest = piece.partition("|")
    match = _CODE.fullmatch(code)
    if not match or not _printable(rest):
        return None
    rest = rest.strip()
    if "|" in rest:
        number, _, message_id = rest.partition("|")
    elif ":" in rest:
        number, _, message_id = rest.partition(":")
    else:
        number, message_id = rest, ""
    number = "".join(number.split())
    message_id = message_id.strip()
    return Entry(match.group(1), number, message_id, piece.strip())


def _known(code: str) -> tuple[str, ErrorCategory] | None:
    number = _integer(code)
    if number is None:
        return None
    for key, value in ERRORS.items():
        if int(key) == number:
            return value
    return None


def _callback_fields(request: HttpRequest) -> dict[str, str]:
    """Every pushed parameter, keys lower-cased: query, then form or JSON body."""
    fields: dict[str, str] = {}
    sources: list[Iterable[tuple[str, Any]]] = [request.GET.items()]
    if request.method == "POST":
        content_type = (request.content_type or "").lower()
        if "json" in content_type:
            try:
                data = json.loads(request.body or b"null")
            except ValueError:
                raise GatewayError(
                    ErrorCategory.INVALID_REQUEST, "the pushed JSON body cannot be read"
                ) from None
            if isinstance(data, dict):
                sources.append(data.items())
        else:
            sources.append(request.POST.items())
    for source in sources:
        for key, value in source:
            fields[str(key).strip().lower()] = "" if value is None else str(value)
    return fields


def _named(fields: dict[str, str]) -> dict[str, str]:
    """Pushed fields under the gateway's own spelling (others as received, lower-cased)."""
    spelled = {name.lower(): name for name in PUSH_FIELDS}
    return {spelled.get(key, key): value for key, value in fields.items()}


def _charset(value: Any) -> str | None:
    """``"latin1"`` for the ISO-8859-1 spellings, ``"gsm7"`` for gsm (or unset), else None."""
    text = str(value or "gsm").strip().lower().replace("_", "-")
    if text in ("iso-8859-1", "latin-1", "latin1"):
        return LATIN1
    return GSM7 if text in ("gsm", "gsm7", "gsm-7", "gsm-03.38") else None


def _printable(text: str) -> bool:
    """False for text a truncated or garbled reply leaves behind."""
    return "\ufffd" not in text and all(c.isprintable() or c in " \t" for c in text)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def _integer(value: Any) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if is_number(text) else None
