"""``manage.py sms_route add|list|remove``: routes without the admin.

The same validation as the admin (the models' ``full_clean``) in one transaction, so a
refused provider or sender leaves no half-made route behind; each mistake is one line
naming the option to fix, exit status 2.

``--provider`` is repeatable: each one is the next position on the route. Providers that
share a position (load sharing by weight) are given in one option, comma-separated:
``--provider ATL:3,Clone:1 --provider Unified`` sends about three in four of the route's
messages through ATL, the rest through Clone; Unified is next in line.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from helpdesk_sms.country_profiles import PROFILES
from helpdesk_sms.models import Provider, Route, RouteHop, SenderID

from ._common import SmsCommand, from_validation_error, get_provider, table, usage_error

#: Model field -> the option that sets it, so validation errors name what to retype.
ROUTE_OPTIONS = {
    "name": "NAME",
    "country": "--country",
    "prefix": "--prefix",
    "is_active": "--default",
    "country_profile": "--country-profile",
}
HOP_OPTIONS = {
    "provider": "--provider",
    "sender": "--sender",
    "weight": "--provider",
    "position": "--provider",
    "__all__": "--provider",
}


class Command(SmsCommand):
    help = "Add, list and remove SMS routes (which providers carry which numbers)."
    positional_names = {"name": "NAME"}

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)

        add = actions.add_parser("add", help="Create a route and its providers.")
        add.add_argument("name", metavar="NAME", help="How operators refer to the route.")
        where = add.add_mutually_exclusive_group(required=True)
        where.add_argument("--country", metavar="XX", help="Numbers of this country, e.g. NG.")
        where.add_argument(
            "--prefix", metavar="+NNN", help="Numbers starting with these digits, e.g. +23480."
        )
        where.add_argument(
            "--default", action="store_true", help="Every number no other route takes."
        )
        add.add_argument(
            "--provider",
            action="append",
            required=True,
            metavar="NAME[:WEIGHT]",
            help="The next provider on the route, with an optional weight (default 1). "
            "Comma-separate providers that share a position. Repeatable, in order.",
        )
        add.add_argument(
            "--sender",
            action="append",
            default=[],
            metavar="PROVIDER=SENDER",
            help="The provider's own approved sender ID to use on this route. Repeatable.",
        )
        add.add_argument(
            "--country-profile",
            choices=sorted(PROFILES),
            help="The destination country's preset rules for the route's messages (sender "
            "IDs, SMS parts, default quiet hours, India's registered template id).",
        )
        add.add_argument("--inactive", action="store_true", help="Create it switched off.")

        actions.add_parser("list", help="Show the routes and their providers.")

        remove = actions.add_parser("remove", help="Delete a route (its messages keep theirs).")
        remove.add_argument("name", metavar="NAME", help="The route to delete.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "add":
            self.add_route(options)
        elif action == "list":
            self.list_routes()
        else:
            self.remove_route(options["name"])

    # -- add -----------------------------------------------------------------------------

    def add_route(self, options: dict[str, Any]) -> None:
        hops = parse_providers(options["provider"])
        senders = parse_senders(options["sender"], {hop.provider.pk for hop in hops})
        for hop in hops:
            hop.sender = senders.get(hop.provider.pk)
        route = Route(
            name=options["name"],
            country=options["country"] or "",
            prefix=options["prefix"] or "",
            is_active=not options["inactive"],
            country_profile=options["country_profile"] or "",
        )
        try:
            with transaction.atomic():
                route.full_clean()
                route.save()
                for hop in hops:
                    hop.route = route
                    try:
                        hop.full_clean()
                    except ValidationError as exc:
                        raise from_validation_error(exc, HOP_OPTIONS) from None
                    hop.save()
        except ValidationError as exc:
            raise from_validation_error(exc, ROUTE_OPTIONS) from None
        except IntegrityError:  # another process made the same route since full_clean
            raise usage_error("NAME", f"a route named {route.name!r} already exists") from None
        state = "" if route.is_active else " (inactive)"
        self.stdout.write(
            f"Created route {route.name!r}{state} for {route.destination}: {describe(hops)}."
        )

    # -- list ----------------------------------------------------------------------------

    def list_routes(self) -> None:
        routes = list(Route.objects.prefetch_related("hops__provider", "hops__sender"))
        if not routes:
            self.stdout.write(
                "No routes: every message goes through the active provider with the lowest "
                "priority. Add one with: manage.py sms_route add …"
            )
            return
        rows = [
            [r.name, r.destination, "yes" if r.is_active else "no", describe(list(r.hops.all()))]
            for r in routes
        ]
        self.stdout.write(table(["NAME", "DESTINATION", "ACTIVE", "PROVIDERS"], rows))

    # -- remove --------------------------------------------------------------------------

    def remove_route(self, name: str) -> None:
        route = Route.objects.filter(name=name).first()
        if route is None:
            known = ", ".join(Route.objects.values_list("name", flat=True))
            raise usage_error("NAME", f"Unknown route {name!r} (known: {known or 'none'}).")
        route.delete()
        self.stdout.write(f"Removed route {name!r}.")


def parse_providers(values: list[str]) -> list[RouteHop]:
    """``--provider`` values as unsaved hops: one position per option, weights after ``:``."""
    hops: list[RouteHop] = []
    seen: set[int] = set()
    for position, value in enumerate(values, 1):
        for item in value.split(","):
            name, colon, weight_text = item.strip().partition(":")
            weight = 1
            if colon:
                if not weight_text.isdigit() or int(weight_text) < 1:
                    raise usage_error(
                        "--provider",
                        f"{item!r}: the weight after ':' must be a whole number of 1 or more.",
                    )
                weight = int(weight_text)
            provider = get_provider(name.strip())
            if provider.pk in seen:
                raise usage_error(
                    "--provider",
                    f"{provider.name!r} is named twice; a route has each provider once.",
                )
            seen.add(provider.pk)
            hops.append(RouteHop(provider=provider, position=position, weight=weight))
    return hops


def parse_senders(values: list[str], on_route: set[int]) -> dict[int, SenderID]:
    """``--sender PROVIDER=SENDER`` as {provider pk: its SenderID}, each checked to exist."""
    senders: dict[int, SenderID] = {}
    for value in values:
        name, equals, sender_value = value.partition("=")
        if not equals or not name.strip() or not sender_value.strip():
            raise usage_error("--sender", f"{value!r} is not PROVIDER=SENDER, e.g. ATL=NGHELP.")
        provider = get_provider(name.strip(), option="--sender")
        if provider.pk not in on_route:
            raise usage_error("--sender", f"provider {provider.name!r} is not on this route.")
        senders[provider.pk] = find_sender(provider, sender_value.strip())
    return senders


def find_sender(provider: Provider, value: str) -> SenderID:
    found = SenderID.objects.filter(provider=provider, value=value).first()
    if found is not None:
        return found
    elsewhere = SenderID.objects.filter(value=value).select_related("provider").first()
    if elsewhere is not None:
        raise usage_error(
            "--sender",
            f"Sender ID {value!r} belongs to provider {elsewhere.provider.name!r}, not "
            f"{provider.name!r}: each provider sends with its own approved sender IDs.",
        )
    known = ", ".join(provider.senders.values_list("value", flat=True)) or "none"
    raise usage_error(
        "--sender", f"Provider {provider.name!r} has no sender ID {value!r} (its: {known})."
    )


def describe(hops: list[RouteHop]) -> str:
    """``1. ATL (weight 3, sender NGHELP); 2. Unified``: the route's providers in order."""
    parts = []
    for hop in hops:
        extras = []
        if hop.weight != 1:
            extras.append(f"weight {hop.weight}")
        if hop.sender is not None:
            extras.append(f"sender {hop.sender.value}")
        extra = f" ({', '.join(extras)})" if extras else ""
        parts.append(f"{hop.position}. {hop.provider.name}{extra}")
    return "; ".join(parts) or "no providers"
