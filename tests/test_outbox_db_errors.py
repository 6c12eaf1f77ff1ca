"""A database that fails mid-pass strands nothing: each claimed message ends queued again
(its request never started) or in the state its request's fate proves.

PostgreSQL only: it takes a real outage of the database under a running pass (the
worker's connection killed, the database refusing writes for a while), which an
in-memory SQLite test database cannot stage.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from helpdesk_sms import conf, outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.gateways.base import Batch
from helpdesk_sms.gateways.memory import MemoryGateway
from helpdesk_sms.models import Message
from helpdesk_sms.states import Status

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="stages a real outage of a PostgreSQL server"
    ),
]


@pytest.fixture
def admin_connection():
    """A connection of our own to the test database, outside Django's."""
    import psycopg

    settings = connection.settings_dict
    conn = psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"] or "postgres",
        dbname=settings["NAME"],
        autocommit=True,
    )
    yield conn
    conn.execute(f'ALTER DATABASE "{settings["NAME"]}" RESET default_transaction_read_only')
    conn.close()


def database_goes_read_only(admin_connection) -> None:
    """The worker's connection is killed and every new one refuses writes: an outage."""
    name = connection.settings_dict["NAME"]
    admin_connection.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    admin_connection.execute("SELECT pg_terminate_backend(%s)", [pid])


def database_comes_back(admin_connection) -> None:
    name = connection.settings_dict["NAME"]
    admin_connection.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    connection.close()


def later(setting: str) -> timezone.datetime:
    return timezone.now() + timedelta(seconds=int(conf.get(setting)) + 1)


def test_an_outage_mid_pass_leaves_unsent_claims_to_be_sent_once_and_the_sent_one_unknown(
    memory_provider, admin_connection, monkeypatch
):
    monkeypatch.setattr(outbox, "RECORD_RETRY_DELAYS", (0.05, 0.05))
    for text in ("First", "Second", "Third"):
        send_sms("+919812345678", text)

    def outage(batch: Batch) -> None:
        database_goes_read_only(admin_connection)

    MemoryGateway.while_sending.append(outage)

    with pytest.raises(DatabaseError):
        outbox.dispatch()
    database_comes_back(admin_connection)

    first = Message.objects.get(body="First")
    assert first.status == Status.SENDING and first.request_started_at is not None
    assert set(Message.objects.exclude(pk=first.pk).values_list("status", flat=True)) == {
        Status.SENDING  # claimed, never started: the lease decides
    }

    outbox.dispatch(now=later("CLAIM_LEASE"))
    outbox.dispatch(now=later("STALE_SENDING_AFTER"))

    statuses = dict(Message.objects.values_list("body", "status"))
    assert statuses == {
        "First": Status.UNKNOWN,  # the gateway has it; its answer was lost with the database
        "Second": Status.ACCEPTED,
        "Third": Status.ACCEPTED,
    }
    assert sorted(batch.text for batch in MemoryGateway.outbox) == ["First", "Second", "Third"]


def test_a_dropped_connection_while_a_request_is_out_does_not_lose_its_answer(
    memory_provider, admin_connection
):
    [message] = send_sms("+919812345678", "Hello")

    def drop_connection(batch: Batch) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        admin_connection.execute("SELECT pg_terminate_backend(%s)", [pid])

    MemoryGateway.while_sending.append(drop_connection)

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert message.provider_message_id
