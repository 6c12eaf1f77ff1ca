"""A "Unified Communications" (RouteSMS-style) gateway on 127.0.0.1, speaking its document.

Endpoints (GET, query string, ``code|number|id`` text replies):

* ``/bulksms/bulksms`` — ``username``, ``password``, ``type`` (0, 1, 2, 5, 6, 7), ``dlr``
  (0/1), ``destination`` (comma-separated, ``+`` optional), ``source``, ``message``.
  With ``date``, ``time`` and ``gmt`` it schedules too (the document's section 2.2 examples).
* ``/bulksms/schedulemsg`` — the same plus ``date`` (``MM/DD/YYYY``), ``time``
  (``hh:mm am``/``pm``) and ``gmt`` (``GMT +hh:mm``, ``GMT -hh:mm``, ``+hh:mm``, ``-hh:mm``).

A successful request answers one ``1701|<number as sent>|<message id>`` entry per
destination, separated by commas, followed by CRLF (``id_separator=":"`` gives the live
``number:id`` variant, ``crlf=False`` drops the line end). A refused number gets its own
``<code>|<number>`` entry among the others; a refused request is a bare code.

Behaviour the document leaves open, decided here:

* Validation order: a missing or blank parameter is 1702; wrong credentials 1703; ``type``
  outside 0, 1, 2, 5, 6, 7 is 1704 (3 is reserved, 4 is WAP push: not simulated); ``dlr``
  outside 0/1 is 1708; a bad ``source`` (empty, over 18 digits when numeric, over 11
  characters or not letters/digits when alphanumeric) is 1707; an empty message, or one that
  is not UCS-2 hex when ``unicode_hex`` is on and the type is 2/6, is 1705; an unreadable
  ``date``/``time``/``gmt`` is 1702 (the document has no code for it). Then per number:
  not 7–15 digits, or in the ``reject_numbers`` fault, is ``1706|<number>``; in ``dnd`` is
  ``1732|<number>``. Then credit: parts × accepted numbers must be covered, else the whole
  request is ``1725`` and nothing is sent.
* DLT (India): the template id is read from ``tempid`` and the entity id from
  ``entityid`` (``dlt_params`` names others) and kept on each message. With
  ``dlt_templates`` (the registered template ids) a request whose template id is not one
  of them answers ``1033`` (Message Template Mismatch) and nothing is sent.
* The ``error_code`` fault (beside the shared ones) answers the bare code it names, e.g.
  ``sim.set_faults(error_code="1709", times=1)``, before anything is taken.
* Parts: 160/153 characters for types 0 and 1 (GSM extension characters count two), 70/67
  UCS-2 units for types 2 and 6 — the document's 280/268 "characters" are hex digits — and
  140/134 octets for the ISO-8859-1 types 5 and 7 (8-bit: the document gives no sizes for
  them, GSM 03.40 does). A type 5/7 text with a character outside ISO-8859-1 is 1705.
* A schedule in the past sends at once. A scheduled message is ``SCHEDULED`` until due.
* Each message is ``ENROUTE`` for ``delivery_delay`` seconds after it is due (on the
  simulator's clock), then final: ``outcomes[number]`` if given (any pushed sStatus word),
  ``UNDELIV`` for a number in ``undeliverable``, else ``DELIVRD``.
* With ``dlr=1`` and a ``callback_url``, a final message is pushed (``push_method`` GET
  query, or POST form) with ``sSender``, ``sMobileNo``, ``sStatus``, ``dtSubmit``,
  ``dtDone`` (``yyyy-mm-dd hh:mm:ss`` in ``timezone``), ``sMessageId`` and ``iErrCode``.
  A push answered with anything but 200 or 202 is tried again after ``push_backoff``
  seconds of simulator time, doubling, at most ``push_attempts`` times in all; every
  attempt is a record in ``state()["pushes"]`` with its ``message_id`` and ``attempt``.
"""

from __future__ import annotations

import math
import random
import re
import uuid
import zoneinfo
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as fixed_offset
from decimal import Decimal
from typing import Any, ClassVar

