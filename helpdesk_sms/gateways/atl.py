"""ATL InfoTech bulk SMS (atlsms.az, Azerbaijan): HTTP POST with an XML body, XML replies.

The protocol is the vendor's "ATL InfoTech Bulk SMS API" (``gateway-docs/002_…``): one URL,
four operations named in ``<operation>``: ``submit``, ``report`` (counts only),
``detailedreport`` (per number) and ``units`` (balance). The same API runs on other hosts
(``sms.atatexnologiya.az``, ``sms.atltech.az:8080``…), so the host is configuration.

XML is written with :mod:`xml.etree.ElementTree` and read only with :mod:`defusedxml`. The
document's own report example is not well-formed, so report replies go through a small
repair step (:func:`repair`) whose output is then parsed by defusedxml. Every decision taken
on the document's ambiguities is listed in :class:`AtlGateway`'s docstring and in
``docs/gateways/atl.md``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from xml.etree import ElementTree as ET  # noqa: S405 - used only to write XML

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException
from django.utils import timezone

from .base import (
    REDACTED,
    Balance,
    Batch,
    Capability,
    DeliveryReport,
    DeliveryStatus,
    ErrorCategory,
    Gateway,
    GatewayError,
    RecipientResult,
    ReportRef,
    SendOutcome,
    digits,
    is_number,
)
from .inbound import INBOUND_OPTION_HELP

logger = logging.getLogger(__name__)

#: The document's URL is ``https://click.atlsms.az/bulksms/api``: host in ``base_url``.
API_PATH = "/bulksms/api"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

SUCCESS = "000"
NOT_READY = "001"
DUPLICATE = "002"

#: The document's response codes: code -> (its words, our category). ``000`` (success) is
#: not an error and not listed. ``001`` and ``002`` are answers rather than refusals: on a
#: submit they mean the gateway has (or is processing) the task, hence AMBIGUOUS here;
#: ``send`` turns 002 into an acceptance and report polling reads 001 as "not ready".
#: ``2XX`` stands for every 2xx code other than 235.
ERRORS: dict[str, tuple[str, ErrorCategory]] = {
    "001": ("Processing, report is not ready", ErrorCategory.AMBIGUOUS),
    "002": (
        "Duplicate <control_id> (it must be unique for each task)",
        ErrorCategory.AMBIGUOUS,
    ),
    "100": ("Bad request", ErrorCategory.INVALID_REQUEST),
    "101": ("Operation type is empty", ErrorCategory.INVALID_REQUEST),
    "102": ("Invalid operation", ErrorCategory.INVALID_REQUEST),
    "103": ("Login is empty", ErrorCategory.AUTHENTICATION),
    "104": ("Password is empty", ErrorCategory.AUTHENTICATION),
    "105": ("Invalid authentification information", ErrorCategory.AUTHENTICATION),
    "106": ("Title is empty", ErrorCategory.INVALID_SENDER),
    "107": ("Invalid title", ErrorCategory.INVALID_SENDER),
    "108": ("Task id is empty", ErrorCategory.INVALID_REQUEST),
    "109": ("Invalid task id", ErrorCategory.INVALID_REQUEST),
    "110": ("Task with supplied id is canceled", ErrorCategory.INVALID_REQUEST),
    "111": ("Scheduled date is empty", ErrorCategory.INVALID_REQUEST),
    "112": ("Invalid scheduled date", ErrorCategory.INVALID_REQUEST),
    "113": ("Old scheduled date", ErrorCategory.INVALID_REQUEST),
    "114": ("isbulk is empty", ErrorCategory.INVALID_REQUEST),
    "115": ('Invalid isbulk value, must "true" or "false"', ErrorCategory.INVALID_REQUEST),
    "116": ("Invalid bulk message", ErrorCategory.CONTENT_REJECTED),
    # <body> carries the recipients (msisdn), so a refused body is read as bad numbers.
    "117": ("Invalid body", ErrorCategory.INVALID_RECIPIENT),
    "118": ("Not enough units", ErrorCategory.INSUFFICIENT_CREDIT),
    "235": ("Invalid TITLE please contact Account Manager", ErrorCategory.INVALID_SENDER),
    # The gateway answered with an error instead of a task id, so it did not take the
    # task; a retry of the same batch reuses the controlid, so a task it did keep
    # answers 002 and is never sent twice.
    "2XX": ("System error, report to administrator", ErrorCategory.TRANSIENT),
    "300": ("Internal server error, report to administrator", ErrorCategory.TRANSIENT),
}

#: detailedreport status -> (our status, the document's words). The summary ``report``
#: names the same five states (pending, delivered, failed, removed, error).
DETAILED_STATUSES: dict[str, tuple[DeliveryStatus, str]] = {
    "1": (DeliveryStatus.ACCEPTED, "Message is queued"),
    "2": (DeliveryStatus.DELIVERED, "Message was successfully delivered"),
    "3": (DeliveryStatus.UNDELIVERED, "Message delivery failed"),
    "4": (DeliveryStatus.UNDELIVERED, "Message was removed from list"),
    "5": (DeliveryStatus.UNDELIVERED, "System error"),
}
#: The summary report's counters, in the document's order, with their detailed status.
SUMMARY_COUNTERS: dict[str, str] = {
    "pending": "1",
    "delivered": "2",
    "failed": "3",
    "removed": "4",
    "error": "5",
}

_CODE = re.compile(r"\d{1,3}")
_SYSTEM_ERROR = re.compile(r"2\d\d")
_PATH = re.compile(r"/?[\w.~-]+(?:/[\w.~-]+)*/?")
#: Characters XML 1.0 cannot carry at all (even escaped).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class Reply:
    """One XML reply, read: the response code, every leaf value, per-number entries."""

    code: str  # as the gateway sent it, stripped ("" when there is none)
    values: dict[str, str] = field(default_factory=dict)  # first text of each leaf tag
    entries: list[dict[str, str]] = field(default_factory=list)  # msisdn/status pairs
    well_formed: bool = True

    @property
    def normalized_code(self) -> str:
        """``0`` and ``000`` alike: digits zero-padded to three."""
        return self.code.zfill(3) if _CODE.fullmatch(self.code) else self.code

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.values)
        if self.entries:
            data["entries"] = [dict(e) for e in self.entries]
        if not self.well_formed:
            data["well_formed"] = False
        return data


class AtlGateway(Gateway):
    """ATL InfoTech's XML bulk SMS API.

    Decisions on the document's ambiguities (also in ``docs/gateways/atl.md``):

    * **URL**: ``Provider.base_url`` plus the option ``path`` (default ``/bulksms/api``);
      a base URL that already ends with that path is used as it is.
    * **Credentials**: ``login`` is ``Provider.username``; ``password`` is
      ``Provider.password``, or the API key when the password is empty. The XML stored in
      ``SendOutcome.request`` is built again with ``***`` as the password.
    * **isbulk**: every batch has one text, so it goes out as one bulk task
      (``isbulk=true``, the text in ``bulkmessage``, one ``<body><msisdn>`` per number).
      The option ``isbulk: false`` writes the same text into each ``<body>`` as
      ``<message>`` instead, for accounts where bulk mode is refused.
    * **scheduled** is always sent: the document lists 111 "Scheduled date is empty".
      It is ``now`` for immediate sends, else ``YYYY-MM-DD HH:MM:SS`` in the provider's time
      zone (``Asia/Baku`` for atlsms.az).
    * **controlid** (in the examples, not in the table) is the idempotency key: the decimal
      value of the first 60 bits of SHA-256 over (provider pk, sorted message pks, text).
      The same messages with the same text always get the same controlid, so a retry of a
      request the gateway did keep answers 002 instead of texting twice. It fits a signed
      64-bit integer in case a host stores it as a number. A re-formed batch (other
      messages joined it) gets a new controlid: that is a new task.
    * **002 Duplicate controlid** on a submit means the gateway already has this task: every
      recipient is accepted, with the task id when the reply carries one; without it the
      messages are accepted with no ids (the document has no way to find a task by
      controlid), so their delivery cannot be polled.
    * **Message ids**: ATL returns one task id per request and no per-message id. A
      message's id is ``"<taskid>:<msisdn>"`` (``"<taskid>:<msisdn>:2"`` for a number's
      second occurrence in the same task); its job id is the task id.
    * **Submit replies** must be well-formed XML. One that is not, or that has no
      response code, is AMBIGUOUS: a truncated ``000`` reply could carry half a task id.
      An unknown non-zero code is INVALID_REQUEST, or AMBIGUOUS when the reply also
      carries a task id. ``2XX`` and ``300`` are TRANSIENT (see :data:`ERRORS`).
    * **Reports**: per task, the summary ``report`` first. Nothing final yet: nothing to
      say. Every number in one final state: that state for every message of the task.
      Otherwise, or when the summary is not well-formed or lacks a counter, ``detailedreport``,
      whose format the document leaves out: one ``<body>`` per number with ``<msisdn>``
      and ``<status>`` (1–5), several pairs in one element also read in order. Numbers
      are matched by digits, then by their last nine (the national number). Status 1 is
      still accepted; 2 delivered; 3, 4 (removed) and 5 (system error) undelivered.
    * **Report answers**: 001 (not ready, often without ``<body>``) and 109 (task unknown)
      skip that task; 110 (task canceled) reports its messages undelivered with code 110;
      an unreadable reply skips the task; any other error stops the poll. Report replies
      that are not well-formed (the document's own example) are repaired and parsed.
    * **117 "Invalid body"** is INVALID_RECIPIENT: ``<body>`` holds the numbers. **2XX**
      (other than 235) and **300** are TRANSIENT: the gateway answered an error instead of a
      task id, and the retry reuses the controlid.
    * **Unicode**: the document has no coding parameter; the XML is UTF-8 and the gateway
      chooses the coding from the text, so Azerbaijani text (``ə``, ``ğ``, ``ı``, ``ş``)
      is sent as it is, billed as UCS-2.
    * **Sender (title)**: not empty (106), at most 11 printable ASCII characters (the
      GSM limit for alphanumeric senders; the document names none), and registered for
      the account by ATL (235 otherwise, which only the gateway can tell).
    * **Numbers** are written as the examples show: country code, no ``+``
      (``994519574083``).
    """

    name = "atl"
    verbose_name = "ATL InfoTech"
    credential_sets = (frozenset({"username", "password"}), frozenset({"username", "api_key"}))
    capabilities = frozenset(
        {
            Capability.UNICODE,
            Capability.SCHEDULE,
            Capability.BULK,
            Capability.DLR_POLL,
            Capability.BALANCE,
            Capability.INBOUND,
        }
    )
    max_numbers_per_request = 500
    max_parts = None
    max_sender_length = 11
    option_help: ClassVar[dict[str, str]] = {
        "path": f"Path of the API on the host (default {API_PATH!r}).",
        "isbulk": (
            "true (default): one bulk task, the text sent once in 'bulkmessage'; "
            "false: the text repeated in each recipient's 'message'."
        ),
        "scheduling": (
            "'local' (default): messages for later are held here until due; "
            "'gateway': sent at once with ATL's 'scheduled' date."
        ),
        "max_numbers": "Numbers per submit request (default 500).",
        **INBOUND_OPTION_HELP,
    }

    # -- operations ------------------------------------------------------------------------

    def send(self, batch: Batch) -> SendOutcome:
        """One submit request for the whole batch."""
        self._check_batch(batch)
        control_id = self.control_id(batch)
        sent = self.submit_xml(batch, control_id, self.password)
        stored = self.redact(self.submit_xml(batch, control_id, REDACTED).decode("utf-8"))
        reply, body = self._post(sent, sending=True)
        code = reply.normalized_code
        if code not in (SUCCESS, DUPLICATE):
            raise self._error(reply, body, sending=True)
        task_id = _clean(reply.value("taskid"))
        return SendOutcome(
            results=self._results(batch, task_id, duplicate=code == DUPLICATE),
            request={
                "path": API_PATH,
                "operation": "submit",
                "controlid": control_id,
                "xml": stored,
            },
            response=self.redact({**reply.as_dict(), "xml": self.clip(body)}),
        )

    def fetch_reports(self, refs: Sequence[ReportRef]) -> list[DeliveryReport]:
        """Per task id: the summary report, then the detailed one when it is needed."""
        tasks: dict[str, list[ReportRef]] = {}
        for ref in refs:
            if ref.job_id:
                tasks.setdefault(ref.job_id, []).append(ref)
        reports: list[DeliveryReport] = []
        for task_id, task_refs in tasks.items():
            reports.extend(self._task_reports(task_id, task_refs))
        return reports

    def balance(self) -> list[Balance]:
        """``units``: the account's remaining units."""
        reply, body = self._post(self.request_xml("units", self.password))
        if reply.normalized_code != SUCCESS:
            raise self._error(reply, body)
        amount = _decimal(reply.value("units"))
        raw = self.redact({**reply.as_dict(), "xml": self.clip(body)})
        if amount is None:
            raise GatewayError(
                ErrorCategory.TRANSIENT, "ATL's units reply has no readable number", raw=raw
            )
        return [Balance("", amount, "units", raw)]

    # -- validation and request building ---------------------------------------------------

    def sender_errors(self, sender: str) -> list[str]:
        problems = super().sender_errors(sender)
        if sender.strip() and not (sender.isascii() and sender.isprintable()):
            problems.append(
                f"ATL titles are GSM alphanumeric senders (printable ASCII only); "
                f"{sender!r} has other characters"
            )
        if sender != sender.strip():
            problems.append("the sender ID starts or ends with a space")
        return problems

    def format_number(self, e164: str) -> str:
        """The document's ``994519574083``: country code and number, digits only."""
        return "".join(c for c in e164 if c.isdigit())

    def control_id(self, batch: Batch) -> str:
        """The batch's idempotency key: the same messages and text give the same id."""
        refs = ",".join(str(ref) for ref in sorted(r.ref for r in batch.recipients))
        key = f"{self.provider.pk}|{refs}|{batch.text}".encode()
        return str(int.from_bytes(hashlib.sha256(key).digest()[:8], "big") >> 4)

    def submit_xml(self, batch: Batch, control_id: str, password: str) -> bytes:
        """The submit request in the document's element order."""
        bulk = self.bulk_mode()
        root = ET.Element("request")
        head = ET.SubElement(root, "head")
        fields = {
            "operation": "submit",
            "login": self.provider.username,
            "password": password,
            "title": batch.sender,
        }
        if bulk:
            fields["bulkmessage"] = batch.text
        fields["scheduled"] = self.scheduled(batch.schedule_at)
        fields["isbulk"] = "true" if bulk else "false"
        fields["controlid"] = control_id
        _children(head, fields)
        for recipient in batch.recipients:
            body = ET.SubElement(root, "body")
            _children(body, {"msisdn": self.format_number(recipient.number)})
            if not bulk:
                _children(body, {"message": batch.text})
        return _serialize(root)

    def request_xml(self, operation: str, password: str, task_id: str = "") -> bytes:
        """A report, detailedreport or units request."""
        root = ET.Element("request")
        fields = {"operation": operation, "login": self.provider.username, "password": password}
        if task_id:
            fields["taskid"] = task_id
        _children(ET.SubElement(root, "head"), fields)
        return _serialize(root)

    def bulk_mode(self) -> bool:
        """The ``isbulk`` option: true (default) or false, as a boolean or a word."""
        value = self.option("isbulk", True)
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word not in ("true", "false"):
            raise GatewayError(
                ErrorCategory.INVALID_REQUEST,
                f"the isbulk option must be true or false, not {value!r}",
            )
        return word == "true"

    def option_errors(self) -> list[str]:
        """Bad option values are refused when the provider is saved, not when it sends."""
        problems = []
        try:
            self.bulk_mode()
        except GatewayError as exc:
            problems.append(exc.text)
        path = self.option("path")
        if path is not None and not (isinstance(path, str) and _PATH.fullmatch(path.strip())):
            problems.append(f"the path option must be a URL path such as {API_PATH!r}")
        return problems

    def scheduled(self, when: datetime | None) -> str:
        """``now``, or the document's ``2011-10-01 15:40:05`` in the provider's time zone."""
        if when is None:
            return "now"
        if timezone.is_naive(when):
            when = timezone.make_aware(when)
        return when.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    @property
    def password(self) -> str:
        return str(self.provider.password or self.provider.api_key)

    @property
    def endpoint(self) -> str:
        path = "/" + str(self.option("path") or API_PATH).strip("/")
        base = self.provider.base_url.rstrip("/")
        return base if base.endswith(path) else base + path

    def _check_batch(self, batch: Batch) -> None:
        """Refuse, before sending, what ATL cannot carry (compose normally prevents it)."""
        if batch.group_id or any(not r.number for r in batch.recipients):
            raise GatewayError(ErrorCategory.INVALID_REQUEST, "ATL has no provider-side groups")
        if batch.flash:
            raise GatewayError(ErrorCategory.INVALID_REQUEST, "ATL cannot send flash messages")
        if _NOT_XML.search(batch.text + batch.sender):
            raise GatewayError(
                ErrorCategory.CONTENT_REJECTED,
                "the text has control characters that XML cannot carry",
            )

    # -- replies ---------------------------------------------------------------------------

    def _exchange(self, data: bytes, *, tolerant: bool = False) -> tuple[Reply | None, str]:
        """POST one XML request: its reply (None when unreadable or without a code), body."""
        response = self.http(
            "POST",
            self.endpoint,
            data=data,
            headers={"Content-Type": "text/xml; charset=UTF-8"},
        )
        body = self.reply_text(response.content)
        reply = parse_reply(body, tolerant=tolerant)
        return (reply if reply is not None and reply.code else None), body

    def _post(self, data: bytes, *, sending: bool = False) -> tuple[Reply, str]:
        """POST one XML request; its reply, or an error when it cannot be read."""
        reply, body = self._exchange(data)
        if reply is None:
            raise self.unreadable(body, sending=sending)
        return reply, body

    def _error(self, reply: Reply, body: str, *, sending: bool = False) -> GatewayError:
        return self.coded_error(
            reply.code,
            describe(reply.code),
            body,
            sending=sending,
            taken=bool(_clean(reply.value("taskid"))),
        )

    def _results(self, batch: Batch, task_id: str, *, duplicate: bool) -> list[RecipientResult]:
        """Every recipient accepted, with its synthetic ``<taskid>:<msisdn>`` id."""
        seen: dict[str, int] = {}
        results = []
        for recipient in batch.recipients:
            msisdn = self.format_number(recipient.number)
            seen[msisdn] = seen.get(msisdn, 0) + 1
            raw: dict[str, Any] = {"taskid": task_id, "msisdn": msisdn}
            if duplicate:
                raw["duplicate"] = "002: the gateway already had this controlid's task"
            results.append(
                RecipientResult(
                    ref=recipient.ref,
                    accepted=True,
                    provider_message_id=message_id(task_id, msisdn, seen[msisdn]),
                    job_id=task_id,
                    raw=raw,
                )
            )
        return results

    # -- delivery reports ------------------------------------------------------------------

    def _task_reports(self, task_id: str, refs: list[ReportRef]) -> list[DeliveryReport]:
        summary = self._report_call("report", task_id)
        if summary is None:
            return []
        if summary.normalized_code == "110":
            return self._canceled(task_id, refs, summary)
        counts = _counts(summary)
        final = {k: v for k, v in counts.items() if k != "pending" and v}
        # Only a well-formed summary with all five counters is trusted on its own.
        if summary.well_formed and len(counts) == len(SUMMARY_COUNTERS):
            if not final:
                return []  # nothing has reached a final state yet
            if len(final) == 1 and not counts["pending"]:
                [counter] = final
                raw = self.redact({"operation": "report", "taskid": task_id, **summary.values})
                found = (
                    _report(r.provider_message_id, SUMMARY_COUNTERS[counter], raw) for r in refs
                )
                return [report for report in found if report is not None]
        detailed = self._report_call("detailedreport", task_id)
        if detailed is None:
            return []
        if detailed.normalized_code == "110":
            return self._canceled(task_id, refs, detailed)
        return self._match_entries(task_id, refs, detailed.entries)

    def _report_call(self, operation: str, task_id: str) -> Reply | None:
        """A report reply, or None when there is nothing to learn from it now."""
        reply, body = self._exchange(
            self.request_xml(operation, self.password, task_id), tolerant=True
        )
        if reply is None:
            logger.warning(
                "helpdesk_sms: ATL's %s of task %s could not be read: %r",
                operation,
                task_id,
                self.clip(body, 200),
            )
            return None
        code = reply.normalized_code
        if code == NOT_READY:
            return None
        if code == "109":
            logger.warning("helpdesk_sms: ATL does not know task %s (109)", task_id)
            return None
        if code in (SUCCESS, "110"):
            return reply
        raise self._error(reply, body)

    @staticmethod
    def _canceled(task_id: str, refs: list[ReportRef], reply: Reply) -> list[DeliveryReport]:
        words = ERRORS["110"][0]
        return [
            DeliveryReport(
                provider_message_id=ref.provider_message_id,
                status=DeliveryStatus.UNDELIVERED,
                error_code="110",
                error_text=words,
                raw={"taskid": task_id, "responsecode": reply.code},
            )
            for ref in refs
        ]

    def _match_entries(
        self, task_id: str, refs: list[ReportRef], entries: list[dict[str, str]]
    ) -> list[DeliveryReport]:
        """Each ref's detailed entry: same number (nth occurrence), else same last 9 digits."""
        by_number: dict[str, list[dict[str, str]]] = {}
        for entry in entries:
            by_number.setdefault(digits(entry.get("msisdn")), []).append(entry)
        reports = []
        for ref in refs:
            msisdn, occurrence = split_message_id(ref.provider_message_id)
            found = by_number.get(msisdn) or _same_national(by_number, msisdn)
            if not found:
                continue
            entry = found[min(occurrence, len(found)) - 1]
            raw = self.redact({"operation": "detailedreport", "taskid": task_id, **entry})
            report = _report(ref.provider_message_id, entry.get("status", ""), raw)
            if report is not None:
                reports.append(report)
        return reports


# -- ids -----------------------------------------------------------------------------------


def message_id(task_id: str, msisdn: str, occurrence: int = 1) -> str:
    """``"<taskid>:<msisdn>"``; a number's later occurrences in one task get ``:<n>``."""
    if not task_id:
        return ""
    return f"{task_id}:{msisdn}" + (f":{occurrence}" if occurrence > 1 else "")


def split_message_id(value: str) -> tuple[str, int]:
    """(msisdn, occurrence) of a :func:`message_id`; ("", 1) for anything else."""
    parts = value.split(":")
    if len(parts) < 2:
        return "", 1
    occurrence = int(parts[2]) if len(parts) > 2 and is_number(parts[2]) else 1
    return digits(parts[1]), max(1, occurrence)


# -- reply parsing (pure functions, shared with the simulator's tests and the docs) ---------


def describe(code: str) -> tuple[str, ErrorCategory] | None:
    """The document's words and our category for a response code (``2XX`` included)."""
    text = str(code).strip()
    if _CODE.fullmatch(text):
        text = text.zfill(3)
    if text in ERRORS:
        return ERRORS[text]
    if _SYSTEM_ERROR.fullmatch(text):
        return ERRORS["2XX"]
    return None


#: Longest broken reply :func:`repair` is tried on. The malformed replies ATL really sends
#: (the document's examples) are a few hundred bytes; repairing is linear but slow in
#: Python, so a large broken reply is unreadable at once rather than after seconds.
MAX_REPAIR_CHARS = 256 * 1024


def parse_reply(body: str | bytes, *, tolerant: bool = False) -> Reply | None:
    """An ATL reply read with defusedxml; None when it cannot be read.

    ``tolerant``: a reply that is not well-formed is first put right by :func:`repair`
    (and marked ``well_formed=False``).
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    text = text.lstrip("\ufeff").strip()
    if not text:
        return None
    root = _parse(text)
    well_formed = root is not None
    if root is None and tolerant and len(text) <= MAX_REPAIR_CHARS:
        repaired = repair(text)
        root = _parse(repaired) if repaired is not None else None
    if root is None:
        return None
    values: dict[str, str] = {}
    for element in root.iter():
        if len(element) == 0:
            values.setdefault(_tag(element), (element.text or "").strip())
    return Reply(
        code=values.get("responsecode", ""),
        values=values,
        entries=_entries(root),
        well_formed=well_formed,
    )


def repair(text: str) -> str | None:
    """Well-formed XML from a broken reply, or None for one with a DTD, entities or CDATA.

    Rules, each seen in the document's examples: a start tag of an element already open
    closes it (``<head>`` written for ``</head>``); a start tag after an element's text
    closes that element (``<msisdn>994…`` never closed); an end tag closes everything
    opened inside its element and is ignored when nothing matches; a cut-off tag at the
    end (``</pr``) is dropped; whatever is open at the end is closed. Attributes are
    dropped (the protocol has none). The result is still parsed by defusedxml.
    """
    out: list[str] = ["<reply>"]
    stack: list[list[Any]] = []  # [name, has_text]
    # Where each open name sits on the stack, so finding one costs O(1), not O(depth):
    # a reply of a million unclosed tags is repaired in linear time.
    depths: dict[str, list[int]] = {}

    def close_to(depth: int) -> None:
        while len(stack) > depth:
            name = stack.pop()[0]
            depths[name].pop()
            out.append(f"</{name}>")

    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token.startswith("<!"):
            if token.startswith("<!--"):
                continue
            return None
        if token.startswith("<?"):
            continue
        name = match.group("name")
        if name is None:
            if token.startswith("<") and not token.endswith(">") and token != "<":
                continue  # a tag cut off at the end of the reply
            if token.strip() and stack:
                stack[-1][1] = True
            out.append(_escape_text(token))
            continue
        if match.group("end"):
            if depths.get(name):
                close_to(depths[name][-1])  # the innermost element of that name
            continue
        if stack and stack[-1][1]:
            close_to(len(stack) - 1)
        if depths.get(name):
            close_to(depths[name][0])  # read as its end tag
            continue
        if match.group("empty"):
            out.append(f"<{name}/>")
        else:
            out.append(f"<{name}>")
            depths.setdefault(name, []).append(len(stack))
            stack.append([name, False])
    close_to(0)
    out.append("</reply>")
    return "".join(out)


_TOKEN = re.compile(
    r"<!--.*?(?:-->|$)|<\?.*?(?:\?>|$)|<!.*?(?:>|$)"
    r"|<(?P<end>/?)(?P<name>[A-Za-z_][\w.-]*)(?:\s[^<>]*?)?(?P<empty>/?)>"
    r"|<[^<>]*$|<|[^<]+",
    re.S,
)
_LOOSE_AMP = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)")


def _escape_text(text: str) -> str:
    text = _NOT_XML.sub("", text)
    return _LOOSE_AMP.sub("&amp;", text).replace("<", "&lt;")


def _parse(text: str) -> Any:
    try:
        return DefusedET.fromstring(text.encode("utf-8"))
    except (DefusedET.ParseError, DefusedXmlException, ValueError, LookupError):
        return None  # LookupError: an XML declaration naming an encoding that does not exist


def _tag(element: Any) -> str:
    tag = element.tag if isinstance(element.tag, str) else ""
    return tag.rpartition("}")[2].lower()


def _entries(root: Any) -> list[dict[str, str]]:
    """(msisdn, status) pairs from every element holding ``<msisdn>`` children, in order."""
    entries: list[dict[str, str]] = []
    for parent in root.iter():
        children = list(parent)
        numbers = [c for c in children if _tag(c) == "msisdn"]
        if not numbers:
            continue
        statuses = [c for c in children if _tag(c) == "status"]
        for index, number in enumerate(numbers):
            status = statuses[index] if index < len(statuses) else None
            entries.append(
                {
                    "msisdn": (number.text or "").strip(),
                    "status": (status.text or "").strip() if status is not None else "",
                }
            )
    return entries


def _counts(reply: Reply) -> dict[str, int]:
    """The summary report's counters that are present and readable."""
    counts = {}
    for name in SUMMARY_COUNTERS:
        value = reply.value(name)
        if is_number(value):
            counts[name] = int(value)
    return counts


def _report(message_id: str, status: str, raw: dict[str, Any]) -> DeliveryReport | None:
    """A DeliveryReport for a detailed status (``1``–``5`` or the summary's words)."""
    word = str(status).strip().lower()
    code = SUMMARY_COUNTERS.get(word, word)
    known = DETAILED_STATUSES.get(code)
    if known is None:
        return None
    delivery, words = known
    final_failure = delivery == DeliveryStatus.UNDELIVERED
    return DeliveryReport(
        provider_message_id=message_id,
        status=delivery,
        error_code=code if final_failure else "",
        error_text=words if final_failure else "",
        raw=raw,
    )


def _same_national(by_number: dict[str, list[dict[str, str]]], msisdn: str) -> list[dict[str, str]]:
    """Entries whose number ends with the same nine digits (an echoed national number)."""
    if len(msisdn) < 9:
        return []
    for number, entries in by_number.items():
        if len(number) >= 9 and number[-9:] == msisdn[-9:]:
            return entries
    return []


def _children(parent: Any, fields: dict[str, str]) -> None:
    for tag, value in fields.items():
        ET.SubElement(parent, tag).text = value


def _serialize(root: Any) -> bytes:
    """UTF-8 XML with the declaration exactly as the document writes it."""
    ET.indent(root, space=" ")
    return (XML_DECLARATION + ET.tostring(root, encoding="unicode") + "\n").encode("utf-8")


def _clean(value: Any) -> str:
    return "" if value is None else "".join(str(value).split())


def _decimal(value: Any) -> Decimal | None:
    text = "".join(str(value).split()).replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
