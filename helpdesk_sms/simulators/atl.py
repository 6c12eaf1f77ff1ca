"""An ATL InfoTech bulk SMS gateway (atlsms.az) on 127.0.0.1, speaking its document's protocol.

One endpoint, ``POST /bulksms/api`` (the ``path`` option), with an XML body
``<request><head>…</head><body>…</body>…</request>``; the ``<operation>`` decides:

* ``submit`` — ``login``, ``password``, ``title``, ``bulkmessage`` (bulk), ``scheduled``
  (``now`` or ``YYYY-MM-DD HH:MM:SS`` in the simulator's ``timezone``), ``isbulk``
  (``true``/``false``), ``controlid``; one ``<body>`` per number with ``<msisdn>`` and, when
  not bulk, ``<message>``. Answers ``<responsecode>000</responsecode>`` and
  ``<body><taskid>4837</taskid></body>``.
* ``report`` — ``taskid``; answers the counters ``pending``, ``delivered``, ``failed``,
  ``removed`` and ``error``.
* ``detailedreport`` — ``taskid``; answers one ``<body><msisdn>…</msisdn><status>N</status>
  </body>`` per number (1 queued, 2 delivered, 3 failed, 4 removed, 5 system error). The
  document leaves this reply out; this shape is the simulator's (and the adapter's) choice.
* ``units`` — answers ``<body><units>234</units></body>``.

Errors answer only ``<head><responsecode>NNN</responsecode></head>``, as the document's table
implies. Requests are parsed only with defusedxml; a body that is not well-formed XML (or
declares a DTD or entities) is ``100 Bad request``.

Behaviour the document leaves open, decided here:

* A ``controlid`` already used by an accepted task answers 002 — with that task's
  ``<taskid>`` when ``duplicate_taskid`` is true (default) — and sends and charges nothing.
  Refused requests do not use up their controlid. A request without one is accepted.
* Checks, in the document's code order: operation (101/102), login (103), password (104),
  credentials or the ``auth_failure`` fault (105); for a submit, the controlid (002),
  title (106; 107 when longer than 11 characters or not printable ASCII; 235 when
  ``titles`` is set and does not list it), scheduled (111/112; 113 more than five
  minutes in the past), isbulk (114/115), bulk message (116), bodies (117: none, a
  number that is not 10–15 digits, a number in the ``reject_numbers`` fault, or an
  individual body without a message), units (118, or the ``credit_exhausted`` fault).
* Units fall by the parts of each message on acceptance (GSM-7 160/153, UCS-2 70/67, the
  coding chosen from the text: the protocol has no coding parameter).
* A task's reports answer 001 (not ready, no ``<body>``) for ``report_delay`` seconds after
  it was submitted. Each message is queued (1) until ``delivery_delay`` seconds after its
  scheduled time, then delivered (2) or, for a number in ``undeliverable``, failed (3).
* :meth:`AtlSimulator.cancel_task` (or ``POST /_sim/cancel`` ``{"taskid": …}``) stands in
  for canceling a scheduled task in ATL's web panel (the API has no cancel operation): its
  undelivered messages become removed (4), their units are refunded, and the task's
  reports answer 110.
* :meth:`AtlSimulator.queue_replies` (or ``POST /_sim/replies`` ``{"bodies": […]}``) answers
  the next requests with the given bodies, in order, after processing them: the ``body``
  fault for exchanges of several requests (a summary report, then a detailed one).
* ``api_key`` is taken as the password, so ``sms_simulate atl --api-key-env VAR`` works.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405 - used only to write XML

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException

from ..text import analyze
from .base import MASK, SimRequest, SimResponse, Simulator, json_response

API_PATH = "/bulksms/api"
DEFAULT_USER = "demo"
DEFAULT_PASSWORD = "demo"  # noqa: S105 - the simulator's demo login

#: The document's response codes (code -> description).
MESSAGES: dict[str, str] = {
    "000": "Operation is successfull",
    "001": "Processing, report is not ready",
    "002": "Duplicate <control_id> (it must be unique for each task)",
    "100": "Bad request",
    "101": "Operation type is empty",
    "102": "Invalid operation",
    "103": "Login is empty",
    "104": "Password is empty",
    "105": "Invalid authentification information",
    "106": "Title is empty",
    "107": "Invalid title",
    "108": "Task id is empty",
    "109": "Invalid task id",
    "110": "Task with supplied id is canceled",
    "111": "Scheduled date is empty",
    "112": "Invalid scheduled date",
    "113": "Old scheduled date",
    "114": "isbulk is empty",
    "115": 'Invalid isbulk value, must "true" or "false"',
    "116": "Invalid bulk message",
    "117": "Invalid body",
    "118": "Not enough units",
    "235": "Invalid TITLE please contact Account Manager",
    "2XX": "System error, report to administrator",
    "300": "Internal server error, report to administrator",
}

#: detailedreport status codes and the report counters that count them.
STATUS_WORDS: dict[int, str] = {
    1: "pending",
    2: "delivered",
    3: "failed",
    4: "removed",
    5: "error",
}
OPERATIONS = ("submit", "report", "detailedreport", "units")

_NUMBER = re.compile(r"\d{10,15}")
_SCHEDULED = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?")
_PASSWORD_ELEMENT = re.compile(r"(?is)(<password>)(.*?)(</password>)")
#: How far in the past a scheduled date may lie before it is refused (clock skew).
SCHEDULE_TOLERANCE = 300.0
#: The longest title (GSM alphanumeric sender).
MAX_TITLE = 11
#: Head elements kept as sent (texts); the others are stripped.
_RAW_FIELDS = ("bulkmessage", "message")


class AtlError(Exception):
    """A refusal in the protocol's words: the response code, optionally a body."""

    def __init__(self, code: str, body: dict[str, Any] | None = None) -> None:
        self.code = code
        self.body = body
        super().__init__(f"{code} {MESSAGES.get(code, '')}")


