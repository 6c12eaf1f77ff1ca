"""BENCH_PROFILE=1: where the time goes in dispatch and in the webhook (cProfile).

Writes var/bench/profile-<db>-<what>.txt (top functions by own and cumulative time) and
logs the top few. In-process: the webhook goes through Django's test Client, so the
middleware is the site's, without gunicorn.
"""

from __future__ import annotations

import cProfile
import io
import pstats
from pathlib import Path

from .perf_common import log, scaled
from .perf_env import ROOT, empty_log


def _save(profile: cProfile.Profile, name: str) -> None:
    from django.db import connection

    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    stats = pstats.Stats(profile, stream=buffer).strip_dirs()
    stats.sort_stats("tottime").print_stats(35)
    stats.sort_stats("cumulative").print_stats(45)
    path = out / f"profile-{connection.vendor}-{name}.txt"
    path.write_text(buffer.getvalue())
    log(f"profile of {name} written to {path.relative_to(ROOT)}")


def run(sim_url: str, work: Path) -> None:
    """Profile ticket saves, one dispatch of distinct texts, a series of pushed reports."""
    from django.test import Client

    from helpdesk_sms import outbox

    from .perf_env import canlog_provider, unified_provider
    from .perf_p1 import _agent, _create_and_assign
    from .perf_p2 import queue_distinct
    from .perf_p4 import _accepted_messages, push_path

    empty_log()
    provider = canlog_provider(sim_url)
    count = scaled(500, floor=50)
    agent = _agent()
    _create_and_assign(5, agent, 9 * 10**6)  # warm
    profile = cProfile.Profile()
    profile.enable()
    _create_and_assign(count // 5, agent, 9 * 10**6 + 10)
    profile.disable()
    _save(profile, "ticket-saves")
    empty_log()

    queue_distinct(provider, count, 8 * 10**7)
    profile = cProfile.Profile()
    profile.enable()
    outbox.dispatch()
    profile.disable()
    _save(profile, "dispatch")

    unified = unified_provider()
    pairs = _accepted_messages(unified, count, "PRF")
    client = Client(HTTP_HOST="127.0.0.1")
    client.get(push_path(unified.pk, *pairs[0]))  # warm: URL resolver, middleware
    profile = cProfile.Profile()
    profile.enable()
    for message_id, number in pairs[1:]:
        client.get(push_path(unified.pk, message_id, number))
    profile.disable()
    _save(profile, "webhook")
    empty_log()
