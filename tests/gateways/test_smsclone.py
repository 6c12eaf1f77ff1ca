"""The smsclone adapter against the smsclone simulator, over real sockets on 127.0.0.1.

Nothing here mocks HTTP. Time is moved on the simulator's clock (``sim.advance``), never by
sleeping. The document's replies are replayed byte for byte through the ``body`` fault.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from helpdesk_sms import outbox, reports
from helpdesk_sms.api import send_sms
from helpdesk_sms.exceptions import UnsupportedFeature
from helpdesk_sms.gateways.base import (
    Balance,
    Capability,
    ErrorCategory,
    GatewayError,
    ReportRef,
)
from helpdesk_sms.gateways.inbound import INBOUND_OPTION_HELP
from helpdesk_sms.gateways.smsclone import (
    ERRORS,
    NUMBER_STATUSES,
    SEND_PATHS,
    SmscloneGateway,
    parse_reply,
)
from helpdesk_sms.models import Contact, Message, RecipientGroup
from helpdesk_sms.simulators import get_simulator
from helpdesk_sms.simulators.smsclone import SmscloneSimulator
from helpdesk_sms.states import Status
from tests.fixtures_smsclone import (
    SMSCLONE_DND_NUMBER,
    SMSCLONE_PASSWORD,
    SMSCLONE_SENDER,
    SMSCLONE_USER,
)
from tests.gateways.helpers import batch_maker, replay

pytestmark = pytest.mark.django_db

TEXT = "Ticket #42 received. We will call you back."
NUMBER = "+2348031234567"
OTHER = "+2348051234567"
DND = "+" + SMSCLONE_DND_NUMBER


make_batch = batch_maker(TEXT, SMSCLONE_SENDER)


def last_request(sim: SmscloneSimulator) -> dict:
    return sim.state()["requests"][-1]


def send_requests(sim: SmscloneSimulator) -> list[dict]:
    return [r for r in sim.state()["requests"] if r["path"] != "/api/sms/balance"]



def start_sim(provider, **options) -> SmscloneSimulator:
    """A simulator with ``options`` replacing the fixture's, ``provider`` pointed at it."""
    options.setdefault("user", SMSCLONE_USER)
    options.setdefault("password", SMSCLONE_PASSWORD)
    sim = SmscloneSimulator(**options)
    provider.base_url = sim.start()
    provider.save()
    return sim


# -- the document's replies, exactly as written ---------------------------------------------

#: "For Instance: … the following response will be returned" (a digit short in the 2nd number).
DOC_PROCESSED = (
    "TG00-MESSAGE PROCESSED:0000|2348012345678|9967534522177818556581618|SENT|"
    "MESSAGE SENT TO PROVIDER,3333|234803456789|6667534522177818556581618|DND_REJECTED|"
    "DND_REJECTED_NUMBER"
)
DOC_NUMBERS = ("+2348012345678", "+234803456789")

#: "The values that could be returned are" — each line as the document writes it.
DOC_TABLE_LINES = {
    "TG11": "'TG11' => 'Invalid Authentication Credentials'",
    "TG12": "'TG12' => 'Empty Username'",
    "TG13": "'TG13' => 'Empty Password'",
    "TG14": "'TG14' => 'Empty Recipients'",
    "TG15": "'TG15' => 'Empty Message'",
    "TG16": "'TG16' => 'Empty SenderID'",
    "TG17": "'TG17' => 'Not Enough Units Balance'",
    "TG18": "'TG18' => 'Blocked Words Found Sender ID'",
    "TG19": "'TG19' => 'Blocked Words Found in Message Body'",
    "TG20": "'TG20' => 'Recipients above the maximum target'",
}
DOC_TABLE_TG00 = "'TG00' => 'MESSAGE PROCESSED'"

#: A live reply: four more fields, and a stray line break inside the country.
WILD_PROCESSED = (
    "TG00-MESSAGE PROCESSED:0000|2348031234567|1623425963075808467849264|SENT|"
    "MESSAGE SENT TO PROVIDER|MTNNG|NIGERIA\n|999|0000-00-00 00:00:00,"
    "0014|2348051234567|1623425963075808467849265|DND_SENT|MESSAGE THROUGH COOPERATE\r\n"
    "DND ROUTE|GLONG|NIGERIA\r|999|0000-00-00 00:00:00\r\n"
)

EXPECTED_BATCH_CATEGORIES = {
    "TG11": ErrorCategory.AUTHENTICATION,
    "TG12": ErrorCategory.AUTHENTICATION,
    "TG13": ErrorCategory.AUTHENTICATION,
    "TG14": ErrorCategory.INVALID_RECIPIENT,
    "TG15": ErrorCategory.CONTENT_REJECTED,
    "TG16": ErrorCategory.INVALID_SENDER,
    "TG17": ErrorCategory.INSUFFICIENT_CREDIT,
    "TG18": ErrorCategory.INVALID_SENDER,
    "TG19": ErrorCategory.CONTENT_REJECTED,
    "TG20": ErrorCategory.INVALID_REQUEST,
}

