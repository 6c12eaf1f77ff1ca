"""``make chaos``: the delivery engine under gateway faults, worker kills, cut database
connections and a frozen broker, then an exact accounting of every message.

    python -m bench.chaos [--messages 5000] [--seed N] [--timeout S] [--duration S]

Needs PostgreSQL (``DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/chaos``;
the database is dropped and created afresh) and starts its own Redis on a free port
unless ``CHAOS_REDIS_URL`` names one (frozen only with ``CHAOS_REDIS_PID``, never on port
6379). Everything else it starts itself, in this process or as children it ends on exit
(also on Ctrl-C): the five gateway simulators, a ``runserver`` taking the delivery-report
pushes of Unified and 1601SMS (Canlog, ATL and 1601SMS are polled; smsclone reports
nothing), two ``celery -A project worker`` processes, and a loop publishing the outbox
sweep (``helpdesk_sms.dispatch``) and the report poll (``helpdesk_sms.poll_reports``).

The engine's timeouts are shortened through ``HELPDESK_SMS_<KEY>`` variables read by
bench/chaos_settings.py (set any of them to override the run's choice). Exit status: 0
when the accounting finds no violation, 1 when it does, 2 when the run could not be set up.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chaos_plan import Action, Chaos, Journal, draw_plan
from .chaos_procs import ROOT, Broker, Processes, WebServer, Worker

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/chaos"
#: Databases the run refuses to drop, whatever DATABASE_URL says.
PROTECTED_DATABASES = frozenset({"postgres", "template0", "template1", "test", "test_test"})
#: The engine's settings for the run (HELPDESK_SMS_<KEY>), unless the environment has them.
ENGINE_SETTINGS: dict[str, str] = {
    "CONNECT_TIMEOUT": "1",
    "READ_TIMEOUT": "3",
    "CLAIM_LEASE": "8",
    "STALE_SENDING_AFTER": "15",
    "RETRY_BACKOFF": "1",
    "RETRY_BACKOFF_MAX": "8",
    "MAX_ATTEMPTS": "8",
    "SWEEP_INTERVAL": "2",
    "REPORT_POLL_INTERVAL": "2",
    # A provider's circuit opens and recovers on the run's scale (its faults last seconds).
    "CIRCUIT_COOLDOWN": "5",
}
SWEEP_EVERY = 2.0
QUIET_FOR = 5.0
PENDING = ("queued", "sending", "scheduled")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--messages", type=int, default=5000, help="messages to create")
    parser.add_argument("--seed", type=int, default=None, help="seed of the plan (random)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=240.0,
        help="seconds to wait for quiescence once the chaos is over (default 240)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds of chaos while messages are created (default: messages/20, 30-300)",
    )
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (default 2)")
    parser.add_argument(
        "--no-push", action="store_true", help="no callback web server: rely on polling"
    )
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(3), "big")
    if args.duration is None:
        args.duration = max(30.0, min(300.0, args.messages / 20))
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    return args


@dataclass
class Run:
    """The pieces of one run, for the handlers and the summary."""

    args: argparse.Namespace
    dir: Path
    processes: Processes
    journal: Journal
    broker: Broker
    database_url: str
    sims: dict[str, Any]
    ports: dict[str, int]
    workers: list[Worker]
    token: str
    web_url: str | None = None
    chaos: Chaos | None = None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = ROOT / "var" / "chaos" / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    processes = Processes(run_dir)
    atexit.register(processes.close)

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    try:
        return run(args, run_dir, processes)
    except KeyboardInterrupt:
        print("\nchaos: interrupted; stopping everything it started", file=sys.stderr)
        return 130
    except SetupError as exc:
        print(f"chaos: cannot run: {exc}", file=sys.stderr)
        return 2
    finally:
        processes.close()


class SetupError(RuntimeError):
    """The run could not get the services it needs."""


def run(args: argparse.Namespace, run_dir: Path, processes: Processes) -> int:
    began = time.time()
    database_url = run_database(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    fresh_database(database_url)
    redis_pid = os.environ.get("CHAOS_REDIS_PID")
    broker = Broker(
        processes, os.environ.get("CHAOS_REDIS_URL"), int(redis_pid) if redis_pid else None
    )
    try:
        broker_url = broker.start()
    except (OSError, RuntimeError) as exc:
        raise SetupError(f"no Redis: {exc}") from exc
    env = child_environment(database_url, broker_url)
    os.environ.update(env)
    print(
        f"chaos: seed {args.seed}, {args.messages} messages over {args.duration:.0f}s; "
        f"logs in {run_dir.relative_to(ROOT)}"
    )

    import django

    django.setup()
    harness_log(run_dir / "harness.log")
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    from .chaos_load import (
        GATEWAYS,
        create_agents,
        create_providers,
        create_routes,
        make_simulators,
    )

    sims = make_simulators(args.seed)
    ports = {}
    for name, sim in sims.items():
        ports[name] = int(urllib.parse.urlsplit(sim.start()).port or 0)
        processes.on_close(sim.stop)
    web_url = None
    if not args.no_push:
        web = WebServer(processes, env)
        web_url = web.start()
    create_routes(create_providers(sims, web_url))
    agents = create_agents()
    workers = [Worker(processes, i + 1, env) for i in range(args.workers)]
    for worker in workers:
        worker.start()
    wait_ready(workers, 90)

    journal = Journal(run_dir / "journal.jsonl")
    processes.on_close(journal.close)
    token = f"r{args.seed:x}"
    state = Run(
        args,
        run_dir,
        processes,
        journal,
        broker,
        database_url,
        sims,
        ports,
        workers,
        token,
        web_url,
    )
    sweeper = Sweeper(SWEEP_EVERY)
    sweeper.start()
    processes.on_close(sweeper.stop)

    from helpdesk_sms.models import Provider

    from .chaos_load import Producer, draw_jobs

    providers = {p.gateway: p for p in Provider.objects.all()}
    jobs = draw_jobs(args.seed, args.messages, args.duration, token)
    producer = Producer(jobs, providers, agents)
    plan = draw_plan(
        args.seed,
        args.duration,
        list(GATEWAYS),
        [w.name for w in workers],
        can_freeze=broker.can_freeze,
    )
    chaos = Chaos(plan, journal, Handlers(state).table())
    state.chaos = chaos
    # Run in reverse: the chaos stops first, then faults are undone (no worker restarted).
    processes.on_close(lambda: calm(state, restart_workers=False))
    processes.on_close(chaos.stop)
    journal.record("chaos_start", planned=len(plan))
    load_began = time.time()
    producer.start()
    chaos.start()
    processes.on_close(producer.stopping.set)
    while producer.is_alive() or chaos.is_alive():
        time.sleep(1.0)
        progress(state, producer, load_began)
    chaos.finish()
    calm(state)
    chaos_ended = time.time()
    journal.record("chaos_end")
    print(f"chaos: faults over after {chaos_ended - load_began:.0f}s; waiting for quiescence")
    quiet_at = wait_quiet(state, args.timeout)
    settle_reports(state, min(30.0, args.timeout))
    ended = time.time()

    return summarize(
        state, producer, jobs, sweeper, began, load_began, chaos_ended, quiet_at, ended
    )


def harness_log(path: Path) -> None:
    """The app's log lines from this process (the producer's saves) go to a file: the
    console is for the run's own progress and summary."""
    import logging

    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(levelname)s %(message)s"))
    for name in ("helpdesk_sms", "django", "celery", "kombu"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False


def run_database(url: str) -> str:
    """``url``, or the same server's ``chaos`` database when ``url`` names one that is not
    the run's to drop (a suite's ``test``): CI may export its DATABASE_URL to every step."""
    parts = urllib.parse.urlsplit(url)
    if parts.path.lstrip("/") not in PROTECTED_DATABASES:
        return url
    print(f"chaos: not touching database {parts.path.lstrip('/')!r}; using 'chaos' on that server")
    return parts._replace(path="/chaos").geturl()


def fresh_database(url: str) -> None:
    """Drop and create the run's database (never one of PROTECTED_DATABASES)."""
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or name in PROTECTED_DATABASES:
        raise SetupError(f"refusing to recreate database {name!r}: give DATABASE_URL a run's own")
    admin = parts._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise SetupError(f"PostgreSQL at {parts.hostname}:{parts.port}: {exc}") from exc


def child_environment(database_url: str, broker_url: str) -> dict[str, str]:
    """What every process of the run sees: the run's settings module, database, broker."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.chaos_settings",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "HELPDESK_SMS_DISPATCH": "celery",
            "HELPDESK_SMS_DEMO_HELPDESK": "0",
            "DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for key, value in ENGINE_SETTINGS.items():
        env.setdefault(f"HELPDESK_SMS_{key}", value)
    pythonpath = [str(ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(pythonpath))
    return env


def wait_ready(workers: list[Worker], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(w.ready() for w in workers):
            return
        for worker in workers:
            if not worker.child.alive():
                raise SetupError(
                    f"{worker.name} exited at start:\n{worker.child.log_since_start()[-3000:]}"
                )
        time.sleep(0.3)
    raise SetupError("the Celery workers were not ready in time")


class Sweeper(threading.Thread):
    """Publishes the periodic tasks, as beat would, at the run's short intervals."""

    def __init__(self, every: float) -> None:
        super().__init__(name="sweeper", daemon=True)
        self.every = every
        self.stopping = threading.Event()
        self.published = 0
        self.failures: Counter[str] = Counter()

    def run(self) -> None:
        from project.celery import app

        while not self.stopping.wait(self.every):
            for task in ("helpdesk_sms.dispatch", "helpdesk_sms.poll_reports"):
                try:
                    app.send_task(task, retry=False)
                    self.published += 1
                except Exception as exc:  # a frozen broker: the next round tries again
                    self.failures[type(exc).__name__] += 1

    def stop(self) -> None:
        self.stopping.set()


class Handlers:
    """What each planned action does to the system, journaled as it is done."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.workers = {w.name: w for w in run.workers}
        from django.conf import settings

        self.read_timeout = float(settings.HELPDESK_SMS.get("READ_TIMEOUT", 30.0))

    def table(self) -> dict[str, Any]:
        return {
            "kill": self.kill,
            "restart": self.restart,
            "pg_terminate": self.pg_terminate,
            "freeze": self.freeze,
            "thaw": self.thaw,
            "fault": self.fault,
            "fault_off": self.fault_off,
        }

    def _later(self, action: Action, seconds: float, name: str, **detail: Any) -> Action:
        chaos = self.run.chaos
        assert chaos is not None
        at = time.time() - chaos.started_at + seconds
        return Action(round(at, 3), action.order, name, action.target, detail)

    def kill(self, action: Action) -> Action | None:
        worker = self.workers[action.target]
        if not worker.child.alive():
            self.run.journal.record("note", action.target, skipped="kill: not running")
            return None
        pid = worker.child.pid
        worker.kill()
        self.run.journal.record("kill", action.target, pid=pid, signal="SIGKILL")
        return self._later(action, float(action.detail.get("restart_after", 1.0)), "restart")

    def restart(self, action: Action) -> None:
        worker = self.workers[action.target]
        if not worker.child.alive():
            worker.start()
            self.run.journal.record("restart", action.target, pid=worker.child.pid)

    def pg_terminate(self, action: Action) -> None:
        import psycopg

        url = self.run.database_url.replace("postgres://", "postgresql://", 1)
        name = urllib.parse.urlsplit(url).path.lstrip("/")
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            ).fetchone()
        self.run.journal.record("pg_terminate", "postgres", terminated=int(row[0] if row else 0))

    def freeze(self, action: Action) -> Action | None:
        if not self.run.broker.freeze():
            return None
        seconds = float(action.detail.get("seconds", 3.0))
        self.run.journal.record("freeze", "broker", seconds=seconds, signal="SIGSTOP")
        return self._later(action, seconds, "thaw")

    def thaw(self, action: Action) -> None:
        self.run.broker.thaw()
        self.run.journal.record("thaw", "broker", signal="SIGCONT")

    def fault(self, action: Action) -> Action:
        fault = str(action.detail["fault"])
        sim = self.run.sims[action.target]
        if fault == "refused":
            sim.stop()
        else:
            sim.set_faults(**{fault: self.value(fault)})
        self.run.journal.record("fault_on", action.target, fault=fault, value=self.value(fault))
        return self._later(action, float(action.detail["seconds"]), "fault_off", fault=fault)

    def fault_off(self, action: Action) -> None:
        fault = str(action.detail["fault"])
        sim = self.run.sims[action.target]
        if fault == "refused":
            start_again(sim, self.run.ports[action.target])
        else:
            sim.set_faults(**{fault: None})
        self.run.journal.record("fault_off", action.target, fault=fault)

    def value(self, fault: str) -> Any:
        """Latency and hang-ups last past the engine's read timeout: its request gives up."""
        if fault in ("latency", "read_timeout"):
            return round(self.read_timeout + 2.0, 2)
        return True


def start_again(sim: Any, port: int, tries: int = 50) -> None:
    """Listen on the same port again (the providers' base URL names it)."""
    for attempt in range(tries):
        try:
            sim.start(port=port)
            return
        except OSError:
            sim._server = None  # a half-bound server must not block the next try
            time.sleep(0.1 * (attempt + 1))
    raise RuntimeError(f"the {sim.name} simulator cannot listen on port {port} again")


def calm(run: Run, *, restart_workers: bool = True) -> None:
    """Everything healthy again: faults off, listeners up, broker thawed, workers running."""
    run.broker.thaw()
    for name, sim in run.sims.items():
        sim.clear_faults()
        if sim._server is None:
            start_again(sim, run.ports[name])
            run.journal.record("fault_off", name, fault="refused")
    for worker in run.workers:
        if restart_workers and not worker.child.alive():
            worker.start()
            run.journal.record("restart", worker.name, pid=worker.child.pid)
    for entry in list(run.journal.entries):
        if entry.kind == "fault_on":
            closed = any(
                e.kind == "fault_off" and e.target == entry.target and e.time >= entry.time
                for e in run.journal.entries
            )
            if not closed:
                run.journal.record("fault_off", entry.target, fault=entry.detail.get("fault"))


def status_counts() -> Counter[str]:
    """Messages per status, surviving a cut connection (asked again next time)."""
    from django.db import DatabaseError, connection
    from django.db.models import Count

    from helpdesk_sms.models import Message

    try:
        return Counter(
            {
                row["status"]: row["n"]
                for row in Message.objects.values("status").annotate(n=Count("pk"))
            }
        )
    except DatabaseError:
        connection.close()
        return Counter()


def progress(run: Run, producer: Any, since: float, every: float = 10.0) -> None:
    now = time.time()
    if now - getattr(progress, "last", 0.0) < every:
        return
    progress.last = now  # type: ignore[attr-defined]
    counts = status_counts()
    kills = run.journal.count("kill")
    faults = run.journal.count("fault_on")
    states = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    print(
        f"chaos: t={now - since:5.0f}s created={producer.created_messages} {states} "
        f"| kills={kills} faults={faults} pg_cuts={run.journal.count('pg_terminate')} "
        f"freezes={run.journal.count('freeze')}",
        flush=True,
    )


def wait_quiet(run: Run, timeout: float) -> float | None:
    """When no message had been queued, sending or scheduled for QUIET_FOR seconds."""
    deadline = time.time() + timeout
    quiet_since: float | None = None
    last_print = 0.0
    while time.time() < deadline:
        counts = status_counts()
        if not counts:
            time.sleep(1.0)
            continue
        pending = sum(counts[s] for s in PENDING)
        now = time.time()
        if pending == 0:
            quiet_since = quiet_since or now
            if now - quiet_since >= QUIET_FOR:
                return quiet_since
        else:
            quiet_since = None
        if now - last_print >= 10:
            last_print = now
            print(f"chaos: waiting: {', '.join(f'{s}={counts[s]}' for s in PENDING)}", flush=True)
        for worker in run.workers:  # the workers must keep running to finish the work
            if not worker.child.alive():
                worker.start()
        time.sleep(1.0)
    print(f"chaos: not quiet after {timeout:.0f}s; accounting what there is")
    return None


def settle_reports(run: Run, timeout: float) -> None:
    """Give delivery reports (polls, pushes) a moment to land: not needed for the truth,
    but it shows whether reports reach final states after the chaos."""
    deadline = time.time() + timeout
    last = None
    stable_since = time.time()
    while time.time() < deadline:
        accepted = status_counts().get("accepted", 0)
        if accepted != last:
            last, stable_since = accepted, time.time()
        elif time.time() - stable_since >= 6:
            return
        time.sleep(1.0)


def failover_summary() -> str:
    """How many messages moved to another provider, from the timelines' failover events."""
    from helpdesk_sms.models import MessageEvent

    hops = Counter(
        f"{data['failover']['from']} -> {data['failover']['to']}"
        for data in MessageEvent.objects.filter(data__has_key="failover").values_list(
            "data", flat=True
        )
    )
    if not hops:
        return "no message moved to another provider"
    return ", ".join(f"{hop} x{n}" for hop, n in sorted(hops.items()))


def engine_version() -> str:
    """The last commit that changed the app (the run's own commits are not the engine)."""
    try:
        commit = subprocess.run(
            ["git", "log", "-1", "--format=%h %s", "--", "helpdesk_sms"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "helpdesk_sms"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return commit + (" (+ uncommitted changes in helpdesk_sms/)" if dirty else "")


def summarize(
    run: Run,
    producer: Any,
    jobs: list[Any],
    sweeper: Sweeper,
    began: float,
    load_began: float,
    chaos_ended: float,
    quiet_at: float | None,
    ended: float,
) -> int:
    from django.conf import settings

    from .chaos_account import Timing, account, load_rows, reached_keys, render, ticket_events
    from .chaos_load import holdings

    sms = settings.HELPDESK_SMS
    timing = Timing(
        connect=float(sms.get("CONNECT_TIMEOUT", 5.0)),
        read=float(sms.get("READ_TIMEOUT", 30.0)),
        stale=float(sms.get("STALE_SENDING_AFTER", 600)),
        sweep_every=SWEEP_EVERY,
    )
    rows, fields = load_rows()
    held = holdings(run.sims)
    reached = {name: reached_keys(sim.state()["requests"]) for name, sim in run.sims.items()}
    windows = run.journal.windows(until=chaos_ended)
    report = account(rows, fields, held, reached, jobs, ticket_events(), windows, timing)

    created = [r.created_at for r in rows]
    submitted = [r.submitted_at for r in rows if r.submitted_at]
    sent_span = (max(submitted) - min(created)) if submitted and created else 0.0
    fault_kinds = Counter(
        str(e.detail.get("fault")) for e in run.journal.entries if e.kind == "fault_on"
    )
    kills = Counter(e.target for e in run.journal.entries if e.kind == "kill")
    not_created = [j for j in jobs if not j.created]
    creation_rate = producer.created_messages / max(1.0, producer.finished_at - producer.started_at)
    push = (
        f"webhook ({run.web_url}) for unified, sms1601; polling for canlog, atl, sms1601"
        if run.web_url
        else "no webhook: polling for canlog, atl, sms1601; unified stays accepted"
    )
    extra = [
        ("engine", engine_version()),
        ("seed / messages", f"{run.args.seed} / {run.args.messages} ({run.token})"),
        (
            "engine fields",
            ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in fields.items()),
        ),
        (
            "timings",
            ", ".join(
                f"{k}={v}"
                for k, v in sorted(sms.items())
                if k
                in (
                    "CONNECT_TIMEOUT",
                    "READ_TIMEOUT",
                    "CLAIM_LEASE",
                    "STALE_SENDING_AFTER",
                    "RETRY_BACKOFF",
                    "MAX_ATTEMPTS",
                    "CIRCUIT_COOLDOWN",
                )
            ),
        ),
        ("reports", push),
        (
            "sweep",
            f"harness loop publishing dispatch + poll_reports every {SWEEP_EVERY:.0f}s "
            f"({sweeper.published} published, {sum(sweeper.failures.values())} failed)",
        ),
        ("worker kills", ", ".join(f"{w} x{n}" for w, n in sorted(kills.items())) or "none"),
        ("gateway faults", ", ".join(f"{k} x{n}" for k, n in sorted(fault_kinds.items()))),
        ("failover", failover_summary()),
        ("pg terminations", str(run.journal.count("pg_terminate"))),
        (
            "broker freezes",
            str(run.journal.count("freeze"))
            + ("" if run.broker.can_freeze else " (no pid to freeze: skipped)"),
        ),
        (
            "producer",
            f"{producer.created_messages} messages created, "
            f"{sum(producer.errors.values())} failed calls retried "
            f"({dict(producer.errors)}), {len(not_created)} jobs not created",
        ),
        (
            "throughput",
            f"{len(submitted)} accepted in {sent_span:.0f}s = "
            f"{len(submitted) / sent_span if sent_span else 0:.1f} msg/s "
            f"(created at {creation_rate:.1f} msg/s)",
        ),
        (
            "quiescence",
            f"{quiet_at - chaos_ended:.0f}s after the chaos"
            if quiet_at
            else "NOT reached (timeout)",
        ),
        ("wall time", f"{ended - began:.0f}s (load+chaos {chaos_ended - load_began:.0f}s)"),
        ("journal", str((run.dir / "journal.jsonl").relative_to(ROOT))),
    ]
    for job in not_created[:5]:
        extra.append((f"job {job.index} not created", job.error or f"after {job.tries} tries"))
    if run.chaos and run.chaos.errors:
        extra.append(("chaos step errors", "; ".join(run.chaos.errors[:5])))
    if quiet_at is None:
        report.violations["stranded"].append("the run never became quiet")
    text = render(report, extra)
    print(text)
    (run.dir / "summary.txt").write_text(text + "\n")
    return 1 if report.total_violations else 0


if __name__ == "__main__":
    sys.exit(main())
