"""P5: the operator's dashboard over a million messages, beside the message list.

A million messages (BENCH_SCALE scales it) spread over 35 days, three providers, seven
countries and every state, are written by one set-based ``INSERT … SELECT`` (PostgreSQL's
``generate_series``, SQLite's recursive CTE), then the statistics are refreshed. Each period's
dashboard page is then fetched through Django's test client by a logged-in superuser,
interleaved with the reference: the message list's first page (its count, its filters,
its date drill-down), the page every operator already opens. A plain ``SELECT count(*)``
over the table is shown too, as the floor of reading every row.
"""

from __future__ import annotations

from .perf_common import REPS, Row, interleave, log, scaled, timed
from .perf_env import canlog_provider, empty_log

#: The period the generated messages span, in seconds (past the 30-day period).
SPAN = 35 * 86400

#: One status per residue of the row number modulo 20: mostly delivered, as in life.
STATUSES = ["delivered"] * 13 + [
    "accepted",
    "undelivered",
    "failed",
    "expired",
    "unknown",
    "queued",
    "suppressed",
]
COUNTRIES = [("IN", "+9198"), ("NG", "+23480"), ("NL", "+316"), ("NP", "+97798"),
             ("GH", "+23324"), ("BE", "+324"), ("DE", "+4915")]  # fmt: skip


def _case(expression: str, values: list[str]) -> str:
    """SQL choosing ``values[expression]`` (expression an integer from 0)."""
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"CASE {expression} {whens} END"


def insert_messages(count: int, providers: list[int]) -> None:
    """``count`` messages in one statement; row i is created i * SPAN / count seconds ago."""
    from django.db import connection

    from helpdesk_sms.models import Message

    table = Message._meta.db_table
    status = _case("i % 20", STATUSES)
    country = _case("i % 7", [c for c, _ in COUNTRIES])
    prefix = _case("i % 7", [p for _, p in COUNTRIES])
    provider = f"CASE i % 3 WHEN 0 THEN {providers[0]} WHEN 1 THEN {providers[1]} " \
        f"ELSE {providers[2]} END"  # fmt: skip
    category = f"CASE WHEN i % 20 IN (14, 15, 16) THEN {_case('i % 4', ['blocked', 'unreachable', 'invalid_recipient', 'expired'])} ELSE '' END"  # noqa: E501
    text = "CASE WHEN i % 20 IN (14, 15, 16) THEN 'gateway error ' || (i % 37) ELSE '' END"
    billed = "i % 20 IN (0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,16)"
    if connection.vendor == "postgresql":
        created = f"now() - (i * {SPAN}.0 / {count}) * interval '1 second'"
        source = f"generate_series(1, {count}) AS s(i)"
        digits = "lpad((i % 100000000)::text, 8, '0')"
        prologue = ""
    else:
        created = (
            f"strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (i * {SPAN}.0 / {count}) || ' seconds')"
        )
        source = "seq"
        digits = "substr('00000000' || (i % 100000000), -8, 8)"
        prologue = f"WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {count}) "  # noqa: E501, S608
    sql = f"""
        INSERT INTO {table} (recipient, country, body, encoding, parts, estimated_cost, cost,
            currency, provider_id, sender, flash, gateway_options, is_test, status,
            status_changed_at, provider_message_id, provider_job_id, error_category,
            error_code, error_text, attempts, claim_token, created_at, updated_at, event,
            audience, registered_template_id, ticket_id, providers_tried, priority,
            held_reason, quiet_hours, registered_entity_id)
        {prologue}
        SELECT {prefix} || {digits}, {country}, 'Your ticket was updated', 'gsm7', 1, 0.18,
            CASE WHEN {billed} THEN 0.18 ELSE NULL END, 'INR', {provider}, 'HLPDSK', false,
            '{{}}', false, {status}, {created}, '', '', {category}, '', {text}, 1, '',
            {created}, {created}, 'manual', '', '', '', '[]', 'normal', '', false, ''
        FROM {source}
    """  # noqa: S608 - our own table and constants
    with connection.cursor() as cursor:
        cursor.execute(sql)
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")


def _providers(sim_url: str) -> list[int]:
    from helpdesk_sms.models import Provider

    first = canlog_provider(sim_url)
    others = [
        Provider.objects.get_or_create(name=name, defaults={"gateway": "memory", "priority": 90})[0]
        for name in ("Dashboard bench B", "Dashboard bench C")
    ]
    return [first.pk] + [p.pk for p in others]


def run(sim_url: str) -> list[Row]:
    """Per period: the dashboard page against the message list page; then count(*)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    count = scaled(1_000_000, floor=1000)
    empty_log()
    providers = _providers(sim_url)
    log(f"P5: inserting {count:,} messages")
    with timed() as insert_clock:
        insert_messages(count, providers)
    log(f"P5: inserted in {insert_clock.wall:.1f} s")
    user, _ = get_user_model().objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    def fetch(path: str) -> dict[str, float]:
        with timed() as clock:
            response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        return {"wall": clock.wall, "cpu": clock.cpu}

    reference = "/admin/helpdesk_sms/message/"
    rows = []
    for period in ("24h", "7d", "30d"):
        page = f"/admin/helpdesk_sms/dashboard/?period={period}"
        fetch(page), fetch(reference)  # warm-up: caches, first-query costs
        log(f"P5: {page} vs {reference}, {REPS} pairs")
        runs_a, runs_b = interleave(
            REPS, lambda rep, page=page: fetch(page), lambda rep: fetch(reference)
        )
        rows.append(
            Row(
                "P5",
                f"dashboard, {period}, {count:,} messages, wall",
                "s",
                "cost",
                a_label=f"GET {page} (superuser, Django test client)",
                b_label=f"GET {reference}: the message list's first page",
                a=[r["wall"] for r in runs_a],
                b=[r["wall"] for r in runs_b],
                note=f"{count:,} messages over 35 days, inserted in {insert_clock.wall:.0f} s",
            )
        )

    def count_all(rep: int) -> dict[str, float]:
        with timed() as clock, connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM helpdesk_sms_message")
            cursor.fetchone()
        return {"wall": clock.wall}

    counts = [count_all(rep)["wall"] for rep in range(REPS)]
    rows.append(
        Row(
            "P5",
            f"SELECT count(*) over {count:,} messages, wall",
            "s",
            "value",
            a_label="one raw count of the table: the floor of reading every row",
            a=counts,
        )
    )
    empty_log()
    return rows
