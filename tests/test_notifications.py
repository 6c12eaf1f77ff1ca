"""Ticket events become messages: who is texted, what they read, and what never happens."""

from __future__ import annotations

import logging

import pytest

from helpdesk_sms import signals
from helpdesk_sms.integrations import model_watcher
from helpdesk_sms.models import Message, NotificationTemplate
from helpdesk_sms.states import Status
from project.demo.models import Task, Ticket

from .querycount import Added, added, app_disabled, captured

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
        body="Hi {{ assignee.first_name }} [{{ ticket.assigned_to.password }}]"
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


# -- the ticket-save path: what a save costs, and that a repeat still texts nobody -----------

#: What the app may add to a save of the demo's ticket (docs/architecture.md, "The
#: ticket-save path"). Queries: SELECT/INSERT; savepoints: SAVEPOINT and RELEASE (or, in
#: autocommit, the BEGIN and COMMIT around the inserts).
BUDGET = {
    # templates, provider with its sender, the number's messages of the last hour (the
    # hourly limit), INSERT messages, INSERT events; one savepoint.
    "create": Added(statements=7, queries=5),
    # the tracker's read (stored assignee + newest assignment message) in a savepoint of
    # its own; then templates, the agent's profile, provider, the hourly count, two
    # INSERTs in notify's.
    "assign": Added(statements=11, queries=7),
}
#: In autocommit the tracker's read needs no savepoint (there is nothing to abort).
AUTOCOMMIT_BUDGET = {"create": Added(7, 5), "assign": Added(9, 7)}
#: A ticket created already assigned: both events in one pass, one savepoint (or BEGIN and
#: COMMIT): the templates of both, the provider, the agent's profile, one hourly count for
#: both numbers, two INSERTs.
CREATED_ASSIGNED_BUDGET = Added(statements=8, queries=6)


def create_then_assign(agent, *, atomic: bool) -> dict[str, list[str]]:
    """The SQL of creating a ticket, then of assigning it, each a save of its own."""
    sql = {}
    ticket = None

    def create() -> None:
        nonlocal ticket
        ticket = make_ticket()

    def assign() -> None:
        ticket.assigned_to = agent
        ticket.save()

    sql["create"] = captured(create, atomic=atomic)
    sql["assign"] = captured(assign, atomic=atomic)
    return sql


def measure_save_path(agent, *, atomic: bool) -> dict[str, Added]:
    make_ticket()  # as in any running site: the ticket's ContentType is cached
    with_app = create_then_assign(agent, atomic=atomic)
    assert [m.event for m in Message.objects.order_by("pk")][-2:] == [
        "ticket_created",
        "ticket_assigned",
    ]
    assert set(Message.objects.values_list("status", flat=True)) == {Status.QUEUED}
    with app_disabled(model_watcher.active.disconnect, model_watcher.active.connect):
        without_app = create_then_assign(agent, atomic=atomic)
    return {step: added(with_app[step], without_app[step]) for step in with_app}


def within(found: Added, budget: Added) -> bool:
    return found.statements <= budget.statements and found.queries <= budget.queries


def test_creating_and_assigning_a_ticket_adds_at_most_seven_queries_each(memory_provider, agent):
    found = measure_save_path(agent, atomic=True)  # as the admin and ATOMIC_REQUESTS save

    assert found["create"].queries <= 7 and found["assign"].queries <= 7
    assert within(found["create"], BUDGET["create"]), found
    assert within(found["assign"], BUDGET["assign"]), found


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_creating_and_assigning_a_ticket_adds_at_most_seven_queries_each(
    shipped_templates, memory_provider, agent
):
    found = measure_save_path(agent, atomic=False)

    assert found["create"].queries <= 7 and found["assign"].queries <= 7
    assert within(found["create"], AUTOCOMMIT_BUDGET["create"]), found
    assert within(found["assign"], AUTOCOMMIT_BUDGET["assign"]), found


@pytest.mark.parametrize("atomic", [True, False], ids=["in-a-transaction", "autocommit"])
@pytest.mark.django_db(transaction=True)
def test_creating_an_assigned_ticket_adds_at_most_seven_queries_in_total(
    shipped_templates, memory_provider, agent, atomic
):
    make_ticket()  # as in any running site: the ticket's ContentType is cached

    def create_assigned() -> None:
        make_ticket(assigned_to=agent)

    with_app = captured(create_assigned, atomic=atomic)
    assert sorted(Message.objects.values_list("event", "status")) == [
        ("ticket_assigned", Status.QUEUED),
        ("ticket_created", Status.QUEUED),
        ("ticket_created", Status.QUEUED),
    ]
    with app_disabled(model_watcher.active.disconnect, model_watcher.active.connect):
        without_app = captured(create_assigned, atomic=atomic)
    found = added(with_app, without_app)

    assert found.queries <= 7
    assert within(found, CREATED_ASSIGNED_BUDGET), found


