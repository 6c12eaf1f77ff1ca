"""Two dispatching processes on one database both work, and send each message once.

SQLite is the zero-setup default, so it must hold there too: on a file database (the
test database in memory cannot be shared between processes) and, in CI, on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.fixtures_simulators import CANLOG_API_KEY

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 300

SETUP = f"""
from helpdesk_sms.api import send_sms
from helpdesk_sms.models import Provider, SenderID
provider = Provider.objects.create(
    name="Canlog", gateway="canlog", base_url={{url!r}}, api_key={CANLOG_API_KEY!r},
    options={{{{"channel": "Trans", "route": "15", "max_numbers": 1}}}},
)
provider.default_sender = SenderID.objects.create(provider=provider, value="HLPDSK")
provider.save()
for n in range({MESSAGES}):
    send_sms(f"+9198123{{{{n:05}}}}", f"Message {{{{n}}}}")
"""

COUNT = """
from collections import Counter
from helpdesk_sms.models import Message
print(dict(Counter(Message.objects.values_list("status", flat=True))))
"""


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def dispatch_in_processes(env: dict[str, str], count: int) -> list[str]:
    """``count`` ``sms_dispatch`` processes started together; their outputs once all ended
    (each must succeed)."""
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "sms_dispatch"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [w.returncode for w in workers] == [0] * count, [err for _, err in outputs]
    return [out for out, _err in outputs]


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the SQLite file case; PostgreSQL has its own test"
)
def test_two_dispatching_processes_on_one_sqlite_file_send_each_message_once(tmp_path, canlog_sim):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        "HELPDESK_SMS_DISPATCH": "none",
    }
    assert manage(env, "migrate", "-v", "0").returncode == 0
    setup = manage(env, "shell", "-c", SETUP.format(url=canlog_sim.url))
    assert setup.returncode == 0, setup.stderr

    outputs = dispatch_in_processes(env, 2)

    claimed = [int(out.split("claimed ")[1].split(":")[0]) for out in outputs]
    assert sum(claimed) == MESSAGES  # each message claimed by one of them, once
    counts = manage(env, "shell", "-c", COUNT).stdout.strip().splitlines()[-1]
    assert counts == f"{{'accepted': {MESSAGES}}}"
    numbers = [m["number"] for m in canlog_sim.state()["messages"]]
    assert len(numbers) == len(set(numbers)) == MESSAGES
