"""Move a message between states: a conditional update plus its event, atomically.

The update only matches a row still in the expected state, so two workers (or a late
report racing a send) can never both move the same message; the loser gets ``False``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, models, transaction
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
        column = quote(_column(name))
        if isinstance(value, Expr):
            sets.append(f"{column} = {value.sql}")
        else:
            sets.append(f"{column} = %s")
            set_params.append(_field(name).get_db_prep_save(value, conn))
    where: list[str] = []
    where_params: list[Any] = []
    for name, value in require.items():
        where.append(f" AND {quote(_column(name))} = %s")
        where_params.append(_field(name).get_db_prep_save(value, conn))
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


def apply_outcomes(
    outcomes: list[Outcome],
    *,
    source: str,
    exchange: GatewayExchange | None = None,
    guard: dict[str, Any] | None = None,
    decide: Any = None,
) -> list[tuple[int, str, Outcome]]:
    """Apply many messages' different moves in one transaction, set-wise.

    Alike moves (same states, same fields) are one conditional ``UPDATE … FROM (VALUES …)
    … RETURNING``, the per-message values (the gateway's id) in the VALUES list; the
    condition on the state (and ``guard``, e.g. this worker's claim) means a message
    someone else moved is left alone. For what did not move, ``decide(row, outcome)`` may
    adapt the outcome to the row's actual state (a late answer for an ``unknown``), which
    is then tried once more. Returns ``(pk, from_status, outcome)`` for every move made.
    """
    if not outcomes:
        return []
    now = timezone.now()
    guard = guard or {}
    with transaction.atomic():
        # A write first, so SQLite takes its write lock before any read of ours.
        if exchange is not None and exchange.pk is None:
            exchange.save()
        moved = _update_in_groups(outcomes, now, guard)
        done = {pk for pk, _, _ in moved}
        missed = [o for o in outcomes if o.pk not in done]
        if missed and decide is not None:
            current = dict(
                Message.objects.filter(pk__in=[o.pk for o in missed], **guard).values_list(
                    "pk", "status"
                )
            )
            again = []
            for outcome in missed:
                if outcome.pk not in current:
                    continue
                adapted = decide(Message(pk=outcome.pk, status=current[outcome.pk]), outcome)
                if current[outcome.pk] in adapted.expected:
                    again.append(adapted)
            moved += _update_in_groups(again, now, guard)
        MessageEvent.objects.bulk_create(
            MessageEvent(
                message_id=pk,
                from_status=from_status,
                to_status=outcome.to_status,
                source=source,
                note=outcome.note,
                data=outcome.data,
                exchange=exchange,
                created_at=now,
            )
            for pk, from_status, outcome in moved
        )
    for pk, from_status, outcome in moved:
        _announce_one(pk, from_status, outcome.to_status, source)
    return moved


#: Rows per UPDATE … FROM (VALUES …): well inside every database's limit on parameters.
VALUES_CHUNK = 100


def _update_in_groups(
    outcomes: list[Outcome], now: Any, guard: dict[str, Any]
) -> list[tuple[int, str, Outcome]]:
    groups: dict[tuple[Any, ...], list[Outcome]] = {}
    for outcome in outcomes:
        (expected,) = outcome.expected
        if not can_move(expected, outcome.to_status):
            continue
        key = (expected, outcome.to_status, tuple(sorted(outcome.fields)))
        groups.setdefault(key, []).append(outcome)
    moved: list[tuple[int, str, Outcome]] = []
    for (expected, to_status, names), alike in groups.items():
        shared = [n for n in names if len({repr(o.fields[n]) for o in alike}) == 1]
        per_row = [n for n in names if n not in shared]
        for start in range(0, len(alike), VALUES_CHUNK):
            chunk = alike[start : start + VALUES_CHUNK]
            assignments = {
                "status": to_status,
                "status_changed_at": now,
                "updated_at": now,
                **{n: chunk[0].fields[n] for n in shared},
            }
            by_pk = {o.pk: o for o in chunk}
            rows = [[o.pk, *(o.fields[n] for n in per_row)] for o in chunk]
            pks = _update_from_values(assignments, per_row, rows, {"status": expected, **guard})
            moved.extend((pk, expected, by_pk[pk]) for pk in pks)
    return moved


def _update_from_values(
    assignments: dict[str, Any],
    per_row: list[str],
    rows: list[list[Any]],
    require: dict[str, Any],
) -> list[int]:
    """``UPDATE t SET … FROM (VALUES (pk, …), …) AS v WHERE t.pk = v.column1 AND …``.

    PostgreSQL and SQLite (3.33+) both name a VALUES list's columns column1, column2…
    """
    conn = connections["default"]
    meta = Message._meta
    quote = conn.ops.quote_name
    table = quote(meta.db_table)
    postgres = conn.vendor == "postgresql"
    sets: list[str] = []
    params: list[Any] = []
    for name, value in assignments.items():
        field = _field(name)
        sets.append(f"{quote(_column(field.name))} = %s")
        params.append(field.get_db_prep_save(value, conn))
    for index, name in enumerate(per_row, start=2):
        field = _field(name)
        source = f"v.column{index}"
        if postgres:  # a VALUES list's NULLs and strings carry no type of their own there
            source = f"CAST({source} AS {field.db_type(conn)})"
        sets.append(f"{quote(_column(field.name))} = {source}")
    row_sql = "(" + ", ".join(["%s"] * (1 + len(per_row))) + ")"
    for row in rows:
        params.append(row[0])
        params.extend(
            _field(name).get_db_prep_save(value, conn)
            for name, value in zip(per_row, row[1:], strict=True)
        )
    pk_source = "CAST(v.column1 AS bigint)" if postgres else "v.column1"
    where = [f"{table}.{quote(meta.pk.column)} = {pk_source}"]
    for name, value in require.items():
        field = _field(name)
        where.append(f"{table}.{quote(_column(field.name))} = %s")
        params.append(field.get_db_prep_save(value, conn))
    values = ", ".join([row_sql] * len(rows))
    # Only quoted identifiers are spliced in; every value is a parameter.
    sql = f"UPDATE {table} SET {', '.join(sets)} FROM (VALUES {values}) AS v"  # noqa: S608
    sql += f" WHERE {' AND '.join(where)} RETURNING {table}.{quote(meta.pk.column)}"
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


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


def _field(name: str) -> models.Field[Any, Any]:
    """A concrete column of Message (what the hand-written statements set and compare)."""
    field = Message._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field


def _column(name: str) -> str:
    column: str | None = _field(name).column
    assert column is not None
    return column