#: Each number's status in a TG00 batch: None means accepted.
EXPECTED_NUMBER_OUTCOMES = {
    "0000": None,
    "2222": ErrorCategory.INVALID_RECIPIENT,
    "0014": None,
    "3333": ErrorCategory.INVALID_RECIPIENT,
}


@pytest.fixture
def gateway(smsclone_provider) -> SmscloneGateway:
    return smsclone_provider.get_gateway()


# -- sending -------------------------------------------------------------------------------


def test_single_send_returns_the_gateway_message_id(gateway, smsclone_sim):
    outcome = gateway.send(make_batch(NUMBER))

    [result] = outcome.results
    [message] = smsclone_sim.state()["messages"]
    assert result.ref == 1
    assert result.accepted
    assert result.provider_message_id == message["message_id"]
    assert len(result.provider_message_id) == 25
    assert result.raw["status"] == "SENT"


def test_single_send_passes_exactly_the_documented_parameters(gateway, smsclone_sim):
    gateway.send(make_batch(NUMBER))

    request = last_request(smsclone_sim)
    assert request["path"] == "/api/sms/sendsms"
    assert request["params"] == {
        "username": SMSCLONE_USER,
        "password": "***",
        "sender": SMSCLONE_SENDER,
        "recipient": "2348031234567",
        "message": TEXT,
    }


def test_several_numbers_go_in_one_request_with_an_id_each(gateway, smsclone_sim):
    outcome = gateway.send(make_batch(NUMBER, OTHER, "+2348021234567"))

    state = smsclone_sim.state()
    assert len(state["requests"]) == 1
    assert last_request(smsclone_sim)["params"]["recipient"] == (
        "2348031234567,2348051234567,2348021234567"
    )
    ids = {m["number"]: m["message_id"] for m in state["messages"]}
    assert [(r.ref, r.accepted, r.provider_message_id) for r in outcome.results] == [
        (1, True, ids["2348031234567"]),
        (2, True, ids["2348051234567"]),
        (3, True, ids["2348021234567"]),
    ]


def test_numbers_are_written_as_the_document_shows_them(gateway):
    assert gateway.format_number("+2348012345678") == "2348012345678"


@pytest.mark.parametrize(("route", "path"), sorted(SEND_PATHS.items()))
def test_route_option_picks_the_documented_send_path(smsclone_provider, smsclone_sim, route, path):
    smsclone_provider.options = {"route": route}

    smsclone_provider.get_gateway().send(make_batch(NUMBER))

    assert last_request(smsclone_sim)["path"] == path


def test_without_a_route_option_the_normal_route_is_used(smsclone_provider, smsclone_sim):
    smsclone_provider.options = {}

    smsclone_provider.get_gateway().send(make_batch(NUMBER))

    assert last_request(smsclone_sim)["path"] == "/api/sms/sendsms"


def test_unknown_route_is_refused_before_anything_is_sent(smsclone_provider, smsclone_sim):
    smsclone_provider.options = {"route": "express"}

    with pytest.raises(GatewayError) as caught:
        smsclone_provider.get_gateway().send(make_batch(NUMBER))

    assert caught.value.category == ErrorCategory.INVALID_REQUEST
    assert "express" in caught.value.text
    assert smsclone_sim.state()["requests"] == []


def test_dnd_number_on_the_normal_route_fails_while_the_others_are_accepted(gateway):
    outcome = gateway.send(make_batch(NUMBER, DND))

    sent, dnd = outcome.results
    assert sent.accepted
    assert not dnd.accepted
    assert dnd.error.category == ErrorCategory.INVALID_RECIPIENT
    assert dnd.error.code == "3333"
    assert dnd.error.text.startswith("DND_REJECTED_NUMBER")
    assert "dnd-fallback" in dnd.error.text
    assert dnd.raw["status"] == "DND_REJECTED"


def test_dnd_fallback_route_reaches_a_dnd_number_through_the_dnd_route(
    smsclone_provider, smsclone_sim
):
    smsclone_provider.options = {"route": "dnd-fallback"}

    outcome = smsclone_provider.get_gateway().send(make_batch(NUMBER, DND))

    normal, dnd = outcome.results
    assert normal.accepted and normal.raw["status"] == "SENT" and not normal.raw["dnd"]
    assert dnd.accepted and dnd.raw["status"] == "DND_SENT" and dnd.raw["dnd"]
    assert dnd.raw["code"] == "0014"


def test_dnd_route_sends_every_number_as_dnd_sent(smsclone_provider, smsclone_sim):
    smsclone_provider.options = {"route": "dnd"}

    outcome = smsclone_provider.get_gateway().send(make_batch(NUMBER, DND))

    assert [(r.accepted, r.raw["status"]) for r in outcome.results] == [
        (True, "DND_SENT"),
        (True, "DND_SENT"),
    ]


def test_rejected_number_fails_only_that_number_with_its_own_status(gateway, smsclone_sim):
    smsclone_sim.set_faults(reject_numbers=["2348051234567"])

    first, rejected = gateway.send(make_batch(NUMBER, OTHER)).results

    assert first.accepted
    assert not rejected.accepted
    assert (rejected.error.category, rejected.error.code, rejected.error.text) == (
        ErrorCategory.INVALID_RECIPIENT,
        "2222",
        "MESSAGE REJECTED",
    )
    assert rejected.provider_message_id  # the gateway gives rejected numbers an id too


