"""Prices and costs: what a provider charges, what each message is estimated and billed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk_sms import outbox, reports
from helpdesk_sms.api import send_sms
from helpdesk_sms.gateways.base import (
    DeliveryReport,
    DeliveryStatus,
    ErrorCategory,
    GatewayError,
)
from helpdesk_sms.gateways.memory import MemoryGateway
from helpdesk_sms.models import (
    Message,
    NotificationTemplate,
    Provider,
    ProviderPrice,
    RecipientGroup,
)
from helpdesk_sms.states import Source, Status
from project.demo.models import Ticket
from tests.test_admin import provider_form_data

pytestmark = pytest.mark.django_db


def change_url(provider: Provider) -> str:
    return reverse("admin:helpdesk_sms_provider_change", args=[provider.pk])


def test_provider_admin_saves_a_price_with_its_currency_and_a_price_per_country(
    admin_client, memory_provider
):
    data = provider_form_data(
        memory_provider,
        price_per_part="0.0035",
        currency="eur",
        **{
            "prices-TOTAL_FORMS": "1",
            "prices-0-region": "NL",
            "prices-0-price_per_part": "0.0700",
        },
    )

    response = admin_client.post(change_url(memory_provider), data)

    assert response.status_code == 302, response.context["errors"]
    memory_provider.refresh_from_db()
    assert memory_provider.price_per_part == Decimal("0.0035")
    assert memory_provider.currency == "EUR"
    assert list(memory_provider.prices.values_list("region", "price_per_part")) == [
        ("NL", Decimal("0.0700"))
    ]


def test_provider_admin_refuses_a_currency_that_is_not_an_iso_code(admin_client, memory_provider):
    data = provider_form_data(memory_provider, price_per_part="0.01", currency="EU1")

    response = admin_client.post(change_url(memory_provider), data)

    assert response.status_code == 200
    assert (
        "not an ISO 4217 currency code" in response.context["adminform"].form.errors["currency"][0]
    )


def test_provider_admin_refuses_a_price_without_a_currency(admin_client, memory_provider):
    data = provider_form_data(memory_provider, price_per_part="0.01")

    response = admin_client.post(change_url(memory_provider), data)

    assert response.status_code == 200
    assert "currency of the price" in response.context["adminform"].form.errors["currency"][0]


def test_provider_admin_refuses_two_prices_for_one_country(admin_client, memory_provider):
    data = provider_form_data(
        memory_provider,
        price_per_part="0.01",
        currency="INR",
        **{
            "prices-TOTAL_FORMS": "2",
            "prices-0-region": "IN",
            "prices-0-price_per_part": "0.10",
            "prices-1-region": "IN",
            "prices-1-price_per_part": "0.20",
        },
    )

    response = admin_client.post(change_url(memory_provider), data)

    assert response.status_code == 200
    assert not ProviderPrice.objects.exists()


def test_provider_admin_refuses_a_region_that_is_not_two_letters(admin_client, memory_provider):
    data = provider_form_data(
        memory_provider,
        price_per_part="0.01",
        currency="INR",
        **{"prices-TOTAL_FORMS": "1", "prices-0-region": "IND", "prices-0-price_per_part": "1"},
    )

    response = admin_client.post(change_url(memory_provider), data)

    assert response.status_code == 200
    assert not ProviderPrice.objects.exists()


def test_provider_admin_refuses_prices_per_country_without_a_currency(
    admin_client, memory_provider
):
    data = provider_form_data(
        memory_provider,
        **{"prices-TOTAL_FORMS": "1", "prices-0-region": "IN", "prices-0-price_per_part": "1"},
    )

    response = admin_client.post(change_url(memory_provider), data)

    assert response.status_code == 200
    assert "set the currency" in str(
        response.context["inline_admin_formsets"][1].formset.non_form_errors()
    )
    assert not ProviderPrice.objects.exists()


# -- the estimate, at compose ------------------------------------------------------------

INDIA = "+919812345678"
NETHERLANDS = "+31612345678"
LONG_TEXT = "x" * 161  # two GSM-7 parts


@pytest.fixture
def priced_provider(memory_provider):
    """0.0035 EUR a part, 0.07 to Dutch numbers."""
    memory_provider.price_per_part = Decimal("0.0035")
    memory_provider.currency = "EUR"
    memory_provider.save()
    ProviderPrice.objects.create(
        provider=memory_provider, region="NL", price_per_part=Decimal("0.07")
    )
    return memory_provider


def test_a_message_is_estimated_at_its_parts_times_the_price(priced_provider):
    [message] = send_sms(INDIA, LONG_TEXT)

    stored = Message.objects.get(pk=message.pk)
    assert (stored.parts, stored.estimated_cost, stored.currency) == (2, Decimal("0.0070"), "EUR")
    assert stored.cost is None  # not billed before the gateway accepts it


def test_a_number_in_a_country_with_its_own_price_is_estimated_at_that_price(priced_provider):
    messages = send_sms([INDIA, NETHERLANDS], "Hello")

    estimates = {m.recipient: m.estimated_cost for m in messages}
    stored = dict(Message.objects.values_list("recipient", "estimated_cost"))
    assert estimates == stored == {INDIA: Decimal("0.0035"), NETHERLANDS: Decimal("0.0700")}


def test_a_provider_without_prices_leaves_the_estimate_empty(memory_provider):
    [message] = send_sms(INDIA, "Hello")

    stored = Message.objects.get(pk=message.pk)
    assert (stored.estimated_cost, stored.currency) == (None, "")


def test_prices_are_read_once_however_many_numbers(priced_provider):
    numbers = [f"+9198123456{i:02d}" for i in range(20)]

    with CaptureQueriesContext(connection) as queries:
        send_sms(numbers, "Hello")

    price_reads = [q for q in queries if "helpdesk_sms_providerprice" in q["sql"]]
    assert len(price_reads) == 1


def test_a_template_message_is_estimated_too(priced_provider, shipped_templates):
    Ticket.objects.create(title="Printer", customer_name="Ravi", customer_phone=NETHERLANDS)

    [message] = Message.objects.all()
    assert message.estimated_cost == Decimal("0.0700") * message.parts
    assert message.currency == "EUR"


def test_a_suppressed_template_message_has_no_estimate(priced_provider, shipped_templates):
    Ticket.objects.create(title="Printer", customer_name="Ravi", customer_phone="")

    [message] = Message.objects.all()
    assert message.status == Status.SUPPRESSED
    assert message.estimated_cost is None


# -- the final cost, when the gateway accepts ----------------------------------------------


def price(provider: Provider, per_part: str, currency: str = "INR", **regions: str) -> None:
    provider.price_per_part = Decimal(per_part)
    provider.currency = currency
    provider.save()
    for region, value in regions.items():
        ProviderPrice.objects.create(provider=provider, region=region, price_per_part=value)


def test_a_message_the_gateway_accepts_costs_its_parts_times_the_price(canlog_provider, canlog_sim):
    price(canlog_provider, "0.1500")
    [message] = send_sms(INDIA, LONG_TEXT)

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert (message.cost, message.currency) == (Decimal("0.3000"), "INR")


def test_messages_accepted_in_one_request_each_cost_their_own_price(memory_provider):
    price(memory_provider, "0.0035", "EUR", NL="0.0700")
    send_sms([INDIA, NETHERLANDS], "Hello")

    outbox.dispatch()

    assert len(MemoryGateway.outbox) == 1  # one request for both
    assert dict(Message.objects.values_list("recipient", "cost")) == {
        INDIA: Decimal("0.0035"),
        NETHERLANDS: Decimal("0.0700"),
    }


def test_a_message_the_gateway_refuses_costs_nothing(memory_provider):
    price(memory_provider, "0.15")
    [message] = send_sms(INDIA, "Hello")
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.INVALID_RECIPIENT, "bad number"))

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert message.cost is None
    assert message.estimated_cost == Decimal("0.15")


def test_a_test_mode_message_costs_nothing(sms1601_provider, sms1601_sim):
    sms1601_provider.options = {"test_mode": "ja"}
    price(sms1601_provider, "0.0700", "EUR")
    [message] = send_sms(NETHERLANDS, "Hallo")

    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.is_test) == (Status.SUPPRESSED, True)
    assert message.cost is None


def test_each_member_of_a_group_send_is_billed_at_its_countrys_price(canlog_provider, canlog_sim):
    price(canlog_provider, "0.5000", "INR", IN="0.1500")
    group = RecipientGroup.objects.create(
        name="Field team", provider=canlog_provider, provider_group_id="7"
    )
    [group_send] = send_sms(None, "Site visit at 10", group=group)

    outbox.dispatch()

    members = Message.objects.filter(parent=group_send)
    assert (
        list(members.values_list("estimated_cost", "cost", "currency"))
        == [(Decimal("0.1500"), Decimal("0.1500"), "INR")] * 2
    )
    group_send.refresh_from_db()
    assert (group_send.estimated_cost, group_send.cost) == (None, None)  # billed per member


def test_a_held_message_withdrawn_from_the_gateway_costs_nothing(memory_provider):
    memory_provider.options = {"scheduling": "gateway"}
    price(memory_provider, "0.15")
    [message] = send_sms(INDIA, "Later", send_at=timezone.now() + timedelta(hours=2))
    outbox.dispatch()
    message.refresh_from_db()
    assert message.cost == Decimal("0.15")

    assert outbox.cancel(message)

    message.refresh_from_db()
    assert (message.status, message.cost) == (Status.CANCELED, None)


def test_an_unknown_message_a_report_proves_delivered_is_billed(memory_provider):
    price(memory_provider, "0.15")
    [message] = send_sms(INDIA, "Hello")
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.AMBIGUOUS, "read timeout"))
    outbox.dispatch()
    message.refresh_from_db()
    assert (message.status, message.cost) == (Status.UNKNOWN, None)

    report = DeliveryReport("", DeliveryStatus.DELIVERED, ref=message.pk)
    reports.apply_reports(memory_provider, [report], source=Source.WEBHOOK)

    message.refresh_from_db()
    assert (message.status, message.cost) == (Status.DELIVERED, Decimal("0.15"))


# -- the admin -----------------------------------------------------------------------------


def message_list(client, **filters: str):
    return client.get(reverse("admin:helpdesk_sms_message_changelist"), filters)


def row_of(response, message: Message) -> dict[str, str]:
    """The list's cells for ``message``, by column name."""
    cl = response.context["cl"]
    obj = next(m for m in cl.result_list if m.pk == message.pk)
    admin = cl.model_admin
    return {
        "parts": str(admin.parts_shown(obj)),
        "cost": str(admin.cost_shown(obj)),
    }


