"""The message state machine: one vocabulary, and which moves are allowed.

Kept apart from the models so the outbox, the report handlers and the admin all ask the
same table whether a move is legal, and a late or repeated delivery report can never
drag a final message back to an earlier state.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    QUEUED = "queued", _("queued")
    SENDING = "sending", _("sending")
    ACCEPTED = "accepted", _("accepted by gateway")
    DELIVERED = "delivered", _("delivered")
    UNDELIVERED = "undelivered", _("undelivered")
    EXPIRED = "expired", _("expired")
    FAILED = "failed", _("failed")
    UNKNOWN = "unknown", _("unknown (not resent)")
    CANCELED = "canceled", _("canceled")
    SUPPRESSED = "suppressed", _("suppressed")


class Source(models.TextChoices):
    """Who caused a status change; stored on every MessageEvent."""

    CREATE = "create", _("created")
    SEND = "send", _("send")
    POLL = "poll", _("report poll")
    WEBHOOK = "webhook", _("report push")
    ADMIN = "admin", _("admin")
    CLI = "cli", _("command line")
    SYSTEM = "system", _("system")


class Priority(models.TextChoices):
    """How a message fares under a budget cap (templates set it; send_sms may too)."""

    CRITICAL = "critical", _("critical (always sent)")
    NORMAL = "normal", _("normal (held while a budget cap is reached)")


#: States a message never leaves on its own (only an operator's retry may reopen FAILED).
FINAL = frozenset(
    {
        Status.DELIVERED,
        Status.UNDELIVERED,
        Status.EXPIRED,
        Status.FAILED,
        Status.CANCELED,
        Status.SUPPRESSED,
    }
)

#: States in which the message is waiting for us (not yet handed to a gateway).
PENDING = frozenset({Status.SCHEDULED, Status.QUEUED})

#: States in which a delivery report is still expected.
AWAITING_REPORT = frozenset({Status.ACCEPTED, Status.UNKNOWN})

_ALLOWED: dict[str, frozenset[str]] = {
    Status.SCHEDULED: frozenset({Status.QUEUED, Status.CANCELED, Status.SUPPRESSED}),
    Status.QUEUED: frozenset({Status.SENDING, Status.CANCELED, Status.SUPPRESSED}),
    Status.SENDING: frozenset(
        {Status.ACCEPTED, Status.FAILED, Status.UNKNOWN, Status.QUEUED, Status.SUPPRESSED}
        # QUEUED only when the gateway provably did not take the message (retry);
        # SUPPRESSED only when it checked a test and sent nothing (1601SMS test=ja).
    ),
    # CANCELED only when the gateway confirmed withdrawing a message it held for later.
    Status.ACCEPTED: frozenset(
        {Status.DELIVERED, Status.UNDELIVERED, Status.EXPIRED, Status.CANCELED}
    ),
    # A report, or the request's own late answer, may resolve an ambiguous submission.
    Status.UNKNOWN: frozenset(
        {
            Status.ACCEPTED,
            Status.DELIVERED,
            Status.UNDELIVERED,
            Status.EXPIRED,
            Status.FAILED,
            Status.SUPPRESSED,
        }
    ),
    # An operator's explicit retry re-queues a failed message (admin action).
    Status.FAILED: frozenset({Status.QUEUED}),
}


def can_move(from_status: str, to_status: str) -> bool:
    """True when ``from_status -> to_status`` is a legal move of the state machine."""
    return to_status in _ALLOWED.get(from_status, frozenset())
