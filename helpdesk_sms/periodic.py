"""Register the periodic jobs with django-celery-beat, idempotently, after every migrate.

Runs only when django_celery_beat is installed; intervals come from the HELPDESK_SMS
settings, and an operator's change to "enabled" in the admin is left alone.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps

from . import conf

logger = logging.getLogger(__name__)

#: (beat entry name, task name, setting with its interval in seconds)
PERIODIC_TASKS = (
    ("helpdesk_sms: outbox sweep", "helpdesk_sms.dispatch", "SWEEP_INTERVAL"),
    ("helpdesk_sms: poll delivery reports", "helpdesk_sms.poll_reports", "REPORT_POLL_INTERVAL"),
    ("helpdesk_sms: check balances", "helpdesk_sms.check_balances", "BALANCE_CHECK_INTERVAL"),
    ("helpdesk_sms: purge old data", "helpdesk_sms.purge", "PURGE_INTERVAL"),
)


def register_periodic_tasks(sender: Any = None, using: str = "default", **kwargs: Any) -> int:
    """Create or update the beat entries; returns how many there are."""
    if not apps.is_installed("django_celery_beat"):
        return 0
    if sender is not None and getattr(sender, "label", None) != "helpdesk_sms":
        return 0
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, task, setting in PERIODIC_TASKS:
        every = int(conf.get(setting))
        schedule, _ = IntervalSchedule.objects.using(using).get_or_create(
            every=every, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.using(using).update_or_create(
            name=name, defaults={"task": task, "interval": schedule}
        )
    return len(PERIODIC_TASKS)
