"""The dashboard in a real browser: reached from the admin index, its charts drawn with data."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from helpdesk_sms.models import BalanceSnapshot, Message
from helpdesk_sms.states import Status

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_dashboard_opens_from_the_admin_index_with_its_charts_drawn(
    admin_page, memory_provider
):
    made = Message.objects.bulk_create(
        Message(recipient="+919812345678", country="IN", provider=memory_provider, status=s)
        for s in [Status.DELIVERED] * 6 + [Status.FAILED] * 2
    )
    Message.objects.filter(pk__in=[m.pk for m in made]).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    for hours, amount in [(20, "900"), (0, "700")]:
        BalanceSnapshot.objects.create(
            provider=memory_provider,
            account="main",
            amount=Decimal(amount),
            taken_at=timezone.now() - timedelta(hours=hours),
        )
    page = admin_page.page
    admin_page.goto("/admin/")

    with page.expect_navigation():
        page.click("text=SMS dashboard")

    states = page.locator("#sms-states svg.hsms-chart")
    assert states.locator("rect.hsms-bar").count() >= 2  # delivered and failed segments
    assert states.locator("text.hsms-total", has_text="8").is_visible()
    assert states.bounding_box()["height"] > 100
    assert "75.0 % delivered (6 of 8)" in page.locator("#sms-rate-provider").inner_text()
    assert page.locator("#sms-balances polyline.hsms-line").count() == 1
    assert "a day" in page.locator("#sms-balances .hsms-runout").inner_text()


def test_the_period_buttons_switch_to_hours(admin_page):
    page = admin_page.page
    admin_page.goto("/admin/helpdesk_sms/dashboard/")

    with page.expect_navigation():
        page.click("text=Last 24 hours")

    assert page.locator(".hsms-periods a[aria-current]").inner_text() == "Last 24 hours"
    assert "Messages by state, last 24 hours" in page.locator("#sms-states h2").inner_text()
