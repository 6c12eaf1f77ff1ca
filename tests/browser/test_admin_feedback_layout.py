"""The template form's live preview, and the message list at 1366 px, in a real browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpdesk_sms.models import Message, NotificationTemplate
from helpdesk_sms.states import Status

pytestmark = pytest.mark.django_db(transaction=True)

#: Where the test saves the README's screenshot when asked (HELPDESK_SMS_SCREENSHOTS=1).
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "message-list.png"


def test_typing_in_the_template_form_updates_the_preview_and_names_an_unknown_variable(
    admin_page, shipped_templates
):
    template = NotificationTemplate.objects.get(event="ticket_created", audience="customer")
    page = admin_page.page
    admin_page.goto(f"/admin/helpdesk_sms/notificationtemplate/{template.pk}/change/")
    preview = page.locator("#hsms-live-preview")

    page.fill("#id_body", "Hello, we are on it: {{ title }}")
    preview.get_by_text("Hello, we are on it: Printer on floor 3 is jammed").wait_for()

    page.fill("#id_body", "Hello {{ shoe_size }}")
    error = preview.locator(".hsms-live-errors")
    error.wait_for()
    assert "{{ shoe_size }} is not a template variable" in error.inner_text()


def long_messages(provider) -> None:
    """Messages in several states, with texts and reasons far longer than a cell."""
    long_text = "Your ticket about the printer on floor 3 that eats every page " * 4
    rows = [
        (Status.DELIVERED, "", ""),
        (Status.FAILED, "invalid_recipient", "The gateway refused the number: " + "x" * 200),
        (Status.SUPPRESSED, "no_recipient", "Not sent: the ticket has no customer phone number."),
        (Status.UNKNOWN, "", ""),
        (Status.QUEUED, "", ""),
        (Status.ACCEPTED, "", ""),
    ]
    for n, (status, category, reason) in enumerate(rows):
        Message.objects.create(
            recipient=f"+9198123456{n:02d}",
            body=long_text,
            status=status,
            provider=provider,
            parts=2,
            currency="INR",
            event="ticket_created",
            ticket_id=str(1000 + n),
            error_category=category,
            error_text=reason,
        )


def test_the_message_list_fits_1366_pixels_with_long_texts(admin_page, canlog_provider):
    long_messages(canlog_provider)
    page = admin_page.page

    admin_page.goto("/admin/helpdesk_sms/message/")

    assert page.locator("#result_list tbody tr").count() == 6
    width = page.evaluate("document.documentElement.scrollWidth")
    results = page.evaluate(
        "(() => { const r = document.querySelector('#changelist .results');"
        " return [r.scrollWidth, r.clientWidth]; })()"
    )
    if os.environ.get("HELPDESK_SMS_SCREENSHOTS"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=False)
    assert width <= 1366
    assert results[0] <= results[1]  # no column hidden behind a scroll bar