@dataclass
class SimMessage:
    """One number of one accepted task."""

    message_id: str
    task_id: str
    number: str
    text: str
    title: str
    parts: int
    submitted_at: float
    due_at: float
    scheduled: bool


@dataclass
class SimTask:
    """One accepted submit request."""

    task_id: str
    control_id: str
    title: str
    isbulk: bool
    submitted_at: float
    due_at: float
    messages: list[SimMessage] = field(default_factory=list)
    canceled_at: float | None = None


class AtlSimulator(Simulator):
    """The ATL bulk SMS API. Options are keyword arguments; see the module docstring."""

    name = "atl"

    def __init__(
        self,
        *,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        api_key: str | None = None,
        units: int = 1000,
        titles: Any = None,
        delivery_delay: float = 2.0,
        report_delay: float = 1.0,
        undeliverable: Any = (),
        timezone: str = "Asia/Baku",
        first_task_id: int = 4837,
        duplicate_taskid: bool = True,
        path: str = API_PATH,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.user = user
        #: ``api_key`` (``sms_simulate --api-key-env``) is ATL's password under another name.
        self.password = api_key or password
        self.initial_units = int(units)
        #: Titles registered for the account; None accepts any well-formed title.
        self.titles = None if titles is None else {str(t) for t in titles}
        self.delivery_delay = float(delivery_delay)
        self.report_delay = float(report_delay)
        self.undeliverable = {_digits(n) for n in undeliverable}
        self.tz = zoneinfo.ZoneInfo(timezone)
        self.first_task_id = int(first_task_id)
        self.duplicate_taskid = bool(duplicate_taskid)
        self.path = "/" + path.strip("/").lower()
        self.reset_state()

    # -- state -----------------------------------------------------------------------------

    def reset_state(self) -> None:
        self.units = self.initial_units
        self.messages: list[SimMessage] = []
        self.tasks: dict[str, SimTask] = {}
        self.control_ids: dict[str, str] = {}
        #: Bodies to answer the next protocol requests with, in order (see queue_replies).
        self.queued_replies: list[str] = []
        self._next_task = self.first_task_id

    def snapshot(self) -> dict[str, Any]:
        now = self.now()
        messages = []
        for message in self.messages:
            code = self.status_of(message, now)
            messages.append(
                {
                    **message.__dict__,
                    "status": STATUS_WORDS[code],
                    "status_code": code,
                }
            )
        return {
            "messages": messages,
            "tasks": {
                task_id: {
                    "controlid": task.control_id,
                    "title": task.title,
                    "isbulk": task.isbulk,
                    "due_at": task.due_at,
                    "canceled": task.canceled_at is not None,
                    "numbers": [m.number for m in task.messages],
                }
                for task_id, task in self.tasks.items()
            },
            "balances": {"units": str(self.units)},
            "queued_replies": len(self.queued_replies),
        }

    def secrets(self) -> list[str]:
        return [self.password]

    def status_of(self, message: SimMessage, now: float | None = None) -> int:
        """The detailedreport status (1–5) of a message at ``now``."""
        now = self.now() if now is None else now
        done_at = message.due_at + self.delivery_delay
        canceled_at = self.tasks[message.task_id].canceled_at
        if canceled_at is not None and canceled_at < done_at:
            return 4
        if now < done_at:
            return 1
        return 3 if message.number in self.undeliverable else 2

    def cancel_task(self, task_id: str) -> bool:
        """Cancel a task as ATL's web panel would; False when nothing was left to cancel."""
        with self.lock:
            task = self.tasks.get(str(task_id))
            if task is None or task.canceled_at is not None:
                return False
            now = self.now()
            waiting = [m for m in task.messages if self.status_of(m, now) == 1]
            if not waiting:
                return False
            task.canceled_at = now
            self.units += sum(m.parts for m in waiting)
            return True

    def queue_replies(self, *bodies: str) -> None:
        """Answer the next protocol requests with ``bodies``, in order, after processing them.

        Like the ``body`` fault, but for exchanges of several requests (a summary report,
        then a detailed one).
        """
        with self.lock:
            self.queued_replies.extend(str(b) for b in bodies)

    # -- HTTP ------------------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        response = self._answer(request)
        if self.queued_replies and response.status != 404:
            response = SimResponse(200, self.queued_replies.pop(0), response.content_type)
        return response

    def _answer(self, request: SimRequest) -> SimResponse:
        if request.path.lower().rstrip("/") != self.path:
            return SimResponse(404, "Not Found")
        if request.method != "POST":
            return SimResponse(405, "Method Not Allowed", headers={"Allow": "POST"})
        try:
            head, bodies = read_request(request.body)
            operation = head.get("operation", "").lower()
            if not operation:
                raise AtlError("101")
            if operation not in OPERATIONS:
                raise AtlError("102")
            self._authenticate(head, request)
            answer: SimResponse = getattr(self, f"_{operation}")(head, bodies, request)
            return answer
        except AtlError as exc:
            return xml_reply(exc.code, [exc.body] if exc.body else [])

    def control(self, request: SimRequest) -> SimResponse:
        """The base control API plus ``POST /_sim/cancel`` ``{"taskid": "4837"}`` and
        ``POST /_sim/replies`` ``{"bodies": ["<response>…", …]}``."""
        action = (request.method, request.path.rstrip("/").lower())
        if action not in (("POST", "/_sim/cancel"), ("POST", "/_sim/replies")):
            return super().control(request)
        try:
            body = request.json() or {}
            if action[1] == "/_sim/cancel":
                return json_response({"canceled": self.cancel_task(str(body["taskid"]))})
            bodies = body["bodies"]
            if not isinstance(bodies, list):
                raise TypeError("bodies must be a list")
            self.queue_replies(*bodies)
            return json_response({"queued_replies": len(self.queued_replies)})
        except (ValueError, TypeError, KeyError):
            return json_response(
                {"error": 'send {"taskid": "…"} to cancel, {"bodies": […]} to queue replies'},
                status=400,
            )

    def _record(self, request: SimRequest) -> dict[str, Any]:
        """The base record, with the XML's fields as params and the password masked."""
        entry = super()._record(request)
        try:
            head, bodies = read_request(request.body)
        except AtlError:
            head, bodies = {}, []
        params = dict(head)
        numbers = [b.get("msisdn", "") for b in bodies]
        if numbers:
            params["msisdn"] = ",".join(numbers)
        with self.lock:
            entry["params"] = self.mask(params)
            entry["bodies"] = [self.mask(b) for b in bodies]
            entry["xml"] = self.mask_xml(request.text)
        return entry

    def mask_xml(self, text: str) -> str:
        text = _PASSWORD_ELEMENT.sub(lambda m: m.group(1) + MASK + m.group(3), text)
        for secret in sorted((s for s in self.secrets() if s), key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    # -- operations ------------------------------------------------------------------------

    def _authenticate(self, head: dict[str, str], request: SimRequest) -> None:
        login = head.get("login", "")
        password = head.get("password", "")
        if not login:
            raise AtlError("103")
        if not password:
            raise AtlError("104")
        if request.faults.get("auth_failure") or (login, password) != (
            self.user,
            self.password,
        ):
            raise AtlError("105")

    def _submit(
        self, head: dict[str, str], bodies: list[dict[str, str]], request: SimRequest
    ) -> SimResponse:
        control_id = head.get("controlid", "")
        if control_id in self.control_ids:
            task_id = self.control_ids[control_id]
            raise AtlError("002", {"taskid": task_id} if self.duplicate_taskid else None)
        title = self._title(head.get("title", ""))
        now = self.now()
        due = self._scheduled(head.get("scheduled", ""), now)
        bulk = self._isbulk(head.get("isbulk", ""))
        texts = self._texts(bulk, head, bodies, request)
        cost = sum(parts for _, _, parts in texts)
        if request.faults.get("credit_exhausted") or self.units < cost:
            raise AtlError("118")
        self.units -= cost
        task = SimTask(
            task_id=str(self._next_task),
            control_id=control_id,
            title=title,
            isbulk=bulk,
            submitted_at=now,
            due_at=max(now, due),
        )
        self._next_task += 1
        self.tasks[task.task_id] = task
        seen: dict[str, int] = {}
        for number, text, parts in texts:
            seen[number] = seen.get(number, 0) + 1
            suffix = f":{seen[number]}" if seen[number] > 1 else ""
            message = SimMessage(
                message_id=f"{task.task_id}:{number}{suffix}",
                task_id=task.task_id,
                number=number,
                text=text,
                title=title,
                parts=parts,
                submitted_at=now,
                due_at=task.due_at,
                scheduled=due > now,
            )
            task.messages.append(message)
            self.messages.append(message)
        if control_id:
            self.control_ids[control_id] = task.task_id
        return xml_reply("000", [{"taskid": task.task_id}])

    def _report(
        self, head: dict[str, str], bodies: list[dict[str, str]], request: SimRequest
    ) -> SimResponse:
        task = self._task(head)
        counts = dict.fromkeys(STATUS_WORDS.values(), 0)
        now = self.now()
        for message in task.messages:
            counts[STATUS_WORDS[self.status_of(message, now)]] += 1
        return xml_reply("000", [counts])

    def _detailedreport(
        self, head: dict[str, str], bodies: list[dict[str, str]], request: SimRequest
    ) -> SimResponse:
        task = self._task(head)
        now = self.now()
        return xml_reply(
            "000",
            [{"msisdn": m.number, "status": self.status_of(m, now)} for m in task.messages],
        )

    def _units(
        self, head: dict[str, str], bodies: list[dict[str, str]], request: SimRequest
    ) -> SimResponse:
        return xml_reply("000", [{"units": self.units}])

    # -- submit validation -----------------------------------------------------------------

    def _title(self, title: str) -> str:
        if not title:
            raise AtlError("106")
        if len(title) > MAX_TITLE or not (title.isascii() and title.isprintable()):
            raise AtlError("107")
        if self.titles is not None and title not in self.titles:
            raise AtlError("235")
        return title

    def _scheduled(self, value: str, now: float) -> float:
        if not value:
            raise AtlError("111")
        if value.lower() == "now":
            return now
        when = parse_scheduled(value, self.tz)
        if when is None:
            raise AtlError("112")
        if when < now - SCHEDULE_TOLERANCE:
            raise AtlError("113")
        return when

    @staticmethod
    def _isbulk(value: str) -> bool:
        if not value:
            raise AtlError("114")
        if value.lower() not in ("true", "false"):
            raise AtlError("115")
        return value.lower() == "true"

    def _texts(
        self,
        bulk: bool,
        head: dict[str, str],
        bodies: list[dict[str, str]],
        request: SimRequest,
    ) -> list[tuple[str, str, int]]:
        """(number, text, parts) for every body, or the refusal of the whole request."""
        bulk_text = head.get("bulkmessage", "")
        if bulk and not bulk_text.strip():
            raise AtlError("116")
        if not bodies:
            raise AtlError("117")
        rejected = {_digits(n) for n in request.faults.get("reject_numbers") or ()}
        texts = []
        for body in bodies:
            number = body.get("msisdn", "").strip()
            text = bulk_text if bulk else body.get("message", "")
            if not _NUMBER.fullmatch(number) or number in rejected or not text.strip():
                raise AtlError("117")
            texts.append((number, text, analyze(text).parts))
        return texts

    def _task(self, head: dict[str, str]) -> SimTask:
        """The asked-for task, or 108/109/110/001 (not ready)."""
        task_id = head.get("taskid", "")
        if not task_id:
            raise AtlError("108")
        task = self.tasks.get(task_id)
        if task is None:
            raise AtlError("109")
        if task.canceled_at is not None:
            raise AtlError("110")
        if self.now() < task.submitted_at + self.report_delay:
            raise AtlError("001")
        return task


# -- XML -----------------------------------------------------------------------------------


def read_request(data: bytes) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(head fields, bodies) of a request, read with defusedxml; 100 when it cannot be."""
    try:
        root = DefusedET.fromstring(data)
    except (DefusedET.ParseError, DefusedXmlException, ValueError):
        raise AtlError("100") from None
    head = root.find("head")
    if root.tag != "request" or head is None:
        raise AtlError("100")
    return _fields(head), [_fields(body) for body in root.findall("body")]


def xml_reply(code: str, bodies: list[dict[str, Any]]) -> SimResponse:
    """``<response><head><responsecode>…`` plus one ``<body>`` per dict, as the document."""
    root = ET.Element("response")
    ET.SubElement(ET.SubElement(root, "head"), "responsecode").text = code
    for fields in bodies:
        body = ET.SubElement(root, "body")
        for tag, value in fields.items():
            ET.SubElement(body, tag).text = str(value)
    ET.indent(root, space="  ")
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
    return SimResponse(200, text + "\n", "text/xml; charset=utf-8")


def parse_scheduled(value: str, tz: zoneinfo.ZoneInfo) -> float | None:
    """``2011-10-01 15:40:05`` (local time in ``tz``) -> Unix time, or None."""
    match = _SCHEDULED.fullmatch(value.strip())
    if not match:
        return None
    year, month, day, hour, minute = (int(g) for g in match.groups()[:5])
    second = int(match.group(6) or 0)
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=tz).timestamp()
    except ValueError:
        return None


def _fields(element: Any) -> dict[str, str]:
    """Child tag (lower-case) -> text; message texts kept as sent, the rest stripped."""
    fields = {}
    for child in element:
        tag = str(child.tag).lower()
        text = child.text or ""
        fields[tag] = text if tag in _RAW_FIELDS else text.strip()
    return fields


def _digits(number: Any) -> str:
    return "".join(c for c in str(number) if c.isdigit())
