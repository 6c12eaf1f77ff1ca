"""The chaos run's own processes: Redis, Celery workers, the callback web server.

Every process the run starts is registered here by its pid and ended by that pid on
exit (also on Ctrl-C), in its own session so a terminal's Ctrl-C reaches only the
harness, which then cleans up in order. Nothing here ever signals a process it did not
start: a broker given by URL is frozen only when its pid is named explicitly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """True once something accepts connections on ``port`` (False on timeout or death)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        time.sleep(0.1)
    return False


class Child:
    """One subprocess of the run, with its log file; restartable (a killed worker)."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log: Path,
        closed: threading.Event | None = None,
    ) -> None:
        self.name = name
        #: Set when the run is ending: no (re)start after that, whatever thread asks.
        self.closed = closed or threading.Event()
        self.command = command
        self.env = env
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    def start(self) -> None:
        """Start (again); the log is appended to, so every life of a worker is kept."""
        if self.closed.is_set():
            raise RuntimeError(f"the run is ending: {self.name} is not started again")
        self._close_log()
        self._log = self.log_path.open("ab")
        self._log_offset = self.log_path.stat().st_size
        self._log.write(f"\n=== chaos: start #{self.starts + 1} at {time.time():.3f}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.starts += 1

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_since_start(self) -> str:
        """What this life of the process has logged so far."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(self._log_offset)
                return handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL, by pid: what a crash or the OOM killer does to a worker."""
        if self.alive():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; a stopped process is resumed first."""
        if self.alive():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGCONT)
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class Processes:
    """The registry of everything the run started, ended in reverse order on exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []
        self.cleanups: list[Callable[[], Any]] = []
        self._lock = threading.Lock()
        self.closed = threading.Event()

    def child(self, name: str, command: list[str], env: dict[str, str]) -> Child:
        child = Child(name, command, env, self.log_dir / f"{name}.log", self.closed)
        with self._lock:
            self.children.append(child)
        return child

    def on_close(self, cleanup: Callable[[], Any]) -> None:
        """Run ``cleanup`` when the run ends (simulators, threads)."""
        with self._lock:
            self.cleanups.append(cleanup)

    def close(self) -> None:
        """End every child (resumed first if frozen) and run the cleanups; safe to call twice."""
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()  # from now on no thread can start a child
            children = list(reversed(self.children))
            cleanups = list(reversed(self.cleanups))
        for cleanup in cleanups:
            try:
                cleanup()
            except Exception as exc:  # cleanup goes on whatever one step says
                print(f"chaos: cleanup step failed: {exc}", file=sys.stderr)
        for _ in range(2):  # twice: a start that raced the flag is caught the second time
            for child in children:
                try:
                    child.stop(grace=5.0)
                except Exception as exc:
                    print(f"chaos: could not stop {child.name}: {exc}", file=sys.stderr)


class Broker:
    """The Redis the workers use: our own on a free port, or the one CHAOS_REDIS_URL names.

    Freezing (SIGSTOP) needs a pid: our own server's, or CHAOS_REDIS_PID for a given URL.
    Port 6379 (the machine's shared Redis) is never frozen.
    """

    def __init__(self, processes: Processes, url: str | None, pid: int | None = None) -> None:
        self.processes = processes
        self.url = url or ""
        self.own: Child | None = None
        self.pid = pid
        self.frozen = False

    def start(self) -> str:
        if self.url:
            if self.pid is not None and _port_of(self.url) == 6379:
                print("chaos: never freezing a Redis on port 6379", file=sys.stderr)
                self.pid = None
            return self.url
        port = free_port()
        command = [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        self.own = self.processes.child("redis", command, dict(os.environ))
        self.own.start()
        if not wait_port(port, 15, self.own.alive):
            raise RuntimeError(f"redis-server did not start:\n{self.own.log_since_start()}")
        self.pid = self.own.pid
        self.url = f"redis://127.0.0.1:{port}/0"
        self.processes.on_close(self.thaw)
        return self.url

    @property
    def can_freeze(self) -> bool:
        return self.pid is not None

    def freeze(self) -> bool:
        if self.pid is None:
            return False
        os.kill(self.pid, signal.SIGSTOP)
        self.frozen = True
        return True

    def thaw(self) -> None:
        if self.pid is not None and self.frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGCONT)
            self.frozen = False


def _port_of(url: str) -> int | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).port or 6379
    except ValueError:
        return None


class Worker:
    """One ``celery -A project worker`` (solo pool, like tests/celery_worker.py)."""

    def __init__(self, processes: Processes, index: int, env: dict[str, str]) -> None:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "project",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--hostname",
            f"chaos-w{index}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        self.name = f"worker{index}"
        self.child = processes.child(self.name, command, env)
        self.kills = 0
        self.down_since: float | None = None

    def start(self) -> None:
        self.child.start()
        self.down_since = None

    def ready(self) -> bool:
        return self.child.alive() and "ready." in self.child.log_since_start()

    def kill(self) -> None:
        self.child.kill()
        self.kills += 1
        self.down_since = time.time()


class WebServer:
    """``manage.py runserver`` for the gateways' delivery-report pushes."""

    def __init__(self, processes: Processes, env: dict[str, str]) -> None:
        self.port = free_port()
        command = [
            sys.executable,
            "manage.py",
            "runserver",
            "--noreload",
            "--skip-checks",
            f"127.0.0.1:{self.port}",
        ]
        self.child = processes.child("web", command, env)

    def start(self, timeout: float = 30) -> str:
        self.child.start()
        if not wait_port(self.port, timeout, self.child.alive):
            raise RuntimeError(f"the web server did not start:\n{self.child.log_since_start()}")
        return f"http://127.0.0.1:{self.port}"
