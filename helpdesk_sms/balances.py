"""Balances: read them, keep a snapshot, and warn once each time one falls below threshold."""

from __future__ import annotations

import logging

from django.core.mail import mail_admins

from . import signals
from .gateways.base import Capability, GatewayError
from .models import BalanceSnapshot, Provider

logger = logging.getLogger(__name__)


def check_provider(provider: Provider) -> list[BalanceSnapshot]:
    """Read the provider's balances now. Raises GatewayError when the gateway cannot answer."""
    snapshots = []
    for balance in provider.get_gateway().balance():
        previous = (
            BalanceSnapshot.objects.filter(provider=provider, account=balance.account)
            .order_by("-taken_at", "-pk")
            .first()
        )
        snapshot = BalanceSnapshot.objects.create(
            provider=provider,
            account=balance.account,
            amount=balance.amount,
            unit=balance.unit,
            raw=balance.raw if isinstance(balance.raw, dict) else {"raw": balance.raw},
        )
        if snapshot.is_low and (previous is None or not previous.is_low):
            warn_low_balance(snapshot)
        snapshots.append(snapshot)
    return snapshots


def check_all() -> dict[str, str]:
    """Check every active provider that reports a balance; a failure is logged, not raised."""
    results = {}
    for provider in Provider.objects.active():
        if not provider.gateway_class().has(Capability.BALANCE):
            continue
        try:
            snapshots = check_provider(provider)
            results[provider.name] = ", ".join(
                f"{s.account or 'balance'}: {s.amount} {s.unit}" for s in snapshots
            )
        except GatewayError as exc:
            logger.warning("helpdesk_sms: balance check of %s failed: %s", provider, exc)
            results[provider.name] = f"error: {exc}"
    return results


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
