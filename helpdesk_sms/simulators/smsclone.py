"""An smsclone.com gateway on 127.0.0.1, speaking its document's protocol.

Endpoints (GET, query string, plain-text replies):

* ``/api/sms/sendsms`` (normal route), ``/api/sms/dnd-route`` and ``/api/sms/dnd-fallback``
  — ``username``, ``password``, ``sender``, ``recipient`` (comma-separated), ``message``.
  Answers ``TG00-MESSAGE PROCESSED:0000|2348012345678|<25-digit id>|SENT|MESSAGE SENT TO
  PROVIDER,3333|…|DND_REJECTED|DND_REJECTED_NUMBER`` — one entry per number — or a batch
  error such as ``TG11-Invalid Authentication Credentials``.
* ``/api/sms/balance`` — ``username``, ``password`` (``balance=true`` accepted); answers a
  bare decimal such as ``996.00``. A send path with ``balance=true`` (the document's
  parameter 7) answers the balance too and sends nothing.

With ``extra_fields=True`` each entry carries what live replies do after the documented
five fields: ``|MTNNG|NIGERIA\\r\\n|999|0000-00-00 00:00:00`` (network, country with a stray
CR/LF, delivery code, delivery date).

Behaviour the document leaves open, decided here:

* Checks run in this order: TG12 empty username, TG13 empty password, TG11 wrong
  credentials (or the ``auth_failure`` fault), TG16 empty sender, TG18 a
  ``blocked_sender_words`` word in the sender, TG15 empty message, TG19 a
  ``blocked_message_words`` word in the text, TG14 no number at all, TG20 more than
  ``max_recipients`` numbers, TG17 not enough units (or the ``credit_exhausted`` fault).
  A batch error sends and charges nothing.
* Inside a TG00 batch: a number that is not 10–15 digits (national ``0…`` numbers are read
  as ``234…``) or is listed in the ``reject_numbers`` fault is ``2222 REJECTED``. On the
  normal route a number in ``dnd_numbers`` is ``3333 DND_REJECTED``; the DND route sends
  every number as ``0014 DND_SENT``; the fall-back route sends DND numbers as ``0014
  DND_SENT`` and the others as ``0000 SENT``. Rejected numbers get an id (the document's
  example shows one) and cost nothing; they are listed in ``state()["rejected"]``, not in
  ``state()["messages"]`` (which holds what the gateway sent on).
* Units fall by parts × numbers sent (160/153 GSM-7 characters a part, 70/67 UCS-2 units,
  decided from the text), times ``dnd_rate`` (default 2) for numbers sent through the
  DND route.
* The gateway has no delivery-report API. Internally a sent message is ``PENDING`` until
  ``delivery_delay`` seconds after submission (on the simulator's clock), then
  ``DELIVERED`` (``UNDELIVERED`` for a number in ``undeliverable``): visible in
  :meth:`SmscloneSimulator.state` only.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, ClassVar

from ..text import analyze
from .base import SimRequest, SimResponse, Simulator

#: The document's batch codes and words.
BATCH_MESSAGES: dict[str, str] = {
    "TG00": "MESSAGE PROCESSED",
    "TG11": "Invalid Authentication Credentials",
    "TG12": "Empty Username",
    "TG13": "Empty Password",
    "TG14": "Empty Recipients",
    "TG15": "Empty Message",
    "TG16": "Empty SenderID",
    "TG17": "Not Enough Units Balance",
    "TG18": "Blocked Words Found Sender ID",
    "TG19": "Blocked Words Found in Message Body",
    "TG20": "Recipients above the maximum target",
}

#: Each number's status: code -> (status word, description), as the document lists them.
NUMBER_CODES: dict[str, tuple[str, str]] = {
    "0000": ("SENT", "MESSAGE SENT TO PROVIDER"),
    "2222": ("REJECTED", "MESSAGE REJECTED"),
    "0014": ("DND_SENT", "MESSAGE THROUGH COOPERATE DND ROUTE"),
    "3333": ("DND_REJECTED", "DND_REJECTED_NUMBER"),
}

#: The codes of numbers the gateway sends on.
SENT_CODES = frozenset({"0000", "0014"})

#: Send path (lower case) -> route name.
ROUTE_PATHS: dict[str, str] = {
    "/api/sms/sendsms": "normal",
    "/api/sms/dnd-route": "dnd",
    "/api/sms/dnd-fallback": "dnd-fallback",
}

#: Nigerian mobile prefixes (after 234) -> the network name live replies carry.
NETWORKS: dict[str, str] = {
    **dict.fromkeys(
        ["703", "706", "803", "806", "810", "813", "814", "816", "903", "906", "913", "916"],
        "MTNNG",
    ),
    **dict.fromkeys(["705", "805", "807", "811", "815", "905", "915"], "GLONG"),
    **dict.fromkeys(
        ["701", "708", "802", "808", "812", "901", "902", "904", "907", "912"], "AIRTELNG"
    ),
    **dict.fromkeys(["809", "817", "818", "908", "909"], "9MOBILENG"),
}

DEFAULT_USER = "demo"
DEFAULT_PASSWORD = "demo"  # noqa: S105 - the simulator's demo login


class SmscloneError(Exception):
    """A batch refused in the protocol's words."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.text = f"{code}-{BATCH_MESSAGES[code]}"
        super().__init__(self.text)


