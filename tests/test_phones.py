"""Phone number normalisation: E.164 out, a clear reason for every number refused."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from helpdesk_sms.phones import (
    PhoneNumberError,
    country_code,
    format_for_gateway,
    normalize,
    region_of,
)


def _type_of(e164: str) -> int:
    """phonenumbers' own verdict, so the test data stays honest if its metadata changes."""
    number = phonenumbers.parse(e164, None)
    assert phonenumbers.is_valid_number(number), e164
    return phonenumbers.number_type(number)


@pytest.fixture
def no_default_region(settings):
    settings.HELPDESK_SMS = {"DEFAULT_REGION": None}


@pytest.fixture
def default_region_in(settings):
    settings.HELPDESK_SMS = {"DEFAULT_REGION": "IN"}


# --- accepted ----------------------------------------------------------------------------------


def test_indian_mobile_with_country_code(no_default_region) -> None:
    assert _type_of("+919812345678") == PhoneNumberType.MOBILE
    assert normalize("+91 98123 45678") == "+919812345678"


def test_national_indian_mobile_with_region_argument(no_default_region) -> None:
    assert _type_of("+919876543210") == PhoneNumberType.MOBILE
    assert normalize("09876543210", region="IN") == "+919876543210"


def test_national_number_uses_default_region_setting(default_region_in) -> None:
    assert normalize("098765 43210") == "+919876543210"


def test_region_argument_is_case_insensitive(no_default_region) -> None:
    assert normalize("09876543210", region="in") == "+919876543210"


def test_international_prefix_00_with_region(no_default_region) -> None:
    assert normalize("0091 98123 45678", region="IN") == "+919812345678"


def test_country_code_wins_over_region(default_region_in) -> None:
    assert normalize("+31 6 12345678") == "+31612345678"


def test_nigerian_mobile(no_default_region) -> None:
    assert _type_of("+2348031234567") == PhoneNumberType.MOBILE
    assert normalize("+234 803 123 4567") == "+2348031234567"


def test_nigerian_national_mobile_with_region(no_default_region) -> None:
    assert normalize("0803 123 4567", region="NG") == "+2348031234567"


def test_azerbaijani_mobile(no_default_region) -> None:
    assert _type_of("+994501234567") == PhoneNumberType.MOBILE
    assert normalize("+994 50 123 45 67") == "+994501234567"


def test_dutch_mobile(no_default_region) -> None:
    assert _type_of("+31612345678") == PhoneNumberType.MOBILE
    assert normalize("+31 (0)6-1234 5678") == "+31612345678"


def test_fixed_line_or_mobile_is_accepted(no_default_region) -> None:
    # NANP numbers cannot be told apart; refusing them would refuse every US mobile.
    assert _type_of("+12015550123") == PhoneNumberType.FIXED_LINE_OR_MOBILE
    assert normalize("+1 201-555-0123") == "+12015550123"


# --- refused -----------------------------------------------------------------------------------


def test_empty_is_rejected(no_default_region) -> None:
    with pytest.raises(PhoneNumberError, match=r"^The phone number is empty\.$"):
        normalize("   ")


def test_letters_are_rejected(no_default_region) -> None:
    # phonenumbers alone would read the letters as keypad digits.
    with pytest.raises(PhoneNumberError, match=r"^'\+91 98 FLOWERS' contains letters"):
        normalize("+91 98 FLOWERS")


def test_too_short_is_rejected(no_default_region) -> None:
    with pytest.raises(PhoneNumberError, match=r"^'\+9198123' is too short for a \+91 number\."):
        normalize("+9198123")


def test_too_long_is_rejected(no_default_region) -> None:
    with pytest.raises(PhoneNumberError, match=r"is too long for a \+91 number\."):
        normalize("+91 98123 456789012")


def test_number_in_no_range_in_use_is_rejected(no_default_region) -> None:
    # Ofcom's range reserved for drama: the right length, but never assigned.
    with pytest.raises(PhoneNumberError, match=r"^'\+441632960961' is not a valid \+44 number"):
        normalize("+441632960961")


def test_unknown_country_code_is_rejected(no_default_region) -> None:
    with pytest.raises(PhoneNumberError, match="does not start with a known country code"):
        normalize("+999 1234567")


def test_not_a_number_is_rejected(no_default_region) -> None:
    with pytest.raises(PhoneNumberError, match=r"^'--' is not a phone number\.$"):
        normalize("--", region="IN")


def test_fixed_line_is_rejected(no_default_region) -> None:
    assert _type_of("+441212345678") == PhoneNumberType.FIXED_LINE
    with pytest.raises(
        PhoneNumberError,
        match=r"^'\+441212345678' is a fixed-line number; SMS needs a mobile number\.$",
    ):
        normalize("+441212345678")


def test_premium_rate_is_rejected(no_default_region) -> None:
    assert _type_of("+449012345678") == PhoneNumberType.PREMIUM_RATE
    with pytest.raises(PhoneNumberError, match="is a premium-rate number; SMS needs a mobile"):
        normalize("+449012345678")


def test_toll_free_is_rejected(no_default_region) -> None:
    assert _type_of("+911800123456") == PhoneNumberType.TOLL_FREE
    with pytest.raises(PhoneNumberError, match="is a toll-free number; SMS needs a mobile"):
        normalize("+911800123456")


def test_pager_is_rejected(no_default_region) -> None:
    assert _type_of("+31662345678") == PhoneNumberType.PAGER
    with pytest.raises(PhoneNumberError, match="is a pager number"):
        normalize("+31662345678")


def test_short_code_is_rejected(no_default_region) -> None:
    with pytest.raises(PhoneNumberError, match=r"^'112' is a short code; SMS needs a full mobile"):
        normalize("112", region="NL")


def test_extension_is_rejected(no_default_region) -> None:
    with pytest.raises(PhoneNumberError, match="has an extension"):
        normalize("+1 201 555 0123 #12")


def test_national_number_without_region_asks_for_country_code(no_default_region) -> None:
    with pytest.raises(
        PhoneNumberError,
        match=r"^'09876543210' has no country code and no default region is set; "
        r"add the country code",
    ):
        normalize("09876543210")


def test_national_number_with_unknown_region_asks_for_country_code(no_default_region) -> None:
    with pytest.raises(PhoneNumberError, match=r"region 'XX' is not known; add the country code"):
        normalize("09876543210", region="XX")


def test_error_is_a_value_error(no_default_region) -> None:
    # Callers that only know ValueError (forms, serializers) still catch it.
    assert issubclass(PhoneNumberError, ValueError)


# --- helpers on stored numbers -----------------------------------------------------------------


def test_format_for_gateway_drops_the_plus_by_default() -> None:
    assert format_for_gateway("+919812345678") == "919812345678"


def test_format_for_gateway_keeps_the_plus_on_request() -> None:
    assert format_for_gateway("+919812345678", plus=True) == "+919812345678"


def test_format_for_gateway_refuses_non_e164() -> None:
    with pytest.raises(PhoneNumberError, match="is not an E.164 number"):
        format_for_gateway("09876543210")


def test_country_code_of_stored_number() -> None:
    assert country_code("+2348031234567") == 234


def test_region_of_stored_number() -> None:
    assert region_of("+919812345678") == "IN"
    assert region_of("+994501234567") == "AZ"


def test_region_of_shared_country_code_uses_number_range() -> None:
    assert region_of("+14165550123") == "CA"
