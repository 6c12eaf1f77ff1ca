"""Provider validation: what the admin and the CLI refuse before anything is saved."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from helpdesk_sms.models import Provider

pytestmark = pytest.mark.django_db


def clean_errors(**fields) -> dict[str, list[str]]:
    provider = Provider(**{"name": "P", "gateway": "memory", **fields})
    with pytest.raises(ValidationError) as error:
        provider.full_clean()
    return error.value.message_dict


def test_gateway_scheduling_is_refused_for_a_gateway_that_cannot_schedule():
    errors = clean_errors(gateway="console", options={"scheduling": "gateway"})

    assert "cannot schedule" in " ".join(errors["options"])


def test_an_unknown_option_is_refused_naming_the_known_ones():
    errors = clean_errors(options={"chanel": "Trans"})

    assert "chanel" in errors["options"][0]
    assert "scheduling" in errors["options"][0]


def test_allowed_countries_must_be_two_letter_regions():
    errors = clean_errors(allowed_countries="IN, India")

    assert errors["allowed_countries"] == ["INDIA is not a two-letter region code."]


def test_default_region_must_be_two_letters():
    errors = clean_errors(default_region="I1")

    assert "two-letter region" in errors["default_region"][0]


def test_an_unknown_time_zone_is_refused():
    errors = clean_errors(timezone="Mars/Olympus")

    assert "not a known time zone" in errors["timezone"][0]


def test_an_invalid_option_value_is_refused_with_the_gateways_words():
    errors = clean_errors(gateway="smsclone", options={"route": "scenic"})

    assert errors["options"] == [
        "Unknown smsclone route 'scenic'; use one of normal, dnd, dnd-fallback."
    ]
