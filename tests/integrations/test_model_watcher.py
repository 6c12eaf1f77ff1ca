"""Any ticket model: the demo's own Ticket and Task, watched as MODEL_WATCHER describes.

project/settings.py points MODEL_WATCHER at demo.Ticket and demo.Task, so these tests drive
that site's admin over HTTP (and its models directly, for the races) and follow each SMS to
the Canlog simulator and its delivery report.
"""

from __future__ import annotations

import threading

import pytest
from django.core import checks
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models.signals import pre_save

from helpdesk_sms.integrations import model_watcher
from helpdesk_sms.models import Message, NotificationTemplate
from helpdesk_sms.states import Status
from project.demo.models import Task, Ticket

from .conftest import deliver

CUSTOMER_DIGITS = "919812345678"
AGENT_DIGITS = "919812345670"  # the `agent` fixture's number (tests/conftest.py)


def ticket_form(**fields) -> dict:
    """The demo admin's ticket form, with its task inline, as a browser posts it."""
    data = {
        "title": "Printer jammed",
        "description": "",
        "customer_name": "Ravi",
        "customer_phone": "98123 45678",
        "assigned_to": "",
        "status": "open",
        "tasks-TOTAL_FORMS": "1",
        "tasks-INITIAL_FORMS": "0",
        "tasks-MIN_NUM_FORMS": "0",
        "tasks-MAX_NUM_FORMS": "1000",
        "tasks-0-title": "",
        **fields,
    }
    return data


def change(admin_client, ticket: Ticket, **fields) -> None:
    ticket.refresh_from_db()
    data = ticket_form(
        title=ticket.title,
        customer_name=ticket.customer_name,
        customer_phone=ticket.customer_phone,
        assigned_to=ticket.assigned_to_id or "",
        status=ticket.status,
        **{"tasks-TOTAL_FORMS": "1", "tasks-INITIAL_FORMS": "0"},
    )
    data.update(fields)
    response = admin_client.post(f"/admin/demo/ticket/{ticket.pk}/change/", data)
    assert response.status_code == 302, response.content[:3000]


def messages(event: str) -> list[Message]:
    return list(Message.objects.filter(event=event).order_by("pk"))


def assert_delivered(*found: Message) -> None:
    for message in found:
        message.refresh_from_db()
        assert message.status == Status.DELIVERED, (message, message.error_text)


@pytest.fixture
def ticket(sms_provider, canlog_sim) -> Ticket:
    """A ticket whose acknowledgement has already gone out."""
    ticket = Ticket.objects.create(
        title="Printer jammed", customer_name="Ravi", customer_phone="+919812345678"
    )
    deliver(canlog_sim)
    canlog_sim.reset_state()
    return ticket


@pytest.fixture
def other_agent(django_user_model):
    from helpdesk_sms.models import AgentProfile

    user = django_user_model.objects.create_user("bala", first_name="Bala")
    AgentProfile.objects.create(user=user, phone="+919812345679")
    return user


# -- over HTTP: the demo site's admin --------------------------------------------------


@pytest.mark.django_db
def test_ticket_added_in_the_admin_texts_the_customer(admin_client, sms_provider, canlog_sim):
    response = admin_client.post("/admin/demo/ticket/add/", ticket_form())

    assert response.status_code == 302, response.content[:3000]
    ticket = Ticket.objects.get()
    assert deliver(canlog_sim) == {
        CUSTOMER_DIGITS: f"We received your request #{ticket.pk}: Printer jammed. "
        "We will keep you posted."
    }
    assert_delivered(*messages("ticket_created"))


@pytest.mark.django_db
def test_assigning_in_the_admin_texts_the_agent(admin_client, ticket, agent, canlog_sim):
    change(admin_client, ticket, assigned_to=agent.pk)

    assert deliver(canlog_sim) == {
        AGENT_DIGITS: f"Ticket #{ticket.pk} is assigned to you: Printer jammed"
    }
    assert_delivered(*messages("ticket_assigned"))


