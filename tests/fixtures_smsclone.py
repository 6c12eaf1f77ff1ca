"""The smsclone simulator on a free port of 127.0.0.1, and a provider pointing at it.

Loaded as a pytest plugin by ``tests/conftest.py``. The simulator is function-scoped: a
fresh gateway per test, stopped afterwards. Tests move its time with ``sim.advance(s)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpdesk_sms.simulators.smsclone import SmscloneSimulator

SMSCLONE_USER = "smsclone-user"
SMSCLONE_PASSWORD = "smsclone-secret-password-789"
SMSCLONE_SENDER = "HELPDESK"
#: On the simulator's Do-Not-Disturb register.
SMSCLONE_DND_NUMBER = "2348099999999"


@pytest.fixture
def smsclone_sim() -> Iterator[SmscloneSimulator]:
    """A fresh smsclone gateway accepting SMSCLONE_USER / SMSCLONE_PASSWORD."""
    sim = SmscloneSimulator(
        user=SMSCLONE_USER, password=SMSCLONE_PASSWORD, dnd_numbers=[SMSCLONE_DND_NUMBER]
    )
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def smsclone_provider(db, smsclone_sim):
    """A saved Provider talking to ``smsclone_sim`` on the normal route, sender HELPDESK."""
    from helpdesk_sms.models import Provider, SenderID

    provider = Provider.objects.create(
        name="smsclone test",
        gateway="smsclone",
        base_url=smsclone_sim.url,
        username=SMSCLONE_USER,
        password=SMSCLONE_PASSWORD,
        options={"route": "normal"},
        timezone="Africa/Lagos",
        default_region="NG",
    )
    provider.default_sender = SenderID.objects.create(provider=provider, value=SMSCLONE_SENDER)
    provider.save()
    return provider
