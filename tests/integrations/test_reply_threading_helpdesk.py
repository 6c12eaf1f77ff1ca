"""A customer's SMS reply threaded into django-helpdesk 2.6, seen on its own staff pages.

The ticket is raised on helpdesk's public form and its acknowledgement delivered through
the Canlog simulator, as in test_django_helpdesk.py; the reply is then matched and
delivered, and the staff ticket page is read over HTTP.
"""

from __future__ import annotations

import pytest
from django.apps import apps

if not apps.is_installed("helpdesk"):
    pytest.skip("django-helpdesk is not in INSTALLED_APPS", allow_module_level=True)

from django.core import checks, mail
from django.urls import reverse
from django.utils import timezone
from helpdesk.models import FollowUp, Ticket

from helpdesk_sms.models import Message
from helpdesk_sms.reply_threading import Reply, deliver, match_ticket

from . import test_django_helpdesk as helpdesk_tests

# The helpdesk tests' fixtures, used here by name: pytest finds fixtures among a module's
# attributes (the autouse one makes the integration read phones from custom fields).
_read_phones_from_custom_fields = helpdesk_tests._read_phones_from_custom_fields
phone_field = helpdesk_tests.phone_field
staff = helpdesk_tests.staff
staff_client = helpdesk_tests.staff_client
support = helpdesk_tests.support
ticket = helpdesk_tests.ticket
visitor = helpdesk_tests.visitor
CUSTOMER = helpdesk_tests.CUSTOMER

pytestmark = pytest.mark.django_db

STRANGER = "+919812345699"


def reply(text: str, number: str = CUSTOMER) -> Reply:
    return Reply(
        number=number,
        text=text,
        provider=None,
        our_number="+919800000000",
        received_at=timezone.now(),
    )


def sms_followups(ticket: Ticket) -> list[str]:
    """The comments of the ticket's follow-ups made from SMS replies."""
    found = ticket.followup_set.filter(title__contains="SMS").order_by("pk")
    return list(found.values_list("comment", flat=True))


def thread(text: str, number: str = CUSTOMER):
    """Match and deliver one reply, as the inbound hook does."""
    customer_reply = reply(text, number)
    match = match_ticket(customer_reply)
    return match, deliver(customer_reply, match)


def test_a_reply_naming_the_ticket_lands_on_it_once(ticket):
    match, delivered = thread(f"support-{ticket.pk}: still eating pages")

    assert (match.ticket, match.how) == (ticket, "reference")
    assert sms_followups(ticket) == [f"support-{ticket.pk}: still eating pages"]


def test_a_reply_without_a_reference_lands_on_the_ticket_last_texted(ticket):
    match, delivered = thread("Still eating pages")

    assert (match.how, delivered.ticket) == ("last_texted", ticket)
    assert delivered.record.comment == "Still eating pages"


def test_the_reply_is_a_public_followup_from_the_submitter(ticket):
    _, delivered = thread("Still eating pages")

    followup = FollowUp.objects.get(pk=delivered.record.pk)
    assert (followup.public, followup.user) == (True, None)
    assert followup.title == f"SMS received from {CUSTOMER}"


def test_the_reply_shows_on_the_staff_ticket_page(staff_client, ticket):
    thread("Still eating pages, tray 2")

    page = staff_client.get(reverse("helpdesk:view", args=[ticket.pk]))

    assert page.status_code == 200
    assert "Still eating pages, tray 2" in page.content.decode()
    assert f"SMS received from {CUSTOMER}" in page.content.decode()


def test_django_helpdesk_emails_the_owner_about_the_reply(staff, ticket):
    staff.email = "lead@example.com"
    staff.save()
    Ticket.objects.filter(pk=ticket.pk).update(assigned_to=staff)
    mail.outbox.clear()

    _, delivered = thread("Still eating pages")

    assert delivered.notified == ("lead@example.com",)
    [sent] = mail.outbox
    assert sent.to == ["lead@example.com"]
    assert "Still eating pages" in sent.body


def test_the_reply_texts_the_customer_nothing(ticket):
    """A public follow-up with a comment texts the customer (FOLLOWUPS="public"); their
    own reply must not come back to them."""
    before = Message.objects.count()

    thread("Still eating pages")

    assert Message.objects.count() == before


def test_delivering_the_same_reply_twice_adds_it_once(ticket):
    customer_reply = reply("Still eating pages")
    match = match_ticket(customer_reply)

    first = deliver(customer_reply, match)
    again = deliver(customer_reply, match)

    assert (first.created, again.created) == (True, False)
    assert again.record == first.record
    assert sms_followups(ticket) == ["Still eating pages"]


