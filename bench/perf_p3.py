"""P3: queueing many numbers at once — send_sms against a raw bulk_create, and its memory.

send_sms validates and normalizes every number and writes each message with its creation
event; the reference writes the same Message rows with one ``bulk_create`` and checks
nothing: the floor for putting 10,000 rows in the table. Peak memory is measured in a
process of its own (``bench.perf_mem``) so nothing else this run allocated is counted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from .perf_common import REPS, Row, interleave, log, scaled, timed
from .perf_env import ROOT, canlog_provider, django_env, empty_log, numbers

TEXT = "Your ticket is resolved. Reply REOPEN within 7 days if the problem comes back."


def raw_rows(provider: Any, listed: list[str]) -> list[Any]:
    """The Message rows send_sms would create, built by hand (no checks, no events)."""
    from django.utils import timezone

    from helpdesk_sms.models import Message
    from helpdesk_sms.states import Status

    now = timezone.now()
    return [
        Message(
            recipient=number,
            body=TEXT,
            encoding="gsm7",
            parts=1,
            provider=provider,
            sender="HLPDSK",
            status=Status.QUEUED,
            status_changed_at=now,
        )
        for number in listed
    ]


def send_many(sim_url: str) -> list[Row]:
    """send_sms(10,000 numbers) vs Message.objects.bulk_create of 10,000 rows."""
    from helpdesk_sms.api import send_sms
    from helpdesk_sms.models import Message

    provider = canlog_provider(sim_url)
    count = scaled(10_000, floor=100)
    listed = numbers(count, 5 * 10**7)

    def app(rep: int) -> dict[str, float]:
        empty_log()
        with timed() as clock:
            made = send_sms(listed, TEXT, provider=provider)
        if len(made) != count:
            raise RuntimeError(f"send_sms made {len(made)} of {count}")
        return {"wall": clock.wall, "cpu": clock.cpu}

    def raw(rep: int) -> dict[str, float]:
        empty_log()
        with timed() as clock:
            Message.objects.bulk_create(raw_rows(provider, listed))
        return {"wall": clock.wall, "cpu": clock.cpu}

    log(f"P3: send_sms of {count} numbers vs bulk_create of {count} rows, {REPS} pairs")
    runs_a, runs_b = interleave(REPS, app, raw)
    empty_log()
    return [
        Row(
            "P3",
            f"send_sms {count:,} numbers (one call), wall",
            "s",
            "cost",
            a_label="send_sms(list of numbers, text) with a Provider instance",
            b_label="Message.objects.bulk_create of the same rows (no events, no checks)",
            a=[r["wall"] for r in runs_a],
            b=[r["wall"] for r in runs_b],
            target="<= 2x raw bulk_create",
            limit=2.0,
        ),
        Row(
            "P3",
            f"send_sms {count:,} numbers, CPU",
            "s",
            "cost",
            a_label="send_sms CPU",
            b_label="bulk_create CPU",
            a=[r["cpu"] for r in runs_a],
            b=[r["cpu"] for r in runs_b],
        ),
    ]


def memory(sim_url: str, db_url: str) -> list[Row]:
    """Peak resident memory of one send_sms(100,000 numbers), in a fresh process."""
    canlog_provider(sim_url)
    empty_log()
    count = scaled(100_000, floor=1000)
    log(f"P3: peak memory of send_sms({count} numbers) in a fresh process")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.perf_mem", str(count)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=django_env(db_url),
        timeout=900,
        check=False,
    )
    empty_log()
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memory probe exited {proc.returncode}: {tail}")
    result = json.loads(lines[-1])
    return [
        Row(
            "P3",
            f"peak RSS of send_sms({count:,} numbers)",
            "MB",
            "value",
            a_label="ru_maxrss of a process that set Django up and made one send_sms call",
            a=[result["peak_mb"]],
            target="< 200 MB",
            limit=200.0,
            note=f"{result['baseline_mb']:.0f} MB before the call (Django, numbers list); "
            f"the call took {result['seconds']:.1f} s",
        )
    ]
