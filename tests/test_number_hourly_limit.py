"""At most N messages of one event to one number in an hour; more are suppressed, saying why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk_sms.models import Contact, Message, NotificationTemplate, RecipientGroup
from helpdesk_sms.states import Status
from project.demo.models import Ticket

pytestmark = pytest.mark.django_db

CUSTOMER = "+919812345678"
TEMPLATE = "Default: ticket created (customer)"


def make_tickets(count: int, phone: str = CUSTOMER, **fields) -> None:
    for n in range(count):
        Ticket.objects.create(title=f"Printer {n}", customer_phone=phone, **fields)


def statuses(recipient: str = CUSTOMER, event: str = "ticket_created") -> list[str]:
    return list(
        Message.objects.filter(recipient=recipient, event=event)
        .order_by("pk")
        .values_list("status", flat=True)
    )


def created_template() -> NotificationTemplate:
    return NotificationTemplate.objects.get(name=TEMPLATE)


def test_a_number_over_its_hourly_limit_is_suppressed_with_the_reason(memory_provider):
    make_tickets(4)

    assert statuses() == [Status.QUEUED] * 3 + [Status.SUPPRESSED]
    fourth = Message.objects.filter(recipient=CUSTOMER).latest("pk")
    reason = (
        f"suppressed: {CUSTOMER} already had 3 ticket_created messages in the last hour "
        f"(limit 3, template {TEMPLATE!r})"
    )
    assert fourth.error_category == "rate_limited"
    assert fourth.error_text == reason
    assert fourth.events.get().note == reason


def test_the_suppressed_message_keeps_its_text_and_provider_for_a_resend(memory_provider):
    make_tickets(4)

    fourth = Message.objects.filter(recipient=CUSTOMER).latest("pk")
    assert fourth.body.startswith("We received your request")
    assert fourth.provider == memory_provider


def test_another_number_is_not_affected(memory_provider):
    make_tickets(3)

    make_tickets(1, phone="+919812345679")

    assert statuses("+919812345679") == [Status.QUEUED]


def test_another_event_to_the_same_number_is_not_affected(memory_provider, agent):
    agent_number = "+919812345670"  # the agent fixture's phone
    make_tickets(3, phone=agent_number)

    make_tickets(1, phone="+919812345679", assigned_to=agent)

    assert statuses(agent_number, "ticket_assigned") == [Status.QUEUED]


def test_messages_older_than_an_hour_do_not_count(memory_provider):
    make_tickets(3)
    Message.objects.update(created_at=timezone.now() - timedelta(minutes=61))

    make_tickets(1)

    assert statuses()[-1] == Status.QUEUED


def test_messages_that_never_went_out_do_not_count(memory_provider):
    make_tickets(3)
    Message.objects.update(status=Status.SUPPRESSED)

    make_tickets(1)

    assert statuses()[-1] == Status.QUEUED


def test_the_setting_sets_the_limit(memory_provider, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "NUMBER_HOURLY_LIMIT": 1}

    make_tickets(2)

    assert statuses() == [Status.QUEUED, Status.SUPPRESSED]


def test_the_templates_own_limit_wins_over_the_setting(memory_provider):
    NotificationTemplate.objects.filter(name=TEMPLATE).update(hourly_limit_per_number=5)

    make_tickets(6)

    assert statuses() == [Status.QUEUED] * 5 + [Status.SUPPRESSED]
    assert "(limit 5, template" in Message.objects.latest("pk").error_text


def test_a_template_limit_of_zero_sends_every_message(memory_provider):
    NotificationTemplate.objects.filter(name=TEMPLATE).update(hourly_limit_per_number=0)

    make_tickets(5)

    assert statuses() == [Status.QUEUED] * 5


def test_a_setting_of_zero_sends_every_message(memory_provider, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "NUMBER_HOURLY_LIMIT": 0}

    make_tickets(5)

    assert statuses() == [Status.QUEUED] * 5


def test_messages_of_one_pass_count_against_each_other(memory_provider):
    """Two active templates of one event (a group's and the customer's) reaching one number."""
    group = RecipientGroup.objects.create(name="Watchers")
    group.members.add(Contact.objects.create(name="Ravi", phone=CUSTOMER))
    NotificationTemplate.objects.create(
        name="Watchers",
        event="ticket_created",
        audience="group",
        group=group,
        body="New",
        hourly_limit_per_number=1,
    )
    NotificationTemplate.objects.filter(name=TEMPLATE).update(hourly_limit_per_number=1)

    make_tickets(1)

    assert sorted(statuses()) == [Status.QUEUED, Status.SUPPRESSED]


def test_all_the_numbers_of_an_event_are_counted_in_one_query(memory_provider):
    group = RecipientGroup.objects.create(name="Managers")
    for n in range(20):
        group.members.add(Contact.objects.create(name=f"M{n}", phone=f"+9198123456{n:02}"))
    NotificationTemplate.objects.create(
        name="Managers", event="ticket_created", audience="group", group=group, body="New"
    )

    with CaptureQueriesContext(connection) as captured:
        make_tickets(1)

    counts = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].lstrip("(").startswith("SELECT")  # PostgreSQL brackets a UNION's parts
        and "COUNT(" in q["sql"]
        and "helpdesk_sms_message" in q["sql"]
    ]
    assert len(counts) == 1
    assert Message.objects.filter(status=Status.QUEUED).count() == 21


def test_the_template_page_sets_the_limit(admin_client, memory_provider):
    template = created_template()

    response = admin_client.get(f"/admin/helpdesk_sms/notificationtemplate/{template.pk}/change/")

    assert 'name="hourly_limit_per_number"' in response.content.decode()


def test_a_group_larger_than_one_count_query_takes_is_counted_in_full(memory_provider):
    from helpdesk_sms.notifications import NUMBERS_PER_COUNT

    members = NUMBERS_PER_COUNT + 1
    group = RecipientGroup.objects.create(name="Floor")
    group.members.add(
        *Contact.objects.bulk_create(
            Contact(name=f"M{n}", phone=f"+91981230{n:04}") for n in range(members)
        )
    )
    NotificationTemplate.objects.create(
        name="Floor",
        event="ticket_created",
        audience="group",
        group=group,
        body="New",
        hourly_limit_per_number=1,
    )
    make_tickets(1, phone="+919812345699")

    make_tickets(1, phone="+919812345699")

    assert statuses(f"+91981230{members - 1:04}") == [Status.QUEUED, Status.SUPPRESSED]
    assert Message.objects.filter(status=Status.SUPPRESSED).count() == members


def test_an_agent_takes_more_assignments_an_hour_than_a_customer_gets_updates(
    memory_provider, agent
):
    agent_number = "+919812345670"  # the agent fixture's phone
    for n in range(5):
        make_tickets(1, phone=f"+91981234600{n}", assigned_to=agent)

    assert statuses(agent_number, "ticket_assigned") == [Status.QUEUED] * 5


def test_an_agents_number_has_its_own_hourly_limit(memory_provider, agent, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "AGENT_HOURLY_LIMIT": 2}
    agent_number = "+919812345670"
    for n in range(3):
        make_tickets(1, phone=f"+91981234600{n}", assigned_to=agent)

    assert statuses(agent_number, "ticket_assigned") == [Status.QUEUED] * 2 + [Status.SUPPRESSED]
