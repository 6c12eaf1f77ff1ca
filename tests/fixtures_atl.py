"""The ATL InfoTech simulator on a free port of 127.0.0.1, and a provider pointing at it.

Loaded as a pytest plugin by ``tests/conftest.py``. Function-scoped: a fresh gateway per
test, stopped afterwards. Tests move the simulator's time with ``sim.advance(seconds)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpdesk_sms.simulators.atl import AtlSimulator

ATL_LOGIN = "atl-login"
ATL_PASSWORD = "atl-secret-password-789"
ATL_TITLE = "HELPDESK"
ATL_TIMEZONE = "Asia/Baku"


@pytest.fixture
def atl_sim() -> Iterator[AtlSimulator]:
    """A fresh ATL gateway accepting ATL_LOGIN / ATL_PASSWORD, in Baku time."""
    sim = AtlSimulator(user=ATL_LOGIN, password=ATL_PASSWORD, timezone=ATL_TIMEZONE)
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def atl_provider(db, atl_sim):
    """A saved ATL Provider talking to ``atl_sim``, with ATL_TITLE as its default sender."""
    from helpdesk_sms.models import Provider, SenderID

    provider = Provider.objects.create(
        name="ATL test",
        gateway="atl",
        base_url=atl_sim.url,
        username=ATL_LOGIN,
        password=ATL_PASSWORD,
        timezone=ATL_TIMEZONE,
        default_region="AZ",
    )
    provider.default_sender = SenderID.objects.create(provider=provider, value=ATL_TITLE)
    provider.save()
    return provider
