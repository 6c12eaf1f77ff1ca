"""Reading a customer's SMS from a push: one suite run against every gateway adapter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from helpdesk_sms.gateways import registry
from helpdesk_sms.gateways.base import Capability
from helpdesk_sms.gateways.inbound import PRESETS, InboundFieldError
from helpdesk_sms.models import Provider

GATEWAYS = ["atl", "canlog", "sms1601", "smsclone", "unified"]


def make(gateway: str, **options) -> Provider:
    return Provider(name=gateway, gateway=gateway, options=options, timezone="Asia/Kolkata")


def push_for(gateway: str, **values: str) -> dict[str, str]:
    """A push in the gateway's default preset shape, by our field names."""
    fields = PRESETS[registry.gateway_class(gateway).inbound_preset].fields
    return {fields[name]: value for name, value in values.items() if fields[name]}


@pytest.fixture(params=GATEWAYS)
def gateway(request) -> str:
    return request.param


def test_every_adapter_declares_the_inbound_capability(gateway):
    assert registry.gateway_class(gateway).has(Capability.INBOUND)


def test_1601sms_defaults_to_its_own_preset_and_the_others_to_generic(gateway):
    expected = "sms1601" if gateway == "sms1601" else "generic"
    assert registry.gateway_class(gateway).inbound_preset == expected


def test_a_push_in_the_preset_shape_is_read(gateway):
    data = push_for(gateway, sender="919812345678", recipient="HELPDK", text="Yes, thanks")
    data.update(push_for(gateway, gateway_id="abc-1"))

    sms = make(gateway).get_gateway().parse_inbound(data)

    assert (sms.sender, sms.recipient, sms.text, sms.gateway_id) == (
        "+919812345678",
        "HELPDK",
        "Yes, thanks",
        "abc-1",
    )


def test_parameter_names_are_matched_in_any_case(gateway):
    data = {k.upper(): v for k, v in push_for(gateway, sender="+919812345678", text="hi").items()}

    assert make(gateway).get_gateway().parse_inbound(data).text == "hi"


def test_a_national_sender_is_read_in_the_providers_default_region(gateway):
    provider = make(gateway)
    provider.default_region = "NL"

    sms = provider.get_gateway().parse_inbound(push_for(gateway, sender="0612345678", text="x"))

    assert sms.sender == "+31612345678"


def test_a_field_mapping_override_renames_parameters(gateway):
    provider = make(gateway, inbound_fields={"sender": "msisdn", "text": "message"})

    sms = provider.get_gateway().parse_inbound({"msisdn": "+919812345678", "message": "ok"})

    assert (sms.sender, sms.text) == ("+919812345678", "ok")


def test_another_preset_can_be_chosen(gateway):
    provider = make(gateway, inbound_preset="generic")

    sms = provider.get_gateway().parse_inbound({"from": "+919812345678", "text": "ok"})

    assert sms.text == "ok"


@pytest.mark.parametrize(
    ("missing", "field"), [({"text": "x"}, "sender"), ({"sender": "+919812345678"}, "text")]
)
def test_a_push_without_sender_or_text_is_refused_naming_it(gateway, missing, field):
    with pytest.raises(InboundFieldError) as caught:
        make(gateway).get_gateway().parse_inbound(push_for(gateway, **missing))

    assert caught.value.field == field
    assert field in str(caught.value)


def test_a_sender_that_is_not_a_number_is_refused(gateway):
    with pytest.raises(InboundFieldError, match="not a phone number"):
        make(gateway).get_gateway().parse_inbound(push_for(gateway, sender="VODAFONE", text="x"))


def test_a_bad_field_mapping_is_refused_on_save_naming_the_field(gateway):
    provider = make(gateway, inbound_fields={"sender": "", "colour": "c"})

    with pytest.raises(ValidationError) as caught:
        provider.clean()

    text = " ".join(caught.value.message_dict["options"]).lower()
    assert "inbound_fields['sender'] may not be empty" in text
    assert "no field 'colour'" in text


def test_an_unknown_preset_is_refused_on_save(gateway):
    with pytest.raises(ValidationError, match="(?i)inbound_preset must be one of"):
        make(gateway, inbound_preset="kannel2").clean()


def test_a_time_format_without_a_directive_is_refused_on_save(gateway):
    with pytest.raises(ValidationError, match="(?i)inbound_time_format"):
        make(gateway, inbound_time_format="yyyymmdd").clean()


