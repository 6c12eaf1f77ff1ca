"""Per-message gateway options: Canlog's channel and route set by a template or a send_sms call.

Transactional and promotional traffic share one Canlog account: each message carries the
channel and route it was given, checked against what the provider allows, and only alike
messages share a request. Everything goes over real sockets to the Canlog simulator.
"""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from helpdesk_sms import outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.exceptions import InvalidGatewayOption, SmsInputError
from helpdesk_sms.models import Message, NotificationTemplate, Provider
from helpdesk_sms.simulators.canlog import CanlogSimulator
from helpdesk_sms.states import Status
from project.demo.models import Ticket
from tests.fixtures_simulators import CANLOG_API_KEY

pytestmark = pytest.mark.django_db

NUMBER = "+919812345678"
OTHER = "+919812345679"
TEXT = "Your ticket is resolved."
PROMO = {"channel": "Promo", "route": "22"}


def sent_messages(sim: CanlogSimulator) -> dict[str, dict]:
    """The simulator's accepted messages by number."""
    return {m["number"]: m for m in sim.state()["messages"]}


def allow_routes(provider: Provider, *routes: str) -> Provider:
    provider.options = {**provider.options, "routes": list(routes)}
    provider.full_clean()
    provider.save()
    return provider


def promo_template(provider: Provider, options: dict) -> NotificationTemplate:
    """The only active ticket_created template: through ``provider`` with ``options``."""
    NotificationTemplate.objects.update(is_active=False)
    return NotificationTemplate.objects.create(
        name="Offer",
        event="ticket_created",
        audience="customer",
        body="Ticket {{ ticket.pk }} received.",
        provider=provider,
        gateway_options=options,
    )


# -- send_sms -------------------------------------------------------------------------------


def test_send_sms_channel_and_route_override_the_providers_at_the_gateway(
    canlog_provider, canlog_sim
):
    [message] = send_sms(NUMBER, TEXT, gateway_options=PROMO)
    outbox.dispatch()

    sent = sent_messages(canlog_sim)["919812345678"]
    assert (sent["channel"], sent["route"]) == ("Promo", "22")
    assert canlog_sim.state()["balances"] == {"Promo": "9987", "Trans": "500"}
    message.refresh_from_db()
    assert (message.status, message.gateway_options) == (Status.ACCEPTED, PROMO)


def test_messages_without_options_go_on_the_providers_channel_and_route(
    canlog_provider, canlog_sim
):
    send_sms(NUMBER, TEXT)
    outbox.dispatch()

    sent = sent_messages(canlog_sim)["919812345678"]
    assert (sent["channel"], sent["route"]) == ("Trans", "15")


def test_messages_with_different_routes_never_share_a_request(canlog_provider, canlog_sim):
    send_sms(NUMBER, TEXT, gateway_options={"route": "22"})
    send_sms(OTHER, TEXT)
    send_sms("+919812345670", TEXT, gateway_options={"route": "22"})

    outbox.dispatch()

    requests = {
        r["params"]["number"]: r["params"]["route"] for r in canlog_sim.state()["requests"]
    }
    assert requests == {"919812345678,919812345670": "22", "919812345679": "15"}


def test_channel_is_stored_as_the_document_spells_it(canlog_provider):
    [message] = send_sms(NUMBER, TEXT, gateway_options={"channel": "promo", "route": 22})

    assert message.gateway_options == {"channel": "Promo", "route": "22"}


def test_a_route_the_provider_does_not_list_is_refused_naming_the_option(canlog_provider):
    allow_routes(canlog_provider, "15", "22")

    with pytest.raises(InvalidGatewayOption) as caught:
        send_sms(NUMBER, TEXT, gateway_options={"route": "99"})

    assert caught.value.field == "gateway_options"
    assert str(caught.value) == (
        "gateway_options for provider 'Canlog test': route '99' is not one of the provider's "
        "routes (15, 22)."
    )
    assert Message.objects.count() == 0


def test_a_listed_route_is_taken(canlog_provider, canlog_sim):
    allow_routes(canlog_provider, "15", "22")

    send_sms(NUMBER, TEXT, gateway_options={"route": "22"})
    outbox.dispatch()

    assert sent_messages(canlog_sim)["919812345678"]["route"] == "22"


def test_without_a_route_list_a_route_must_be_digits(canlog_provider):
    with pytest.raises(InvalidGatewayOption) as caught:
        send_sms(NUMBER, TEXT, gateway_options={"route": "fast"})

    assert "route must be a route id of digits" in str(caught.value)


def test_a_channel_outside_the_documents_two_is_refused(canlog_provider):
    with pytest.raises(InvalidGatewayOption) as caught:
        send_sms(NUMBER, TEXT, gateway_options={"channel": "Bulk"})

    assert "channel must be one of Trans, Promo, not 'Bulk'" in str(caught.value)


def test_an_option_the_gateway_does_not_take_per_message_is_refused(canlog_provider):
    with pytest.raises(InvalidGatewayOption) as caught:
        send_sms(NUMBER, TEXT, gateway_options={"scheduling": "gateway"})

    assert "Canlog has no per-message option 'scheduling' (it takes channel, route)" in str(
        caught.value
    )


