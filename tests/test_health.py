"""The circuit breaker per provider: when it opens, when it lets a probe through, what it tells."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from helpdesk_sms import health
from helpdesk_sms.gateways.base import ErrorCategory
from helpdesk_sms.models import Provider, ProviderHealth, ProviderHealthChange
from helpdesk_sms.signals import provider_health_changed

pytestmark = pytest.mark.django_db

COOLDOWN = 60


@pytest.fixture(autouse=True)
def _circuit_settings(settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "CIRCUIT_FAILURES": 3}


@pytest.fixture
def provider(db):
    return Provider.objects.create(name="ATL", gateway="memory", priority=1)


@pytest.fixture
def changes():
    """Every ``provider_health_changed`` sent, as (provider name, from, to)."""
    seen: list[tuple[str, str, str]] = []

    def receiver(sender, provider, from_state, to_state, reason, **kwargs):
        seen.append((provider.name, from_state, to_state))

    provider_health_changed.connect(receiver)
    yield seen
    provider_health_changed.disconnect(receiver)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """A block whose on-commit callbacks (log lines, signals) run as if it committed."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def fail(provider, n=1, category=ErrorCategory.TRANSIENT, now=None):
    for _ in range(n):
        health.record_failure(provider, category, "connection refused", now=now)


def state(provider) -> str:
    return health.CircuitBoard.load().state(provider)


def opened(provider, now):
    """The provider's circuit opened at ``now`` (three provable failures)."""
    fail(provider, 3, now=now)
    assert state(provider) == "open"


def test_a_provider_without_a_record_is_closed_and_allowed(provider):
    board = health.CircuitBoard.load()

    assert board.state(provider) == "closed" and board.allows(provider)


def test_failures_below_the_threshold_leave_the_circuit_closed(provider):
    fail(provider, 2)

    assert state(provider) == "closed"
    assert ProviderHealth.objects.get(provider=provider).consecutive_failures == 2


def test_the_threshold_of_provable_failures_opens_the_circuit(provider):
    now = timezone.now()

    fail(provider, 3, category=ErrorCategory.INSUFFICIENT_CREDIT, now=now)

    row = ProviderHealth.objects.get(provider=provider)
    assert row.state == "open"
    assert row.opened_at == now and row.retry_at == now + timedelta(seconds=COOLDOWN)
    assert row.last_failure_category == "insufficient_credit"
    assert row.last_failure == "connection refused"


@pytest.mark.parametrize("category", sorted(health.PROVABLE))
def test_each_provable_category_counts(provider, category):
    fail(provider, 3, category=category)

    assert state(provider) == "open"


@pytest.mark.parametrize(
    "category",
    [
        ErrorCategory.INVALID_RECIPIENT,
        ErrorCategory.CONTENT_REJECTED,
        ErrorCategory.INVALID_REQUEST,
        ErrorCategory.AMBIGUOUS,
    ],
)
def test_failures_that_do_not_prove_the_provider_unhealthy_do_not_count(provider, category):
    fail(provider, 10, category=category)

    assert state(provider) == "closed"
    assert not ProviderHealth.objects.filter(provider=provider).exists()


def test_is_provable_names_the_failover_categories():
    assert health.is_provable(ErrorCategory.THROTTLED)
    assert health.is_provable("authentication")
    assert not health.is_provable(ErrorCategory.AMBIGUOUS)
    assert not health.is_provable(None)


def test_the_threshold_is_a_setting(provider, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "CIRCUIT_FAILURES": 1}

    fail(provider)

    assert state(provider) == "open"


def test_a_success_resets_the_failures_in_a_row(provider):
    fail(provider, 2)
    health.record_success(provider)
    fail(provider, 2)

    assert state(provider) == "closed"
    assert ProviderHealth.objects.get(provider=provider).consecutive_failures == 2


def test_an_open_circuit_refuses_requests_during_the_cooldown(provider):
    now = timezone.now()
    opened(provider, now)

    board = health.CircuitBoard.load()

    assert not board.allows(provider, now=now + timedelta(seconds=COOLDOWN - 1))
    assert board.state(provider) == "open"


