"""What every gateway adapter is: its operations, result types and one error taxonomy.

The outbox only ever talks to this interface. An adapter maps its gateway's replies onto
:class:`ErrorCategory`, and the category alone decides what happens to a message
(retry, ``failed`` or ``unknown``), so the at-most-once rule lives in one place.
The raw code and text always travel with the category, and every URL or exception text
an adapter hands back has its credentials redacted first.
"""

from __future__ import annotations

import enum
import functools
import re
import urllib.parse
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError

from .. import conf, country_profiles
from . import inbound
from .inbound import InboundSms

if TYPE_CHECKING:  # pragma: no cover
    from django.http import HttpRequest

    from ..models import Provider

REDACTED = "***"
#: The provider option (and per-message gateway option) holding the DLT entity id.
DLT_ENTITY_OPTION = "dlt_entity_id"
_PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")
#: The options every DLT gateway takes (see ``Gateway.dlt_params``).
DLT_OPTION_HELP: dict[str, str] = {
    "dlt_template_id": (
        "India's DLT: the registered template id for messages whose template, call and "
        "sender name none."
    ),
    DLT_ENTITY_OPTION: (
        "India's DLT: the principal entity id (PE ID) for messages whose template, call and "
        "sender name none; sent only with a template id."
    ),
    "dlt_template_param": (
        "The request parameter your panel reads the DLT template id from, when not the "
        "gateway's usual one (e.g. 'dlttemplateid', 'tempid', 'templateid')."
    ),
    "dlt_entity_param": (
        "The request parameter your panel reads the DLT entity id from, when not the "
        "gateway's usual one (e.g. 'peid', 'entityid', 'pe_id')."
    ),
}
#: How much of a reply is kept on a message's timeline (after masking: never before).
STORED_REPLY_CHARS = 2000
#: The operations whose reply reading the base guards (see ``Gateway.__init_subclass__``).
GUARDED_OPERATIONS = ("send", "fetch_reports", "balance", "cancel", "parse_callback")


class Capability(enum.StrEnum):
    UNICODE = "unicode"
    FLASH = "flash"
    SCHEDULE = "schedule"
    CANCEL = "cancel"
    GROUP = "group"
    BULK = "bulk"
    DLR_POLL = "dlr_poll"
    DLR_PUSH = "dlr_push"
    BALANCE = "balance"
    #: Takes customers' replies pushed to /sms/inbound/<provider>/<secret>/ (parse_inbound).
    INBOUND = "inbound"
    #: Sends India's DLT template id and entity id (PE ID) with a message (dlt_params).
    DLT = "dlt"


class ErrorCategory(enum.StrEnum):
    """Every gateway error, normalized. Decides the message's fate."""

    AUTHENTICATION = "authentication"  # bad credentials, account locked or restricted
    INSUFFICIENT_CREDIT = "insufficient_credit"
    INVALID_RECIPIENT = "invalid_recipient"
    INVALID_SENDER = "invalid_sender"
    #: Template mismatch (DLT), spam, blocked words, length: permanent, never failed over
    #: (another gateway would be given the same text).
    CONTENT_REJECTED = "content_rejected"
    INVALID_REQUEST = "invalid_request"  # a parameter the gateway refused (our bug or config)
    THROTTLED = "throttled"  # refused before acceptance: safe to retry later
    TRANSIENT = "transient"  # provably not taken (refused connection, 5xx): safe to retry
    AMBIGUOUS = "ambiguous"  # may have been taken: never resubmit

    @property
    def retryable(self) -> bool:
        return self in (ErrorCategory.THROTTLED, ErrorCategory.TRANSIENT)


class GatewayError(Exception):
    """A gateway operation that did not succeed, with the gateway's own code and text."""

    def __init__(
        self,
        category: ErrorCategory,
        text: str,
        *,
        code: str = "",
        raw: Any = None,
    ) -> None:
        self.category = ErrorCategory(category)
        self.code = str(code)
        self.text = text
        self.raw = raw
        super().__init__(f"{self.category}: {text}" + (f" (code {self.code})" if code else ""))