def test_the_message_list_shows_what_an_accepted_message_cost(admin_client, memory_provider):
    price(memory_provider, "0.1500")
    [message] = send_sms(INDIA, LONG_TEXT)
    outbox.dispatch()

    response = message_list(admin_client)

    assert row_of(response, message) == {"parts": "2", "cost": "0.30 INR"}
    assert "0.30 INR" in response.content.decode()


def test_the_message_list_shows_a_queued_messages_estimate(admin_client, memory_provider):
    price(memory_provider, "0.0035", "EUR")
    [message] = send_sms(INDIA, "Hello")

    response = message_list(admin_client)

    assert row_of(response, message)["cost"] == "≈ 0.0035 EUR"


def test_a_suppressed_message_shows_no_parts_and_costs_nothing(
    admin_client, priced_provider, shipped_templates
):
    Ticket.objects.create(title="Printer", customer_name="Ravi", customer_phone="")
    [message] = Message.objects.all()

    response = message_list(admin_client)

    assert row_of(response, message) == {"parts": "-", "cost": "0.00"}


def test_a_refused_message_shows_no_parts_and_costs_nothing(admin_client, memory_provider):
    price(memory_provider, "0.15")
    [message] = send_sms(INDIA, "Hello")
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.INVALID_RECIPIENT, "bad number"))
    outbox.dispatch()

    response = message_list(admin_client)

    assert row_of(response, message) == {"parts": "-", "cost": "0.00 INR"}