@dataclass
class SimMessage:
    """One number of one processed batch."""

    message_id: str
    #: The number as the gateway received it.
    number: str
    #: The number as the gateway answers it (national ``0…`` read as ``234…``).
    normalized: str
    code: str
    status: str
    description: str
    route: str
    sender: str
    text: str
    parts: int
    cost: str
    batch: int
    submitted_at: float


class SmscloneSimulator(Simulator):
    """The smsclone.com API. Options are keyword arguments; see the module docstring."""

    name = "smsclone"
    routes: ClassVar[dict[tuple[str, str], str]] = {
        **{("GET", path): "send_sms" for path in ROUTE_PATHS},
        ("GET", "/api/sms/balance"): "get_balance",
    }

    def __init__(
        self,
        *,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        api_key: str | None = None,
        balance: Any = "1000",
        dnd_numbers: Any = ("2348099999999",),
        blocked_sender_words: Any = ("MTN", "GLO", "AIRTEL", "CBN"),
        blocked_message_words: Any = ("lottery",),
        max_recipients: int = 100,
        dnd_rate: Any = 2,
        delivery_delay: float = 2.0,
        undeliverable: Any = (),
        extra_fields: bool = False,
        seed: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.user = user
        # smsclone has no API key: its one secret is the password (sms_simulate --api-key-env).
        self.password = api_key if api_key else password
        self.initial_balance = Decimal(str(balance))
        self.dnd_numbers = {_normalize(n) for n in dnd_numbers}
        self.blocked_sender_words = [str(w) for w in blocked_sender_words]
        self.blocked_message_words = [str(w) for w in blocked_message_words]
        self.max_recipients = int(max_recipients)
        self.dnd_rate = Decimal(str(dnd_rate))
        self.delivery_delay = float(delivery_delay)
        self.undeliverable = {_normalize(n) for n in undeliverable}
        self.extra_fields = bool(extra_fields)
        self.random = random.Random(seed)
        self.reset_state()

    # -- state -----------------------------------------------------------------------------

    def reset_state(self) -> None:
        self.balance = self.initial_balance
        #: Numbers the gateway sent on (SENT, DND_SENT).
        self.messages: list[SimMessage] = []
        #: Numbers it refused inside a processed batch (REJECTED, DND_REJECTED).
        self.rejected: list[SimMessage] = []
        self.batches = 0

    def snapshot(self) -> dict[str, Any]:
        now = self.now()
        messages = []
        for message in self.messages:
            delivery, when = self.delivery_of(message, now)
            messages.append({**asdict(message), "delivery": delivery, "delivered_at": when})
        return {
            "messages": messages,
            "rejected": [asdict(m) for m in self.rejected],
            "balances": {"units": _amount(self.balance)},
            "dnd_numbers": sorted(self.dnd_numbers),
        }

    def secrets(self) -> list[str]:
        return [self.password]

    def delivery_of(
        self, message: SimMessage, now: float | None = None
    ) -> tuple[str, float | None]:
        """Where a message is on the network (no API reports it): ``PENDING`` until done."""
        now = self.now() if now is None else now
        done_at = message.submitted_at + self.delivery_delay
        if now < done_at:
            return "PENDING", None
        return ("UNDELIVERED" if message.normalized in self.undeliverable else "DELIVERED"), done_at

    # -- endpoints -------------------------------------------------------------------------

    def send_sms(self, request: SimRequest) -> SimResponse:
        try:
            self._authenticate(request)
            if (request.param("balance") or "").strip().lower() == "true":
                return _text(_amount(self.balance))
            messages = self._process(request, ROUTE_PATHS[request.path.lower()])
        except SmscloneError as exc:
            return _text(exc.text)
        entries = ",".join(self._entry(m) for m in messages)
        return _text(f"TG00-{BATCH_MESSAGES['TG00']}:{entries}")

    def get_balance(self, request: SimRequest) -> SimResponse:
        try:
            self._authenticate(request)
        except SmscloneError as exc:
            return _text(exc.text)
        return _text(_amount(self.balance))

    # -- a send request, checked in the gateway's order ------------------------------------

    def _authenticate(self, request: SimRequest) -> None:
        user = (request.param("username") or "").strip()
        password = request.param("password") or ""
        if not user:
            raise SmscloneError("TG12")
        if not password:
            raise SmscloneError("TG13")
        if request.faults.get("auth_failure") or (user, password) != (self.user, self.password):
            raise SmscloneError("TG11")

    def _process(self, request: SimRequest, route: str) -> list[SimMessage]:
        sender = (request.param("sender") or "").strip()
        if not sender:
            raise SmscloneError("TG16")
        if _contains(sender, self.blocked_sender_words):
            raise SmscloneError("TG18")
        text = request.param("message") or ""
        if not text.strip():
            raise SmscloneError("TG15")
        if _contains(text, self.blocked_message_words):
            raise SmscloneError("TG19")
        numbers = [n.strip() for n in (request.param("recipient") or "").split(",") if n.strip()]
        if not numbers:
            raise SmscloneError("TG14")
        if len(numbers) > self.max_recipients:
            raise SmscloneError("TG20")
        parts = analyze(text).parts
        rejected = {_normalize(n) for n in request.faults.get("reject_numbers") or ()}
        verdicts = [self._verdict(n, route, rejected) for n in numbers]
        costs = [self._cost(code, parts) for code in verdicts]
        if request.faults.get("credit_exhausted") or sum(costs, Decimal(0)) > self.balance:
            raise SmscloneError("TG17")
        self.balance -= sum(costs, Decimal(0))
        self.batches += 1
        now = self.now()
        processed = []
        for number, code, cost in zip(numbers, verdicts, costs, strict=True):
            status, description = NUMBER_CODES[code]
            message = SimMessage(
                message_id=self._new_id(),
                number=number,
                normalized=_normalize(number),
                code=code,
                status=status,
                description=description,
                route=route,
                sender=sender,
                text=text,
                parts=parts,
                cost=_amount(cost),
                batch=self.batches,
                submitted_at=now,
            )
            (self.messages if code in SENT_CODES else self.rejected).append(message)
            processed.append(message)
        return processed

    def _verdict(self, number: str, route: str, rejected: set[str]) -> str:
        """The number's status code on ``route``."""
        normalized = _normalize(number)
        if not (normalized.isdigit() and 10 <= len(normalized) <= 15) or normalized in rejected:
            return "2222"
        if route == "dnd":
            return "0014"
        if normalized in self.dnd_numbers:
            return "0014" if route == "dnd-fallback" else "3333"
        return "0000"

    def _cost(self, code: str, parts: int) -> Decimal:
        if code == "0000":
            return Decimal(parts)
        if code == "0014":
            return parts * self.dnd_rate
        return Decimal(0)

    def _entry(self, message: SimMessage) -> str:
        fields = [
            message.code,
            message.normalized,
            message.message_id,
            message.status,
            message.description,
        ]
        if self.extra_fields:
            country = "NIGERIA" if message.normalized.startswith("234") else "UNKNOWN"
            fields += [
                NETWORKS.get(message.normalized[3:6], "UNKNOWN"),
                country + "\r\n",  # the stray line break live replies carry
                "999",
                "0000-00-00 00:00:00",
            ]
        return "|".join(fields)

    def _new_id(self) -> str:
        return "".join(self.random.choice("0123456789") for _ in range(25))


def _normalize(number: Any) -> str:
    """Digits as the gateway reads them: a national ``0803…`` becomes ``234803…``."""
    text = "".join(str(number).split()).lstrip("+")
    if len(text) == 11 and text.startswith("0") and text.isdigit():
        return "234" + text[1:]
    return text


def _contains(text: str, words: list[str]) -> bool:
    lowered = text.lower()
    return any(word.lower() in lowered for word in words if word)


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _text(body: str) -> SimResponse:
    return SimResponse(200, body, "text/html; charset=UTF-8")