@dataclass(frozen=True)
class Recipient:
    """One number in a batch: ``ref`` is our Message pk, ``number`` is E.164 (``+91…``)."""

    ref: int
    number: str


@dataclass
class Batch:
    """Messages with the same text, sender and options, sent in one gateway request."""

    recipients: list[Recipient]
    text: str
    sender: str = ""
    unicode: bool = False
    flash: bool = False
    #: Deliver at this (aware) time using the gateway's own scheduling.
    schedule_at: datetime | None = None
    #: A provider-side group id: the gateway expands it to its members.
    group_id: str = ""
    #: A registered template id (DLT regimes).
    template_id: str = ""
    #: The principal entity id (PE ID) registered with that template (India's DLT).
    entity_id: str = ""
    #: The text's encoding as composed ("gsm7", "ucs2", or "latin1" where the gateway
    #: said it carries ISO-8859-1); ``unicode`` is ``encoding == "ucs2"``.
    encoding: str = ""
    #: Per-message options (a template's or a send_sms call's), overriding the provider's;
    #: only names in the gateway's ``message_option_help``, already checked and normalized.
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupMember:
    """One number a gateway-side group expanded to, as the gateway reported it."""

    number: str
    provider_message_id: str = ""


@dataclass
class RecipientResult:
    """What the gateway said about one recipient of a batch."""

    ref: int
    accepted: bool
    provider_message_id: str = ""
    job_id: str = ""
    error: GatewayError | None = None
    raw: Any = None
    #: For a group send: every member the gateway texted (each becomes a message of its own).
    members: list[GroupMember] = field(default_factory=list)
    #: The request was a test the gateway checked but did not send (1601SMS's test=ja).
    test: bool = False


@dataclass(frozen=True)
class ReportRef:
    """What an adapter needs to ask for a message's delivery report."""

    provider_message_id: str
    job_id: str = ""


class DeliveryStatus(enum.StrEnum):
    ACCEPTED = "accepted"  # still on its way
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    EXPIRED = "expired"


@dataclass
class DeliveryReport:
    provider_message_id: str
    status: DeliveryStatus
    occurred_at: datetime | None = None
    error_code: str = ""
    error_text: str = ""
    raw: Any = None
    #: Set by gateways whose reports carry the number rather than (or beside) our id.
    number: str = ""
    #: Our own message reference, where the gateway echoes it (1601SMS's referentie).
    ref: int | None = None


@dataclass
class Balance:
    account: str
    amount: Decimal
    unit: str = "credits"
    raw: Any = None


@dataclass
class SendOutcome:
    """The whole answer to one send request: per-recipient results plus what was sent."""

    results: list[RecipientResult]
    request: dict[str, Any] = field(default_factory=dict)
    response: Any = None