@pytest.mark.django_db
def test_saving_again_in_the_admin_texts_nobody(admin_client, ticket, agent, canlog_sim):
    change(admin_client, ticket, assigned_to=agent.pk)
    deliver(canlog_sim)
    canlog_sim.reset_state()

    change(admin_client, ticket, title="Printer jammed again")

    assert deliver(canlog_sim) == {}
    assert len(messages("ticket_assigned")) == 1


@pytest.mark.django_db
def test_unassigning_in_the_admin_texts_nobody(admin_client, ticket, agent, canlog_sim):
    change(admin_client, ticket, assigned_to=agent.pk)
    deliver(canlog_sim)
    canlog_sim.reset_state()

    change(admin_client, ticket, assigned_to="")

    assert Ticket.objects.get().assigned_to is None
    assert deliver(canlog_sim) == {}


@pytest.mark.django_db
def test_task_added_in_the_admin_acknowledges_the_customer(admin_client, ticket, canlog_sim):
    change(admin_client, ticket, **{"tasks-0-title": "Replace toner"})

    assert Task.objects.get().title == "Replace toner"
    assert deliver(canlog_sim) == {
        CUSTOMER_DIGITS: f"Update on your request #{ticket.pk}: Replace toner"
    }
    assert_delivered(*messages("task_added"))


# -- the comparison, saves made directly -----------------------------------------------


@pytest.mark.django_db
def test_reassigning_to_the_same_agent_later_texts_them_again(
    ticket, agent, other_agent, canlog_sim
):
    for owner in (agent, other_agent, agent):
        ticket.assigned_to = owner
        ticket.save()
        deliver(canlog_sim)

    found = messages("ticket_assigned")
    assert [m.recipient for m in found] == ["+919812345670", "+919812345679", "+919812345670"]
    assert_delivered(*found)


@pytest.mark.django_db
def test_a_stale_copy_assigning_the_same_agent_texts_once(ticket, agent):
    first, second = Ticket.objects.get(pk=ticket.pk), Ticket.objects.get(pk=ticket.pk)

    first.assigned_to = agent
    first.save()
    second.assigned_to = agent  # loaded unassigned, but the database already says agent
    second.save()

    assert len(messages("ticket_assigned")) == 1


@pytest.mark.django_db
def test_a_stale_copy_putting_back_the_old_agent_texts_them(ticket, agent, other_agent):
    ticket.assigned_to = agent
    ticket.save()
    stale = Ticket.objects.get(pk=ticket.pk)  # assigned to agent
    ticket.assigned_to = other_agent
    ticket.save()

    stale.title = "Printer jammed (tray 2)"
    stale.save()  # writes agent back: the database changed, so agent is told

    assert [m.recipient for m in messages("ticket_assigned")] == [
        "+919812345670",
        "+919812345679",
        "+919812345670",
    ]


@pytest.mark.django_db
def test_two_saves_racing_on_the_same_change_text_once(ticket, agent):
    """The second save read "unassigned" before the first one wrote "agent"."""
    first, second = Ticket.objects.get(pk=ticket.pk), Ticket.objects.get(pk=ticket.pk)
    first.assigned_to = second.assigned_to = agent

    def first_saves_in_between(sender, instance, **kwargs):
        if instance is second:  # runs after the watcher has compared `second`
            pre_save.disconnect(first_saves_in_between, sender=Ticket)
            first.save()

    pre_save.connect(first_saves_in_between, sender=Ticket, weak=False)
    try:
        second.save()
    finally:
        pre_save.disconnect(first_saves_in_between, sender=Ticket)

    assert len(messages("ticket_assigned")) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_transactions_assigning_the_same_agent_text_once(sms_provider, agent):
    if connection.vendor != "postgresql":
        pytest.skip("needs a database that serves several connections at once (PostgreSQL)")
    # An earlier transactional test may have flushed the templates the migrations wrote.
    NotificationTemplate.objects.get_or_create(
        event="ticket_assigned",
        audience="assignee",
        defaults={"name": "Assigned", "body": "Ticket #{{ ticket.pk }} is yours"},
    )
    ticket = Ticket.objects.create(title="Printer jammed", customer_name="Ravi")
    first_saved, errors = threading.Event(), []

    def first() -> None:
        try:
            with transaction.atomic():
                copy = Ticket.objects.get(pk=ticket.pk)
                copy.assigned_to = agent
                copy.save()
                first_saved.set()
                threading.Event().wait(0.5)  # hold the row while the second one tries
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            first_saved.set()
            connection.close()

    def second() -> None:
        try:
            first_saved.wait(10)
            with transaction.atomic():
                copy = Ticket.objects.get(pk=ticket.pk)  # still unassigned: first not committed
                copy.assigned_to = agent
                copy.save()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(messages("ticket_assigned")) == 1


