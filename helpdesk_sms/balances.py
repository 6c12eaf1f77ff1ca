"""Balances: read them, keep a snapshot, and warn once each time one falls below threshold."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.mail import mail_admins
from django.utils import timezone

from . import signals
from .gateways.base import Capability, GatewayError
from .models import BalanceSnapshot, Provider

logger = logging.getLogger(__name__)


def check_provider(provider: Provider) -> list[BalanceSnapshot]:
    """Read the provider's balances now. Raises GatewayError when the gateway cannot answer.

    A reading equal to the two before it only moves the newer one's time forward
    (:func:`record`): a balance unchanged over a hundred checks is two rows, when it was
    first and last seen, not a hundred identical ones.
    """
    snapshots = []
    for balance in provider.get_gateway().balance():
        snapshot, previous = record(
            provider,
            balance.account,
            balance.amount,
            balance.unit,
            balance.raw if isinstance(balance.raw, dict) else {"raw": balance.raw},
        )
        if snapshot.is_low and (previous is None or not previous.is_low):
            warn_low_balance(snapshot)
        snapshots.append(snapshot)
    return snapshots


def record(
    provider: Provider, account: str, amount: Decimal, unit: str, raw: dict[str, Any]
) -> tuple[BalanceSnapshot, BalanceSnapshot | None]:
    """Keep one reading: the snapshot standing for it, and the reading before it (or None).

    When the two latest snapshots of the account already read ``amount``, the latest is
    the end of that run: its time (and raw answer) move to now instead of a new row. The
    trend keeps both ends of every flat stretch, so the dashboard's line and burn rate are
    what they would be with every row.
    """
    latest = list(
        BalanceSnapshot.objects.filter(provider=provider, account=account).order_by(
            "-taken_at", "-pk"
        )[:2]
    )
    previous = latest[0] if latest else None
    stored = Decimal(amount).quantize(Decimal("0.01"))  # what the column keeps of it
    if len(latest) == 2 and all(s.amount == stored and s.unit == unit for s in latest):
        run_end = latest[0]
        run_end.taken_at = timezone.now()
        run_end.raw = raw
        run_end.save(update_fields=["taken_at", "raw"])
        run_end.provider = provider
        return run_end, previous
    snapshot = BalanceSnapshot.objects.create(
        provider=provider, account=account, amount=amount, unit=unit, raw=raw
    )
    return snapshot, previous


@dataclass
class BalanceCheck:
    """One provider's balance check: its snapshots, or the gateway's error."""

    provider: Provider
    snapshots: list[BalanceSnapshot] = field(default_factory=list)
    error: GatewayError | None = None

    def __str__(self) -> str:
        if self.error is not None:
            return f"error: {self.error}"
        return ", ".join(f"{s.account or 'balance'}: {s.amount} {s.unit}" for s in self.snapshots)


def check_all() -> list[BalanceCheck]:
    """Check every active provider that reports a balance; a failure is logged, not raised."""
    checks = []
    for provider in Provider.objects.active():
        if not provider.gateway_class().has(Capability.BALANCE):
            continue
        try:
            checks.append(BalanceCheck(provider, check_provider(provider)))
        except GatewayError as exc:
            logger.warning("helpdesk_sms: balance check of %s failed: %s", provider, exc)
            checks.append(BalanceCheck(provider, error=exc))
    return checks


def warn_low_balance(snapshot: BalanceSnapshot) -> None:
    """Signal, log and mail the site admins: the balance just crossed below the threshold."""
    provider = snapshot.provider
    threshold = provider.low_balance_threshold
    account = f" ({snapshot.account})" if snapshot.account else ""
    text = (
        f"SMS provider {provider.name}{account} balance is {snapshot.amount} {snapshot.unit}, "
        f"below the threshold of {threshold}. Top up before messages start failing."
    )
    logger.warning("helpdesk_sms: %s", text)
    signals.balance_low.send(
        sender=Provider, provider=provider, snapshot=snapshot, threshold=threshold
    )
    mail_admins(f"Low SMS balance: {provider.name}{account}", text, fail_silently=True)
