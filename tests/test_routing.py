"""Routes: which provider a number's message goes through, and what the timeline says."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from helpdesk_sms import group_sends, routing
from helpdesk_sms.api import send_sms
from helpdesk_sms.exceptions import InvalidRecipient
from helpdesk_sms.models import (
    Contact,
    Message,
    MessageEvent,
    NotificationTemplate,
    Provider,
    RecipientGroup,
    Route,
    RouteHop,
    SenderID,
)
from helpdesk_sms.routing import RouteTable
from helpdesk_sms.states import Source
from project.demo.models import Ticket

from .test_api import bulk_batches, statements

pytestmark = pytest.mark.django_db

NG_MTN = "+2348031234567"  # +234803: an MTN Nigeria range
NG_OTHER = "+2347031234567"
NL = "+31612345678"
IN = "+919812345678"


def provider(name: str, *, priority: int = 50, allowed: str = "", sender: str = "") -> Provider:
    """A memory-gateway provider with a default sender named after it."""
    made = Provider.objects.create(
        name=name, gateway="memory", priority=priority, allowed_countries=allowed
    )
    made.default_sender = SenderID.objects.create(provider=made, value=sender or name[:6].upper())
    made.save()
    return made


def route(name: str, *providers: Provider, country: str = "", prefix: str = "") -> Route:
    made = Route.objects.create(name=name, country=country, prefix=prefix)
    for position, hop_provider in enumerate(providers, 1):
        RouteHop.objects.create(route=made, provider=hop_provider, position=position)
    return made


@pytest.fixture
def fallback(db) -> Provider:
    """The provider by priority: what sends when no route matches."""
    return provider("Fallback", priority=1)


def provider_of(number: str) -> str:
    [message] = send_sms(number, "Your ticket is open.")
    return message.provider.name


def test_a_number_takes_its_countrys_route(fallback):
    route("Nigeria", provider("Lagos"), country="NG")

    assert provider_of(NG_OTHER) == "Lagos"


def test_a_prefix_route_wins_over_the_country_route(fallback):
    route("Nigeria", provider("Lagos"), country="NG")
    route("MTN Nigeria", provider("MTN"), prefix="+234803")

    assert provider_of(NG_MTN) == "MTN"


def test_the_longest_matching_prefix_wins(fallback):
    route("Nigeria by code", provider("Lagos"), prefix="+234")
    route("MTN Nigeria", provider("MTN"), prefix="+234803")

    assert provider_of(NG_MTN) == "MTN"
    assert provider_of(NG_OTHER) == "Lagos"


def test_a_number_no_route_matches_takes_the_default_route(fallback):
    route("Nigeria", provider("Lagos"), country="NG")
    route("Everything else", provider("Global"))

    assert provider_of(NL) == "Global"


def test_without_a_matching_route_the_provider_by_priority_sends(fallback):
    route("Nigeria", provider("Lagos"), country="NG")

    assert provider_of(NL) == "Fallback"


def test_without_routes_the_provider_by_priority_sends(fallback):
    provider("Second", priority=2)

    assert provider_of(NL) == "Fallback"


def test_a_named_provider_wins_over_the_route(fallback):
    route("Nigeria", provider("Lagos"), country="NG")

    [message] = send_sms(NG_OTHER, "Hello", provider="Fallback")

    assert message.provider == fallback
    assert message.route is None


def test_an_inactive_route_is_ignored(fallback):
    nigeria = route("Nigeria", provider("Lagos"), country="NG")
    nigeria.is_active = False
    nigeria.save()

    assert provider_of(NG_OTHER) == "Fallback"


def test_a_route_whose_providers_are_all_inactive_falls_through(fallback):
    lagos = provider("Lagos")
    route("Nigeria", lagos, country="NG")
    route("Everything else", provider("Global"))
    Provider.objects.filter(pk=lagos.pk).update(is_active=False)

    assert provider_of(NG_OTHER) == "Global"


def test_the_first_position_sends_and_later_ones_wait(fallback):
    route("Nigeria", provider("First"), provider("Second"), country="NG")

    assert provider_of(NG_OTHER) == "First"


def test_a_national_number_is_read_in_the_preferred_providers_region(fallback):
    fallback.default_region = "NG"
    fallback.save()
    route("Nigeria", provider("Lagos"), country="NG")

    [message] = send_sms("08031234567", "Hello")

    assert (message.recipient, message.provider.name) == (NG_MTN, "Lagos")


def test_an_invalid_number_is_refused_before_any_route_is_chosen(fallback):
    route("Nigeria", provider("Lagos"), country="NG")

    with pytest.raises(InvalidRecipient, match="too short"):
        send_sms([NG_OTHER, "+23480"], "Hello")
    assert not Message.objects.exists()


def test_a_routed_number_outside_its_providers_allowed_countries_is_refused(fallback):
    route("North America", provider("US only", allowed="US"), prefix="+1")

    with pytest.raises(InvalidRecipient, match="in CA, which is not an allowed destination"):
        send_sms("+14162345678", "Hello")
    assert not Message.objects.exists()


def test_one_send_splits_its_numbers_by_route(fallback):
    route("Nigeria", provider("Lagos"), country="NG")
    route("Netherlands", provider("Amsterdam"), country="NL")

    sent = send_sms([NG_OTHER, NL, IN], "Hello")

    assert [(m.recipient, m.provider.name) for m in sent] == [
        (NG_OTHER, "Lagos"),
        (NL, "Amsterdam"),
        (IN, "Fallback"),
    ]
    stored = dict(Message.objects.values_list("recipient", "provider__name"))
    assert stored == {NG_OTHER: "Lagos", NL: "Amsterdam", IN: "Fallback"}


def test_the_message_keeps_the_route_that_chose_its_provider(fallback):
    nigeria = route("Nigeria", provider("Lagos"), country="NG")

    send_sms(NG_OTHER, "Hello")

    assert Message.objects.get().route == nigeria


def test_the_first_event_says_which_route_chose_the_provider(fallback):
    route("Nigeria", provider("Lagos"), country="NG")

    send_sms(NG_OTHER, "Hello")

    event = MessageEvent.objects.get(source=Source.CREATE)
    assert event.note == "queued through send_sms; route 'Nigeria' → Lagos"


def test_a_routes_sender_mapping_is_the_sender_used(fallback):
    lagos = provider("Lagos")
    local = SenderID.objects.create(provider=lagos, value="NGHELP")
    nigeria = route("Nigeria", lagos, country="NG")
    RouteHop.objects.filter(route=nigeria).update(sender=local)

    [message] = send_sms(NG_OTHER, "Hello")

    assert message.sender == "NGHELP"


def test_notify_sends_through_the_customers_route(fallback):
    route("Nigeria", provider("Lagos"), country="NG")

    Ticket.objects.create(title="Printer jammed", customer_name="Ada", customer_phone=NG_OTHER)

    message = Message.objects.get()
    assert (message.provider.name, message.route.name) == ("Lagos", "Nigeria")
    event = MessageEvent.objects.get(message=message, source=Source.CREATE)
    assert event.note.endswith("route 'Nigeria' → Lagos")


def test_a_templates_provider_wins_over_the_route(fallback):
    route("Nigeria", provider("Lagos"), country="NG")
    NotificationTemplate.objects.filter(event="ticket_created").update(provider=fallback)

    Ticket.objects.create(title="Printer jammed", customer_name="Ada", customer_phone=NG_OTHER)

    message = Message.objects.get()
    assert (message.provider, message.route) == (fallback, None)


def test_a_templates_sender_keeps_the_provider_it_belongs_to(fallback):
    route("Nigeria", provider("Lagos"), country="NG")
    NotificationTemplate.objects.filter(event="ticket_created").update(
        sender=fallback.default_sender
    )

    Ticket.objects.create(title="Printer jammed", customer_name="Ada", customer_phone=NG_OTHER)

    message = Message.objects.get()
    assert (message.provider, message.sender, message.route) == (fallback, "FALLBA", None)


def first_choices(weights: list[int], draws: int, seed: int) -> dict[str, int]:
    table_route = route("Shared", *(provider(f"P{i}") for i in range(len(weights))), country="NG")
    RouteHop.objects.filter(route=table_route).update(position=1)
    for i, weight in enumerate(weights):
        RouteHop.objects.filter(route=table_route, provider__name=f"P{i}").update(weight=weight)
    choice = RouteTable.load().route_for(NG_OTHER)
    assert choice is not None
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    for _ in range(draws):
        name = choice.first(rng).provider.name
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_weights_share_the_first_position_in_proportion():
    counts = first_choices([3, 1], draws=4000, seed=12)

    assert 2800 < counts["P0"] < 3200 and counts["P0"] + counts["P1"] == 4000


def test_equal_weights_share_the_first_position_evenly():
    counts = first_choices([1, 1], draws=4000, seed=7)

    assert 1800 < counts["P0"] < 2200


def test_a_later_position_is_never_the_first_choice(fallback):
    shared = route("Nigeria", provider("A"), provider("B"), provider("C"), country="NG")
    RouteHop.objects.filter(route=shared, provider__name="C").update(weight=1000)
    choice = RouteTable.load().route_for(NG_OTHER)
    assert choice is not None

    firsts = {choice.first(random.Random(seed)).provider.name for seed in range(50)}

    assert firsts == {"A"}


def test_the_ordered_list_puts_the_weighted_pick_first_then_the_rest_in_order(fallback):
    shared = route("Nigeria", provider("A"), provider("B"), provider("C"), country="NG")
    RouteHop.objects.filter(route=shared, provider__name__in=["A", "B"]).update(position=1)
    choice = RouteTable.load().route_for(NG_OTHER)
    assert choice is not None

    class PicksTheSecond:
        def random(self) -> float:
            return 0.75

    assert [h.provider.name for h in choice.ordered(PicksTheSecond())] == ["B", "A", "C"]


def test_a_routed_send_picks_each_numbers_provider_by_weight(fallback, monkeypatch):
    shared = route("Nigeria", provider("A"), provider("B"), country="NG")
    RouteHop.objects.filter(route=shared).update(position=1)
    monkeypatch.setattr(routing, "random", random.Random(3))
    numbers = [f"+234803{n:07d}" for n in range(1000, 1400)]

    send_sms(numbers, "Hello")

    counts = dict(Message.objects.values_list("provider__name").annotate(n=Count("pk")))
    assert 160 < counts["A"] < 240 and counts["A"] + counts["B"] == 400


def queries_to_send(numbers: list[str]) -> int:
    """Every statement but the bulk inserts (SQLite splits those by its parameter cap)."""
    with CaptureQueriesContext(connection) as capture:
        send_sms(numbers, "Your ticket is open.")
    inserts, other = statements(capture.captured_queries)
    assert inserts == bulk_batches(len(numbers))
    return other


def test_a_routed_send_costs_the_same_queries_for_1000_numbers_as_for_10(fallback):
    route("MTN Nigeria", provider("MTN"), prefix="+234803")
    route("Netherlands", provider("Amsterdam"), country="NL")
    route("Everything else", provider("Global"))
    mixed = ["+234803{:07d}", "+3161{:07d}", "+91981{:07d}"]

    ten = queries_to_send([mixed[n % 3].format(n) for n in range(10)])
    thousand = queries_to_send([mixed[n % 3].format(n) for n in range(100, 1100)])

    assert Message.objects.count() == 1010
    assert thousand == ten


def test_routes_cost_a_send_no_query_over_sending_without_them(fallback):
    without = queries_to_send([NL, IN])
    route("Netherlands", provider("Amsterdam"), country="NL")
    route("Everything else", provider("Global"))

    routed = queries_to_send(["+31612345679", "+919812345679"])

    assert routed == without


# Validation: the model refuses what the admin and sms_route would refuse, naming the field.


def errors_of(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def test_a_prefix_must_be_a_plus_and_digits():
    assert "prefix" in errors_of(Route(name="Bad", prefix="+234-80"))


def test_a_prefix_must_start_with_a_calling_code():
    assert "prefix" in errors_of(Route(name="Bad", prefix="+999"))


def test_a_country_must_be_one_phonenumbers_knows():
    assert "country" in errors_of(Route(name="Bad", country="XX"))


def test_a_route_has_a_country_or_a_prefix_not_both():
    assert "prefix" in errors_of(Route(name="Both", country="NG", prefix="+234"))


def test_two_active_routes_for_one_country_are_refused(fallback):
    route("Nigeria", fallback, country="NG")

    errors = errors_of(Route(name="Nigeria again", country="ng"))

    assert errors["country"] == [
        "Route 'Nigeria' is already the route for country NG; deactivate one of them or "
        "change this one."
    ]


def test_two_active_default_routes_are_refused(fallback):
    route("Everything", fallback)

    assert "is_active" in errors_of(Route(name="Everything too"))


def test_an_inactive_second_route_for_a_destination_is_allowed(fallback):
    route("Nigeria", fallback, country="NG")

    Route(name="Nigeria next", country="NG", is_active=False).full_clean()


def test_a_provider_that_cannot_text_the_country_is_refused():
    india_only = provider("India only", allowed="IN")
    nigeria = Route.objects.create(name="Nigeria", country="NG")

    errors = errors_of(RouteHop(route=nigeria, provider=india_only))

    assert errors["provider"] == [
        "Provider 'India only' may only text IN, not NG (country NG): allow the country on "
        "the provider or pick another provider."
    ]


def test_a_provider_that_cannot_text_the_prefixs_country_is_refused():
    india_only = provider("India only", allowed="IN")
    mtn = Route.objects.create(name="MTN", prefix="+234803")

    assert "provider" in errors_of(RouteHop(route=mtn, provider=india_only))


def test_a_sender_of_another_provider_is_refused():
    lagos, other = provider("Lagos"), provider("Other")
    nigeria = Route.objects.create(name="Nigeria", country="NG")

    errors = errors_of(RouteHop(route=nigeria, provider=lagos, sender=other.default_sender))

    assert errors["sender"] == [
        "Sender ID 'OTHER' belongs to provider 'Other', not 'Lagos': each provider sends "
        "with its own approved sender IDs."
    ]


def test_the_same_provider_twice_on_a_route_is_refused():
    lagos = provider("Lagos")
    nigeria = route("Nigeria", lagos, country="NG")

    errors = errors_of(RouteHop(route=nigeria, provider=lagos, position=2))

    assert errors["__all__"] == ["This provider is already on the route."]


def test_a_weight_of_zero_is_refused():
    nigeria = Route.objects.create(name="Nigeria", country="NG")

    assert "weight" in errors_of(RouteHop(route=nigeria, provider=provider("Lagos"), weight=0))


# Group sends from the admin: each member through their route, as previewed.


def group_of(*phones: str) -> RecipientGroup:
    group = RecipientGroup.objects.create(name="Customers")
    Contact.objects.bulk_create(Contact(name=f"C{i}", phone=p) for i, p in enumerate(phones))
    group.members.set(Contact.objects.all())
    return group


def test_a_group_send_texts_each_member_through_their_route(fallback, admin_user):
    route("Nigeria", provider("Lagos"), country="NG")
    group = group_of(NG_OTHER, NL)

    send, _created = group_sends.confirm(
        group_sends.plan(group, text="Hello"), token="t1", user=admin_user
    )

    sent = Message.objects.filter(group_send=send)
    assert dict(sent.values_list("recipient", "provider__name")) == {
        NG_OTHER: "Lagos",
        NL: "Fallback",
    }
    assert MessageEvent.objects.get(message__recipient=NG_OTHER).note.endswith(
        "route 'Nigeria' → Lagos"
    )


def test_a_group_sends_weighted_picks_are_the_ones_its_preview_showed(fallback):
    shared = route("Nigeria", provider("A"), provider("B"), country="NG")
    RouteHop.objects.filter(route=shared).update(position=1)
    group = group_of(*(f"+234803{n:07d}" for n in range(1000, 1040)))

    previewed, confirmed = (group_sends.plan(group, text="Hello") for _ in range(2))

    assert {d.composer.provider.name for d in previewed.drafts} == {"A", "B"}
    assert previewed.digest() == confirmed.digest()
