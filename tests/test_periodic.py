"""The periodic jobs django-celery-beat runs, registered by migrate."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from helpdesk_sms.periodic import register_periodic_tasks

pytestmark = pytest.mark.django_db


def test_migrate_registers_the_sweep_report_poll_and_balance_jobs():
    tasks = set(PeriodicTask.objects.values_list("task", flat=True))

    assert {
        "helpdesk_sms.dispatch",
        "helpdesk_sms.poll_reports",
        "helpdesk_sms.check_balances",
    } <= tasks


def test_registering_twice_creates_no_duplicates():
    before = PeriodicTask.objects.count()

    register_periodic_tasks()
    register_periodic_tasks()

    assert PeriodicTask.objects.count() == before


def test_registered_intervals_follow_the_settings(settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "SWEEP_INTERVAL": 15}

    register_periodic_tasks()

    sweep = PeriodicTask.objects.get(task="helpdesk_sms.dispatch")
    assert sweep.interval.every == 15
