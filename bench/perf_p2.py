"""P2: the outbox against the Canlog simulator, next to a raw ``requests`` loop.

The raw loop sends the very requests the Canlog adapter builds (``CanlogGateway.send_params``
in the document's order, checked equal below) over one keep-alive ``requests.Session``,
reads each JSON reply, and stores nothing: the floor for doing this job over HTTP. The
simulator runs in its own process, so both sides wait on the same server.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import requests

from . import perf_bytes
from .perf_common import REPS, Row, interleave, log, scaled, timed
from .perf_env import (
    CANLOG_KEY,
    ROOT,
    canlog_provider,
    django_env,
    empty_log,
    numbers,
    raw_session,
)

SEND_PATH = "/api/mt/SendSMS"
TEXT = "Ticket #{i} is assigned to you: printer on floor {i} is out of toner"
SAME_TEXT = "Scheduled maintenance tonight 22:00-23:00: the helpdesk portal will be offline."


def raw_params(number: str, text: str) -> dict[str, str]:
    """SendSMS's query as ``CanlogGateway.send_params`` writes it for our provider."""
    return {
        "APIKey": CANLOG_KEY,
        "senderid": "HLPDSK",
        "channel": "Trans",
        "DCS": "0",
        "flashsms": "0",
        "number": number,
        "text": text,
        "route": "15",
    }


def same_requests(provider: Any) -> bool:
    """True when the raw loop's query equals the adapter's (names, order and values)."""
    from helpdesk_sms.gateways.base import Batch, Recipient

    batch = Batch([Recipient(1, "+919800000001")], TEXT.format(i=1), sender="HLPDSK")
    ours = provider.get_gateway().send_params(batch)
    return list(ours.items()) == list(raw_params("919800000001", TEXT.format(i=1)).items())


def raw_send(session: requests.Session, url: str, params: dict[str, str]) -> None:
    reply = session.get(url + SEND_PATH, params=params, timeout=(5, 30)).json()
    if reply.get("ErrorCode") != "000":
        raise RuntimeError(f"raw SendSMS refused: {reply}")


def queue_distinct(provider: Any, count: int, start: int) -> None:
    """``count`` messages of distinct texts through send_sms (untimed set-up)."""
    from django.db import transaction

    from helpdesk_sms.api import send_sms

    with transaction.atomic():
        for i, number in enumerate(numbers(count, start)):
            send_sms(number, TEXT.format(i=start + i), provider=provider)


def queue_same(provider: Any, count: int, start: int) -> None:
    """``count`` messages of one text through one send_sms call (untimed set-up)."""
    from helpdesk_sms.api import send_sms

    send_sms(numbers(count, start), SAME_TEXT, provider=provider)


def _dispatch_checked(count: int) -> tuple[float, float]:
    """Time one outbox pass; refuse figures from a pass that did not send everything."""
    from helpdesk_sms import outbox

    with timed() as clock:
        report = outbox.dispatch()
    if report.accepted != count:
        raise RuntimeError(f"dispatch accepted {report.accepted} of {count}: {report.errors[:2]}")
    return clock.wall, clock.cpu


