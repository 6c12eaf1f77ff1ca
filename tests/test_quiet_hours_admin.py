"""Quiet hours as operators meet them: the settings check, the template form, the preview
and the dashboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from helpdesk_sms.models import Message, NotificationTemplate
from helpdesk_sms.preview import preview_html, quiet_hours_line
from helpdesk_sms.states import Status

from .test_checks import check_output

pytestmark = pytest.mark.django_db

KOLKATA = ZoneInfo("Asia/Kolkata")
DASHBOARD = "/admin/helpdesk_sms/dashboard/"


def template(**fields) -> NotificationTemplate:
    values = {
        "name": "Acknowledgement",
        "event": "task_added",
        "audience": "customer",
        "body": "We are on it.",
        "is_active": False,  # beside the shipped template, not its twin
        **fields,
    }
    return NotificationTemplate(**values)


def words(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


# -- settings and template values --------------------------------------------------------


def test_check_refuses_a_quiet_hours_setting_it_cannot_read(settings):
    said = check_output(settings, QUIET_HOURS="9pm to 8am")

    assert "(helpdesk_sms.E150) HELPDESK_SMS['QUIET_HOURS'] must be a window" in said
    assert "'9pm to 8am'" in said


def test_check_accepts_a_window_written_as_a_dict(settings):
    said = check_output(settings, QUIET_HOURS={"start": "21:00", "end": "08:00"})

    assert "E150" not in said


def test_check_names_a_ticket_time_zone_resolver_that_does_not_import(settings):
    said = check_output(settings, TICKET_TIMEZONE_RESOLVER="nowhere.zone_of")

    assert "(helpdesk_sms.E151) HELPDESK_SMS['TICKET_TIMEZONE_RESOLVER']" in said


def test_a_template_with_unreadable_quiet_hours_is_refused_naming_the_field():
    with pytest.raises(ValidationError) as refused:
        template(quiet_hours="21-8").full_clean()

    [message] = refused.value.message_dict["quiet_hours"]
    assert message.startswith("Quiet hours must be a window of local hours")
    assert "'off'" in message


@pytest.mark.parametrize("value", ["", "off", "OFF", "22:30-06:15"])
def test_a_template_accepts_empty_off_or_a_window(value):
    template(quiet_hours=value).full_clean()


def test_the_live_preview_names_unreadable_quiet_hours(admin_client):
    response = admin_client.post(
        reverse("admin:helpdesk_sms_notificationtemplate_live_preview"),
        {"event": "ticket_created", "audience": "customer", "body": "Hi", "quiet_hours": "x"},
    )

    assert response.json()["errors"]["quiet_hours"].startswith("Quiet hours must be a window")


# -- the preview -----------------------------------------------------------------------


def test_the_preview_says_a_message_to_a_sample_number_would_be_held(memory_provider, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "QUIET_HOURS": "21:00-08:00"}
    two_am = datetime(2026, 3, 11, 2, 0, tzinfo=KOLKATA)

    line = quiet_hours_line(template(), memory_provider, now=two_am)

    assert "Quiet hours 21:00–08:00 in the recipient's local time" in line
    assert "A message due now to +91" in line
    assert "(Asia/Kolkata) would be held: quiet hours 21:00–08:00 in Asia/Kolkata" in line


def test_the_preview_says_a_message_due_in_the_day_goes_at_once(memory_provider, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "QUIET_HOURS": "21:00-08:00"}
    noon = datetime(2026, 3, 11, 12, 0, tzinfo=KOLKATA)

    assert "would go at once" in quiet_hours_line(template(), memory_provider, now=noon)


def test_the_preview_of_an_urgent_template_says_it_ignores_quiet_hours(memory_provider, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "QUIET_HOURS": "21:00-08:00"}

    html = preview_html(template(urgent=True, provider=memory_provider))

    assert "Urgent: sent at once, whatever the quiet hours." in words(html)


def test_the_preview_says_nothing_of_quiet_hours_when_there_are_none(memory_provider):
    assert "quiet hours" not in words(preview_html(template(provider=memory_provider))).lower()


# -- the dashboard ---------------------------------------------------------------------


def test_the_dashboard_counts_the_messages_held_for_quiet_hours_and_links_them(
    admin_client, memory_provider
):
    later = datetime(2030, 1, 1, 2, 30, tzinfo=UTC)
    common = {"provider": memory_provider, "body": "hi", "send_at": later}
    Message.objects.bulk_create(
        [
            Message(recipient="+919812345678", status=Status.SCHEDULED, quiet_hours=True, **common),
            Message(recipient="+919812345679", status=Status.SCHEDULED, quiet_hours=True, **common),
            Message(recipient="+919812345670", status=Status.SCHEDULED, **common),
            Message(recipient="+919812345671", status=Status.QUEUED, quiet_hours=True, **common),
        ]
    )

    response = admin_client.get(DASHBOARD)

    assert response.context["backlog"].quiet_hours == 2
    assert "2 held for quiet hours" in words(response.content.decode())
    listed = admin_client.get(response.context["quiet_hours_url"])
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 2
