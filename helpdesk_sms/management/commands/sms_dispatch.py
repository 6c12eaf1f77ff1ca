"""``manage.py sms_dispatch``: run the outbox once (cron) or in a loop (a service).

For sites without Celery: ``* * * * * manage.py sms_dispatch -v 0`` delivers queued
messages within a minute. Passes may overlap safely: the outbox claims each message for
one worker only. ``--loop`` stops between passes on Ctrl-C or SIGTERM, never in the
middle of a submission, so a stop never leaves a message ambiguous.
"""

from __future__ import annotations

import signal
import threading
import time
from argparse import ArgumentParser
from signal import SIGINT, SIGTERM
from types import FrameType
from typing import Any

from django.db import DatabaseError

from helpdesk_sms import outbox
from helpdesk_sms.outbox import DispatchReport
from helpdesk_sms.tasks import refresh_connections

from ._common import SmsCommand, failure, usage_error

DEFAULT_INTERVAL = 10.0


class Command(SmsCommand):
    help = "Send every due message now; with --loop, keep doing so until stopped."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--limit",
            type=int,
            metavar="N",
            help="Claim at most N messages in this pass (default: all due, in batches).",
        )
        parser.add_argument(
            "--loop",
            action="store_true",
            help="Repeat until Ctrl-C or SIGTERM (for sites without Celery).",
        )
        parser.add_argument(
            "--interval",
            type=float,
            metavar="S",
            help=f"Seconds between passes with --loop (default {DEFAULT_INTERVAL:g}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        limit = options["limit"]
        if limit is not None and limit < 1:
            raise usage_error("--limit", f"must be 1 or more, not {limit}")
        interval = options["interval"]
        if interval is not None and not options["loop"]:
            raise usage_error("--interval", "only applies with --loop")
        if interval is None:
            interval = DEFAULT_INTERVAL
        if interval <= 0:
            raise usage_error("--interval", f"must be more than 0 seconds, not {interval:g}")
        self.verbosity = int(options["verbosity"])
        if options["loop"]:
            self.loop(limit, interval)
        else:
            try:
                report = outbox.dispatch(limit=limit)
            except DatabaseError as exc:
                raise failure(f"dispatch failed, database error: {exc}") from None
            self.show(report, quiet_when_idle=False)

    def loop(self, limit: int | None, interval: float) -> None:
        """Pass after pass; a database hiccup skips one pass instead of ending the loop."""
        stop = _StopFlag()
        previous = {}
        if threading.current_thread() is threading.main_thread():  # signals need the main thread
            previous = {sig: signal.signal(sig, stop.request) for sig in (SIGINT, SIGTERM)}
        try:
            if self.verbosity:
                self.stdout.write(f"Dispatching every {interval:g}s; Ctrl-C to stop.")
            while not stop.requested:
                refresh_connections()
                try:
                    report = outbox.dispatch(limit=limit)
                except DatabaseError as exc:
                    self.stderr.write(f"dispatch skipped, database error: {exc}")
                else:
                    self.show(report, quiet_when_idle=self.verbosity < 2)
                stop.sleep(interval)
        except KeyboardInterrupt:  # a second Ctrl-C: stop now
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            refresh_connections()
        if self.verbosity:
            self.stdout.write("Stopped.")

    def show(self, report: DispatchReport, *, quiet_when_idle: bool) -> None:
        if not self.verbosity:
            return
        idle = not (report.claimed or report.released or report.stale)
        if idle and quiet_when_idle:
            return
        self.stdout.write(str(report))
        for error in report.errors:
            self.stdout.write(f"  {error}")


class _StopFlag:
    """Set by the first Ctrl-C/SIGTERM (finish this pass, then stop); a second one interrupts."""

    def __init__(self) -> None:
        self.requested = False

    def request(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 0.2))
