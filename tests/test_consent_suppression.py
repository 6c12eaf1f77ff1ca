"""A number on the opt-out list gets nothing queued: notifications, send_sms, group sends and
re-sends write its message ``suppressed`` (reason "opted out"), and START lifts it."""

from __future__ import annotations

import pytest

from helpdesk_sms import group_sends, send_sms
from helpdesk_sms.consent import handle_keyword, opt_out
from helpdesk_sms.models import Contact, Message, RecipientGroup
from helpdesk_sms.resend import ResendRefused, resend
from helpdesk_sms.states import Status
from project.demo.models import Ticket

pytestmark = pytest.mark.django_db

CUSTOMER = "+919812345678"
OTHER = "+919812345679"


def make_ticket(phone: str = CUSTOMER) -> Ticket:
    return Ticket.objects.create(title="Printer jammed", customer_name="Ravi", customer_phone=phone)


def newest(number: str = CUSTOMER) -> Message:
    return Message.objects.filter(recipient=number).latest("pk")


def test_after_stop_the_next_notification_to_the_number_is_suppressed(memory_provider):
    handle_keyword(CUSTOMER, "STOP", memory_provider)

    make_ticket()

    message = newest()
    assert message.status == Status.SUPPRESSED
    assert message.error_category == "opted_out"
    assert message.error_text.startswith("opted out: +919812345678")
    assert message.events.get().note == message.error_text


def test_after_start_the_number_is_notified_again(memory_provider):
    handle_keyword(CUSTOMER, "STOP", memory_provider)
    make_ticket()

    handle_keyword(CUSTOMER, "START", memory_provider)
    make_ticket()

    assert [m.status for m in Message.objects.order_by("pk")] == [
        Status.SUPPRESSED,
        Status.QUEUED,
    ]


def test_an_opt_out_concerns_only_its_own_number(memory_provider):
    opt_out(OTHER)

    make_ticket()

    assert newest().status == Status.QUEUED


def test_an_opted_out_agent_is_not_texted_the_assignment(memory_provider, agent):
    opt_out("+919812345670")

    make_ticket()  # the customer's acknowledgement still goes
    ticket = Ticket.objects.get()
    ticket.assigned_to = agent
    ticket.save()

    assert newest("+919812345670").status == Status.SUPPRESSED
    assert newest().status == Status.QUEUED


def test_suppressed_messages_do_not_count_towards_the_hourly_limit(memory_provider):
    opt_out(CUSTOMER)
    for _ in range(4):
        make_ticket()
    handle_keyword(CUSTOMER, "START", memory_provider)

    make_ticket()

    assert newest().status == Status.QUEUED


def test_send_sms_to_an_opted_out_number_writes_it_suppressed(memory_provider):
    opt_out(CUSTOMER)

    [message] = send_sms(CUSTOMER, "Your ticket is closed")

    assert (message.status, message.error_category) == (Status.SUPPRESSED, "opted_out")
    stored = Message.objects.get(pk=message.pk)
    assert (stored.status, stored.error_text) == (Status.SUPPRESSED, message.error_text)
    assert stored.events.get().to_status == Status.SUPPRESSED


def test_send_sms_to_several_numbers_suppresses_only_the_opted_out_ones(memory_provider):
    opt_out(OTHER)

    sent = send_sms([CUSTOMER, OTHER], "Office closed on Friday")

    assert [(m.recipient, m.status) for m in sent] == [
        (CUSTOMER, Status.QUEUED),
        (OTHER, Status.SUPPRESSED),
    ]


@pytest.fixture
def group(db) -> RecipientGroup:
    group = RecipientGroup.objects.create(name="Floor 3")
    group.members.set(
        [
            Contact.objects.create(name="Ravi", phone=CUSTOMER),
            Contact.objects.create(name="Asha", phone=OTHER),
        ]
    )
    return group


def test_a_group_send_skips_a_member_on_the_list_as_opted_out(memory_provider, group):
    opt_out(OTHER)

    plan = group_sends.plan(group, text="Office closed on Friday")

    assert [d.number for d in plan.drafts] == [CUSTOMER]
    assert plan.opted_out == 1


def test_a_member_opting_out_after_the_preview_is_suppressed_when_confirmed(
    memory_provider, group, admin_user
):
    plan = group_sends.plan(group, text="Office closed on Friday")
    handle_keyword(OTHER, "STOP", memory_provider)

    send, _ = group_sends.confirm(plan, token="t1", user=admin_user)

    statuses = dict(send.messages.values_list("recipient", "status"))
    assert statuses == {CUSTOMER: Status.QUEUED, OTHER: Status.SUPPRESSED}


def test_a_suppressed_message_is_not_resent_to_an_opted_out_number(memory_provider):
    ticket = Ticket.objects.create(title="Jam", customer_name="Ravi", customer_phone="98765")
    original = Message.objects.get()
    Ticket.objects.filter(pk=ticket.pk).update(customer_phone=CUSTOMER)
    opt_out(CUSTOMER)

    with pytest.raises(ResendRefused, match="is on the opt-out list"):
        resend(original)

    assert Message.objects.count() == 1


def test_a_send_to_hundreds_of_numbers_reads_the_list_once(memory_provider):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    numbers = [f"+91981230{n:04}" for n in range(500)]
    opt_out(numbers[250])
    opt_out("+919812300999")  # in the send's range of numbers, but not texted

    with CaptureQueriesContext(connection) as captured:
        sent = send_sms(numbers, "Office closed on Friday")

    reads = [q for q in captured.captured_queries if "helpdesk_sms_optout" in q["sql"]]
    assert len(reads) == 1
    assert [m.recipient for m in sent if m.status == Status.SUPPRESSED] == [numbers[250]]
    assert not Message.objects.filter(recipient="+919812300999").exists()


def test_a_contact_added_after_its_number_opted_out_is_suppressed_in_group_notifications(
    memory_provider, group
):
    from helpdesk_sms.models import NotificationTemplate

    NotificationTemplate.objects.create(
        name="Floor", event="ticket_created", audience="group", group=group, body="New ticket"
    )
    opt_out("+919812345677")
    group.members.add(Contact.objects.create(name="New", phone="+919812345677"))

    make_ticket(phone="+919812345600")

    statuses = dict(Message.objects.filter(audience="group").values_list("recipient", "status"))
    assert statuses == {
        CUSTOMER: Status.QUEUED,
        OTHER: Status.QUEUED,
        "+919812345677": Status.SUPPRESSED,
    }


def test_an_opt_out_suppresses_what_was_scheduled_for_the_number_before_it(memory_provider):
    from datetime import timedelta

    from django.utils import timezone

    [later] = send_sms(
        CUSTOMER, "Your visit is tomorrow", send_at=timezone.now() + timedelta(hours=5)
    )
    [queued] = send_sms(CUSTOMER, "We are on it")

    handle_keyword(CUSTOMER, "STOP", memory_provider)

    later.refresh_from_db()
    queued.refresh_from_db()
    assert (later.status, later.error_category) == (Status.SUPPRESSED, "opted_out")
    assert (queued.status, queued.error_category) == (Status.SUPPRESSED, "opted_out")
    assert later.events.latest("pk").note.startswith("opted out: +919812345678")


def test_a_failed_message_to_an_opted_out_number_is_not_retried(memory_provider):
    from helpdesk_sms import outbox

    [message] = send_sms(CUSTOMER, "We are on it")
    Message.objects.filter(pk=message.pk).update(status=Status.FAILED)
    message.refresh_from_db()
    opt_out(CUSTOMER)

    assert outbox.retry(message) is False
    message.refresh_from_db()
    assert message.status == Status.FAILED
