"""After a ticket save in the admin, the user is told which SMS were queued and which not."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from helpdesk_sms.models import Message
from helpdesk_sms.states import Status
from project.demo.models import Ticket

ADD = "admin:demo_ticket_add"


def ticket_form(**fields) -> dict[str, str]:
    """The demo Ticket admin's add form, with its (empty) task inline."""
    return {
        "title": "Printer jammed",
        "customer_name": "Ravi",
        "customer_phone": "+919812345678",
        "status": "open",
        "assigned_to": "",
        "tasks-TOTAL_FORMS": "0",
        "tasks-INITIAL_FORMS": "0",
        "tasks-MIN_NUM_FORMS": "0",
        "tasks-MAX_NUM_FORMS": "1000",
        **fields,
    }


def shown(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def sms_lines(response) -> list[str]:
    return [line for line in shown(response) if "SMS" in line]


@pytest.fixture
def staff_client(transactional_db, shipped_templates, client, django_user_model):
    """A logged-in superuser whose saves really commit (the feedback waits for the commit)."""
    user = django_user_model.objects.create_superuser("op", "op@example.com", "pw")
    client.force_login(user)
    return client


def test_saving_a_ticket_in_the_admin_says_the_customer_sms_was_queued(
    staff_client, memory_provider
):
    response = staff_client.post(reverse(ADD), ticket_form(), follow=True)

    [message] = Message.objects.all()
    assert sms_lines(response) == [
        "SMS queued to +919812345678 (ticket created, template “Default: ticket created "
        f"(customer)”), message #{message.pk}."
    ]


def test_an_invalid_customer_number_is_reported_as_suppressed_with_its_reason(
    staff_client, memory_provider
):
    response = staff_client.post(reverse(ADD), ticket_form(customer_phone="98765"), follow=True)

    [line] = sms_lines(response)
    assert line.startswith("No SMS to the customer: '98765'")
    assert "(suppressed, message #" in line
    assert Ticket.objects.count() == 1


def test_an_agent_without_a_phone_is_named_as_the_reason(
    staff_client, memory_provider, django_user_model
):
    nobody = django_user_model.objects.create_user("ben", first_name="Ben")

    response = staff_client.post(reverse(ADD), ticket_form(assigned_to=str(nobody.pk)), follow=True)

    agent_lines = [line for line in sms_lines(response) if "agent" in line]
    assert agent_lines and agent_lines[0].startswith(
        "No SMS to the agent: agent ben has no phone or has not opted in"
    )


def test_the_feedback_comes_with_the_admins_own_message(staff_client, memory_provider):
    response = staff_client.post(reverse(ADD), ticket_form(), follow=True)

    lines = shown(response)
    assert any("was added successfully" in line for line in lines)
    assert any(line.startswith("SMS queued to +919812345678") for line in lines)


def test_a_save_that_creates_no_sms_adds_no_sms_line(staff_client, memory_provider):
    ticket = Ticket.objects.create(title="Old", customer_name="Ravi", customer_phone="")
    url = reverse("admin:demo_ticket_change", args=[ticket.pk])

    response = staff_client.post(url, ticket_form(title="Retitled", customer_phone=""), follow=True)

    assert Ticket.objects.get().title == "Retitled"
    assert sms_lines(response) == []


def test_a_non_staff_request_is_told_nothing(client, memory_provider, django_user_model):
    from helpdesk_sms import feedback

    customer = django_user_model.objects.create_user("cust", password="pw")
    client.force_login(customer)
    request = client.get("/").wsgi_request  # any request of a logged-in non-staff user
    message = Message(pk=1, recipient="+919812345678", status=Status.QUEUED)
    setattr(request, feedback.PENDING, [message])
    request._messages = []  # type: ignore[attr-defined]

    feedback.report(request)

    assert request._messages == []  # type: ignore[attr-defined]


def test_a_failure_of_the_feedback_does_not_fail_the_save(
    staff_client, memory_provider, monkeypatch
):
    from helpdesk_sms import feedback

    def broken(message):
        raise RuntimeError("cannot describe")

    monkeypatch.setattr(feedback, "describe", broken)

    response = staff_client.post(reverse(ADD), ticket_form())

    assert response.status_code == 302
    assert Message.objects.get().status == Status.QUEUED


def test_many_sms_are_summed_up_after_the_first_lines():
    from django.contrib.messages import constants

    from helpdesk_sms import feedback

    created = [
        Message(pk=n, recipient=f"+91981234{n:04d}", status=Status.QUEUED, audience="group")
        for n in range(1, 13)
    ]

    lines = feedback.lines(created)

    assert len(lines) == feedback.MAX_LINES + 1
    assert lines[-1] == (
        constants.INFO,
        "…and 4 more SMS (4 of them queued): see the message log.",
    )
