"""The same push arriving at several workers at once is stored once and processed once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from helpdesk_sms.inbound import Received, receive
from helpdesk_sms.inbound_models import InboundMessage
from helpdesk_sms.models import Provider
from helpdesk_sms.signals import sms_received

WORKERS = 8


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need a server database"
)
@pytest.mark.django_db(transaction=True)
def test_simultaneous_duplicate_pushes_store_one_row_and_process_it_once():
    provider = Provider.objects.create(name="Busy", gateway="memory")
    push = {"from": "+919812345678", "text": "YES", "id": "same-sms"}
    announced: list[int] = []

    def listener(sender, message, **kwargs):
        announced.append(message.pk)

    sms_received.connect(listener, weak=False)
    start = threading.Barrier(WORKERS)
    results: list[Received | BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            results.append(receive(provider, push))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    sms_received.disconnect(listener)

    [message] = InboundMessage.objects.all()
    assert all(isinstance(r, Received) for r in results), results
    assert sum(r.created for r in results if isinstance(r, Received)) == 1
    assert message.repeat_count == WORKERS
    assert announced == [message.pk]
