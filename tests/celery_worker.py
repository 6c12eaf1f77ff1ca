"""A real Celery worker in a subprocess, sharing the test database and a real broker.

Used by the ``celery_worker`` tests, which .ci/run runs on PostgreSQL with Redis and again
with RabbitMQ. Where a service is missing they skip locally and fail on CI (``CI`` set):
on CI they must run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def require(condition: bool, why: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the Celery worker tests: {why}")
    pytest.skip(why)


def broker_reachable(url: str) -> bool:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


def database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    return (
        f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


class Worker:
    """A ``celery worker`` process (optionally with beat) against the test database."""

    def __init__(self, log_path: Path, *, beat: bool = False) -> None:
        self.log_path = log_path
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
            "--without-gossip",
            "--without-mingle",
        ]
        if beat:
            command += ["--beat", "--schedule", str(log_path.with_suffix(".beat"))]
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        }
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 30) -> None:
        wait_for(lambda: "ready." in self.log_path.read_text(), timeout, self)

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def wait_for(condition: Callable[[], bool], timeout: float, worker: Worker | None = None) -> None:
    """Poll ``condition`` until true; fail with the worker's log after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if worker is not None and worker.process.poll() is not None:
            pytest.fail(f"the Celery worker exited:\n{worker.log()[-3000:]}")
        time.sleep(0.2)
    tail = worker.log()[-3000:] if worker else ""
    pytest.fail(f"condition not met within {timeout}s\n{tail}")
