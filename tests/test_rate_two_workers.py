"""Two dispatching processes together keep a provider's rate: the gateway never sees more
requests in one of its seconds than the provider allows, however many workers send.

Real processes (``manage.py sms_dispatch``, started as test_two_dispatchers starts them)
against the Canlog simulator, on a SQLite file or on the PostgreSQL test database.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from helpdesk_sms.api import send_sms
from helpdesk_sms.models import Message, Provider, SenderID
from helpdesk_sms.states import Status
from tests.fixtures_simulators import CANLOG_API_KEY
from tests.test_two_dispatchers import dispatch_in_processes, manage

ROOT = Path(__file__).resolve().parent.parent
RATE = 4  # messages per second
MESSAGES = 16

SETUP = f"""
from helpdesk_sms.api import send_sms
from helpdesk_sms.models import Provider, SenderID
provider = Provider.objects.create(
    name="Canlog", gateway="canlog", base_url={{url!r}}, api_key={CANLOG_API_KEY!r},
    options={{{{"channel": "Trans", "route": "15", "max_numbers": 1}}}}, rate_per_second={RATE},
)
provider.default_sender = SenderID.objects.create(provider=provider, value="HLPDSK")
provider.save()
for n in range({MESSAGES}):
    send_sms(f"+9198123{{{{n:05}}}}", f"Message {{{{n}}}}")
"""


def postgres_env(url: str) -> dict[str, str]:
    """The PostgreSQL test database, queued with the messages (committed for the workers)."""
    provider = Provider.objects.create(
        name="Canlog",
        gateway="canlog",
        base_url=url,
        api_key=CANLOG_API_KEY,
        options={"channel": "Trans", "route": "15", "max_numbers": 1},
        rate_per_second=RATE,
    )
    provider.default_sender = SenderID.objects.create(provider=provider, value="HLPDSK")
    provider.save()
    for n in range(MESSAGES):
        send_sms(f"+9198123{n:05}", f"Message {n}")
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "HELPDESK_SMS_DISPATCH": "none",
    }


def sqlite_env(tmp_path: Path, url: str) -> dict[str, str]:
    """A SQLite file both workers open (the in-memory test database cannot be shared)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        "HELPDESK_SMS_DISPATCH": "none",
    }
    assert manage(env, "migrate", "-v", "0").returncode == 0
    setup = manage(env, "shell", "-c", SETUP.format(url=url))
    assert setup.returncode == 0, setup.stderr
    return env


@pytest.mark.django_db(transaction=True)
def test_two_workers_together_respect_a_providers_rate(tmp_path, canlog_sim):
    if connection.vendor == "postgresql":
        env = postgres_env(canlog_sim.url)
    else:
        env = sqlite_env(tmp_path, canlog_sim.url)

    dispatch_in_processes(env, 2)

    times = sorted(m["time"] for m in canlog_sim.state()["requests"] if "SendSMS" in m["path"])
    assert len(times) == MESSAGES
    per_second = Counter(math.floor(t) for t in times)
    # One request granted at a second's very end may reach the gateway in the next one.
    assert max(per_second.values()) <= RATE + 1, sorted(per_second.items())
    assert times[-1] - times[0] >= MESSAGES / RATE - 1.5
    if connection.vendor == "postgresql":
        assert Message.objects.filter(status=Status.ACCEPTED).count() == MESSAGES
