"""Phone numbers: parse, validate for SMS and store as E.164.

Numbers are stored in one form (E.164, ``+919812345678``) so that delivery reports, which carry
bare digits, can be matched back, and each gateway gets the form it wants from
``format_for_gateway``. A number is refused here, with a sentence an agent can act on, rather
than paid for and lost at the gateway.

Decisions:

* National input (``09876543210``) needs a region: the ``region`` argument, else
  ``HELPDESK_SMS["DEFAULT_REGION"]``. Without one the number must start with ``+`` and is
  otherwise refused with a hint to add the country code.
* Accepted types: MOBILE, FIXED_LINE_OR_MOBILE (where the plan cannot tell, e.g. +1), VOIP and
  PERSONAL_NUMBER (many of these receive SMS; a failed delivery shows in the report), and
  UNKNOWN when the number is otherwise valid. Refused: FIXED_LINE, PREMIUM_RATE, TOLL_FREE,
  SHARED_COST, UAN, VOICEMAIL, PAGER, short codes, extensions, and anything containing letters
  (phonenumbers would read ``1-800-FLOWERS`` as digits, which is never what a customer meant).
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult, shortnumberinfo

from . import conf

_E164 = re.compile(r"\+[1-9]\d{1,14}")

#: Number types that cannot receive an SMS, and how to say so.
REJECTED_TYPES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "a fixed-line number",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.UAN: "a universal access (company) number",
    PhoneNumberType.VOICEMAIL: "a voicemail access number",
    PhoneNumberType.PAGER: "a pager number",
}


class PhoneNumberError(ValueError):
    """A number that cannot be texted, with the reason."""


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber:
    """phonenumbers.parse with each failure turned into a sentence."""
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException as exc:
        kind = exc.error_type
    if kind == NumberParseException.INVALID_COUNTRY_CODE:
        if text.startswith("+"):
            reason = "does not start with a known country code"
        elif region is None:
            reason = (
                "has no country code and no default region is set; "
                "add the country code, e.g. +91 98123 45678"
            )
        else:
            reason = (
                f"has no country code and the region {region!r} is not known; "
                "add the country code, e.g. +91 98123 45678"
            )
    elif kind in (NumberParseException.TOO_SHORT_NSN, NumberParseException.TOO_SHORT_AFTER_IDD):
        reason = "is too short to be a phone number"
    elif kind == NumberParseException.TOO_LONG:
        reason = "is too long to be a phone number"
    else:
        reason = "is not a phone number"
    raise PhoneNumberError(f"{text!r} {reason}.")


def normalize(raw: str, region: str | None = None) -> str:
    """``raw`` as E.164 (``+919812345678``), or PhoneNumberError saying why it cannot be texted."""
    text = (raw or "").strip()
    if not text:
        raise PhoneNumberError("The phone number is empty.")
    if any(c.isalpha() for c in text):
        raise PhoneNumberError(f"{text!r} contains letters; write the number with digits only.")
    if region is None:
        region = conf.get("DEFAULT_REGION")
    region = region.strip().upper() if region else None

    number = _parse(text, region)
    if number.extension:
        raise PhoneNumberError(f"{text!r} has an extension; SMS needs a number without one.")

    if not phonenumbers.is_valid_number(number):
        # Short codes are dialled without a country code, so only look when none was written.
        if not text.startswith("+") and shortnumberinfo.is_valid_short_number(number):
            raise PhoneNumberError(f"{text!r} is a short code; SMS needs a full mobile number.")
        label = f"+{number.country_code}"
        possible = phonenumbers.is_possible_number_with_reason(number)
        if possible == ValidationResult.INVALID_COUNTRY_CODE:
            reason = f"starts with +{number.country_code}, which is not a country code"
        elif possible == ValidationResult.TOO_SHORT:
            reason = f"is too short for a {label} number"
        elif possible == ValidationResult.TOO_LONG:
            reason = f"is too long for a {label} number"
        elif possible == ValidationResult.INVALID_LENGTH:
            reason = f"has the wrong number of digits for a {label} number"
        elif possible == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
            reason = "is a local number; add the area code and the country code"
        else:
            reason = f"is not a valid {label} number: no such number range is in use"
        raise PhoneNumberError(f"{text!r} {reason}.")

    kind = REJECTED_TYPES.get(phonenumbers.number_type(number))
    if kind is not None:
        raise PhoneNumberError(f"{text!r} is {kind}; SMS needs a mobile number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_e164(e164: str) -> phonenumbers.PhoneNumber:
    """Parse a number already stored as E.164; anything else is a programming error."""
    if not isinstance(e164, str) or not _E164.fullmatch(e164):
        raise PhoneNumberError(f"{e164!r} is not an E.164 number; normalize() it first.")
    return phonenumbers.parse(e164, None)


def format_for_gateway(e164: str, *, plus: bool = False) -> str:
    """The digits gateways expect (``919812345678``), or with ``+`` for those that want it."""
    _parse_e164(e164)
    return e164 if plus else e164[1:]


def country_code(e164: str) -> int:
    """The country calling code, e.g. 91."""
    return int(_parse_e164(e164).country_code or 0)


def region_of(e164: str) -> str:
    """The ISO region the number belongs to, e.g. "IN" ("001" for non-geographic numbers).

    Shared calling codes (+1, +7, +44...) are resolved by number range; an unknown range
    falls back to the code's main region.
    """
    number = _parse_e164(e164)
    region = phonenumbers.region_code_for_number(number)
    return region or phonenumbers.region_code_for_country_code(number.country_code or 0)


def check_allowed(e164: str, allowed: list[str], *, provider_name: str = "") -> None:
    """Refuse a number outside the allowed destination countries (SMS-pumping protection)."""
    if not allowed:
        return
    region = region_of(e164)
    if region not in allowed:
        whose = f" for provider {provider_name!r}" if provider_name else ""
        raise PhoneNumberError(
            f"{e164} is a number in {region}, which is not an allowed destination{whose} "
            f"(allowed: {', '.join(allowed)})."
        )


def country_of(e164: str) -> str:
    """The destination country stored on a message: ``region_of`` without its cost where it can.

    A calling code that belongs to one region (+91, +234…, most of them) names the country
    by its digits alone, with no parse; only shared codes (+1, +7, +44…) are parsed by
    number range. Anything that is not E.164 (a group send, an unsendable number kept for
    the record) has no country: "".
    """
    if not isinstance(e164, str) or not _E164.fullmatch(e164):
        return ""
    for length in (1, 2, 3):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(e164[1 : 1 + length]))
        if regions is None:
            continue
        if len(regions) == 1:
            return regions[0][:2] if regions[0] != "001" else ""
        try:
            region = region_of(e164)
        except (PhoneNumberError, NumberParseException):
            return regions[0]
        return region if region != "001" else ""
    return ""