def test_an_assigned_ticket_whose_customer_cannot_be_looked_up_still_texts_the_agent(
    memory_provider, agent, settings, caplog
):
    settings.HELPDESK_SMS = {
        **settings.HELPDESK_SMS,
        "CUSTOMER_PHONE_RESOLVER": "tests.test_notifications.raise_lookup_error",
    }

    with caplog.at_level(logging.ERROR, logger="helpdesk_sms"):
        ticket = make_ticket(assigned_to=agent)

    assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert "ticket_created notification" in caplog.text and "CRM is down" in caplog.text
    [message] = Message.objects.all()
    assert (message.event, message.recipient) == ("ticket_assigned", "+919812345670")


def test_a_save_that_assigns_nobody_adds_no_query(memory_provider):
    ticket = make_ticket()

    def retitle() -> None:
        ticket.title = "Printer jammed again"
        ticket.save()

    with_app = captured(retitle, atomic=True)
    with app_disabled(model_watcher.active.disconnect, model_watcher.active.connect):
        without_app = captured(retitle, atomic=True)

    assert added(with_app, without_app) == Added(0, 0)


def test_a_repeated_assignment_signal_texts_nobody_and_logs_no_error(
    memory_provider, agent, caplog
):
    ticket = make_ticket(assigned_to=agent)
    occurrence = Message.objects.get(audience="assignee").idempotency_key.rsplit(":", 1)[1]

    with caplog.at_level(logging.WARNING, logger="helpdesk_sms"):
        signals.ticket_assigned.send(
            sender=Ticket, ticket=ticket, assignee=agent, occurrence=occurrence
        )

    assert Message.objects.filter(audience="assignee").count() == 1
    assert caplog.text == ""


def test_a_repeated_event_inside_the_hosts_transaction_leaves_it_usable(memory_provider):
    """On PostgreSQL the refused insert would abort the host's transaction without our
    savepoint; the host's next query proves it did not."""
    from django.db import transaction

    with transaction.atomic():
        ticket = make_ticket()
        signals.ticket_created.send(sender=Ticket, ticket=ticket)
        ticket.title = "Printer jammed (tray 2)"
        ticket.save()
        Task.objects.create(ticket=ticket, title="Replace toner")

    assert Ticket.objects.get(pk=ticket.pk).title == "Printer jammed (tray 2)"
    assert sorted(Message.objects.values_list("event", flat=True)) == [
        "task_added",
        "ticket_created",
    ]


def test_a_repeated_group_event_texts_only_the_member_added_since(memory_provider):
    from helpdesk_sms.models import Contact, RecipientGroup

    group = RecipientGroup.objects.create(name="Managers")
    group.members.add(Contact.objects.create(name="Meera", phone="+919812345601"))
    NotificationTemplate.objects.create(
        name="Managers", event="ticket_created", audience="group", group=group, body="New: #1"
    )
    ticket = make_ticket()
    group.members.add(Contact.objects.create(name="Kiran", phone="+919812345602"))

    signals.ticket_created.send(sender=Ticket, ticket=ticket)  # the same event again

    assert sorted(Message.objects.values_list("recipient", flat=True)) == [
        "+919812345601",
        "+919812345602",
        "+919812345678",
    ]
    assert all(m.events.count() == 1 for m in Message.objects.all())


def test_a_broken_template_does_not_keep_the_others_from_sending(memory_provider, agent):
    NotificationTemplate.objects.create(
        name="Broken", event="ticket_assigned", audience="assignee", body="{% if %}"
    )

    make_ticket(assigned_to=agent)

    statuses = sorted(Message.objects.filter(audience="assignee").values_list("status", flat=True))
    assert statuses == [Status.FAILED, Status.QUEUED]


def test_a_ticket_that_cannot_be_read_fails_its_message_with_the_reason(
    memory_provider, monkeypatch
):
    def broken_url(ticket):
        raise RuntimeError("URL service down")

    monkeypatch.setattr(Ticket, "get_absolute_url", broken_url, raising=False)

    ticket = make_ticket()

    message = Message.objects.get(ticket_id=str(ticket.pk))
    assert message.status == Status.FAILED
    assert message.error_text == (
        "The ticket could not be read for the template: RuntimeError: URL service down"
    )
