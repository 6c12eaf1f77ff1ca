"""Move a message between states: a conditional update plus its event, atomically.

The update only matches a row still in the expected state, so two workers (or a late
report racing a send) can never both move the same message; the loser gets ``False``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from . import signals
from .models import GatewayExchange, Message, MessageEvent
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


# -- set-based moves ---------------------------------------------------------------------


class Expr:
    """A raw SQL right-hand side for :func:`update_returning`, e.g. ``attempts + 1``."""

    def __init__(self, sql: str) -> None:
        self.sql = sql


def update_returning(
    queryset: QuerySet[Message], assignments: dict[str, Any], *, require: dict[str, Any]
) -> list[int]:
    """``UPDATE … WHERE pk IN (queryset) AND <require> RETURNING pk``, in one statement.

    One statement, so SQLite takes its write lock at once (no read-then-write upgrade that
    fails with "database is locked"), and PostgreSQL skips rows another worker holds when
    ``queryset`` uses ``select_for_update(skip_locked=True)``. ``require`` repeats the
    state condition on the written row itself: the real guarantee of a forward-only move.
    """
    conn = connections[queryset.db]
    meta = Message._meta
    quote = conn.ops.quote_name
    sets: list[str] = []
    set_params: list[Any] = []
    for name, value in assignments.items():
        column = quote(meta.get_field(name).column)
        if isinstance(value, Expr):
            sets.append(f"{column} = {value.sql}")
        else:
            sets.append(f"{column} = %s")
            set_params.append(meta.get_field(name).get_db_prep_save(value, conn))
    where: list[str] = []
    where_params: list[Any] = []
    for name, value in require.items():
        where.append(f" AND {quote(meta.get_field(name).column)} = %s")
        where_params.append(meta.get_field(name).get_db_prep_save(value, conn))
    sub_sql, sub_params = queryset.values("pk").query.sql_with_params()
    pk = quote(meta.pk.column)
    # Only quoted identifiers and our own Expr fragments are spliced in; values are params.
    table = quote(meta.db_table)
    sql = f"UPDATE {table} SET {', '.join(sets)} WHERE {pk} IN ({sub_sql})"  # noqa: S608
    sql += f"{''.join(where)} RETURNING {pk}"
    with conn.cursor() as cursor:
        cursor.execute(sql, [*set_params, *sub_params, *where_params])
        return [row[0] for row in cursor.fetchall()]


def move_where(
    queryset: QuerySet[Message],
    from_status: str,
    to_status: str,
    *,
    source: str,
    note: str,
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> list[int]:
    """Move every message ``queryset`` matches that is still ``from_status``: one update
    and one bulk insert of events, whatever the count. Returns the moved pks."""
    if not can_move(from_status, to_status):
        raise ValueError(f"illegal move {from_status} -> {to_status}")
    now = timezone.now()
    assignments = {"status": to_status, "status_changed_at": now, "updated_at": now, **fields}
    with transaction.atomic(using=queryset.db):
        moved = update_returning(queryset, assignments, require={"status": from_status})
        MessageEvent.objects.using(queryset.db).bulk_create(
            MessageEvent(
                message_id=pk,
                from_status=from_status,
                to_status=to_status,
                source=source,
                note=note,
                data=data or {},
                created_at=now,
            )
            for pk in moved
        )
    announce(moved, from_status, to_status, source)
    return moved


def announce(pks: Iterable[int], from_status: str, to_status: str, source: str) -> None:
    """``message_status_changed`` for each moved message, after commit, when anyone listens.

    Set-based moves hold no instances; they are only loaded for a receiver to look at.
    """
    if not signals.message_status_changed.has_listeners(Message):
        return
    pks = list(pks)

    def send() -> None:
        for message in Message.objects.filter(pk__in=pks):
            signals.message_status_changed.send(
                sender=Message,
                message=message,
                from_status=from_status,
                to_status=to_status,
                source=source,
            )

    if pks:
        transaction.on_commit(send)


@dataclass
class Outcome:
    """Where one message of a gateway request goes, and what to store with it."""

    pk: int
    to_status: str
    note: str
    data: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    #: The states it may be in for this move to apply (normally just "sending").
    expected: tuple[str, ...] = ()


#: Every field an outcome may set; bulk_update writes the same columns for every row.
OUTCOME_FIELDS = (
    "status",
    "status_changed_at",
    "updated_at",
    "provider_message_id",
    "provider_job_id",
    "submitted_at",
    "error_category",
    "error_code",
    "error_text",
    "next_attempt_at",
    "claim_token",
)


def apply_outcomes(
    outcomes: list[Outcome],
    *,
    source: str,
    exchange: GatewayExchange | None = None,
    guard: dict[str, Any] | None = None,
    decide: Any = None,
) -> list[tuple[Message, str, Outcome]]:
    """Apply many messages' moves in one transaction: lock, bulk update, bulk events.

    Each row is re-read under lock (``guard`` narrows it, e.g. to this worker's claim),
    and an outcome applies only when the row is still in one of its expected states and
    the move is legal: a message someone else moved is left alone. ``decide(row, outcome)``
    may adjust an outcome to the row's actual state (a late answer for an ``unknown``).
    Returns ``(message, from_status, outcome)`` for every move made.
    """
    if not outcomes:
        return []
    now = timezone.now()
    by_pk = {o.pk: o for o in outcomes}
    names = set(OUTCOME_FIELDS).union(*(o.fields for o in outcomes))
    with transaction.atomic():
        # A write first, so SQLite takes its write lock before reading (a read-then-write
        # upgrade fails at once with "database is locked" when another process writes).
        if exchange is not None and exchange.pk is None:
            exchange.save()
        else:
            Message.objects.filter(pk__in=by_pk, **(guard or {})).update(updated_at=now)
        rows = Message.objects.filter(pk__in=by_pk, **(guard or {})).select_for_update()
        moved: list[tuple[Message, str, Outcome]] = []
        # bulk_update writes every named column of every row: load them all up front.
        for row in rows.only("pk", "attempts", *names):
            outcome = by_pk[row.pk]
            if decide is not None:
                outcome = decide(row, outcome)
            expected = outcome.expected or (row.status,)
            if row.status not in expected or not can_move(row.status, outcome.to_status):
                continue
            moved.append((row, row.status, outcome))
        for row, _, outcome in moved:
            row.status = outcome.to_status
            row.status_changed_at = now
            row.updated_at = now
            for name, value in outcome.fields.items():
                setattr(row, name, value)
        if moved:
            Message.objects.bulk_update([row for row, _, _ in moved], sorted(names))
            MessageEvent.objects.bulk_create(
                MessageEvent(
                    message_id=row.pk,
                    from_status=from_status,
                    to_status=outcome.to_status,
                    source=source,
                    note=outcome.note,
                    data=outcome.data,
                    exchange=exchange,
                    created_at=now,
                )
                for row, from_status, outcome in moved
            )
    for row, from_status, outcome in moved:
        _announce_one(row.pk, from_status, outcome.to_status, source)
    return moved


def apply_alike_outcomes(outcomes: list[Outcome], *, source: str) -> list[int]:
    """Many messages' moves where each group of alike moves (same states, same fields) is
    one conditional ``UPDATE … RETURNING``: what delivery reports need, cheaper than
    locking and re-reading rows. The condition on the current state keeps it forward-only
    and never moves a message someone else moved meanwhile. Returns the moved pks.
    """
    groups: dict[tuple[Any, ...], list[Outcome]] = {}
    for outcome in outcomes:
        (expected,) = outcome.expected
        key = (expected, outcome.to_status, tuple(sorted(outcome.fields.items())))
        groups.setdefault(key, []).append(outcome)
    now = timezone.now()
    events: list[MessageEvent] = []
    moved_all: list[int] = []
    with transaction.atomic():
        for (expected, to_status, fields), alike in groups.items():
            by_pk = {o.pk: o for o in alike}
            moved = update_returning(
                Message.objects.filter(pk__in=by_pk),
                {"status": to_status, "status_changed_at": now, "updated_at": now, **dict(fields)},
                require={"status": expected},
            )
            events.extend(
                MessageEvent(
                    message_id=pk,
                    from_status=expected,
                    to_status=to_status,
                    source=source,
                    note=by_pk[pk].note,
                    data=by_pk[pk].data,
                    created_at=now,
                )
                for pk in moved
            )
            moved_all.extend(moved)
            announce(moved, expected, to_status, source)
        MessageEvent.objects.bulk_create(events)
    return moved_all


def _announce_one(pk: int, from_status: str, to_status: str, source: str) -> None:
    if signals.message_status_changed.has_listeners(Message):
        announce([pk], from_status, to_status, source)
