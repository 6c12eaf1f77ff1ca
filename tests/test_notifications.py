"""Ticket events become messages: who is texted, what they read, and what never happens."""

from __future__ import annotations

import logging

import pytest

from helpdesk_sms import signals
from helpdesk_sms.models import Message, NotificationTemplate
from helpdesk_sms.states import Status
from project.demo.models import Task, Ticket

pytestmark = pytest.mark.django_db


def raise_lookup_error(ticket):
    raise LookupError("CRM is down")


def make_ticket(**fields) -> Ticket:
    fields = {
        "title": "Printer jammed",
        "customer_name": "Ravi",
        "customer_phone": "+919812345678",
        **fields,
    }
    return Ticket.objects.create(**fields)


def test_new_ticket_queues_the_customer_acknowledgement(memory_provider):
    ticket = make_ticket()

    [message] = Message.objects.all()
    assert message.recipient == "+919812345678"
    assert message.status == Status.QUEUED
    assert message.body == (
        f"We received your request #{ticket.pk}: Printer jammed. We will keep you posted."
    )
    assert message.ticket == ticket


def test_a_repeated_ticket_created_signal_sends_nothing_twice(memory_provider):
    ticket = make_ticket()

    signals.ticket_created.send(sender=Ticket, ticket=ticket)

    assert Message.objects.count() == 1


def test_assigning_a_ticket_texts_the_agent(memory_provider, agent):
    ticket = make_ticket()

    ticket.assigned_to = agent
    ticket.save()

    message = Message.objects.get(audience="assignee")
    assert message.recipient == "+919812345670"
    assert message.body == f"Ticket #{ticket.pk} is assigned to you: Printer jammed"


def test_saving_an_assigned_ticket_again_texts_nobody(memory_provider, agent):
    ticket = make_ticket(assigned_to=agent)

    ticket.title = "Printer jammed again"
    ticket.save()

    assert Message.objects.filter(audience="assignee").count() == 1


def test_unassigning_a_ticket_texts_nobody(memory_provider, agent):
    ticket = make_ticket(assigned_to=agent)

    ticket.assigned_to = None
    ticket.save()

    assert Message.objects.filter(audience="assignee").count() == 1


def test_agent_who_opted_out_is_not_texted(memory_provider, agent):
    agent.sms_profile.sms_opt_in = False
    agent.sms_profile.save()

    make_ticket(assigned_to=agent)

    message = Message.objects.get(audience="assignee")
    assert message.status == Status.SUPPRESSED
    assert "not opted in" in message.error_text


def test_each_added_task_acknowledges_the_customer(memory_provider):
    ticket = make_ticket()

    Task.objects.create(ticket=ticket, title="Replace toner")
    Task.objects.create(ticket=ticket, title="Clean rollers")

    bodies = sorted(Message.objects.filter(event="task_added").values_list("body", flat=True))
    assert bodies == [
        f"Update on your request #{ticket.pk}: Clean rollers",
        f"Update on your request #{ticket.pk}: Replace toner",
    ]


def test_broken_template_records_a_failed_message_and_the_ticket_saves(memory_provider):
    NotificationTemplate.objects.filter(event="ticket_created").update(body="{% if %}")

    ticket = make_ticket()

    assert Ticket.objects.filter(pk=ticket.pk).exists()
    message = Message.objects.get()
    assert message.status == Status.FAILED
    assert "Template syntax error" in message.error_text


def test_ticket_without_customer_phone_records_a_suppressed_message(memory_provider):
    make_ticket(customer_phone="")

    message = Message.objects.get()
    assert message.status == Status.SUPPRESSED
    assert message.error_text == "Not sent: the ticket has no customer phone number."


def test_invalid_customer_number_is_suppressed_with_the_reason(memory_provider):
    make_ticket(customer_phone="12345")

    message = Message.objects.get()
    assert message.status == Status.SUPPRESSED
    assert "12345" in message.error_text


def test_ticket_saves_when_no_provider_is_configured(db):
    ticket = make_ticket()

    assert Ticket.objects.filter(pk=ticket.pk).exists()
    message = Message.objects.get()
    assert message.status == Status.FAILED
    assert "No active SMS provider" in message.error_text


def test_ticket_saves_when_the_phone_resolver_raises(memory_provider, settings, caplog):
    settings.HELPDESK_SMS = {
        **settings.HELPDESK_SMS,
        "CUSTOMER_PHONE_RESOLVER": "tests.test_notifications.raise_lookup_error",
    }

    with caplog.at_level(logging.ERROR, logger="helpdesk_sms"):
        ticket = make_ticket()

    assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert "CRM is down" in caplog.text


def test_inactive_template_sends_nothing(memory_provider):
    NotificationTemplate.objects.filter(event="ticket_created").update(is_active=False)

    make_ticket()

    assert Message.objects.count() == 0


def test_template_with_its_own_provider_and_sender_uses_them(memory_provider):
    from helpdesk_sms.models import Provider, SenderID

    other = Provider.objects.create(name="Other", gateway="memory", priority=50)
    sender = SenderID.objects.create(provider=other, value="OTHER")
    NotificationTemplate.objects.filter(event="ticket_created").update(
        provider=other, sender=sender
    )

    make_ticket()

    message = Message.objects.get()
    assert (message.provider, message.sender) == (other, "OTHER")


def test_a_template_cannot_text_out_a_password(memory_provider, agent):
    NotificationTemplate.objects.filter(event="ticket_assigned").update(
        body="Hi {{ ticket.assigned_to.first_name }} [{{ ticket.assigned_to.password }}]"
    )

    make_ticket(assigned_to=agent)

    message = Message.objects.get(audience="assignee")
    assert message.body == "Hi Asha []"


def test_a_template_with_smart_replace_sends_gsm_look_alikes(memory_provider):
    NotificationTemplate.objects.filter(event="ticket_created").update(
        body="We’ve got it — ticket #{{ ticket.pk }}", smart_replace=True
    )

    ticket = make_ticket()

    message = Message.objects.get()
    assert message.body == f"We've got it - ticket #{ticket.pk}"
    assert "typographic characters replaced" in message.events.get().note


def test_a_customer_outside_the_allowed_countries_is_suppressed(memory_provider):
    memory_provider.allowed_countries = "NG"
    memory_provider.save()

    make_ticket()

    message = Message.objects.get()
    assert message.status == Status.SUPPRESSED
    assert "not an allowed destination" in message.error_text


def test_a_repeated_signal_after_the_phone_was_retyped_sends_nothing_twice(memory_provider):
    ticket = make_ticket(customer_phone="098123 45678")
    ticket.customer_phone = "+91 98123 45678"

    signals.ticket_created.send(sender=Ticket, ticket=ticket)

    assert Message.objects.count() == 1
