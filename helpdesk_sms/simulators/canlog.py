"""A Canlog gateway (``/api/mt/`` panel) on 127.0.0.1, speaking its document's protocol.

Endpoints (GET, query string, JSON replies in the document's shapes):

* ``/api/mt/SendSMS`` — ``APIKey`` or ``user`` + ``password``; ``senderid``, ``channel``,
  ``DCS`` (0, or 8 for Unicode), ``flashsms`` (0/1), ``number`` (comma-separated), ``text``,
  ``route``, ``schedtime`` (``2015/12/31 22:35:00 PM``), ``groupid``; DLT ``dlttemplateid``
  and ``peid`` are recorded (``dlt_params`` names others; ``dlt_templates`` lists the
  registered template ids, another answers 024). Answers
  ``{"ErrorCode":"000","ErrorMessage":"Done","JobId":…,"MessageData":[{"Number":…,
  "MessageId":…}]}``.
* ``/api/mt/GetDelivery`` — ``jobid`` with or without the document's surrounding quotes.
* ``/api/mt/GetBalance`` — ``User``/``Password`` (as the document writes them) or ``APIKey``;
  answers ``"Balance":"Promo:9988|Trans:500"``.

Parameter names are matched case-insensitively, like the real panels. Errors carry the
document's codes with ``JobId``/``MessageData`` (or ``DeliveryReports``/``Balance``) null.

Behaviour the document leaves open, decided here:

* A request with any invalid number (not 10–15 digits, or listed in the ``reject_numbers``
  fault) is refused whole with 013: the reply format has no per-number status.
* ``groupid`` expands to the provider-side group's members; numbers given beside it are
  sent too (the document's group example sends both). An unknown group answers 017.
* A ``schedtime`` that does not parse, or lies more than five minutes in the past, is 019.
  The hour may be 24-hour with a redundant AM/PM marker (the document's ``22:35:00 PM``)
  or 12-hour with the marker.
* Credits are per channel and fall by parts × numbers on acceptance: 160/153 characters a
  part for DCS=0, 70/67 for DCS=8. Not enough credit answers 021 and sends nothing. A
  channel other than the balances' (``Trans``, ``Promo``; any case) is 006.
* With the ``route_ids`` option (the account's route ids), a ``route`` not among them is 006
  ("error: invalid route …"); without it any route is taken. Each message records its
  channel and route.
* Each message is ``Pending`` until ``delivery_delay`` seconds after it is due (on the
  simulator's clock), then ``Delivered`` or, for a number in ``undeliverable``,
  ``Undelivered``; a message scheduled for later is ``Scheduled`` until due.
  ``DeliveryDate`` is naive ISO time in the simulator's ``timezone``, null until final.
"""

from __future__ import annotations

import math
import random
import re
import string
import zoneinfo
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from ..text import UCS2_MULTI, UCS2_SINGLE, analyze
from .base import SimRequest, SimResponse, Simulator, json_response

DEFAULT_API_KEY = "canlog-demo-key"

#: The document's error table (code -> description).
MESSAGES: dict[str, str] = {
    "000": "Done",
    "001": "login details cannot be blank",
    "003": "sender cannot be blank",
    "004": "message text cannot be blank",
    "005": "message data cannot be blank",
    "006": "error: generic error description",
    "007": "username or password is invalid",
    "008": "account not active",
    "009": "account locked, contact your account manager",
    "010": "api restriction",
    "011": "ip address restriction",
    "012": "invalid length of message text",
    "013": "mobile numbers not valid",
    "014": "account locked due to spam message contact support",
    "015": "senderid not valid",
    "017": "groupid not valid",
    "018": "multi message to group is not supported",
    "019": "schedule date is not valid",
    "020": "message or mobile number cannot be blank",
    "021": "insufficient credits",
    "022": "invalid jobid",
    "023": "parameter missing",
    "024": "invalid template or template mismatch",
    "025": "{Field} can not be blank or empty",
    "026": "invalid date range",
    "027": "invalid optin user",
}

