"""Threading a customer's SMS reply into a ticket, on the demo's own Ticket and Task models.

The demo site watches demo.Ticket (project/settings.py), so creating a ticket texts its
customer through the shipped templates: those are the messages a reply threads against.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import checks
from django.utils import timezone

from helpdesk_sms.models import Message, Provider, SenderID
from helpdesk_sms.notifications import notify
from helpdesk_sms.reply_threading import (
    Reply,
    TicketMatch,
    deliver,
    match_ticket,
    references,
    sticky_route,
)
from project.demo.models import Task, Ticket

pytestmark = pytest.mark.django_db

CUSTOMER = "+919812345678"
STRANGER = "+919812345699"


@pytest.fixture(autouse=True)
def _watch_demo_tickets(settings):
    watcher(settings)


def watcher(settings, **keys) -> None:
    """MODEL_WATCHER as project/settings.py has it, with ``keys`` added."""
    config = {
        "TICKET_MODEL": "demo.Ticket",
        "ASSIGNEE_FIELD": "assigned_to",
        "TASK_MODEL": "demo.Task",
        "TASK_TICKET_FIELD": "ticket",
        **keys,
    }
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "MODEL_WATCHER": config}


def ticket_for(phone: str, title: str = "Printer jammed") -> Ticket:
    """A demo ticket; its creation texts ``phone`` (the watcher and the shipped template)."""
    ticket = Ticket.objects.create(title=title, customer_name="Ravi", customer_phone=phone)
    assert Message.objects.filter(recipient=phone, ticket_id=str(ticket.pk)).exists()
    return ticket


def reply(text: str, number: str = CUSTOMER, *, days_later: float = 0) -> Reply:
    return Reply(
        number=number,
        text=text,
        provider=None,
        our_number="+919800000000",
        received_at=timezone.now() + timedelta(days=days_later),
    )


# -- matching --------------------------------------------------------------------------


def test_references_are_found_in_the_order_written():
    found = references("About #12, not it-desk-7 or support-3; see #12 again, abc#4")

    assert [(r.slug, r.pk) for r in found] == [(None, "12"), ("it-desk", "7"), ("support", "3")]


def test_a_reference_lands_on_the_ticket_it_names(memory_provider):
    named = ticket_for(CUSTOMER, "Printer jammed")
    ticket_for(CUSTOMER, "Router down")  # texted later: the last-texted rule would pick it

    match = match_ticket(reply(f"About #{named.pk}: still jammed"))

    assert (match.ticket, match.how) == (named, "reference")


def test_a_reference_to_a_ticket_never_texted_to_the_number_falls_through(memory_provider):
    own = ticket_for(CUSTOMER, "Printer jammed")
    someone_elses = ticket_for(STRANGER, "Salary slip")

    match = match_ticket(reply(f"Show me #{someone_elses.pk}"))

    assert (match.ticket, match.how) == (own, "last_texted")


def test_a_reference_alone_to_someone_elses_ticket_is_unassigned(memory_provider):
    someone_elses = ticket_for(STRANGER, "Salary slip")

    match = match_ticket(reply(f"Show me #{someone_elses.pk}"))

    assert (match.ticket, match.how) == (None, "unassigned")


def test_without_a_reference_the_reply_lands_on_the_ticket_last_texted(memory_provider):
    ticket_for(CUSTOMER, "Printer jammed")
    latest = ticket_for(CUSTOMER, "Router down")

    match = match_ticket(reply("Still broken"))

    assert (match.ticket, match.how) == (latest, "last_texted")


def test_a_reply_after_the_window_matches_no_ticket(memory_provider):
    ticket_for(CUSTOMER)

    match = match_ticket(reply("Still broken", days_later=8))

    assert (match.ticket, match.how) == (None, "unassigned")


def test_the_window_is_a_setting(settings, memory_provider):
    ticket = ticket_for(CUSTOMER)
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "REPLY_WINDOW_DAYS": 10}

    assert match_ticket(reply("Still broken", days_later=8)).ticket == ticket


def test_a_closed_ticket_is_skipped_for_the_open_one_texted_before(settings, memory_provider):
    watcher(settings, OPEN_FIELD="status", OPEN_VALUES=["open"])
    still_open = ticket_for(CUSTOMER, "Printer jammed")
    closed = ticket_for(CUSTOMER, "Router down")
    Ticket.objects.filter(pk=closed.pk).update(status="closed")

    assert match_ticket(reply("Still broken")).ticket == still_open


def test_a_suppressed_message_is_no_conversation(memory_provider):
    ticket = ticket_for(CUSTOMER)
    Message.objects.filter(ticket_id=str(ticket.pk)).update(status="suppressed")

    assert match_ticket(reply(f"#{ticket.pk} still broken")).how == "unassigned"


def test_with_no_ticket_and_no_new_tickets_the_reply_is_unassigned(memory_provider):
    match = match_ticket(reply("Hello?"))

    assert match.how == "unassigned" and "new tickets are off" in match.detail
    assert deliver(reply("Hello?"), match).record is None


# -- delivering onto the watcher's ticket ----------------------------------------------


def test_the_reply_becomes_a_reply_model_row_on_its_ticket(settings, memory_provider):
    watcher(settings, REPLY_MODEL="demo.Task", REPLY_TEXT_FIELD="title")
    ticket = ticket_for(CUSTOMER)
    customer_reply = reply("Still jammed on tray 2")

    delivered = deliver(customer_reply, match_ticket(customer_reply))

    assert delivered.created
    assert list(ticket.tasks.values_list("title", flat=True)) == ["Still jammed on tray 2"]


def test_a_reply_row_that_is_also_a_task_texts_the_customer_nothing(settings, memory_provider):
    """REPLY_MODEL is TASK_MODEL: a new task texts the customer, a customer's reply must
    not (their own words back, and a loop with a phone that answers automatically)."""
    watcher(settings, REPLY_MODEL="demo.Task", REPLY_TEXT_FIELD="title")
    ticket = ticket_for(CUSTOMER)
    customer_reply = reply("Still jammed on tray 2")

    deliver(customer_reply, match_ticket(customer_reply))

    assert Task.objects.filter(ticket=ticket).count() == 1
    assert not Message.objects.filter(event="task_added").exists()


def test_a_task_added_by_staff_still_texts_the_customer(settings, memory_provider):
    ticket = ticket_for(CUSTOMER)

    Task.objects.create(ticket=ticket, title="Technician at 3 pm")

    assert Message.objects.filter(event="task_added", recipient=CUSTOMER).count() == 1


def test_without_a_reply_model_nothing_is_written(memory_provider):
    ticket = ticket_for(CUSTOMER)

    delivered = deliver(reply("Thanks"), TicketMatch(ticket, "last_texted", ""))

    assert (delivered.ticket, delivered.record, delivered.created) == (ticket, None, False)
    assert not Task.objects.exists()


# -- sticky sender ---------------------------------------------------------------------


@pytest.fixture
def second_provider(memory_provider):
    """A provider preferred over memory_provider from now on (a lower priority number)."""
    provider = Provider.objects.create(name="Memory 2", gateway="memory", priority=0)
    provider.default_sender = SenderID.objects.create(provider=provider, value="OTHER")
    provider.save()
    return provider


def test_the_next_message_on_a_ticket_comes_from_the_sender_the_customer_heard(
    memory_provider, second_provider
):
    Provider.objects.filter(pk=second_provider.pk).update(is_active=False)
    ticket = ticket_for(CUSTOMER)  # texted by memory_provider, the only active one
    Provider.objects.filter(pk=second_provider.pk).update(is_active=True)

    [message] = notify("task_added", ticket, occurrence="t1", task=None)

    assert (message.provider, message.sender) == (memory_provider, "HELPDK")
    assert "sticky sender" in message.events.get().note


def test_a_new_ticket_takes_the_preferred_provider(memory_provider, second_provider):
    ticket = ticket_for(CUSTOMER)

    message = Message.objects.get(ticket_id=str(ticket.pk))
    assert (message.provider, message.sender) == (second_provider, "OTHER")


def test_a_deactivated_provider_is_not_sticky(memory_provider, second_provider):
    Provider.objects.filter(pk=second_provider.pk).update(is_active=False)
    ticket = ticket_for(CUSTOMER)
    Provider.objects.filter(pk=second_provider.pk).update(is_active=True)
    Provider.objects.filter(pk=memory_provider.pk).update(is_active=False)
    assert sticky_route(CUSTOMER, ticket) is None

    [message] = notify("task_added", ticket, occurrence="t1", task=None)

    assert message.provider == second_provider


def test_sticky_route_names_the_provider_and_sender_last_heard(memory_provider):
    ticket = ticket_for(CUSTOMER)

    assert sticky_route(CUSTOMER, ticket) == (memory_provider, "HELPDK")
    assert sticky_route(STRANGER, ticket) is None


# -- settings checks -------------------------------------------------------------------


def check_ids(settings, **keys) -> list[str]:
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, **keys}
    return [message.id for message in checks.run_checks()]


def test_check_refuses_a_window_that_is_not_a_number_of_days(settings):
    assert "helpdesk_sms.E131" in check_ids(settings, REPLY_WINDOW_DAYS="7")


def test_check_refuses_new_tickets_that_is_not_true_or_false(settings):
    assert "helpdesk_sms.E132" in check_ids(settings, REPLY_NEW_TICKETS="yes")


def test_check_refuses_new_tickets_without_a_queue(settings):
    assert "helpdesk_sms.E133" in check_ids(settings, REPLY_NEW_TICKETS=True)


def test_check_refuses_a_reply_model_without_a_text_field(settings):
    watcher(settings, REPLY_MODEL="demo.Task")  # Task has a title, no "text"

    errors = [m for m in checks.run_checks() if m.id == "helpdesk_sms.E112"]

    assert [m.msg for m in errors] == [
        "HELPDESK_SMS['MODEL_WATCHER']: REPLY_TEXT_FIELD 'text' is not a text field "
        "(CharField, TextField) of demo.Task; no ticket model is watched."
    ]


def test_check_refuses_an_open_field_the_ticket_lacks(settings):
    watcher(settings, OPEN_FIELD="is_open")

    assert "helpdesk_sms.E112" in [m.id for m in checks.run_checks()]


def test_the_defaults_pass_the_checks(settings):
    ids = check_ids(settings)

    assert not {"helpdesk_sms.E131", "helpdesk_sms.E132", "helpdesk_sms.E133"} & set(ids)


def test_the_sticky_senders_of_a_pass_are_read_in_one_query(memory_provider):
    """One query for the whole pass, however many tickets: a pass for three tickets runs
    as many queries as a pass for one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from helpdesk_sms.notifications import one_pass

    tickets = [ticket_for(f"+91981234567{n}", f"Ticket {n}") for n in range(3)]

    def queries_of_a_pass(some: list[Ticket], occurrence: str) -> int:
        with CaptureQueriesContext(connection) as capture, one_pass():
            for ticket in some:
                notify("task_added", ticket, occurrence=occurrence, task=None)
        return len(capture.captured_queries)

    assert queries_of_a_pass(tickets, "a") == queries_of_a_pass(tickets[:1], "b")
    notes = [m.events.get().note for m in Message.objects.filter(event="task_added")]
    assert len(notes) == 4 and all("sticky sender" in note for note in notes)


