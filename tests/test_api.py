"""helpdesk_sms.send_sms: what it queues and what it refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

import helpdesk_sms
from helpdesk_sms.exceptions import (
    EmptyText,
    InvalidRecipient,
    InvalidSchedule,
    InvalidSender,
    UnknownProvider,
)
from helpdesk_sms.models import Message
from helpdesk_sms.states import Status

pytestmark = pytest.mark.django_db


def test_send_sms_queues_a_message_in_e164(memory_provider):
    [message] = helpdesk_sms.send_sms("098123 45678", "Hello")

    assert message.recipient == "+919812345678"
    assert message.status == Status.QUEUED
    assert (message.provider, message.sender, message.parts) == (memory_provider, "HELPDK", 1)


def test_send_sms_counts_parts_of_a_long_text(memory_provider):
    [message] = helpdesk_sms.send_sms("+919812345678", "x" * 161)

    assert message.parts == 2


def test_send_sms_refuses_an_invalid_number_and_writes_nothing(memory_provider):
    with pytest.raises(InvalidRecipient) as error:
        helpdesk_sms.send_sms(["+919812345678", "12345"], "Hello")

    assert error.value.field == "to"
    assert Message.objects.count() == 0


def test_send_sms_refuses_an_unknown_provider(memory_provider):
    with pytest.raises(UnknownProvider, match="nope"):
        helpdesk_sms.send_sms("+919812345678", "Hello", provider="nope")


def test_send_sms_refuses_empty_text(memory_provider):
    with pytest.raises(EmptyText):
        helpdesk_sms.send_sms("+919812345678", "   ")


def test_send_sms_refuses_a_send_time_in_the_past(memory_provider):
    with pytest.raises(InvalidSchedule) as error:
        helpdesk_sms.send_sms("+919812345678", "Hello", send_at=timezone.now() - timedelta(hours=1))

    assert error.value.field == "send_at"


def test_send_sms_without_any_provider_says_none_is_configured(db):
    with pytest.raises(UnknownProvider, match="No active SMS provider"):
        helpdesk_sms.send_sms("+919812345678", "Hello")


def test_send_sms_refuses_a_provider_without_sender(memory_provider):
    memory_provider.default_sender = None
    memory_provider.save()

    with pytest.raises(InvalidSender, match="no default sender"):
        helpdesk_sms.send_sms("+919812345678", "Hello")


def test_send_sms_with_the_same_idempotency_key_returns_the_first_message(memory_provider):
    [first] = helpdesk_sms.send_sms("+919812345678", "Hello", idempotency_key="order-7")
    [again] = helpdesk_sms.send_sms("+919812345678", "Hello", idempotency_key="order-7")

    assert again.pk == first.pk
    assert Message.objects.count() == 1


def test_send_sms_to_a_group_texts_each_active_member(memory_provider):
    from helpdesk_sms.models import Contact, RecipientGroup

    group = RecipientGroup.objects.create(name="On-call")
    group.members.add(
        Contact.objects.create(name="A", phone="+919812345601"),
        Contact.objects.create(name="B", phone="+919812345602"),
        Contact.objects.create(name="C", phone="+919812345603", opted_out=True),
    )

    messages = helpdesk_sms.send_sms(None, "Server down", group="On-call")

    assert sorted(m.recipient for m in messages) == ["+919812345601", "+919812345602"]
