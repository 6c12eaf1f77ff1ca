"""The admin re-sends a suppressed message once its cause is fixed, as a new linked message."""

from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk_sms.models import AgentProfile, Contact, Message, MessageEvent
from helpdesk_sms.states import Source, Status
from project.demo.models import Ticket


def run_action(client, action: str, objects):
    data = {"action": action, "_selected_action": [o.pk for o in objects], "index": 0}
    return client.post(reverse("admin:helpdesk_sms_message_changelist"), data, follow=True)


def flash(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def resend(client, *objects):
    return run_action(client, "resend_suppressed", objects)


@pytest.fixture
def bad_number_ticket(memory_provider) -> Ticket:
    """A ticket whose acknowledgement was suppressed: its number is not a number."""
    return Ticket.objects.create(
        title="Printer jammed", customer_name="Ravi", customer_phone="98765"
    )


def suppressed_ack() -> Message:
    return Message.objects.get(event="ticket_created", status=Status.SUPPRESSED)


def fix_number(ticket: Ticket) -> None:
    """Correct the number without the save path noticing (as a bulk update would)."""
    Ticket.objects.filter(pk=ticket.pk).update(customer_phone="+919812345678")


def test_resending_after_the_number_is_fixed_queues_a_new_linked_message(
    admin_client, bad_number_ticket
):
    original = suppressed_ack()
    fix_number(bad_number_ticket)

    response = resend(admin_client, original)

    replacement = Message.objects.get(resend_of=original)
    assert (replacement.status, replacement.recipient) == (Status.QUEUED, "+919812345678")
    assert flash(response) == [
        f"1 message re-sent: #{original.pk} as #{replacement.pk} to +919812345678."
    ]


def test_the_resend_is_on_both_timelines_with_source_admin(admin_client, bad_number_ticket):
    original = suppressed_ack()
    fix_number(bad_number_ticket)

    resend(admin_client, original)

    replacement = Message.objects.get(resend_of=original)
    first = replacement.events.get()
    assert (first.source, first.to_status) == (Source.ADMIN, Status.QUEUED)
    assert f"re-send of #{original.pk} by admin in the admin" == first.note
    note = original.events.order_by("-pk").first()
    assert (note.source, note.note) == (
        Source.ADMIN,
        f"re-sent as message #{replacement.pk} to +919812345678",
    )


def test_resending_with_the_cause_not_fixed_says_why_and_writes_nothing(
    admin_client, bad_number_ticket
):
    original = suppressed_ack()
    events = MessageEvent.objects.count()

    response = resend(admin_client, original)

    [line] = flash(response)
    assert line.startswith(f"Message #{original.pk} not re-sent: still not sendable: '98765'")
    assert Message.objects.count() == 1
    assert MessageEvent.objects.count() == events


def test_a_message_is_resent_only_once(admin_client, bad_number_ticket):
    original = suppressed_ack()
    fix_number(bad_number_ticket)
    resend(admin_client, original)
    replacement = Message.objects.get(resend_of=original)

    response = resend(admin_client, original)

    assert flash(response) == [
        f"Message #{original.pk} not re-sent: it was already re-sent as message #{replacement.pk}."
    ]
    assert Message.objects.filter(resend_of=original).count() == 1


def test_messages_that_are_not_suppressed_are_skipped_with_the_reason(
    admin_client, memory_provider
):
    Ticket.objects.create(title="Fine", customer_name="Ravi", customer_phone="+919812345678")
    queued = Message.objects.get()

    response = resend(admin_client, queued)

    assert flash(response) == [
        "1 skipped because it is not suppressed (a failed message is retried with “Retry "
        "failed messages”)."
    ]
    assert Message.objects.count() == 1


def test_an_agent_who_opted_in_since_gets_the_resend(admin_client, memory_provider, agent):
    AgentProfile.objects.filter(user=agent).update(sms_opt_in=False)
    Ticket.objects.create(title="T", customer_name="Ravi", customer_phone="", assigned_to=agent)
    original = Message.objects.get(event="ticket_assigned")
    assert original.status == Status.SUPPRESSED
    AgentProfile.objects.filter(user=agent).update(sms_opt_in=True)

    resend(admin_client, original)

    assert Message.objects.get(resend_of=original).recipient == "+919812345670"


def test_an_agent_still_opted_out_is_named_as_the_reason(admin_client, memory_provider, agent):
    AgentProfile.objects.filter(user=agent).update(sms_opt_in=False)
    Ticket.objects.create(title="T", customer_name="Ravi", customer_phone="", assigned_to=agent)
    original = Message.objects.get(event="ticket_assigned")

    response = resend(admin_client, original)

    assert flash(response) == [
        f"Message #{original.pk} not re-sent: agent asha still has no phone or has not opted in."
    ]


def test_an_opted_out_contact_is_not_resent(admin_client, memory_provider):
    from helpdesk_sms import resend as resend_module

    contact = Contact.objects.create(name="Mala", phone="+919812345601", opted_out=True)
    original = Message.objects.create(
        recipient="12",
        body="Outage tonight",
        status=Status.SUPPRESSED,
        audience="group",
        event="ticket_created",
        idempotency_key=f"ticket_created:1:1:1:group:contact:{contact.pk}:",
    )

    with pytest.raises(resend_module.ResendRefused, match="has opted out"):
        resend_module.resend(original)


def test_the_change_page_links_the_replacement(admin_client, bad_number_ticket):
    original = suppressed_ack()
    fix_number(bad_number_ticket)
    resend(admin_client, original)
    replacement = Message.objects.get(resend_of=original)

    page = admin_client.get(
        reverse("admin:helpdesk_sms_message_change", args=[original.pk])
    ).content.decode()

    assert reverse("admin:helpdesk_sms_message_change", args=[replacement.pk]) in page
