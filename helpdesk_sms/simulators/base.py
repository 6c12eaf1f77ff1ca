"""What every gateway simulator shares: a real HTTP server, state, a clock and faults.

A simulator is a protocol-faithful stand-in for one SMS gateway, reached over a real socket
on 127.0.0.1, so the adapters are tested with the same HTTP stack they use in production.
A subclass only speaks its protocol (:meth:`Simulator.handle` and ``routes``); this module
supplies the rest:

* the server: :meth:`Simulator.start` (daemon thread, returns the URL),
  :meth:`Simulator.stop`, or :meth:`Simulator.serve_forever` in the foreground;
* state kept across requests in the simulator object, guarded by ``self.lock``;
* an injectable clock (``self.clock``, ``time.time`` by default): tests move time with
  :meth:`Simulator.advance` instead of sleeping;
* switchable faults (:data:`BASE_FAULTS`), set from Python (:meth:`Simulator.set_faults`)
  or over HTTP, optionally for only the next N requests;
* the control API under ``/_sim/``: ``GET state``, ``POST faults``, ``POST reset``,
  ``POST clock``, ``POST reply``;
* customer replies: :meth:`Simulator.reply` (or ``POST /_sim/reply``) pushes an SMS "from a
  customer" to ``reply_to`` in the gateway's inbound preset shape, as often as asked, to
  prove the receiving end stores a repeated push once;
* for gateways that push delivery reports: :meth:`Simulator.tick` (called before every
  request, after every clock move and, with ``tick_interval`` set, periodically) and
  :meth:`Simulator.push`, which calls a callback URL and records the outcome.

Faults act in this order on a protocol request: ``latency`` (sleep first), ``reset`` (drop
the connection, nothing processed), ``http_500`` (answer 500, nothing processed), then the
request is processed, then ``body`` (answer that text instead), ``malformed`` (a truncated
body with HTTP 200) and ``read_timeout`` (the request was processed and recorded, then the
server sleeps and closes without answering). ``reject_numbers``, ``credit_exhausted`` and
``auth_failure`` are read by the subclass from ``request.faults`` and answered in its
protocol's own words.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

MASK = "***"

#: Faults every simulator understands. Values: seconds for ``latency`` and
#: ``read_timeout`` (``True`` means 1 and 30 seconds), a list of numbers for
#: ``reject_numbers``, the reply text for ``body``, a truthy value for the rest.
BASE_FAULTS: frozenset[str] = frozenset(
    {
        "latency",
        "read_timeout",
        "reset",
        "http_500",
        "malformed",
        "reject_numbers",
        "credit_exhausted",
        "auth_failure",
        "body",
    }
)

#: Parameter names whose values are credentials: masked in recorded requests.
SECRET_PARAM = re.compile(r"(?i)(api_?key|pass(word)?|pwd|secret|token)")
_SECRET_IN_QUERY = re.compile(
    r"(?i)([\w.-]*(?:api_?key|pass(?:word)?|pwd|secret|token)[\w.-]*)=[^&\s\"]*"
)


class ManualClock:
    """A clock that only moves when told to: what tests put in ``Simulator.clock``."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += float(seconds)
        return self.now

    def set(self, when: float) -> float:
        self.now = float(when)
        return self.now