@pytest.mark.parametrize(
    ("options", "flag"),
    [
        ({"unicode": True}, "Unicode"),
        ({"flash": True}, "flash"),
        ({"schedule_at": timezone.now() + timedelta(hours=1)}, "scheduled"),
        ({"group_id": "7"}, "groups"),
    ],
    ids=["unicode", "flash", "schedule", "group"],
)
def test_batch_asking_for_what_the_document_lacks_is_refused_unsent(
    gateway, smsclone_sim, options, flag
):
    numbers = ("",) if "group_id" in options else (NUMBER,)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(*numbers, **options))

    assert caught.value.category == ErrorCategory.INVALID_REQUEST
    assert flag in caught.value.text
    assert smsclone_sim.state()["requests"] == []


# -- replies: the document's, verbatim, and live ones --------------------------------------


def test_the_documents_example_reply_is_read_verbatim(gateway, smsclone_sim):
    replay(smsclone_sim, DOC_PROCESSED)

    sent, dnd = gateway.send(make_batch(*DOC_NUMBERS)).results

    assert sent.accepted
    assert sent.provider_message_id == "9967534522177818556581618"
    assert not dnd.accepted
    assert dnd.provider_message_id == "6667534522177818556581618"
    assert (dnd.error.category, dnd.error.code) == (ErrorCategory.INVALID_RECIPIENT, "3333")


def test_the_documents_example_answers_a_single_recipient_even_with_a_short_number(
    gateway, smsclone_sim
):
    replay(
        smsclone_sim,
        "TG00-MESSAGE PROCESSED:3333|234803456789|6667534522177818556581618|DND_REJECTED|"
        "DND_REJECTED_NUMBER",
    )

    [result] = gateway.send(make_batch("+2348034567890")).results

    assert result.error.code == "3333"


@pytest.mark.parametrize(("code", "line"), sorted(DOC_TABLE_LINES.items()))
def test_each_line_of_the_documents_code_table_is_read_verbatim(gateway, smsclone_sim, code, line):
    replay(smsclone_sim, line)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER))

    assert (caught.value.code, caught.value.category, caught.value.text) == (
        code,
        EXPECTED_BATCH_CATEGORIES[code],
        ERRORS[code][0],
    )


def test_processed_without_any_number_status_leaves_every_number_ambiguous(gateway, smsclone_sim):
    replay(smsclone_sim, DOC_TABLE_TG00)

    results = gateway.send(make_batch(NUMBER, OTHER)).results

    assert [(r.accepted, r.error.category) for r in results] == [
        (False, ErrorCategory.AMBIGUOUS),
        (False, ErrorCategory.AMBIGUOUS),
    ]


def test_a_live_reply_with_extra_fields_and_stray_line_breaks_is_read(gateway, smsclone_sim):
    replay(smsclone_sim, WILD_PROCESSED)

    first, second = gateway.send(make_batch(NUMBER, OTHER)).results

    assert first.accepted and first.provider_message_id == "1623425963075808467849264"
    assert first.raw["network"] == "MTNNG"
    assert first.raw["country"] == "NIGERIA"
    assert first.raw["delivery_date"] == "0000-00-00 00:00:00"
    assert second.accepted and second.provider_message_id == "1623425963075808467849265"
    assert second.raw["description"] == "MESSAGE THROUGH COOPERATE DND ROUTE"
    assert second.raw["dnd"] is True


def test_the_simulator_answers_in_the_documented_shape_by_default(gateway, smsclone_sim):
    gateway.send(make_batch(NUMBER))

    body = last_request(smsclone_sim)["response"]["body"]
    message_id = smsclone_sim.state()["messages"][0]["message_id"]
    assert body == (
        f"TG00-MESSAGE PROCESSED:0000|2348031234567|{message_id}|SENT|MESSAGE SENT TO PROVIDER"
    )


def test_the_simulator_answers_in_the_live_shape_with_extra_fields(smsclone_provider):
    sim = start_sim(smsclone_provider, extra_fields=True, dnd_numbers=["2348051234567"])
    smsclone_provider.options = {"route": "dnd-fallback"}
    try:
        outcome = smsclone_provider.get_gateway().send(make_batch(NUMBER, OTHER))
        body = last_request(sim)["response"]["body"]
        ids = [m["message_id"] for m in sim.state()["messages"]]
    finally:
        sim.stop()

    assert body == (
        f"TG00-MESSAGE PROCESSED:0000|2348031234567|{ids[0]}|SENT|MESSAGE SENT TO PROVIDER"
        "|MTNNG|NIGERIA\r\n|999|0000-00-00 00:00:00,"
        f"0014|2348051234567|{ids[1]}|DND_SENT|MESSAGE THROUGH COOPERATE DND ROUTE"
        "|GLONG|NIGERIA\r\n|999|0000-00-00 00:00:00"
    )
    assert [r.provider_message_id for r in outcome.results] == ids
    assert [r.raw["network"] for r in outcome.results] == ["MTNNG", "GLONG"]


