"""Connect the incoming ticket signals to :func:`notifications.notify`.

The receivers swallow and log everything: a host's ticket save must never fail because of SMS.
They take no savepoint of their own: ``notify`` runs all its queries in one (when the host is
in a transaction), so a failure has been rolled back by the time it reaches the except here.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from . import signals
from .models import Event
from .notifications import notify
from .savepoints import host_transaction_lost

logger = logging.getLogger(__name__)


def _notify_safely(event: str, ticket: Any, **context: Any) -> None:
    try:
        notify(event, ticket, **context)
    except Exception:  # never into the host's save, unless the database already lost it
        if host_transaction_lost():
            raise
        logger.exception("helpdesk_sms: %s notification for %r failed", event, ticket)


@receiver(signals.ticket_created, dispatch_uid="helpdesk_sms_ticket_created")
def on_ticket_created(sender: Any, ticket: Any, **kwargs: Any) -> None:
    kwargs.pop("signal", None)
    _notify_safely(Event.TICKET_CREATED, ticket, **kwargs)


@receiver(signals.ticket_assigned, dispatch_uid="helpdesk_sms_ticket_assigned")
def on_ticket_assigned(sender: Any, ticket: Any, **kwargs: Any) -> None:
    kwargs.pop("signal", None)
    _notify_safely(Event.TICKET_ASSIGNED, ticket, **kwargs)


@receiver(signals.task_added, dispatch_uid="helpdesk_sms_task_added")
def on_task_added(sender: Any, ticket: Any, **kwargs: Any) -> None:
    kwargs.pop("signal", None)
    _notify_safely(Event.TASK_ADDED, ticket, **kwargs)