class Gateway:
    """Base class of all adapters. Subclasses set the class attributes and operations."""

    #: Registry key, stored in ``Provider.gateway``.
    name: ClassVar[str] = ""
    verbose_name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: How many numbers one request may carry.
    max_numbers_per_request: ClassVar[int] = 1
    #: The most SMS parts one message may have on this gateway (None: no documented limit).
    max_parts: ClassVar[int | None] = None
    #: Longest sender ID the gateway takes (None: no documented limit).
    max_sender_length: ClassVar[int | None] = None
    #: Provider.options keys this gateway understands, with a help text for the admin.
    option_help: ClassVar[dict[str, str]] = {}
    #: Options a template or a send_sms call may set for its own messages, overriding the
    #: provider's option of the same name (Canlog's channel and route), with a help text.
    message_option_help: ClassVar[dict[str, str]] = {}
    #: The Provider credential fields an active provider of this gateway needs: any one of
    #: these sets, complete (``()``: none, as for the console). Checked by Provider.clean,
    #: so the admin and the ``sms_provider`` commands refuse a provider that cannot log in.
    credential_sets: ClassVar[tuple[frozenset[str], ...]] = ()
    #: The shape of the gateway's inbound push (a key of ``inbound.PRESETS``), unless the
    #: provider's ``inbound_preset`` option names another.
    inbound_preset: ClassVar[str] = "generic"
    #: For a DLT gateway: the request parameters its panel reads the template id and the
    #: entity id from, unless the provider's options name others (panels differ).
    dlt_param_names: ClassVar[tuple[str, str]] = ("", "")
    #: The parameters the adapter sends itself, which a DLT parameter name may not take.
    request_params: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self._session: requests.Session | None = None
        #: Requests handed to the network so far: from the first, the gateway may have it.
        self._requests_started = 0
        #: The body of the last reply read, for the record when it cannot be understood.
        self._last_reply = b""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Guard every operation a subclass writes: the rule for unreadable replies is ours.

        Whatever an adapter's parser raises on a reply it cannot read (a RecursionError on
        deep JSON, a ValueError on a 5,000-digit number, a LookupError on a bogus XML
        encoding) becomes a :class:`GatewayError`: AMBIGUOUS for a send whose request went
        out (the gateway may have taken it), TRANSIENT for a poll, balance or cancel (asking
        again is harmless; nothing moves), INVALID_REQUEST for a pushed report (the webhook
        answers 400). An exception before any request went out is an adapter bug and
        propagates unchanged: the outbox then keeps the messages queued, unsent.
        """
        super().__init_subclass__(**kwargs)
        for name in GUARDED_OPERATIONS:
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "guarded", False):
                setattr(cls, name, _guarded(name, method))

    # -- operations ----------------------------------------------------------------------

    def send(self, batch: Batch) -> SendOutcome:
        """Submit a batch. Raise :class:`GatewayError` when the whole request failed."""
        raise NotImplementedError

    def fetch_reports(self, refs: Sequence[ReportRef]) -> list[DeliveryReport]:
        raise GatewayError(ErrorCategory.INVALID_REQUEST, f"{self.name} has no report polling")

    def cancel(self, ref: ReportRef) -> None:
        """Withdraw a message the gateway holds for later delivery (CANCEL capability).

        Returns when the gateway confirmed it; raises GatewayError otherwise.
        """
        raise GatewayError(ErrorCategory.INVALID_REQUEST, f"{self.name} cannot cancel messages")

    def balance(self) -> list[Balance]:
        raise GatewayError(ErrorCategory.INVALID_REQUEST, f"{self.name} reports no balance")

    def parse_callback(self, request: HttpRequest) -> list[DeliveryReport]:
        raise GatewayError(ErrorCategory.INVALID_REQUEST, f"{self.name} pushes no reports")

    def parse_inbound(self, data: Mapping[str, str]) -> InboundSms:
        """One customer SMS from a push's parameters, read by the provider's field mapping.

        The preset (``inbound_preset`` option, else the gateway's) with ``inbound_fields``
        over it; the sender normalized to E.164 in the provider's default region. Raises
        :class:`~.inbound.InboundFieldError` naming the parameter when it cannot be read.
        """
        options = self.provider.options or {}
        preset = inbound.preset_for(options, self.inbound_preset)
        time_format = options.get("inbound_time_format")
        return inbound.parse(
            data,
            mapping=inbound.field_map(options, self.inbound_preset),
            time_formats=(time_format,) if time_format else preset.time_formats,
            tz=self.tz,
            region=self.provider.default_region or None,
        )

    # -- validation and formatting -------------------------------------------------------

    def sender_errors(self, sender: str) -> list[str]:
        """Rules this gateway's documents set for a sender ID, as readable sentences."""
        problems = []
        if not sender.strip():
            problems.append("the sender ID is empty")
        if self.max_sender_length and len(sender) > self.max_sender_length:
            problems.append(
                f"{self.verbose_name or self.name} allows at most {self.max_sender_length} "
                f"characters in a sender ID; {sender!r} has {len(sender)}"
            )
        return problems

    def option_errors(self) -> list[str]:
        """Problems with the provider's option values, as sentences (checked on save)."""
        return []

    def dlt_params(self, batch: Batch) -> dict[str, str]:
        """The DLT parameters of ``batch``: its template id and, with it, the entity id
        (the messages', else the provider's ``dlt_entity_id`` option); none without one."""
        if not (batch.template_id and self.has(Capability.DLT)):
            return {}
        template_param, entity_param = self.dlt_names()
        params = {template_param: batch.template_id}
        entity = batch.entity_id or self.option(DLT_ENTITY_OPTION)
        if entity not in (None, ""):
            params[entity_param] = str(entity).strip()
        return params

    def dlt_names(self) -> tuple[str, str]:
        """The (template id, entity id) parameter names: the provider's options, else ours."""
        template, entity = self.dlt_param_names
        return (
            str(self.option("dlt_template_param") or template).strip(),
            str(self.option("dlt_entity_param") or entity).strip(),
        )

    def dlt_option_errors(self) -> list[str]:
        """Parameter names that are not names, collide with each other or with ours."""
        if not self.has(Capability.DLT):
            return []
        problems = []
        taken = {p.lower() for p in self.request_params}
        for key in ("dlt_template_param", "dlt_entity_param"):
            value = self.option(key)
            if value is None:
                continue
            if not isinstance(value, str) or not _PARAM_NAME.fullmatch(value.strip()):
                problems.append(
                    f"the {key} option must be a parameter name of letters, digits, '_' or "
                    f"'-' (like 'dlttemplateid'), not {value!r}"
                )
            elif value.strip().lower() in taken:
                problems.append(
                    f"the {key} option {value!r} is a parameter "
                    f"{self.verbose_name or self.name} already sends"
                )
        names = self.dlt_names()
        if not problems and names[0].lower() == names[1].lower():
            problems.append(
                f"dlt_template_param and dlt_entity_param must differ (both {names[0]!r})"
            )
        for key in (DLT_ENTITY_OPTION, "dlt_template_id"):
            value = self.option(key)
            if value is not None and (not isinstance(value, str | int) or isinstance(value, bool)):
                problems.append(f"the {key} option must be text, not {value!r}")
        return problems

    def inbound_option_errors(self) -> list[str]:
        """Problems with the inbound options (``inbound_*``), checked on save beside those."""
        if not self.has(Capability.INBOUND):
            return []
        return inbound.option_errors(self.provider.options or {})

    def text_encodings(self) -> frozenset[str]:
        """Encodings beyond GSM-7 and UCS-2 this provider carries (``"latin1"``); none here.

        The composer asks before it settles on UCS-2: a text that is not GSM-7 but fits an
        encoding named here is sent (and counted, and billed) in it instead.
        """
        return frozenset()

    def message_option_errors(self, options: Mapping[str, Any]) -> list[str]:
        """Problems with per-message ``options``, as sentences naming the option.

        Only names in :attr:`message_option_help`, each a non-empty text or number;
        subclasses add the values their gateway allows.
        """
        label = self.verbose_name or self.name
        if not self.message_option_help:
            return [f"{label} takes no per-message options"] if options else []
        problems = []
        for key, value in options.items():
            if key not in self.message_option_help:
                known = ", ".join(sorted(self.message_option_help))
                problems.append(f"{label} has no per-message option {key!r} (it takes {known})")
            elif isinstance(value, bool) or not isinstance(value, str | int):
                problems.append(f"{key} must be text or a whole number, not {value!r}")
            elif not str(value).strip():
                problems.append(f"{key} is empty")
        return problems

    def clean_message_options(self, options: Mapping[str, Any]) -> dict[str, str]:
        """Checked per-message ``options`` as they are stored and sent: stripped text."""
        return {key: str(value).strip() for key, value in options.items()}

    def format_number(self, e164: str) -> str:
        """How this gateway wants a number written: by default country code, no ``+``."""
        return e164.lstrip("+")

    # -- helpers for subclasses ----------------------------------------------------------

    @classmethod
    def has(cls, capability: Capability) -> bool:
        return capability in cls.capabilities

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The gateway's clock (``Provider.timezone``), UTC when unset or unknown."""
        try:
            return zoneinfo.ZoneInfo(self.provider.timezone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")

    def option(self, key: str, default: Any = None) -> Any:
        """The provider's option ``key``; unset, its country profile's default for this
        gateway (Nigeria's DND route on smsclone), else ``default``."""
        options = self.provider.options or {}
        if key in options:
            return options[key]
        return country_profiles.option_defaults(self.provider, self.name).get(key, default)

    @property
    def secrets(self) -> list[str]:
        """Every credential value of the provider, for redaction."""
        return [s for s in self.provider.secret_values() if s]

    def redact(self, value: Any) -> Any:
        """``value`` (text, dict, list) with every credential replaced by ``***``."""
        return redact(value, self.secrets)

    def clip(self, text: str | bytes, limit: int = STORED_REPLY_CHARS) -> str:
        """Reply text fit for storing: credentials masked first, then cut to ``limit``.

        Cutting first could split a secret at the boundary and leave its first characters
        unmasked (``…apikey=AUD``).
        """
        if isinstance(text, bytes):
            text = self.reply_text(text)
        masked: str = self.redact(text)
        return masked[:limit]

    def reply_text(self, content: bytes) -> str:
        """A reply's bytes as text: UTF-8 (a BOM dropped), undecodable bytes replaced."""
        return content.decode("utf-8-sig", errors="replace")

    def unreadable(self, body: str, *, sending: bool, what: str = "answer") -> GatewayError:
        """A reply with no answer we can read in it.

        After a send the gateway may have acted on it: AMBIGUOUS, never resubmitted. For
        anything else nothing was submitted, so asking again is harmless: TRANSIENT.
        """
        label = self.verbose_name or self.name
        if sending:
            return GatewayError(
                ErrorCategory.AMBIGUOUS,
                f"{label}'s {what} could not be read; it may have taken the message",
                raw=self.clip(body),
            )
        return GatewayError(
            ErrorCategory.TRANSIENT, f"{label}'s {what} could not be read", raw=self.clip(body)
        )

    def coded_error(
        self,
        code: str,
        known: tuple[str, ErrorCategory] | None,
        body: str,
        *,
        sending: bool,
        words: str = "",
        taken: bool = False,
    ) -> GatewayError:
        """The error a reply's code names, ``known`` being its row of the vendor's table.

        The gateway's own ``words`` win over the table's. AMBIGUOUS only means something for
        a send; for a poll or a balance it is TRANSIENT. A code the vendor never documented
        is INVALID_REQUEST, unless a send's reply also shows the message was ``taken``
        (a job id beside the code): then AMBIGUOUS.
        """
        if known is not None:
            text, category = words or known[0], known[1]
            if category == ErrorCategory.AMBIGUOUS and not sending:
                category = ErrorCategory.TRANSIENT
        else:
            category = (
                ErrorCategory.AMBIGUOUS if sending and taken else ErrorCategory.INVALID_REQUEST
            )
            said = words or self.clip(body.strip(), 500)
            text = f"unknown {self.verbose_name or self.name} code {code}: {said}"
        return GatewayError(category, self.redact(text), code=code, raw=self.clip(body))

    def unreadable_reply(self, operation: str, exc: BaseException) -> GatewayError:
        """The error for a reply the adapter could not read (see ``__init_subclass__``)."""
        what = f"{type(exc).__name__}: {self.redact(str(exc))[:200]}"
        label = self.verbose_name or self.name
        raw = self.clip(self._last_reply) if self._last_reply else None
        if operation == "send":
            return GatewayError(
                ErrorCategory.AMBIGUOUS,
                f"{label}'s answer could not be read ({what}); it may have taken the message",
                raw=raw,
            )
        if operation == "parse_callback":
            return GatewayError(
                ErrorCategory.INVALID_REQUEST,
                f"the pushed report could not be read ({what})",
            )
        return GatewayError(
            ErrorCategory.TRANSIENT, f"{label}'s answer could not be read ({what})", raw=raw
        )

    @property
    def session(self) -> requests.Session:
        """One kept-alive HTTP session for as long as this adapter lives (a whole pass).

        The environment (proxies, CA bundle) is read once here rather than on every
        request, which is what ``requests`` does by default and costs a scan per request.
        """
        if self._session is None:
            session = requests.Session()
            session.headers["User-Agent"] = "django-helpdesk-sms"
            env = session.merge_environment_settings(
                self.provider.base_url or None, {}, None, None, None
            )
            session.proxies.update(env.get("proxies") or {})
            session.verify = env.get("verify", True)
            session.cert = env.get("cert")
            session.trust_env = False
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the HTTP session's connections (the adapter opens a new one if used again)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def http(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One HTTP request, its failures translated to the taxonomy with secrets redacted.

        Failures before the request reached the gateway (refused, DNS, connect timeout) are
        TRANSIENT; failures after (read timeout, reset, broken reply) are AMBIGUOUS; a 5xx
        status is TRANSIENT (the gateway did not take it), another non-2xx is INVALID_REQUEST.
        """
        timeout = (conf.get("CONNECT_TIMEOUT"), conf.get("READ_TIMEOUT"))
        self._requests_started += 1
        self._last_reply = b""
        try:
            response = self.session.request(method, url, timeout=timeout, stream=True, **kwargs)
            self._last_reply = self._read_capped(response)
        except requests.exceptions.ConnectTimeout as exc:
            raise self._transport_error(ErrorCategory.TRANSIENT, "connect timeout", exc) from None
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise self._transport_error(
                    ErrorCategory.TRANSIENT, "connection failed", exc
                ) from None
            raise self._transport_error(
                ErrorCategory.AMBIGUOUS, "connection lost after sending", exc
            ) from None
        except requests.exceptions.Timeout as exc:
            raise self._transport_error(
                ErrorCategory.AMBIGUOUS, "no answer in time after sending", exc
            ) from None
        except requests.exceptions.RequestException as exc:
            raise self._transport_error(ErrorCategory.AMBIGUOUS, "request failed", exc) from None
        if response.status_code >= 500:
            raise GatewayError(
                ErrorCategory.TRANSIENT,
                f"HTTP {response.status_code} from the gateway",
                code=str(response.status_code),
                raw=self.clip(response.content),
            )
        if response.status_code == 429:
            raise GatewayError(
                ErrorCategory.THROTTLED,
                "HTTP 429 from the gateway",
                code="429",
                raw=self.clip(response.content),
            )
        if response.status_code >= 400:
            raise GatewayError(
                ErrorCategory.INVALID_REQUEST,
                f"HTTP {response.status_code} from the gateway",
                code=str(response.status_code),
                raw=self.clip(response.content),
            )
        return response

    def _read_capped(self, response: requests.Response) -> bytes:
        """The whole body, unless it is over ``MAX_REPLY_BYTES``: then an AMBIGUOUS error.

        Read in chunks and stopped at the cap, so a 50 MB reply costs what the cap costs.
        Over the cap the gateway did answer, so a send may have been taken: AMBIGUOUS (for
        a poll or a balance any GatewayError leaves every message as it was).
        """
        cap = int(conf.get("MAX_REPLY_BYTES"))
        declared = response.headers.get("Content-Length", "")
        too_large = is_number(declared) and int(declared) > cap
        size = 0
        chunks: list[bytes] = []
        if not too_large:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > cap:
                    too_large = True
                    break
                chunks.append(chunk)
        if too_large:
            response.close()
            raise GatewayError(
                ErrorCategory.AMBIGUOUS,
                f"the gateway's answer is over {cap} bytes (MAX_REPLY_BYTES) and was not read",
                code="reply_too_large",
            )
        body = b"".join(chunks)
        response._content = body  # what response.content / .text / .json() read from now on
        response._content_consumed = True  # type: ignore[attr-defined]
        return body

    def _transport_error(self, category: ErrorCategory, what: str, exc: Exception) -> GatewayError:
        return GatewayError(category, f"{what}: {self.redact(str(exc))}")

    def url(self, path: str) -> str:
        return self.provider.base_url.rstrip("/") + "/" + path.lstrip("/")


def _guarded(operation: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` with the unreadable-reply rule of :meth:`Gateway.__init_subclass__`."""

    @functools.wraps(method)
    def guarded(self: Gateway, *args: Any, **kwargs: Any) -> Any:
        started = self._requests_started
        try:
            return method(self, *args, **kwargs)
        except GatewayError:
            raise
        except Exception as exc:
            if operation != "parse_callback" and self._requests_started == started:
                raise  # nothing went out: an adapter bug, not a reply
            raise self.unreadable_reply(operation, exc) from None

    guarded.guarded = True  # type: ignore[attr-defined]
    return guarded


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the request provably never reached the gateway."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, NewConnectionError | NameResolutionError | ConnectionRefusedError):
            return True
        if not isinstance(item, BaseException):
            continue  # e.g. the message string among an exception's args
        stack.extend(item.args)
        stack.append(getattr(item, "reason", None))
        stack.append(item.__cause__)
        stack.append(item.__context__)
    return False


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """Replace every secret (plain or URL-encoded) in ``value``, recursively."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            for form in {
                secret,
                urllib.parse.quote(secret, safe=""),
                urllib.parse.quote_plus(secret),
            }:
                value = value.replace(form, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in value]
    return value


_SECRET_PARAM = re.compile(r"(?i)(api_?key|pass(word)?|pwd|secret|token)")


def redact_params(params: dict[str, Any]) -> dict[str, Any]:
    """Request parameters fit for storing: credential-like keys masked."""
    return {k: (REDACTED if _SECRET_PARAM.search(k) else v) for k, v in params.items()}


def digits(value: Any) -> str:
    """Only the ASCII digits of ``value`` ("+91 98123-45678" -> "919812345678").

    ``str.isdigit`` also accepts ``²`` and other characters ``int()`` refuses.
    """
    return "".join(c for c in str(value or "") if "0" <= c <= "9")


def is_number(text: str) -> bool:
    """Whether ``text`` is a non-empty run of ASCII digits, safe to give ``int()``."""
    return text.isascii() and text.isdigit()


Entry = TypeVar("Entry")


def match_entries(
    numbers: Sequence[str], entries: Sequence[Entry], number_of: Callable[[Entry], Any]
) -> dict[int, Entry]:
    """Recipient index -> the reply entry for that number, each entry used once.

    Gateways answer per number, in their own order and spelling: entries are matched by
    all digits first, then by the last ten (a panel that echoes national numbers). A batch
    of one number takes a reply of one entry whatever number it names, as several vendor
    documents' own examples do.
    """
    free = [entry for entry in entries if digits(number_of(entry))]
    matched: dict[int, Entry] = {}

    def take(index: int, same: Callable[[str, str], bool]) -> None:
        wanted = digits(numbers[index])
        for entry in free:
            if same(wanted, digits(number_of(entry))):
                matched[index] = entry
                free.remove(entry)
                return

    indexes = [i for i, number in enumerate(numbers) if digits(number)]
    for index in indexes:
        take(index, lambda a, b: a == b)
    for index in indexes:
        if index not in matched:
            take(index, lambda a, b: len(a) >= 10 and len(b) >= 10 and a[-10:] == b[-10:])
    if len(numbers) == 1 and len(entries) == 1 and not matched and digits(numbers[0]):
        matched[0] = entries[0]
    return matched
