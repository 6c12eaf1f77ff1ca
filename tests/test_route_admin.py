"""The route pages: a route and its providers saved together, each mistake on its field."""

from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk_sms.api import send_sms
from helpdesk_sms.models import Contact, Message, RecipientGroup, Route, RouteHop

from .test_admin import page, url
from .test_routing import provider

pytestmark = pytest.mark.django_db

NG = "+2347031234567"
IN = "+919812345678"


def route_form(*hops: dict[str, object], **fields: object) -> dict[str, object]:
    """The add form as the browser posts it: the route's fields and its provider rows."""
    data: dict[str, object] = {
        "name": "Nigeria",
        "country": "NG",
        "prefix": "",
        "is_active": "on",
        "hops-TOTAL_FORMS": str(len(hops)),
        "hops-INITIAL_FORMS": "0",
        "hops-MIN_NUM_FORMS": "1",
        "hops-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, hop in enumerate(hops):
        row = {"position": "1", "weight": "1", "sender": "", **hop}
        data.update({f"hops-{i}-{key}": value for key, value in row.items()})
    return data


def add(client, *hops: dict[str, object], **fields: object):
    return client.post(url("route", "add"), route_form(*hops, **fields))


def field_errors(response) -> dict[str, list[str]]:
    """The route form's errors and each provider row's, by field."""
    errors = {k: list(v) for k, v in response.context["adminform"].form.errors.items()}
    for formset in response.context["inline_admin_formsets"]:
        for form in formset.formset.forms:
            for key, value in form.errors.items():
                errors.setdefault(f"hops.{key}", []).extend(value)
        errors["hops.__all__"] = list(formset.formset.non_form_errors())
    return errors


def test_the_route_list_shows_destination_and_providers_in_order(admin_client):
    nigeria = Route.objects.create(name="Nigeria", country="NG")
    RouteHop.objects.create(route=nigeria, provider=provider("ATL"), position=1, weight=3)
    RouteHop.objects.create(route=nigeria, provider=provider("Clone"), position=2)

    html = page(admin_client.get(url("route", "changelist")))

    assert "country NG" in html and "1. ATL ×3, 2. Clone" in html


def test_the_change_page_loads(admin_client):
    nigeria = Route.objects.create(name="Nigeria", country="NG")
    RouteHop.objects.create(route=nigeria, provider=provider("ATL"))

    assert admin_client.get(url("route", "change", nigeria.pk)).status_code == 200


def test_adding_a_route_with_its_providers(admin_client):
    atl, clone = provider("ATL"), provider("Clone")

    response = add(
        admin_client, {"provider": atl.pk, "weight": "3"}, {"provider": clone.pk, "position": "2"}
    )

    assert response.status_code == 302
    hops = RouteHop.objects.filter(route__name="Nigeria").order_by("position")
    assert [(h.provider.name, h.position, h.weight) for h in hops] == [
        ("ATL", 1, 3),
        ("Clone", 2, 1),
    ]


def test_a_route_added_in_the_admin_chooses_the_provider(admin_client):
    provider("Fallback", priority=1)
    add(admin_client, {"provider": provider("ATL").pk})

    [message] = send_sms(NG, "Hello")

    assert message.provider.name == "ATL"


def test_a_provider_that_cannot_text_the_country_is_refused_on_its_row(admin_client):
    india_only = provider("India only", allowed="IN")

    response = add(admin_client, {"provider": india_only.pk})

    assert response.status_code == 200
    assert field_errors(response)["hops.provider"] == [
        "Provider 'India only' may only text IN, not NG (country NG): allow the country on "
        "the provider or pick another provider."
    ]
    assert not Route.objects.exists()


def test_a_sender_of_another_provider_is_refused_on_its_row(admin_client):
    atl, clone = provider("ATL"), provider("Clone")

    response = add(admin_client, {"provider": atl.pk, "sender": clone.default_sender_id})

    assert field_errors(response)["hops.sender"] == [
        "Sender ID 'CLONE' belongs to provider 'Clone', not 'ATL': each provider sends with "
        "its own approved sender IDs."
    ]
    assert not Route.objects.exists()


def test_the_same_provider_twice_is_refused(admin_client):
    atl = provider("ATL")

    response = add(admin_client, {"provider": atl.pk}, {"provider": atl.pk, "position": "2"})

    assert response.status_code == 200
    assert field_errors(response)["hops.__all__"] == [
        "Each provider can be on a route once: remove the repeated row."
    ]
    assert not Route.objects.exists()


def test_a_prefix_that_is_not_digits_is_refused_on_the_prefix(admin_client):
    response = add(admin_client, {"provider": provider("ATL").pk}, country="", prefix="+234x")

    assert field_errors(response)["prefix"] == [
        "+234x is not a number prefix: write + and digits only, e.g. +23480."
    ]


def test_a_second_active_route_for_the_country_is_refused_on_the_country(admin_client):
    Route.objects.create(name="Nigeria", country="NG")

    response = add(admin_client, {"provider": provider("ATL").pk}, name="Nigeria 2")

    assert field_errors(response)["country"] == [
        "Route 'Nigeria' is already the route for country NG; deactivate one of them or "
        "change this one."
    ]


def test_a_route_needs_at_least_one_provider(admin_client):
    response = add(admin_client)

    assert field_errors(response)["hops.__all__"] == ["Please submit at least 1 form."]
    assert not Route.objects.exists()


def test_messages_can_be_filtered_by_route(admin_client):
    provider("Fallback", priority=1)
    nigeria = Route.objects.create(name="Nigeria", country="NG")
    RouteHop.objects.create(route=nigeria, provider=provider("ATL"))
    send_sms([NG, "+31612345678"], "Hello")

    response = admin_client.get(url("message", "changelist"), {"route__id__exact": nigeria.pk})

    assert [m.recipient for m in response.context["cl"].result_list] == [NG]
    assert Message.objects.count() == 2


def test_a_group_send_preview_lists_each_routed_provider_and_its_share(admin_client):
    provider("Fallback", priority=1)
    nigeria = Route.objects.create(name="Nigeria", country="NG")
    RouteHop.objects.create(route=nigeria, provider=provider("Lagos"))
    group = RecipientGroup.objects.create(name="Customers")
    Contact.objects.bulk_create(
        Contact(name=f"C{i}", phone=p) for i, p in enumerate([NG, "+2348031234567", IN])
    )
    group.members.set(Contact.objects.all())

    response = admin_client.post(
        reverse("admin:helpdesk_sms_recipientgroup_send", args=[group.pk]),
        {"_preview": "1", "text": "Hello"},
    )

    summary = dict((str(k), str(v)) for k, v in response.context["summary"])
    assert summary["Providers"] == (
        "Lagos (In-memory (tests)), route 'Nigeria', sender LAGOS: 2 messages; "
        "Fallback (In-memory (tests)), no route: by priority, sender FALLBA: 1 message"
    )
    assert not Message.objects.exists()
