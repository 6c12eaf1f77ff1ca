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


STARTS = """
from helpdesk_sms.models import Message
for stamp in Message.objects.filter(status="accepted").values_list("request_started_at", flat=True):
    print(stamp.timestamp())
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

    sent = sorted(m["time"] for m in canlog_sim.state()["requests"] if "SendSMS" in m["path"])
    assert len(sent) == MESSAGES
    # Each request's start as the workers stamped it, just after the limiter granted it (on
    # a loaded machine a request may reach the gateway a second late). A grant at a second's
    # very end may be stamped in the next: one such straggler is allowed; two workers each
    # counting alone would show twice the rate.
    started = request_starts(env)
    per_second = Counter(math.floor(t) for t in started)
    assert max(per_second.values()) <= RATE + 1, sorted(per_second.items())
    # The rate held over the whole run: 16 at 4 a second fill four windows, the first
    # request anywhere in the first one, the last at the latest the fourth one's start.
    assert sent[-1] - sent[0] >= MESSAGES / RATE - 2


def request_starts(env: dict[str, str]) -> list[float]:
    """When each message's request started (epoch seconds), from the database the workers
    wrote to."""
    if connection.vendor == "postgresql":
        stamps = Message.objects.filter(status=Status.ACCEPTED).values_list(
            "request_started_at", flat=True
        )
        return [stamp.timestamp() for stamp in stamps]
    shell = manage(env, "shell", "-c", STARTS)
    assert shell.returncode == 0, shell.stderr
    # The shell may say more (Django's automatic imports): only the stamps are numbers.
    return [float(word) for word in shell.stdout.split() if word.replace(".", "").isdigit()]
