"""The whole path over a real socket: ticket -> outbox -> Canlog simulator -> report.

These are the at-most-once promises, proved against the simulator's faults.
"""

from __future__ import annotations

import logging
import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from helpdesk_sms import outbox, reports
from helpdesk_sms.api import send_sms
from helpdesk_sms.models import Message, MessageEvent
from helpdesk_sms.simulators.canlog import CanlogSimulator
from helpdesk_sms.states import Status
from project.demo.models import Ticket

from .fixtures_simulators import CANLOG_API_KEY

NUMBER = "+919812345678"


@pytest.fixture
def provider(canlog_provider):
    return canlog_provider


def sent_numbers(sim) -> list[str]:
    return [m["number"] for m in sim.state()["messages"]]


def send_requests(sim) -> list[dict]:
    return [r for r in sim.state()["requests"] if r["path"].endswith("SendSMS")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db
def test_ticket_sms_reaches_the_gateway_and_then_delivered(provider, canlog_sim):
    Ticket.objects.create(title="Printer jammed", customer_name="Ravi", customer_phone=NUMBER)

    outbox.dispatch()
    message = Message.objects.get()
    assert message.status == Status.ACCEPTED
    assert sent_numbers(canlog_sim) == ["919812345678"]

    canlog_sim.advance(60)
    reports.poll_reports()

    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.events.last().source == "poll"


@pytest.mark.django_db
def test_undelivered_report_marks_the_message_undelivered(provider, canlog_sim):
    canlog_sim.undeliverable = {"919812345678"}
    [message] = send_sms(NUMBER, "Hello")
    outbox.dispatch()

    canlog_sim.advance(60)
    reports.poll_reports()

    message.refresh_from_db()
    assert message.status == Status.UNDELIVERED


@pytest.mark.django_db
def test_timeout_after_send_marks_unknown_and_never_resends(provider, canlog_sim, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "READ_TIMEOUT": 0.5}
    canlog_sim.set_faults(read_timeout=2, times=1)
    [message] = send_sms(NUMBER, "Hello")

    outbox.dispatch()
    outbox.dispatch(now=timezone.now() + timedelta(days=1))

    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert message.error_category == "ambiguous"
    assert len(send_requests(canlog_sim)) == 1


@pytest.mark.django_db
def test_connection_refused_is_retried_and_then_succeeds(provider):
    port = free_port()
    provider.base_url = f"http://127.0.0.1:{port}"
    provider.save()
    [message] = send_sms(NUMBER, "Hello")

    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.error_category == "transient"

    sim = CanlogSimulator(api_key=CANLOG_API_KEY)
    sim.start(port=port)
    try:
        outbox.dispatch(now=message.next_attempt_at + timedelta(seconds=1))
        message.refresh_from_db()
        assert message.status == Status.ACCEPTED
        assert sent_numbers(sim) == ["919812345678"]
    finally:
        sim.stop()


@pytest.mark.django_db
def test_http_500_is_retried_not_failed(provider, canlog_sim):
    canlog_sim.set_faults(http_500=True, times=1)
    [message] = send_sms(NUMBER, "Hello")

    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.QUEUED

    outbox.dispatch(now=message.next_attempt_at + timedelta(seconds=1))
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert sent_numbers(canlog_sim) == ["919812345678"]


@pytest.mark.django_db
def test_malformed_answer_marks_unknown(provider, canlog_sim):
    canlog_sim.set_faults(malformed=True, times=1)
    [message] = send_sms(NUMBER, "Hello")

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.UNKNOWN


@pytest.mark.django_db
def test_exhausted_credit_fails_the_message_with_the_gateway_code(provider, canlog_sim):
    canlog_sim.set_faults(credit_exhausted=True)
    [message] = send_sms(NUMBER, "Hello")

    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.error_category, message.error_code) == (
        Status.FAILED,
        "insufficient_credit",
        "021",
    )


@pytest.mark.django_db
def test_one_request_carries_all_numbers_of_the_same_text(provider, canlog_sim):
    send_sms([NUMBER, "+919812345679", "+919812345680"], "Same text")

    outbox.dispatch()

    assert len(send_requests(canlog_sim)) == 1
    assert Message.objects.filter(status=Status.ACCEPTED).count() == 3
    assert len(set(Message.objects.values_list("provider_message_id", flat=True))) == 3


@pytest.mark.django_db
def test_secrets_never_reach_logs_or_stored_events(provider, canlog_sim, caplog, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "READ_TIMEOUT": 0.5}
    canlog_sim.set_faults(read_timeout=2, times=1)
    send_sms(NUMBER, "one")
    send_sms(NUMBER, "two")
    provider_port = provider.base_url.rsplit(":", 1)[1]

    with caplog.at_level(logging.DEBUG):
        outbox.dispatch()  # one times out after sending, one is accepted
        provider.base_url = f"http://127.0.0.1:{free_port()}"
        provider.save()
        send_sms(NUMBER, "three")
        outbox.dispatch()  # refused: the exception text names the URL

    stored = " ".join(
        str(e.full_data) + e.note for e in MessageEvent.objects.select_related("exchange")
    )
    stored += " ".join(Message.objects.values_list("error_text", flat=True))
    assert provider_port  # the simulator was really used
    assert CANLOG_API_KEY not in caplog.text
    assert CANLOG_API_KEY not in stored
    assert "APIKey" in stored  # the request was recorded, with the key masked


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_submit_each_message_once(provider, canlog_sim):
    if connection.vendor != "postgresql":
        pytest.skip("needs a database that serves several connections at once (PostgreSQL)")
    send_sms([f"+9198123456{n:02d}" for n in range(10, 40)], "Same text")
    provider.options = {**provider.options, "max_numbers": 3}
    provider.save()
    canlog_sim.set_faults(latency=0.05)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            outbox.dispatch(limit=5)
            outbox.dispatch()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    numbers = sent_numbers(canlog_sim)
    assert len(numbers) == 30
    assert len(set(numbers)) == 30
    assert Message.objects.filter(status=Status.ACCEPTED).count() == 30


@pytest.mark.django_db
def test_group_send_records_and_follows_each_member(provider, canlog_sim):
    from helpdesk_sms.models import RecipientGroup

    group = RecipientGroup.objects.create(
        name="Field team", provider=provider, provider_group_id="7"
    )
    [group_send] = send_sms(None, "Site visit at 10", group=group)
    outbox.dispatch()

    members = Message.objects.filter(parent=group_send)
    assert sorted(members.values_list("recipient", flat=True)) == [
        "+919812345678",
        "+919812345679",
    ]
    assert send_requests(canlog_sim)[0]["params"]["groupid"] == "7"

    canlog_sim.advance(60)
    reports.poll_reports()

    assert set(members.values_list("status", flat=True)) == {Status.DELIVERED}


@pytest.mark.django_db
def test_two_messages_with_the_same_text_to_one_number_each_get_their_own_id(
    provider, canlog_sim
):
    send_sms(NUMBER, "Your ticket is open")
    send_sms(NUMBER, "Your ticket is open")

    outbox.dispatch()
    canlog_sim.advance(60)
    reports.poll_reports()

    assert list(Message.objects.values_list("status", flat=True)) == [Status.DELIVERED] * 2
