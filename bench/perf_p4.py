"""P4: delivery reports — pushed to the webhook under load, and polled from Canlog.

Push: gunicorn (2 sync workers) serves project.wsgi; a load generator sends Unified's push
(the GET the Unified simulator makes: sSender, sMobileNo, sStatus, dtSubmit, dtDone,
sMessageId, iErrCode) for distinct accepted messages, against a trivial view on the same
server behind the same middleware. Poll: ``reports.poll_reports()`` of accepted messages
against the raw GetDelivery requests it makes (one per job, as CanlogGateway does).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import requests

from . import perf_load
from .perf_common import REPS, Row, interleave, log, scaled, timed
from .perf_env import (
    CALLBACK_SECRET,
    CANLOG_KEY,
    ROOT,
    canlog_provider,
    django_env,
    empty_log,
    numbers,
    raw_session,
    unified_provider,
)

CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY") or 4)
TRIVIAL_PATH = "/bench/trivial/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Gunicorn:
    """gunicorn serving project.wsgi with the bench URLconf; stopped by its pid."""

    def __init__(self, db_url: str, log_dir: Path, workers: int = 2) -> None:
        self.port = _free_port()
        self.log_path = log_dir / f"gunicorn-{self.port}.log"
        env = {**django_env(db_url), "BENCH_ROOT_URLCONF": "bench.perf_urls"}
        self.log_file = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "project.wsgi:application",
                "-c",
                str(ROOT / "bench" / "perf_gunicorn.py"),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.tail()}")
            try:
                reply = requests.get(f"http://127.0.0.1:{self.port}{TRIVIAL_PATH}", timeout=2)
                if reply.status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within 60 s: {self.tail()}")

    def tail(self) -> str:
        self.log_file.flush()
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return " / ".join(lines[-3:]) or "no output"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def _accepted_messages(provider: Any, count: int, prefix: str) -> list[tuple[str, str]]:
    """``count`` accepted messages on ``provider``; returns (gateway id, number) pairs."""
    from django.utils import timezone

    from helpdesk_sms.models import Message
    from helpdesk_sms.states import Status

    now = timezone.now()
    pairs = [(f"{prefix}{i:09d}", n) for i, n in enumerate(numbers(count, 3 * 10**7))]
    Message.objects.bulk_create(
        [
            Message(
                recipient=number,
                body="Ticket #42 is assigned to you: printer on floor 3 is out of toner",
                provider=provider,
                sender="HELPDK",
                status=Status.ACCEPTED,
                status_changed_at=now,
                provider_message_id=message_id,
                submitted_at=now,
                attempts=1,
            )
            for message_id, number in pairs
        ],
        batch_size=500,
    )
    return pairs


def push_path(provider_id: int, message_id: str, number: str) -> str:
    """The Unified simulator's push (UnifiedSimulator.report, pushed by GET)."""
    fields = {
        "sSender": "HELPDK",
        "sMobileNo": number.lstrip("+"),
        "sStatus": "DELIVRD",
        "dtSubmit": "2025-01-06 10:15:02",
        "dtDone": "2025-01-06 10:15:09",
        "sMessageId": message_id,
        "iErrCode": "000",
    }
    return f"/sms/callback/{provider_id}/{CALLBACK_SECRET}/?" + urllib.parse.urlencode(fields)


def webhook(db_url: str, log_dir: Path, *, persistent: bool = False) -> list[Row]:
    """Pushed reports per second through the webhook vs a trivial view, same server.

    ``persistent``: gunicorn's Django keeps its database connection between requests
    (``CONN_MAX_AGE=60`` through DATABASE_URL), as a production site would; project.settings
    leaves it at Django's default 0, a new connection for every request that queries.
    """
    from helpdesk_sms.models import Message
    from helpdesk_sms.states import Status

    empty_log()
    provider = unified_provider()
    count = scaled(1000, floor=100)
    warm = 40
    pairs = _accepted_messages(provider, count * REPS + warm, "UNI")
    paths = [push_path(provider.pk, mid, number) for mid, number in pairs]
    server_url = db_url + ("?conn_max_age=60" if persistent else "")
    server = Gunicorn(server_url, log_dir=log_dir)
    problems: list[str] = []
    latency: dict[str, list[float]] = {"webhook": [], "trivial": []}
    try:
        perf_load.run("127.0.0.1", server.port, paths[:warm], CONCURRENCY)
        perf_load.run("127.0.0.1", server.port, [TRIVIAL_PATH] * warm, CONCURRENCY)

        def measure(kind: str, chunk: list[str]) -> dict[str, float]:
            result = perf_load.run("127.0.0.1", server.port, chunk, CONCURRENCY)
            bad = {k: v for k, v in result.statuses.items() if k != 200}
            if bad:
                problems.append(f"{kind}: answers {dict(result.statuses)}")
            latency[kind].append(result.percentile(0.99))
            return {"rate": result.rate, "seconds": result.seconds}

        log(f"P4: {count} pushed reports vs {count} trivial requests on gunicorn, {REPS} pairs")
        runs_a, runs_b = interleave(
            REPS,
            lambda rep: measure("webhook", paths[warm + rep * count : warm + (rep + 1) * count]),
            lambda rep: measure("trivial", [TRIVIAL_PATH] * count),
        )
    finally:
        server.stop()
    delivered = Message.objects.filter(provider=provider, status=Status.DELIVERED).count()
    if delivered != count * REPS + warm:
        problems.append(f"{delivered} of {count * REPS + warm} messages delivered")
    a_ms = [r["seconds"] / count * 1000 for r in runs_a]
    b_ms = [r["seconds"] / count * 1000 for r in runs_b]
    conn = "persistent DB connections" if persistent else "CONN_MAX_AGE=0 (as configured)"
    note = (
        f"{count} requests per run, {CONCURRENCY} client connections, gunicorn 2 sync "
        f"workers, {conn}; "
        f"median {1000 / statistics.median(a_ms):.0f} vs {1000 / statistics.median(b_ms):.0f} "
        f"req/s; worst p99 latency {max(latency['webhook']):.0f} vs "
        f"{max(latency['trivial']):.0f} ms; the load generator shares the cores"
    )
    if problems:
        note += "; PROBLEMS: " + " | ".join(dict.fromkeys(problems))
    return [
        Row(
            "P4",
            "push webhook under load, time per request"
            + (", persistent DB connections" if persistent else ""),
            "ms",
            "speed",
            a_label="GET /sms/callback/<provider>/<secret>/ (Unified push, distinct messages)",
            b_label="trivial Django view on the same gunicorn (same middleware)",
            a=a_ms,
            b=b_ms,
            target=">= 0.5x trivial view",
            limit=0.5,
            note=note,
        )
    ]


