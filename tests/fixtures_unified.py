"""The Unified Communications simulator on a free port, and a provider pointing at it.

Loaded as a pytest plugin by ``tests/conftest.py``. Both fixtures are function-scoped: a
fresh gateway per test, stopped afterwards. Tests move the simulator's time with
``sim.advance(seconds)``; they never sleep to wait for delivery progress.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpdesk_sms.simulators.unified import UnifiedSimulator

UNIFIED_USER = "unified-user"
UNIFIED_PASSWORD = "unified-secret-password-789"
UNIFIED_SENDER = "HelpDesk"
UNIFIED_CALLBACK_SECRET = "unified-callback-secret-012"


@pytest.fixture
def unified_sim() -> Iterator[UnifiedSimulator]:
    """A fresh Unified panel accepting UNIFIED_USER / UNIFIED_PASSWORD (no callback URL yet)."""
    sim = UnifiedSimulator(user=UNIFIED_USER, password=UNIFIED_PASSWORD)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def unified_provider(db, unified_sim):
    """A saved Provider talking to ``unified_sim``, with ``UNIFIED_SENDER`` as default sender."""
    from helpdesk_sms.models import Provider, SenderID

    provider = Provider.objects.create(
        name="Unified test",
        gateway="unified",
        base_url=unified_sim.url,
        username=UNIFIED_USER,
        password=UNIFIED_PASSWORD,
        timezone="Asia/Kolkata",
        callback_secrets=UNIFIED_CALLBACK_SECRET,
    )
    provider.default_sender = SenderID.objects.create(provider=provider, value=UNIFIED_SENDER)
    provider.save()
    return provider