@dataclass
class SimRequest:
    """One HTTP request as a simulator sees it."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: The faults in force for this request (name -> value).
    faults: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, str]:
        """Query parameters by their names as sent (a repeated name: the last wins)."""
        return dict(self.query)

    def param(self, name: str, default: str | None = None) -> str | None:
        """A query parameter matched case-insensitively, as the real panels do."""
        wanted = name.lower()
        found = default
        for key, value in self.query:
            if key.lower() == wanted:
                found = value
        return found

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def form(self) -> dict[str, str]:
        """A urlencoded request body (for POST protocols)."""
        return dict(urllib.parse.parse_qsl(self.text, keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.text or "null")


@dataclass
class SimResponse:
    """What the simulator answers; ``body`` text is sent as UTF-8."""

    status: int = 200
    body: str | bytes = ""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> bytes:
        return self.body if isinstance(self.body, bytes) else self.body.encode("utf-8")


def json_response(value: Any, status: int = 200) -> SimResponse:
    """Compact JSON, the way the gateways write it."""
    return SimResponse(
        status,
        json.dumps(value, separators=(",", ":"), ensure_ascii=False),
        "application/json; charset=utf-8",
    )


class SimulatorError(ValueError):
    """A bad control request (unknown fault, bad JSON): answered with HTTP 400."""


class Simulator:
    """Base class of the gateway simulators. Subclasses set ``name``, ``routes``, ``handle``."""

    name: ClassVar[str] = ""
    #: (METHOD, lower-case path) -> name of the method answering it. Paths are matched
    #: case-insensitively, like the IIS-hosted panels.
    routes: ClassVar[dict[tuple[str, str], str]] = {}
    #: Faults this simulator accepts; subclasses may add their own.
    fault_names: ClassVar[frozenset[str]] = BASE_FAULTS
    #: Seconds between background :meth:`tick` calls while started; None: no ticker.
    tick_interval: ClassVar[float | None] = None
    #: The shape of this gateway's inbound push (a key of ``gateways.inbound.PRESETS``).
    inbound_preset: ClassVar[str] = "generic"

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        verbose: bool = False,
        reply_to: str | None = None,
    ) -> None:
        self.clock: Callable[[], float] = clock or time.time
        self.verbose = verbose
        #: Where customer replies are pushed (the app's /sms/inbound/<provider>/<secret>/).
        self.reply_to = reply_to
        self._replies_sent = 0
        self.lock = threading.RLock()
        self.requests: list[dict[str, Any]] = []
        self.pushes: list[dict[str, Any]] = []
        self._push_threads: list[threading.Thread] = []
        self._faults: dict[str, dict[str, Any]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ticker: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- protocol: for subclasses ------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one protocol request. Called with ``self.lock`` held."""
        method = self.routes.get((request.method, request.path.lower()))
        if method is None:
            return SimResponse(404, "Not Found")
        answer: SimResponse = getattr(self, method)(request)
        return answer

    def reset_state(self) -> None:
        """Forget everything the gateway learnt (messages, jobs…) and restore balances."""

    def snapshot(self) -> dict[str, Any]:
        """The protocol state for ``GET /_sim/state`` (JSON-ready). Lock held."""
        return {}

    def secrets(self) -> list[str]:
        """Credential values: masked wherever they appear in recorded requests."""
        return []

    def tick(self) -> None:
        """Let time-driven work happen (e.g. delivery pushes). Must be idempotent."""

    # -- clock -------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock()

    def advance(self, seconds: float) -> float:
        """Move the simulator's clock forward (switching to a :class:`ManualClock`)."""
        with self.lock:
            if not isinstance(self.clock, ManualClock):
                self.clock = ManualClock(self.clock())
            now = self.clock.advance(seconds)
        self.tick()
        return now

    def set_time(self, when: float) -> float:
        """Put the simulator's clock at ``when`` (a Unix timestamp)."""
        with self.lock:
            if not isinstance(self.clock, ManualClock):
                self.clock = ManualClock()
            now = self.clock.set(when)
        self.tick()
        return now

    # -- faults ------------------------------------------------------------------------

    def set_faults(self, times: int | None = None, **faults: Any) -> dict[str, Any]:
        """Switch faults on (a value) or off (``None``/``False``), for ``times`` requests.

        ``times=None`` keeps a fault until it is switched off or the simulator is reset.
        """
        unknown = sorted(set(faults) - self.fault_names)
        if unknown:
            known = ", ".join(sorted(self.fault_names))
            raise SimulatorError(f"unknown fault(s) {', '.join(unknown)}; known: {known}")
        if times is not None and int(times) < 1:
            raise SimulatorError("times must be at least 1")
        with self.lock:
            for name, value in faults.items():
                if value is None or value is False:
                    self._faults.pop(name, None)
                else:
                    self._faults[name] = {
                        "value": value,
                        "remaining": None if times is None else int(times),
                    }
            return self.faults

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    @property
    def faults(self) -> dict[str, Any]:
        """The faults in force: name -> {"value", "remaining"}."""
        with self.lock:
            return {name: dict(spec) for name, spec in self._faults.items()}

    def _take_faults(self) -> dict[str, Any]:
        """The faults for one request, counting it against each fault's ``times``."""
        with self.lock:
            taken = {}
            for name, spec in list(self._faults.items()):
                taken[name] = spec["value"]
                if spec["remaining"] is not None:
                    spec["remaining"] -= 1
                    if spec["remaining"] <= 0:
                        del self._faults[name]
            return taken

    # -- state -------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to a fresh gateway: no requests, faults or pushes; protocol state reset."""
        with self.lock:
            self.requests.clear()
            self.pushes.clear()
            self._faults.clear()
            self.reset_state()

    def state(self) -> dict[str, Any]:
        """Everything observable, as ``GET /_sim/state`` answers it."""
        with self.lock:
            return {
                "simulator": self.name,
                "now": self.now(),
                "requests": [dict(r) for r in self.requests],
                "faults": self.faults,
                "pushes": [dict(p) for p in self.pushes],
                **self.snapshot(),
            }

    def mask(self, params: dict[str, str]) -> dict[str, str]:
        """``params`` fit for the record: credential names and values masked."""
        secrets = sorted((s for s in self.secrets() if s), key=len, reverse=True)
        masked = {}
        for key, value in params.items():
            if SECRET_PARAM.search(key):
                value = MASK
            else:
                for secret in secrets:
                    value = value.replace(secret, MASK)
            masked[key] = value
        return masked

    def _record(self, request: SimRequest) -> dict[str, Any]:
        with self.lock:
            entry = {
                "id": len(self.requests) + 1,
                "time": self.now(),
                "method": request.method,
                "path": request.path,
                "params": self.mask(request.params),
                "faults": sorted(request.faults),
            }
            self.requests.append(entry)
            return entry

    # -- one request -------------------------------------------------------------------

    def serve_request(self, request: SimRequest) -> SimResponse | None:
        """Apply faults around :meth:`handle`. None means: close without answering."""
        request.faults = self._take_faults()
        entry = self._record(request)
        faults = request.faults
        if faults.get("latency"):
            self._sleep(_seconds(faults["latency"], 1.0))
        if faults.get("reset"):
            self._note(entry, {"dropped": "reset before processing"})
            return None
        if faults.get("http_500"):
            response = SimResponse(500, "Internal Server Error")
        else:
            self.tick()
            with self.lock:
                response = self.handle(request)
            if "body" in faults:
                body = faults["body"]  # bytes as they are: a reply in a broken encoding
                body = body if isinstance(body, bytes) else str(body)
                response = SimResponse(200, body, response.content_type)
            if faults.get("malformed"):
                response = _garble(response)
        answer = {"status": response.status, "body": _preview(response.data)}
        if faults.get("read_timeout"):
            self._note(entry, {"dropped": "read timeout after processing", "withheld": answer})
            self._sleep(_seconds(faults["read_timeout"], 30.0))
            return None
        self._note(entry, answer)
        return response

    def _note(self, entry: dict[str, Any], response: dict[str, Any]) -> None:
        with self.lock:
            entry["response"] = response

    def control(self, request: SimRequest) -> SimResponse:
        """The ``/_sim/`` API: state, faults, reset, clock."""
        action = (request.method, request.path.rstrip("/").lower())
        try:
            if action == ("GET", "/_sim/state"):
                return json_response(self.state())
            if action == ("POST", "/_sim/faults"):
                body = request.json() or {}
                if not isinstance(body, dict):
                    raise SimulatorError("send a JSON object of faults")
                if body.pop("clear", False):
                    self.clear_faults()
                times = body.pop("times", None)
                return json_response({"faults": self.set_faults(times, **body)})
            if action == ("POST", "/_sim/reset"):
                self.reset()
                return json_response({"ok": True})
            if action == ("POST", "/_sim/reply"):
                return json_response({"pushes": self._reply_request(request)})
            if action == ("POST", "/_sim/clock"):
                body = request.json() or {}
                if "now" in body:
                    self.set_time(float(body["now"]))
                if "advance" in body:
                    self.advance(float(body["advance"]))
                return json_response({"now": self.now()})
        except (SimulatorError, ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, status=400)
        return json_response({"error": f"no control endpoint {request.path}"}, status=404)

    # -- pushes (for gateways that call back) -----------------------------------------

    def push(
        self,
        url: str,
        data: dict[str, Any],
        *,
        method: str = "POST",
        as_json: bool = False,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Call ``url`` in the background; the record (returned) gets its status or error."""
        record: dict[str, Any] = {"url": url, "method": method, "data": data, "time": self.now()}
        with self.lock:
            self.pushes.append(record)
        thread = threading.Thread(
            target=self._deliver_push, args=(record, as_json, headers or {}), daemon=True
        )
        self._push_threads.append(thread)
        thread.start()
        return record

    def wait_for_pushes(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until every push started so far has its outcome; returns the records."""
        deadline = time.monotonic() + timeout
        for thread in list(self._push_threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        with self.lock:
            return [dict(p) for p in self.pushes]

    def _deliver_push(self, record: dict[str, Any], as_json: bool, headers: dict[str, str]) -> None:
        url, data, method = record["url"], record["data"], record["method"]
        if as_json:
            body = json.dumps(data).encode()
            headers = {"Content-Type": "application/json", **headers}
        else:
            body = urllib.parse.urlencode(data).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        if method == "GET":
            url = url + ("&" if "?" in url else "?") + body.decode()
        data = None if method == "GET" else body
        req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=10) as reply:  # noqa: S310
                outcome = {"status": reply.status, "body": _preview(reply.read())}
        except urllib.error.HTTPError as exc:
            outcome = {"status": exc.code, "body": _preview(exc.read())}
        except OSError as exc:
            outcome = {"error": str(exc)}
        with self.lock:
            record.update(outcome)

    # -- customer replies (inbound SMS) ------------------------------------------------

    def reply(
        self,
        sender: str,
        to: str,
        text: str,
        repeat: int = 1,
        gateway_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Push one customer SMS to ``reply_to`` ``repeat`` times, one push after another.

        In this gateway's inbound preset shape, with one gateway id (made up when not
        given) and one time for every repeat: the same SMS pushed again, as a gateway does
        when it missed our answer. Returns the push records with their HTTP status.
        """
        from ..gateways.inbound import PRESETS, UNIX_TIME

        if not self.reply_to:
            raise SimulatorError("no reply_to URL is set: start the simulator with --reply-to")
        if not str(sender).strip() or not str(text):
            raise SimulatorError("a reply needs a sender number (from) and a text")
        if int(repeat) < 1:
            raise SimulatorError("repeat must be at least 1")
        preset = PRESETS[self.inbound_preset]
        with self.lock:
            self._replies_sent += 1
            made_up = f"{self.name}-in-{self._replies_sent}-{int(self.now())}"
        fmt = preset.time_formats[0]
        now = self.now()
        clock = datetime.fromtimestamp(now, getattr(self, "tz", None) or UTC)  # its own clock
        when = str(int(now)) if fmt == UNIX_TIME else clock.strftime(fmt)
        values = {
            "sender": sender,
            "recipient": to,
            "text": text,
            "gateway_id": gateway_id or made_up,
            "time": when,
        }
        data = {preset.fields[k]: v for k, v in values.items() if preset.fields.get(k)}
        records = []
        for _ in range(int(repeat)):
            record: dict[str, Any] = {
                "url": self.reply_to,
                "method": preset.method,
                "data": data,
                "time": now,
                "kind": "reply",
            }
            with self.lock:
                self.pushes.append(record)
            self._deliver_push(record, False, {})
            records.append(dict(record))
        return records

    def _reply_request(self, request: SimRequest) -> list[dict[str, Any]]:
        """``POST /_sim/reply`` (form or JSON: from, to, text, repeat, id) -> the pushes."""
        if "json" in request.headers.get("Content-Type", ""):
            body = request.json() or {}
            if not isinstance(body, dict):
                raise SimulatorError("send a JSON object with from, to, text and repeat")
        else:
            body = request.form()
        return self.reply(
            str(body.get("from") or ""),
            str(body.get("to") or ""),
            str(body.get("text") or ""),
            repeat=int(body.get("repeat") or 1),
            gateway_id=str(body["id"]) if body.get("id") else None,
        )

    # -- server ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL while serving, e.g. ``http://127.0.0.1:40123``."""
        if self._server is None:
            raise RuntimeError(f"the {self.name} simulator is not running")
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Serve in a daemon thread (port 0: any free port); returns the base URL."""
        self._bind(port, host)
        assert self._server is not None
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-simulator",
            daemon=True,
        )
        self._thread.start()
        self._start_ticker()
        return self.url

    def serve_forever(self, port: int = 8000, host: str = "127.0.0.1") -> None:
        """Serve in the foreground until interrupted (Ctrl-C) or :meth:`stop`."""
        self._bind(port, host)
        assert self._server is not None
        self._start_ticker()
        try:
            self._server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving; wakes any request sleeping in a fault. Safe to call twice."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            # Returns at once when no serve_forever loop runs (e.g. the foreground one ended).
            server.shutdown()
            server.server_close()
        for thread in (self._thread, self._ticker):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
        self._thread = self._ticker = None

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _bind(self, port: int, host: str) -> None:
        if self._server is not None:
            raise RuntimeError(f"the {self.name} simulator is already running at {self.url}")
        self._stopping.clear()
        self._server = _Server((host, port), self)

    def _start_ticker(self) -> None:
        if not self.tick_interval:
            return
        interval = float(self.tick_interval)

        def run() -> None:
            while not self._stopping.wait(interval):
                self.tick()

        self._ticker = threading.Thread(target=run, name=f"{self.name}-ticker", daemon=True)
        self._ticker.start()

    def _sleep(self, seconds: float) -> None:
        """Wait in real time (a fault), cut short when the simulator stops."""
        self._stopping.wait(max(0.0, seconds))

    def log(self, text: str) -> None:
        """Write one line to stderr when verbose, credentials in query strings masked."""
        if not self.verbose:
            return
        text = _SECRET_IN_QUERY.sub(lambda m: f"{m.group(1)}={MASK}", text)
        for secret in sorted((s for s in self.secrets() if s), key=len, reverse=True):
            text = text.replace(secret, MASK)
        sys.stderr.write(f"[{self.name} simulator] {text}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    #: stop() must not wait for requests sleeping in a read_timeout fault.
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        self.simulator = simulator
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hang up on purpose (timeouts); only a verbose simulator reports it.
        if self.simulator.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "gateway-simulator"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_GET  # noqa: N815

    def _dispatch(self) -> None:
        simulator = self.server.simulator
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urllib.parse.urlsplit(self.path)
        request = SimRequest(
            method=self.command,
            path=split.path,
            query=urllib.parse.parse_qsl(split.query, keep_blank_values=True),
            body=body,
            headers=dict(self.headers.items()),
        )
        if split.path.lower().startswith("/_sim/"):
            response: SimResponse | None = simulator.control(request)
        else:
            response = simulator.serve_request(request)
        if response is None:
            self._drop()
        else:
            self._answer(response)

    def _answer(self, response: SimResponse) -> None:
        data = response.data
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _drop(self) -> None:
        """Close with a TCP reset and no reply at all."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature
        self.server.simulator.log(format % args)


def _seconds(value: Any, default: float) -> float:
    return default if value is True else float(value)


def _garble(response: SimResponse) -> SimResponse:
    """The first half of the reply (at least one byte short), still with HTTP 200."""
    data = response.data
    cut = max(1, len(data) // 2) if len(data) > 1 else 0
    return SimResponse(200, data[:cut] + b"\xff", response.content_type)


def _preview(data: bytes, limit: int = 2000) -> str:
    return data[:limit].decode("utf-8", errors="replace")
