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


def test_a_number_outside_the_providers_allowed_countries_is_refused(memory_provider):
    memory_provider.allowed_countries = "NG, AZ"
    memory_provider.save()

    with pytest.raises(InvalidRecipient, match="IN, which is not an allowed destination"):
        helpdesk_sms.send_sms("+919812345678", "Hello")

    assert Message.objects.count() == 0


def test_a_number_inside_the_allowed_countries_is_queued(memory_provider):
    memory_provider.allowed_countries = "NG"
    memory_provider.save()

    [message] = helpdesk_sms.send_sms("+2348031234567", "Hello")

    assert message.recipient == "+2348031234567"


def test_the_providers_default_region_reads_national_numbers(memory_provider):
    memory_provider.default_region = "NL"
    memory_provider.save()

    [message] = helpdesk_sms.send_sms("06 12345678", "Hallo")

    assert message.recipient == "+31612345678"


def test_smart_replace_keeps_a_pasted_quote_from_making_the_text_unicode(memory_provider):
    [message] = helpdesk_sms.send_sms("+919812345678", "We’ll call you", smart_replace=True)

    assert (message.body, message.encoding) == ("We'll call you", "gsm7")
    assert "'’' -> \"'\"" in message.events.get().note


def test_without_smart_replace_the_text_is_sent_as_written(memory_provider):
    [message] = helpdesk_sms.send_sms("+919812345678", "We’ll call you")

    assert (message.body, message.encoding) == ("We’ll call you", "ucs2")


def test_the_site_setting_turns_smart_replace_on_everywhere(memory_provider, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "SMART_REPLACE": True}

    [message] = helpdesk_sms.send_sms("+919812345678", "Wait…")

    assert message.body == "Wait..."


def test_gateway_scheduling_on_a_gateway_that_cannot_schedule_is_refused(memory_provider):
    from helpdesk_sms.exceptions import UnsupportedFeature
    from helpdesk_sms.models import Provider, SenderID

    console = Provider.objects.create(name="Console", gateway="console", priority=2)
    Provider.objects.filter(pk=console.pk).update(options={"scheduling": "gateway"})
    SenderID.objects.create(provider=console, value="HELPDK")

    with pytest.raises(UnsupportedFeature) as error:
        helpdesk_sms.send_sms(
            "+919812345678",
            "Later",
            provider="Console",
            sender="HELPDK",
            send_at=timezone.now() + timedelta(hours=1),
        )

    assert error.value.field == "send_at"
    assert "cannot schedule" in str(error.value)