def test_check_refuses_a_reply_model_with_a_field_a_reply_cannot_fill(settings):
    # demo.Task's ticket is required: a reply fills it only when it is REPLY_TICKET_FIELD
    watcher(settings, REPLY_MODEL="demo.Task", REPLY_TEXT_FIELD="title", REPLY_TICKET_FIELD="x")

    messages = [m.msg for m in checks.run_checks() if m.id == "helpdesk_sms.E112"]

    assert any("REPLY_TICKET_FIELD 'x' is not a ForeignKey" in m for m in messages)
    assert any("required field 'ticket'" in m for m in messages)


def test_an_agents_answer_from_the_phone_we_texted_is_no_customer_reply(memory_provider, agent):
    ticket = ticket_for(CUSTOMER)
    ticket.assigned_to = agent
    ticket.save()  # texts the agent's phone about the ticket
    assert Message.objects.filter(recipient="+919812345670", ticket_id=str(ticket.pk)).exists()

    match = match_ticket(reply(f"#{ticket.pk} on my way", number="+919812345670"))

    assert (match.ticket, match.how) == (None, "unassigned")


def test_a_reply_lands_on_the_ticket_last_texted_through_the_line_it_came_in_on(
    memory_provider,
):
    other_line = Provider.objects.create(name="Second line", gateway="memory", priority=2)
    first = ticket_for(CUSTOMER, "Printer jammed")  # texted through memory_provider
    second = ticket_for(CUSTOMER, "Router down")
    Message.objects.filter(ticket_id=str(second.pk)).update(provider=other_line)

    answer = Reply(
        number=CUSTOMER,
        text="Still jammed",
        provider=memory_provider,
        our_number="HELPDK",
        received_at=timezone.now(),
    )

    assert match_ticket(answer).ticket == first
