"""Celery tasks: thin wrappers over the outbox, the report poller and the balance check.

They run on a schedule as well as on demand, so they log and return instead of raising
on database hiccups; the next run picks up where this one stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.db import DatabaseError, close_old_connections, connections

from . import balances, outbox, reports, retention

logger = logging.getLogger(__name__)


def refresh_connections() -> None:
    """Drop broken or expired database connections between runs of a long-lived process.

    Like Django does around each request; skipped while a connection is inside a
    transaction (the caller's, or a test's), which closing would break.
    """
    if not any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
        close_old_connections()


def _survive(name: str, job: Callable[[], Any]) -> Any:
    refresh_connections()
    try:
        return job()
    except DatabaseError as exc:
        logger.warning("helpdesk_sms: %s skipped this run, database error: %s", name, exc)
        return None
    finally:
        refresh_connections()


@shared_task(name="helpdesk_sms.dispatch", ignore_result=True)
def dispatch() -> str | None:
    """Submit every due message."""
    result = _survive("dispatch", outbox.dispatch)
    return str(result) if result is not None else None


@shared_task(name="helpdesk_sms.poll_reports", ignore_result=True)
def poll_reports() -> int | None:
    """Fetch delivery reports for messages still awaiting one."""
    return _survive("poll_reports", reports.poll_reports)


@shared_task(name="helpdesk_sms.check_balances", ignore_result=True)
def check_balances() -> dict[str, str] | None:
    """Snapshot every provider's balance and warn on a low one."""
    checks = _survive("check_balances", balances.check_all)
    return None if checks is None else {c.provider.name: str(c) for c in checks}


@shared_task(name="helpdesk_sms.purge", ignore_result=True)
def purge() -> dict[str, int] | None:
    """Erase what is older than the RETENTION setting (nothing when it is None)."""
    report = _survive("purge", retention.purge_configured)
    return None if report is None else report.counts
