"""A 1601SMS gateway on 127.0.0.1, speaking its document's protocol.

Endpoints (query string, plain-text replies):

* ``/module/gateway.php`` (GET, or POST with a form body, as the document's note allows):

  - send — ``klantuser``, ``klantpwd`` (the password or its SHA-1 in hex), ``bericht``,
    ``naar`` (comma-separated ``32478123456``; ``groep`` with ``groep=<name>``; the
    document's ``to`` is accepted too), ``afzender``, and the optional ``delivery=ja``,
    ``type=long``, ``datum=yyyymmddhhii`` with ``outboxid=ja``, ``emailen``, ``logging``,
    ``referentie`` and ``test=ja``. Answers ``OK`` — with ``delivery=ja`` (or ``outboxid=ja``)
    ``OK 1234567``, one id per number, comma-separated — or ``ERROR <code>``.
  - ``action=credits`` — the credits left, a bare number (``476``).
  - ``action=verwijderbericht`` with ``id=<outbox id>`` or ``naar=<number>`` — ``OK`` or
    ``ERROR 122``; ``action=verwijderoutbox`` empties the outbox (``OK`` / ``ERROR 122``).
  - ``action=rapport&aantal=N`` — the last N final reports, one per line
    ``smsid;number;status;dd/mm/yyyy hh:mm:ss;referentie`` (the document shows no format:
    this one is the simulator's), or ``NONE``.

* ``/module/gatewayrapport.php?smsid=…[&datum=ja]`` — no credentials, as in the document's
  example: ``DELIVERED`` / ``NOT DELIVERED`` / ``REJECTED`` / ``SUBMITTED`` / ``NONE``, with
  ``datum=ja`` (or the prose's ``date=ja``) followed by ``dd/mm/yyyy hh:mm:ss``.

Pushes: with ``callback_url`` set, each message id that reaches a final status is pushed
once as a GET with ``smsid``, ``datum`` (``yyyymmddhhmmss``), ``status`` and ``referentie``,
and pushed again every ``push_retry_delay`` seconds (simulator clock) until the receiver
answers HTTP 200, at most ``push_attempts`` times. Every attempt is in ``state()["pushes"]``.

Behaviour the document leaves open, decided here:

* A scheduled message's outbox id is also its smsid. A group send is one message with one
  id (its status is DELIVERED when every member's is, REJECTED when every member's is,
  otherwise NOT DELIVERED); a send to several numbers gets one id per number.
* Messages are in the outbox until due (reported ``NONE``), then ``SUBMITTED`` for
  ``delivery_delay`` seconds, then ``DELIVERED``, or ``NOT DELIVERED`` for a number in
  ``undeliverable``, or ``REJECTED`` for one in ``rejected``.
* Credits fall by parts × numbers on acceptance (160 characters in one part, 153 a part
  with ``type=long``, at most 3 parts) and come back when a message leaves the outbox by
  removal. ``test=ja`` checks everything, then answers ``OK`` and changes nothing.
* Numbers: digits only, 8-15 of them (else 106); a leading 0 is no country code (112);
  a prefix in ``blocked_countries`` is 114, one outside ``countries`` (when set) is 107,
  long texts to a prefix in ``no_long_countries`` are 119. Senders: empty 109, digits
  without ``+`` 110, over 12 characters 111, anything but letters and digits (or ``+`` and
  digits) 113, listed in ``blocked_senders`` 117. ``datum`` in the past (by more than a
  minute) or unreadable is 121. ``referentie`` is cut to 75 characters.
* ``auth_failure`` answers ``ERROR 104`` on gateway.php; the status page takes no
  credentials and is not affected. ``maintenance`` answers ``ERROR 150`` everywhere and
  ``blocked`` (115 or 116) refuses the account after a correct login.
"""

from __future__ import annotations

import hashlib
import math
import urllib.parse
import zoneinfo
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from ..text import analyze
from .base import SimRequest, SimResponse, Simulator

DEFAULT_USER = "demo"
DEFAULT_PASSWORD = "demo"  # noqa: S105 - the demo account's
FIRST_ID = 1234567

