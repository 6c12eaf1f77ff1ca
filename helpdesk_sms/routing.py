"""Which providers carry a number: the route table, read once per send, and the choice.

A :class:`RouteTable` is the active routes and their active providers, read in one query;
:meth:`RouteTable.route_for` then picks a number's route with dictionary look-ups only (the
most specific matching prefix, else the number's country, else the default route), so a send
to 100,000 numbers costs one query, not 100,000. No matching route (or no routes at all)
means today's behaviour: the preferred provider by priority, decided by the caller.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import connection
from django.db.models import DateTimeField, TextField
from django.db.models.functions import Cast

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
    country_profile: str = ""  # the route's country profile code ("" for none)

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
        provider needed before routes), so routing costs a send no query of its own. Rows
        are read as plain tuples and each provider is built once, not once per route it
        serves: a table of hundreds of routes loads in milliseconds. A route whose
        providers are all inactive is left out: its numbers fall through to the next less
        specific route.
        """
        # Timestamps are left deferred (sending never reads them); columns the model converts
        # when read (encrypted credentials, JSON options) are read as stored and converted
        # once per provider, not once per route it serves: conversion is a row's cost.
        provider_fields = [
            f for f in Provider._meta.concrete_fields if not isinstance(f, DateTimeField)
        ]
        provider_columns = [f.attname for f in provider_fields]
        converted = {f.attname: f for f in provider_fields if hasattr(f, "from_db_value")}
        raw = {f"raw_{name}": Cast(name, TextField()) for name in converted}
        selected = [f"raw_{name}" if name in converted else name for name in provider_columns]
        sender_columns = [f.attname for f in SenderID._meta.concrete_fields]
        hop = "route_hops__"
        hop_columns = [
            hop + "pk",
            hop + "route_id",
            hop + "route__name",
            hop + "route__country",
            hop + "route__prefix",
            hop + "route__is_active",
            hop + "route__country_profile",
            hop + "position",
            hop + "weight",
            hop + "sender_id",
            hop + "sender__value",
            hop + "sender__is_active",
        ]
        rows = (
            Provider.objects.filter(is_active=True)
            .annotate(**raw)
            .order_by("priority", "pk", hop + "position", hop + "pk")
            .values_list(
                *selected,
                *(f"default_sender__{name}" for name in sender_columns),
                *hop_columns,
            )
        )
        width, sender_width = len(provider_columns), len(sender_columns)
        providers: dict[int, Provider] = {}
        routes: dict[int, tuple[tuple[str, str, str, str], list[Hop]]] = {}
        for row in rows:
            provider = providers.get(row[0])
            if provider is None:
                values = [
                    _converted(converted[name], value) if name in converted else value
                    for name, value in zip(provider_columns, row[:width], strict=True)
                ]
                provider = providers[row[0]] = _provider(
                    provider_columns, values, sender_columns, row[width : width + sender_width]
                )
            hop_pk, route, name, country, prefix, active, profile, position, weight, *sender_row = (
                row[width + sender_width :]
            )
            if hop_pk is None or not active:
                continue
            sender_pk, sender_value, sender_active = sender_row
            sender = None
            if sender_pk is not None:
                sender = SenderID(
                    pk=sender_pk, provider=provider, value=sender_value, is_active=sender_active
                )
            _key, hops = routes.setdefault(route, ((name, country, prefix, profile), []))
            hops.append(Hop(provider, position, weight, sender))
        prefixes: dict[str, RouteChoice] = {}
        countries: dict[str, RouteChoice] = {}
        default: RouteChoice | None = None
        for pk, ((name, country, prefix, profile), hops) in routes.items():
            hops.sort(key=lambda h: h.position)  # stable: the providers' order among equals
            choice = RouteChoice(pk=pk, name=name, hops=tuple(hops), country_profile=profile)
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


def _provider(
    columns: list[str], values: Sequence[Any], sender_columns: list[str], sender: Sequence[Any]
) -> Provider:
    """A Provider from its row, its default sender attached as ``select_related`` would."""
    provider = Provider.from_db("default", columns, values)
    default_sender = None
    if sender[0] is not None:
        default_sender = SenderID.from_db("default", sender_columns, sender)
    Provider._meta.get_field("default_sender").set_cached_value(provider, default_sender)
    return provider


def _converted(field: Any, stored: Any) -> Any:
    """A column as its model field reads it from the database (decrypted, JSON decoded)."""
    return field.from_db_value(stored, None, connection)
