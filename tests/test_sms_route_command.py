"""``sms_route add|list|remove`` as an operator at a shell sees it.

Bad input is one line naming the option and the rule, exit status 2, nothing written.
"""

from __future__ import annotations

import pytest

from helpdesk_sms.api import send_sms
from helpdesk_sms.models import Provider, Route, RouteHop, SenderID

from .test_commands import refused, run
from .test_routing import provider

pytestmark = pytest.mark.django_db

NG = "+2347031234567"


@pytest.fixture
def providers(db) -> dict[str, Provider]:
    return {name: provider(name, priority=p) for p, name in enumerate(["ATL", "Clone", "Uni"], 1)}


def hops_of(name: str) -> list[tuple[str, int, int, str]]:
    return [
        (h.provider.name, h.position, h.weight, h.sender.value if h.sender else "")
        for h in RouteHop.objects.filter(route__name=name).order_by("position", "pk")
    ]


def test_add_creates_a_country_route_with_providers_in_order(providers):
    out = run(
        "sms_route", "add", "Nigeria", "--country", "ng", "--provider", "Clone", "--provider", "ATL"
    )

    assert out.strip() == "Created route 'Nigeria' for country NG: 1. Clone; 2. ATL."
    assert hops_of("Nigeria") == [("Clone", 1, 1, ""), ("ATL", 2, 1, "")]


def test_add_shares_a_position_between_comma_separated_weighted_providers(providers):
    run(
        "sms_route",
        "add",
        "Nigeria",
        "--country",
        "NG",
        "--provider",
        "ATL:3,Clone:1",
        "--provider",
        "Uni",
    )

    assert hops_of("Nigeria") == [("ATL", 1, 3, ""), ("Clone", 1, 1, ""), ("Uni", 2, 1, "")]


def test_add_maps_a_providers_own_sender_id(providers):
    SenderID.objects.create(provider=providers["ATL"], value="NGHELP")

    run(
        "sms_route",
        "add",
        "Nigeria",
        "--country",
        "NG",
        "--provider",
        "ATL",
        "--sender",
        "ATL=NGHELP",
    )

    assert hops_of("Nigeria") == [("ATL", 1, 1, "NGHELP")]


def test_an_added_route_chooses_the_provider_of_a_send(providers):
    run("sms_route", "add", "Nigeria", "--prefix", "+234703", "--provider", "Uni")

    [message] = send_sms(NG, "Hello")

    assert message.provider.name == "Uni"


def test_add_a_default_route(providers):
    out = run("sms_route", "add", "Rest", "--default", "--provider", "Clone")

    assert "for default (every other number)" in out
    assert Route.objects.get(name="Rest").destination.startswith("default")


def test_add_refuses_a_provider_that_cannot_text_the_country(providers):
    provider("India only", allowed="IN")

    error = refused("sms_route", "add", "Nigeria", "--country", "NG", "--provider", "India only")

    assert error.returncode == 2
    assert str(error).startswith("--provider: Provider 'India only' may only text IN, not NG")
    assert not Route.objects.exists()


def test_add_refuses_a_sender_of_another_provider(providers):
    SenderID.objects.create(provider=providers["Clone"], value="NGHELP")

    error = refused(
        "sms_route",
        "add",
        "Nigeria",
        "--country",
        "NG",
        "--provider",
        "ATL",
        "--sender",
        "ATL=NGHELP",
    )

    assert (error.returncode, str(error)) == (
        2,
        "--sender: Sender ID 'NGHELP' belongs to provider 'Clone', not 'ATL': each provider "
        "sends with its own approved sender IDs.",
    )


def test_add_refuses_the_same_provider_twice(providers):
    error = refused(
        "sms_route", "add", "Nigeria", "--country", "NG", "--provider", "ATL", "--provider", "ATL"
    )

    assert str(error) == "--provider: 'ATL' is named twice; a route has each provider once."


def test_add_refuses_a_prefix_that_is_not_digits(providers):
    error = refused("sms_route", "add", "Bad", "--prefix", "+234-80", "--provider", "ATL")

    assert error.returncode == 2
    assert str(error).startswith("--prefix: +234-80 is not a number prefix")


def test_add_refuses_a_second_active_route_for_a_country(providers):
    run("sms_route", "add", "Nigeria", "--country", "NG", "--provider", "ATL")

    error = refused("sms_route", "add", "Nigeria 2", "--country", "NG", "--provider", "Clone")

    assert str(error).startswith("--country: Route 'Nigeria' is already the route for country NG")
    assert Route.objects.count() == 1


def test_add_refuses_a_second_default_route(providers):
    run("sms_route", "add", "Rest", "--default", "--provider", "ATL")

    error = refused("sms_route", "add", "Rest 2", "--default", "--provider", "Clone")

    assert str(error).startswith("--default: Route 'Rest' is already the default route")


def test_add_refuses_an_unknown_provider_naming_the_known_ones(providers):
    error = refused("sms_route", "add", "Nigeria", "--country", "NG", "--provider", "Nope")

    assert str(error) == "--provider: Unknown provider 'Nope' (known: ATL, Clone, Uni)."


def test_add_refuses_a_weight_that_is_not_a_whole_number(providers):
    error = refused("sms_route", "add", "Nigeria", "--country", "NG", "--provider", "ATL:0.5")

    assert str(error).startswith("--provider: 'ATL:0.5': the weight after ':' must be")


def test_add_leaves_nothing_behind_when_a_later_provider_is_refused(providers):
    provider("India only", allowed="IN")

    refused(
        "sms_route",
        "add",
        "Nigeria",
        "--country",
        "NG",
        "--provider",
        "ATL",
        "--provider",
        "India only",
    )

    assert not Route.objects.exists() and not RouteHop.objects.exists()


def test_list_shows_each_route_its_destination_and_providers(providers):
    run(
        "sms_route",
        "add",
        "Nigeria",
        "--country",
        "NG",
        "--provider",
        "ATL:3,Clone",
        "--provider",
        "Uni",
    )

    out = run("sms_route", "list")

    assert out.splitlines()[2].split() == [
        "Nigeria",
        "country",
        "NG",
        "yes",
        "1.",
        "ATL",
        "(weight",
        "3);",
        "1.",
        "Clone;",
        "2.",
        "Uni",
    ]


def test_list_without_routes_says_what_happens_instead(db):
    assert "No routes: every message goes through" in run("sms_route", "list")


def test_remove_deletes_the_route(providers):
    run("sms_route", "add", "Nigeria", "--country", "NG", "--provider", "ATL")

    assert run("sms_route", "remove", "Nigeria").strip() == "Removed route 'Nigeria'."
    assert not Route.objects.exists()


def test_remove_an_unknown_route_names_the_known_ones(providers):
    run("sms_route", "add", "Nigeria", "--country", "NG", "--provider", "ATL")

    error = refused("sms_route", "remove", "Ghana")

    assert (error.returncode, str(error)) == (2, "NAME: Unknown route 'Ghana' (known: Nigeria).")
