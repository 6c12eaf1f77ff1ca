"""The outbox's state machine, over the in-memory gateway."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk_sms import outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.gateways.base import ErrorCategory, GatewayError
from helpdesk_sms.gateways.memory import MemoryGateway
from helpdesk_sms.models import Message, MessageEvent
from helpdesk_sms.states import Source, Status

pytestmark = pytest.mark.django_db

NUMBER = "+919812345678"


def test_dispatch_submits_queued_message_and_marks_it_accepted(memory_provider):
    [message] = send_sms(NUMBER, "Your ticket is open")

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert message.provider_message_id.startswith("mem-")
    assert [b.text for b in MemoryGateway.outbox] == ["Your ticket is open"]


def test_messages_with_the_same_text_share_one_gateway_request(memory_provider):
    send_sms(["+919812345678", "+919812345679", "+919812345680"], "Same text")

    outbox.dispatch()

    assert len(MemoryGateway.outbox) == 1
    assert len(MemoryGateway.outbox[0].recipients) == 3


def test_batches_respect_the_numbers_per_request_limit(memory_provider):
    memory_provider.options = {"max_numbers": 2}
    memory_provider.save()
    send_sms(["+919812345678", "+919812345679", "+919812345680"], "Same text")

    outbox.dispatch()

    assert sorted(len(b.recipients) for b in MemoryGateway.outbox) == [1, 2]


def test_different_texts_go_in_separate_requests(memory_provider):
    send_sms(NUMBER, "First")
    send_sms(NUMBER, "Second")

    outbox.dispatch()

    assert sorted(b.text for b in MemoryGateway.outbox) == ["First", "Second"]


def test_transient_error_requeues_with_backoff_then_sends(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.TRANSIENT, "connection refused"))

    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.next_attempt_at > timezone.now()

    outbox.dispatch()  # not due yet: nothing happens
    assert MemoryGateway.outbox == []

    outbox.dispatch(now=message.next_attempt_at + timedelta(seconds=1))
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert message.attempts == 2
    assert len(MemoryGateway.outbox) == 1


def test_retryable_error_fails_after_max_attempts(memory_provider, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "MAX_ATTEMPTS": 2, "RETRY_BACKOFF": 0}
    [message] = send_sms(NUMBER, "Hello")
    MemoryGateway.fail_next.extend(
        [GatewayError(ErrorCategory.TRANSIENT, "HTTP 503", code="503")] * 2
    )

    outbox.dispatch()
    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.error_code == "503"
    assert message.attempts == 2


def test_ambiguous_error_marks_unknown_and_never_resends(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.AMBIGUOUS, "read timeout"))

    outbox.dispatch()
    outbox.dispatch(now=timezone.now() + timedelta(days=1))

    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert MemoryGateway.outbox == []


def test_permanent_error_marks_failed_with_the_gateway_code(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    MemoryGateway.fail_next.append(
        GatewayError(ErrorCategory.INSUFFICIENT_CREDIT, "insufficient credits", code="021")
    )

    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.error_category, message.error_code) == (
        Status.FAILED,
        "insufficient_credit",
        "021",
    )


def test_a_claimed_message_cannot_be_claimed_again(memory_provider):
    send_sms(NUMBER, "Hello")

    first = outbox.claim(10, timezone.now())
    second = outbox.claim(10, timezone.now())

    assert len(first) == 1
    assert second == []


def test_scheduled_message_waits_until_its_time(memory_provider):
    later = timezone.now() + timedelta(hours=2)
    [message] = send_sms(NUMBER, "Later", send_at=later)
    assert message.status == Status.SCHEDULED

    outbox.dispatch()
    assert MemoryGateway.outbox == []

    outbox.dispatch(now=later + timedelta(seconds=1))
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED


def test_gateway_scheduling_submits_at_once_with_the_send_time(memory_provider):
    memory_provider.options = {"scheduling": "gateway"}
    memory_provider.save()
    later = timezone.now() + timedelta(hours=2)
    [message] = send_sms(NUMBER, "Later", send_at=later)

    outbox.dispatch()

    assert message.status == Status.QUEUED
    assert MemoryGateway.outbox[0].schedule_at == later


def test_every_status_change_is_recorded_with_its_source(memory_provider):
    [message] = send_sms(NUMBER, "Hello")

    outbox.dispatch()

    moves = list(
        MessageEvent.objects.filter(message=message).values_list(
            "from_status", "to_status", "source"
        )
    )
    assert moves == [
        ("", "queued", "create"),
        ("queued", "sending", "send"),
        ("sending", "accepted", "send"),
    ]


def test_operator_retry_requeues_a_failed_message(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.AUTHENTICATION, "bad key"))
    outbox.dispatch()

    assert outbox.retry(Message.objects.get(pk=message.pk))
    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED


def test_retry_records_the_source_the_operator_acted_from(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.AUTHENTICATION, "bad key"))
    outbox.dispatch()

    assert outbox.retry(Message.objects.get(pk=message.pk), source=Source.CLI)

    assert message.events.last().source == Source.CLI


def test_operator_cannot_retry_an_unknown_message(memory_provider):
    [message] = send_sms(NUMBER, "Hello")
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.AMBIGUOUS, "timeout"))
    outbox.dispatch()

    assert not outbox.retry(Message.objects.get(pk=message.pk))


def test_cancel_stops_a_scheduled_message(memory_provider):
    [message] = send_sms(NUMBER, "Later", send_at=timezone.now() + timedelta(hours=1))

    assert outbox.cancel(message)
    outbox.dispatch(now=timezone.now() + timedelta(hours=2))

    message.refresh_from_db()
    assert message.status == Status.CANCELED
    assert MemoryGateway.outbox == []


def schedule_at_gateway(provider) -> Message:
    provider.options = {"scheduling": "gateway"}
    provider.save()
    [message] = send_sms(NUMBER, "Later", send_at=timezone.now() + timedelta(hours=2))
    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    return message


def test_cancel_withdraws_a_message_the_gateway_holds_for_later(memory_provider):
    message = schedule_at_gateway(memory_provider)

    assert outbox.cancel(message)

    message.refresh_from_db()
    assert message.status == Status.CANCELED
    assert [ref.provider_message_id for ref in MemoryGateway.canceled] == [
        message.provider_message_id
    ]


def test_a_gateway_refusing_to_cancel_leaves_the_message_accepted(memory_provider):
    message = schedule_at_gateway(memory_provider)
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.INVALID_REQUEST, "already sent"))

    with pytest.raises(GatewayError, match="already sent"):
        outbox.cancel(message)

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED


def test_an_accepted_message_due_now_cannot_be_canceled(memory_provider):
    [message] = send_sms(NUMBER, "Now")
    outbox.dispatch()

    assert not outbox.cancel(Message.objects.get(pk=message.pk))
    assert MemoryGateway.canceled == []


def test_the_same_number_twice_goes_in_separate_requests(memory_provider):
    send_sms(NUMBER, "Same text")
    send_sms(NUMBER, "Same text")

    outbox.dispatch()

    assert [len(batch.recipients) for batch in MemoryGateway.outbox] == [1, 1]
    assert Message.objects.filter(status=Status.ACCEPTED).count() == 2


def test_canceling_a_held_group_send_cancels_its_members(memory_provider):
    from helpdesk_sms.models import RecipientGroup

    memory_provider.options = {"scheduling": "gateway"}
    memory_provider.save()
    group = RecipientGroup.objects.create(
        name="Field", provider=memory_provider, provider_group_id="7"
    )
    later = timezone.now() + timedelta(hours=2)
    [group_send] = send_sms(None, "Later", group=group, send_at=later)
    outbox.dispatch()

    assert outbox.cancel(Message.objects.get(pk=group_send.pk))

    members = Message.objects.filter(parent=group_send).order_by("recipient")
    assert [(m.recipient, m.status) for m in members] == [
        ("+919812345601", Status.CANCELED),
        ("+919812345602", Status.CANCELED),
    ]
    assert str(members[0]) == f"SMS #{members[0].pk} to +919812345601 (canceled)"
