"""1601SMS (Netherlands): HTTP GET with Dutch parameter names, plain-text replies.

The protocol is the vendor's "SMS Gateway API" page (``gateway-docs/003_…``): a send on
``/module/gateway.php`` (``klantuser``, ``klantpwd``, ``bericht``, ``naar``, ``afzender`` …)
answered ``OK 1234567`` or an error number; ``action=credits`` for the balance,
``action=verwijderbericht`` to withdraw a scheduled message from the outbox, the status page
``/module/gatewayrapport.php?smsid=…`` for polling, and a GET push (``smsid``, ``datum``,
``status``, ``referentie``) to a URL set in the SMS module. The page was converted from the
web and contradicts itself in places; every decision taken on it is listed in
:class:`Sms1601Gateway`'s docstring and in ``docs/gateways/sms1601.md``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar

from django.utils import timezone

from ..text import analyze
from .base import (
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
    is_number,
    redact_params,
)
from .inbound import INBOUND_OPTION_HELP

if TYPE_CHECKING:  # pragma: no cover
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

SEND_PATH = "/module/gateway.php"
REPORT_PATH = "/module/gatewayrapport.php"
#: From this many open messages on, a poll starts with one group report (action=rapport).
GROUP_REPORT_FROM = 10
#: The most final reports one group report asks for.
GROUP_REPORT_MAX = 1000

#: The document's limit on ``referentie``.
MAX_REFERENCE_LENGTH = 75

#: The document's error table: code -> (its words, our category).
ERRORS: dict[str, tuple[str, ErrorCategory]] = {
    "100": ("Username - value - is empty and cannot be empty", ErrorCategory.AUTHENTICATION),
    "101": ("Password - value - is empty and cannot be empty", ErrorCategory.AUTHENTICATION),
    "102": ("SMS message has no content", ErrorCategory.CONTENT_REJECTED),
    "103": ("Mobile number has no content", ErrorCategory.INVALID_RECIPIENT),
    "104": ("No valid username and/or password combination", ErrorCategory.AUTHENTICATION),
    "105": (
        "Message contains more characters (> 160 character) then allowed",
        ErrorCategory.CONTENT_REJECTED,
    ),
    "106": (
        "No valid mobile number. A valid number always starts with the country code followed "
        "by the number : example 44701xxxxxxx",
        ErrorCategory.INVALID_RECIPIENT,
    ),
    "107": (
        "No valid countrycode. You cannot send text messages to this country. Please contact "
        "us so we can make this possible.",
        ErrorCategory.INVALID_RECIPIENT,
    ),
    "108": ("You do not have sufficiënt credits left", ErrorCategory.INSUFFICIENT_CREDIT),
    "109": ("The sendername is empty", ErrorCategory.INVALID_SENDER),
    "110": (
        "You are using a sender number, but it should always start with the + sign.",
        ErrorCategory.INVALID_SENDER,
    ),
    "111": (
        "You are using a non valid sendername/username. This can be up to 12 characters.",
        ErrorCategory.INVALID_SENDER,
    ),
    "112": ("You are using a non valid country code", ErrorCategory.INVALID_RECIPIENT),
    "113": (
        "Your sendername/number contains special characters not allowed on all networks.",
        ErrorCategory.INVALID_SENDER,
    ),
    "114": ("No valid country code. (country is not permitted).", ErrorCategory.INVALID_RECIPIENT),
    "115": (
        "Your account has been blocked because your payment has not been received (yet).",
        ErrorCategory.AUTHENTICATION,
    ),
    "116": (
        "Your account has been blocked for distinct reasons. You can contact us for "
        "additional information.",
        ErrorCategory.AUTHENTICATION,
    ),
    "117": ("This sendername is not allowed.", ErrorCategory.INVALID_SENDER),
    "118": (
        "If you want to send a long text message (> 160 tekens) this may reach a maximum "
        "length of 3 messages, (max 153 characters per message) so, up to 459 characters "
        "maximum.",
        ErrorCategory.CONTENT_REJECTED,
    ),
    "119": (
        "For delivery of text messages to this country, we do not offer the option of "
        "sending long text messages (> 160 tekens).",
        ErrorCategory.CONTENT_REJECTED,
    ),
    # Like an HTTP 500: the gateway says it failed, so it did not take the message. Retried
    # with back-off, at most MAX_ATTEMPTS times.
    "120": ("There is a problem with our gateway. Please contact us.", ErrorCategory.TRANSIENT),
    "121": (
        "You scheduled a message on a predefined date / time but the date is in the past or "
        "is not correct!",
        ErrorCategory.INVALID_REQUEST,
    ),
    "122": (
        "You tried to remove a message from the outbox, but no matching message was found.",
        ErrorCategory.INVALID_REQUEST,
    ),
    "123": (
        "You tried to request a report but didn't give a number.",
        ErrorCategory.INVALID_REQUEST,
    ),
    "124": (
        "You tried to request a report but didn't give a valid number. eg: number=100",
        ErrorCategory.INVALID_REQUEST,
    ),
    "125": (
        "You tried to send a message to a group but we cannot find this group in your phone list.",
        ErrorCategory.INVALID_RECIPIENT,
    ),
    "126": (
        "You tried to send a message to a group but this group was empty.",
        ErrorCategory.INVALID_RECIPIENT,
    ),
    "150": ("Our system is down for maintenance temporarily.", ErrorCategory.TRANSIENT),
}

#: Status words with everything but letters removed, upper-cased -> our status.
#: ``None``: the gateway knows no status (``NONE``), so there is nothing to report.
DELIVERY_STATUSES: dict[str, DeliveryStatus | None] = {
    "DELIVERED": DeliveryStatus.DELIVERED,
    "DELIVRD": DeliveryStatus.DELIVERED,
    "NOTDELIVERED": DeliveryStatus.UNDELIVERED,
    "UNDELIVERED": DeliveryStatus.UNDELIVERED,
    "UNDELIV": DeliveryStatus.UNDELIVERED,
    "FAILED": DeliveryStatus.UNDELIVERED,
    "REJECTED": DeliveryStatus.UNDELIVERED,
    "REJECTD": DeliveryStatus.UNDELIVERED,
    "EXPIRED": DeliveryStatus.EXPIRED,
    "BUFFERED": DeliveryStatus.ACCEPTED,
    "SUBMITTED": DeliveryStatus.ACCEPTED,
    "NONE": None,
}

_TRUE = {"1", "true", "yes", "ja", "on", "y", "j"}
_SEPARATORS = re.compile(r"[\s,;:|]+")
_DIGITS = re.compile(r"\d+")
_CODE = re.compile(r"(?<!\d)\d{3}(?!\d)")
_ERROR_WORD = re.compile(r"(?i)^\W*(error|err|fout|foutcode)\b")
_AMOUNT = re.compile(r"[+-]?(\d+([.,]\d+)*)")
_STATUS_LINE = re.compile(r"\s*([A-Za-z][A-Za-z _-]*?)\s*(?:[:;,-]\s*)?(\d[\d/:.\- ]*)?\s*")
_ALNUM_SENDER = re.compile(r"[A-Za-z0-9]+")
#: The GSM network's limit on an alphanumeric originator (the document allows 12 in all).
NETWORK_ALPHANUMERIC_LIMIT = 11


@dataclass(frozen=True)
class Reply:
    """A gateway.php answer: ``OK`` with the ids it lists, or an error number."""

    ok: bool
    ids: tuple[str, ...] = ()
    code: str = ""
    body: str = ""


class Sms1601Gateway(Gateway):
    """1601SMS's ``gateway.php`` API.

    Decisions on the document's ambiguities (also in ``docs/gateways/sms1601.md``):

    * **Transport**: HTTP GET with a URL-encoded query on ``<base URL>/module/gateway.php``
      (the document's note says "POST url" but shows only query strings). The document
      never shows the send URL itself; it is the same ``gateway.php`` as its other actions.
    * **Password**: ``klantpwd`` is the password, or its SHA-1 (hex) with the option
      ``password_sha1``. The SHA-1 logs in as well as the password does, so it is redacted
      everywhere like the password.
    * **Numbers** are written as the document shows: country code and number, digits only
      (``32478123456``), comma-separated for several (the document's example says ``to=``;
      the parameter table says ``naar``, which is what is sent).
    * **One number per request by default** (``max_numbers`` raises it): the document
      promises "OK + a smsID" (one id) and its push carries no number, so only one message
      per request can be told apart for sure. With several numbers, ids are matched in
      order when the reply has exactly one per number; otherwise every number is accepted
      without an id (delivery not followed) and a single id is kept as the job id.
    * **``referentie``** is our message pk; for a request with several numbers the pks joined
      by commas, as many whole pks as fit in the document's 75 characters. Reports are
      matched by ``smsid``; the reference is kept in the stored report.
    * **Replies**: ``OK 1234567``, ``OK1234567``, ``OK`` (no id), ``OK 1,2,3`` and one
      ``OK <id>`` per line are all success; ids must be digits. Anything else is an error
      when it holds a three-digit number (``ERROR 122``, ``104``, ``Error 104: …``); the
      first one is the code. A code the document does not list is invalid_request when the
      reply says error (or is only the number), otherwise the reply is unreadable. An
      unreadable reply to a send is ambiguous (the gateway may have taken it); elsewhere
      it is transient. Bodies are UTF-8, or Windows-1252 when they are not valid UTF-8.
    * **Long texts**: ``type=long`` is sent whenever the text needs more than one part;
      ``max_parts`` is 3 (459 characters, 153 a part), so longer texts are refused before
      submission. The document mentions no Unicode and no flash: neither is offered.
    * **Scheduling** (option ``scheduling: "gateway"``): ``datum=yyyymmddhhii`` in the
      provider's time zone, rounded *up* to the minute (a message is never sent early),
      with ``outboxid=ja`` and, unless ``email_confirmation`` is set, ``emailen=nee``. The
      reply's id is the outbox id; it is kept as the job id (for :meth:`cancel`) and, since
      the document names no other id for a scheduled message, as the message id too.
    * **Cancel** removes one message by its outbox id (``action=verwijderbericht&id=…``);
      never by number (``naar=`` would remove every scheduled message to that number) and
      never the whole outbox. ``OK`` confirms; ``ERROR 122`` (not found: already sent or
      removed) raises.
    * **Groups**: ``naar=groep&groep=<provider group id>`` (the group's name in the 1601SMS
      address book). The reply lists ids, not numbers: one id makes the group send one
      message; several ids become group members without numbers, one message per id
      (scheduled: the ids, comma-joined, are the job id, and :meth:`cancel` removes each).
    * **Reports by polling**: from GROUP_REPORT_FROM open messages on, one group report
      (``action=rapport&aantal=N``, the document's "realtime group report") settles every
      message it lists; the document shows no reply format, so lines are read as the
      simulator writes them (``smsid;number;status;date;referentie``) and anything else falls
      back to asking per message. Per message: ``gatewayrapport.php?smsid=…&datum=ja``, no
      credentials (the document's example has none), ``datum`` (the table) rather than
      ``date`` (the prose). ``DELIVERED 01/02/2012 10:23:10`` is read as status plus local
      time in the provider's time zone. ``NONE`` reports nothing. A per-message error or an
      unreadable answer is logged and skipped; account errors and gateway outages (120,
      150) stop the poll, since every other id would get the same answer.
    * **Reports by push**: a GET (or form POST) with ``smsid``, ``status``, ``datum``
      (``yyyymmddhhmmss``; the poll's format is accepted too) and ``referentie``; names are
      matched case-insensitively. Without ``smsid`` or ``status`` the push is unreadable.
    * **Statuses**: DELIVERED -> delivered; NOT DELIVERED and REJECTED -> undelivered;
      BUFFERED and SUBMITTED -> accepted; NONE -> no report; unknown words -> accepted.
    * **Balance**: ``action=credits`` answers a bare number (``476``). A bare number is
      always the balance, even a three-digit one; an error needs a word beside its number.
      A decimal comma is accepted (``12,50``).
    * **Sender IDs**: at most 12 characters (error 111); a numeric sender must start with
      ``+`` (error 110) and is ``+`` and digits only; an alphanumeric one is letters and
      digits only (error 113: "special characters not allowed on all networks" — spaces
      included) and at most 11 characters, the networks' limit.
    * **Error 120** ("a problem with our gateway") is transient, like an HTTP 500: the
      gateway answered that it failed, so it did not take the message; retries are bounded
      by ``MAX_ATTEMPTS``. 150 (maintenance) is transient too.
    * **Test mode** (option ``test_mode``): ``test=ja``; the gateway "will conduct all the
      checks … but effectively won't send an sms. No credits will be deducted." A request
      it takes in test mode therefore sent nothing: its results are marked ``test``, and
      the outbox makes those messages ``suppressed`` (final, not sent) with ``is_test``
      set, rather than ``accepted`` waiting for a report that never comes. A refusal in
      test mode is a refusal like any other (``failed`` with its code).
    """

    name = "sms1601"
    verbose_name = "1601SMS"
    credential_sets = (frozenset({"username", "password"}),)
    capabilities = frozenset(
        {
            Capability.SCHEDULE,
            Capability.CANCEL,
            Capability.GROUP,
            Capability.BULK,
            Capability.DLR_POLL,
            Capability.DLR_PUSH,
            Capability.BALANCE,
            Capability.INBOUND,
        }
    )
    max_numbers_per_request = 1
    max_parts = 3
    max_sender_length = 12
    #: Assumed from the documented delivery-notification push (see gateways/inbound.py):
    #: to be confirmed with 1601SMS; the mapping is editable per provider.
    inbound_preset = "sms1601"
    option_help: ClassVar[dict[str, str]] = {
        "password_sha1": (
            "true: send the SHA-1 of the password as klantpwd instead of the password itself."
        ),
        "scheduling": (
            "'local' (default): messages for later are held here until due; 'gateway': sent "
            "at once with datum=yyyymmddhhii and outboxid=ja, held in 1601SMS's outbox and "
            "cancellable there."
        ),
        "max_numbers": (
            "Numbers per request (default 1). Raise it only if your account answers one id "
            "per number; otherwise the messages of a request cannot be followed to delivery."
        ),
        "test_mode": (
            "true: send test=ja; 1601SMS checks the request but sends nothing and charges "
            "nothing (messages it passes end 'suppressed' and are marked as tests)."
        ),
        "logging": (
            "true/false: send logging=ja/nee (store the sends in the SMS module's history); "
            "unset: the account's default."
        ),
        "email_confirmation": (
            "true: let 1601SMS e-mail a confirmation after each scheduled message is sent; "
            "default false (emailen=nee)."
        ),
        **INBOUND_OPTION_HELP,
    }

    # -- operations ------------------------------------------------------------------------

    def send(self, batch: Batch) -> SendOutcome:
        """One gateway.php request for the batch (its numbers, or its group)."""
        refused = self._refused_in_group_batch(batch)
        params = self.send_params(batch)
        reply = self._call(SEND_PATH, params, sending=True)
        results = self._results(batch, reply)
        if params.get("test") == "ja":  # checked, not sent: each message is a test
            for result in results:
                result.test = True
        return SendOutcome(
            results=results + refused,
            request={"path": SEND_PATH, "params": self.redact(redact_params(params))},
            response=self.redact({"body": reply.body, "ids": list(reply.ids)}),
        )

    def fetch_reports(self, refs: Sequence[ReportRef]) -> list[DeliveryReport]:
        """Many open messages: one group report (``action=rapport``) first; few, or what
        the group report cannot settle: one status request per message id."""
        wanted = [s for s in dict.fromkeys(r.provider_message_id.strip() for r in refs) if s]
        reports: list[DeliveryReport] = []
        if len(wanted) >= GROUP_REPORT_FROM:
            reports, wanted = self._group_reports(wanted)
        return reports + self._reports_one_by_one(wanted)

    def _group_reports(self, wanted: list[str]) -> tuple[list[DeliveryReport], list[str]]:
        """The last final reports in one request; returns them and the ids still to ask.

        Only final reports are listed, so an id missing from a list shorter than asked for
        is still on its way (nothing to learn one by one). A full list may have pushed
        older ones out: those ids are asked one by one. A list that cannot be read (the
        document shows no format for it) falls back to asking every id.
        """
        count = min(GROUP_REPORT_MAX, max(2 * len(wanted), 100))
        body = self._get(SEND_PATH, {**self._auth(), "action": "rapport", "aantal": str(count)})
        lines = [line for line in body.strip().splitlines() if line.strip()]
        if lines == ["NONE"]:
            return [], []
        parsed = [self._group_report_line(line) for line in lines]
        if not lines or any(p is None for p in parsed):
            reply = parse_reply(body)
            if reply is not None and not reply.ok:
                error = self._failure(reply, body, sending=False)
                if _stops_polling(error):
                    raise error
            logger.warning("helpdesk_sms: 1601SMS group report unreadable; asking one by one")
            return [], wanted
        mine = set(wanted)
        found = {r.provider_message_id: r for r in parsed if r and r.provider_message_id in mine}
        missing = [s for s in wanted if s not in found]
        return list(found.values()), missing if len(lines) >= count else []

    def _group_report_line(self, line: str) -> DeliveryReport | None:
        """``smsid;number;status;dd/mm/yyyy hh:mm:ss;referentie`` (the simulator's format)."""
        fields = [f.strip() for f in line.split(";")]
        if len(fields) < 3 or not _DIGITS.fullmatch(fields[0]):
            return None
        if _word(fields[2]) not in DELIVERY_STATUSES:
            return None
        when = fields[3] if len(fields) > 3 else ""
        raw = {"smsid": fields[0], "body": self.redact(line.strip())}
        return self._report(fields[0], fields[2], when, raw)

    def _reports_one_by_one(self, wanted: list[str]) -> list[DeliveryReport]:
        """The document's ``gatewayrapport.php``: one status request per message id."""
        reports: list[DeliveryReport] = []
        for smsid in wanted:
            body = self._get(REPORT_PATH, {"smsid": smsid, "datum": "ja"})
            try:
                report = self._poll_report(smsid, body)
            except GatewayError as error:
                if _stops_polling(error):
                    raise
                logger.warning("helpdesk_sms: 1601SMS report for %s skipped: %s", smsid, error)
                continue
            if report is not None:
                reports.append(report)
        return reports

    def cancel(self, ref: ReportRef) -> None:
        """Withdraw a scheduled message from the outbox by its outbox id (the job id)."""
        outbox_ids = [i for i in _SEPARATORS.split(ref.job_id or "") if i]
        if not outbox_ids:
            raise GatewayError(
                ErrorCategory.INVALID_REQUEST,
                "no 1601SMS outbox id: only messages scheduled at the gateway (option "
                "scheduling 'gateway') can be withdrawn",
            )
        for outbox_id in outbox_ids:
            params = {**self._auth(), "action": "verwijderbericht", "id": outbox_id}
            self._call(SEND_PATH, params, sending=True)

    def balance(self) -> list[Balance]:
        """``action=credits``: the credits left, as a bare number."""
        body = self._get(SEND_PATH, {**self._auth(), "action": "credits"})
        amount = parse_amount(body)
        if amount is None:
            raise self._failure(parse_reply(body), body, sending=False)
        return [Balance("", amount, "credits", raw={"body": self.redact(body.strip())})]

    def parse_callback(self, request: HttpRequest) -> list[DeliveryReport]:
        """The push: GET (or form POST) with smsid, datum, status and referentie."""
        data: dict[str, str] = {}
        for source in (request.GET, request.POST if request.method == "POST" else {}):
            for key in source:
                data[str(key).strip().lower()] = str(source.get(key, "")).strip()
        smsid = "".join(data.get("smsid", "").split())
        word = data.get("status", "")
        if not smsid or not word:
            raise GatewayError(
                ErrorCategory.INVALID_REQUEST,
                "1601SMS delivery report without smsid or status",
                raw=self.redact(data),
            )
        report = self._report(smsid, word, data.get("datum", ""), self.redact(data))
        if report is not None and is_number(data.get("referentie", "")):
            report.ref = int(data["referentie"])  # one message's pk: a fallback for matching
        return [report] if report else []

    # -- validation and request building ---------------------------------------------------

    def sender_errors(self, sender: str) -> list[str]:
        problems = super().sender_errors(sender)
        if not sender.strip():
            return problems
        if sender.isdigit():
            problems.append(
                "1601SMS needs a numeric sender in international form starting with +, "
                f"e.g. '+31612345678'; {sender!r} has no +"
            )
        elif sender.startswith("+"):
            if not sender[1:].isdigit():
                problems.append(
                    f"a 1601SMS sender number is + followed by digits only; {sender!r} is not"
                )
        elif not _ALNUM_SENDER.fullmatch(sender):
            problems.append(
                "1601SMS sender names may hold only letters A-Z and digits (other characters, "
                f"spaces included, are not allowed on all networks); {sender!r} has others"
            )
        elif NETWORK_ALPHANUMERIC_LIMIT < len(sender) <= (self.max_sender_length or 0):
            problems.append(
                f"mobile networks show at most {NETWORK_ALPHANUMERIC_LIMIT} characters of a "
                f"sender name; {sender!r} has {len(sender)}"
            )
        return problems

    def format_number(self, e164: str) -> str:
        """The document's ``32478123456``: country code and number, digits only."""
        return "".join(c for c in e164 if c.isdigit())

    def send_params(self, batch: Batch) -> dict[str, str]:
        """The gateway.php query in the document's order, credentials included."""
        params = self._auth()
        params["bericht"] = batch.text
        if batch.group_id:
            params["naar"] = "groep"
            params["groep"] = batch.group_id
        else:
            params["naar"] = ",".join(
                self.format_number(r.number) for r in batch.recipients if r.number
            )
        params["afzender"] = batch.sender
        logging_option = self.option("logging")
        if logging_option not in (None, ""):
            params["logging"] = "ja" if _flag(logging_option) else "nee"
        params["delivery"] = "ja"
        if analyze(batch.text).parts > 1:
            params["type"] = "long"
        if batch.schedule_at is not None:
            params["datum"] = self.datum(batch.schedule_at)
            params["outboxid"] = "ja"
            if not _flag(self.option("email_confirmation")):
                params["emailen"] = "nee"
        reference = self.reference(batch)
        if reference:
            params["referentie"] = reference
        if _flag(self.option("test_mode")):
            params["test"] = "ja"
        return params

    def datum(self, when: datetime) -> str:
        """``yyyymmddhhii`` in the provider's time zone, rounded up to the whole minute."""
        if timezone.is_naive(when):
            when = timezone.make_aware(when)
        when = when.astimezone(UTC)
        if when.second or when.microsecond:
            when = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return when.astimezone(self.tz).strftime("%Y%m%d%H%M")

    @staticmethod
    def reference(batch: Batch) -> str:
        """Our message pks, comma-joined, as many whole ones as fit in 75 characters."""
        taken: list[str] = []
        for recipient in batch.recipients:
            if len(",".join([*taken, str(recipient.ref)])) > MAX_REFERENCE_LENGTH:
                break
            taken.append(str(recipient.ref))
        return ",".join(taken)

    @property
    def secrets(self) -> list[str]:
        """The provider's credentials plus the password's SHA-1, which logs in just as well."""
        values = list(super().secrets)
        if self.provider.password:
            digest = _sha1(self.provider.password)
            values += [digest, digest.upper()]
        return values

    def _auth(self) -> dict[str, str]:
        password = self.provider.password
        if _flag(self.option("password_sha1")) and password:
            password = _sha1(password)
        return {"klantuser": self.provider.username, "klantpwd": password}

    # -- replies ---------------------------------------------------------------------------

    def reply_text(self, content: bytes) -> str:
        return decode(content)

    def _get(self, path: str, params: dict[str, str]) -> str:
        response = self.http("GET", self.url(path), params=params)
        return self.reply_text(response.content)

    def _call(self, path: str, params: dict[str, str], *, sending: bool = False) -> Reply:
        """GET ``path``; the OK reply, or the error it carries raised."""
        body = self._get(path, params)
        reply = parse_reply(body)
        if reply is None or not reply.ok:
            raise self._failure(reply, body, sending=sending)
        return reply

    def _failure(self, reply: Reply | None, body: str, *, sending: bool) -> GatewayError:
        if reply is None or reply.ok:
            return self.unreadable(body, sending=sending)
        return self.coded_error(reply.code, ERRORS.get(reply.code), body, sending=sending)

    def _results(self, batch: Batch, reply: Reply) -> list[RecipientResult]:
        scheduled = batch.schedule_at is not None
        ids = list(reply.ids)
        raw = {"body": self.redact(reply.body), "ids": ids}
        if batch.group_id:
            group = [r for r in batch.recipients if not r.number][:1] or batch.recipients[:1]
            return [self._group_result(group[0].ref, ids, scheduled, raw)]
        numbered = [r for r in batch.recipients if r.number]
        if len(numbered) == 1:
            assigned = [ids[0] if ids else ""]
        elif len(ids) == len(numbered):
            assigned = ids
        else:
            assigned = [""] * len(numbered)
        shared = ids[0] if len(ids) == 1 and len(numbered) > 1 else ""
        results = []
        for recipient, message_id in zip(numbered, assigned, strict=True):
            results.append(
                RecipientResult(
                    ref=recipient.ref,
                    accepted=True,
                    provider_message_id=message_id,
                    job_id=message_id if scheduled else shared,
                    raw={**raw, "smsid": message_id},
                )
            )
        return results

    @staticmethod
    def _group_result(
        ref: int, ids: list[str], scheduled: bool, raw: dict[str, Any]
    ) -> RecipientResult:
        if len(ids) <= 1:
            message_id = ids[0] if ids else ""
            return RecipientResult(
                ref=ref,
                accepted=True,
                provider_message_id=message_id,
                job_id=message_id if scheduled else "",
                raw={**raw, "smsid": message_id},
            )
        joined = ",".join(ids)
        return RecipientResult(
            ref=ref,
            accepted=True,
            job_id=joined if scheduled and len(joined) <= 100 else "",
            raw=raw,
            members=[GroupMember("", message_id) for message_id in ids],
        )

    @staticmethod
    def _refused_in_group_batch(batch: Batch) -> list[RecipientResult]:
        """Numbers beside a group cannot travel in the group's request (naar=groep)."""
        if not batch.group_id:
            return []
        return [
            RecipientResult(
                ref=r.ref,
                accepted=False,
                error=GatewayError(
                    ErrorCategory.INVALID_REQUEST,
                    "1601SMS sends a group request to the group only (naar=groep); "
                    "this number was not sent",
                ),
            )
            for r in batch.recipients
            if r.number
        ]

    def _poll_report(self, smsid: str, body: str) -> DeliveryReport | None:
        """``DELIVERED 01/02/2012 10:23:10`` (or ``NONE``, or an error) for one message."""
        text = body.strip()
        if text.startswith(smsid):  # tolerate an answer that repeats the id
            text = text[len(smsid) :].lstrip(" :;,-\t")
        match = _STATUS_LINE.fullmatch(text)
        known = match is not None and _word(match.group(1)) in DELIVERY_STATUSES
        if match and (known or not (_CODE.search(text) or _ERROR_WORD.match(text))):
            raw = {"smsid": smsid, "body": text}
            return self._report(smsid, match.group(1), match.group(2) or "", raw)
        raise self._failure(parse_reply(text), body, sending=False)

    def _report(
        self, smsid: str, word: str, when: str, raw: Mapping[str, Any]
    ) -> DeliveryReport | None:
        folded = _word(word)
        if folded in DELIVERY_STATUSES:
            status = DELIVERY_STATUSES[folded]
            if status is None:
                return None
        else:
            status = DeliveryStatus.ACCEPTED
        failed = status in (DeliveryStatus.UNDELIVERED, DeliveryStatus.EXPIRED)
        return DeliveryReport(
            provider_message_id=smsid,
            status=status,
            occurred_at=parse_when(when, self.tz),
            error_text=word.strip() if failed else "",
            raw=dict(raw),
        )


# -- reply parsing (pure functions, shared with the docs and tests) ------------------------


def decode(content: bytes) -> str:
    """The body as text: UTF-8 (BOM allowed), else Windows-1252 (a Dutch server's default)."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def parse_reply(body: str) -> Reply | None:
    """``OK 1234567`` / ``OK1234567`` / ``OK`` / ``ERROR 104`` -> Reply; None: unreadable."""
    text = body.strip()
    if text[:2].upper() == "OK":
        ids: list[str] = []
        for token in _SEPARATORS.split(text):
            if token[:2].upper() == "OK":
                token = token[2:]
            if not token:
                continue
            if not _DIGITS.fullmatch(token):
                return None
            ids.append(token)
        return Reply(True, tuple(ids), body=text)
    match = _CODE.search(text)
    if match is None:
        return None
    code = match.group()
    if code not in ERRORS and not (_ERROR_WORD.match(text) or text == code):
        return None
    return Reply(False, code=code, body=text)


def parse_amount(body: str) -> Decimal | None:
    """A bare number (``476``, ``476.5``, ``12,50``, ``1.234,50``) as a Decimal, else None."""
    text = body.strip()
    if not _AMOUNT.fullmatch(text):
        return None
    if "," in text and "." in text:
        thousands = "." if text.rfind(",") > text.rfind(".") else ","
        text = text.replace(thousands, "")
    text = text.replace(",", ".")
    if text.count(".") > 1:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def parse_when(value: str, tz: zoneinfo.ZoneInfo) -> datetime | None:
    """A report time in the gateway's local time: ``01/02/2012 10:23:10`` (dd/mm/yyyy),
    ``20120201102310`` (the push's yyyymmdduummss) or ``201202011023``; None otherwise."""
    text = " ".join(str(value or "").split())
    if not text:
        return None
    formats = (
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
        "%d-%m-%Y %H:%M:%S",
        "%d-%m-%Y %H:%M",
        "%Y%m%d%H%M%S",
        "%Y%m%d%H%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    )
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    return None


def _stops_polling(error: GatewayError) -> bool:
    """An account refusal or a gateway outage (120, 150) fails every other id too."""
    account = error.category == ErrorCategory.AUTHENTICATION
    return account or (error.category == ErrorCategory.TRANSIENT and bool(error.code))


def _word(word: str) -> str:
    return "".join(c for c in word if c.isalpha()).upper()


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return bool(value)


def _sha1(password: str) -> str:
    return hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest()
