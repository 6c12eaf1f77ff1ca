"""Canlog (canlog.in) and other ``/api/mt/`` panels: HTTP GET with a query string, JSON replies.

The protocol is the vendor's "API-Key Help Document" v1.2 (``gateway-docs/000_…``): ``SendSMS``,
``GetDelivery`` (polled by job id) and ``GetBalance``. The document was OCR-converted and its
examples contradict each other, so replies are parsed tolerantly; every decision taken on
its ambiguities is listed in :class:`CanlogGateway`'s docstring and in
``docs/gateways/canlog.md``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from django.utils import timezone

from .base import (
    DLT_OPTION_HELP,
    Balance,
    Batch,
    Capability,
    DeliveryReport,
    DeliveryStatus,
    ErrorCategory,
    Gateway,
    GatewayError,
    GroupMember,
    RecipientResult,
    ReportRef,
    SendOutcome,
    match_entries,
    redact_params,
)
from .inbound import INBOUND_OPTION_HELP

logger = logging.getLogger(__name__)

SEND_PATH = "/api/mt/SendSMS"
DELIVERY_PATH = "/api/mt/GetDelivery"
BALANCE_PATH = "/api/mt/GetBalance"

#: The document's error table: code (as the document writes it) -> (its words, our category).
#: Codes are compared as integers, so "13", "013" and 13 are the same code.
ERRORS: dict[str, tuple[str, ErrorCategory]] = {
    "001": ("login details cannot be blank", ErrorCategory.AUTHENTICATION),
    "003": ("sender cannot be blank", ErrorCategory.INVALID_SENDER),
    "004": ("message text cannot be blank", ErrorCategory.CONTENT_REJECTED),
    "005": ("message data cannot be blank", ErrorCategory.CONTENT_REJECTED),
    # A generic refusal: the gateway answered, so it did not take the message.
    "006": ("error: generic error description", ErrorCategory.INVALID_REQUEST),
    "007": ("username or password is invalid", ErrorCategory.AUTHENTICATION),
    "008": ("account not active", ErrorCategory.AUTHENTICATION),
    "009": ("account locked, contact your account manager", ErrorCategory.AUTHENTICATION),
    "010": ("api restriction", ErrorCategory.AUTHENTICATION),
    "011": ("ip address restriction", ErrorCategory.AUTHENTICATION),
    "012": ("invalid length of message text", ErrorCategory.CONTENT_REJECTED),
    "013": ("mobile numbers not valid", ErrorCategory.INVALID_RECIPIENT),
    "014": ("account locked due to spam message contact support", ErrorCategory.AUTHENTICATION),
    "015": ("senderid not valid", ErrorCategory.INVALID_SENDER),
    "017": ("groupid not valid", ErrorCategory.INVALID_RECIPIENT),
    "018": ("multi message to group is not supported", ErrorCategory.INVALID_REQUEST),
    "019": ("schedule date is not valid", ErrorCategory.INVALID_REQUEST),
    "020": ("message or mobile number cannot be blank", ErrorCategory.INVALID_REQUEST),
    "021": ("insufficient credits", ErrorCategory.INSUFFICIENT_CREDIT),
    "022": ("invalid jobid", ErrorCategory.INVALID_REQUEST),
    "023": ("parameter missing", ErrorCategory.INVALID_REQUEST),
    "024": ("invalid template or template mismatch", ErrorCategory.CONTENT_REJECTED),
    "025": ("{Field} can not be blank or empty", ErrorCategory.INVALID_REQUEST),
    "026": ("invalid date range", ErrorCategory.INVALID_REQUEST),
    "027": ("invalid optin user", ErrorCategory.INVALID_RECIPIENT),
}

#: DeliveryStatus words (lower-case) -> our status; any other word means "still on its way".
DELIVERY_STATUSES: dict[str, DeliveryStatus] = {
    "delivered": DeliveryStatus.DELIVERED,
    "delivrd": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "undeliv": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.UNDELIVERED,
    "rejected": DeliveryStatus.UNDELIVERED,
    "rejectd": DeliveryStatus.UNDELIVERED,
    "expired": DeliveryStatus.EXPIRED,
}

#: Reply keys after normalization (whitespace removed, lower-cased) -> canonical spelling.
#: ``messageld`` is the document's OCR reading of ``MessageId``.
_KEYS = {
    key.lower(): key
    for key in (
        "ErrorCode",
        "ErrorMessage",
        "JobId",
        "MessageData",
        "Number",
        "MessageId",
        "DeliveryReports",
        "DeliveryStatus",
        "DeliveryDate",
        "Balance",
    )
} | {"messageld": "MessageId"}

_INTEGER = re.compile(r"[+-]?\d+")

#: The document's channels ("Message channel promotional or transactional"), spelled as its
#: examples and its balance reply (``Promo:9988|Trans:0``) spell them.
CHANNELS = ("Trans", "Promo")


class CanlogGateway(Gateway):
    """Canlog's ``/api/mt/`` HTTP API.

    Decisions on the document's ambiguities (also in ``docs/gateways/canlog.md``):

    * **Auth**: ``APIKey`` when the provider has an API key, else ``user`` and ``password``
      (``User``/``Password`` for GetBalance, as the document writes them). Credentials are
      never stored: ``SendOutcome.request`` holds the path and the redacted parameters.
    * **Replies**: JSON read with control characters allowed inside strings (the document's
      keys are broken across lines), from the first ``{`` on; keys normalized (whitespace
      removed, case-insensitive, ``Messageld`` read as ``MessageId``); ``MessageData`` a
      list, one object, or null; ``ErrorCode`` compared as an integer (``"0"``, ``"000"``,
      ``"13"``). A send reply that cannot be read at all, or has no ``ErrorCode``, is
      AMBIGUOUS (the gateway may have taken it); a non-zero code the table does not know is
      INVALID_REQUEST — unless the reply also carries a JobId or MessageData, which means
      the gateway may have taken the message, so it is AMBIGUOUS.
    * **Per-number results**: ``MessageData`` entries are matched to recipients by digits,
      then by the last ten digits (a panel that echoes national numbers). Entries for
      numbers not in the batch are ignored (they stay in the stored response). A recipient
      with no entry in an ErrorCode-0 reply is accepted with the JobId and no message id.
      When the batch has one recipient and the reply one entry, that entry is the
      recipient's even if its number differs: the document's own examples answer with
      numbers that were not in the request.
    * **Groups**: a group batch carries one recipient whose ``number`` is ``""`` (the whole
      group is one Message). Only ``groupid`` is sent, plus ``number`` for any recipients
      with numbers. The group recipient is accepted with the JobId and reports every
      MessageData entry as a ``GroupMember``; the outbox records each member as a message
      of its own, so each is billed, listed and followed to delivery.
    * **Scheduling**: ``schedtime`` is written like the document's ``2015/12/31 22:35:00
      PM`` — 24-hour time followed by the AM/PM marker — in the provider's time zone.
    * **Reports**: one GetDelivery per distinct job id, ``jobid`` sent without the quotes
      the document shows. Only the asked-for message ids are returned (all, when a ref of
      the job has no id). A job the panel no longer knows (022) is skipped and logged so
      one purged job cannot stop every other report; any other error is raised.
      ``DeliveryDate`` is naive local time in the provider's time zone.
    * **DLT**: the document names no parameter (its 024 "invalid template or template
      mismatch" shows Indian panels check templates). A batch's ``template_id`` goes out as
      ``dlttemplateid`` and the message's entity id (else the ``dlt_entity_id`` option) as
      ``peid``, the names Indian ``/api/mt/`` panels use; options ``dlt_template_param`` and
      ``dlt_entity_param`` name others. 024 is CONTENT_REJECTED: permanent.
    * **Sender IDs**: at most six characters, letters only — the document's "Approved
      sender id (6 characters string only)".
    * **Channel and route per message**: a template or a ``send_sms`` call may set
      ``channel`` and ``route`` for its own messages (``message_option_help``), overriding
      the provider's options, so transactional and promotional traffic share one account.
      ``channel`` is ``Trans`` or ``Promo`` (the document's "promotional or transactional",
      spelled as its examples and balance reply spell them; any case is read). ``route``
      must be one of the provider's ``routes`` option when that lists the account's route
      ids; without the list, a route id is digits, like the document's ``route=15``. Messages
      with different options never share a request.
    """

    name = "canlog"
    verbose_name = "Canlog"
    credential_sets = (frozenset({"api_key"}), frozenset({"username", "password"}))
    capabilities = frozenset(
        {
            Capability.UNICODE,
            Capability.FLASH,
            Capability.SCHEDULE,
            Capability.GROUP,
            Capability.BULK,
            Capability.DLR_POLL,
            Capability.BALANCE,
            Capability.INBOUND,
            Capability.DLT,
        }
    )
    dlt_param_names = ("dlttemplateid", "peid")
    request_params = frozenset(
        {"APIKey", "user", "password", "senderid", "channel", "DCS", "flashsms", "number"}
        | {"text", "schedtime", "groupid", "route"}
    )
    max_numbers_per_request = 100
    max_parts = None
    max_sender_length = 6
    option_help: ClassVar[dict[str, str]] = {
        "channel": "Message channel: 'Trans' (transactional, the default) or 'Promo'.",
        "route": "Route id from your Canlog panel, sent as 'route'; omitted when unset.",
        "routes": (
            'The route ids your account has, e.g. ["15", "22"]: the route option and '
            "the routes templates and send_sms calls choose must be one of them. Unset: any "
            "route id of digits."
        ),
        "scheduling": (
            "'local' (default): messages for later are held here until due; "
            "'gateway': sent at once with Canlog's schedtime."
        ),
        "max_numbers": "Numbers per SendSMS request (default 100).",
        **DLT_OPTION_HELP,
        **INBOUND_OPTION_HELP,
    }

    message_option_help: ClassVar[dict[str, str]] = {
        "channel": "'Trans' (transactional) or 'Promo' (promotional), instead of the provider's.",
        "route": (
            "A route id instead of the provider's: one of the provider's routes option when "
            "it lists them, else digits."
        ),
    }

    # -- operations ------------------------------------------------------------------------

    def send(self, batch: Batch) -> SendOutcome:
        """One SendSMS request for the whole batch."""
        params = self.send_params(batch)
        reply = self._call(SEND_PATH, params, sending=True)
        job_id = _clean(reply.get("JobId"))
        entries = _entries(reply.get("MessageData"))
        return SendOutcome(
            results=self._results(batch, job_id, entries),
            request={"path": SEND_PATH, "params": self.redact(redact_params(params))},
            response=self.redact(reply),
        )

    def fetch_reports(self, refs: Sequence[ReportRef]) -> list[DeliveryReport]:
        """One GetDelivery per distinct job id; refs without a job id cannot be asked about."""
        wanted: dict[str, set[str]] = {}
        for ref in refs:
            if ref.job_id:
                wanted.setdefault(ref.job_id, set()).add(ref.provider_message_id)
        reports: list[DeliveryReport] = []
        for job_id, message_ids in wanted.items():
            try:
                reply = self._call(DELIVERY_PATH, {**self._auth(), "jobid": job_id})
            except GatewayError as error:
                if _integer(error.code) == 22:
                    logger.warning("helpdesk_sms: Canlog does not know job %s: %s", job_id, error)
                    continue
                raise
            for entry in _entries(reply.get("DeliveryReports")):
                report = self._report(entry)
                if report and ("" in message_ids or report.provider_message_id in message_ids):
                    reports.append(report)
        return reports

    def balance(self) -> list[Balance]:
        """GetBalance: one Balance per channel ("Promo:9988|Trans:0")."""
        reply = self._call(BALANCE_PATH, self._auth(balance=True))
        raw = self.redact(reply)
        balances = parse_balances(reply.get("Balance"), raw)
        if not balances:
            raise GatewayError(
                ErrorCategory.INVALID_REQUEST,
                "Canlog's balance reply has no readable balance",
                raw=raw,
            )
        return balances

    # -- validation and request building ---------------------------------------------------

    def sender_errors(self, sender: str) -> list[str]:
        problems = super().sender_errors(sender)
        if sender.strip() and not (sender.isascii() and sender.isalpha()):
            problems.append(
                f"Canlog sender IDs are approved 6-character strings of letters (A-Z); "
                f"{sender!r} has other characters"
            )
        return problems

    def option_errors(self) -> list[str]:
        """The channel, the route list and the route are checked when the provider is saved."""
        problems = []
        channel = self.option("channel")
        if channel not in (None, "") and _channel(channel) is None:
            problems.append(f"the channel option must be one of {', '.join(CHANNELS)}")
        routes = self.option("routes")
        if routes is not None and self.allowed_routes() is None:
            problems.append(
                "the routes option must be a list of route ids (text or whole numbers), "
                'e.g. ["15", "22"]'
            )
        route = self.option("route")
        if route not in (None, "") and not problems:
            problems += self._route_errors("route", route)
        return problems

    def message_option_errors(self, options: Mapping[str, Any]) -> list[str]:
        """The document's two channels; a route the provider lists (or digits)."""
        problems = super().message_option_errors(options)
        if problems:
            return problems
        if "channel" in options and _channel(options["channel"]) is None:
            problems.append(
                f"channel must be one of {', '.join(CHANNELS)}, not {options['channel']!r}"
            )
        if "route" in options:
            problems += self._route_errors("route", options["route"])
        return problems

    def clean_message_options(self, options: Mapping[str, Any]) -> dict[str, str]:
        cleaned = super().clean_message_options(options)
        if "channel" in cleaned:
            cleaned["channel"] = _channel(cleaned["channel"]) or cleaned["channel"]
        return cleaned

    def allowed_routes(self) -> list[str] | None:
        """The ``routes`` option as route ids, [] when unset; None when it is not a list."""
        routes = self.option("routes")
        if routes is None:
            return []
        if not isinstance(routes, list) or not all(
            isinstance(r, str | int) and not isinstance(r, bool) and str(r).strip() for r in routes
        ):
            return None
        return [str(r).strip() for r in routes]

    def _route_errors(self, name: str, value: Any) -> list[str]:
        route = str(value).strip()
        allowed = self.allowed_routes() or []
        if allowed and route not in allowed:
            return [f"{name} {route!r} is not one of the provider's routes ({', '.join(allowed)})"]
        if not allowed and not route.isdigit():
            return [
                f"{name} must be a route id of digits like the document's route=15, not "
                f"{route!r} (list other ids in the provider's routes option)"
            ]
        return []

    def send_params(self, batch: Batch) -> dict[str, str]:
        """The SendSMS query, in the document's order, credentials included.

        ``channel`` and ``route`` are the batch's own (a template's or a call's) when it has
        them, else the provider's.
        """
        params = self._auth()
        params["senderid"] = batch.sender
        params["channel"] = str(batch.options.get("channel") or self.option("channel") or "Trans")
        params["DCS"] = "8" if batch.unicode else "0"
        params["flashsms"] = "1" if batch.flash else "0"
        numbers = [self.format_number(r.number) for r in batch.recipients if r.number]
        if numbers:
            params["number"] = ",".join(numbers)
        params["text"] = batch.text
        if batch.schedule_at is not None:
            params["schedtime"] = self.schedtime(batch.schedule_at)
        if batch.group_id:
            params["groupid"] = batch.group_id
        route = batch.options.get("route") or self.option("route")
        if route not in (None, ""):
            params["route"] = str(route)
        params.update(self.dlt_params(batch))
        return params

    def schedtime(self, when: datetime) -> str:
        """The document's ``2015/12/31 22:35:00 PM``: 24-hour time plus AM/PM, local time."""
        if timezone.is_naive(when):
            when = timezone.make_aware(when)
        local = when.astimezone(self.tz)
        return local.strftime("%Y/%m/%d %H:%M:%S") + (" PM" if local.hour >= 12 else " AM")

    def _auth(self, *, balance: bool = False) -> dict[str, str]:
        if self.provider.api_key:
            return {"APIKey": self.provider.api_key}
        if balance:
            return {"User": self.provider.username, "Password": self.provider.password}
        return {"user": self.provider.username, "password": self.provider.password}

    # -- replies ---------------------------------------------------------------------------

    def _call(self, path: str, params: dict[str, str], *, sending: bool = False) -> dict[str, Any]:
        """GET ``path`` and return its reply, or raise the error it carries."""
        response = self.http("GET", self.url(path), params=params)
        body = self.reply_text(response.content)
        reply = parse_reply(body)
        if reply is None or reply.get("ErrorCode") is None:
            raise self.unreadable(body, sending=sending)
        code = _integer(reply["ErrorCode"])
        if code != 0:
            raise self._error(reply, code, body, sending)
        return reply

    def _error(
        self, reply: dict[str, Any], code: int | None, body: str, sending: bool
    ) -> GatewayError:
        known = ERRORS.get(f"{code:03d}") if code is not None and code >= 0 else None
        return self.coded_error(
            str(reply["ErrorCode"]).strip(),
            known,
            body,
            sending=sending,
            words=str(reply.get("ErrorMessage") or "").strip(),
            taken=bool(_clean(reply.get("JobId")) or _entries(reply.get("MessageData"))),
        )

    def _results(
        self, batch: Batch, job_id: str, entries: list[dict[str, Any]]
    ) -> list[RecipientResult]:
        """One accepted result per recipient, each with its MessageData entry if any."""
        matched = match_entries(
            [self.format_number(r.number) if r.number else "" for r in batch.recipients],
            entries,
            lambda entry: entry.get("Number"),
        )
        results = []
        for index, recipient in enumerate(batch.recipients):
            entry = matched.get(index)
            if entry is None and not recipient.number:
                results.append(self._group_result(recipient.ref, batch, job_id, entries, matched))
                continue
            results.append(
                RecipientResult(
                    ref=recipient.ref,
                    accepted=True,
                    provider_message_id=_clean(entry.get("MessageId")) if entry else "",
                    job_id=job_id,
                    raw=entry if entry else {"JobId": job_id, "MessageData": None},
                )
            )
        return results

    @staticmethod
    def _group_result(
        ref: int,
        batch: Batch,
        job_id: str,
        entries: list[dict[str, Any]],
        matched: dict[int, dict[str, Any]],
    ) -> RecipientResult:
        taken = {id(e) for e in matched.values()}
        members = [e for e in entries if id(e) not in taken]
        return RecipientResult(
            ref=ref,
            accepted=True,
            job_id=job_id,
            raw={"JobId": job_id, "groupid": batch.group_id, "MessageData": members},
            members=[
                GroupMember(_clean(e.get("Number")), _clean(e.get("MessageId")))
                for e in members
                if _clean(e.get("Number"))
            ],
        )

    def _report(self, entry: dict[str, Any]) -> DeliveryReport | None:
        message_id = _clean(entry.get("MessageId"))
        if not message_id:
            return None
        word = str(entry.get("DeliveryStatus") or "").strip()
        status = DELIVERY_STATUSES.get(word.lower(), DeliveryStatus.ACCEPTED)
        final_failure = status in (DeliveryStatus.UNDELIVERED, DeliveryStatus.EXPIRED)
        return DeliveryReport(
            provider_message_id=message_id,
            status=status,
            occurred_at=self._when(entry.get("DeliveryDate")),
            error_text=word if final_failure else "",
            raw=entry,
        )

    def _when(self, value: Any) -> datetime | None:
        """``2015-09-28T06:17:00`` (naive, the provider's time zone) as an aware datetime."""
        text = str(value or "").strip()
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=self.tz)


# -- reply parsing (pure functions, shared with the docs and tests) ------------------------


def parse_reply(body: str) -> dict[str, Any] | None:
    """The JSON object in ``body`` with normalized keys, or None when there is none."""
    start = body.find("{")
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder(strict=False).raw_decode(body, start)
    except ValueError:
        return None
    return _normalize(value) if isinstance(value, dict) else None


def parse_balances(value: Any, raw: Any = None) -> list[Balance]:
    """``"Promo:9988|Trans:0"`` -> one Balance per channel; a bare amount -> one unnamed."""
    if isinstance(value, dict):
        pieces = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, int | float | Decimal):
        pieces = [("", value)]
    else:
        pieces = []
        for piece in str(value or "").split("|"):
            account, _, amount = piece.rpartition(":")
            if amount.strip():
                pieces.append((account, amount))
    balances = []
    for account, amount in pieces:
        number = _decimal(amount)
        if number is not None:
            balances.append(Balance(account.strip(), number, "credits", raw))
    return balances


def _normalize(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            folded = "".join(str(key).split()).lower()
            out[_KEYS.get(folded, folded)] = _normalize(item)
        return out
    if isinstance(value, list):
        return [_normalize(item) for item in value]
    return value


def _entries(value: Any) -> list[dict[str, Any]]:
    """``MessageData`` / ``DeliveryReports`` as a list of objects: list, one object, or null."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def _clean(value: Any) -> str:
    """An id or number with any whitespace (the document's line breaks) removed."""
    return "" if value is None else "".join(str(value).split())


def _integer(value: Any) -> int | None:
    text = str(value if value is not None else "").strip()
    return int(text) if _INTEGER.fullmatch(text) else None


def _channel(value: Any) -> str | None:
    """``Trans`` or ``Promo`` for any spelling of either; None for anything else."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    return next((c for c in CHANNELS if c.lower() == text), None)


def _decimal(value: Any) -> Decimal | None:
    text = "".join(str(value).split()).replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