def test_the_message_page_shows_the_estimated_and_the_final_cost(admin_client, memory_provider):
    price(memory_provider, "0.1500")
    [message] = send_sms(INDIA, LONG_TEXT)
    outbox.dispatch()

    response = admin_client.get(reverse("admin:helpdesk_sms_message_change", args=[message.pk]))

    fields = {
        line.field["name"]: line.contents()
        for fieldset in response.context["adminform"]
        for row in fieldset
        for line in row
        if hasattr(line, "contents")
    }
    assert fields["estimated_cost_shown"] == "0.30 INR"
    assert fields["cost_shown"] == "0.30 INR"


def test_the_message_list_totals_the_cost_of_the_current_filter(admin_client, memory_provider):
    price(memory_provider, "0.0035", "EUR", NL="0.0700")
    send_sms([INDIA, NETHERLANDS], "Hello")
    outbox.dispatch()
    [failed] = send_sms(INDIA, "Refused")
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.INVALID_RECIPIENT, "bad number"))
    outbox.dispatch()

    everything = message_list(admin_client)
    only_failed = message_list(admin_client, status__exact=Status.FAILED)

    assert everything.context["cost_totals"] == ["0.0735 EUR"]
    assert "Total cost of the messages this filter shows: 0.0735 EUR" in everything.content.decode()
    assert only_failed.context["cost_totals"] == ["0.00 EUR"]