def distinct_and_batched(sim_url: str) -> list[Row]:
    """Distinct texts (one request each) and one text (100 numbers a request)."""
    provider = canlog_provider(sim_url)
    count = scaled(2000, floor=100)
    session = raw_session()
    identical = same_requests(provider)
    rows: list[Row] = []
    offset = [0]

    # -- distinct: one SendSMS per message ---------------------------------------------
    measured: dict[str, Any] = {}

    def app_distinct(rep: int) -> dict[str, float]:
        empty_log()
        before = perf_bytes.snapshot()
        offset[0] += count
        queue_distinct(provider, count, offset[0])
        wall, cpu = _dispatch_checked(count)
        if rep == 0:
            measured["distinct"] = perf_bytes.measure(before, count)
        return {"wall": wall, "cpu": cpu}

    def raw_distinct(rep: int) -> dict[str, float]:
        offset[0] += count
        base = offset[0]
        with timed() as clock:
            for i, number in enumerate(numbers(count, base)):
                raw_send(session, sim_url, raw_params(number[1:], TEXT.format(i=base + i)))
        return {"wall": clock.wall, "cpu": clock.cpu}

    log(f"P2: dispatch of {count} distinct texts vs the raw loop, {REPS} pairs")
    try:
        runs_a, runs_b = interleave(REPS, app_distinct, raw_distinct)
        note = f"{count} messages, {count} requests each side"
        if not identical:
            note += "; WARNING: the raw query differs from the adapter's"
        rows += [
            Row(
                "P2",
                f"dispatch {count:,} distinct texts, wall",
                "s",
                "speed",
                a_label="outbox.dispatch() of messages queued by send_sms",
                b_label="raw keep-alive requests.Session loop, same requests",
                a=[r["wall"] for r in runs_a],
                b=[r["wall"] for r in runs_b],
                target=">= 0.8x raw",
                limit=0.8,
                note=note,
            ),
            Row(
                "P2",
                "dispatch distinct, client CPU per message",
                "ms",
                "cost",
                a_label="outbox.dispatch() CPU in this process",
                b_label="raw loop CPU",
                a=[r["cpu"] / count * 1000 for r in runs_a],
                b=[r["cpu"] / count * 1000 for r in runs_b],
                note="the simulator's CPU is in its own process and not counted",
            ),
        ]
    except Exception as exc:
        rows.append(_error_row(f"dispatch {count:,} distinct texts", exc, ">= 0.8x raw"))

    # -- batchable: one text, 100 numbers a request -------------------------------------
    def app_batched(rep: int) -> dict[str, float]:
        empty_log()
        before = perf_bytes.snapshot()
        offset[0] += count
        queue_same(provider, count, offset[0])
        wall, cpu = _dispatch_checked(count)
        if rep == 0:
            measured["batched"] = perf_bytes.measure(before, count)
        return {"wall": wall, "cpu": cpu}

    def raw_batched(rep: int) -> dict[str, float]:
        offset[0] += count
        listed = [n[1:] for n in numbers(count, offset[0])]
        with timed() as clock:
            for start in range(0, count, 100):
                raw_send(
                    session, sim_url, raw_params(",".join(listed[start : start + 100]), SAME_TEXT)
                )
        return {"wall": clock.wall, "cpu": clock.cpu}

    log(f"P2: dispatch of {count} messages of one text vs the raw bulk loop, {REPS} pairs")
    try:
        runs_a, runs_b = interleave(REPS, app_batched, raw_batched)
        requests_made = -(-count // 100)
        rows += [
            Row(
                "P2",
                f"dispatch {count:,} batchable (100/request), wall",
                "s",
                "speed",
                a_label="outbox.dispatch() of one send_sms to many numbers",
                b_label="raw loop of bulk requests, 100 numbers each",
                a=[r["wall"] for r in runs_a],
                b=[r["wall"] for r in runs_b],
                target=">= 0.2x raw bulk",
                limit=0.2,
                note=f"{count} messages in {requests_made} requests each side",
            ),
            Row(
                "P2",
                "dispatch batchable, client CPU per message",
                "ms",
                "cost",
                a_label="outbox.dispatch() CPU in this process",
                b_label="raw bulk loop CPU",
                a=[r["cpu"] / count * 1000 for r in runs_a],
                b=[r["cpu"] / count * 1000 for r in runs_b],
            ),
        ]
    except Exception as exc:
        rows.append(_error_row(f"dispatch {count:,} batchable", exc, ">= 0.2x raw bulk"))

    rows += bytes_rows(measured)
    session.close()
    return rows


def bytes_rows(measured: dict[str, Any]) -> list[Row]:
    """Per-message storage of the first distinct and batched runs (up to 'accepted')."""
    from .perf_env import exchange_model

    exchange = "with" if exchange_model() is not None else "no GatewayExchange model yet;"
    rows = []
    for key, label, target, limit in (
        ("batched", "batched", "<= 1.5 KB/msg", 1536.0),
        ("distinct", "unbatched", "", None),
    ):
        result = measured.get(key)
        if result is None:
            rows.append(
                _error_row(f"bytes per message, {label}", "its dispatch run failed", target)
            )
            continue
        rows.append(
            Row(
                "P2",
                f"bytes stored per message, {label} (logical)",
                "B",
                "value",
                a_label="message + event rows (data JSON included) "
                f"{exchange} exchanges, per message queued to accepted",
                a=[result["logical"]],
                target=target,
                limit=limit,
                note=perf_bytes.breakdown(result),
            )
        )
        if result["physical"] is not None:
            rows.append(
                Row(
                    "P2",
                    f"bytes stored per message, {label} (physical)",
                    "B",
                    "value",
                    a_label="growth of the log tables with indexes, per message",
                    a=[result["physical"]],
                    note="dead row versions of the status updates included (not vacuumed)",
                )
            )
    return rows


def _error_row(name: str, exc: Exception | str, target: str = "") -> Row:
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return Row("P2", name, "s", "speed", error=text, target=target)


# -- two worker processes against one -------------------------------------------------------


class Workers:
    """Dispatch worker processes, started once and kept ready across repetitions."""

    def __init__(self, db_url: str, count: int) -> None:
        env = django_env(db_url)
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.perf_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
                env=env,
            )
            for _ in range(count)
        ]
        for proc in self.procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                self.stop()
                raise RuntimeError("a dispatch worker did not start")

    def run(self, count: int) -> dict[str, Any]:
        """Let the first ``count`` workers go at once; time until every one has answered."""
        chosen = self.procs[:count]
        start = time.perf_counter()
        for proc in chosen:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes = []
        for proc in chosen:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            outcomes.append(json.loads(line) if line.strip() else {"error": "worker died"})
        return {"wall": time.perf_counter() - start, "outcomes": outcomes}

    def stop(self) -> None:
        """Closing stdin ends a worker; one that does not end in 30 s is killed."""
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    assert proc.stdin is not None
                    proc.stdin.close()
                    proc.wait(timeout=30)
                except (OSError, subprocess.TimeoutExpired):
                    proc.kill()
                    proc.wait()


