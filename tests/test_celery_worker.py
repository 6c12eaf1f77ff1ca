"""End to end through a real Celery worker and broker: commit -> task -> gateway -> state."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from helpdesk_sms.models import Message
from helpdesk_sms.periodic import register_periodic_tasks
from helpdesk_sms.states import Status
from project.celery import app
from project.demo.models import Ticket

from .celery_worker import Worker, broker_reachable, require, wait_for

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def services(settings):
    """PostgreSQL and a broker (Redis or RabbitMQ), an empty queue, the shipped templates."""
    require(
        connection.vendor == "postgresql",
        "the worker shares the test database: set DATABASE_URL to PostgreSQL",
    )
    require(
        settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://")),
        "set CELERY_BROKER_URL to the local Redis or RabbitMQ",
    )
    require(broker_reachable(settings.CELERY_BROKER_URL), "the broker is not reachable")
    app.control.purge()
    # Transactional tests flush the tables, data-migration rows included: put them back.
    shipped = importlib.import_module("helpdesk_sms.migrations.0002_default_templates")
    shipped.create_defaults(django_apps, None)


@pytest.fixture
def worker(services, tmp_path):
    process = Worker(tmp_path / "worker.log")
    process.wait_ready()
    yield process
    process.stop()


@pytest.fixture
def beat_worker(services, tmp_path):
    register_periodic_tasks()
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.filter(task="helpdesk_sms.dispatch").update(interval=every_second)
    process = Worker(tmp_path / "worker.log", beat=True)
    process.wait_ready()
    yield process
    process.stop()


def status_of(message: Message) -> str:
    return Message.objects.get(pk=message.pk).status


def test_committed_ticket_is_sent_by_the_worker(memory_provider, worker, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "DISPATCH": "celery"}

    Ticket.objects.create(title="Printer", customer_name="Ravi", customer_phone="+919812345678")

    message = Message.objects.get()
    wait_for(lambda: status_of(message) == Status.ACCEPTED, 30, worker)
    assert "helpdesk_sms.dispatch" in worker.log()


def test_beat_sweep_sends_a_message_whose_kick_was_lost(memory_provider, beat_worker):
    # DISPATCH is "none" in the tests: no task is queued on commit, as if the kick were lost.
    Ticket.objects.create(title="Printer", customer_name="Ravi", customer_phone="+919812345678")

    message = Message.objects.get()
    wait_for(lambda: status_of(message) == Status.ACCEPTED, 45, beat_worker)


def test_worker_balance_task_records_a_snapshot(memory_provider, worker):
    from helpdesk_sms.models import BalanceSnapshot
    from helpdesk_sms.tasks import check_balances

    check_balances.delay()

    wait_for(lambda: BalanceSnapshot.objects.exists(), 30, worker)
    assert BalanceSnapshot.objects.get().amount == Decimal("1000")


def test_worker_submits_to_the_gateway_and_its_report_poll_delivers(
    canlog_provider, canlog_sim, worker, settings
):
    from helpdesk_sms.tasks import poll_reports

    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "DISPATCH": "celery"}
    Ticket.objects.create(title="Printer", customer_name="Ravi", customer_phone="+919812345678")
    message = Message.objects.get()
    wait_for(lambda: status_of(message) == Status.ACCEPTED, 30, worker)
    assert [m["number"] for m in canlog_sim.state()["messages"]] == ["919812345678"]

    canlog_sim.advance(60)
    poll_reports.delay()

    wait_for(lambda: status_of(message) == Status.DELIVERED, 30, worker)
