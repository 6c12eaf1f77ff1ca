"""The outbox tells the truth under crashes: what a killed worker, a slow request, a late
answer or a failing database leave behind. Runs on SQLite and, in CI, on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk_sms import conf, outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.gateways.base import Batch, ErrorCategory, GatewayError
from helpdesk_sms.gateways.memory import MemoryGateway
from helpdesk_sms.models import GatewayExchange, Message, MessageEvent
from helpdesk_sms.states import Status

pytestmark = pytest.mark.django_db

NUMBER = "+919812345678"


def later(seconds: float) -> timezone.datetime:
    return timezone.now() + timedelta(seconds=seconds)


def lease() -> int:
    return int(conf.get("CLAIM_LEASE"))


def stale_after() -> int:
    return int(conf.get("STALE_SENDING_AFTER"))


def sent_numbers() -> list[str]:
    return [r.number for batch in MemoryGateway.outbox for r in batch.recipients]


def test_unsent_claim_of_a_stopped_worker_is_queued_again_and_sent_once(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    outbox.claim(10, timezone.now())  # a worker took it and died before its request

    report = outbox.dispatch(now=later(lease() + 1))

    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.ACCEPTED, 1)
    assert report.requeued == 1
    assert sent_numbers() == [NUMBER]


def test_unsent_claim_within_its_lease_is_left_to_its_worker(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    outbox.claim(10, timezone.now())

    outbox.dispatch(now=later(lease() - 5))

    message.refresh_from_db()
    assert message.status == Status.SENDING
    assert MemoryGateway.outbox == []


def test_started_request_with_no_answer_becomes_unknown_and_is_not_resent(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    claim = outbox.Claim()
    outbox.mark_started(outbox.claim(10, timezone.now(), claim=claim), claim)  # then died

    outbox.dispatch(now=later(stale_after() + 1))
    outbox.dispatch(now=later(stale_after() + 3600))

    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert message.error_category == ErrorCategory.AMBIGUOUS
    assert MemoryGateway.outbox == []


def test_a_started_request_is_not_swept_before_stale_after_from_its_own_start(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    claim = outbox.Claim()
    outbox.mark_started(outbox.claim(10, timezone.now(), claim=claim), claim)

    outbox.dispatch(now=later(stale_after() - 5))

    message.refresh_from_db()
    assert message.status == Status.SENDING


def test_sweep_never_touches_a_message_whose_request_is_in_flight(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    # Another worker sweeps while this request is out, long after the message was created.
    MemoryGateway.while_sending.append(lambda batch: outbox.dispatch(now=later(stale_after() - 5)))

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert message.provider_message_id


def test_late_answer_resolves_a_message_already_marked_unknown(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    # The request takes so long that another worker's sweep gives up on it meanwhile.
    MemoryGateway.while_sending.append(lambda batch: outbox.expire_stale_sending(later(1e6)))

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert message.provider_message_id.startswith("mem-")
    moves = list(message.events.values_list("from_status", "to_status", "note"))
    assert moves[-2][:2] == (Status.SENDING, Status.UNKNOWN)
    assert moves[-1][:2] == (Status.UNKNOWN, Status.ACCEPTED)
    assert moves[-1][2].startswith("late answer")


def test_late_refusal_of_an_unknown_message_fails_it(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    MemoryGateway.while_sending.append(lambda batch: outbox.expire_stale_sending(later(1e6)))
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.INVALID_RECIPIENT, "bad number"))

    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.error_category) == (Status.FAILED, "invalid_recipient")


def test_late_not_taken_answer_of_an_unknown_message_fails_it_and_never_resends(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    MemoryGateway.while_sending.append(lambda batch: outbox.expire_stale_sending(later(1e6)))
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.TRANSIENT, "HTTP 503", code="503"))

    outbox.dispatch()
    outbox.dispatch(now=later(3600))

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert MemoryGateway.outbox == []


def test_claim_taken_back_by_the_sweep_is_not_sent_by_the_pass_that_lost_it(memory_provider):
    send_sms(NUMBER, "First")
    send_sms("+919812345679", "Second")

    def sweep_and_send_the_rest(batch: Batch) -> None:
        # While the first request is out, the other claim's lease is long gone: another
        # worker takes it back and sends it itself.
        outbox.dispatch(now=later(lease() * 10))

    MemoryGateway.while_sending.append(sweep_and_send_the_rest)

    outbox.dispatch()

    assert sorted(sent_numbers()) == sorted([NUMBER, "+919812345679"])
    assert set(Message.objects.values_list("status", flat=True)) == {Status.ACCEPTED}


def test_an_adapter_crash_leaves_unsent_claims_of_the_pass_queued(memory_provider):
    send_sms(NUMBER, "First")
    send_sms("+919812345679", "Second")

    def crash(batch: Batch) -> None:
        raise KeyboardInterrupt  # not an Exception: ends the whole pass mid-request

    MemoryGateway.while_sending.append(crash)

    with pytest.raises(KeyboardInterrupt):
        outbox.dispatch()

    statuses = dict(Message.objects.values_list("body", "status"))
    assert statuses == {"First": Status.SENDING, "Second": Status.QUEUED}
    first = Message.objects.get(body="First")
    assert first.request_started_at is not None  # the gateway may have it: sweep -> unknown
    assert Message.objects.get(body="Second").attempts == 0


def test_one_request_is_stored_once_for_all_its_messages(memory_provider):
    send_sms([f"+9198123456{n:02}" for n in range(20)], "Same text")

    outbox.dispatch()

    [exchange] = GatewayExchange.objects.all()
    assert exchange.numbers == 20
    assert len(exchange.request["numbers"]) == 20
    accepted = MessageEvent.objects.filter(to_status=Status.ACCEPTED)
    assert set(accepted.values_list("exchange", flat=True)) == {exchange.pk}
    assert all("request" not in data for data in accepted.values_list("data", flat=True))


def test_message_timeline_shows_the_shared_request_and_answer(memory_provider):
    [message] = send_sms(NUMBER, "Hello")

    outbox.dispatch()

    event = message.events.get(to_status=Status.ACCEPTED)
    assert event.full_data["request"]["numbers"] == [NUMBER]


def test_claiming_a_chunk_counts_its_attempt_in_the_same_statement(
    memory_provider, django_assert_max_num_queries
):
    send_sms([f"+9198123456{n:02}" for n in range(30)], "Hello")

    # UPDATE … RETURNING, the events' bulk insert, the read of the rows (+ a savepoint)
    with django_assert_max_num_queries(5):
        claimed = outbox.claim(100, timezone.now())

    assert len(claimed) == 30
    assert {m.attempts for m in claimed} == {1}
