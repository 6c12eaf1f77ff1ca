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


# -- many numbers: one compose, bulk inserts -----------------------------------------------


def numbers(count: int) -> list[str]:
    return [f"+9198123{n:05d}" for n in range(count)]


def statements(sql_log: list[dict]) -> tuple[int, int]:
    """(inserts, everything else) among the captured statements."""
    inserts = sum(q["sql"].startswith("INSERT") for q in sql_log)
    return inserts, len(sql_log) - inserts


def bulk_batches(rows: int) -> int:
    """INSERT statements one bulk_create of ``rows`` messages and ``rows`` events needs here.

    One each on PostgreSQL; SQLite caps a statement at 999 parameters, so Django splits there.
    """
    from django.db import connection

    from helpdesk_sms.models import MessageEvent

    total = 0
    for model in (Message, MessageEvent):
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        size = connection.ops.bulk_batch_size(fields, [None] * rows) or rows
        total += -(-rows // size)
    return total


def test_send_sms_to_many_numbers_composes_once_and_inserts_in_bulk(memory_provider):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for count in (10, 200):
        with CaptureQueriesContext(connection) as captured:
            sent = helpdesk_sms.send_sms(numbers(count), "Maintenance tonight")
        assert len(sent) == count
        counts[count] = statements(captured.captured_queries)

    (few_inserts, few_other), (many_inserts, many_other) = counts[10], counts[200]
    assert many_other == few_other  # the provider, sender and text were checked once
    assert (few_inserts, many_inserts) == (bulk_batches(10), bulk_batches(200))
    if connection.vendor == "postgresql":
        assert counts[10] == counts[200]


def test_each_of_many_messages_gets_its_first_event(memory_provider):
    from helpdesk_sms.models import MessageEvent

    sent = helpdesk_sms.send_sms(numbers(50), "Maintenance tonight")

    assert sorted(m.recipient for m in sent) == numbers(50)
    events = MessageEvent.objects.filter(message__in=[m.pk for m in sent])
    assert sorted(events.values_list("message_id", flat=True)) == sorted(m.pk for m in sent)
    assert set(events.values_list("to_status", "source", "note")) == {
        ("queued", "create", "queued through send_sms")
    }


def test_send_sms_returns_messages_as_stored(memory_provider):
    sent = helpdesk_sms.send_sms(numbers(3), "Maintenance tonight")

    for message in sent:
        stored = Message.objects.get(pk=message.pk)
        assert (message.recipient, message.body, message.provider, message.sender) == (
            stored.recipient,
            stored.body,
            stored.provider,
            stored.sender,
        )
        assert (message.status, message.created_at) == (stored.status, stored.created_at)
    assert [m.pk for m in sent[1:]] == [sent[1].pk, sent[-1].pk]


def test_one_bad_number_among_many_chunks_writes_nothing(memory_provider, monkeypatch):
    from helpdesk_sms import api
    from helpdesk_sms.models import MessageEvent

    monkeypatch.setattr(api, "CHUNK_SIZE", 7)  # the bad number is several chunks in

    with pytest.raises(InvalidRecipient) as error:
        helpdesk_sms.send_sms([*numbers(30), "12345", *numbers(5)], "Maintenance tonight")

    assert error.value.field == "to"
    assert "'12345'" in str(error.value)
    assert (Message.objects.count(), MessageEvent.objects.count()) == (0, 0)


def test_a_send_in_chunks_queues_every_number_once(memory_provider, monkeypatch):
    from helpdesk_sms import api

    monkeypatch.setattr(api, "CHUNK_SIZE", 7)

    sent = helpdesk_sms.send_sms(numbers(30), "Maintenance tonight")

    assert len(sent) == 30
    assert sorted(Message.objects.values_list("recipient", flat=True)) == numbers(30)


def test_an_idempotency_key_among_several_numbers_is_refused_and_writes_nothing(
    memory_provider,
):
    from helpdesk_sms.exceptions import SmsInputError

    with pytest.raises(SmsInputError) as error:
        helpdesk_sms.send_sms(numbers(2), "Hello", idempotency_key="order-8")

    assert error.value.field == "to"
    assert Message.objects.count() == 0


def test_a_repeated_idempotency_key_inside_the_callers_transaction_keeps_it_usable(
    memory_provider,
):
    from django.db import transaction

    with transaction.atomic():
        [first] = helpdesk_sms.send_sms("+919812345678", "Hello", idempotency_key="order-9")
        [again] = helpdesk_sms.send_sms("+919812345678", "Hello", idempotency_key="order-9")
        assert Message.objects.count() == 1  # the caller's transaction is still usable

    assert again.pk == first.pk
