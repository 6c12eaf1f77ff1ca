"""Wake the outbox after a commit, without ever making the caller wait or fail.

If the broker is down the message simply waits for the periodic sweep (or cron's
``sms_dispatch``): a lost kick delays a message, never loses it.
"""

from __future__ import annotations

import logging

from django.db import transaction

from . import conf

logger = logging.getLogger(__name__)


def dispatch_on_commit() -> None:
    """Ask Celery to run the outbox once the current transaction commits."""
    if conf.get("DISPATCH") != "celery":
        return
    transaction.on_commit(_kick)


def _kick() -> None:
    try:
        from .tasks import dispatch

        dispatch.apply_async(retry=False)
    except Exception as exc:  # broker unreachable: the sweep will pick the message up
        logger.warning("helpdesk_sms: could not queue the dispatch task (%s); the sweep will", exc)