def test_a_closed_ticket_is_not_threaded_without_its_reference(ticket):
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.CLOSED_STATUS)

    match, _ = thread("Still eating pages")

    assert match.how == "unassigned"


def test_a_resolved_ticket_takes_the_reply_and_stays_resolved(ticket):
    """As django-helpdesk does for an e-mail (HELPDESK_EMAIL_REOPEN_STATUSES: closed)."""
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.RESOLVED_STATUS)

    match, delivered = thread("Works now, thanks")

    assert (match.ticket, delivered.reopened) == (ticket, False)
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.RESOLVED_STATUS


def test_a_reply_naming_a_closed_ticket_reopens_it(ticket):
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.CLOSED_STATUS)

    _, delivered = thread(f"#{ticket.pk} broken again")

    assert delivered.reopened
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.REOPENED_STATUS


def test_a_reference_from_another_number_is_not_honoured(ticket):
    match, delivered = thread(f"support-{ticket.pk} show me", number=STRANGER)

    assert (match.ticket, match.how, delivered.record) == (None, "unassigned", None)
    assert sms_followups(ticket) == []


@pytest.fixture
def new_tickets(settings, support):
    settings.HELPDESK_SMS = {
        **settings.HELPDESK_SMS,
        "REPLY_NEW_TICKETS": True,
        "REPLY_NEW_TICKET_QUEUE": "support",
    }


def test_an_unmatched_reply_opens_a_ticket_in_the_queue_when_allowed(
    new_tickets, support, phone_field, ticket
):
    match, delivered = thread("My laptop will not boot", number=STRANGER)

    opened = Ticket.objects.get(pk=delivered.ticket.pk)
    assert (match.how, opened.queue) == ("new_ticket", support)
    assert opened.title == "My laptop will not boot"
    assert opened.ticketcustomfieldvalue_set.get(field__name="phone").value == STRANGER
    assert delivered.record.comment == "My laptop will not boot"


def test_a_ticket_opened_by_sms_texts_its_reference_back(new_tickets, phone_field, ticket):
    _, delivered = thread("My laptop will not boot", number=STRANGER)

    [ack] = Message.objects.filter(recipient=STRANGER)
    assert ack.event == "ticket_created" and f"#{delivered.ticket.pk}" in ack.body


def test_a_queue_slug_that_does_not_exist_is_a_check_error(settings, support):
    settings.HELPDESK_SMS = {
        **settings.HELPDESK_SMS,
        "REPLY_NEW_TICKETS": True,
        "REPLY_NEW_TICKET_QUEUE": "suport",
    }

    [error] = [m for m in checks.run_checks() if m.id == "helpdesk_sms.E133"]

    assert "'suport' is not the slug of a django-helpdesk queue" in error.msg


def test_an_unmatched_reply_stays_unassigned_when_the_queue_is_gone(settings, phone_field, ticket):
    settings.HELPDESK_SMS = {
        **settings.HELPDESK_SMS,
        "REPLY_NEW_TICKETS": True,
        "REPLY_NEW_TICKET_QUEUE": "suport",
    }

    match, delivered = thread("My laptop will not boot", number=STRANGER)

    assert match.how == "unassigned" and "'suport'" in match.detail
    assert delivered.ticket is None and Ticket.objects.count() == 1


def test_a_reply_naming_a_merged_ticket_lands_on_the_ticket_it_was_merged_into(support, ticket):
    kept = Ticket.objects.create(title="Printers on floor 2", queue=support)
    Ticket.objects.filter(pk=ticket.pk).update(merged_to=kept, status=Ticket.DUPLICATE_STATUS)

    match, delivered = thread(f"#{ticket.pk} still jammed")

    assert (match.ticket, delivered.ticket) == (kept, kept)
    assert sms_followups(kept) == [f"#{ticket.pk} still jammed"]


# -- end to end: the gateway simulator pushes the reply over HTTP ---------------------------


@pytest.mark.django_db(transaction=True)
def test_a_reply_pushed_three_times_is_one_followup_on_the_staff_ticket_page(
    shipped_templates, texting_canlog, sms_provider, ticket, staff_client
):
    from helpdesk_sms.inbound_models import InboundMessage

    texting_canlog.reply(CUSTOMER, "HLPDSK", f"#{ticket.pk} tray 2 still jams", repeat=3)

    page = staff_client.get(reverse("helpdesk:view", args=[ticket.pk])).content.decode()
    assert page.count("tray 2 still jams") == 1
    assert f"SMS received from {CUSTOMER}" in page
    assert InboundMessage.objects.get().repeat_count == 3
