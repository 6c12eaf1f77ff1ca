"""The 1601SMS simulator on a free port of 127.0.0.1, and a provider pointing at it.

Loaded as a pytest plugin by ``tests/conftest.py``. Function-scoped: a fresh gateway per
test, stopped afterwards. Tests move the simulator's time with ``sim.advance(seconds)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpdesk_sms.simulators.sms1601 import Sms1601Simulator

SMS1601_USER = "helpdesk-nl"
SMS1601_PASSWORD = "sms1601-secret-password-789"
SMS1601_SENDER = "HelpDesk"
SMS1601_GROUP = "Monteurs"
SMS1601_GROUP_MEMBERS = ["31612345601", "31612345602"]


@pytest.fixture
def sms1601_sim() -> Iterator[Sms1601Simulator]:
    """A fresh 1601SMS account SMS1601_USER / SMS1601_PASSWORD with 1000 credits."""
    sim = Sms1601Simulator(
        user=SMS1601_USER,
        password=SMS1601_PASSWORD,
        groups={SMS1601_GROUP: list(SMS1601_GROUP_MEMBERS), "Leeg": []},
    )
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def sms1601_provider(db, sms1601_sim):
    """A saved 1601SMS Provider talking to ``sms1601_sim``, default sender SMS1601_SENDER."""
    from helpdesk_sms.models import Provider, SenderID

    provider = Provider.objects.create(
        name="1601SMS test",
        gateway="sms1601",
        base_url=sms1601_sim.url,
        username=SMS1601_USER,
        password=SMS1601_PASSWORD,
        timezone="Europe/Amsterdam",
        default_region="NL",
    )
    provider.default_sender = SenderID.objects.create(provider=provider, value=SMS1601_SENDER)
    provider.save()
    return provider
