"""``manage.py sms_simulate canlog …``: run gateway simulators in the foreground.

For the demo and for trying a configuration without a real account: each simulator is a
real HTTP server speaking its gateway's protocol, so a provider pointed at the printed URL
behaves as it would against the gateway. Runs until Ctrl-C (or SIGTERM), then stops them all.

Customer replies: with ``--reply-to URL`` (or ``--reply-to-env VAR``, keeping the URL's
secret off the command line) a running simulator pushes replies to the app's inbound
endpoint when told to, by ``POST /_sim/reply`` or from another shell with
``sms_simulate send-reply --url SIMULATOR_URL --from NUMBER --text TEXT [--repeat 3]``.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from ._common import SmsCommand, failure, usage_error

DEFAULT_PORT = 9001
#: The pseudo-gateway that asks a running simulator to push a customer reply.
SEND_REPLY = "send-reply"


class Command(SmsCommand):
    help = "Run gateway simulators on consecutive ports until Ctrl-C."
    positional_names = {"gateways": "GATEWAY"}
    # The simulators need neither the database nor the site's checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "gateways",
            nargs="+",
            metavar="GATEWAY",
            help=f"e.g. canlog; or {SEND_REPLY} to make a running simulator text the app",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=DEFAULT_PORT,
            help=f"Port of the first simulator; the next ones count up (default {DEFAULT_PORT}). "
            "0 picks free ports.",
        )
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument(
            "--delivery-delay",
            type=float,
            metavar="S",
            help="Seconds before a sent message is reported delivered.",
        )
        parser.add_argument(
            "--user", help="The login the simulator accepts (where the gateway has one)."
        )
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="NAME[=VALUE]",
            help="Start with this fault switched on, e.g. --fault http_500, --fault latency=2, "
            '--fault reject_numbers=["919812345678"] (a JSON value). Repeatable. Faults can '
            "also be switched while running: POST /_sim/faults.",
        )
        parser.add_argument(
            "--callback-url-env",
            metavar="VAR",
            help="Push delivery reports to the URL held in this environment variable (it "
            "carries the callback secret, so it is kept off the command line).",
        )
        parser.add_argument(
            "--reply-to",
            metavar="URL",
            help="Push customer replies to this URL (the app's /sms/inbound/<provider>/<secret>/"
            "); it carries the secret, so --reply-to-env is safer on a shared machine.",
        )
        parser.add_argument(
            "--reply-to-env",
            metavar="VAR",
            help="Push customer replies to the URL held in this environment variable.",
        )
        reply = parser.add_argument_group(f"{SEND_REPLY} (ask a running simulator to text us)")
        reply.add_argument("--url", metavar="SIMULATOR_URL", help="e.g. http://127.0.0.1:9001")
        reply.add_argument("--from", dest="sender", metavar="NUMBER", help="The customer.")
        reply.add_argument("--to", default="", metavar="NUMBER", help="Our number or sender ID.")
        reply.add_argument("--text", metavar="TEXT", help="What the customer writes.")
        reply.add_argument(
            "--repeat", type=int, default=1, metavar="N", help="Push the same SMS N times."
        )
        reply.add_argument("--id", dest="gateway_id", metavar="ID", help="The gateway's SMS id.")
        parser.add_argument(
            "--api-key-env",
            metavar="VAR",
            help="Accept the API key held in this environment variable (kept off the "
            "command line, where other users could read it).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from helpdesk_sms.simulators import SIMULATORS, SimulatorError, get_simulator

        names: list[str] = options["gateways"]
        if SEND_REPLY in names:
            if names != [SEND_REPLY]:
                raise usage_error("GATEWAY", f"{SEND_REPLY} is given alone")
            self._send_reply(options)
            return
        unknown = [name for name in names if name not in SIMULATORS]
        if unknown:
            raise usage_error(
                "GATEWAY",
                f"no simulator for {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(SIMULATORS)) or 'none'}",
            )
        if len(set(names)) != len(names):
            raise usage_error("GATEWAY", "each gateway may be named once")
        port: int = options["port"]
        if not 0 <= port <= 65535 - len(names) + 1:
            raise usage_error("--port", f"{port} is not a usable port number")
        delay = options["delivery_delay"]
        if delay is not None and delay < 0:
            raise usage_error("--delivery-delay", "must be 0 seconds or more")

        sim_options: dict[str, Any] = {"verbose": int(options["verbosity"]) >= 2}
        if delay is not None:
            sim_options["delivery_delay"] = delay
        if options["user"]:
            sim_options["user"] = options["user"]
        if options["callback_url_env"]:
            url = os.environ.get(options["callback_url_env"], "")
            if not url:
                raise usage_error(
                    "--callback-url-env", f"${options['callback_url_env']} is empty or unset"
                )
            sim_options["callback_url"] = url
        reply_to = _reply_to(options)
        if reply_to:
            sim_options["reply_to"] = reply_to
        if options["api_key_env"]:
            key = os.environ.get(options["api_key_env"], "")
            if not key:
                raise usage_error("--api-key-env", f"${options['api_key_env']} is empty or unset")
            sim_options["api_key"] = key
        try:
            simulators = [(name, get_simulator(name, **sim_options)) for name in names]
        except TypeError as exc:  # a simulator without one of the options given
            raise usage_error("GATEWAY", f"an option given is not supported here: {exc}") from None

        faults = _parse_faults(options["fault"])
        for _name, simulator in simulators:
            try:
                simulator.set_faults(**faults)
            except SimulatorError as exc:
                raise usage_error("--fault", str(exc)) from None

        host: str = options["host"]
        running: list[Any] = []
        try:
            for offset, (name, simulator) in enumerate(simulators):
                wanted = port + offset if port else 0
                try:
                    simulator.start(port=wanted, host=host)
                except OSError as exc:
                    raise failure(
                        f"cannot listen on {host}:{wanted} for the {name} simulator: "
                        f"{exc.strerror or exc}; pick another --port"
                    ) from None
                running.append(simulator)
                self.stdout.write(f"{name} simulator on {simulator.url}")
            self.stdout.write("Ctrl-C to stop.")
            self.stdout.flush()
            _wait_for_stop()
        finally:
            for simulator in reversed(running):
                simulator.stop()
        self.stdout.write("Simulators stopped.")

    def _send_reply(self, options: dict[str, Any]) -> None:
        """Ask the simulator at --url to push one customer SMS (--repeat times) to the app."""
        for option, dest in (("--url", "url"), ("--from", "sender"), ("--text", "text")):
            if not options[dest]:
                raise usage_error(option, f"{SEND_REPLY} needs it")
        if options["repeat"] < 1:
            raise usage_error("--repeat", "must be 1 or more")
        body = {
            "from": options["sender"],
            "to": options["to"],
            "text": options["text"],
            "repeat": options["repeat"],
        }
        if options["gateway_id"]:
            body["id"] = options["gateway_id"]
        url = options["url"].rstrip("/") + "/_sim/reply"
        if not url.startswith(("http://", "https://")):
            raise usage_error("--url", "give the simulator's http:// address")
        request = urllib.request.Request(  # noqa: S310 - an http(s) URL, checked above
            url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
                answer = json.loads(reply.read().decode() or "{}")
        except urllib.error.HTTPError as exc:
            said = exc.read().decode(errors="replace")[:300]
            raise failure(f"the simulator refused: HTTP {exc.code} {said}") from None
        except (OSError, ValueError) as exc:
            raise failure(f"cannot reach the simulator at {options['url']}: {exc}") from None
        pushes = answer.get("pushes") or []
        for number, push in enumerate(pushes, 1):
            outcome = push.get("status") or push.get("error") or "no answer"
            self.stdout.write(f"push {number}: {outcome} {str(push.get('body', ''))[:100]}")
        if any(push.get("status") != 200 for push in pushes):
            raise failure("the app did not take every push (see above)")


def _reply_to(options: dict[str, Any]) -> str:
    """The --reply-to URL, or the one in --reply-to-env's variable; "" for neither."""
    if options["reply_to"] and options["reply_to_env"]:
        raise usage_error("--reply-to", "give --reply-to or --reply-to-env, not both")
    if options["reply_to_env"]:
        url = os.environ.get(options["reply_to_env"], "")
        if not url:
            raise usage_error("--reply-to-env", f"${options['reply_to_env']} is empty or unset")
        return url
    return str(options["reply_to"] or "")


def _wait_for_stop() -> None:
    """Block until Ctrl-C, or SIGTERM (how service managers and tests stop us)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.is_set():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _parse_faults(specs: list[str]) -> dict[str, Any]:
    """``["http_500", "latency=2"]`` -> ``{"http_500": True, "latency": 2}`` (values as JSON)."""
    faults: dict[str, Any] = {}
    for spec in specs:
        name, _, raw = spec.partition("=")
        if not name.strip():
            raise usage_error("--fault", f"{spec!r} names no fault")
        if not raw:
            faults[name.strip()] = True
            continue
        try:
            faults[name.strip()] = json.loads(raw)
        except ValueError:
            faults[name.strip()] = raw  # a plain string, e.g. a reply body
    return faults
