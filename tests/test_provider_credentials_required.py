"""An active provider is refused without the credentials its gateway logs in with."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from helpdesk_sms.models import Provider

from .test_commands import refused

pytestmark = pytest.mark.django_db


def clean_errors(**fields) -> dict[str, list[str]]:
    provider = Provider(name="P", **fields)
    with pytest.raises(ValidationError) as caught:
        provider.full_clean()
    return caught.value.message_dict


def test_a_provider_without_its_password_is_refused_naming_the_password():
    errors = clean_errors(gateway="sms1601", username="acme")

    assert errors == {
        "password": [
            "1601SMS logs in with the username and password: the password is missing. Enter "
            "it, or untick “active” until you have it."
        ]
    }


def test_a_gateway_that_takes_an_api_key_or_a_login_names_both_ways():
    errors = clean_errors(gateway="canlog")

    assert errors == {
        "api_key": [
            "Canlog logs in with the API key, or the username and password: the API key is "
            "missing. Enter it, or untick “active” until you have it."
        ]
    }


def test_the_api_key_stands_in_for_the_password_where_the_gateway_allows_it():
    provider = Provider(name="P", gateway="unified", username="acme", api_key="k")

    provider.full_clean()  # no error


def test_an_inactive_provider_may_be_saved_without_credentials():
    Provider(name="P", gateway="smsclone", is_active=False).full_clean()


def test_a_gateway_that_needs_no_credentials_is_not_asked_for_any():
    Provider(name="P", gateway="console").full_clean()


def test_the_admin_form_shows_the_missing_credential_on_its_field(admin_client):
    response = admin_client.post(
        reverse("admin:helpdesk_sms_provider_add"),
        {
            "name": "Clone",
            "gateway": "smsclone",
            "is_active": "on",
            "priority": "100",
            "username": "acme",
            "options": "{}",
            "timezone": "UTC",
            "senders-TOTAL_FORMS": "0",
            "senders-INITIAL_FORMS": "0",
            "prices-TOTAL_FORMS": "0",
            "prices-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["password"] == [
        "smsclone.com logs in with the username and password: the password is missing. "
        "Enter it, or untick “active” until you have it."
    ]
    assert not Provider.objects.exists()


def test_the_command_line_add_names_the_missing_option():
    error = refused("sms_provider", "add", "S", "--gateway", "smsclone", "--username", "acme")

    assert str(error).startswith("--password: smsclone.com logs in with the username and password")
    assert not Provider.objects.exists()


def test_clearing_the_only_password_of_an_active_provider_is_refused():
    Provider.objects.create(name="S", gateway="smsclone", username="acme", password="pw")

    error = refused("sms_provider", "set", "S", "--clear-password")

    assert "the password is missing" in str(error)
    assert Provider.objects.get().password == "pw"


def test_the_provider_list_warns_of_a_balance_without_a_threshold(admin_client):
    Provider.objects.create(name="Clone", gateway="smsclone", username="a", password="p")

    page = admin_client.get(reverse("admin:helpdesk_sms_provider_changelist")).content.decode()

    assert "no threshold set" in page


def test_a_provider_with_a_threshold_shows_it_and_no_warning(admin_client):
    Provider.objects.create(
        name="Clone", gateway="smsclone", username="a", password="p", low_balance_threshold=50
    )

    page = admin_client.get(reverse("admin:helpdesk_sms_provider_changelist")).content.decode()

    assert "no threshold set" not in page and "50.00" in page


def test_the_change_page_warns_of_a_missing_threshold(admin_client):
    provider = Provider.objects.create(name="Clone", gateway="smsclone", username="a", password="p")

    page = admin_client.get(
        reverse("admin:helpdesk_sms_provider_change", args=[provider.pk])
    ).content.decode()

    assert "Nobody is warned when the balance runs low" in page