def test_after_the_cooldown_exactly_one_board_gets_the_probe(provider):
    now = timezone.now()
    opened(provider, now)
    first, second = health.CircuitBoard.load(), health.CircuitBoard.load()
    later = now + timedelta(seconds=COOLDOWN)

    allowed = [first.allows(provider, now=later), second.allows(provider, now=later)]

    assert allowed == [True, False]
    assert state(provider) == "half_open"


def test_a_board_loaded_for_a_time_judges_by_it(provider):
    now = timezone.now()
    opened(provider, now)

    board = health.CircuitBoard.load(now=now + timedelta(seconds=COOLDOWN))

    assert board.allows(provider) and board.state(provider) == "half_open"


def test_a_board_lets_only_one_probe_through_however_often_asked(provider):
    now = timezone.now()
    opened(provider, now)
    board = health.CircuitBoard.load()
    later = now + timedelta(seconds=COOLDOWN)

    assert [board.allows(provider, now=later) for _ in range(3)] == [True, False, False]


def test_a_successful_probe_closes_the_circuit(provider):
    now = timezone.now()
    opened(provider, now)
    health.CircuitBoard.load().allows(provider, now=now + timedelta(seconds=COOLDOWN))

    health.record_success(provider)

    row = ProviderHealth.objects.get(provider=provider)
    assert row.state == "closed" and row.consecutive_failures == 0
    assert row.opened_at is None and row.retry_at is None and row.probe_started_at is None
    assert health.CircuitBoard.load().allows(provider)


def test_a_failed_probe_opens_the_circuit_for_another_cooldown(provider):
    now = timezone.now()
    opened(provider, now)
    probe_at = now + timedelta(seconds=COOLDOWN)
    health.CircuitBoard.load().allows(provider, now=probe_at)

    fail(provider, now=probe_at)

    row = ProviderHealth.objects.get(provider=provider)
    assert row.state == "open" and row.retry_at == probe_at + timedelta(seconds=COOLDOWN)
    assert row.opened_at == now  # open since the first opening: the outage's start
    board = health.CircuitBoard.load()
    assert not board.allows(provider, now=probe_at + timedelta(seconds=1))


def test_a_probe_without_an_answer_for_a_cooldown_is_let_through_again(provider):
    now = timezone.now()
    opened(provider, now)
    probe_at = now + timedelta(seconds=COOLDOWN)
    health.CircuitBoard.load().allows(provider, now=probe_at)
    board = health.CircuitBoard.load()

    soon = board.allows(provider, now=probe_at + timedelta(seconds=COOLDOWN - 1))
    late = board.allows(provider, now=probe_at + timedelta(seconds=COOLDOWN))
    again = health.CircuitBoard.load().allows(provider, now=probe_at + timedelta(seconds=COOLDOWN))

    assert (soon, late, again) == (False, True, False)
    assert state(provider) == "half_open"


def test_each_change_is_signalled_once_with_its_states(provider, changes, committed):
    now = timezone.now()
    with committed():
        opened(provider, now)
        fail(provider, 2, now=now)  # already open: no change
        board = health.CircuitBoard.load()
        board.allows(provider, now=now + timedelta(seconds=COOLDOWN))
        board.allows(provider, now=now + timedelta(seconds=COOLDOWN))
        health.record_success(provider)
        health.record_success(provider)

    assert changes == [
        ("ATL", "closed", "open"),
        ("ATL", "open", "half_open"),
        ("ATL", "half_open", "closed"),
    ]


def test_each_change_leaves_a_history_row_with_its_reason(provider):
    now = timezone.now()
    opened(provider, now)
    health.CircuitBoard.load().allows(provider, now=now + timedelta(seconds=COOLDOWN))
    fail(provider, category=ErrorCategory.AUTHENTICATION, now=now + timedelta(seconds=COOLDOWN))

    rows = ProviderHealthChange.objects.filter(provider=provider).order_by("pk")

    assert [(r.from_state, r.to_state) for r in rows] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "open"),
    ]
    assert rows[0].reason == "3 failures in a row, the last transient: connection refused"
    assert rows[2].reason == "the probe failed: authentication: connection refused"


