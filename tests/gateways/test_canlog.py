"""The Canlog adapter against the Canlog simulator, over real sockets on 127.0.0.1.

Nothing here mocks HTTP. Time is moved on the simulator's clock (``sim.advance``), never by
sleeping. The document's replies are replayed byte for byte through the ``body`` fault.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests

from helpdesk_sms.gateways.base import (
    Balance,
    DeliveryStatus,
    ErrorCategory,
    GatewayError,
    GroupMember,
    ReportRef,
)
from helpdesk_sms.gateways.canlog import ERRORS, CanlogGateway
from helpdesk_sms.simulators import get_simulator
from helpdesk_sms.simulators.canlog import CanlogSimulator
from tests.fixtures_simulators import CANLOG_API_KEY, CANLOG_PASSWORD, CANLOG_USER
from tests.gateways.helpers import batch_maker, replay

pytestmark = pytest.mark.django_db

IST = ZoneInfo("Asia/Kolkata")
TEXT = "Ticket #42 received. We will call you back."


make_batch = batch_maker(TEXT, "HELPDK")


def last_params(sim: CanlogSimulator) -> dict[str, str]:
    return sim.state()["requests"][-1]["params"]



# -- the document's replies, exactly as written (line breaks and OCR errors included) -------

DOC_SINGLE = (
    '{"ErrorCode":"000","ErrorMessage":"Done","JobId":"20047","MessageData":[{"Number":'
    '"91989xxxxxx","MessageId":"mvHdpSyS7UOs9hixQLvw"}, {"Number":"918461238888",'
    '"MessageId":"PfivClgH20iG6G5R3usHwA"}]}'
)
DOC_MULTIPLE = DOC_SINGLE
DOC_SCHEDULE = (
    '{"ErrorCode":"000","ErrorMessage":"Done","JobId":"20047","MessageData":[{"N  \number":'
    '"91989xxxxxxx","Messageld":"BqTiw66A2UGLFV3DnwHFLQ"}]}'
)
DOC_GROUP = (
    '{"ErrorCode":"000","ErrorMessage":"Done","JobId":"20047","MessageData":[{"N  \number":'
    '"91989xxxxxxx","Messageld":"mvHdpSyS7UOs9hixixQLvw"}, {"Number":  \n"91999xxxxxxx",'
    '"Messageld":"PfivClgH20iG6G5R3usHwA"}]}'
)
DOC_UNICODE = (
    '{"ErrorCode":"000","ErrorMessage":"Done","JobId":"20047","MessageData":{"Number":'
    '"91989xxxxxxx","MessageId":"BqTiw66A2UGLFV3DnwHFLQ"}}'
)
DOC_DELIVERY = (
    '{"ErrorCode":"0","ErrorMessage":"Done","MessageId":null,"DeliveryReports":[{"MessageId":'
    '"mvHdpSyS7UOs9hixQLvw","DeliveryStatus":"Delivered","DeliveryDate":"2015-09-28T06:17:00"}'
    ', {"MessageId":"PfivClgH20iG6G5R3usHwA","DeliveryStatus":"Delivered","DeliveryDate":'
    '"2015-09-28T06:17:00"}]}'
)
DOC_BALANCE = '{"ErrorCode":"0","ErrorMessage":"Done","Balance":"Promo:9988|Trans:0"}'

#: The error table of the document, with the category each code must mean.
EXPECTED_CATEGORIES = {
    "001": ErrorCategory.AUTHENTICATION,
    "003": ErrorCategory.INVALID_SENDER,
    "004": ErrorCategory.CONTENT_REJECTED,
    "005": ErrorCategory.CONTENT_REJECTED,
    "006": ErrorCategory.INVALID_REQUEST,
    "007": ErrorCategory.AUTHENTICATION,
    "008": ErrorCategory.AUTHENTICATION,
    "009": ErrorCategory.AUTHENTICATION,
    "010": ErrorCategory.AUTHENTICATION,
    "011": ErrorCategory.AUTHENTICATION,
    "012": ErrorCategory.CONTENT_REJECTED,
    "013": ErrorCategory.INVALID_RECIPIENT,
    "014": ErrorCategory.AUTHENTICATION,
    "015": ErrorCategory.INVALID_SENDER,
    "017": ErrorCategory.INVALID_RECIPIENT,
    "018": ErrorCategory.INVALID_REQUEST,
    "019": ErrorCategory.INVALID_REQUEST,
    "020": ErrorCategory.INVALID_REQUEST,
    "021": ErrorCategory.INSUFFICIENT_CREDIT,
    "022": ErrorCategory.INVALID_REQUEST,
    "023": ErrorCategory.INVALID_REQUEST,
    "024": ErrorCategory.CONTENT_REJECTED,
    "025": ErrorCategory.INVALID_REQUEST,
    "026": ErrorCategory.INVALID_REQUEST,
    "027": ErrorCategory.INVALID_RECIPIENT,
}


@pytest.fixture
def gateway(canlog_provider) -> CanlogGateway:
    return canlog_provider.get_gateway()


# -- sending -------------------------------------------------------------------------------


def test_single_send_returns_the_gateway_message_id_and_job_id(gateway, canlog_sim):
    outcome = gateway.send(make_batch("+919812345678"))

    [result] = outcome.results
    [message] = canlog_sim.state()["messages"]
    assert result.ref == 1
    assert result.accepted
    assert result.provider_message_id == message["message_id"]
    assert result.job_id == message["job_id"] == "20047"


def test_single_send_passes_exactly_the_documented_parameters(gateway, canlog_sim):
    gateway.send(make_batch("+919812345678"))

    assert last_params(canlog_sim) == {
        "APIKey": "***",
        "senderid": "HELPDK",
        "channel": "Trans",
        "DCS": "0",
        "flashsms": "0",
        "number": "919812345678",
        "text": TEXT,
        "route": "15",
    }
    assert canlog_sim.state()["requests"][-1]["path"] == "/api/mt/SendSMS"


def test_several_numbers_go_in_one_request_with_an_id_each(gateway, canlog_sim):
    outcome = gateway.send(make_batch("+919812345678", "+919812345679", "+919812345670"))

    state = canlog_sim.state()
    assert len(state["requests"]) == 1
    assert last_params(canlog_sim)["number"] == "919812345678,919812345679,919812345670"
    ids = {m["number"]: m["message_id"] for m in state["messages"]}
    assert [(r.ref, r.provider_message_id) for r in outcome.results] == [
        (1, ids["919812345678"]),
        (2, ids["919812345679"]),
        (3, ids["919812345670"]),
    ]
    assert {r.job_id for r in outcome.results} == {"20047"}


def test_unicode_text_is_sent_with_dcs_8(gateway, canlog_sim):
    gateway.send(make_batch("+919812345678", text="टिकट 42 प्राप्त हुआ", unicode=True))

    params = last_params(canlog_sim)
    assert params["DCS"] == "8"
    assert params["text"] == "टिकट 42 प्राप्त हुआ"


def test_flash_message_is_sent_with_flashsms_1(gateway, canlog_sim):
    gateway.send(make_batch("+919812345678", flash=True))

    assert last_params(canlog_sim)["flashsms"] == "1"
    assert canlog_sim.state()["messages"][0]["flash"] is True


def test_without_an_api_key_user_and_password_authenticate(canlog_provider, canlog_sim):
    canlog_provider.api_key = ""
    canlog_provider.username = CANLOG_USER
    canlog_provider.password = CANLOG_PASSWORD
    canlog_provider.save()

    outcome = canlog_provider.get_gateway().send(make_batch("+919812345678"))

    assert outcome.results[0].accepted
    params = last_params(canlog_sim)
    assert params["user"] == CANLOG_USER
    assert params["password"] == "***"
    assert "APIKey" not in params


@pytest.mark.parametrize(
    ("utc_time", "schedtime"),
    [
        (datetime(2030, 1, 15, 16, 5, tzinfo=UTC), "2030/01/15 21:35:00 PM"),
        (datetime(2030, 1, 15, 3, 0, tzinfo=UTC), "2030/01/15 08:30:00 AM"),
    ],
)
def test_gateway_scheduling_sends_schedtime_in_the_provider_timezone(
    gateway, canlog_sim, utc_time, schedtime
):
    gateway.send(make_batch("+919812345678", schedule_at=utc_time))

    assert last_params(canlog_sim)["schedtime"] == schedtime
    [message] = canlog_sim.state()["messages"]
    assert message["status"] == "Scheduled"
    assert message["due_at"] == utc_time.timestamp()


def test_gateway_scheduled_message_reports_accepted_until_due_then_delivered(gateway, canlog_sim):
    due = datetime(2030, 1, 15, 16, 5, tzinfo=UTC)
    [result] = gateway.send(make_batch("+919812345678", schedule_at=due)).results
    ref = ReportRef(result.provider_message_id, result.job_id)

    canlog_sim.set_time(due.timestamp() - 1)
    [waiting] = gateway.fetch_reports([ref])
    canlog_sim.set_time(due.timestamp() + 3)
    [done] = gateway.fetch_reports([ref])

    assert waiting.status == DeliveryStatus.ACCEPTED
    assert waiting.raw["DeliveryStatus"] == "Scheduled"
    assert done.status == DeliveryStatus.DELIVERED


def test_group_send_passes_groupid_and_accepts_the_group_with_every_member_entry(
    gateway, canlog_sim
):
    outcome = gateway.send(make_batch("", group_id="7"))

    params = last_params(canlog_sim)
    assert params["groupid"] == "7"
    assert "number" not in params
    [result] = outcome.results
    assert result.accepted
    assert result.job_id == "20047"
    assert result.provider_message_id == ""  # two members: no single id stands for both
    assert [e["Number"] for e in result.raw["MessageData"]] == ["919812345678", "919812345679"]


def test_group_result_lists_each_member_with_its_message_id(canlog_provider):
    sim = CanlogSimulator(api_key=CANLOG_API_KEY, groups={"9": ["919812345600", "919812345601"]})
    canlog_provider.base_url = sim.start()
    try:
        [result] = canlog_provider.get_gateway().send(make_batch("", group_id="9")).results
        sent = {m["number"]: m["message_id"] for m in sim.state()["messages"]}
    finally:
        sim.stop()

    assert {m.number: m.provider_message_id for m in result.members} == sent


def test_single_recipient_takes_the_only_entry_even_when_its_number_differs(gateway, canlog_sim):
    replay(canlog_sim, DOC_SCHEDULE)  # answers for 91989xxxxxxx, not our number

    [result] = gateway.send(make_batch("+919812345678")).results

    assert result.accepted
    assert result.provider_message_id == "BqTiw66A2UGLFV3DnwHFLQ"


def test_entries_for_numbers_not_in_the_request_are_ignored(gateway, canlog_sim):
    replay(
        canlog_sim,
        '{"ErrorCode":"000","ErrorMessage":"Done","JobId":"77","MessageData":['
        '{"Number":"918461238888","MessageId":"stranger"},'
        '{"Number":"919812345679","MessageId":"second"},'
        '{"Number":"919812345678","MessageId":"first"}]}',
    )

    outcome = gateway.send(make_batch("+919812345678", "+919812345679"))

    assert [(r.ref, r.provider_message_id) for r in outcome.results] == [
        (1, "first"),
        (2, "second"),
    ]
    assert "stranger" in json.dumps(outcome.response)


def test_recipient_missing_from_a_done_reply_is_accepted_with_the_job_id_only(gateway, canlog_sim):
    replay(
        canlog_sim,
        '{"ErrorCode":"000","ErrorMessage":"Done","JobId":"77","MessageData":['
        '{"Number":"919812345678","MessageId":"first"}]}',
    )

    outcome = gateway.send(make_batch("+919812345678", "+919812345679"))

    missing = outcome.results[1]
    assert missing.accepted
    assert missing.job_id == "77"
    assert missing.provider_message_id == ""


def test_national_numbers_in_the_reply_match_by_their_last_ten_digits(gateway, canlog_sim):
    replay(
        canlog_sim,
        '{"ErrorCode":"000","ErrorMessage":"Done","JobId":"77","MessageData":['
        '{"Number":"9812345679","MessageId":"second"},'
        '{"Number":"9812345678","MessageId":"first"}]}',
    )

    outcome = gateway.send(make_batch("+919812345678", "+919812345679"))

    assert [r.provider_message_id for r in outcome.results] == ["first", "second"]


# -- the document's replies, verbatim ------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "numbers", "group_id", "expected_ids"),
    [
        pytest.param(DOC_SINGLE, ["+91989xxxxxx"], "", ["mvHdpSyS7UOs9hixQLvw"], id="single"),
        pytest.param(
            DOC_MULTIPLE,
            ["+91989xxxxxx", "+91999xxxxxx"],
            "",
            ["mvHdpSyS7UOs9hixQLvw", ""],
            id="multiple",
        ),
        pytest.param(
            DOC_SCHEDULE, ["+91989xxxxxxx"], "", ["BqTiw66A2UGLFV3DnwHFLQ"], id="schedule"
        ),
        pytest.param(
            DOC_GROUP,
            ["+91989xxxxxxx", ""],
            "###",
            ["mvHdpSyS7UOs9hixixQLvw", ""],  # the group's own entry lists its members
            id="group",
        ),
        pytest.param(DOC_UNICODE, ["+91989xxxxxxx"], "", ["BqTiw66A2UGLFV3DnwHFLQ"], id="unicode"),
    ],
)
def test_every_send_reply_in_the_document_is_read_verbatim(
    gateway, canlog_sim, body, numbers, group_id, expected_ids
):
    replay(canlog_sim, body)

    outcome = gateway.send(make_batch(*numbers, group_id=group_id))

    assert [r.provider_message_id for r in outcome.results] == expected_ids
    assert all(r.accepted and r.job_id == "20047" for r in outcome.results)


def test_the_documents_group_reply_reports_the_unmatched_entry_as_a_member(gateway, canlog_sim):
    replay(canlog_sim, DOC_GROUP)

    outcome = gateway.send(make_batch("+91989xxxxxxx", "", group_id="###"))

    assert outcome.results[1].members == [GroupMember("91999xxxxxxx", "PfivClgH20iG6G5R3usHwA")]


def test_the_documents_delivery_reply_is_read_verbatim_in_the_provider_timezone(
    gateway, canlog_sim
):
    replay(canlog_sim, DOC_DELIVERY)

    reports = gateway.fetch_reports(
        [
            ReportRef("mvHdpSyS7UOs9hixQLvw", "20047"),
            ReportRef("PfivClgH20iG6G5R3usHwA", "20047"),
        ]
    )

    assert [(r.provider_message_id, r.status) for r in reports] == [
        ("mvHdpSyS7UOs9hixQLvw", DeliveryStatus.DELIVERED),
        ("PfivClgH20iG6G5R3usHwA", DeliveryStatus.DELIVERED),
    ]
    assert reports[0].occurred_at == datetime(2015, 9, 28, 6, 17, tzinfo=IST)
    assert reports[0].raw["DeliveryStatus"] == "Delivered"


def test_the_documents_balance_reply_gives_one_balance_per_channel(gateway, canlog_sim):
    replay(canlog_sim, DOC_BALANCE)

    balances = gateway.balance()

    assert [(b.account, b.amount, b.unit) for b in balances] == [
        ("Promo", Decimal("9988"), "credits"),
        ("Trans", Decimal("0"), "credits"),
    ]
    assert balances[0].raw["Balance"] == "Promo:9988|Trans:0"


@pytest.mark.parametrize("code", ["0", "000", "00", 0])
def test_error_code_zero_in_any_spelling_is_success(gateway, canlog_sim, code):
    replay(
        canlog_sim,
        json.dumps(
            {
                "ErrorCode": code,
                "ErrorMessage": "Done",
                "JobId": "5",
                "MessageData": [{"Number": "919812345678", "MessageId": "abc"}],
            }
        ),
    )

    [result] = gateway.send(make_batch("+919812345678")).results

    assert result.accepted and result.provider_message_id == "abc"


@pytest.mark.parametrize("code", ["13", "013", 13])
def test_error_code_is_compared_as_an_integer(gateway, canlog_sim, code):
    replay(
        canlog_sim,
        json.dumps(
            {
                "ErrorCode": code,
                "ErrorMessage": "mobile numbers not valid",
                "JobId": None,
                "MessageData": None,
            }
        ),
    )

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch("+919812345678"))

    assert caught.value.category == ErrorCategory.INVALID_RECIPIENT
    assert caught.value.code == str(code)


def test_error_reply_with_null_job_and_message_data_raises_the_gateways_words(gateway, canlog_sim):
    replay(
        canlog_sim,
        '{"ErrorCode":"021","ErrorMessage":"insufficient credits","JobId":null,"MessageData":null}',
    )

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch("+919812345678"))

    assert caught.value.category == ErrorCategory.INSUFFICIENT_CREDIT
    assert caught.value.text == "insufficient credits"
    assert caught.value.code == "021"
    assert '"JobId":null' in caught.value.raw


def test_the_error_table_covers_every_code_in_the_document():
    assert {code: category for code, (_, category) in ERRORS.items()} == EXPECTED_CATEGORIES


@pytest.mark.parametrize(("code", "category"), sorted(EXPECTED_CATEGORIES.items()))
def test_each_document_error_code_maps_to_its_category(gateway, canlog_sim, code, category):
    words = ERRORS[code][0]
    replay(
        canlog_sim,
        json.dumps({"ErrorCode": code, "ErrorMessage": words, "JobId": None, "MessageData": None}),
    )

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch("+919812345678"))

    assert (caught.value.category, caught.value.code, caught.value.text) == (
        category,
        code,
        words,
    )


def test_unknown_error_code_is_an_invalid_request_with_the_raw_text(gateway, canlog_sim):
    replay(canlog_sim, '{"ErrorCode":"099","ErrorMessage":"route closed","JobId":null}')

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch("+919812345678"))

    assert caught.value.category == ErrorCategory.INVALID_REQUEST
    assert caught.value.code == "099"
    assert "route closed" in caught.value.text


def test_unknown_error_code_with_a_job_id_is_ambiguous(gateway, canlog_sim):
    replay(canlog_sim, '{"ErrorCode":"099","ErrorMessage":"partial","JobId":"88"}')

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch("+919812345678"))

    assert caught.value.category == ErrorCategory.AMBIGUOUS


# -- the simulator's own refusals, through the adapter ------------------------------------


@pytest.mark.parametrize(
    ("batch", "code", "category"),
    [
        (make_batch("+919812345678", sender=""), "003", ErrorCategory.INVALID_SENDER),
        (make_batch("+919812345678", sender="HELPDSK"), "015", ErrorCategory.INVALID_SENDER),
        (make_batch("+919812345678", text=""), "004", ErrorCategory.CONTENT_REJECTED),
        (make_batch("+9198123"), "013", ErrorCategory.INVALID_RECIPIENT),
        (make_batch("", group_id="404"), "017", ErrorCategory.INVALID_RECIPIENT),
        (
            make_batch("+919812345678", schedule_at=datetime(2020, 1, 1, tzinfo=UTC)),
            "019",
            ErrorCategory.INVALID_REQUEST,
        ),
    ],
    ids=["blank-sender", "long-sender", "blank-text", "bad-number", "unknown-group", "past"],
)
def test_simulator_refuses_bad_requests_with_the_documents_codes(
    gateway, canlog_sim, batch, code, category
):
    with pytest.raises(GatewayError) as caught:
        gateway.send(batch)

    assert (caught.value.code, caught.value.category) == (code, category)
    assert canlog_sim.state()["messages"] == []


def test_wrong_api_key_is_an_authentication_error(canlog_provider):
    canlog_provider.api_key = "not-the-key"

    with pytest.raises(GatewayError) as caught:
        canlog_provider.get_gateway().send(make_batch("+919812345678"))

    assert (caught.value.code, caught.value.category) == ("007", ErrorCategory.AUTHENTICATION)


def test_missing_credentials_are_blank_login_details(canlog_provider):
    canlog_provider.api_key = ""

    with pytest.raises(GatewayError) as caught:
        canlog_provider.get_gateway().send(make_batch("+919812345678"))

    assert (caught.value.code, caught.value.category) == ("001", ErrorCategory.AUTHENTICATION)


def test_rejected_number_fault_refuses_the_request(gateway, canlog_sim):
    canlog_sim.set_faults(reject_numbers=["919812345679"])

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch("+919812345678", "+919812345679"))

    assert caught.value.category == ErrorCategory.INVALID_RECIPIENT


def test_exhausted_credit_is_insufficient_credit_and_nothing_is_charged(gateway, canlog_sim):
    canlog_sim.set_faults(credit_exhausted=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch("+919812345678"))

    assert caught.value.category == ErrorCategory.INSUFFICIENT_CREDIT
    assert canlog_sim.state()["balances"]["Trans"] == "500"


def test_credit_shortfall_on_the_channel_is_insufficient_credit(canlog_provider):
    sim = CanlogSimulator(api_key=CANLOG_API_KEY, balances={"Promo": 100, "Trans": 1})
    canlog_provider.base_url = sim.start()
    try:
        with pytest.raises(GatewayError) as caught:
            canlog_provider.get_gateway().send(make_batch("+919812345678", "+919812345679"))
    finally:
        sim.stop()

    assert caught.value.code == "021"


def test_dlt_template_goes_out_as_dlttemplateid_with_the_entity_id_as_peid(
    canlog_provider, canlog_sim
):
    canlog_provider.options = {**canlog_provider.options, "dlt_entity_id": "1201159"}

    canlog_provider.get_gateway().send(make_batch("+919812345678", template_id="1107161"))

    params = last_params(canlog_sim)
    assert (params["dlttemplateid"], params["peid"]) == ("1107161", "1201159")


# -- delivery reports ----------------------------------------------------------------------


def test_delivery_report_moves_to_delivered_after_the_delay(gateway, canlog_sim):
    canlog_sim.advance(0)  # freeze the simulator's clock
    [result] = gateway.send(make_batch("+919812345678")).results
    ref = ReportRef(result.provider_message_id, result.job_id)

    [before] = gateway.fetch_reports([ref])
    canlog_sim.advance(2.5)
    [after] = gateway.fetch_reports([ref])

    assert before.status == DeliveryStatus.ACCEPTED
    assert after.status == DeliveryStatus.DELIVERED
    assert after.provider_message_id == result.provider_message_id
    sent_at = canlog_sim.state()["messages"][0]["submitted_at"]
    assert after.occurred_at.tzinfo is not None
    assert abs(after.occurred_at.timestamp() - (sent_at + 2)) < 1


def test_undeliverable_number_reports_undelivered(canlog_provider):
    sim = CanlogSimulator(api_key=CANLOG_API_KEY, undeliverable=["919812345679"])
    canlog_provider.base_url = sim.start()
    try:
        gateway = canlog_provider.get_gateway()
        results = gateway.send(make_batch("+919812345678", "+919812345679")).results
        sim.advance(5)
        reports = gateway.fetch_reports(
            [ReportRef(r.provider_message_id, r.job_id) for r in results]
        )
    finally:
        sim.stop()

    by_id = {r.provider_message_id: r for r in reports}
    assert by_id[results[0].provider_message_id].status == DeliveryStatus.DELIVERED
    assert by_id[results[1].provider_message_id].status == DeliveryStatus.UNDELIVERED
    assert by_id[results[1].provider_message_id].error_text == "Undelivered"


def test_reports_are_fetched_once_per_job_and_only_for_asked_messages(gateway, canlog_sim):
    first = gateway.send(make_batch("+919812345678", "+919812345679")).results
    second = gateway.send(make_batch("+919812345670")).results
    canlog_sim.advance(5)

    reports = gateway.fetch_reports(
        [ReportRef(first[0].provider_message_id, first[0].job_id)]
        + [ReportRef(r.provider_message_id, r.job_id) for r in second]
        + [ReportRef("no-job-id")]
    )

    deliveries = [r for r in canlog_sim.state()["requests"] if "GetDelivery" in r["path"]]
    assert sorted(r["params"]["jobid"] for r in deliveries) == ["20047", "20048"]
    assert {r.provider_message_id for r in reports} == {
        first[0].provider_message_id,
        second[0].provider_message_id,
    }


def test_a_job_the_gateway_no_longer_knows_does_not_stop_other_reports(gateway, canlog_sim):
    [result] = gateway.send(make_batch("+919812345678")).results
    canlog_sim.advance(5)

    reports = gateway.fetch_reports(
        [ReportRef("gone", "1"), ReportRef(result.provider_message_id, result.job_id)]
    )

    assert [r.status for r in reports] == [DeliveryStatus.DELIVERED]


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("Delivered", DeliveryStatus.DELIVERED),
        ("DELIVRD", DeliveryStatus.DELIVERED),
        ("Undelivered", DeliveryStatus.UNDELIVERED),
        ("failed", DeliveryStatus.UNDELIVERED),
        ("Rejected", DeliveryStatus.UNDELIVERED),
        ("UNDELIV", DeliveryStatus.UNDELIVERED),
        ("Expired", DeliveryStatus.EXPIRED),
        ("Pending", DeliveryStatus.ACCEPTED),
        ("Submitted", DeliveryStatus.ACCEPTED),
        ("Sent", DeliveryStatus.ACCEPTED),
        ("Scheduled", DeliveryStatus.ACCEPTED),
        ("Whatever", DeliveryStatus.ACCEPTED),
    ],
)
def test_delivery_status_words_map_case_insensitively(gateway, canlog_sim, word, status):
    replay(
        canlog_sim,
        json.dumps(
            {
                "ErrorCode": "0",
                "ErrorMessage": "Done",
                "DeliveryReports": [
                    {"MessageId": "m1", "DeliveryStatus": word, "DeliveryDate": None}
                ],
            }
        ),
    )

    [report] = gateway.fetch_reports([ReportRef("m1", "1")])

    assert report.status == status


# -- balance -------------------------------------------------------------------------------


def test_balance_is_one_entry_per_channel(canlog_provider):
    sim = CanlogSimulator(api_key=CANLOG_API_KEY, balances={"Promo": 9988, "Trans": 0})
    canlog_provider.base_url = sim.start()
    try:
        balances = canlog_provider.get_gateway().balance()
    finally:
        sim.stop()

    assert [(b.account, b.amount) for b in balances] == [
        ("Promo", Decimal("9988")),
        ("Trans", Decimal("0")),
    ]
    assert isinstance(balances[0], Balance)


def test_balance_is_read_with_user_and_password_as_the_document_writes_them(
    canlog_provider, canlog_sim
):
    canlog_provider.api_key = ""
    canlog_provider.username = CANLOG_USER
    canlog_provider.password = CANLOG_PASSWORD

    canlog_provider.get_gateway().balance()

    assert last_params(canlog_sim) == {"User": CANLOG_USER, "Password": "***"}


@pytest.mark.parametrize(
    ("text", "unicode", "parts"),
    [
        ("x" * 160, False, 1),
        ("x" * 161, False, 2),
        ("x" * 307, False, 3),
        ("ü" * 70, True, 1),
        ("ü" * 71, True, 2),
    ],
)
def test_balance_falls_by_parts_sent(gateway, canlog_sim, text, unicode, parts):
    gateway.send(make_batch("+919812345678", "+919812345679", text=text, unicode=unicode))

    trans = {b.account: b.amount for b in gateway.balance()}["Trans"]

    assert trans == Decimal(500 - 2 * parts)


# -- transport failures --------------------------------------------------------------------


def test_malformed_reply_is_ambiguous_and_keeps_the_raw_body(gateway, canlog_sim):
    canlog_sim.set_faults(malformed=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch("+919812345678"))

    assert caught.value.category == ErrorCategory.AMBIGUOUS
    assert caught.value.raw.startswith('{"ErrorCode":"000"')


def test_malformed_balance_reply_is_transient(gateway, canlog_sim):
    canlog_sim.set_faults(malformed=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.balance()

    assert caught.value.category == ErrorCategory.TRANSIENT


# -- secrets -------------------------------------------------------------------------------


def test_api_key_never_appears_in_the_stored_request_or_response(gateway):
    outcome = gateway.send(make_batch("+919812345678"))

    stored = json.dumps([outcome.request, outcome.response])
    assert CANLOG_API_KEY not in stored
    assert outcome.request["path"] == "/api/mt/SendSMS"
    assert outcome.request["params"]["APIKey"] == "***"


def test_password_never_appears_in_the_stored_request(canlog_provider):
    canlog_provider.api_key = ""
    canlog_provider.username = CANLOG_USER
    canlog_provider.password = CANLOG_PASSWORD

    outcome = canlog_provider.get_gateway().send(make_batch("+919812345678"))

    assert CANLOG_PASSWORD not in json.dumps([outcome.request, outcome.response])


# -- sender IDs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "ok"),
    [("HELPDK", True), ("WEB", True), ("HELPDSK", False), ("HELP-1", False), ("", False)],
)
def test_sender_ids_are_at_most_six_letters(gateway, sender, ok):
    assert (gateway.sender_errors(sender) == []) is ok


# -- the simulator's control API -----------------------------------------------------------


def test_simulator_faults_state_and_reset_work_over_http(canlog_sim):
    url = canlog_sim.url
    set_fault = requests.post(f"{url}/_sim/faults", json={"http_500": True, "times": 1})
    first = requests.get(f"{url}/api/mt/GetBalance", params={"APIKey": CANLOG_API_KEY})
    second = requests.get(f"{url}/api/mt/GetBalance", params={"APIKey": CANLOG_API_KEY})
    state = requests.get(f"{url}/_sim/state").json()
    requests.post(f"{url}/_sim/reset")

    assert set_fault.json() == {"faults": {"http_500": {"value": True, "remaining": 1}}}
    assert (first.status_code, second.status_code) == (500, 200)
    assert [r["params"]["APIKey"] for r in state["requests"]] == ["***", "***"]
    assert state["faults"] == {}
    assert requests.get(f"{url}/_sim/state").json()["requests"] == []


def test_simulator_clock_advances_over_http(canlog_sim):
    before = canlog_sim.now()

    reply = requests.post(f"{canlog_sim.url}/_sim/clock", json={"advance": 3600})

    assert reply.json()["now"] == pytest.approx(before + 3600, abs=1)


def test_unknown_fault_is_refused(canlog_sim):
    reply = requests.post(f"{canlog_sim.url}/_sim/faults", json={"meteor_strike": True})

    assert reply.status_code == 400
    assert "meteor_strike" in reply.json()["error"]


def test_simulator_answers_an_unknown_job_with_022(canlog_sim):
    reply = requests.get(
        f"{canlog_sim.url}/api/mt/getdelivery",
        params={"apikey": CANLOG_API_KEY, "jobid": '"31337"'},
    ).json()

    assert reply == {
        "ErrorCode": "022",
        "ErrorMessage": "invalid jobid",
        "MessageId": None,
        "DeliveryReports": None,
    }


def test_get_simulator_names_the_known_simulators_for_an_unknown_one():
    with pytest.raises(KeyError, match="canlog"):
        get_simulator("nope")


def test_get_simulator_builds_a_canlog_simulator_with_options():
    sim = get_simulator("canlog", delivery_delay=7)

    assert isinstance(sim, CanlogSimulator)
    assert sim.delivery_delay == 7


def test_scheduled_delivery_date_uses_the_simulator_timezone(gateway, canlog_sim):
    due = datetime(2030, 1, 15, 16, 5, tzinfo=UTC)
    gateway.send(make_batch("+919812345678", schedule_at=due))

    canlog_sim.set_time((due + timedelta(seconds=10)).timestamp())

    [message] = canlog_sim.state()["messages"]
    assert message["delivery_date"] == "2030-01-15T21:35:02"
