"""An operator's first walk: log in, raise a ticket, watch its SMS reach `delivered`."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_logging_in_shows_the_sms_app(admin_page):
    admin_page.goto("/admin/")

    assert admin_page.page.locator("#content").get_by_text("SMS").first.is_visible()


def test_a_ticket_raised_in_the_admin_shows_its_sms_delivered_in_the_list(
    admin_page, canlog_provider, canlog_sim, shipped_templates, deliver
):
    page = admin_page.page
    admin_page.goto("/admin/demo/ticket/add/")
    page.fill("#id_title", "Printer jammed")
    page.fill("#id_customer_name", "Ravi")
    page.fill("#id_customer_phone", "98123 45678")
    admin_page.save()
    assert page.url.endswith("/admin/demo/ticket/")

    admin_page.goto("/admin/helpdesk_sms/message/")
    row = page.locator("#result_list tbody tr").first
    assert "queued" in row.inner_text().lower()

    deliver(canlog_sim)
    page.reload()

    row = page.locator("#result_list tbody tr").first
    text = row.inner_text()
    assert "delivered" in text.lower()
    assert "Printer jammed" in text
