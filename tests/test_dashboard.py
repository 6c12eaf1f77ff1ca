"""The operator's dashboard: each panel's figures, its links, who may see it, and its cost."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk_sms.api import send_sms
from helpdesk_sms.dashboard.queries import project
from helpdesk_sms.models import BalanceSnapshot, Message, Provider
from helpdesk_sms.states import Status

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/helpdesk_sms/dashboard/"


def make(provider, status, n=1, *, ago=timedelta(hours=1), country="IN", **fields):
    """``n`` messages in ``status`` created ``ago`` before now (set after the insert)."""
    rows = Message.objects.bulk_create(
        Message(
            recipient="+919812345678",
            country=country,
            provider=provider,
            status=status,
            body="hello",
            **fields,
        )
        for _ in range(n)
    )
    Message.objects.filter(pk__in=[m.pk for m in rows]).update(created_at=timezone.now() - ago)
    return rows


@pytest.fixture
def second_provider(db):
    return Provider.objects.create(name="Second", gateway="memory", priority=2)


def dashboard(client, period=None):
    response = client.get(DASHBOARD, {"period": period} if period else {})
    assert response.status_code == 200
    return response


def text(response) -> str:
    """The page's visible words: tags removed, spaces folded."""
    html = response.content.decode()
    html = re.sub(r"<(style|title)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


# -- links and access ---------------------------------------------------------------------


@pytest.mark.parametrize("page", ["/admin/", "/admin/helpdesk_sms/"])
def test_the_admin_index_and_the_app_index_link_to_the_dashboard(admin_client, page):
    response = admin_client.get(page)

    assert f'href="{DASHBOARD}"' in response.content.decode()
    assert "SMS dashboard" in text(response)


def test_a_visitor_who_is_not_staff_is_sent_to_the_login(client, django_user_model):
    user = django_user_model.objects.create_user("visitor", password="pw")
    client.force_login(user)

    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_view_permission_on_messages_is_refused(client, django_user_model):
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)

    assert client.get(DASHBOARD).status_code == 403


