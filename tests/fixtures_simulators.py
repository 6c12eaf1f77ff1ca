"""Gateway simulators on free ports of 127.0.0.1, and providers pointing at them.

Loaded as a pytest plugin by ``tests/conftest.py``. Each simulator fixture is
function-scoped: a fresh gateway per test, stopped afterwards. Tests move the simulator's
time with ``sim.advance(seconds)``; they never sleep to wait for delivery progress.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpdesk_sms.simulators.canlog import CanlogSimulator

CANLOG_API_KEY = "canlog-secret-key-123"
CANLOG_USER = "canlog-user"
CANLOG_PASSWORD = "canlog-secret-password-456"


@pytest.fixture
def canlog_sim() -> Iterator[CanlogSimulator]:
    """A fresh Canlog panel accepting CANLOG_API_KEY or CANLOG_USER/CANLOG_PASSWORD."""
    sim = CanlogSimulator(api_key=CANLOG_API_KEY, user=CANLOG_USER, password=CANLOG_PASSWORD)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def canlog_provider(db, canlog_sim):
    """A saved Provider talking to ``canlog_sim`` with the API key (Trans channel, route 15)
    and the default sender ID HLPDSK."""
    from helpdesk_sms.models import Provider, SenderID

    provider = Provider.objects.create(
        name="Canlog test",
        gateway="canlog",
        base_url=canlog_sim.url,
        api_key=CANLOG_API_KEY,
        options={"channel": "Trans", "route": "15"},
        timezone="Asia/Kolkata",
    )
    provider.default_sender = SenderID.objects.create(provider=provider, value="HLPDSK")
    provider.save()
    return provider