# -- preset details ------------------------------------------------------------------


def test_the_generic_time_is_read_in_the_providers_clock():
    data = {"from": "+919812345678", "text": "x", "time": "2026-03-01 10:30:00"}

    sms = make("unified").get_gateway().parse_inbound(data)

    assert sms.received_at == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    assert sms.time_given


def test_the_generic_time_may_be_unix_seconds():
    data = {"from": "+919812345678", "text": "x", "time": "1772359200"}

    sms = make("canlog").get_gateway().parse_inbound(data)

    assert sms.received_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_an_unreadable_time_falls_back_to_now():
    data = {"from": "+919812345678", "text": "x", "time": "yesterday"}

    sms = make("atl").get_gateway().parse_inbound(data)

    assert not sms.time_given
    assert abs((datetime.now(UTC) - sms.received_at).total_seconds()) < 60


def test_the_1601sms_datum_is_read_as_yyyymmdduummss():
    data = {"van": "31612345678", "naar": "3197000000", "bericht": "Ja", "datum": "20260301103000"}

    sms = make("sms1601").get_gateway().parse_inbound(data)

    assert (sms.sender, sms.recipient, sms.text) == ("+31612345678", "3197000000", "Ja")
    assert sms.received_at == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)


def test_a_custom_time_format_is_used():
    provider = make("unified", inbound_time_format="%d/%m/%Y %H:%M")
    data = {"from": "+919812345678", "text": "x", "time": "01/03/2026 10:30"}

    assert provider.get_gateway().parse_inbound(data).received_at.astimezone(UTC).hour == 5


def test_ucs2_hex_text_is_decoded_when_the_coding_says_ucs2():
    data = {"from": "+919812345678", "text": "0928092E0938094D09240947", "coding": "2"}

    sms = make("unified").get_gateway().parse_inbound(data)

    assert (sms.text, sms.encoding) == ("नमस्ते", "ucs2")


def test_text_already_in_unicode_is_kept_when_the_coding_says_ucs2():
    data = {"from": "+919812345678", "text": "नमस्ते", "coding": "2"}

    assert make("unified").get_gateway().parse_inbound(data).text == "नमस्ते"


def test_hex_looking_text_is_kept_without_a_ucs2_coding():
    data = {"from": "+919812345678", "text": "CAFE", "coding": "0"}

    sms = make("unified").get_gateway().parse_inbound(data)

    assert (sms.text, sms.encoding) == ("CAFE", "gsm7")


def test_the_gateway_id_is_the_deduplication_key():
    gateway = make("unified").get_gateway()
    one = gateway.parse_inbound({"from": "+919812345678", "text": "a", "id": "77"})
    two = gateway.parse_inbound({"from": "+919812345678", "text": "b", "id": "77"})

    assert one.dedup_key() == two.dedup_key() == "id:77"


def test_without_an_id_sender_text_and_time_make_the_key():
    gateway = make("unified").get_gateway()
    base = {"from": "+919812345678", "text": "a", "time": "2026-03-01 10:30:00"}
    same = gateway.parse_inbound(base).dedup_key()

    assert gateway.parse_inbound(dict(base)).dedup_key() == same
    assert gateway.parse_inbound({**base, "text": "b"}).dedup_key() != same
    assert gateway.parse_inbound({**base, "time": "2026-03-01 10:31:00"}).dedup_key() != same


def test_a_repeat_in_the_next_slot_finds_the_key_of_the_first_push():
    from helpdesk_sms.gateways.inbound import InboundSms

    def sms(second: int) -> InboundSms:
        at = datetime(2026, 3, 1, 12, 9, 59, tzinfo=UTC).timestamp() + second
        return InboundSms("+919812345678", "", "STOP", received_at=datetime.fromtimestamp(at, UTC))

    first, repeat = sms(0), sms(4)  # 12:09:59 and 12:10:03: two ten-minute slots

    assert repeat.dedup_key() != first.dedup_key()
    assert repeat.earlier_dedup_key() == first.dedup_key()


def test_a_push_with_its_own_id_or_time_has_no_earlier_key():
    from helpdesk_sms.gateways.inbound import InboundSms

    with_id = InboundSms("+919812345678", "", "STOP", gateway_id="g-1")
    with_time = InboundSms("+919812345678", "", "STOP", time_text="2026-03-01 10:30:00")

    assert (with_id.earlier_dedup_key(), with_time.earlier_dedup_key()) == (None, None)
