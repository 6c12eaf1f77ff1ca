"""Run our work on the host's save path so that it can never abort the host's transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connections, transaction


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
