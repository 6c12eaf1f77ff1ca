"""Bytes the message log keeps per message: logical (row text) and physical (on disk).

Logical: the length of every column's text of the rows a run wrote (message, events with
their data JSON, gateway exchanges where the model exists), the same way on every
database. Physical: the growth of those tables with their indexes and TOAST
(``pg_total_relation_size``; SQLite's ``dbstat``), dead row versions included, since an
unvacuumed table really is that big.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .perf_env import log_models


@dataclass
class Snapshot:
    """Where each log table stood before a run: its highest pk and its size."""

    watermarks: dict[str, int] = field(default_factory=dict)
    physical: dict[str, int] = field(default_factory=dict)


def physical_size(table: str) -> int | None:
    """Bytes of ``table`` with its indexes (None where the database cannot tell)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            return int(cursor.fetchone()[0])
        try:
            cursor.execute(
                "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN "
                "(SELECT name FROM sqlite_master WHERE tbl_name = %s)",
                [table],
            )
        except Exception:  # SQLite built without dbstat
            return None
        return int(cursor.fetchone()[0])


def snapshot() -> Snapshot:
    """The state to measure a run against."""
    from django.db.models import Max

    snap = Snapshot()
    for model in log_models():
        table = model._meta.db_table
        snap.watermarks[table] = model.objects.aggregate(top=Max("pk"))["top"] or 0
        size = physical_size(table)
        if size is not None:
            snap.physical[table] = size
    return snap


def _text_length(value: Any, is_json: bool) -> int:
    if value is None:
        return 0
    if is_json:
        return len(json.dumps(value).encode())  # as JSONField writes it
    return len(str(value).encode())


def measure(before: Snapshot, messages: int) -> dict[str, Any]:
    """Bytes per message written since ``before``: logical and physical, per table."""
    from django.db import models

    logical: dict[str, int] = {}
    physical: dict[str, int] = {}
    rows: dict[str, int] = {}
    for model in log_models():
        table = model._meta.db_table
        fields = [f for f in model._meta.concrete_fields]
        is_json = [isinstance(f, models.JSONField) for f in fields]
        total = count = 0
        query = model.objects.filter(pk__gt=before.watermarks.get(table, 0)).order_by()
        for values in query.values_list(*[f.attname for f in fields]).iterator(chunk_size=2000):
            count += 1
            total += sum(_text_length(v, j) for v, j in zip(values, is_json, strict=True))
        logical[table], rows[table] = total, count
        size = physical_size(table)
        if size is not None and table in before.physical:
            physical[table] = size - before.physical[table]
    per = max(1, messages)
    return {
        "logical": sum(logical.values()) / per,
        "physical": (sum(physical.values()) / per) if physical else None,
        "by_table": {t: round(v / per) for t, v in logical.items()},
        "rows": rows,
    }


def breakdown(result: dict[str, Any]) -> str:
    """``message 310 B, messageevent 1,020 B (3.0 rows/msg)`` for a row's note."""
    parts = []
    for table, size in result["by_table"].items():
        short = table.removeprefix("helpdesk_sms_")
        parts.append(f"{short} {size:,} B ({result['rows'][table]} rows)")
    return "logical by table per message: " + ", ".join(parts)
