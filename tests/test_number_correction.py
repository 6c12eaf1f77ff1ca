"""A ticket raised with a bad number gets its acknowledgement once the number is corrected."""

from __future__ import annotations

from helpdesk_sms.models import Message
from helpdesk_sms.states import Source, Status
from project.demo.models import Ticket

from .querycount import captured
from .test_routing import provider, route


def make_ticket(phone: str) -> Ticket:
    return Ticket.objects.create(title="Printer jammed", customer_name="Ravi", customer_phone=phone)


def correct(ticket: Ticket, phone: str) -> None:
    """Load the ticket afresh (as a form or view would) and save the new number."""
    fresh = Ticket.objects.get(pk=ticket.pk)
    fresh.customer_phone = phone
    fresh.save()


def acknowledgements() -> list[Message]:
    return list(Message.objects.filter(event="ticket_created").order_by("pk"))


def test_correcting_the_number_sends_the_suppressed_acknowledgement_to_it(memory_provider):
    ticket = make_ticket("98765")

    correct(ticket, "+919812345678")

    suppressed, replacement = acknowledgements()
    assert suppressed.status == Status.SUPPRESSED
    assert (replacement.status, replacement.recipient) == (Status.QUEUED, "+919812345678")
    assert replacement.body == suppressed.body
    assert replacement.resend_of == suppressed


def test_a_correction_is_seen_with_the_demo_sites_django_helpdesk_resolver(
    memory_provider, settings
):
    """The demo names django-helpdesk's resolver, which reads any other ticket's own field."""
    settings.HELPDESK_SMS = {
        **settings.HELPDESK_SMS,
        "CUSTOMER_PHONE_RESOLVER": "helpdesk_sms.integrations.django_helpdesk.customer_phone",
    }
    ticket = make_ticket("98765")

    correct(ticket, "+919812345678")

    assert [m.recipient for m in acknowledgements()] == ["98765", "+919812345678"]


def test_the_corrected_number_takes_its_route(memory_provider):
    """The suppressed acknowledgement never had a provider: its re-send is routed like a
    first send, not sent through the preferred provider."""
    lagos = provider("Lagos")
    route("Nigeria", lagos, country="NG")
    ticket = make_ticket("0803")

    correct(ticket, "+2348031234567")

    _, replacement = acknowledgements()
    assert (replacement.provider, replacement.route.name) == (lagos, "Nigeria")
    assert "route 'Nigeria'" in replacement.events.get().note


def test_the_suppressed_acknowledgement_links_its_replacement_on_its_timeline(memory_provider):
    ticket = make_ticket("98765")

    correct(ticket, "+919812345678")

    suppressed, replacement = acknowledgements()
    event = suppressed.events.order_by("-pk").first()
    assert event.note == f"re-sent as message #{replacement.pk} to +919812345678"
    assert event.source == Source.SYSTEM
    assert event.data == {"resent_as": replacement.pk}


def test_a_second_correction_sends_nothing_more(memory_provider):
    ticket = make_ticket("98765")
    correct(ticket, "+919812345678")

    correct(ticket, "+919812345679")

    assert len(acknowledgements()) == 2


def test_a_ticket_raised_without_a_number_is_acknowledged_once_one_is_added(memory_provider):
    ticket = make_ticket("")

    correct(ticket, "+919812345678")

    assert [m.status for m in acknowledgements()] == [Status.SUPPRESSED, Status.QUEUED]


def test_a_correction_to_another_invalid_number_writes_nothing_and_a_valid_one_later_sends(
    memory_provider,
):
    ticket = make_ticket("98765")

    correct(ticket, "12")
    assert len(acknowledgements()) == 1

    correct(ticket, "+919812345678")
    assert [m.recipient for m in acknowledgements()][1:] == ["+919812345678"]


def test_changing_the_number_of_an_acknowledged_ticket_sends_nothing(memory_provider):
    ticket = make_ticket("+919812345678")

    correct(ticket, "+919812345679")

    assert [m.recipient for m in acknowledgements()] == ["+919812345678"]


def test_a_save_that_keeps_the_number_runs_no_query_for_it(memory_provider):
    ticket = make_ticket("98765")
    fresh = Ticket.objects.get(pk=ticket.pk)
    fresh.title = "Printer jammed again"

    sql = captured(fresh.save, atomic=True)

    assert not [q for q in sql if "helpdesk_sms_message" in q]