def test_entries_split_only_on_a_comma_before_a_code(gateway, smsclone_sim):
    replay(
        smsclone_sim,
        "TG00-MESSAGE PROCESSED:0000|2348031234567|111|SENT|SENT, TO PROVIDER|MTNNG|NIGERIA"
        "|999|Mon, 12 Jun 2023,0000|2348051234567|222|SENT|MESSAGE SENT TO PROVIDER",
    )

    first, second = gateway.send(make_batch(NUMBER, OTHER)).results

    assert (first.provider_message_id, second.provider_message_id) == ("111", "222")
    assert first.raw["description"] == "SENT, TO PROVIDER"
    assert first.raw["delivery_date"] == "Mon, 12 Jun 2023"


def test_a_line_break_inside_an_id_or_number_is_dropped(gateway, smsclone_sim):
    replay(
        smsclone_sim,
        "TG00-MESSAGE PROCESSED:0000|23480312\r\n34567|99675345\n22177818|SENT|MESSAGE SENT",
    )

    [result] = gateway.send(make_batch(NUMBER)).results

    assert result.accepted and result.provider_message_id == "9967534522177818"


def test_entries_are_matched_by_number_whatever_their_order(gateway, smsclone_sim):
    replay(
        smsclone_sim,
        "TG00-MESSAGE PROCESSED:2222|2348051234567|b|REJECTED|MESSAGE REJECTED,"
        "0000|2348000000000|stranger|SENT|MESSAGE SENT TO PROVIDER,"
        "0000|2348031234567|a|SENT|MESSAGE SENT TO PROVIDER",
    )

    outcome = gateway.send(make_batch(NUMBER, OTHER))

    assert [(r.ref, r.accepted, r.provider_message_id) for r in outcome.results] == [
        (1, True, "a"),
        (2, False, "b"),
    ]
    assert "stranger" in json.dumps(outcome.response)


def test_national_numbers_in_the_reply_match_by_their_last_ten_digits(gateway, smsclone_sim):
    replay(
        smsclone_sim,
        "TG00-MESSAGE PROCESSED:0000|08051234567|b|SENT|MESSAGE SENT TO PROVIDER,"
        "0000|08031234567|a|SENT|MESSAGE SENT TO PROVIDER",
    )

    outcome = gateway.send(make_batch(NUMBER, OTHER))

    assert [r.provider_message_id for r in outcome.results] == ["a", "b"]


def test_a_number_missing_from_a_processed_reply_is_ambiguous(gateway, smsclone_sim):
    replay(smsclone_sim, "TG00-MESSAGE PROCESSED:0000|2348031234567|a|SENT|MESSAGE SENT")

    first, missing = gateway.send(make_batch(NUMBER, OTHER)).results

    assert first.accepted
    assert not missing.accepted
    assert missing.error.category == ErrorCategory.AMBIGUOUS
    assert "2348051234567" in missing.error.text


def test_a_truncated_entry_is_unreadable_and_its_number_ambiguous(gateway, smsclone_sim):
    replay(smsclone_sim, "TG00-MESSAGE PROCESSED:0000|2348031234567|99675")

    [result] = gateway.send(make_batch(NUMBER)).results

    assert not result.accepted
    assert result.error.category == ErrorCategory.AMBIGUOUS


def test_the_error_table_covers_every_batch_code_in_the_document():
    assert {code: category for code, (_, category) in ERRORS.items()} == EXPECTED_BATCH_CATEGORIES


def test_the_status_table_covers_every_number_code_in_the_document():
    assert {code: row[2] for code, row in NUMBER_STATUSES.items()} == EXPECTED_NUMBER_OUTCOMES


@pytest.mark.parametrize(("code", "category"), sorted(EXPECTED_BATCH_CATEGORIES.items()))
def test_each_document_batch_code_refuses_the_whole_batch(gateway, smsclone_sim, code, category):
    words = ERRORS[code][0]
    replay(smsclone_sim, f"{code}-{words}")

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER, OTHER))

    assert (caught.value.category, caught.value.code, caught.value.text) == (
        category,
        code,
        words,
    )
    assert f"{code}-{words}" in caught.value.raw


@pytest.mark.parametrize(("code", "category"), sorted(EXPECTED_NUMBER_OUTCOMES.items()))
def test_each_document_number_status_decides_that_number(gateway, smsclone_sim, code, category):
    word, description, _ = NUMBER_STATUSES[code]
    replay(smsclone_sim, f"TG00-MESSAGE PROCESSED:{code}|2348031234567|77|{word}|{description}")

    [result] = gateway.send(make_batch(NUMBER)).results

    assert result.accepted is (category is None)
    assert result.provider_message_id == "77"
    assert result.raw["status"] == word
    if category is not None:
        assert (result.error.category, result.error.code) == (category, code)
        assert result.error.text.startswith(description)