_NUMBER = re.compile(r"\+?\d{10,15}")
_SCHEDTIME = re.compile(
    r"\s*(\d{4})[/-](\d{1,2})[/-](\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?\s*"
)
_ID_ALPHABET = string.ascii_letters + string.digits
#: How far in the past a schedtime may lie before it is refused (clock skew).
SCHEDULE_TOLERANCE = 300.0


class CanlogError(Exception):
    """A refusal in the protocol's words: the code and, for 006/025, the detail."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        text = MESSAGES[code]
        if code == "025":
            text = text.replace("{Field}", detail or "field")
        elif code == "006" and detail:
            text = f"error: {detail}"
        self.text = text
        super().__init__(f"{code} {text}")


@dataclass
class SimMessage:
    """One number of one accepted job."""

    message_id: str
    job_id: str
    number: str
    text: str
    sender: str
    channel: str
    route: str
    dcs: int
    flash: bool
    parts: int
    group_id: str
    submitted_at: float
    due_at: float
    scheduled: bool
    template_id: str
    entity_id: str


class CanlogSimulator(Simulator):
    """The Canlog panel. Options are keyword arguments; see the module docstring."""

    name = "canlog"
    routes: ClassVar[dict[tuple[str, str], str]] = {
        ("GET", "/api/mt/sendsms"): "send_sms",
        ("GET", "/api/mt/getdelivery"): "get_delivery",
        ("GET", "/api/mt/getbalance"): "get_balance",
    }

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        user: str = "demo",
        password: str = "demo",  # noqa: S107 - the document's demo login
        balances: dict[str, Any] | None = None,
        groups: dict[str, list[str]] | None = None,
        delivery_delay: float = 2.0,
        undeliverable: Any = (),
        timezone: str = "Asia/Kolkata",
        dlt_templates: Any = None,
        route_ids: Any = None,
        first_job_id: int = 20047,
        seed: int | None = None,
        dlt_params: tuple[str, str] = ("dlttemplateid", "peid"),
        **options: Any,
    ) -> None:
        super().__init__(**options)
        #: The parameter names of the DLT template id and entity id (panels differ).
        self.dlt_params = (str(dlt_params[0]), str(dlt_params[1]))
        self.api_key = api_key
        self.user = user
        self.password = password
        self.initial_balances = {
            k: Decimal(str(v)) for k, v in (balances or {"Promo": 9988, "Trans": 500}).items()
        }
        self.groups = {
            str(k): [_digits(n) for n in v]
            for k, v in (
                groups if groups is not None else {"7": ["919812345678", "919812345679"]}
            ).items()
        }
        self.delivery_delay = float(delivery_delay)
        self.undeliverable = {_digits(n) for n in undeliverable}
        self.tz = zoneinfo.ZoneInfo(timezone)
        #: Registered DLT template ids; when set, SendSMS needs one of them (else 024).
        self.dlt_templates = None if dlt_templates is None else {str(t) for t in dlt_templates}
        #: The account's route ids; when set, SendSMS with another route answers 006.
        self.route_ids = None if route_ids is None else {str(r) for r in route_ids}
        self.first_job_id = int(first_job_id)
        self.random = random.Random(seed)
        self.reset_state()

    # -- state -----------------------------------------------------------------------------

    def reset_state(self) -> None:
        self.balances: dict[str, Decimal] = dict(self.initial_balances)
        self.messages: list[SimMessage] = []
        self.jobs: dict[str, list[SimMessage]] = {}
        self._next_job = self.first_job_id

    def snapshot(self) -> dict[str, Any]:
        now = self.now()
        messages = []
        for message in self.messages:
            word, when = self.status_of(message, now)
            messages.append({**asdict(message), "status": word, "delivery_date": when})
        return {
            "messages": messages,
            "jobs": {job: [m.message_id for m in items] for job, items in self.jobs.items()},
            "balances": {k: _amount(v) for k, v in self.balances.items()},
            "groups": {k: list(v) for k, v in self.groups.items()},
        }

    def secrets(self) -> list[str]:
        return [self.api_key, self.password]

    def status_of(self, message: SimMessage, now: float | None = None) -> tuple[str, str | None]:
        """(DeliveryStatus word, DeliveryDate or None) of a message at ``now``."""
        now = self.now() if now is None else now
        if now < message.due_at:
            return "Scheduled", None
        done_at = message.due_at + self.delivery_delay
        if now < done_at:
            return "Pending", None
        word = "Undelivered" if message.number in self.undeliverable else "Delivered"
        when = datetime.fromtimestamp(done_at, self.tz).replace(tzinfo=None, microsecond=0)
        return word, when.isoformat()

    # -- endpoints -------------------------------------------------------------------------

    def send_sms(self, request: SimRequest) -> SimResponse:
        try:
            self._authenticate(request)
            job = self._accept(request)
        except CanlogError as exc:
            return json_response(
                {
                    "ErrorCode": exc.code,
                    "ErrorMessage": exc.text,
                    "JobId": None,
                    "MessageData": None,
                }
            )
        return json_response(
            {
                "ErrorCode": "000",
                "ErrorMessage": "Done",
                "JobId": job,
                "MessageData": [
                    {"Number": m.number, "MessageId": m.message_id} for m in self.jobs[job]
                ],
            }
        )

    def get_delivery(self, request: SimRequest) -> SimResponse:
        try:
            self._authenticate(request)
            job = (request.param("jobid") or "").strip().strip("\"'").strip()
            if not job:
                raise CanlogError("025", "jobid")
            if job not in self.jobs:
                raise CanlogError("022")
        except CanlogError as exc:
            return json_response(
                {
                    "ErrorCode": exc.code,
                    "ErrorMessage": exc.text,
                    "MessageId": None,
                    "DeliveryReports": None,
                }
            )
        now = self.now()
        reports = []
        for message in self.jobs[job]:
            word, when = self.status_of(message, now)
            reports.append(
                {"MessageId": message.message_id, "DeliveryStatus": word, "DeliveryDate": when}
            )
        return json_response(
            {
                "ErrorCode": "0",
                "ErrorMessage": "Done",
                "MessageId": None,
                "DeliveryReports": reports,
            }
        )

    def get_balance(self, request: SimRequest) -> SimResponse:
        try:
            self._authenticate(request)
        except CanlogError as exc:
            return json_response({"ErrorCode": exc.code, "ErrorMessage": exc.text, "Balance": None})
        text = "|".join(f"{k}:{_amount(v)}" for k, v in self.balances.items())
        return json_response({"ErrorCode": "0", "ErrorMessage": "Done", "Balance": text})

    # -- SendSMS validation, in the panel's order ------------------------------------------

    def _authenticate(self, request: SimRequest) -> None:
        api_key = (request.param("apikey") or "").strip()
        user = (request.param("user") or "").strip()
        password = request.param("password") or ""
        if not api_key and not (user and password):
            raise CanlogError("001")
        if request.faults.get("auth_failure"):
            raise CanlogError("007")
        if api_key:
            if api_key != self.api_key:
                raise CanlogError("007")
        elif (user, password) != (self.user, self.password):
            raise CanlogError("007")

    def _accept(self, request: SimRequest) -> str:
        sender = (request.param("senderid") or "").strip()
        if not sender:
            raise CanlogError("003")
        if len(sender) > 6 or not (sender.isascii() and sender.isalpha()):
            raise CanlogError("015")
        text = request.param("text") or ""
        if not text.strip():
            raise CanlogError("004")
        numbers = self._numbers(request)
        channel = self._channel(request.param("channel") or "")
        route = (request.param("route") or "").strip()
        if self.route_ids is not None and route and route not in self.route_ids:
            raise CanlogError("006", f"invalid route {route}")
        dcs = self._flag(request.param("dcs"), {"0": 0, "8": 8}, "invalid DCS value")
        flash = self._flag(request.param("flashsms"), {"0": False, "1": True}, "invalid flashsms")
        now = self.now()
        due = self._schedule(request.param("schedtime") or "", now)
        template_id = (request.param(self.dlt_params[0]) or "").strip()
        if self.dlt_templates is not None and template_id not in self.dlt_templates:
            raise CanlogError("024")
        parts = parts_for(text, dcs)
        cost = Decimal(parts * len(numbers))
        if request.faults.get("credit_exhausted") or self.balances[channel] < cost:
            raise CanlogError("021")
        self.balances[channel] -= cost
        job = str(self._next_job)
        self._next_job += 1
        self.jobs[job] = []
        for number in numbers:
            message = SimMessage(
                message_id=self._new_id(),
                job_id=job,
                number=number,
                text=text,
                sender=sender,
                channel=channel,
                route=route,
                dcs=dcs,
                flash=flash,
                parts=parts,
                group_id=(request.param("groupid") or "").strip(),
                submitted_at=now,
                due_at=max(now, due),
                scheduled=due > now,
                template_id=template_id,
                entity_id=(request.param(self.dlt_params[1]) or "").strip(),
            )
            self.messages.append(message)
            self.jobs[job].append(message)
        return job

    def _numbers(self, request: SimRequest) -> list[str]:
        """The destinations: the listed numbers plus the group's members, once each."""
        listed = [n.strip() for n in (request.param("number") or "").split(",") if n.strip()]
        group_id = (request.param("groupid") or "").strip()
        if not listed and not group_id:
            raise CanlogError("020")
        members: list[str] = []
        if group_id:
            if group_id not in self.groups:
                raise CanlogError("017")
            members = self.groups[group_id]
        rejected = {_digits(n) for n in request.faults.get("reject_numbers") or ()}
        for number in listed:
            if not _NUMBER.fullmatch(number) or _digits(number) in rejected:
                raise CanlogError("013")
        numbers = list(dict.fromkeys([_digits(n) for n in listed] + members))
        if not numbers:
            raise CanlogError("020")
        return numbers

    def _channel(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise CanlogError("025", "channel")
        for channel in self.balances:
            if channel.lower() == value.lower():
                return channel
        raise CanlogError("006", f"invalid channel {value}")

    @staticmethod
    def _flag(value: str | None, allowed: dict[str, Any], problem: str) -> Any:
        value = (value or "").strip() or "0"
        if value not in allowed:
            raise CanlogError("006", problem)
        return allowed[value]

    def _schedule(self, value: str, now: float) -> float:
        """The Unix time a schedtime names (``now`` when absent)."""
        if not value.strip():
            return now
        when = parse_schedtime(value, self.tz)
        if when is None or when < now - SCHEDULE_TOLERANCE:
            raise CanlogError("019")
        return when

    def _new_id(self) -> str:
        return "".join(self.random.choice(_ID_ALPHABET) for _ in range(20))


def parse_schedtime(value: str, tz: zoneinfo.ZoneInfo) -> float | None:
    """``2015/12/31 22:35:00 PM`` (24-hour plus marker, or 12-hour) -> Unix time, or None."""
    match = _SCHEDTIME.fullmatch(value)
    if not match:
        return None
    year, month, day, hour, minute = (int(g) for g in match.groups()[:5])
    second = int(match.group(6) or 0)
    marker = (match.group(7) or "").upper()
    if marker and hour <= 12:
        if marker == "AM" and hour == 12:
            hour = 0
        elif marker == "PM" and 0 < hour < 12:
            hour += 12
        elif marker == "PM" and hour == 0:
            return None
    elif marker == "AM":
        return None  # "22:35:00 AM" contradicts itself
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=tz).timestamp()
    except ValueError:
        return None


def parts_for(text: str, dcs: int) -> int:
    """Parts the gateway bills: UCS-2 sizes when DCS=8, GSM-7 sizes otherwise."""
    info = analyze(text)
    if dcs == 8 and not info.is_unicode:
        units = len(text)  # GSM characters are all in the BMP: one UCS-2 unit each
        return 1 if units <= UCS2_SINGLE else math.ceil(units / UCS2_MULTI)
    if dcs != 8 and info.is_unicode:
        # Sent as 7-bit anyway (the handset shows garbage): one septet a character.
        return 1 if len(text) <= 160 else math.ceil(len(text) / 153)
    return info.parts


def _digits(number: str) -> str:
    return "".join(c for c in str(number) if c.isdigit())


def _amount(value: Decimal) -> str:
    return str(value.quantize(Decimal(1))) if value == value.to_integral() else str(value)
