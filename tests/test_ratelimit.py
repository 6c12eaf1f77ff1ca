"""A provider's messages per second and per minute, counted across every worker process.

In the database by default, in Redis when configured (the real one at 127.0.0.1:6379: these
tests skip without it, and fail on CI), and in the database again while Redis is down.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from helpdesk_sms import ratelimit
from helpdesk_sms.models import Provider, RateWindow
from helpdesk_sms.ratelimit import Grant, acquire

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("HELPDESK_SMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
#: Nothing listens there: a Redis that is down.
DOWN_URL = "redis://127.0.0.1:1/0"

#: Half past twelve and a quarter second: mid-second, mid-minute.
NOW = datetime(2026, 12, 3, 12, 0, 30, 250000, tzinfo=UTC)
NEXT_SECOND = datetime(2026, 12, 3, 12, 0, 31, tzinfo=UTC)
NEXT_MINUTE = datetime(2026, 12, 3, 12, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_limiter():
    """Each test starts with no Redis client and no record of the last prune."""
    ratelimit._redis.clear()
    ratelimit._pruned_minute = None
    yield
    ratelimit._redis.clear()


def limited(provider: Provider, per_second: int | None, per_minute: int | None) -> Provider:
    provider.rate_per_second = per_second
    provider.rate_per_minute = per_minute
    provider.save()
    return provider


def redis_unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the Redis rate-limit tests: {why}")
    pytest.skip(why)


@pytest.fixture
def redis_client():
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except RedisError as exc:
        redis_unavailable(f"no Redis at {REDIS_URL}: {exc}")
    yield client
    client.close()


@pytest.fixture
def redis_limits(redis_client, settings):
    """The limiter counting in the real Redis, under keys of this test's own."""
    prefix = f"hsms-test:{uuid.uuid4().hex}:"
    settings.HELPDESK_SMS = {
        **settings.HELPDESK_SMS,
        "RATE_LIMIT_REDIS_URL": REDIS_URL,
        "RATE_LIMIT_REDIS_PREFIX": prefix,
    }
    yield prefix
    for key in redis_client.scan_iter(f"{prefix}*"):
        redis_client.delete(key)


# -- the rule, counted in the database ---------------------------------------------------


def test_a_request_within_the_rate_is_granted_whole(memory_provider):
    provider = limited(memory_provider, 5, None)

    assert acquire(provider, 3, now=NOW) == Grant(granted=3, retry_at=None)


def test_beyond_the_rate_per_second_the_rest_waits_for_the_next_second(memory_provider):
    provider = limited(memory_provider, 5, None)
    acquire(provider, 4, now=NOW)

    assert acquire(provider, 4, now=NOW) == Grant(granted=1, retry_at=NEXT_SECOND)


def test_a_full_second_grants_nothing_until_it_ends(memory_provider):
    provider = limited(memory_provider, 5, None)
    acquire(provider, 5, now=NOW)

    assert acquire(provider, 1, now=NOW + timedelta(milliseconds=700)) == Grant(0, NEXT_SECOND)
    assert acquire(provider, 5, now=NEXT_SECOND) == Grant(5, None)


def test_the_minute_window_holds_across_seconds(memory_provider):
    provider = limited(memory_provider, 5, 12)

    grants = [acquire(provider, 5, now=NOW + timedelta(seconds=n)) for n in range(3)]

    assert grants == [Grant(5, None), Grant(5, None), Grant(2, NEXT_MINUTE)]
    assert acquire(provider, 5, now=NEXT_MINUTE) == Grant(5, None)


def test_a_rate_per_minute_alone_limits_the_minute(memory_provider):
    provider = limited(memory_provider, None, 3)

    assert acquire(provider, 10, now=NOW) == Grant(3, NEXT_MINUTE)


def test_a_grant_refused_by_the_minute_does_not_use_up_the_second(memory_provider):
    provider = limited(memory_provider, 5, 6)
    acquire(provider, 5, now=NOW - timedelta(seconds=10))

    assert acquire(provider, 5, now=NOW) == Grant(1, NEXT_MINUTE)
    assert RateWindow.objects.get(scope="second", window_start=int(NOW.timestamp())).count == 1


def test_a_provider_without_limits_is_granted_everything_without_a_query(
    memory_provider, django_assert_num_queries
):
    with django_assert_num_queries(0):
        grant = acquire(memory_provider, 1000, now=NOW)

    assert grant == Grant(1000, None)


def test_each_provider_has_its_own_rate(memory_provider):
    provider = limited(memory_provider, 2, None)
    other = limited(Provider.objects.create(name="Other", gateway="memory"), 2, None)
    acquire(provider, 2, now=NOW)

    assert acquire(other, 2, now=NOW) == Grant(2, None)


def test_windows_older_than_two_minutes_are_deleted(memory_provider):
    provider = limited(memory_provider, 5, 100)
    acquire(provider, 1, now=NOW)

    later = NOW + timedelta(minutes=3)
    acquire(provider, 1, now=later)

    epoch = int(later.timestamp())
    assert sorted(RateWindow.objects.values_list("scope", "window_start")) == [
        ("minute", epoch - epoch % 60),
        ("second", epoch),
    ]


def test_rates_below_one_are_refused_by_the_provider_form(memory_provider):
    from django.core.exceptions import ValidationError

    provider = limited(memory_provider, None, None)
    provider.rate_per_second = 0
    provider.rate_per_minute = 0

    with pytest.raises(ValidationError) as error:
        provider.full_clean()

    assert set(error.value.message_dict) >= {"rate_per_second", "rate_per_minute"}


