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


CANLOG_INBOUND_SECRET = "canlog-inbound-secret"


@pytest.fixture
def texting_canlog(live_server, canlog_provider, canlog_sim) -> CanlogSimulator:
    """``canlog_sim`` set to text the live app as a customer would: its replies are pushed
    to ``canlog_provider``'s inbound URL (``canlog_sim.reply(...)``)."""
    from django.urls import reverse

    canlog_provider.callback_secrets = CANLOG_INBOUND_SECRET
    canlog_provider.save()
    path = reverse(
        "helpdesk_sms:inbound",
        kwargs={"provider_id": canlog_provider.pk, "secret": CANLOG_INBOUND_SECRET},
    )
    canlog_sim.reply_to = live_server.url + path
    return canlog_sim
