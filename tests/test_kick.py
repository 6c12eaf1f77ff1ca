"""A ticket save never waits on the broker: down, refusing or frozen, it costs a save
nothing, and the message waits for the sweep instead of being lost."""

from __future__ import annotations

import itertools
import logging
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from helpdesk_sms import kick
from helpdesk_sms.models import Message
from helpdesk_sms.states import Status
from project.demo.models import Ticket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_templates"),
]


@pytest.fixture
def frozen_broker() -> Iterator[str]:
    """A port that accepts connections and never answers: a broker stopped with SIGSTOP."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()


@pytest.fixture
def broker(settings):
    """Point the Celery app at another broker for one test."""
    from project.celery import app

    original = app.conf.broker_url, app.conf.broker_transport_options

    def use(url: str, options: dict | None = None) -> None:
        # The demo's settings for a Redis broker: bounded socket waits.
        app.conf.broker_url = url
        app.conf.broker_transport_options = options or {
            "socket_timeout": 2,
            "socket_connect_timeout": 2,
        }
        app.pool.force_close_all()

    yield use
    use(*original)


#: A customer number per ticket saved: a number's fourth ticket in an hour is not texted.
CUSTOMERS = itertools.count()


def save_ticket(n: int) -> float:
    phone = f"+9198123{next(CUSTOMERS):05}"
    started = time.perf_counter()
    Ticket.objects.create(title=f"Printer {n}", customer_name="Ravi", customer_phone=phone)
    return time.perf_counter() - started


def median_save(settings, dispatch: str, runs: int = 7) -> float:
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "DISPATCH": dispatch}
    return statistics.median(save_ticket(n) for n in range(runs))


def wait_until(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_frozen_broker_slows_a_ticket_save_by_less_than_50ms(
    memory_provider, settings, broker, frozen_broker
):
    broker(frozen_broker)
    median_save(settings, "none", runs=2)  # warm up
    without_kick = median_save(settings, "none")

    with_frozen_broker = median_save(settings, "celery")

    assert with_frozen_broker - without_kick < 0.050
    assert Message.objects.filter(status=Status.QUEUED).count() == Ticket.objects.count()


def test_a_refusing_broker_slows_a_ticket_save_by_less_than_50ms(memory_provider, settings, broker):
    broker("redis://127.0.0.1:1/0")  # nothing listens on port 1
    median_save(settings, "none", runs=2)
    without_kick = median_save(settings, "none")

    refused = median_save(settings, "celery")

    assert refused - without_kick < 0.050


def test_a_failed_kick_is_logged_and_leaves_the_message_for_the_sweep(
    memory_provider, settings, broker, caplog
):
    broker("redis://127.0.0.1:1/0")
    failures = kick.publisher.failures
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "DISPATCH": "celery"}

    with caplog.at_level(logging.WARNING, logger="helpdesk_sms"):
        save_ticket(1)
        assert wait_until(lambda: kick.publisher.failures > failures)

    assert "the sweep will" in caplog.text
    assert Message.objects.get().status == Status.QUEUED


def test_kicks_made_while_one_is_publishing_fold_into_one_more(memory_provider, monkeypatch):
    calls: list[float] = []
    release = threading.Event()

    def slow_publish() -> None:
        calls.append(time.monotonic())
        release.wait(5)

    publisher = kick.Publisher()
    monkeypatch.setattr(publisher, "publish", slow_publish)

    publisher.request()
    assert wait_until(lambda: len(calls) == 1, 5)
    for _ in range(50):
        publisher.request()
    release.set()

    assert wait_until(lambda: len(calls) == 2, 5)
    time.sleep(0.2)
    assert len(calls) == 2
