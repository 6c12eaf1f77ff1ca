"""Run our work on the host's save path so that it can never abort the host's transaction.

The rule: every query of ours on the host's save path runs in exactly one savepoint of ours
when the host is in a transaction, and in none when it is in autocommit. Exactly one, not
one per layer: each SAVEPOINT and RELEASE is a statement the host's save pays for, and a
failure is caught right where the savepoint it needs was taken (``notify`` takes its own;
the receivers and integrations around it take none unless they query themselves).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.db import connections, models, transaction


@contextlib.contextmanager
def inside_host_transaction(using: str = "default") -> Iterator[None]:
    """A savepoint when the host is in a transaction; nothing when it is in autocommit.

    In a transaction, a failed query of ours would otherwise abort the host's transaction
    (on PostgreSQL) even when we catch the error. In autocommit there is nothing to abort,
    and opening a transaction of our own would change what ``on_commit`` means for code
    inside: "after the host commits" would become "when our block ends".
    """
    if connections[using].in_atomic_block:
        with transaction.atomic(using=using):
            yield
    else:
        yield


def related(instance: models.Model, name: str, using: str = "default") -> Any:
    """``instance.<name>`` (a foreign key), loaded in a savepoint if it is not in memory yet.

    Usually it is (the host assigned an object) and this costs nothing; a lazy load is a
    query of ours on the host's save path, so it gets the savepoint any of ours gets.
    """
    field = instance._meta.get_field(name)
    if (
        not isinstance(field, models.ForeignKey)
        or field.is_cached(instance)
        or getattr(instance, field.attname) is None
    ):
        return getattr(instance, name, None)
    with inside_host_transaction(using):
        return getattr(instance, name, None)


def host_transaction_lost(using: str = "default") -> bool:
    """True when the host's transaction can no longer commit: its connection broke while
    our work ran (killed, or the savepoint could not be rolled back).

    Then swallowing our error would be a lie: Django would roll the host's whole block back
    in silence at its end, and the host would believe its ticket saved. Re-raising tells the
    truth, and it is the database's failure, not the SMS's.
    """
    conn = connections[using]
    if not conn.in_atomic_block:
        return False
    return bool(conn.needs_rollback or conn.closed_in_transaction or not conn.is_usable())