# -- Redis ---------------------------------------------------------------------------------


def test_with_redis_a_request_beyond_the_rate_is_granted_in_part(memory_provider, redis_limits):
    provider = limited(memory_provider, 5, 100)
    acquire(provider, 4, now=NOW)

    assert acquire(provider, 4, now=NOW) == Grant(1, NEXT_SECOND)
    assert not RateWindow.objects.exists()  # counted in Redis


def test_with_redis_the_minute_window_holds_across_seconds(memory_provider, redis_limits):
    provider = limited(memory_provider, 5, 12)

    grants = [acquire(provider, 5, now=NOW + timedelta(seconds=n)) for n in range(3)]

    assert grants == [Grant(5, None), Grant(5, None), Grant(2, NEXT_MINUTE)]


def test_with_redis_the_windows_expire_soon_after_they_end(
    memory_provider, redis_limits, redis_client
):
    provider = limited(memory_provider, 5, 100)
    acquire(provider, 1, now=NOW)

    ttls = {
        key.decode().rsplit(":", 2)[1]: redis_client.ttl(key)
        for key in redis_client.scan_iter(f"{redis_limits}*")
    }
    assert set(ttls) == {"second", "minute"}
    assert 0 < ttls["second"] <= 3 and 60 < ttls["minute"] <= 121


def test_when_redis_is_down_the_database_counts_and_one_warning_is_logged(
    memory_provider, settings, caplog
):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "RATE_LIMIT_REDIS_URL": DOWN_URL}
    provider = limited(memory_provider, 5, None)

    with caplog.at_level(logging.WARNING, logger="helpdesk_sms"):
        grants = [acquire(provider, 2, now=NOW) for _ in range(3)]

    assert grants == [Grant(2, None), Grant(2, None), Grant(1, NEXT_SECOND)]
    assert RateWindow.objects.get(scope="second").count == 5
    warnings = [r.getMessage() for r in caplog.records if "Redis" in r.getMessage()]
    assert len(warnings) == 1
    assert "redis://127.0.0.1:1/0" in warnings[0] and "counting in the database" in warnings[0]


# -- two processes ---------------------------------------------------------------------------

#: Each process asks for one message at a time, ASKS times, at the same instant (NOW), after
#: waiting for the other to be ready: together they ask for twice the rate.
RATE = 40
ASKS = 60
WORKER = """
import os, time
from datetime import datetime
from pathlib import Path
from django.conf import settings
from helpdesk_sms.models import Provider
from helpdesk_sms.ratelimit import acquire

redis_url, prefix, now, barrier = os.environ["RATE_TEST_ARGS"].split("|")
if redis_url != "-":
    settings.HELPDESK_SMS = {{
        **settings.HELPDESK_SMS, "RATE_LIMIT_REDIS_URL": redis_url,
        "RATE_LIMIT_REDIS_PREFIX": prefix,
    }}
provider = Provider.objects.get(pk={pk})
now = datetime.fromisoformat(now)
Path(barrier, str(os.getpid())).touch()
while len(list(Path(barrier).iterdir())) < 2:
    time.sleep(0.01)
print("granted", sum(acquire(provider, 1, now=now).granted for _ in range({asks})))
"""


def manage(url: str, *args: str) -> str:
    """Run a management command on the database at ``url``; its output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def database_url(tmp_path: Path) -> str:
    """A database both processes reach: a migrated SQLite file, or the PostgreSQL test db."""
    if connection.vendor == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        manage(url, "migrate", "-v", "0")
        return url
    from tests.celery_worker import database_url as postgres_url

    return postgres_url()


def provider_in(url: str) -> int:
    """A provider limited to RATE a second, in the processes' database; its pk."""
    if connection.vendor != "sqlite":
        return limited(Provider.objects.create(name="Limited", gateway="memory"), RATE, None).pk
    made = manage(
        url,
        "shell",
        "-c",
        "from helpdesk_sms.models import Provider; print(Provider.objects.create("
        f"name='Limited', gateway='memory', rate_per_second={RATE}).pk)",
    )
    return int(made.split()[-1])


def run_two(tmp_path: Path, redis_url: str = "-", prefix: str = "-") -> list[int]:
    url = database_url(tmp_path)
    pk = provider_in(url)
    barrier = tmp_path / "ready"
    barrier.mkdir()
    script = WORKER.format(pk=pk, asks=ASKS)
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                script,
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": url,
                "RATE_TEST_ARGS": "|".join([redis_url, prefix, NOW.isoformat(), str(barrier)]),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], [err for _, err in outputs]
    return [int(out.split("granted")[-1]) for out, _ in outputs]


@pytest.mark.django_db(transaction=True)
def test_two_processes_together_never_exceed_the_rate_counted_in_the_database(tmp_path):
    granted = run_two(tmp_path)

    assert sum(granted) == RATE  # each asked for more than the rate: all of it, never more


@pytest.mark.django_db(transaction=True)
def test_two_processes_together_never_exceed_the_rate_counted_in_redis(tmp_path, redis_limits):
    granted = run_two(tmp_path, REDIS_URL, redis_limits)

    assert sum(granted) == RATE


# -- the admin -------------------------------------------------------------------------------


def test_the_provider_page_sets_the_rates(admin_client, memory_provider):
    response = admin_client.get(f"/admin/helpdesk_sms/provider/{memory_provider.pk}/change/")

    page = response.content.decode()
    assert "Rate limits" in page
    assert 'name="rate_per_second"' in page and 'name="rate_per_minute"' in page