@pytest.mark.parametrize(
    ("entry", "accepted", "category"),
    [
        ("1111|2348031234567|77|DELIVERED|MESSAGE DELIVERED TO HANDSET", True, None),
        ("14|2348031234567|77|DND_SENT|MESSAGE THROUGH COOPERATE", True, None),
        ("4444|2348031234567|77|BLACKLIST_REJECTED|NUMBER BLACKLISTED", False, "invalid_recipient"),
        ("5555|2348031234567|77|SENT|MESSAGE SENT TO PROVIDER", True, None),
        ("6666|2348031234567|77|QUEUED|SOMETHING NEW", False, "ambiguous"),
    ],
    ids=["delivered", "unpadded-code", "unknown-reject", "unknown-sent", "unknown-word"],
)
def test_codes_outside_the_document_are_read_from_their_status_word(
    gateway, smsclone_sim, entry, accepted, category
):
    replay(smsclone_sim, f"TG00-MESSAGE PROCESSED:{entry}")

    [result] = gateway.send(make_batch(NUMBER)).results

    assert result.accepted is accepted
    assert (result.error.category if result.error else None) == category


def test_unknown_batch_code_is_an_invalid_request_with_the_raw_text(gateway, smsclone_sim):
    replay(smsclone_sim, "TG21-Route Closed")

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER))

    assert caught.value.category == ErrorCategory.INVALID_REQUEST
    assert caught.value.code == "TG21"
    assert "Route Closed" in caught.value.text


def test_unknown_batch_code_with_numbers_marked_sent_is_ambiguous(gateway, smsclone_sim):
    replay(smsclone_sim, "TG01-PARTLY PROCESSED:0000|2348031234567|a|SENT|MESSAGE SENT")

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER))

    assert caught.value.category == ErrorCategory.AMBIGUOUS


@pytest.mark.parametrize("body", ["", "OK", "<html><body>Bad Gateway</body></html>"])
def test_a_send_reply_without_a_batch_code_is_ambiguous_and_kept(gateway, smsclone_sim, body):
    replay(smsclone_sim, body)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER))

    assert caught.value.category == ErrorCategory.AMBIGUOUS
    assert caught.value.raw == body


def test_parse_reply_reads_a_lower_case_code_and_a_trailing_crlf():
    reply = parse_reply("tg17-Not Enough Units Balance\r\n")

    assert (reply.code, reply.number, reply.description) == ("TG17", 17, "Not Enough Units Balance")


# -- the simulator's own refusals, through the adapter ------------------------------------


@pytest.mark.parametrize(
    ("batch", "code", "category"),
    [
        (make_batch(NUMBER, sender=""), "TG16", ErrorCategory.INVALID_SENDER),
        (make_batch(NUMBER, sender="MTNHELP"), "TG18", ErrorCategory.INVALID_SENDER),
        (make_batch(NUMBER, text="   "), "TG15", ErrorCategory.CONTENT_REJECTED),
        (make_batch(NUMBER, text="You won the lottery"), "TG19", ErrorCategory.CONTENT_REJECTED),
    ],
    ids=["empty-sender", "blocked-sender", "empty-message", "blocked-message"],
)
def test_simulator_refuses_bad_requests_with_the_documents_codes(
    gateway, smsclone_sim, batch, code, category
):
    with pytest.raises(GatewayError) as caught:
        gateway.send(batch)

    assert (caught.value.code, caught.value.category) == (code, category)
    assert smsclone_sim.state()["messages"] == []


def test_more_numbers_than_the_account_may_target_is_tg20(smsclone_provider):
    sim = start_sim(smsclone_provider, max_recipients=2)
    try:
        with pytest.raises(GatewayError) as caught:
            smsclone_provider.get_gateway().send(make_batch(NUMBER, OTHER, "+2348021234567"))
    finally:
        sim.stop()

    assert (caught.value.code, caught.value.category) == ("TG20", ErrorCategory.INVALID_REQUEST)


def test_max_numbers_option_keeps_batches_under_the_accounts_limit(smsclone_provider):
    sim = start_sim(smsclone_provider, max_recipients=2)
    smsclone_provider.options = {"route": "normal", "max_numbers": 2}
    smsclone_provider.save()
    try:
        send_sms([NUMBER, OTHER, "+2348021234567"], TEXT)
        outbox.dispatch()
        recipients = [r["params"]["recipient"] for r in send_requests(sim)]
    finally:
        sim.stop()

    assert recipients == ["2348031234567,2348051234567", "2348021234567"]
    assert set(Message.objects.values_list("status", flat=True)) == {Status.ACCEPTED}


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        (SMSCLONE_USER, "wrong-password", "TG11"),
        ("", SMSCLONE_PASSWORD, "TG12"),
        (SMSCLONE_USER, "", "TG13"),
    ],
    ids=["wrong", "no-username", "no-password"],
)
def test_bad_credentials_are_authentication_errors(smsclone_provider, username, password, code):
    smsclone_provider.username = username
    smsclone_provider.password = password

    with pytest.raises(GatewayError) as caught:
        smsclone_provider.get_gateway().send(make_batch(NUMBER))

    assert (caught.value.code, caught.value.category) == (code, ErrorCategory.AUTHENTICATION)


