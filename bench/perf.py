"""``python -m bench.perf`` (``make bench``): every benchmark, on SQLite and on PostgreSQL.

SQLite (a temp file) always; PostgreSQL too when DATABASE_URL points at a PostgreSQL
server, in a database of its own (``bench``, or BENCH_PG_DB) dropped and created afresh —
never the database DATABASE_URL names. Each database runs in a child process
(``bench.perf_run``); this one prints the machine, the table and what each row compares,
and writes the table as Markdown to var/bench/latest.md for docs/performance.md.

Knobs: BENCH_SCALE (sizes, default 1.0), BENCH_REPS (A/B pairs, default 3),
BENCH_ONLY (e.g. ``P2,P4-webhook``), BENCH_PROFILE=1 (cProfile of dispatch and the
webhook, into var/bench/), BENCH_CONCURRENCY (webhook connections, default 4).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .perf_common import REPS, SCALE, Row, legend, log, table
from .perf_env import ROOT, pg_url

#: A database's whole run is stopped after this long (its rows so far are kept).
CHILD_TIMEOUT = int(os.environ.get("BENCH_TIMEOUT") or 1200)


def cpu_model() -> str:
    """The CPU's marketing name, from /proc/cpuinfo where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine(db_versions: list[str]) -> str:
    """One paragraph on where the figures come from: they mean nothing without it."""
    import django

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"machine: {os.cpu_count()} cores, {cpu_model()}, load average {load}",
        f"software: Python {platform.python_version()}, Django {django.get_version()}, "
        + ", ".join(db_versions or ["no database answered"]),
        f"run: BENCH_SCALE={SCALE:g}, BENCH_REPS={REPS} (A B pairs interleaved), "
        f"commit {commit()}, {time.strftime('%Y-%m-%d %H:%M %Z')}",
    ]
    return "\n".join(lines)


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_database(kind: str) -> tuple[list[Row], str]:
    """One database's benchmarks in a child process; a crash or timeout becomes a row."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        result_path = Path(handle.name)
    error = ""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.perf_run", kind, str(result_path)],
            cwd=ROOT,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
        if proc.returncode:
            error = f"the {kind} run exited with {proc.returncode}"
    except subprocess.TimeoutExpired:
        error = f"the {kind} run took over {CHILD_TIMEOUT} s and was stopped"
    try:
        data = json.loads(result_path.read_text() or "{}")
    except (OSError, ValueError):
        data = {}
    finally:
        result_path.unlink(missing_ok=True)
    rows = [Row.from_dict(r) for r in data.get("rows", [])]
    if error:
        rows.append(Row("-", "run", "", "value", error=error, db=kind))
    return rows, data.get("db_version", "")


def main() -> None:
    """Both databases, then the table."""
    started = time.monotonic()
    kinds = ["sqlite"]
    if pg_url(os.environ.get("DATABASE_URL", "")):
        kinds.append("postgres")
    else:
        log("DATABASE_URL is not PostgreSQL: SQLite only")
    rows: list[Row] = []
    versions: list[str] = []
    for kind in kinds:
        log(f"== {kind}")
        found, version = run_database(kind)
        rows += found
        if version:
            versions.append(version)
    about = machine(versions)
    elapsed = time.monotonic() - started
    text = f"{about}\n\n{table(rows)}\n\n{legend(rows)}\n\ntotal {elapsed:.0f} s"
    print(text)
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(
        "```\n"
        + about
        + "\n```\n\n"
        + table(rows, markdown=True)
        + "\n\n"
        + "\n".join(f"- {line}" for line in legend(rows).splitlines())
        + "\n"
    )


if __name__ == "__main__":
    main()