# -- polling -------------------------------------------------------------------------------


def polling(sim_url: str) -> list[Row]:
    """poll_reports() of accepted messages, one job each, vs the raw GetDelivery loop."""
    from django.utils import timezone

    from helpdesk_sms import reports
    from helpdesk_sms.models import Message, MessageEvent
    from helpdesk_sms.states import Source, Status

    empty_log()
    provider = canlog_provider(sim_url)
    count = scaled(2000, floor=100)
    session = raw_session()
    # Real jobs on the simulator, sent raw (untimed): one job per message, as distinct
    # helpdesk texts are sent; the rows then look exactly as the outbox leaves them.
    now = timezone.now()
    rows, jobs = [], []
    for i, number in enumerate(numbers(count, 4 * 10**7)):
        text = f"Ticket #{i} was updated"
        params = {
            "APIKey": CANLOG_KEY,
            "senderid": "HLPDSK",
            "channel": "Trans",
            "DCS": "0",
            "flashsms": "0",
            "number": number[1:],
            "text": text,
            "route": "15",
        }
        reply = session.get(sim_url + "/api/mt/SendSMS", params=params, timeout=30).json()
        job, entry = reply["JobId"], reply["MessageData"][0]
        jobs.append(job)
        rows.append(
            Message(
                recipient=number,
                body=text,
                provider=provider,
                sender="HLPDSK",
                status=Status.ACCEPTED,
                status_changed_at=now,
                submitted_at=now,
                provider_message_id=entry["MessageId"],
                provider_job_id=job,
                attempts=1,
            )
        )
    Message.objects.bulk_create(rows, batch_size=500)

    def app(rep: int) -> dict[str, float]:
        Message.objects.filter(provider=provider).update(status=Status.ACCEPTED)
        MessageEvent.objects.filter(source=Source.POLL).delete()
        with timed() as clock:
            moved = reports.poll_reports(provider)
        if moved != count:
            raise RuntimeError(f"poll_reports moved {moved} of {count}")
        return {"wall": clock.wall, "cpu": clock.cpu}

    def raw(rep: int) -> dict[str, float]:
        with timed() as clock:
            for job in jobs:
                reply = session.get(
                    sim_url + "/api/mt/GetDelivery",
                    params={"APIKey": CANLOG_KEY, "jobid": job},
                    timeout=(5, 30),
                ).json()
                if reply.get("ErrorCode") != "0" or not reply.get("DeliveryReports"):
                    raise RuntimeError(f"raw GetDelivery refused: {reply}")
        return {"wall": clock.wall, "cpu": clock.cpu}

    log(f"P4: poll_reports() of {count} accepted messages vs the raw loop, {REPS} pairs")
    runs_a, runs_b = interleave(REPS, app, raw)
    session.close()
    empty_log()
    return [
        Row(
            "P4",
            f"poll reports of {count:,} accepted messages, wall",
            "s",
            "cost",
            a_label="reports.poll_reports(): one GetDelivery per job, then each message moved",
            b_label="raw GetDelivery loop, same requests, nothing stored",
            a=[r["wall"] for r in runs_a],
            b=[r["wall"] for r in runs_b],
            target="<= 3x raw + 1 s",
            affine=(3.0, 1.0),
            note=f"{count} messages in {count} jobs (distinct texts); every report final",
        )
    ]