from ..text import (
    LATIN1_MULTI,
    LATIN1_SINGLE,
    UCS2_MULTI,
    UCS2_SINGLE,
    analyze,
    fits_latin1,
)
from .base import BASE_FAULTS, SimRequest, SimResponse, Simulator

DEFAULT_USER = "demo"
DEFAULT_PASSWORD = "demo"

#: The document's codes (code -> description).
MESSAGES: dict[str, str] = {
    "1701": "Success, Message Submitted Successfully.",
    "1702": "Invalid URL. This means that one of the parameters was not provided or left blank.",
    "1703": "Invalid value in username or password field.",
    "1704": "Invalid value in type field.",
    "1705": "Invalid message.",
    "1706": "Invalid destination.",
    "1707": "Invalid source (Sender).",
    "1708": "Invalid value for dlr parameter.",
    "1709": "User validation failed.",
    "1710": "Internal error.",
    "1725": "Insufficient credit.",
    "1715": "Response timeout.",
    "1732": "DND reject.",
    "1028": "Spam message",
    "1041": "Duplicate Message.",
    "1042": "Explicit DND Destination",
    "1033": "Message Template Mismatch.",
    "69": "Internal Error",
    "8": "Internal Error",
    "16": "IP Blacklisted.",
    "18": "Non Whitelisted User IP.",
}

#: ``type`` values the simulator accepts: value -> (Unicode?, flash?).
TYPES: dict[str, tuple[bool, bool]] = {
    "0": (False, False),
    "1": (False, True),
    "2": (True, False),
    "5": (False, False),
    "6": (True, True),
    "7": (False, True),
}
#: The ISO-8859-1 (8-bit) types: plain and flash.
LATIN1_TYPES = frozenset({"5", "7"})

#: sStatus words a message may end in, with the iErrCode pushed beside each.
FINAL_STATUSES: dict[str, str] = {
    "DELIVRD": "000",
    "UNDELIV": "001",
    "EXPIRED": "002",
    "DELETED": "003",
    "REJECTD": "004",
    "UNKNOWN": "005",
    "ACCEPTED": "000",
}