def workers(sim_url: str, db_url: str) -> list[Row]:
    """One dispatch process against two, on the same queue of distinct texts."""
    from helpdesk_sms.models import Message
    from helpdesk_sms.states import Status

    provider = canlog_provider(sim_url)
    count = scaled(1000, floor=100)
    offset = [10**7]
    problems: list[str] = []
    pool = Workers(db_url, 2)

    def run(workers_count: int) -> dict[str, float]:
        empty_log()
        offset[0] += count
        queue_distinct(provider, count, offset[0])
        result = pool.run(workers_count)
        accepted = Message.objects.filter(status=Status.ACCEPTED).count()
        errors = [o["error"] for o in result["outcomes"] if o.get("error")]
        claimed = [o.get("claimed", 0) for o in result["outcomes"]]
        if errors or accepted != count:
            problems.append(
                f"{workers_count} worker(s): {accepted}/{count} accepted, claimed {claimed}"
                + (f", error: {errors[0][:160]}" if errors else "")
            )
        return {"wall": result["wall"], "share": min(claimed) / max(1, max(claimed))}

    log(f"P2: {count} distinct texts dispatched by 1 worker process vs 2, {REPS} pairs")
    try:
        runs_a, runs_b = interleave(REPS, lambda rep: run(2), lambda rep: run(1))
    finally:
        pool.stop()
    share = statistics.median(r["share"] for r in runs_a)
    note = (
        f"{count} distinct texts; workers started once, untimed; the smaller worker claimed "
        f"{share:.0%} of the larger's messages"
    )
    if problems:
        note += "; PROBLEMS: " + " | ".join(dict.fromkeys(problems))
    cores = os.cpu_count()
    note += f"; {cores} cores shared by the workers, the simulator and the database"
    return [
        Row(
            "P2",
            "two dispatch worker processes vs one, wall",
            "s",
            "speed",
            a_label="2 processes each calling outbox.dispatch()",
            b_label="1 process calling outbox.dispatch()",
            a=[r["wall"] for r in runs_a],
            b=[r["wall"] for r in runs_b],
            target=">= 1.7x one",
            limit=1.7,
            note=note,
        )
    ]
