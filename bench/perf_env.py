"""The benchmarks' Django: a fresh database, the settings every process shares, fixtures.

Every process of a run (the measuring child, dispatch workers, gunicorn, the memory probe)
gets the same environment from :func:`django_env`: ``project.settings`` with the bench
database, ``DEBUG`` off (Django would otherwise keep every query in memory) and
``DISPATCH='none'`` (no Celery kick: the benchmarks dispatch themselves).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: The PostgreSQL database the benchmarks own: dropped and created afresh on every run.
#: Never the database DATABASE_URL names (that may be someone's test database).
PG_DB = os.environ.get("BENCH_PG_DB") or "bench"

CANLOG_KEY = "bench-canlog-key-0123456789"
UNIFIED_USER = "bench-unified"
UNIFIED_PASSWORD = "bench-unified-password-42"
CALLBACK_SECRET = "bench-callback-secret-0123456789abcdef"


def django_env(db_url: str) -> dict[str, str]:
    """The environment of every bench process talking to ``db_url``."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="project.settings",
        DATABASE_URL=db_url,
        DEBUG="0",
        HELPDESK_SMS_DISPATCH="none",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    )
    return env


def pg_url(database_url: str) -> str | None:
    """The bench database's URL on the server DATABASE_URL names, or None for non-PG."""
    if not database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return None
    import environ

    config = environ.Env.db_url_config(database_url)
    user = config.get("USER") or "postgres"
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    host = config.get("HOST") or "127.0.0.1"
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{PG_DB}"


def recreate_pg(db_url: str) -> None:
    """Drop and create the bench database, so every run starts from the migrations."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(db_url)
    name = config["NAME"]
    if name in ("test", "test_test", "postgres", "template0", "template1"):
        raise RuntimeError(f"refusing to drop the database {name!r}")
    with psycopg.connect(
        host=config.get("HOST") or "127.0.0.1",
        port=config.get("PORT") or 5432,
        user=config.get("USER") or "postgres",
        password=config.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(db_url: str, *, migrate: bool = False) -> None:
    """Configure Django in this process for ``db_url`` (and migrate a fresh database)."""
    os.environ.update(django_env(db_url))
    import django

    django.setup()
    import logging

    # One INFO line per outbox pass is noise in a benchmark's progress output.
    logging.getLogger("helpdesk_sms").setLevel(logging.WARNING)
    from helpdesk_sms import conf

    assert conf.get("DISPATCH") == "none", "benchmarks must not kick Celery"
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def db_version() -> str:
    """The database server (or library) version, for the machine line."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("select sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"


# -- tables ------------------------------------------------------------------------------


def exchange_model() -> Any:
    """The engine's GatewayExchange model where it exists (being added), else None."""
    from django.apps import apps

    try:
        return apps.get_model("helpdesk_sms", "GatewayExchange")
    except LookupError:
        return None


def log_models() -> list[Any]:
    """The tables a sent message writes to: messages, events and (if any) exchanges."""
    from helpdesk_sms.models import Message, MessageEvent

    return [m for m in (Message, MessageEvent, exchange_model()) if m is not None]


def empty_log() -> None:
    """Delete every message, event and exchange: each benchmark starts on empty tables.

    Events first (they point at messages and exchanges), then exchanges, then messages.
    """
    from django.db import connection

    from helpdesk_sms.models import Message, MessageEvent

    order = [MessageEvent, exchange_model(), Message]
    tables = [m._meta.db_table for m in order if m is not None]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
        else:
            for table in tables:
                cursor.execute(f'DELETE FROM "{table}"')  # noqa: S608 - our own table names


# -- fixtures ----------------------------------------------------------------------------


def canlog_provider(url: str, name: str = "Canlog bench", priority: int = 1) -> Any:
    """A Canlog provider on the simulator at ``url``, as tests/fixtures_simulators.py has."""
    from helpdesk_sms.models import Provider, SenderID

    provider = Provider.objects.filter(name=name).first()
    if provider is None:
        provider = Provider.objects.create(
            name=name,
            gateway="canlog",
            base_url=url,
            api_key=CANLOG_KEY,
            options={"channel": "Trans", "route": "15"},
            timezone="Asia/Kolkata",
            priority=priority,
        )
        provider.default_sender = SenderID.objects.create(provider=provider, value="HLPDSK")
        provider.save()
    elif provider.base_url != url:
        provider.base_url = url
        provider.save()
    return provider


def unified_provider() -> Any:
    """A Unified provider taking pushed reports at /sms/callback/<pk>/CALLBACK_SECRET/."""
    from helpdesk_sms.models import Provider, SenderID

    provider = Provider.objects.filter(name="Unified bench").first()
    if provider is None:
        provider = Provider.objects.create(
            name="Unified bench",
            gateway="unified",
            base_url="http://127.0.0.1:9",  # never called: reports are pushed to us
            username=UNIFIED_USER,
            password=UNIFIED_PASSWORD,
            callback_secrets=CALLBACK_SECRET,
            timezone="Asia/Kolkata",
            priority=50,
        )
        provider.default_sender = SenderID.objects.create(provider=provider, value="HELPDK")
        provider.save()
    return provider


def raw_session() -> Any:
    """The raw references' HTTP client: one keep-alive session, environment read never.

    ``trust_env=False`` skips the proxy/CA environment scan ``requests`` otherwise makes on
    every request (about 1 ms of CPU here): the cheapest honest client, which the adapter's
    own session also is (it reads the environment once).
    """
    import requests

    session = requests.Session()
    session.trust_env = False
    return session


def numbers(count: int, start: int = 0) -> list[str]:
    """``count`` distinct valid Indian mobile numbers in E.164."""
    return [f"+9198{start + i:08d}" for i in range(count)]


# -- the gateway simulator in a process of its own -----------------------------------------


class SimProcess:
    """A gateway simulator in its own process: its CPU is not charged to the dispatcher,
    and it does not take the GIL from the code being measured."""

    def __init__(self, name: str, **options: Any) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.perf_sim", name, json.dumps(options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"the {name} simulator did not start: {line!r}")
        self.url = line

    def stop(self) -> None:
        """Closing its stdin stops it; killed if it does not go within 5 s."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