def test_auth_failure_fault_answers_tg11(gateway, smsclone_sim):
    smsclone_sim.set_faults(auth_failure=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER))

    assert caught.value.code == "TG11"


def test_exhausted_credit_is_insufficient_credit_and_nothing_is_charged(gateway, smsclone_sim):
    smsclone_sim.set_faults(credit_exhausted=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER))

    assert (caught.value.code, caught.value.category) == (
        "TG17",
        ErrorCategory.INSUFFICIENT_CREDIT,
    )
    state = smsclone_sim.state()
    assert state["balances"] == {"units": "1000.00"}
    assert state["messages"] == []


def test_units_short_of_the_batch_cost_is_tg17(smsclone_provider):
    sim = start_sim(smsclone_provider, balance="1")
    try:
        with pytest.raises(GatewayError) as caught:
            smsclone_provider.get_gateway().send(make_batch(NUMBER, OTHER))
    finally:
        sim.stop()

    assert caught.value.code == "TG17"


# -- balance -------------------------------------------------------------------------------


def test_balance_is_one_decimal_in_units(gateway, smsclone_sim):
    [balance] = gateway.balance()

    assert isinstance(balance, Balance)
    assert (balance.account, balance.amount, balance.unit) == ("", Decimal("1000.00"), "units")
    request = last_request(smsclone_sim)
    assert request["path"] == "/api/sms/balance"
    assert request["params"] == {
        "username": SMSCLONE_USER,
        "password": "***",
        "balance": "true",
    }


@pytest.mark.parametrize(
    ("body", "amount"),
    [("256.21", "256.21"), ("1523.50\r\n", "1523.50"), ("0", "0"), (" 1,204.5 ", "1204.5")],
)
def test_a_bare_decimal_balance_reply_is_read(gateway, smsclone_sim, body, amount):
    replay(smsclone_sim, body)

    [balance] = gateway.balance()

    assert balance.amount == Decimal(amount)
    assert balance.raw == {"body": body.strip()}


def test_balance_is_read_before_redaction_even_when_it_looks_like_the_password(
    smsclone_provider,
):
    sim = start_sim(smsclone_provider, password="1000", balance="1000")
    smsclone_provider.password = "1000"
    try:
        [balance] = smsclone_provider.get_gateway().balance()
    finally:
        sim.stop()

    assert balance.amount == Decimal("1000.00")
    assert balance.raw == {"body": "***.00"}


def test_balance_with_bad_credentials_raises_the_batch_code(smsclone_provider):
    smsclone_provider.password = "wrong-password"

    with pytest.raises(GatewayError) as caught:
        smsclone_provider.get_gateway().balance()

    assert (caught.value.code, caught.value.category) == ("TG11", ErrorCategory.AUTHENTICATION)


def test_malformed_balance_reply_is_transient(gateway, smsclone_sim):
    smsclone_sim.set_faults(malformed=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.balance()

    assert caught.value.category == ErrorCategory.TRANSIENT


@pytest.mark.parametrize(
    ("route", "text", "dnd", "cost"),
    [
        ("normal", "x" * 160, False, 1),
        ("normal", "x" * 161, False, 2),
        ("normal", "ü" * 70, False, 1),  # GSM-7: ü is in the basic set
        ("normal", "ж" * 71, False, 2),  # UCS-2: 67 a part
        ("dnd", "x" * 160, False, 2),  # the DND route costs twice the units
        ("dnd-fallback", "x" * 160, True, 2),
        ("dnd-fallback", "x" * 160, False, 1),
    ],
)
def test_balance_falls_by_parts_sent_times_the_route_rate(
    smsclone_provider, smsclone_sim, route, text, dnd, cost
):
    smsclone_provider.options = {"route": route}
    gateway = smsclone_provider.get_gateway()

    gateway.send(make_batch(DND if dnd else NUMBER, text=text))

    assert gateway.balance()[0].amount == Decimal(1000 - cost)


def test_rejected_numbers_cost_nothing(gateway, smsclone_sim):
    gateway.send(make_batch(NUMBER, DND))

    assert gateway.balance()[0].amount == Decimal(999)


def test_simulator_answers_the_balance_on_a_send_path_with_balance_true(smsclone_sim):
    reply = requests.get(
        f"{smsclone_sim.url}/api/sms/sendsms",
        params={"username": SMSCLONE_USER, "password": SMSCLONE_PASSWORD, "balance": "true"},
    )

    assert reply.text == "1000.00"
    assert smsclone_sim.state()["messages"] == []


# -- no delivery reports -------------------------------------------------------------------


def test_the_gateway_declares_bulk_and_balance_and_no_delivery_reports():
    assert SmscloneGateway.capabilities == {
        Capability.BULK,
        Capability.BALANCE,
        Capability.INBOUND,  # customer replies (docs/replies.md)
    }
    assert not SmscloneGateway.has(Capability.DLR_POLL)
    assert not SmscloneGateway.has(Capability.DLR_PUSH)


def test_asking_for_delivery_reports_is_refused(gateway):
    with pytest.raises(GatewayError) as caught:
        gateway.fetch_reports([ReportRef("9967534522177818556581618")])

    assert caught.value.category == ErrorCategory.INVALID_REQUEST


def test_simulator_delivery_moves_over_time_but_no_api_reports_it(gateway, smsclone_sim):
    smsclone_sim.advance(0)  # freeze the simulator's clock
    gateway.send(make_batch(NUMBER, DND))

    before = [m["delivery"] for m in smsclone_sim.state()["messages"]]
    smsclone_sim.advance(2.5)
    after = [m["delivery"] for m in smsclone_sim.state()["messages"]]

    assert before == ["PENDING"]
    assert after == ["DELIVERED"]
    assert [m["status"] for m in smsclone_sim.state()["rejected"]] == ["DND_REJECTED"]


# -- transport failures --------------------------------------------------------------------


def test_malformed_reply_leaves_the_number_ambiguous_and_keeps_the_raw_body(gateway, smsclone_sim):
    smsclone_sim.set_faults(malformed=True, times=1)

    [result] = gateway.send(make_batch(NUMBER)).results

    assert not result.accepted
    assert result.error.category == ErrorCategory.AMBIGUOUS
    assert result.error.raw["code"] == "TG00"


# -- secrets -------------------------------------------------------------------------------


def test_password_never_appears_in_the_stored_request_or_response(gateway):
    outcome = gateway.send(make_batch(NUMBER, DND))

    stored = json.dumps([outcome.request, outcome.response, [r.raw for r in outcome.results]])
    assert SMSCLONE_PASSWORD not in stored
    assert outcome.request == {
        "path": "/api/sms/sendsms",
        "params": {
            "username": SMSCLONE_USER,
            "password": "***",
            "sender": SMSCLONE_SENDER,
            "recipient": "2348031234567,2348099999999",
            "message": TEXT,
        },
    }


def test_password_echoed_in_a_balance_reply_is_redacted(gateway, smsclone_sim):
    replay(smsclone_sim, f"no balance for {SMSCLONE_PASSWORD}")

    with pytest.raises(GatewayError) as caught:
        gateway.balance()

    assert SMSCLONE_PASSWORD not in str(caught.value.raw)


# -- sender IDs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "ok"),
    [("HELPDESK", True), ("HelpDesk 24", True), ("A-LONG-SENDER-NAME", True), ("", False)],
)
def test_sender_ids_need_only_to_be_present_by_default(gateway, sender, ok):
    assert (gateway.sender_errors(sender) == []) is ok