def test_a_gateway_without_per_message_options_refuses_them(unified_provider):
    with pytest.raises(InvalidGatewayOption) as caught:
        send_sms(NUMBER, TEXT, gateway_options={"route": "22"})

    assert "Unified Communications takes no per-message options" in str(caught.value)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["route", "22"], "gateway_options must be a dict of option names to values, not list"),
        ({"route": 1.5}, "gateway_options['route'] must be text or a whole number, not float"),
        ({"route": True}, "gateway_options['route'] must be text or a whole number, not bool"),
        ({"route": "2\x002"}, "gateway_options has U+0000 at position 1"),
    ],
    ids=["list", "float", "bool", "nul"],
)
def test_gateway_options_of_the_wrong_shape_are_refused_naming_the_field(
    canlog_provider, options, says
):
    with pytest.raises(SmsInputError) as caught:
        send_sms(NUMBER, TEXT, gateway_options=options)

    assert caught.value.field == "gateway_options"
    assert str(caught.value).startswith(says)
    assert Message.objects.count() == 0


def test_a_group_send_carries_its_options(canlog_provider, canlog_sim):
    from helpdesk_sms.models import RecipientGroup

    group = RecipientGroup.objects.create(
        name="Field team", provider=canlog_provider, provider_group_id="7"
    )

    send_sms(None, TEXT, group=group, gateway_options=PROMO)
    outbox.dispatch()

    assert {(m["channel"], m["route"]) for m in canlog_sim.state()["messages"]} == {
        ("Promo", "22")
    }


# -- templates ------------------------------------------------------------------------------


def test_a_templates_channel_and_route_reach_the_gateway(canlog_provider, canlog_sim):
    promo_template(canlog_provider, PROMO)

    Ticket.objects.create(title="Offer", customer_name="Ravi", customer_phone=NUMBER)
    outbox.dispatch()

    sent = sent_messages(canlog_sim)["919812345678"]
    assert (sent["channel"], sent["route"]) == ("Promo", "22")
    assert Message.objects.get().gateway_options == PROMO


def test_a_template_route_the_provider_does_not_list_is_refused_when_saved(canlog_provider):
    allow_routes(canlog_provider, "15")
    template = NotificationTemplate(
        name="Offer",
        event="ticket_created",
        audience="customer",
        body="Hello",
        provider=canlog_provider,
        gateway_options={"route": "22"},
    )

    with pytest.raises(ValidationError) as caught:
        template.full_clean()

    assert caught.value.message_dict["gateway_options"] == [
        "Route '22' is not one of the provider's routes (15)."
    ]


def test_template_gateway_options_need_a_provider(db):
    template = NotificationTemplate(
        name="Offer",
        event="ticket_created",
        audience="customer",
        body="Hello",
        gateway_options={"route": "22"},
    )

    with pytest.raises(ValidationError) as caught:
        template.full_clean()

    assert caught.value.message_dict["gateway_options"] == [
        "Gateway options need a provider: choose the provider they are for."
    ]


def test_a_template_whose_route_the_provider_no_longer_allows_fails_its_messages_unsent(
    canlog_provider, canlog_sim
):
    promo_template(canlog_provider, PROMO)
    allow_routes(canlog_provider, "15")

    Ticket.objects.create(title="Offer", customer_name="Ravi", customer_phone=NUMBER)
    outbox.dispatch()

    message = Message.objects.get()
    assert (message.status, message.error_category) == (Status.FAILED, "invalid_input")
    assert "route '22' is not one of the provider's routes (15)" in message.error_text
    assert canlog_sim.state()["requests"] == []


def test_the_template_page_offers_gateway_options_and_refuses_a_bad_route(
    canlog_provider, admin_client
):
    allow_routes(canlog_provider, "15")
    template = promo_template(canlog_provider, {})
    change = reverse("admin:helpdesk_sms_notificationtemplate_change", args=[template.pk])

    response = admin_client.post(
        change,
        {
            "name": template.name,
            "event": template.event,
            "audience": template.audience,
            "body": template.body,
            "is_active": "on",
            "provider": canlog_provider.pk,
            "gateway_options": '{"route": "22"}',
        },
    )

    assert response.status_code == 200
    assert "Route &#x27;22&#x27; is not one of the provider&#x27;s routes (15)." in (
        response.content.decode()
    )
    template.refresh_from_db()
    assert template.gateway_options == {}


def test_the_message_page_shows_its_gateway_options(canlog_provider, admin_client):
    [message] = send_sms(NUMBER, TEXT, gateway_options=PROMO)

    response = admin_client.get(reverse("admin:helpdesk_sms_message_change", args=[message.pk]))

    html = response.content.decode()
    shown = re.search(r'field-gateway_options.*?<div class="readonly">(.*?)</div>', html, re.S)
    assert shown is not None
    assert json.loads(unescape(shown.group(1))) == PROMO  # any key order (jsonb sorts them)


# -- the provider's own options -------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"channel": "Bulk"}, "The channel option must be one of Trans, Promo."),
        ({"routes": "15,22"}, "The routes option must be a list of route ids"),
        ({"routes": ["15"], "route": "22"}, "Route '22' is not one of the provider's routes (15)."),
    ],
    ids=["channel", "routes-not-a-list", "route-not-listed"],
)
def test_bad_channel_and_route_options_are_refused_when_the_provider_is_saved(
    canlog_provider, options, problem
):
    canlog_provider.options = options

    with pytest.raises(ValidationError) as caught:
        canlog_provider.full_clean()

    assert caught.value.message_dict["options"][0].startswith(problem)


def test_the_simulator_refuses_a_route_the_account_does_not_have(canlog_provider):
    sim = CanlogSimulator(api_key=CANLOG_API_KEY, route_ids=["15"])
    canlog_provider.base_url = sim.start()
    canlog_provider.save()
    try:
        [message] = send_sms(NUMBER, TEXT, gateway_options={"route": "22"})
        outbox.dispatch()
    finally:
        sim.stop()

    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, "006")
    assert message.error_text == "error: invalid route 22"
