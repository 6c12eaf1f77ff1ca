"""P1: what the app adds to a host's ticket saves (create, then assign).

The demo's Ticket is watched by HELPDESK_SMS['MODEL_WATCHER'], so each create texts the
customer and each assignment the agent, from the default templates the migrations ship.
The reference is the same saves with the watcher disconnected: the host without SMS.
Nothing is sent (DISPATCH='none'): this is the cost on the host's request path.
"""

from __future__ import annotations

from typing import Any

from .perf_common import REPS, Row, interleave, log, scaled, timed
from .perf_env import canlog_provider


def _agent() -> Any:
    from django.contrib.auth import get_user_model

    from helpdesk_sms.models import AgentProfile

    user, _ = get_user_model().objects.get_or_create(
        username="bench-agent", defaults={"first_name": "Asha", "last_name": "Rao"}
    )
    AgentProfile.objects.get_or_create(user=user, defaults={"phone": "+919812345670"})
    return user


def _create_and_assign(count: int, agent: Any, offset: int) -> None:
    """What a helpdesk view does: a new ticket (autocommit), then its assignment."""
    from project.demo.models import Ticket

    for i in range(count):
        ticket = Ticket.objects.create(
            title=f"Printer on floor {offset + i} is out of toner",
            description="It blinks orange.",
            customer_name="Ravi Kumar",
            # A customer of its own: a number's fourth ticket in an hour is not texted.
            customer_phone=f"+9198{(offset + i) % 10**8:08}",
        )
        ticket.assigned_to = agent
        ticket.save()


def run(sim_url: str) -> list[Row]:
    """Rows: CPU and wall per ticket with and without the app; queries it adds."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from helpdesk_sms.integrations import model_watcher
    from helpdesk_sms.models import Message, NotificationTemplate

    watcher = model_watcher.active
    if watcher is None:
        raise RuntimeError("MODEL_WATCHER is not connected: project.settings should watch Ticket")
    canlog_provider(sim_url)
    agent = _agent()
    # One agent takes every ticket of the run, hundreds an hour: the hourly limit per number
    # (3 by default) would suppress all but three of its texts, measuring another path.
    NotificationTemplate.objects.filter(audience="assignee").update(hourly_limit_per_number=0)
    count = scaled(100)
    offset = [0]

    def with_app(rep: int) -> dict[str, float]:
        offset[0] += count
        with timed() as clock:
            _create_and_assign(count, agent, offset[0])
        return {"cpu": clock.cpu / count * 1000, "wall": clock.wall / count * 1000}

    def without_app(rep: int) -> dict[str, float]:
        offset[0] += count
        watcher.disconnect()
        try:
            with timed() as clock:
                _create_and_assign(count, agent, offset[0])
        finally:
            watcher.connect()
        return {"cpu": clock.cpu / count * 1000, "wall": clock.wall / count * 1000}

    log(f"P1: {REPS} x {count} tickets created and assigned, with and without the app")
    before = Message.objects.count()
    with_app(-1), without_app(-1)  # warm-up: caches, first-query costs
    runs_a, runs_b = interleave(REPS, with_app, without_app)
    made = Message.objects.count() - before
    expected = 2 * count * (REPS + 1)
    note = f"{count} tickets per rep; {made} messages queued (expected {expected})"

    probe = 5
    with CaptureQueriesContext(connection) as with_queries:
        _create_and_assign(probe, agent, 10**6)
    watcher.disconnect()
    try:
        with CaptureQueriesContext(connection) as without_queries:
            _create_and_assign(probe, agent, 2 * 10**6)
    finally:
        watcher.connect()
    rows = [
        Row(
            "P1",
            "ticket create+assign, CPU per ticket",
            "ms",
            "cost",
            a_label="with the app's SMS (model watcher connected)",
            b_label="watcher disconnected",
            a=[r["cpu"] for r in runs_a],
            b=[r["cpu"] for r in runs_b],
            target="<= 2x",
            limit=2.0,
            note=note
            + (
                ". SQLite runs in this process, so its CPU is counted here"
                if connection.vendor == "sqlite"
                else ""
            ),
        ),
        Row(
            "P1",
            "ticket create+assign, wall per ticket",
            "ms",
            "cost",
            a_label="with the app's SMS",
            b_label="watcher disconnected",
            a=[r["wall"] for r in runs_a],
            b=[r["wall"] for r in runs_b],
        ),
        Row(
            "P1",
            "queries per ticket create+assign",
            "queries",
            "cost",
            a_label="with the app's SMS",
            b_label="watcher disconnected",
            a=[len(with_queries.captured_queries) / probe],
            b=[len(without_queries.captured_queries) / probe],
            note=f"the app adds {(len(with_queries) - len(without_queries)) / probe:.1f} "
            "queries per ticket (create + assign)",
        ),
    ]
    return rows