def test_sender_ids_containing_a_blocked_word_are_refused(smsclone_provider):
    smsclone_provider.options = {"blocked_sender_words": ["MTN", "cbn"]}
    gateway = smsclone_provider.get_gateway()

    [problem] = gateway.sender_errors("CBNAlert")

    assert "TG18" in problem and "'cbn'" in problem
    assert gateway.sender_errors("HELPDESK") == []


def test_every_option_read_has_a_help_text(smsclone_provider):
    smsclone_provider.options = {"route": "dnd", "max_numbers": 50, "blocked_sender_words": []}

    smsclone_provider.full_clean()

    assert set(SmscloneGateway.option_help) - set(INBOUND_OPTION_HELP) == {
        "route",
        "max_numbers",
        "blocked_sender_words",
    }


# -- end to end through the app ------------------------------------------------------------


def test_send_sms_reaches_the_gateway_and_stays_accepted(smsclone_provider, smsclone_sim):
    [message] = send_sms(NUMBER, TEXT)

    outbox.dispatch()
    message.refresh_from_db()
    [sent] = smsclone_sim.state()["messages"]
    assert sent["number"] == "2348031234567"
    assert sent["sender"] == SMSCLONE_SENDER
    assert message.status == Status.ACCEPTED
    assert message.provider_message_id == sent["message_id"]

    smsclone_sim.advance(60)
    assert reports.poll_reports() == 0  # nothing to ask: the gateway reports no delivery
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert message.events.last().data["result"]["status"] == "SENT"


def test_several_messages_with_the_same_text_go_in_one_request(smsclone_provider, smsclone_sim):
    send_sms([NUMBER, OTHER], TEXT)

    outbox.dispatch()

    [request] = send_requests(smsclone_sim)
    assert request["params"]["recipient"] == "2348031234567,2348051234567"
    assert set(Message.objects.values_list("status", flat=True)) == {Status.ACCEPTED}


def test_a_dnd_rejected_number_fails_in_the_log_with_the_gateways_words(
    smsclone_provider, smsclone_sim
):
    [message] = send_sms(DND, TEXT)

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert (message.error_category, message.error_code) == ("invalid_recipient", "3333")
    assert message.error_text.startswith("DND_REJECTED_NUMBER")


def test_an_unreadable_reply_marks_unknown_and_never_resends(smsclone_provider, smsclone_sim):
    smsclone_sim.set_faults(malformed=True, times=1)
    [message] = send_sms(NUMBER, TEXT)

    outbox.dispatch()
    outbox.dispatch(now=timezone.now() + timedelta(hours=1))

    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert len(send_requests(smsclone_sim)) == 1