def test_staff_who_may_view_messages_sees_it(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_message"))
    client.force_login(user)

    assert "Needs attention" in text(dashboard(client))


# -- periods ------------------------------------------------------------------------------


def test_24_hours_are_shown_by_the_hour_and_30_days_by_the_day(admin_client):
    hours = dashboard(admin_client, "24h").context["states_rows"]
    days = dashboard(admin_client, "30d").context["states_rows"]

    assert len(hours) == 24 and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:00", hours[0]["when"])
    assert len(days) == 30 and re.fullmatch(r"\w{3} \d{4}-\d\d-\d\d", days[0]["when"])


def test_the_period_switch_leaves_out_older_messages(admin_client, memory_provider):
    make(memory_provider, Status.DELIVERED, 2, ago=timedelta(hours=2))
    make(memory_provider, Status.DELIVERED, 3, ago=timedelta(days=3))

    assert dashboard(admin_client, "24h").context["states_total"] == 2
    assert dashboard(admin_client, "7d").context["states_total"] == 5


def test_an_unknown_period_shows_the_default_with_a_sentence_saying_so(admin_client):
    response = dashboard(admin_client, "1y")

    assert "Unknown period '1y'" in text(response)
    assert "Choose one of 24h, 7d, 30d" in text(response)
    assert len(response.context["states_rows"]) == 7


# -- panels -------------------------------------------------------------------------------


def test_messages_by_state_are_counted_in_their_bucket(admin_client, memory_provider):
    make(memory_provider, Status.DELIVERED, 3, ago=timedelta(hours=2))
    make(memory_provider, Status.FAILED, 1, ago=timedelta(hours=2))
    # Created now, not a minute ago: in the first minute of an hour that is the hour before.
    make(memory_provider, Status.QUEUED, 2, ago=timedelta(0))

    response = dashboard(admin_client, "24h")

    rows = response.context["states_rows"]
    groups = [str(g) for g in response.context["states_groups"]]
    assert rows[-3]["counts"][groups.index("delivered")] == 3
    assert rows[-3]["counts"][groups.index("failed, undelivered or expired")] == 1
    assert rows[-1]["counts"][groups.index("not sent yet (scheduled, queued, sending)")] == 2
    legend = {str(item["label"]): item["total"] for item in response.context["states_legend"]}
    assert legend["delivered"] == 3 and legend["unknown (may have gone out)"] == 0


def test_the_charts_are_readable_without_colour(admin_client, memory_provider):
    make(memory_provider, Status.DELIVERED, 7, ago=timedelta(hours=2))
    make(memory_provider, Status.UNKNOWN, 2, ago=timedelta(hours=2))

    html = dashboard(admin_client, "24h").content.decode()

    chart = html[html.index('id="sms-states"') :]
    assert re.search(r'<text class="hsms-total"[^>]*>9</text>', chart)  # the bar's total
    assert re.search(r"<title>[^<]*: delivered 7</title>", chart)  # each segment's tooltip
    assert re.search(r"<title>[^<]*: unknown \(may have gone out\) 2</title>", chart)
    # Each series has its own texture, not only its own colour.
    assert len(set(re.findall(r'fill="(url\(#hsms-pattern-\d\))"', chart))) >= 2
    assert 'id="hsms-pattern-1"' in html and "<path" in html


def test_delivery_rate_per_provider_and_per_country(admin_client, memory_provider, second_provider):
    make(memory_provider, Status.DELIVERED, 3, country="IN")
    make(memory_provider, Status.UNDELIVERED, 1, country="NG")
    make(memory_provider, Status.QUEUED, 5, country="IN")  # not settled: not in the rate
    make(second_provider, Status.UNKNOWN, 1, country="NG")

    response = dashboard(admin_client)

    page = text(response)
    assert "Memory" in page and "75.0 % delivered (3 of 4)" in page
    assert "Second" in page and "0.0 % delivered (0 of 1)" in page
    countries = {r.label: (r.delivered, r.settled) for r in response.context["rates_country"]}
    assert countries == {"IN": (3, 3), "NG": (0, 2)}
    assert "100.0 % delivered (3 of 3)" in page


def test_failures_by_category_list_the_most_frequent_texts(admin_client, memory_provider):
    make(memory_provider, Status.FAILED, 3, error_category="invalid_number", error_text="No such")
    make(memory_provider, Status.UNDELIVERED, 1, error_category="blocked", error_text="DND")
    make(memory_provider, Status.DELIVERED, 2)

    response = dashboard(admin_client)

    categories = [(r["category"], r["count"]) for r in response.context["failure_categories"]]
    assert categories == [("invalid_number", 3), ("blocked", 1)]
    texts = [(r["text"], r["count"]) for r in response.context["failure_texts"]]
    assert texts == [("No such", 3), ("DND", 1)]
    assert "Failures by category (4)" in text(response)


def test_a_failure_category_links_to_exactly_its_messages(admin_client, memory_provider):
    make(memory_provider, Status.FAILED, 3, error_category="invalid_number")
    make(memory_provider, Status.FAILED, 2, error_category="blocked")
    make(memory_provider, Status.FAILED, 4, error_category="invalid_number", ago=timedelta(days=9))

    url = dashboard(admin_client)
    link = url.context["failure_categories"][0]["url"]
    listing = admin_client.get(link)

    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 3


def test_spend_is_summed_per_provider_and_never_across_currencies(
    admin_client, memory_provider, second_provider
):
    make(memory_provider, Status.DELIVERED, 2, cost=Decimal("0.25"), currency="INR")
    make(memory_provider, Status.UNKNOWN, 1, estimated_cost=Decimal("0.25"), currency="INR")
    make(memory_provider, Status.FAILED, 5, estimated_cost=Decimal("0.25"), currency="INR")
    make(second_provider, Status.ACCEPTED, 3, cost=Decimal("0.01"), currency="EUR")

    response = dashboard(admin_client)

    spends = {s["currency"]: s["total"] for s in response.context["spends"]}
    assert spends == {"EUR": "0.03 EUR", "INR": "0.75 INR"}
    assert "Memory: 0.75 INR" in text(response)


def test_a_falling_balance_is_projected_to_run_out(admin_client, memory_provider):
    now = timezone.now()
    for hours_ago, amount in [(50, "900"), (48, "1000"), (24, "800"), (0, "600")]:
        BalanceSnapshot.objects.create(
            provider=memory_provider,
            account="main",
            amount=Decimal(amount),
            taken_at=now - timedelta(hours=hours_ago),
        )

    response = dashboard(admin_client)

    item = response.context["balances"][0]
    assert item["label"] == "Memory – main" and item["latest"] == "600"
    # 400 credits lost in 48 hours (since the top-up): 600 more last 72 hours.
    assert "at 200 credits a day" in item["runs_out"]
    assert "(in 3 d 0 h)" in item["runs_out"] or "(in 2 d 23 h)" in item["runs_out"]


def test_a_balance_that_does_not_fall_has_no_run_out_date():
    now = timezone.now()
    flat = [(now - timedelta(hours=2), Decimal(5)), (now, Decimal(5))]

    assert project(flat, now).runs_out_at is None
    assert "not enough data" in project(flat, now).reason
    assert "not enough data" in project(flat[-1:], now).reason


def test_the_backlog_counts_waiting_messages_and_the_oldest_age(admin_client, memory_provider):
    make(memory_provider, Status.QUEUED, 2, ago=timedelta(hours=3, minutes=5))
    make(memory_provider, Status.QUEUED, 1, ago=timedelta(minutes=1))
    make(memory_provider, Status.SENDING, 1)
    make(memory_provider, Status.DELIVERED, 4)

    response = dashboard(admin_client)

    backlog = response.context["backlog"]
    assert (backlog.queued, backlog.sending, backlog.scheduled) == (3, 1, 0)
    assert response.context["oldest_age"] == "3 h 05 min"


def test_attention_links_list_the_unknown_and_failed_of_the_last_day(admin_client, memory_provider):
    make(memory_provider, Status.UNKNOWN, 2, ago=timedelta(hours=5))
    make(memory_provider, Status.UNKNOWN, 4, ago=timedelta(days=3))
    make(memory_provider, Status.FAILED, 1, ago=timedelta(hours=1))
    make(memory_provider, Status.FAILED, 6, ago=timedelta(days=2))

    response = dashboard(admin_client)

    found = {}
    for item in response.context["attention"]:
        listing = admin_client.get(item["url"])
        found[str(item["label"]).split(" (")[0]] = (
            item["count"],
            listing.context["cl"].result_count,
        )
    assert found == {
        "unknown in the last 24 hours": (2, 2),
        "failed in the last 24 hours": (1, 1),
        "unknown, of any age": (6, 6),
        "customer replies kept for a human": (0, 0),
        "customer replies that could not be handled": (0, 0),
    }
    query = parse_qs(urlsplit(response.context["attention"][0]["url"]).query)
    assert query["status__exact"] == ["unknown"] and "created_at__gte" in query


def test_the_page_costs_the_same_queries_whatever_the_data(
    admin_client, memory_provider, second_provider
):
    def count() -> int:
        with CaptureQueriesContext(connection) as capture:
            dashboard(admin_client, "30d")
        return len(capture.captured_queries)

    empty = count()
    for provider in (memory_provider, second_provider):
        for status in Status.values:
            make(provider, status, 3, country="NG", cost=Decimal(1), currency="INR")
            BalanceSnapshot.objects.create(provider=provider, account=status, amount=1)
    assert count() == empty


def test_the_page_says_how_long_its_figures_took(admin_client):
    assert re.search(r"Figures computed in \d+ ms", text(dashboard(admin_client)))


# -- where the figures come from ----------------------------------------------------------


def test_a_message_stores_its_destination_country_when_composed(memory_provider):
    sent = send_sms(["+919812345678", "+2348031234567", "+14165550123"], "hi")

    assert [m.country for m in sent] == ["IN", "NG", "CA"]
    assert sorted(Message.objects.values_list("country", flat=True)) == ["CA", "IN", "NG"]


def test_the_dashboard_is_listed_under_the_messages_permission_not_its_own(
    client, django_user_model
):
    user = django_user_model.objects.create_user("viewer2", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_message"))
    client.force_login(user)

    assert f'href="{DASHBOARD}"' in client.get(reverse("admin:index")).content.decode()


def test_the_migration_fills_in_the_country_of_existing_messages(memory_provider):
    import importlib

    from django.apps import apps

    make(memory_provider, Status.DELIVERED, 3, country="")
    Message.objects.filter(pk=Message.objects.first().pk).update(recipient="+14165550123")
    migration = importlib.import_module("helpdesk_sms.migrations.0012_dashboard")

    migration.fill_countries(apps, connection.schema_editor())

    assert sorted(Message.objects.values_list("country", flat=True)) == ["CA", "IN", "IN"]