@pytest.mark.django_db
def test_a_save_that_does_not_write_the_assignee_texts_nobody(ticket, agent):
    ticket.assigned_to = agent
    ticket.save(update_fields=["title"])

    assert messages("ticket_assigned") == []


@pytest.mark.django_db
def test_loading_a_fixture_texts_nobody(tmp_path, sms_provider, agent):
    fixture = tmp_path / "tickets.json"
    fixture.write_text(
        '[{"model": "demo.ticket", "pk": 50, "fields": {"title": "Imported", '
        '"customer_name": "Ravi", "customer_phone": "+919812345678", '
        f'"assigned_to": {agent.pk}, "status": "open", '
        '"created_at": "2026-11-24T00:00:00Z"}}]'
    )

    call_command("loaddata", str(fixture), verbosity=0)

    assert Ticket.objects.filter(pk=50).exists()
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_queryset_update_is_not_seen(ticket, agent):
    """A documented limit: update() sends no model signals, so no SMS either."""
    Ticket.objects.filter(pk=ticket.pk).update(assigned_to=agent)

    assert messages("ticket_assigned") == []


# -- configuration ---------------------------------------------------------------------


def watch(settings, **config) -> list[checks.CheckMessage]:
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "MODEL_WATCHER": config}
    return model_watcher.check_model_watcher()


def test_a_valid_configuration_passes_the_check(settings):
    found = watch(
        settings, TICKET_MODEL="demo.Ticket", TASK_MODEL="demo.Task", TASK_TICKET_FIELD="ticket"
    )

    assert found == []


def test_check_names_a_ticket_model_that_does_not_exist(settings):
    [error] = watch(settings, TICKET_MODEL="demo.Tiket")

    assert "TICKET_MODEL 'demo.Tiket' is not an installed model" in error.msg


def test_check_refuses_an_assignee_field_that_is_not_a_user(settings):
    [error] = watch(settings, TICKET_MODEL="demo.Ticket", ASSIGNEE_FIELD="customer_name")

    assert "ASSIGNEE_FIELD 'customer_name' is not a ForeignKey" in error.msg


def test_check_refuses_a_task_link_that_is_not_the_ticket(settings):
    [error] = watch(
        settings, TICKET_MODEL="demo.Ticket", TASK_MODEL="demo.Task", TASK_TICKET_FIELD="title"
    )

    assert "TASK_TICKET_FIELD 'title'" in error.msg


def test_check_names_unknown_keys(settings):
    [error] = watch(settings, TICKET_MODEL="demo.Ticket", ASIGNEE_FIELD="assigned_to")

    assert "unknown key 'ASIGNEE_FIELD'" in error.msg


def test_an_invalid_configuration_connects_nothing(settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "MODEL_WATCHER": {"TICKET_MODEL": "x.Y"}}

    assert model_watcher.connect_from_settings() is None


@pytest.mark.django_db
def test_tickets_save_even_when_our_tables_fail(agent, other_agent):
    """A site that installed the app but has not migrated it yet: every query of ours fails.

    On PostgreSQL a failed query aborts the whole transaction, so this proves the savepoints
    around our receivers, not just their except clauses.
    """
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE helpdesk_sms_message RENAME TO helpdesk_sms_message_gone")

    with transaction.atomic():
        ticket = Ticket.objects.create(
            title="Printer jammed",
            customer_name="Ravi",
            customer_phone="+919812345678",
            assigned_to=agent,
        )
        ticket.assigned_to = other_agent
        ticket.save()
        Task.objects.create(ticket=ticket, title="Replace toner")

    ticket.refresh_from_db()
    assert ticket.assigned_to == other_agent