def test_the_signal_waits_for_the_commit(provider, changes, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        fail(provider, 3)

    assert changes == [] and len(callbacks) == 1


def test_a_failing_receiver_is_logged_and_the_change_stands(provider, caplog, committed):
    def broken(**kwargs):
        raise RuntimeError("receiver bug")

    provider_health_changed.connect(broken)
    try:
        with caplog.at_level(logging.ERROR), committed():
            fail(provider, 3)
    finally:
        provider_health_changed.disconnect(broken)

    assert state(provider) == "open"
    assert "failed on provider_health_changed" in caplog.text


def test_opening_is_logged_as_a_warning_and_closing_as_info(provider, caplog, committed):
    now = timezone.now()
    with caplog.at_level(logging.INFO, logger="helpdesk_sms.health"), committed():
        opened(provider, now)
        health.reset(provider, "admin")

    levels = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert levels[0][0] == "WARNING" and "ATL circuit opened" in levels[0][1]
    assert levels[1][0] == "INFO" and "open -> closed (closed by admin)" in levels[1][1]


def test_reset_closes_an_open_circuit_by_hand(provider, changes, committed):
    opened(provider, timezone.now())

    with committed():
        assert health.reset(provider, "admin") is True

    assert state(provider) == "closed" and changes[-1] == ("ATL", "open", "closed")
    assert ProviderHealthChange.objects.filter(provider=provider).first().reason == (
        "closed by admin"
    )


def test_reset_of_a_closed_circuit_changes_nothing(provider, changes):
    fail(provider, 2)

    assert health.reset(provider, "admin") is False

    assert changes == [] and ProviderHealth.objects.get().consecutive_failures == 0


def test_the_board_reads_every_provider_in_one_query(provider, django_assert_num_queries):
    other = Provider.objects.create(name="Clone", gateway="memory", priority=2)
    opened(provider, timezone.now())
    fail(other)

    with django_assert_num_queries(1):
        board = health.CircuitBoard.load()
        states = [board.state(provider), board.state(other), board.allows(other)]

    assert states == ["open", "closed", True]


def test_a_healthy_provider_success_costs_one_query(provider, django_assert_num_queries):
    with django_assert_num_queries(1):
        health.record_success(provider)


def test_a_non_provable_failure_costs_no_query(provider, django_assert_num_queries):
    with django_assert_num_queries(0):
        health.record_failure(provider, ErrorCategory.AMBIGUOUS, "read timeout")


def test_a_provable_failure_of_a_closed_circuit_costs_two_statements(
    provider, django_assert_num_queries
):
    fail(provider)

    with django_assert_num_queries(2):
        fail(provider)


def together(n, work):
    """Run ``work()`` in ``n`` threads released at once, each on its own connection."""
    barrier = threading.Barrier(n)

    def run():
        try:
            barrier.wait()
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(n) as pool:
        return [f.result() for f in [pool.submit(run) for _ in range(n)]]


#: Threads need committed rows and concurrent connections (SQLite's test database is one
#: in-memory connection).
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent connections: PostgreSQL"
)


@pytest.mark.django_db(transaction=True)
@postgresql_only
def test_workers_failing_at_once_are_each_counted_and_open_the_circuit_once(provider):
    fail(provider)  # the row exists: the race is on the count and the opening

    together(8, lambda: fail(provider))

    assert ProviderHealth.objects.get().consecutive_failures == 9
    assert ProviderHealthChange.objects.filter(to_state="open").count() == 1


@pytest.mark.django_db(transaction=True)
@postgresql_only
def test_workers_asking_at_once_after_the_cooldown_get_one_probe(provider):
    now = timezone.now()
    opened(provider, now)
    later = now + timedelta(seconds=COOLDOWN)

    allowed = together(8, lambda: health.CircuitBoard.load().allows(provider, now=later))

    assert sorted(allowed) == [False] * 7 + [True]
    assert ProviderHealthChange.objects.filter(to_state="half_open").count() == 1
