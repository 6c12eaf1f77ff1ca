"""Balance checks: snapshots, and one warning per crossing below the threshold."""

from __future__ import annotations

from decimal import Decimal

import pytest

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
