"""``python -m bench.perf_run sqlite|postgres RESULT.json``: every benchmark on one database.

One process per database because Django's settings (and so its database) are fixed at
start-up. Each benchmark is isolated: one that raises becomes an error row and the next
one runs. Results go to RESULT.json; progress goes to stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .perf_common import Row, log
from .perf_env import CANLOG_KEY, SimProcess, pg_url, recreate_pg, setup_django

#: Canlog as the P2/P3/P4-poll gateway: credit enough for every run, reports final at once.
CANLOG_OPTIONS = {
    "api_key": CANLOG_KEY,
    "balances": {"Trans": 10**12, "Promo": 10**12},
    "delivery_delay": 0,
    "seed": 7,
}


def benchmarks(
    kind: str, sim_url: str, db_url: str, work: Path
) -> list[tuple[str, Callable[[], Any]]]:
    """(id, thunk) of every benchmark for database ``kind``, in the order they run.

    Peak memory runs on one database only (BENCH_MEMORY_DB, default sqlite): it is the
    Python objects of one call, and filling PostgreSQL with 100,000 rows one INSERT at a
    time takes minutes on the current engine. Persistent-connection webhook runs on
    PostgreSQL only, where a new connection per request costs a server process fork.
    """
    from . import perf_p1, perf_p2, perf_p3, perf_p4, perf_p5, perf_p6

    memory_dbs = (os.environ.get("BENCH_MEMORY_DB") or "sqlite").split(",")
    chosen = [
        ("P1", lambda: perf_p1.run(sim_url)),
        ("P2", lambda: perf_p2.distinct_and_batched(sim_url)),
        ("P2-workers", lambda: perf_p2.workers(sim_url, db_url)),
        ("P3", lambda: perf_p3.send_many(sim_url)),
        ("P3-memory", lambda: perf_p3.memory(sim_url, db_url)),
        ("P4-webhook", lambda: perf_p4.webhook(db_url, work)),
        ("P4-webhook-persistent", lambda: perf_p4.webhook(db_url, work, persistent=True)),
        ("P4-polling", lambda: perf_p4.polling(sim_url)),
        ("P5-dashboard", lambda: perf_p5.run(sim_url)),
        ("P6-routing", lambda: perf_p6.run(sim_url)),
    ]
    skip = set()
    if kind not in memory_dbs and "all" not in memory_dbs:
        skip.add("P3-memory")
    if kind != "postgres":
        skip.add("P4-webhook-persistent")
    return [(bench_id, thunk) for bench_id, thunk in chosen if bench_id not in skip]


def selected(bench_id: str) -> bool:
    """BENCH_ONLY=P2,P4-webhook runs only those (prefix match); unset runs everything."""
    only = [s.strip() for s in (os.environ.get("BENCH_ONLY") or "").split(",") if s.strip()]
    return not only or any(bench_id.startswith(prefix) for prefix in only)


def main() -> None:
    """Fresh database, simulator, every benchmark, result file."""
    kind, result_path = sys.argv[1], Path(sys.argv[2])
    work = Path(tempfile.mkdtemp(prefix="helpdesk-sms-bench-"))
    if kind == "sqlite":
        db_url = f"sqlite:///{work / 'bench.sqlite3'}"  # a file: gunicorn and workers share it
    else:
        url = pg_url(os.environ.get("DATABASE_URL", ""))
        if url is None:
            raise SystemExit("DATABASE_URL does not point at PostgreSQL")
        db_url = url
        recreate_pg(db_url)
    out: dict[str, Any] = {"db": kind, "rows": [], "db_version": ""}
    try:
        log(f"{kind}: migrating a fresh database")
        setup_django(db_url, migrate=True)
        from .perf_env import db_version

        out["db_version"] = db_version()
        with SimProcess("canlog", **CANLOG_OPTIONS) as sim:
            for bench_id, thunk in benchmarks(kind, sim.url, db_url, work):
                if not selected(bench_id):
                    continue
                try:
                    rows = thunk()
                except Exception as exc:  # the row says so; the run goes on
                    traceback.print_exc()
                    rows = [
                        Row(
                            bench_id.split("-")[0],
                            bench_id,
                            "",
                            "value",
                            error=f"{type(exc).__name__}: {exc}",
                        )
                    ]
                for row in rows:
                    row.db = kind
                    out["rows"].append(row.to_dict())
                result_path.write_text(json.dumps(out))
            if os.environ.get("BENCH_PROFILE"):
                from . import perf_profile

                perf_profile.run(sim.url, work)
    finally:
        result_path.write_text(json.dumps(out))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
