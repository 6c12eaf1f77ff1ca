"""smsclone.com (Nigeria): HTTP GET with a query string, ``TGxx-…:code|number|id|…`` replies.

The protocol is the vendor's one-page "API" document (``gateway-docs/004_…``): three send
routes (normal, DND, DND fall-back) and a balance query, authenticated by username and
password in the query string. A reply is a batch code (``TG00`` = processed; any other code
refuses the whole batch) followed, for TG00, by one ``code|number|id|status|description``
entry per number. The gateway offers no delivery reports: a message sent through it ends
at ``accepted``. Every decision taken on the document's ambiguities is listed in
:class:`SmscloneGateway`'s docstring and in ``docs/gateways/smsclone.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from .base import (
    Balance,
    Batch,
    Capability,
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

#: Route (the ``route`` option) -> the document's send path.
SEND_PATHS: dict[str, str] = {
    "normal": "/api/sms/sendsms",
    "dnd": "/api/sms/dnd-route",
    "dnd-fallback": "/api/sms/dnd-fallback",
}
#: Other spellings of the routes an operator may write (the path names themselves).
ROUTE_ALIASES: dict[str, str] = {
    "sendsms": "normal",
    "dnd-route": "dnd",
    "fallback": "dnd-fallback",
}
BALANCE_PATH = "/api/sms/balance"

#: The batch code meaning "processed": each number then has its own status.
PROCESSED = "TG00"

#: The document's batch codes other than TG00: code -> (its words, our category).
#: Each refuses the whole batch ("will not be processed"), so none is ambiguous.
ERRORS: dict[str, tuple[str, ErrorCategory]] = {
    "TG11": ("Invalid Authentication Credentials", ErrorCategory.AUTHENTICATION),
    "TG12": ("Empty Username", ErrorCategory.AUTHENTICATION),
    "TG13": ("Empty Password", ErrorCategory.AUTHENTICATION),
    # We never send an empty list: the gateway found no number it could read in it.
    "TG14": ("Empty Recipients", ErrorCategory.INVALID_RECIPIENT),
    "TG15": ("Empty Message", ErrorCategory.CONTENT_REJECTED),
    "TG16": ("Empty SenderID", ErrorCategory.INVALID_SENDER),
    "TG17": ("Not Enough Units Balance", ErrorCategory.INSUFFICIENT_CREDIT),
    "TG18": ("Blocked Words Found Sender ID", ErrorCategory.INVALID_SENDER),
    "TG19": ("Blocked Words Found in Message Body", ErrorCategory.CONTENT_REJECTED),
    # The batch is larger than the account may send at once: lower the max_numbers option.
    "TG20": ("Recipients above the maximum target", ErrorCategory.INVALID_REQUEST),
}

#: Each number's own status inside a TG00 batch: code -> (status word, the document's
#: description, category). A category of None means the number was accepted.
NUMBER_STATUSES: dict[str, tuple[str, str, ErrorCategory | None]] = {
    "0000": ("SENT", "MESSAGE SENT TO PROVIDER", None),
    # Per number inside a batch whose text and sender were accepted: the number is at fault.
    "2222": ("REJECTED", "MESSAGE REJECTED", ErrorCategory.INVALID_RECIPIENT),
    # The document breaks this description over two lines; it is one description.
    "0014": ("DND_SENT", "MESSAGE THROUGH COOPERATE DND ROUTE", None),
    "3333": ("DND_REJECTED", "DND_REJECTED_NUMBER", ErrorCategory.INVALID_RECIPIENT),
}
#: Not in this document, but listed by other hosts of the same platform.
OTHER_NUMBER_STATUSES: dict[str, tuple[str, str, ErrorCategory | None]] = {
    "1111": ("DELIVERED", "MESSAGE DELIVERED TO HANDSET", None),
}

#: Names of the fields live replies carry after the documented five.
EXTRA_FIELDS = ("network", "country", "delivery_code", "delivery_date")

_BATCH_CODE = re.compile(r"(?<![A-Za-z0-9])TG\s*(\d{2,})(?!\d)", re.IGNORECASE)
#: The first entry starts at the first whole run of digits followed by ``|`` (its code).
_ENTRY_START = re.compile(r"(?<!\d)\d+\s*\|")
#: Entries are split on a comma followed by a four-digit code and ``|``: commas inside a
#: field (a description, a date) stay where they are.
_ENTRY_SPLIT = re.compile(r",\s*(?=\d{4}\s*\|)")
_HEADER_JUNK = " \t\r\n-:=>'\",;"
_AMOUNT = re.compile(r"(?:NGN|₦)?\s*([+-]?\d[\d,]*(?:\.\d+)?)", re.IGNORECASE)
_ACCEPTED_WORDS = frozenset({"SENT", "DND_SENT", "DELIVERED"})


@dataclass
class Reply:
    """A send or error reply, read tolerantly."""

    code: str
    description: str
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def number(self) -> int:
        return int(self.code[2:])

    @property
    def processed(self) -> bool:
        return self.number == 0

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "description": self.description, "entries": self.entries}


class SmscloneGateway(Gateway):
    """smsclone.com's HTTP API.

    Decisions on the document's ambiguities (also in ``docs/gateways/smsclone.md``):

    * **Routes**: the ``route`` option picks the send path: ``normal`` (``/api/sms/sendsms``,
      the default), ``dnd`` (``/api/sms/dnd-route``) or ``dnd-fallback``
      (``/api/sms/dnd-fallback``). Any other value refuses the batch (INVALID_REQUEST)
      before anything is sent.
    * **Auth**: ``username`` and ``password`` in the query string, as the document's URLs
      show. ``SendOutcome.request`` holds the path and the parameters with the password
      masked; texts and raw replies have the password redacted.
    * **Batch code**: the first ``TG`` + digits in the reply, compared as a number, so
      ``TG00-MESSAGE PROCESSED:…``, ``TG11-Invalid Authentication Credentials`` and the
      document's table lines (``'TG11' => 'Invalid Authentication Credentials'``) all read.
      Any code other than TG00 refuses the whole batch (the document: "will not be
      processed") with the category of :data:`ERRORS`; an unknown code is INVALID_REQUEST,
      or AMBIGUOUS if the same reply also lists numbers as sent. A send reply with no batch
      code at all is AMBIGUOUS (the gateway may have taken it).
    * **Entries**: they start at the first code (digits) followed by ``|`` and are split
      on a comma followed by a four-digit code and ``|``, never on other commas. Fields are
      trimmed (live replies carry stray CR/LF), numbers and ids lose all whitespace, and
      the fields after the documented five (network, country, delivery code and date in
      live replies) are kept in the raw entry. An entry with fewer than five fields
      (a truncated reply) is unreadable.
    * **Each number's status** (compared as a number): ``0000 SENT`` and ``0014 DND_SENT``
      are accepted (the raw entry says ``"dnd": true`` for the latter); ``2222 REJECTED``
      and ``3333 DND_REJECTED`` fail the number with INVALID_RECIPIENT: the batch code
      already passed the text and the sender, so what is refused is the number.
      ``1111 DELIVERED`` (other hosts of the platform) is accepted. An unknown code is read
      from its status word: ``…REJECT…`` fails, ``SENT``/``DND_SENT``/``DELIVERED`` is
      accepted, anything else is AMBIGUOUS.
    * **Matching**: entries are matched to recipients by digits, then by the last ten
      digits; each entry is used once. When the batch has one recipient and the reply one
      entry, that entry is the recipient's even if its number differs (the document's own
      example answers ``234803456789``, a digit short). A recipient with no readable entry
      in a TG00 reply is AMBIGUOUS: the document gives every number its own status, so we
      cannot tell whether it was sent, and it is never resent.
    * **Balance**: ``/api/sms/balance`` with ``username``, ``password`` and
      ``balance=true`` (the document's URL has no ``balance`` parameter while its parameter
      list says to set it "only when you want to check your credit balance"; sending both
      satisfies either reading). The reply is a bare decimal, read as one Balance in
      ``units``; a TG code is raised as an error; anything else is TRANSIENT.
    * **No delivery reports**: the document has neither a report query nor a push, so the
      gateway has no DLR_POLL/DLR_PUSH capability and its messages end at ``accepted``.
    * **No Unicode, flash, scheduling or groups**: the document offers none, so a batch
      asking for one is refused (INVALID_REQUEST) before anything is sent. A registered
      template id (an Indian DLT notion) is not sent: the document has no such parameter.
    * **Sender IDs**: the document's rules are its TG16 (empty) and TG18 (blocked words);
      it names no blocked words and no length limit, so the words are the
      ``blocked_sender_words`` option (case-insensitive, anywhere in the sender) and no
      length is enforced.
    * **Numbers** are written as the document shows them: country code, no ``+``
      (``2348012345678``).
    * **Numbers per request**: the document states none but has TG20 ("Recipients above
      the maximum target"); 100 by default, the ``max_numbers`` option otherwise.
    """

    name = "smsclone"
    verbose_name = "smsclone.com"
    credential_sets = (frozenset({"username", "password"}),)
    capabilities = frozenset({Capability.BULK, Capability.BALANCE, Capability.INBOUND})
    max_numbers_per_request = 100
    max_parts = None
    max_sender_length = None
    option_help: ClassVar[dict[str, str]] = {
        "route": (
            "'normal' (default, /api/sms/sendsms): numbers on the Do-Not-Disturb register "
            "fail with DND_REJECTED; 'dnd' (/api/sms/dnd-route): every number through the "
            "corporate DND route (dearer); 'dnd-fallback' (/api/sms/dnd-fallback): the normal "
            "route, and the DND route for numbers on the DND register."
        ),
        "max_numbers": "Numbers per send request (default 100); lower it if TG20 comes back.",
        "blocked_sender_words": (
            "Words your smsclone account refuses in a sender ID (TG18), as a list; a sender "
            "ID containing one (any case) is refused before sending."
        ),
        **INBOUND_OPTION_HELP,
    }

    # -- operations ------------------------------------------------------------------------

    def send(self, batch: Batch) -> SendOutcome:
        """One request for the whole batch, on the route the ``route`` option names."""
        self._check_supported(batch)
        path = SEND_PATHS[self.route()]
        params = self.send_params(batch)
        response = self.http("GET", self.url(path), params=params)
        body = self.reply_text(response.content)
        reply = parse_reply(body)
        if reply is None:
            raise GatewayError(
                ErrorCategory.AMBIGUOUS,
                "smsclone's answer has no batch code; it may have taken the message",
                raw=self.clip(body),
            )
        if not reply.processed:
            raise self._batch_error(reply, body, sending=True)
        return SendOutcome(
            results=self._results(batch, reply),
            request={"path": path, "params": self.redact(redact_params(params))},
            response=self.redact({**reply.as_dict(), "body": self.clip(body)}),
        )

    def balance(self) -> list[Balance]:
        """The account's units: the reply is a bare decimal."""
        params = {**self._auth(), "balance": "true"}
        response = self.http("GET", self.url(BALANCE_PATH), params=params)
        body = self.reply_text(response.content)
        amount = parse_amount(body)
        if amount is not None:
            return [Balance("", amount, "units", raw={"body": self.redact(body.strip())})]
        reply = parse_reply(body)
        if reply is not None and not reply.processed:
            raise self._batch_error(reply, body, sending=False)
        # Nothing was submitted: asking again is harmless.
        raise GatewayError(
            ErrorCategory.TRANSIENT,
            "smsclone's balance reply is not a number",
            raw=self.clip(body),
        )

    # -- validation and request building ---------------------------------------------------

    def route(self) -> str:
        """The configured route's canonical name; GatewayError for an unknown one."""
        value = str(self.option("route") or "normal").strip().lower().replace("_", "-")
        value = ROUTE_ALIASES.get(value, value)
        if value not in SEND_PATHS:
            raise GatewayError(
                ErrorCategory.INVALID_REQUEST,
                f"unknown smsclone route {self.option('route')!r}; "
                f"use one of {', '.join(SEND_PATHS)}",
            )
        return value

    def option_errors(self) -> list[str]:
        """An unknown route is refused when the provider is saved, not when it first sends."""
        try:
            self.route()
        except GatewayError as exc:
            return [exc.text]
        return []

    def sender_errors(self, sender: str) -> list[str]:
        problems = super().sender_errors(sender)
        blocked = [w for w in self._blocked_sender_words() if w.lower() in sender.lower()]
        if blocked:
            problems.append(
                f"smsclone refuses sender IDs containing {', '.join(map(repr, blocked))} "
                "(TG18: Blocked Words Found Sender ID)"
            )
        return problems

    def format_number(self, e164: str) -> str:
        """The document's ``2348012345678``: country code and number, no ``+`` or spaces."""
        return "".join(e164.split()).lstrip("+")

    def send_params(self, batch: Batch) -> dict[str, str]:
        """The send query in the document's order, credentials included."""
        return {
            **self._auth(),
            "sender": batch.sender,
            "recipient": ",".join(self.format_number(r.number) for r in batch.recipients),
            "message": batch.text,
        }

    def _auth(self) -> dict[str, str]:
        return {"username": self.provider.username, "password": self.provider.password}

    def _blocked_sender_words(self) -> list[str]:
        words = self.option("blocked_sender_words") or []
        if isinstance(words, str):
            words = words.split(",")
        return [str(w).strip() for w in words if str(w).strip()]

    def _check_supported(self, batch: Batch) -> None:
        """Refuse, before sending, what the document has no way to ask for."""
        wanted = [
            label
            for label, asked in (
                ("Unicode text", batch.unicode),
                ("flash messages", batch.flash),
                ("scheduled sending", batch.schedule_at is not None),
                ("provider-side groups", bool(batch.group_id)),
            )
            if asked
        ]
        if wanted:
            raise GatewayError(
                ErrorCategory.INVALID_REQUEST,
                f"smsclone's API has no {' or '.join(wanted)}; nothing was sent",
            )
        if not batch.recipients or not all(r.number for r in batch.recipients):
            raise GatewayError(
                ErrorCategory.INVALID_RECIPIENT, "smsclone needs a number for every recipient"
            )

    # -- replies ---------------------------------------------------------------------------

    def _batch_error(self, reply: Reply, body: str, *, sending: bool) -> GatewayError:
        return self.coded_error(
            reply.code,
            ERRORS.get(f"TG{reply.number:02d}"),
            body,
            sending=sending,
            words=reply.description,
            taken=any(_verdict(e)[0] for e in reply.entries if e["complete"]),
        )

    def _results(self, batch: Batch, reply: Reply) -> list[RecipientResult]:
        numbers = [self.format_number(r.number) for r in batch.recipients]
        matched = match_entries(
            numbers, [e for e in reply.entries if e["complete"]], lambda entry: entry["number"]
        )
        results = []
        for index, recipient in enumerate(batch.recipients):
            entry = matched.get(index)
            if entry is None:
                results.append(self._missing(recipient.ref, numbers[index], reply))
            else:
                results.append(self._entry_result(recipient.ref, entry))
        return results

    def _entry_result(self, ref: int, entry: dict[str, Any]) -> RecipientResult:
        accepted, category, words = _verdict(entry)
        raw = self.redact(entry)
        if accepted:
            return RecipientResult(
                ref=ref, accepted=True, provider_message_id=entry["message_id"], raw=raw
            )
        # _verdict gives a category to every entry it does not accept.
        category = category or ErrorCategory.AMBIGUOUS
        text = words
        if entry["status"].upper() == "DND_REJECTED" or entry["code"] == "3333":
            text += (
                " (the number is on the Do-Not-Disturb register; the 'dnd' or "
                "'dnd-fallback' route reaches it)"
            )
        return RecipientResult(
            ref=ref,
            accepted=False,
            provider_message_id=entry["message_id"],
            error=GatewayError(category, self.redact(text), code=entry["code"], raw=raw),
            raw=raw,
        )

    def _missing(self, ref: int, number: str, reply: Reply) -> RecipientResult:
        error = GatewayError(
            ErrorCategory.AMBIGUOUS,
            f"smsclone processed the batch ({reply.code}) but its reply has no readable "
            f"status for {number}; it may have been sent",
            code=reply.code,
            raw=self.redact(reply.as_dict()),
        )
        return RecipientResult(ref=ref, accepted=False, error=error, raw=error.raw)


# -- reply parsing (pure functions, shared with the docs and tests) ------------------------


def parse_reply(body: str) -> Reply | None:
    """The batch code, its description and the entries in ``body``; None without a code."""
    match = _BATCH_CODE.search(body)
    if match is None:
        return None
    rest = body[match.end() :]
    start = _ENTRY_START.search(rest)
    header = rest[: start.start()] if start else rest
    entries = []
    if start:
        entries = [parse_entry(chunk) for chunk in _ENTRY_SPLIT.split(rest[start.start() :])]
    return Reply(
        code=f"TG{match.group(1)}",
        description=" ".join(header.strip(_HEADER_JUNK).split()),
        entries=entries,
    )


def parse_entry(chunk: str) -> dict[str, Any]:
    """One ``code|number|id|status|description[|network|country|code|date]`` entry."""
    fields = chunk.split("|")
    padded = fields + [""] * (5 - len(fields))
    entry: dict[str, Any] = {
        "code": _compact(padded[0]),
        "number": _compact(padded[1]),
        "message_id": _compact(padded[2]),
        "status": _words(padded[3]),
        "description": _words(padded[4]),
    }
    extra = [_words(f) for f in fields[5:]]
    entry.update(zip(EXTRA_FIELDS, extra, strict=False))
    if len(extra) > len(EXTRA_FIELDS):
        entry["more"] = extra[len(EXTRA_FIELDS) :]
    entry["dnd"] = "DND" in entry["status"].upper()
    entry["complete"] = (
        len(fields) >= 5
        and is_number(entry["code"])
        and bool(digits(entry["number"]))
        and bool(entry["message_id"] and entry["status"])
        and "\ufffd" not in "".join(fields[:4])
    )
    return entry


def parse_amount(body: str) -> Decimal | None:
    """A bare decimal (``256.21``, ``1,000.50``), or None when the body is anything else."""
    match = _AMOUNT.fullmatch(body.strip())
    if match is None:
        return None
    try:
        amount = Decimal(match.group(1).replace(",", ""))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def number_status(code: str) -> tuple[str, str, ErrorCategory | None] | None:
    """The table row of a per-number code, compared as a number (``14`` is ``0014``)."""
    if not is_number(code):
        return None
    key = f"{int(code):04d}"
    return NUMBER_STATUSES.get(key) or OTHER_NUMBER_STATUSES.get(key)


def _verdict(entry: dict[str, Any]) -> tuple[bool, ErrorCategory | None, str]:
    """(accepted, category when not, the words) for one number's entry."""
    row = number_status(entry["code"])
    if row is not None:
        _, words, category = row
        return category is None, category, entry["description"] or words
    word = entry["status"].upper()
    words = entry["description"] or entry["status"] or f"status code {entry['code']}"
    if "REJECT" in word:
        return False, ErrorCategory.INVALID_RECIPIENT, words
    if word in _ACCEPTED_WORDS:
        return True, None, words
    return False, ErrorCategory.AMBIGUOUS, f"unknown smsclone status {entry['code']}: {words}"


def _compact(value: str) -> str:
    """A code, number or id with every whitespace (stray CR/LF included) removed."""
    return "".join(value.split())


def _words(value: str) -> str:
    return " ".join(value.split())