def test_the_message_list_total_is_one_query_however_many_messages(admin_client, memory_provider):
    price(memory_provider, "0.0035", "EUR")
    send_sms([f"+9198123456{i:02d}" for i in range(30)], "Hello")
    outbox.dispatch()

    with CaptureQueriesContext(connection) as queries:
        message_list(admin_client)

    totals = [q for q in queries if 'SUM("helpdesk_sms_message"."cost")' in q["sql"]]
    assert len(totals) == 1


# -- the template preview ------------------------------------------------------------------


def template_page(client, provider: Provider | None, body: str) -> str:
    template = NotificationTemplate.objects.create(
        name="Ack", event="ticket_created", audience="customer", body=body, provider=provider
    )
    url = reverse("admin:helpdesk_sms_notificationtemplate_change", args=[template.pk])
    return client.get(url).content.decode()


def test_the_template_preview_says_what_a_ticket_costs_on_its_provider(
    admin_client, memory_provider
):
    price(memory_provider, "0.0035", "EUR")

    html = template_page(admin_client, memory_provider, "{{ ticket.title }} " * 10)

    assert (
        "This template costs about 0.007 EUR per ticket on provider Memory "
        "(2 parts × 0.0035 EUR)." in html
    )


def test_the_template_preview_uses_the_price_of_the_providers_region(admin_client, memory_provider):
    memory_provider.default_region = "NL"
    price(memory_provider, "0.0035", "EUR", NL="0.0700", IN="0.0020")

    html = template_page(admin_client, None, "Ticket {{ ticket.pk }}")  # the preferred provider

    assert "costs about 0.07 EUR per ticket on provider Memory (1 part × 0.07 EUR)." in html
    assert "Numbers in IN are priced differently." in html


def test_the_template_preview_says_nothing_of_cost_without_a_price(admin_client, memory_provider):
    html = template_page(admin_client, memory_provider, "Ticket {{ ticket.pk }}")

    assert "SMS parts: 1" in html
    assert "costs about" not in html
