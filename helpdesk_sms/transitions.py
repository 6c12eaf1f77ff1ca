"""Move a message between states: a conditional update plus its event, atomically.

The update only matches a row still in the expected state, so two workers (or a late
report racing a send) can never both move the same message; the loser gets ``False``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from . import signals
from .models import Message, MessageEvent
from .states import can_move


def move(
    message: Message,
    to_status: str,
    *,
    source: str,
    note: str = "",
    data: dict[str, Any] | None = None,
    expected: str | None = None,
    **fields: Any,
) -> bool:
    """Move ``message`` to ``to_status`` if it is still in ``expected`` (default: its status).

    Updates the instance in place and records a MessageEvent; sends
    ``message_status_changed`` after commit. Returns False (and writes nothing) when the
    move is illegal or another process moved the message first.
    """
    from_status = expected or message.status
    if not can_move(from_status, to_status):
        return False
    now = timezone.now()
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, status=from_status).update(
            status=to_status, status_changed_at=now, updated_at=now, **fields
        )
        if not updated:
            return False
        MessageEvent.objects.create(
            message=message,
            from_status=from_status,
            to_status=to_status,
            source=source,
            note=note,
            data=data or {},
            created_at=now,
        )
    message.status = to_status
    message.status_changed_at = now
    for name, value in fields.items():
        setattr(message, name, value)
    transaction.on_commit(
        lambda: signals.message_status_changed.send(
            sender=Message,
            message=message,
            from_status=from_status,
            to_status=to_status,
            source=source,
        )
    )
    return True


def record_creation(
    message: Message, *, note: str = "", data: dict[str, Any] | None = None
) -> None:
    """The first event of a message: how it came to be, in its initial state."""
    MessageEvent.objects.create(
        message=message,
        from_status="",
        to_status=message.status,
        source="create",
        note=note,
        data=data or {},
        created_at=message.status_changed_at,
    )


def record_unchanged(message: Message, *, source: str, note: str, data: dict[str, Any]) -> None:
    """An event that changed nothing (a repeated or late report), kept for the record."""
    MessageEvent.objects.create(
        message=message,
        from_status=message.status,
        to_status=message.status,
        source=source,
        note=note,
        data=data,
    )