FINAL_WORDS = ("DELIVERED", "NOT DELIVERED", "REJECTED")
MAX_PARTS = 3
LONG_PART = 153
SINGLE_PART = 160
SCHEDULE_TOLERANCE = 60.0


class Refusal(Exception):
    """A refusal in the protocol's words: ``ERROR <code>``."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"ERROR {code}")


@dataclass
class SimMessage:
    """One number of one accepted send (group members share their send's id)."""

    message_id: str
    number: str
    text: str
    sender: str
    parts: int
    group: str
    reference: str
    submitted_at: float
    due_at: float
    scheduled: bool
    outbox_id: str
    email_confirmation: bool
    logging: str
    removed_at: float | None = None


class Sms1601Simulator(Simulator):
    """The 1601SMS gateway. Options are keyword arguments; see the module docstring."""

    name = "sms1601"
    #: 1601SMS's virtual-number push as assumed in gateways/inbound.py (van/naar/bericht).
    inbound_preset = "sms1601"
    routes: ClassVar[dict[tuple[str, str], str]] = {
        ("GET", "/module/gateway.php"): "gateway",
        ("POST", "/module/gateway.php"): "gateway",
        ("GET", "/module/gatewayrapport.php"): "status_page",
        ("POST", "/module/gatewayrapport.php"): "status_page",
    }
    tick_interval: ClassVar[float | None] = 1.0

    def __init__(
        self,
        *,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        api_key: str | None = None,
        credits: Any = 1000,
        groups: dict[str, list[str]] | None = None,
        delivery_delay: float = 2.0,
        undeliverable: Any = (),
        rejected: Any = (),
        countries: Any = None,
        blocked_countries: Any = (),
        no_long_countries: Any = (),
        blocked_senders: Any = (),
        blocked: str | None = None,
        maintenance: bool = False,
        timezone: str = "Europe/Amsterdam",
        callback_url: str = "",
        push_attempts: int = 5,
        push_retry_delay: float = 1.0,
        first_id: int = FIRST_ID,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.user = user
        #: ``api_key`` (``sms_simulate --api-key-env``) is the account's password.
        self.password = api_key or password
        self.initial_credits = Decimal(str(credits))
        self.groups = {
            str(k): [_digits(n) for n in v]
            for k, v in (
                groups if groups is not None else {"Monteurs": ["31612345601", "31612345602"]}
            ).items()
        }
        self.delivery_delay = float(delivery_delay)
        self.undeliverable = {_digits(n) for n in undeliverable}
        self.rejected = {_digits(n) for n in rejected}
        self.countries = None if countries is None else [_digits(c) for c in countries]
        self.blocked_countries = [_digits(c) for c in blocked_countries]
        self.no_long_countries = [_digits(c) for c in no_long_countries]
        self.blocked_senders = set(blocked_senders)
        self.blocked = str(blocked) if blocked else None
        self.maintenance = bool(maintenance)
        self.tz = zoneinfo.ZoneInfo(timezone)
        self.callback_url = callback_url
        self.push_attempts = int(push_attempts)
        self.push_retry_delay = float(push_retry_delay)
        self.first_id = int(first_id)
        self.reset_state()

    # -- state -----------------------------------------------------------------------------

    def reset_state(self) -> None:
        self.credits: Decimal = self.initial_credits
        self.messages: list[SimMessage] = []
        self.by_id: dict[str, list[SimMessage]] = {}
        self.notifications: dict[str, dict[str, Any]] = {}
        self._next_id = self.first_id

    def snapshot(self) -> dict[str, Any]:
        now = self.now()
        messages = []
        for message in self.messages:
            word, when = self.status_of(message, now)
            messages.append({**asdict(message), "status": word, "status_time": when})
        return {
            "messages": messages,
            "balances": {"credits": _amount(self.credits)},
            "outbox": [m.outbox_id for m in self.messages if self._in_outbox(m, now)],
            "groups": {k: list(v) for k, v in self.groups.items()},
            "callback_url": self.callback_url,
            "notifications": [
                {
                    "smsid": smsid,
                    "data": dict(note["data"]),
                    "attempts": len(note["records"]),
                    "acknowledged": _acknowledged(note),
                }
                for smsid, note in self.notifications.items()
            ],
        }

    def secrets(self) -> list[str]:
        digest = _sha1(self.password)
        return [self.password, digest, digest.upper()]

    def status_of(self, message: SimMessage, now: float | None = None) -> tuple[str, float | None]:
        """(status word, the time it was reached) of one message at ``now``.

        ``OUTBOX`` and ``REMOVED`` are the simulator's own words; the protocol says NONE.
        """
        now = self.now() if now is None else now
        if message.removed_at is not None:
            return "REMOVED", message.removed_at
        if now < message.due_at:
            return "OUTBOX", None
        done_at = message.due_at + self.delivery_delay
        if now < done_at:
            return "SUBMITTED", message.due_at
        if message.number in self.rejected:
            return "REJECTED", done_at
        if message.number in self.undeliverable:
            return "NOT DELIVERED", done_at
        return "DELIVERED", done_at

    def report_of(self, smsid: str, now: float | None = None) -> tuple[str, float | None]:
        """The protocol's status of one id (a group's members combined)."""
        now = self.now() if now is None else now
        members = self.by_id.get(smsid, [])
        states = [self.status_of(m, now) for m in members]
        words = {word for word, _ in states}
        if not states or words & {"REMOVED", "OUTBOX"}:
            return "NONE", None
        if "SUBMITTED" in words:
            due = [when for word, when in states if word == "SUBMITTED" and when is not None]
            return "SUBMITTED", min(due, default=None)
        when = max(w for _, w in states if w is not None)
        if words == {"DELIVERED"}:
            return "DELIVERED", when
        if words == {"REJECTED"}:
            return "REJECTED", when
        return "NOT DELIVERED", when

    def _in_outbox(self, message: SimMessage, now: float) -> bool:
        return message.removed_at is None and now < message.due_at

    # -- pushes ----------------------------------------------------------------------------

    def tick(self) -> None:
        """Push every newly final id; push again what was not acknowledged with HTTP 200."""
        with self.lock:
            if not self.callback_url:
                return
            now = self.now()
            for smsid in list(self.by_id):
                if smsid in self.notifications:
                    continue
                word, when = self.report_of(smsid, now)
                if word not in FINAL_WORDS:
                    continue
                data = {
                    "smsid": smsid,
                    "datum": self._local(when).strftime("%Y%m%d%H%M%S"),
                    "status": word,
                    "referentie": self.by_id[smsid][0].reference,
                }
                note = {"data": data, "records": []}
                self.notifications[smsid] = note
                self._push(note)
            for note in self.notifications.values():
                if self._due_for_redelivery(note, now):
                    self._push(note)

    def _due_for_redelivery(self, note: dict[str, Any], now: float) -> bool:
        last = note["records"][-1]
        finished = "status" in last or "error" in last
        return (
            finished
            and not _acknowledged(note)
            and len(note["records"]) < self.push_attempts
            and now >= last["time"] + self.push_retry_delay
        )

    def _push(self, note: dict[str, Any]) -> None:
        record = self.push(self.callback_url, dict(note["data"]), method="GET")
        record["attempt"] = len(note["records"]) + 1
        note["records"].append(record)

    # -- endpoints -------------------------------------------------------------------------

    def gateway(self, request: SimRequest) -> SimResponse:
        params = _params(request)
        try:
            if self.maintenance:
                raise Refusal("150")
            self._authenticate(params, request.faults)
            action = params.get("action", "").strip().lower()
            handler = {
                "": self._send,
                "credits": self._credits,
                "verwijderbericht": self._remove_message,
                "verwijderoutbox": self._empty_outbox,
                "rapport": self._reports,
            }.get(action)
            if handler is None:
                raise Refusal("120")
            return _text(handler(params, request.faults))
        except Refusal as refusal:
            return _text(str(refusal))

    def status_page(self, request: SimRequest) -> SimResponse:
        params = _params(request)
        if self.maintenance:
            return _text("ERROR 150")
        smsid = params.get("smsid", "").strip()
        if not smsid:
            return _text("ERROR 123")
        if not smsid.isdigit():
            return _text("ERROR 124")
        word, when = self.report_of(smsid)
        with_date = "ja" in (params.get("datum", "").lower(), params.get("date", "").lower())
        if with_date and word != "NONE" and when is not None:
            return _text(f"{word} {self._local(when).strftime('%d/%m/%Y %H:%M:%S')}")
        return _text(word)

    # -- gateway.php actions ---------------------------------------------------------------

    def _authenticate(self, params: dict[str, str], faults: dict[str, Any]) -> None:
        user = params.get("klantuser", "").strip()
        password = params.get("klantpwd", "").strip()
        if not user:
            raise Refusal("100")
        if not password:
            raise Refusal("101")
        if faults.get("auth_failure") or user != self.user:
            raise Refusal("104")
        if password != self.password and password.lower() != _sha1(self.password):
            raise Refusal("104")
        if self.blocked:
            raise Refusal(self.blocked)

    def _send(self, params: dict[str, str], faults: dict[str, Any]) -> str:
        text = params.get("bericht", "")
        if not text.strip():
            raise Refusal("102")
        destination = params.get("naar", params.get("to", "")).strip()
        if not destination:
            raise Refusal("103")
        sender = self._sender(params.get("afzender", ""))
        group = ""
        if destination.lower() == "groep":
            group = params.get("groep", "")
            numbers = self._group(group)
        else:
            numbers = self._numbers(destination, faults)
        parts = self._parts(text, params.get("type", "").strip().lower() == "long", numbers)
        now = self.now()
        due = self._schedule(params.get("datum", ""), now)
        cost = Decimal(parts * len(numbers))
        if faults.get("credit_exhausted") or self.credits < cost:
            raise Refusal("108")
        if params.get("test", "").strip().lower() == "ja":
            return "OK"
        self.credits -= cost
        ids = self._accept(params, text, sender, group, numbers, parts, now, due)
        wants_ids = params.get("delivery", "").lower() == "ja" or (
            due is not None and params.get("outboxid", "").lower() == "ja"
        )
        return f"OK {','.join(ids)}" if wants_ids else "OK"

    def _accept(
        self,
        params: dict[str, str],
        text: str,
        sender: str,
        group: str,
        numbers: list[str],
        parts: int,
        now: float,
        due: float | None,
    ) -> list[str]:
        """Record the accepted messages; one id per number, or one for a whole group."""
        ids: list[str] = []
        for index, number in enumerate(numbers):
            if not group or index == 0:
                ids.append(self._new_id())
            message = SimMessage(
                message_id=ids[-1],
                number=number,
                text=text,
                sender=sender,
                parts=parts,
                group=group,
                reference=params.get("referentie", "")[:75],
                submitted_at=now,
                due_at=now if due is None else max(now, due),
                scheduled=due is not None and due > now,
                outbox_id=ids[-1] if due is not None else "",
                email_confirmation=params.get("emailen", "").lower() != "nee",
                logging=params.get("logging", ""),
            )
            self.messages.append(message)
            self.by_id.setdefault(ids[-1], []).append(message)
        return ids

    def _sender(self, sender: str) -> str:
        if not sender.strip():
            raise Refusal("109")
        if sender.isdigit():
            raise Refusal("110")
        if len(sender) > 12:
            raise Refusal("111")
        plain = sender[1:] if sender.startswith("+") else sender
        if not (plain.isascii() and plain.isalnum()) or (
            sender.startswith("+") and not plain.isdigit()
        ):
            raise Refusal("113")
        if sender in self.blocked_senders:
            raise Refusal("117")
        return sender

    def _group(self, name: str) -> list[str]:
        if name not in self.groups:
            raise Refusal("125")
        if not self.groups[name]:
            raise Refusal("126")
        return list(self.groups[name])

    def _numbers(self, destination: str, faults: dict[str, Any]) -> list[str]:
        rejected = {_digits(n) for n in faults.get("reject_numbers") or ()}
        numbers = [n.strip() for n in destination.split(",") if n.strip()]
        if not numbers:
            raise Refusal("103")
        for number in numbers:
            if not number.isdigit() or not 8 <= len(number) <= 15 or number in rejected:
                raise Refusal("106")
            if number.startswith("0"):
                raise Refusal("112")
            if any(number.startswith(p) for p in self.blocked_countries):
                raise Refusal("114")
            if self.countries is not None and not any(number.startswith(p) for p in self.countries):
                raise Refusal("107")
        return numbers

    def _parts(self, text: str, long: bool, numbers: list[str]) -> int:
        info = analyze(text)
        units = len(text) if info.is_unicode else info.units
        if units <= SINGLE_PART:
            return 1
        if not long:
            raise Refusal("105")
        parts = math.ceil(units / LONG_PART)
        if parts > MAX_PARTS:
            raise Refusal("118")
        if any(n.startswith(p) for n in numbers for p in self.no_long_countries):
            raise Refusal("119")
        return parts

    def _schedule(self, value: str, now: float) -> float | None:
        value = value.strip()
        if not value:
            return None
        try:
            when = datetime.strptime(value, "%Y%m%d%H%M").replace(tzinfo=self.tz).timestamp()
        except ValueError:
            raise Refusal("121") from None
        if len(value) != 12 or when < now - SCHEDULE_TOLERANCE:
            raise Refusal("121")
        return when

    def _credits(self, params: dict[str, str], faults: dict[str, Any]) -> str:
        return _amount(self.credits)

    def _remove_message(self, params: dict[str, str], faults: dict[str, Any]) -> str:
        outbox_id = params.get("id", "").strip()
        number = params.get("naar", params.get("to", "")).strip()
        now = self.now()
        if outbox_id:
            found = [m for m in self.by_id.get(outbox_id, []) if self._in_outbox(m, now)]
        elif number:
            found = [m for m in self.messages if m.number == number and self._in_outbox(m, now)]
        else:
            found = []
        return self._remove(found, now)

    def _empty_outbox(self, params: dict[str, str], faults: dict[str, Any]) -> str:
        now = self.now()
        return self._remove([m for m in self.messages if self._in_outbox(m, now)], now)

    def _remove(self, messages: list[SimMessage], now: float) -> str:
        if not messages:
            raise Refusal("122")
        for message in messages:
            message.removed_at = now
            self.credits += message.parts
        return "OK"

    def _reports(self, params: dict[str, str], faults: dict[str, Any]) -> str:
        count = params.get("aantal", "").strip()
        if not count:
            raise Refusal("123")
        if not count.isdigit() or int(count) < 1:
            raise Refusal("124")
        now = self.now()
        lines = []
        for smsid, members in self.by_id.items():
            word, when = self.report_of(smsid, now)
            if word in FINAL_WORDS and when is not None:
                stamp = self._local(when).strftime("%d/%m/%Y %H:%M:%S")
                number = "groep" if members[0].group else members[0].number
                lines.append((when, f"{smsid};{number};{word};{stamp};{members[0].reference}"))
        lines.sort(key=lambda item: item[0])
        chosen = [line for _, line in lines[-int(count) :]]
        return "\n".join(chosen) if chosen else "NONE"

    # -- helpers ---------------------------------------------------------------------------

    def _new_id(self) -> str:
        value = str(self._next_id)
        self._next_id += 1
        return value

    def _local(self, when: float | None) -> datetime:
        return datetime.fromtimestamp(when if when is not None else self.now(), self.tz)


def _params(request: SimRequest) -> dict[str, str]:
    """Query (and form body) parameters by lower-cased name; a repeated name: the last."""
    pairs = list(request.query)
    if request.method == "POST" and request.body:
        pairs += urllib.parse.parse_qsl(request.text, keep_blank_values=True)
    return {key.strip().lower(): value for key, value in pairs}


def _text(body: str) -> SimResponse:
    return SimResponse(200, body, "text/html; charset=utf-8")


def _acknowledged(note: dict[str, Any]) -> bool:
    return any(record.get("status") == 200 for record in note["records"])


def _sha1(password: str) -> str:
    return hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest()


def _digits(number: Any) -> str:
    return "".join(c for c in str(number) if c.isdigit())


def _amount(value: Decimal) -> str:
    return str(value.quantize(Decimal(1))) if value == value.to_integral() else str(value)
