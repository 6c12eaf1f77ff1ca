"""Prices and costs: what a provider charges, what each message is estimated and billed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from helpdesk_sms.models import Provider, ProviderPrice
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
