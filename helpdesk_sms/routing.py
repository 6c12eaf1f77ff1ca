"""Which providers carry a number: the route table, read once per send, and the choice.

A :class:`RouteTable` is the active routes and their active providers, read in one query;
:meth:`RouteTable.route_for` then picks a number's route with dictionary look-ups only (the
most specific matching prefix, else the number's country, else the default route), so a send
to 100,000 numbers costs one query, not 100,000. No matching route (or no routes at all)
means today's behaviour: the preferred provider by priority, decided by the caller.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from django.db.models import F

from .models import Provider, SenderID
from .phones import country_of


class RandomSource(Protocol):
    """What weighted choice needs: ``random.Random`` or a seeded one in tests."""

    def random(self) -> float: ...


@dataclass(frozen=True)
class Hop:
    """One provider of a route as the choice sees it."""

    provider: Provider
    position: int
    weight: int
    sender: SenderID | None


@dataclass(frozen=True)
class RouteChoice:
    """A route and its providers in order (the weighted first choice applied later)."""

    pk: int
    name: str
    hops: tuple[Hop, ...]

    def ordered(self, rng: RandomSource | None = None) -> list[Hop]:
        """The hops to try in order: a weighted pick among the lowest position, then the rest.

        Later positions keep their order; the first position's other providers follow the
        pick in their own order, before the next position.
        """
        first = min(hop.position for hop in self.hops)
        leaders = [hop for hop in self.hops if hop.position == first]
        pick = weighted(leaders, rng or random)
        return [pick, *(hop for hop in self.hops if hop is not pick)]

    def first(self, rng: RandomSource | None = None) -> Hop:
        return self.ordered(rng)[0]


def weighted(hops: list[Hop], rng: RandomSource) -> Hop:
    """One of ``hops``, each with a chance proportional to its weight."""
    if len(hops) == 1:
        return hops[0]
    total = sum(hop.weight for hop in hops)
    point = rng.random() * total
    for hop in hops:
        point -= hop.weight
        if point < 0:
            return hop
    return hops[-1]


@dataclass(frozen=True)
class RouteTable:
    """The active routes by destination (empty when none is configured), and the provider
    a number no route matches goes to: the preferred one by priority, as before routes."""

    prefixes: dict[str, RouteChoice]
    countries: dict[str, RouteChoice]
    default: RouteChoice | None
    preferred: Provider | None = None

    @classmethod
    def load(cls) -> RouteTable:
        """Every active provider with its places on active routes: one query.

        The same read that finds the preferred provider (which every send without a named
        provider needed before routes), so routing costs a send no query of its own. A route
        whose providers are all inactive is left out: its numbers fall through to the next
        less specific route.
        """
        hop = "route_hops__"
        rows: Iterable[Any] = (  # annotated Providers, one per (provider, place on a route)
            Provider.objects.filter(is_active=True)
            .select_related("default_sender")
            .annotate(
                hop_pk=F(hop + "pk"),
                hop_position=F(hop + "position"),
                hop_weight=F(hop + "weight"),
                hop_sender=F(hop + "sender_id"),
                hop_sender_value=F(hop + "sender__value"),
                hop_sender_active=F(hop + "sender__is_active"),
                hop_route=F(hop + "route_id"),
                route_name=F(hop + "route__name"),
                route_country=F(hop + "route__country"),
                route_prefix=F(hop + "route__prefix"),
                route_active=F(hop + "route__is_active"),
            )
            .order_by("priority", "pk", hop + "position", hop + "pk")
        )
        providers: dict[int, Provider] = {}
        routes: dict[int, tuple[Any, list[Hop]]] = {}
        for row in rows:
            provider = providers.setdefault(row.pk, row)
            if row.hop_pk is None or not row.route_active:
                continue
            sender = None
            if row.hop_sender is not None:
                sender = SenderID(
                    pk=row.hop_sender,
                    provider=provider,
                    value=row.hop_sender_value,
                    is_active=row.hop_sender_active,
                )
            key = (row.route_name, row.route_country, row.route_prefix)
            _key, hops = routes.setdefault(row.hop_route, (key, []))
            hops.append(Hop(provider, row.hop_position, row.hop_weight, sender))
        prefixes: dict[str, RouteChoice] = {}
        countries: dict[str, RouteChoice] = {}
        default: RouteChoice | None = None
        for pk, ((name, country, prefix), hops) in routes.items():
            hops.sort(key=lambda h: h.position)  # stable: the providers' order among equals
            choice = RouteChoice(pk=pk, name=name, hops=tuple(hops))
            if prefix:
                prefixes[prefix] = choice
            elif country:
                countries[country] = choice
            else:
                default = choice
        preferred = next(iter(providers.values()), None)
        return cls(prefixes, countries, default, preferred)

    def __bool__(self) -> bool:
        return bool(self.prefixes or self.countries or self.default)

    def route(self, pk: int | None) -> RouteChoice | None:
        """The active route with this pk (a message's route, for failover), else None."""
        if pk is None:
            return None
        every = [*self.prefixes.values(), *self.countries.values()]
        if self.default is not None:
            every.append(self.default)
        return next((choice for choice in every if choice.pk == pk), None)

    def route_for(self, e164: str) -> RouteChoice | None:
        """The number's route: longest matching prefix, else its country's, else the default."""
        if self.prefixes:
            for end in range(len(e164), 1, -1):
                found = self.prefixes.get(e164[:end])
                if found is not None:
                    return found
        if self.countries:
            found = self.countries.get(country_of(e164))
            if found is not None:
                return found
        return self.default
