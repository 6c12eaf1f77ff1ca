"""Provider health in the admin: the list column, filter, history, reset and dashboard panel."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk_sms import health
from helpdesk_sms.gateways.base import ErrorCategory
from helpdesk_sms.models import Provider, ProviderHealth

from .test_admin import flash_messages, page, run_action, url
from .test_dashboard import DASHBOARD, dashboard

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _circuit_settings(settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "CIRCUIT_FAILURES": 2}


@pytest.fixture
def atl(db):
    return Provider.objects.create(name="ATL", gateway="memory", priority=1)


@pytest.fixture
def clone(db):
    return Provider.objects.create(name="Clone", gateway="memory", priority=2)


def open_circuit(provider, now=None):
    for _ in range(2):
        health.record_failure(provider, ErrorCategory.INSUFFICIENT_CREDIT, "no credit", now=now)


def words(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def hms(value) -> str:
    return timezone.localtime(value).strftime("%H:%M:%S")


def row_text(html: str, name: str) -> str:
    """The visible words of the changelist row of the provider called ``name``."""
    for row in re.findall(r"<tr[^>]*>.*?</tr>", html, flags=re.S):
        if f">{name}<" in row:
            return words(row)
    raise AssertionError(f"no row for {name}")


def test_the_provider_list_shows_each_circuit(admin_client, atl, clone):
    now = timezone.now()
    open_circuit(atl, now)

    html = page(admin_client.get(url("provider", "changelist")))

    retry_at = now + timedelta(seconds=60)
    assert f"open until {hms(retry_at)}: insufficient_credit: no credit" in row_text(html, "ATL")
    assert "healthy" in row_text(html, "Clone")


def test_the_provider_list_shows_a_probe_in_flight(admin_client, atl):
    now = timezone.now()
    open_circuit(atl, now - timedelta(seconds=60))
    health.CircuitBoard.load().allows(atl, now=now)

    html = page(admin_client.get(url("provider", "changelist")))

    assert f"half-open: probing since {hms(now)}" in row_text(html, "ATL")


def test_the_health_filter_finds_open_and_healthy_providers(admin_client, atl, clone):
    open_circuit(atl)

    opened = page(admin_client.get(url("provider", "changelist"), {"health": "open"}))
    healthy = page(admin_client.get(url("provider", "changelist"), {"health": "closed"}))

    assert ">ATL<" in opened and ">Clone<" not in opened
    assert ">Clone<" in healthy and ">ATL<" not in healthy


def test_the_provider_page_shows_its_latest_health_changes_newest_first(admin_client, atl):
    open_circuit(atl)
    health.reset(atl, "admin")

    html = words(page(admin_client.get(url("provider", "change", atl.pk))))

    assert "The latest 20 changes, newest first" in html
    closed_by, opened = html.index("closed by admin"), html.index("2 failures in a row")
    assert closed_by < opened


def test_the_reset_action_closes_the_circuit(admin_client, atl):
    open_circuit(atl)

    response = run_action(admin_client, "provider", "close_circuit", [atl])

    assert flash_messages(response) == ["Circuit closed: ATL."]
    assert ProviderHealth.objects.get(provider=atl).state == "closed"
    assert "healthy" in row_text(page(response), "ATL")


def test_the_reset_action_on_a_healthy_provider_says_so(admin_client, atl):
    response = run_action(admin_client, "provider", "close_circuit", [atl])

    assert flash_messages(response) == ["No selected provider's circuit was open."]


def test_the_provider_list_costs_the_same_queries_with_open_circuits(admin_client, atl, clone):
    def count() -> int:
        with CaptureQueriesContext(connection) as capture:
            admin_client.get(url("provider", "changelist"))
        return len(capture.captured_queries)

    healthy = count()
    open_circuit(atl)
    open_circuit(clone)

    assert count() == healthy


def test_the_dashboard_lists_open_providers_first_with_reason_and_since(admin_client, atl, clone):
    now = timezone.now()
    open_circuit(clone, now)

    response = dashboard(admin_client)

    rows = response.context["health"]
    assert [(r["name"], r["state"]) for r in rows] == [("Clone", "open"), ("ATL", "closed")]
    html = words(page(response))
    assert f"Clone ⚠ open until {hms(now + timedelta(seconds=60))}" in html
    assert f"since {hms(now)} (0 min)" in html


def test_the_dashboard_leaves_inactive_providers_out(admin_client, atl, clone):
    clone.is_active = False
    clone.save()

    rows = dashboard(admin_client).context["health"]

    assert [r["name"] for r in rows] == ["ATL"]


def test_the_dashboard_links_each_provider_to_its_page(admin_client, atl):
    html = page(admin_client.get(DASHBOARD))

    assert f'href="{url("provider", "change", atl.pk)}">ATL<' in html
