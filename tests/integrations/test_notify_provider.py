"""notify(provider=…): a provider for one notification (the django-helpdesk queue providers)."""

from __future__ import annotations

import pytest

from helpdesk_sms.models import Message, NotificationTemplate, Provider, SenderID
from helpdesk_sms.notifications import notify
from helpdesk_sms.states import Status
from project.demo.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue_provider(memory_provider) -> Provider:
    provider = Provider.objects.create(name="Billing line", gateway="memory", priority=50)
    provider.default_sender = SenderID.objects.create(provider=provider, value="BILLNG")
    provider.save()
    return provider


@pytest.fixture
def ticket(memory_provider) -> Ticket:
    ticket = Ticket.objects.create(
        title="Invoice missing", customer_name="Ravi", customer_phone="+919812345678"
    )
    Message.objects.all().delete()  # the watcher's own acknowledgement
    return ticket


def test_templates_without_a_provider_go_through_the_given_one(ticket, queue_provider):
    [message] = notify("ticket_created", ticket, provider=queue_provider)

    assert (message.provider, message.sender, message.status) == (
        queue_provider,
        "BILLNG",
        Status.QUEUED,
    )


def test_the_provider_can_be_named(ticket, queue_provider):
    [message] = notify("ticket_created", ticket, provider="Billing line")

    assert message.provider == queue_provider


def test_a_template_with_its_own_provider_keeps_it(ticket, queue_provider, memory_provider):
    NotificationTemplate.objects.filter(event="ticket_created").update(provider=memory_provider)

    [message] = notify("ticket_created", ticket, provider=queue_provider)

    assert message.provider == memory_provider


def test_a_template_with_its_own_sender_keeps_its_provider(ticket, queue_provider, memory_provider):
    NotificationTemplate.objects.filter(event="ticket_created").update(
        sender=memory_provider.default_sender
    )

    [message] = notify("ticket_created", ticket, provider=queue_provider)

    assert (message.provider, message.sender) == (memory_provider, "HELPDK")


def test_an_unknown_provider_records_a_failed_message(ticket):
    [message] = notify("ticket_created", ticket, provider="Nope")

    assert message.status == Status.FAILED
    assert "Unknown provider 'Nope'" in message.error_text
