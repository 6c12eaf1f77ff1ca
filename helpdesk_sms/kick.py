"""Wake the outbox after a commit, without ever making the saving thread wait or fail.

The saving thread only sets a flag; a background thread of the process publishes the
dispatch task. A broker that is down, refusing, frozen or dropping packets therefore costs
a save nothing: kicks made while one is being published fold into one more publish, and
if the broker never answers the periodic sweep (or cron's ``sms_dispatch``) sends the
message. A lost kick delays a message, never loses it.
"""

from __future__ import annotations

import logging
import os
import threading

from django.db import transaction

from . import conf

logger = logging.getLogger(__name__)


class Publisher:
    """A daemon thread that publishes the dispatch task whenever it is asked to.

    One per process (re-created after a fork, so prefork servers each get their own).
    """

    def __init__(self) -> None:
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        #: Publishes attempted and failed, for tests and the curious.
        self.published = 0
        self.failures = 0

    def request(self) -> None:
        """Ask for one publish soon; returns at once."""
        self._wanted.set()
        if self._running():
            return
        with self._lock:
            if not self._running():
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="helpdesk-sms-kick", daemon=True
                )
                self._thread.start()

    def _running(self) -> bool:
        """A live thread of this process (after a fork the parent's thread is not ours)."""
        return self._thread is not None and self._pid == os.getpid() and self._thread.is_alive()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            self.publish()

    def publish(self) -> None:
        try:
            from .tasks import dispatch

            # One connection attempt, not kombu's retry loop: a broker that is down costs
            # this thread seconds, and the sweep sends what it could not announce.
            with dispatch.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1)
                dispatch.apply_async(retry=False, connection=connection)
            self.published += 1
        except Exception as exc:  # broker unreachable: the sweep will pick the message up
            logger.warning(
                "helpdesk_sms: could not queue the dispatch task (%s); the sweep will", exc
            )
            self.failures += 1  # counted once logged: a waiter sees both


publisher = Publisher()


def dispatch_on_commit() -> None:
    """Ask Celery to run the outbox once the current transaction commits."""
    if conf.get("DISPATCH") != "celery":
        return
    transaction.on_commit(publisher.request)