def test_http_500_queues_the_message_for_a_retry(smsclone_provider, smsclone_sim):
    smsclone_sim.set_faults(http_500=True, times=1)
    [message] = send_sms(NUMBER, TEXT)

    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.next_attempt_at is not None

    outbox.dispatch(now=message.next_attempt_at + timedelta(seconds=1))
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert len(smsclone_sim.state()["messages"]) == 1


def test_no_units_left_fails_the_message(smsclone_provider, smsclone_sim):
    smsclone_sim.set_faults(credit_exhausted=True, times=1)
    [message] = send_sms(NUMBER, TEXT)

    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, "TG17")


def test_a_message_for_later_is_held_here_and_sent_when_due(smsclone_provider, smsclone_sim):
    due = timezone.now() + timedelta(hours=2)
    [message] = send_sms(NUMBER, TEXT, send_at=due)

    outbox.dispatch()
    assert smsclone_sim.state()["messages"] == []
    outbox.dispatch(now=due + timedelta(seconds=1))

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert len(smsclone_sim.state()["messages"]) == 1


def test_a_local_group_goes_out_as_one_bulk_request(smsclone_provider, smsclone_sim):
    group = RecipientGroup.objects.create(name="Field team")
    group.members.add(
        Contact.objects.create(name="Ada", phone=NUMBER),
        Contact.objects.create(name="Bayo", phone=OTHER),
    )

    send_sms(None, TEXT, group=group)
    outbox.dispatch()

    [request] = send_requests(smsclone_sim)
    assert sorted(request["params"]["recipient"].split(",")) == ["2348031234567", "2348051234567"]


def test_a_gateway_side_group_is_refused(smsclone_provider):
    group = RecipientGroup.objects.create(
        name="Gateway group", provider=smsclone_provider, provider_group_id="7"
    )

    with pytest.raises(UnsupportedFeature):
        send_sms(None, TEXT, group=group)


@pytest.mark.parametrize(
    ("text", "flash"), [("Tiketi yako 42 imepokelewa ✓", False), (TEXT, True)], ids=["uc", "flash"]
)
def test_unicode_and_flash_are_refused_before_queueing(smsclone_provider, text, flash):
    with pytest.raises(UnsupportedFeature):
        send_sms(NUMBER, text, flash=flash)

    assert Message.objects.count() == 0


# -- the simulator -------------------------------------------------------------------------


def test_simulator_faults_state_and_reset_work_over_http(smsclone_sim):
    url = smsclone_sim.url
    auth = {"username": SMSCLONE_USER, "password": SMSCLONE_PASSWORD}
    set_fault = requests.post(f"{url}/_sim/faults", json={"http_500": True, "times": 1})
    first = requests.get(f"{url}/api/sms/balance", params=auth)
    second = requests.get(f"{url}/api/sms/balance", params=auth)
    state = requests.get(f"{url}/_sim/state").json()
    requests.post(f"{url}/_sim/reset")

    assert set_fault.json() == {"faults": {"http_500": {"value": True, "remaining": 1}}}
    assert (first.status_code, second.status_code) == (500, 200)
    assert [r["params"]["password"] for r in state["requests"]] == ["***", "***"]
    assert state["balances"] == {"units": "1000.00"}
    assert requests.get(f"{url}/_sim/state").json()["requests"] == []


def test_simulator_reset_restores_the_balance_and_forgets_messages(gateway, smsclone_sim):
    gateway.send(make_batch(NUMBER))

    smsclone_sim.reset()

    state = smsclone_sim.state()
    assert (state["messages"], state["balances"]) == ([], {"units": "1000.00"})


def test_simulator_reads_national_numbers_as_nigerian(smsclone_sim):
    reply = requests.get(
        f"{smsclone_sim.url}/api/sms/sendsms",
        params={
            "username": SMSCLONE_USER,
            "password": SMSCLONE_PASSWORD,
            "sender": "HELPDESK",
            "recipient": "08031234567, 12",
            "message": "hi",
        },
    ).text

    state = smsclone_sim.state()
    [national] = state["messages"]
    [short] = state["rejected"]
    assert national["number"] == "08031234567"
    assert reply.startswith(f"TG00-MESSAGE PROCESSED:0000|2348031234567|{national['message_id']}|")
    assert (short["number"], short["status"]) == ("12", "REJECTED")


def test_simulator_answers_an_empty_recipient_list_with_tg14(smsclone_sim):
    reply = requests.get(
        f"{smsclone_sim.url}/api/sms/dnd-route",
        params={
            "username": SMSCLONE_USER,
            "password": SMSCLONE_PASSWORD,
            "sender": "HELPDESK",
            "recipient": " , ",
            "message": "hi",
        },
    )

    assert reply.text == "TG14-Empty Recipients"


def test_get_simulator_builds_an_smsclone_simulator_without_options():
    sim = get_simulator("smsclone")

    assert isinstance(sim, SmscloneSimulator)
    assert (sim.user, sim.password) == ("demo", "demo")


def test_get_simulator_takes_an_api_key_as_the_password_and_a_delivery_delay():
    sim = get_simulator("smsclone", api_key="from-env", delivery_delay=7)

    assert sim.password == "from-env"
    assert sim.delivery_delay == 7
