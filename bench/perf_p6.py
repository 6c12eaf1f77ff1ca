"""P6: what routing adds to sending, beside the dispatch it decides for.

Issue 12 asks that the routing decision cost under 5% of dispatch time. A: every decision
routing makes for ``count`` messages, measured alone: the route table read (one query, as a
send does), each number's route (longest prefix, else country, else default) and its weighted
first provider, and the outbox's per-pass routing state (the failover planner, every
provider's circuit, the budget caps with their spend). The table
holds a realistic operator's worth of routes: a country route for every region phonenumbers
knows and a few hundred operator prefixes, three weighted providers each. B: ``outbox.dispatch()``
of the same number of messages (distinct texts, one Canlog request each) against the
simulator, as P2 measures it. The ratio A/B is the share of dispatch time routing costs.
"""

from __future__ import annotations

import random
from typing import Any

from .perf_common import REPS, Row, interleave, log, scaled, timed
from .perf_env import canlog_provider, empty_log, numbers
from .perf_p2 import _dispatch_checked, queue_distinct

#: Operator prefixes per country route of the busiest countries (e.g. +234803 for MTN).
PREFIXES_PER_BUSY_COUNTRY = 60
BUSY = ("IN", "NG", "AZ", "NL", "GB")


def _route_table(provider: Any) -> None:
    """Routes for every region and a few hundred prefixes, each with three providers (the
    bench's Canlog provider and two more), written in bulk; untimed set-up."""
    import phonenumbers

    from helpdesk_sms.models import Provider, Route, RouteHop

    if Route.objects.exists():
        return
    others = [
        Provider.objects.create(name=f"Bench route {i}", gateway="memory", priority=90 + i)
        for i in (1, 2)
    ]
    routes = [Route(name=f"country {r}", country=r) for r in sorted(phonenumbers.SUPPORTED_REGIONS)]
    for region in BUSY:
        code = phonenumbers.country_code_for_region(region)
        routes += [
            Route(name=f"prefix {region} {n}", prefix=f"+{code}{700 + n}")
            for n in range(PREFIXES_PER_BUSY_COUNTRY)
        ]
    routes.append(Route(name="default"))
    Route.objects.bulk_create(routes)
    hops = []
    for route in Route.objects.all():
        hops.append(RouteHop(route=route, provider=provider, position=1, weight=3))
        hops.append(RouteHop(route=route, provider=others[0], position=1, weight=1))
        hops.append(RouteHop(route=route, provider=others[1], position=2))
    RouteHop.objects.bulk_create(hops)


def _decide(targets: list[str]) -> int:
    """Every routing decision for ``targets``: the table read, then each number's choice."""
    from helpdesk_sms.budget import BudgetBoard
    from helpdesk_sms.failover import Failover
    from helpdesk_sms.health import CircuitBoard
    from helpdesk_sms.routing import RouteTable

    rng = random.Random(6)
    table = RouteTable.load()
    Failover(table, CircuitBoard.load())
    BudgetBoard.load()
    routed = 0
    for number in targets:
        choice = table.route_for(number)
        if choice is not None:
            choice.first(rng)
            routed += 1
    return routed


def run(sim_url: str) -> list[Row]:
    """One row: routing's time for ``count`` messages against their dispatch's."""
    from helpdesk_sms.models import Route

    provider = canlog_provider(sim_url)
    count = scaled(2000, floor=100)
    offset = [10_000_000]
    _route_table(provider)
    routes = Route.objects.count()

    def routing(rep: int) -> dict[str, float]:
        offset[0] += count
        targets = numbers(count, offset[0])
        with timed() as clock:
            routed = _decide(targets)
        if routed != count:
            raise RuntimeError(f"only {routed} of {count} numbers found a route")
        return {"wall": clock.wall}

    def dispatching(rep: int) -> dict[str, float]:
        empty_log()
        offset[0] += count
        queue_distinct(provider, count, offset[0])
        wall, _cpu = _dispatch_checked(count)
        return {"wall": wall}

    log(f"P6: routing decisions for {count} messages ({routes} routes) vs their dispatch")
    runs_a, runs_b = interleave(REPS, routing, dispatching)
    return [
        Row(
            "P6",
            f"routing {count:,} messages vs dispatching them, wall",
            "s",
            "cost",
            a_label=f"route table, circuits and caps read + each number's route and weighted "
            f"pick ({routes} routes)",
            b_label="outbox.dispatch() of the same count (P2's distinct texts)",
            a=[r["wall"] for r in runs_a],
            b=[r["wall"] for r in runs_b],
            target="<= 0.05x dispatch",
            limit=0.05,
            note="issue 12: routing under 5% of dispatch time",
        )
    ]
