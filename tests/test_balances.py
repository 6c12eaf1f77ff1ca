"""Balance checks: snapshots, and one warning per crossing below the threshold."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from helpdesk_sms import balances, signals, tasks
from helpdesk_sms.gateways.memory import MemoryGateway
from helpdesk_sms.models import BalanceSnapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_alerts():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs["snapshot"].amount)

    signals.balance_low.connect(receiver)
    yield received
    signals.balance_low.disconnect(receiver)


def read_balance(provider, amount: str) -> None:
    MemoryGateway.balances["main"] = Decimal(amount)
    balances.check_provider(provider)


def test_a_balance_check_records_a_snapshot_per_account(memory_provider):
    MemoryGateway.balances.update({"Promo": Decimal("9988"), "Trans": Decimal("0")})

    balances.check_provider(memory_provider)

    snapshots = {s.account: s.amount for s in BalanceSnapshot.objects.all()}
    assert snapshots == {"main": Decimal("1000"), "Promo": Decimal("9988"), "Trans": Decimal("0")}


def test_falling_below_the_threshold_warns_once_per_crossing(
    memory_provider, low_alerts, mailoutbox
):
    memory_provider.low_balance_threshold = Decimal("100")
    memory_provider.save()

    for amount in ["1000", "50", "40", "500", "30"]:
        read_balance(memory_provider, amount)

    assert low_alerts == [Decimal("50"), Decimal("30")]
    assert len(mailoutbox) == 2
    assert "Low SMS balance: Memory" in mailoutbox[0].subject
    assert "below the threshold of 100" in mailoutbox[0].body


def test_a_balance_already_low_at_the_first_check_warns(memory_provider, low_alerts):
    memory_provider.low_balance_threshold = Decimal("100")
    memory_provider.save()

    read_balance(memory_provider, "10")

    assert low_alerts == [Decimal("10")]


def test_no_threshold_never_warns(memory_provider, low_alerts):
    read_balance(memory_provider, "0")

    assert low_alerts == []


def test_check_all_reports_each_provider(memory_provider):
    checks = balances.check_all()

    assert [(c.provider.name, str(c), c.error) for c in checks] == [
        ("Memory", "main: 1000 credits", None)
    ]


def test_the_periodic_check_skips_a_gateway_without_balance_silently(
    memory_provider, unified_provider, caplog
):
    """Unified has no balance feature: no check, no snapshot, no warning in the log."""
    with caplog.at_level("INFO", logger="helpdesk_sms"):
        checks = tasks.check_balances()

    assert checks == {"Memory": "main: 1000 credits"}
    assert not BalanceSnapshot.objects.filter(provider=unified_provider).exists()
    assert caplog.records == []


def test_repeated_identical_readings_keep_only_the_first_and_the_last(memory_provider):
    for amount in ["1000"] * 10:
        read_balance(memory_provider, amount)
    last_check = BalanceSnapshot.objects.latest("taken_at").taken_at

    read_balance(memory_provider, "990")

    rows = list(BalanceSnapshot.objects.order_by("taken_at", "pk").values_list("amount", flat=True))
    assert rows == [Decimal("1000"), Decimal("1000"), Decimal("990")]
    assert BalanceSnapshot.objects.filter(amount=1000).latest("taken_at").taken_at == last_check


def test_a_repeated_reading_moves_the_last_snapshot_to_the_time_of_the_check(memory_provider):
    read_balance(memory_provider, "1000")
    read_balance(memory_provider, "1000")
    BalanceSnapshot.objects.update(taken_at=timezone.now() - timedelta(hours=5))

    read_balance(memory_provider, "1000")

    times = sorted(BalanceSnapshot.objects.values_list("taken_at", flat=True))
    assert len(times) == 2
    assert timezone.now() - times[1] < timedelta(minutes=1)
    assert timezone.now() - times[0] > timedelta(hours=4)


def test_a_change_after_a_flat_stretch_is_a_new_snapshot_and_still_warns(
    memory_provider, low_alerts
):
    memory_provider.low_balance_threshold = Decimal("100")
    memory_provider.save()

    for amount in ["500", "500", "500", "50", "50", "50"]:
        read_balance(memory_provider, amount)

    assert low_alerts == [Decimal("50")]
    assert BalanceSnapshot.objects.count() == 4


@pytest.mark.parametrize(
    ("threshold", "shown"), [("100", "LOW"), ("10", "ok"), (None, "no threshold set")]
)
def test_the_balance_list_says_low_or_ok_in_words(admin_client, memory_provider, threshold, shown):
    memory_provider.low_balance_threshold = Decimal(threshold) if threshold else None
    memory_provider.save()
    read_balance(memory_provider, "50")

    page = admin_client.get("/admin/helpdesk_sms/balancesnapshot/").content.decode()

    cell = re.search(r'<td class="field-low">(.*?)</td>', page).group(1)
    assert re.sub(r"<[^>]+>", "", cell) == shown
    assert "icon-no" not in cell and "icon-yes" not in cell
