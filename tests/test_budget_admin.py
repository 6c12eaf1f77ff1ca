"""The budget cap pages, held messages in the message list, priority on the template form."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk_sms.budget import check
from helpdesk_sms.models import BudgetCap, Message, Provider
from helpdesk_sms.states import Priority, Status

from .test_admin import page, url

pytestmark = pytest.mark.django_db

REASON = "held: provider ATL's daily cap of 500.00 NGN reached (512.40 NGN spent today)"


@pytest.fixture
def atl(db):
    return Provider.objects.create(
        name="ATL", gateway="memory", currency="NGN", price_per_part=Decimal("4")
    )


def spend(provider, cost: str) -> None:
    Message.objects.create(
        recipient="+2348031234567",
        provider=provider,
        status=Status.ACCEPTED,
        submitted_at=timezone.now(),
        cost=Decimal(cost),
        currency="NGN",
    )


def held_message(atl) -> Message:
    BudgetCap.objects.create(provider=atl, period="daily", limit="500", unit="NGN")
    spend(atl, "512.40")
    message = Message.objects.create(
        recipient="+2348031234568", provider=atl, status=Status.QUEUED, body="Hello"
    )
    check()
    message.refresh_from_db()
    return message


def cap_form(**fields: object) -> dict[str, object]:
    form = {"provider": "", "period": "daily", "limit": "500", "unit": "NGN", "is_active": "on"}
    return {**form, **fields}


def form_errors(response) -> dict[str, list[str]]:
    return {k: list(v) for k, v in response.context["adminform"].form.errors.items()}


def test_the_cap_list_shows_the_spend_this_period_and_the_share_used(admin_client, atl):
    BudgetCap.objects.create(provider=atl, period="daily", limit="500", unit="NGN")
    BudgetCap.objects.create(period="monthly", limit="200", unit="parts")
    spend(atl, "125")

    html = page(admin_client.get(url("budgetcap", "changelist")))

    assert "500.00 NGN" in html and "125.00 NGN" in html and "25%" in html
    assert "overall" in html and "1 parts" in html


def test_the_cap_list_says_when_a_cap_is_reached(admin_client, atl):
    BudgetCap.objects.create(provider=atl, period="daily", limit="100", unit="NGN")
    spend(atl, "150")

    html = page(admin_client.get(url("budgetcap", "changelist")))

    assert "150% (reached: normal messages held)" in html


def test_the_cap_list_costs_the_same_queries_however_many_caps(admin_client, atl):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            admin_client.get(url("budgetcap", "changelist"))
        return len(captured.captured_queries)

    BudgetCap.objects.create(provider=atl, period="daily", limit="500", unit="NGN")
    spend(atl, "1")
    one = queries()
    BudgetCap.objects.create(provider=atl, period="monthly", limit="500", unit="NGN")
    BudgetCap.objects.create(period="daily", limit="900", unit="NGN")
    BudgetCap.objects.create(period="monthly", limit="900", unit="parts")
    spend(atl, "1")

    assert queries() == one


def test_adding_a_cap(admin_client, atl):
    response = admin_client.post(url("budgetcap", "add"), cap_form(provider=atl.pk))

    assert response.status_code == 302
    assert BudgetCap.objects.get().provider == atl


def test_a_cap_in_another_currency_than_the_providers_is_refused_on_the_unit(admin_client, atl):
    response = admin_client.post(url("budgetcap", "add"), cap_form(provider=atl.pk, unit="EUR"))

    assert form_errors(response) == {
        "unit": ["Provider 'ATL' is priced in NGN: use NGN or 'parts'."]
    }
    assert not BudgetCap.objects.exists()


def test_a_limit_of_zero_is_refused_on_the_limit(admin_client):
    response = admin_client.post(url("budgetcap", "add"), cap_form(limit="0"))

    assert form_errors(response) == {"limit": ["The limit must be more than zero."]}


def test_a_second_active_overall_cap_is_refused_on_the_period(admin_client):
    BudgetCap.objects.create(period="daily", limit="10", unit="NGN")

    response = admin_client.post(url("budgetcap", "add"), cap_form())

    assert list(form_errors(response)) == ["period"]
    assert "already an active daily cap for overall" in form_errors(response)["period"][0]


def test_the_message_list_shows_why_a_queued_message_is_held(admin_client, atl):
    held_message(atl)

    html = page(admin_client.get(url("message", "changelist")))

    assert "held: provider ATL&#x27;s daily cap of 500.00 NGN" in html


def test_the_held_filter_lists_only_held_messages(admin_client, atl):
    held = held_message(atl)

    response = admin_client.get(url("message", "changelist"), {"held": "yes"})

    assert [m.pk for m in response.context["cl"].result_list] == [held.pk]


def test_the_message_page_shows_the_held_reason_and_priority(admin_client, atl):
    held = held_message(atl)

    html = page(admin_client.get(url("message", "change", held.pk)))

    assert REASON.replace("'", "&#x27;") in html
    assert "normal (held while a budget cap is reached)" in html


def test_the_template_form_offers_the_priority(admin_client):
    html = page(admin_client.get(url("notificationtemplate", "add")))

    assert 'name="priority"' in html
    assert "critical messages are always sent" in html.lower()


def test_the_dashboard_shows_each_caps_spend(admin_client, atl):
    BudgetCap.objects.create(provider=atl, period="daily", limit="500", unit="NGN")
    spend(atl, "512.40")

    html = page(admin_client.get(reverse_dashboard()))

    assert 'id="sms-budgets"' in html
    assert "512.40 NGN" in html and "of 500.00 NGN (102%)" in html


def test_a_critical_message_is_never_marked_held(admin_client, atl):
    BudgetCap.objects.create(provider=atl, period="daily", limit="500", unit="NGN")
    spend(atl, "600")
    critical = Message.objects.create(
        provider=atl, status=Status.QUEUED, priority=Priority.CRITICAL, recipient="+2348031234568"
    )

    check()

    critical.refresh_from_db()
    assert critical.held_reason == ""


def reverse_dashboard() -> str:
    return reverse("admin:helpdesk_sms_dashboard_changelist")
