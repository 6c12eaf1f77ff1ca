"""When the database itself fails under our work on the host's save path, the host hears
of it: its transaction is lost either way, and swallowing our error would let Django roll
the host's whole block back in silence while the host believes its ticket saved.

PostgreSQL only: it takes a real connection killed in the middle of a host's transaction.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from project.demo.models import Task, Ticket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_templates", "memory_provider"),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="kills a PostgreSQL connection mid-transaction"
    ),
]


def kill_my_connection_then_answer(ticket) -> str:
    """A phone resolver that finds the database gone while it runs."""
    import psycopg

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"] or "postgres",
        dbname=settings["NAME"],
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    return "+919812345678"


def test_a_connection_killed_under_our_work_fails_the_hosts_block_instead_of_hiding_it(
    settings,
):
    with transaction.atomic():
        ticket = Ticket.objects.create(title="Printer", customer_name="Ravi")
    connection.close()
    settings.HELPDESK_SMS = {
        **settings.HELPDESK_SMS,
        "CUSTOMER_PHONE_RESOLVER": "tests.test_host_transaction.kill_my_connection_then_answer",
    }

    with pytest.raises(DatabaseError), transaction.atomic():
        Task.objects.create(ticket=ticket, title="Replace the drum")

    connection.close()
    assert not Task.objects.exists()  # rolled back, and the host was told


def test_an_sms_failure_in_a_healthy_transaction_still_never_reaches_the_host(settings):
    settings.HELPDESK_SMS = {
        **settings.HELPDESK_SMS,
        "CUSTOMER_PHONE_RESOLVER": "tests.test_host_transaction.no_such_resolver",
    }

    with transaction.atomic():
        Ticket.objects.create(title="Printer", customer_name="Ravi", customer_phone="+91981")

    assert Ticket.objects.count() == 1