_NUMBER = re.compile(r"\+?\d{7,15}")
_NUMERIC_SOURCE = re.compile(r"\+?\d+")
_ALPHANUMERIC_SOURCE = re.compile(r"[A-Za-z0-9]+")
_DATE = re.compile(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*")
_TIME = re.compile(r"\s*(\d{1,2}):(\d{2})\s*([AaPp])\.?\s*[Mm]\.?\s*")
_GMT = re.compile(r"\s*(?:GMT)?\s*([+-]?)\s*(\d{1,2}):(\d{2})\s*", re.IGNORECASE)
_HEX = re.compile(r"(?:[0-9A-Fa-f]{4})+")
_PUSH_TIME = "%Y-%m-%d %H:%M:%S"


class UnifiedError(Exception):
    """A whole-request refusal: answered as the bare code."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"{code} {MESSAGES[code]}")


@dataclass
class SimMessage:
    """One destination of one accepted request."""

    message_id: str
    number: str
    text: str
    sender: str
    type: str
    dlr: bool
    parts: int
    submitted_at: float
    due_at: float
    scheduled: bool
    #: DLT template id and entity id as received ("" when not sent).
    template_id: str = ""
    entity_id: str = ""
    #: Indexes into ``Simulator.pushes`` of this message's push attempts.
    push_records: list[int] = field(default_factory=list)
    next_push_at: float = 0.0


class UnifiedSimulator(Simulator):
    """The Unified Communications bulk SMS panel. Options: see the module docstring."""

    name = "unified"
    routes: ClassVar[dict[tuple[str, str], str]] = {
        ("GET", "/bulksms/bulksms"): "bulksms",
        ("GET", "/bulksms/schedulemsg"): "schedulemsg",
    }
    #: ``error_code``: refuse the request with that bare code before taking anything (e.g.
    #: "1709", the one code a client may retry).
    fault_names: ClassVar[frozenset[str]] = BASE_FAULTS | {"error_code"}
    #: Pushes follow the clock while serving with a real clock (the demo).
    tick_interval: ClassVar[float | None] = 0.25

    def __init__(
        self,
        *,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        api_key: str | None = None,
        balance: Any = 1000,
        delivery_delay: float = 2.0,
        undeliverable: Any = (),
        outcomes: dict[str, str] | None = None,
        dnd: Any = (),
        callback_url: str | None = None,
        push_method: str = "GET",
        push_attempts: int = 5,
        push_backoff: float = 30.0,
        timezone: str = "Asia/Kolkata",
        unicode_hex: bool = False,
        id_separator: str = "|",
        crlf: bool = True,
        seed: int | None = None,
        dlt_params: tuple[str, str] = ("tempid", "entityid"),
        dlt_templates: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        #: The parameter names of the DLT template id and entity id.
        self.dlt_params = (str(dlt_params[0]), str(dlt_params[1]))
        #: Registered DLT template ids; when set, a request needs one of them (else 1033).
        self.dlt_templates = None if dlt_templates is None else {str(t) for t in dlt_templates}
        self.user = user
        #: ``api_key`` is the HTTP account's password (so ``sms_simulate --api-key-env`` works).
        self.password = api_key if api_key else password
        self.initial_balance = Decimal(str(balance))
        self.delivery_delay = float(delivery_delay)
        self.outcomes = {_digits(n): "UNDELIV" for n in undeliverable}
        self.outcomes.update({_digits(n): str(w).upper() for n, w in (outcomes or {}).items()})
        self.dnd = {_digits(n) for n in dnd}
        self.callback_url = callback_url
        self.push_method = push_method.upper()
        self.push_attempts = int(push_attempts)
        self.push_backoff = float(push_backoff)
        self.tz = zoneinfo.ZoneInfo(timezone)
        self.unicode_hex = bool(unicode_hex)
        self.id_separator = id_separator
        self.crlf = bool(crlf)
        self.random = random.Random(seed)
        self.reset_state()

    # -- state -----------------------------------------------------------------------------

    def reset_state(self) -> None:
        self.balance = self.initial_balance
        self.messages: list[SimMessage] = []

    def snapshot(self) -> dict[str, Any]:
        now = self.now()
        messages = []
        for message in self.messages:
            item = asdict(message)
            item.pop("push_records")
            item["status"] = self.status_of(message, now)
            item["push_attempts"] = len(message.push_records)
            item["push_acknowledged"] = self._acknowledged(message)
            messages.append(item)
        return {
            "messages": messages,
            "balances": {self.user: _amount(self.balance)},
            "callback_url": self.callback_url,
        }

    def secrets(self) -> list[str]:
        return [self.password]

    def status_of(self, message: SimMessage, now: float | None = None) -> str:
        """``SCHEDULED``, ``ENROUTE`` or the final sStatus word of ``message`` at ``now``."""
        now = self.now() if now is None else now
        if now < message.due_at:
            return "SCHEDULED"
        if now < self.done_at(message):
            return "ENROUTE"
        return self.outcomes.get(_digits(message.number), "DELIVRD")

    def done_at(self, message: SimMessage) -> float:
        return message.due_at + self.delivery_delay

    # -- endpoints -------------------------------------------------------------------------

    def bulksms(self, request: SimRequest) -> SimResponse:
        scheduled = any(request.param(k) is not None for k in ("date", "time", "gmt"))
        return self._submit(request, scheduled=scheduled)

    def schedulemsg(self, request: SimRequest) -> SimResponse:
        return self._submit(request, scheduled=True)

    def _submit(self, request: SimRequest, *, scheduled: bool) -> SimResponse:
        try:
            entries = self._accept(request, scheduled)
        except UnifiedError as exc:
            return self._reply([exc.code])
        return self._reply(entries)

    def _reply(self, entries: list[str]) -> SimResponse:
        return SimResponse(200, ",".join(entries) + ("\r\n" if self.crlf else ""))

    # -- validation, in the panel's order ----------------------------------------------------

    def _accept(self, request: SimRequest, scheduled: bool) -> list[str]:
        required = ["username", "password", "type", "dlr", "destination", "source", "message"]
        if scheduled:
            required += ["date", "time", "gmt"]
        refusal = str(request.faults.get("error_code") or "").strip()
        if refusal:
            return [refusal]
        values = {name: request.param(name) or "" for name in required}
        if any(not values[name].strip() for name in required):
            raise UnifiedError("1702")
        if request.faults.get("auth_failure") or (
            values["username"].strip(),
            values["password"],
        ) != (self.user, self.password):
            raise UnifiedError("1703")
        kind = values["type"].strip()
        if kind not in TYPES:
            raise UnifiedError("1704")
        dlr = values["dlr"].strip()
        if dlr not in ("0", "1"):
            raise UnifiedError("1708")
        sender = values["source"].strip()
        if not source_is_valid(sender):
            raise UnifiedError("1707")
        text = self._text(values["message"], kind)
        template_id = (request.param(self.dlt_params[0]) or "").strip()
        if self.dlt_templates is not None and template_id not in self.dlt_templates:
            raise UnifiedError("1033")
        now = self.now()
        due = now
        if scheduled:
            when = parse_schedule(values["date"], values["time"], values["gmt"])
            if when is None:
                raise UnifiedError("1702")
            due = max(now, when)
        return self._take(request, values["destination"], text, sender, kind, dlr, now, due)

    def _text(self, message: str, kind: str) -> str:
        if not message.strip():
            raise UnifiedError("1705")
        if self.unicode_hex and TYPES[kind][0]:
            compact = "".join(message.split())
            if not _HEX.fullmatch(compact):
                raise UnifiedError("1705")
            return bytes.fromhex(compact).decode("utf-16-be", errors="replace")
        if kind in LATIN1_TYPES and not fits_latin1(message):
            raise UnifiedError("1705")
        return message

    def _take(
        self,
        request: SimRequest,
        destination: str,
        text: str,
        sender: str,
        kind: str,
        dlr: str,
        now: float,
        due: float,
    ) -> list[str]:
        """Charge and keep the good numbers; one reply entry per destination."""
        numbers = [n.strip() for n in destination.split(",") if n.strip()]
        if not numbers:
            raise UnifiedError("1702")
        rejected = {_digits(n) for n in request.faults.get("reject_numbers") or ()}
        verdicts: list[tuple[str, str]] = []
        for number in numbers:
            if not _NUMBER.fullmatch(number) or _digits(number) in rejected:
                verdicts.append((number, "1706"))
            elif _digits(number) in self.dnd:
                verdicts.append((number, "1732"))
            else:
                verdicts.append((number, "1701"))
        parts = latin1_parts(text) if kind in LATIN1_TYPES else parts_for(text, TYPES[kind][0])
        cost = Decimal(parts * sum(1 for _, code in verdicts if code == "1701"))
        if request.faults.get("credit_exhausted") or self.balance < cost:
            raise UnifiedError("1725")
        self.balance -= cost
        entries = []
        for number, code in verdicts:
            if code != "1701":
                entries.append(f"{code}|{number}")
                continue
            message = SimMessage(
                message_id=self._new_id(),
                number=number,
                text=text,
                sender=sender,
                type=kind,
                dlr=dlr == "1",
                parts=parts,
                submitted_at=now,
                due_at=due,
                scheduled=due > now,
                template_id=(request.param(self.dlt_params[0]) or "").strip(),
                entity_id=(request.param(self.dlt_params[1]) or "").strip(),
            )
            self.messages.append(message)
            entries.append(f"1701|{number}{self.id_separator}{message.message_id}")
        return entries

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    # -- pushes ----------------------------------------------------------------------------

    def tick(self) -> None:
        """Push every final message whose report is due and not yet acknowledged."""
        with self.lock:
            if not self.callback_url:
                return
            now = self.now()
            for message in self.messages:
                if message.dlr and now >= self.done_at(message) and self._push_due(message, now):
                    self._push(message, now)

    def _push_due(self, message: SimMessage, now: float) -> bool:
        if not message.push_records:
            return True
        last = self.pushes[message.push_records[-1]]
        if "status" not in last and "error" not in last:
            return False  # still on its way
        if self._acknowledged(message):
            return False
        return len(message.push_records) < self.push_attempts and now >= message.next_push_at

    def _acknowledged(self, message: SimMessage) -> bool:
        return any(self.pushes[i].get("status") in (200, 202) for i in message.push_records)

    def _push(self, message: SimMessage, now: float) -> None:
        assert self.callback_url is not None
        attempt = len(message.push_records) + 1
        message.next_push_at = now + self.push_backoff * 2 ** (attempt - 1)
        message.push_records.append(len(self.pushes))
        record = self.push(self.callback_url, self.report(message), method=self.push_method)
        record.update({"message_id": message.message_id, "attempt": attempt})

    def report(self, message: SimMessage) -> dict[str, str]:
        """The pushed fields of a final message, in the live gateways' order."""
        word = self.status_of(message)
        return {
            "sSender": message.sender,
            "sMobileNo": message.number,
            "sStatus": word,
            "dtSubmit": self._local(message.submitted_at),
            "dtDone": self._local(self.done_at(message)),
            "sMessageId": message.message_id,
            "iErrCode": FINAL_STATUSES.get(word, "000"),
        }

    def _local(self, when: float) -> str:
        return datetime.fromtimestamp(when, self.tz).strftime(_PUSH_TIME)


def source_is_valid(sender: str) -> bool:
    """The document's rule: numeric up to 18 digits, alphanumeric up to 11 characters."""
    if _NUMERIC_SOURCE.fullmatch(sender):
        return len(sender.lstrip("+")) <= 18
    return len(sender) <= 11 and bool(_ALPHANUMERIC_SOURCE.fullmatch(sender))


def parse_schedule(date: str, time: str, gmt: str) -> float | None:
    """``03/03/2018``, ``03:45 am`` and ``GMT +1:30`` -> Unix time, or None if unreadable."""
    day, clock, offset = _DATE.fullmatch(date), _TIME.fullmatch(time), _GMT.fullmatch(gmt)
    if not (day and clock and offset):
        return None
    month, mday, year = (int(g) for g in day.groups())
    hour, minute = int(clock.group(1)), int(clock.group(2))
    if hour > 12 or minute > 59:
        return None
    hour = hour % 12 + (12 if clock.group(3).lower() == "p" else 0)
    # A "+" sent without URL-encoding arrives as a space: an unsigned offset is east of GMT.
    sign = -1 if offset.group(1) == "-" else 1
    off_hours, off_minutes = int(offset.group(2)), int(offset.group(3))
    if off_hours > 12 or off_minutes not in (0, 30):
        return None
    tz = fixed_offset(sign * timedelta(hours=off_hours, minutes=off_minutes))
    try:
        return datetime(year, month, mday, hour, minute, tzinfo=tz).timestamp()
    except ValueError:
        return None


def parts_for(text: str, unicode: bool) -> int:
    """Parts billed: UCS-2 sizes for types 2/6, GSM sizes otherwise."""
    info = analyze(text)
    if unicode and not info.is_unicode:
        units = len(text)
        return 1 if units <= UCS2_SINGLE else math.ceil(units / UCS2_MULTI)
    if not unicode and info.is_unicode:
        return 1 if len(text) <= 160 else math.ceil(len(text) / 153)
    return info.parts


def latin1_parts(text: str) -> int:
    """Parts billed for types 5/7: one octet a character, 140 in one part, 134 a part."""
    return 1 if len(text) <= LATIN1_SINGLE else math.ceil(len(text) / LATIN1_MULTI)


def _digits(number: str) -> str:
    return "".join(c for c in str(number) if c.isdigit())


def _amount(value: Decimal) -> str:
    return str(value.quantize(Decimal(1))) if value == value.to_integral() else str(value)
