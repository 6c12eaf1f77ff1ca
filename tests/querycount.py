"""Count the SQL the app adds to a host's save: the same save with and without the app."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

#: Statements that only delimit a transaction or savepoint.
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "BEGIN", "COMMIT")


@dataclass(frozen=True)
class Added:
    """What the app added to one save: all statements, and the queries among them."""

    statements: int
    queries: int  # without SAVEPOINT / RELEASE / BEGIN / COMMIT

    @property
    def savepoints(self) -> int:
        return self.statements - self.queries


def captured(action: Callable[[], object], *, atomic: bool) -> list[str]:
    """The SQL ``action`` ran, in a host transaction of its own when ``atomic``."""
    host = transaction.atomic() if atomic else contextlib.nullcontext()
    with CaptureQueriesContext(connection) as capture, host:
        action()
    return [query["sql"] for query in capture.captured_queries]


def added(with_app: list[str], without_app: list[str]) -> Added:
    def queries(sql: list[str]) -> int:
        return sum(not s.startswith(TRANSACTION_CONTROL) for s in sql)

    return Added(
        statements=len(with_app) - len(without_app),
        queries=queries(with_app) - queries(without_app),
    )


@contextlib.contextmanager
def app_disabled(disconnect: Callable[[], object], connect: Callable[[], object]) -> Iterator[None]:
    """The host's saves as they are without the app: its integration disconnected."""
    disconnect()
    try:
        yield
    finally:
        connect()
