"""The ATL adapter against the ATL simulator, over real sockets on 127.0.0.1.

Nothing here mocks HTTP. Time is moved on the simulator's clock (``sim.advance``), never by
sleeping. The document's replies are replayed byte for byte through the ``body`` fault.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest
import requests
from django.core.exceptions import ValidationError
from django.utils import timezone

from helpdesk_sms import outbox, reports
from helpdesk_sms.api import send_sms
from helpdesk_sms.gateways.atl import (
    ERRORS,
    AtlGateway,
    describe,
    parse_reply,
)
from helpdesk_sms.gateways.base import (
    Balance,
    Batch,
    DeliveryStatus,
    ErrorCategory,
    GatewayError,
    Recipient,
    ReportRef,
)
from helpdesk_sms.models import Message
from helpdesk_sms.simulators import get_simulator
from helpdesk_sms.simulators.atl import AtlSimulator
from helpdesk_sms.states import Status
from tests.fixtures_atl import ATL_LOGIN, ATL_PASSWORD, ATL_TITLE
from tests.gateways.helpers import batch_maker, replay

pytestmark = pytest.mark.django_db

TEXT = "Ticket #42 received. We will call you back."
AZ_TEXT = "Müraciətiniz qəbul edildi, tezliklə zəng edəcəyik."
FIRST = "+994519574083"
SECOND = "+994518989447"
THIRD = "+994501234567"

# -- the document's replies, exactly as written (its broken report example included) -------

DOC_SUBMIT = """<?xml version="1.0" encoding="UTF-8"?>
<response>
  <head>
    <responsecode>000</responsecode>
  </head>
  <body>
    <taskid>4837</taskid>
  </body>
  </response>"""
#: The individual submit's "Response:" and the detailed report's "Response:" are empty.
DOC_EMPTY = ""
DOC_REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<response>
  <head>
        <responsecode>000</responsecode>
        <head>
        <body>
        <pending>0</pending>
        <delivered>1</delivered>
        <failed>1</failed>
        <removed>0</removed>
        <error>0

</pr"""
DOC_UNITS = """<?xml version="1.0" encoding="UTF-8"?>
<response>
  <head>
    <responsecode>000</responsecode>
  </head>
  <body>
    <units>234</units>
  </body>
  </response>"""
#: The document's bulk request example, verbatim: it is not well-formed XML.
DOC_BULK_REQUEST = """<?xml version="1.0" encoding="UTF-8"?>
<request>
 <head>
 <operation>submit
 <le><login>login</login>
 <password>password</password>
 <title>TITLE</title>
 <bulkmessage>message
 <scheduled>2011-10-01 15:40:05</scheduled>
 <isbulk>true</isbulk>
 <controlid>111</controlid>
 </head>
 <body>
 <msisdn>994519574083
 </body>
 <body>
  <msisdn>994518989447
 </body>
</request>"""

#: The document's response codes, with the category each must mean.
EXPECTED_CATEGORIES = {
    "001": ErrorCategory.AMBIGUOUS,
    "002": ErrorCategory.AMBIGUOUS,
    "100": ErrorCategory.INVALID_REQUEST,
    "101": ErrorCategory.INVALID_REQUEST,
    "102": ErrorCategory.INVALID_REQUEST,
    "103": ErrorCategory.AUTHENTICATION,
    "104": ErrorCategory.AUTHENTICATION,
    "105": ErrorCategory.AUTHENTICATION,
    "106": ErrorCategory.INVALID_SENDER,
    "107": ErrorCategory.INVALID_SENDER,
    "108": ErrorCategory.INVALID_REQUEST,
    "109": ErrorCategory.INVALID_REQUEST,
    "110": ErrorCategory.INVALID_REQUEST,
    "111": ErrorCategory.INVALID_REQUEST,
    "112": ErrorCategory.INVALID_REQUEST,
    "113": ErrorCategory.INVALID_REQUEST,
    "114": ErrorCategory.INVALID_REQUEST,
    "115": ErrorCategory.INVALID_REQUEST,
    "116": ErrorCategory.CONTENT_REJECTED,
    "117": ErrorCategory.INVALID_RECIPIENT,
    "118": ErrorCategory.INSUFFICIENT_CREDIT,
    "235": ErrorCategory.INVALID_SENDER,
    "2XX": ErrorCategory.TRANSIENT,
    "300": ErrorCategory.TRANSIENT,
}


#: A summary report with one number delivered and one failed: the detailed report decides.
MIXED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<response><head><responsecode>000</responsecode>'
    "</head><body><pending>0</pending><delivered>1</delivered><failed>1</failed>"
    "<removed>0</removed><error>0</error></body></response>"
)


make_batch = batch_maker(TEXT, ATL_TITLE)


def coded(code: str, **body: str) -> str:
    """An ATL reply with ``code`` and an optional ``<body>``, as the simulator writes it."""
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in body.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<response><head><responsecode>'
        f"{code}</responsecode></head>" + (f"<body>{inner}</body>" if body else "") + "</response>"
    )


def detailed(*pairs: tuple[str, str]) -> str:
    bodies = "".join(f"<body><msisdn>{n}</msisdn><status>{s}</status></body>" for n, s in pairs)
    return f"<response><head><responsecode>000</responsecode></head>{bodies}</response>"



def last_request(sim: AtlSimulator) -> dict:
    return sim.state()["requests"][-1]


def operations(sim: AtlSimulator) -> list[str]:
    return [r["params"].get("operation", "") for r in sim.state()["requests"]]


def refs_of(results) -> list[ReportRef]:
    return [ReportRef(r.provider_message_id, r.job_id) for r in results]


def raw_post(sim: AtlSimulator, head: dict[str, str], bodies=()) -> str:
    """POST a request built from ``head`` and ``bodies``; the reply's response code."""
    root = ET.Element("request")
    head_element = ET.SubElement(root, "head")
    for tag, value in head.items():
        ET.SubElement(head_element, tag).text = value
    for fields in bodies:
        body = ET.SubElement(root, "body")
        for tag, value in fields.items():
            ET.SubElement(body, tag).text = value
    reply = requests.post(f"{sim.url}/bulksms/api", data=ET.tostring(root), timeout=5)
    return parse_reply(reply.text).code


def submit_head(**overrides: str) -> dict[str, str]:
    head = {
        "operation": "submit",
        "login": ATL_LOGIN,
        "password": ATL_PASSWORD,
        "title": ATL_TITLE,
        "bulkmessage": TEXT,
        "scheduled": "now",
        "isbulk": "true",
        "controlid": "111",
    }
    head.update(overrides)
    return {k: v for k, v in head.items() if v is not None}


@pytest.fixture
def gateway(atl_provider) -> AtlGateway:
    return atl_provider.get_gateway()


# -- sending -------------------------------------------------------------------------------


def test_single_send_is_accepted_with_the_task_id_and_a_per_number_id(gateway, atl_sim):
    [result] = gateway.send(make_batch(FIRST)).results

    [message] = atl_sim.state()["messages"]
    assert result.ref == 1
    assert result.accepted
    assert result.job_id == message["task_id"] == "4837"
    assert result.provider_message_id == message["message_id"] == "4837:994519574083"


def test_submit_carries_exactly_the_documented_head_fields_and_one_body(gateway, atl_sim):
    gateway.send(make_batch(FIRST))

    request = last_request(atl_sim)
    assert request["method"] == "POST"
    assert request["path"] == "/bulksms/api"
    assert request["params"] == {
        "operation": "submit",
        "login": ATL_LOGIN,
        "password": "***",
        "title": ATL_TITLE,
        "bulkmessage": TEXT,
        "scheduled": "now",
        "isbulk": "true",
        "controlid": gateway.control_id(make_batch(FIRST)),
        "msisdn": "994519574083",
    }
    assert request["bodies"] == [{"msisdn": "994519574083"}]
    assert request["xml"].startswith('<?xml version="1.0" encoding="UTF-8"?>\n<request>')


def test_several_numbers_go_in_one_bulk_task_with_one_body_each(gateway, atl_sim):
    outcome = gateway.send(make_batch(FIRST, SECOND, THIRD))

    state = atl_sim.state()
    assert len(state["requests"]) == 1
    assert list(state["tasks"]) == ["4837"]
    assert [b["msisdn"] for b in last_request(atl_sim)["bodies"]] == [
        "994519574083",
        "994518989447",
        "994501234567",
    ]
    assert [(r.ref, r.provider_message_id) for r in outcome.results] == [
        (1, "4837:994519574083"),
        (2, "4837:994518989447"),
        (3, "4837:994501234567"),
    ]


def test_isbulk_false_option_writes_the_text_into_every_body(atl_provider, atl_sim):
    atl_provider.options = {"isbulk": False}

    atl_provider.get_gateway().send(make_batch(FIRST, SECOND))

    request = last_request(atl_sim)
    assert request["params"]["isbulk"] == "false"
    assert "bulkmessage" not in request["params"]
    assert request["bodies"] == [
        {"msisdn": "994519574083", "message": TEXT},
        {"msisdn": "994518989447", "message": TEXT},
    ]
    assert atl_sim.state()["tasks"]["4837"]["isbulk"] is False


def test_azerbaijani_text_is_sent_as_it_is_and_billed_as_ucs2(gateway, atl_sim):
    gateway.send(make_batch(FIRST, text=AZ_TEXT, unicode=True))

    [message] = atl_sim.state()["messages"]
    assert message["text"] == AZ_TEXT
    assert message["parts"] == 1
    assert "Müraciətiniz" in last_request(atl_sim)["xml"]


def test_numbers_are_written_with_the_country_code_and_no_plus(gateway):
    assert gateway.format_number("+994519574083") == "994519574083"


def test_xml_special_characters_in_the_text_arrive_intact(gateway, atl_sim):
    text = 'Ticket <42> & "urgent" — ok'

    gateway.send(make_batch(FIRST, text=text))

    assert atl_sim.state()["messages"][0]["text"] == text


@pytest.mark.parametrize(
    ("utc_time", "scheduled"),
    [
        (datetime(2030, 1, 15, 16, 5, tzinfo=UTC), "2030-01-15 20:05:00"),
        (datetime(2030, 7, 1, 22, 30, 15, tzinfo=UTC), "2030-07-02 02:30:15"),
    ],
)
def test_gateway_scheduling_sends_scheduled_in_the_provider_timezone(
    gateway, atl_sim, utc_time, scheduled
):
    gateway.send(make_batch(FIRST, schedule_at=utc_time))

    assert last_request(atl_sim)["params"]["scheduled"] == scheduled
    [message] = atl_sim.state()["messages"]
    assert message["due_at"] == utc_time.timestamp()
    assert message["scheduled"] is True


def test_scheduled_message_stays_accepted_until_due_then_is_delivered(gateway, atl_sim):
    due = datetime(2030, 1, 15, 16, 5, tzinfo=UTC)
    refs = refs_of(gateway.send(make_batch(FIRST, schedule_at=due)).results)

    atl_sim.set_time(due.timestamp() - 1)
    waiting = gateway.fetch_reports(refs)
    atl_sim.set_time(due.timestamp() + 3)
    [done] = gateway.fetch_reports(refs)

    assert waiting == []
    assert done.status == DeliveryStatus.DELIVERED


def test_task_canceled_in_the_panel_reports_undelivered_with_110_and_refunds(gateway, atl_sim):
    due = datetime(2030, 1, 15, 16, 5, tzinfo=UTC)
    refs = refs_of(gateway.send(make_batch(FIRST, SECOND, schedule_at=due)).results)

    assert atl_sim.cancel_task("4837")
    atl_sim.set_time(due.timestamp() + 60)
    found = gateway.fetch_reports(refs)

    assert [(r.status, r.error_code) for r in found] == [
        (DeliveryStatus.UNDELIVERED, "110"),
        (DeliveryStatus.UNDELIVERED, "110"),
    ]
    assert found[0].error_text == "Task with supplied id is canceled"
    assert atl_sim.state()["balances"]["units"] == "1000"
    assert {m["status"] for m in atl_sim.state()["messages"]} == {"removed"}


def test_the_same_number_twice_in_a_task_gets_two_ids_and_two_reports(gateway, atl_sim):
    results = gateway.send(make_batch(FIRST, FIRST)).results
    atl_sim.advance(5)
    atl_sim.queue_replies(MIXED, detailed(("994519574083", "2"), ("994519574083", "3")))

    found = gateway.fetch_reports(refs_of(results))

    assert [r.provider_message_id for r in results] == [
        "4837:994519574083",
        "4837:994519574083:2",
    ]
    assert [(r.provider_message_id, r.status) for r in found] == [
        ("4837:994519574083", DeliveryStatus.DELIVERED),
        ("4837:994519574083:2", DeliveryStatus.UNDELIVERED),
    ]


# -- controlid: the idempotency key -----------------------------------------------------


def test_controlid_is_the_same_for_the_same_messages_and_text(gateway):
    one = gateway.control_id(make_batch(FIRST, SECOND))
    again = gateway.control_id(Batch([Recipient(2, SECOND), Recipient(1, FIRST)], TEXT, ATL_TITLE))

    assert one == again
    assert one.isdigit() and int(one) < 2**63


@pytest.mark.parametrize(
    "other",
    [
        make_batch(FIRST),
        make_batch(FIRST, SECOND, THIRD),
        make_batch(FIRST, SECOND, text="Another text"),
    ],
    ids=["fewer-messages", "more-messages", "other-text"],
)
def test_controlid_differs_for_other_messages_or_text(gateway, other):
    assert gateway.control_id(other) != gateway.control_id(make_batch(FIRST, SECOND))


def test_controlid_differs_between_providers(atl_provider):
    other = type(atl_provider).objects.get(pk=atl_provider.pk)
    other.pk = None
    other.name = "ATL second account"
    other.save()

    batch = make_batch(FIRST)
    assert other.get_gateway().control_id(batch) != atl_provider.get_gateway().control_id(batch)


def test_resending_a_task_the_gateway_kept_answers_002_and_is_accepted_once(gateway, atl_sim):
    first = gateway.send(make_batch(FIRST, SECOND))
    second = gateway.send(make_batch(FIRST, SECOND))

    state = atl_sim.state()
    assert list(state["tasks"]) == ["4837"]
    assert len(state["messages"]) == 2
    assert state["requests"][-1]["response"]["body"].count("<responsecode>002<") == 1
    assert [r.provider_message_id for r in second.results] == [
        r.provider_message_id for r in first.results
    ]
    assert all(r.accepted and r.job_id == "4837" for r in second.results)
    assert "002" in second.results[0].raw["duplicate"]
    assert state["balances"]["units"] == "998"


def test_a_002_without_a_task_id_is_accepted_without_ids(gateway, atl_sim):
    replay(atl_sim, coded("002"))

    outcome = gateway.send(make_batch(FIRST))

    [result] = outcome.results
    assert result.accepted
    assert (result.job_id, result.provider_message_id) == ("", "")


# -- the document's replies, verbatim ------------------------------------------------------


def test_the_documents_submit_reply_is_read_verbatim(gateway, atl_sim):
    replay(atl_sim, DOC_SUBMIT)

    [result] = gateway.send(make_batch(FIRST)).results

    assert result.accepted
    assert result.job_id == "4837"
    assert result.provider_message_id == "4837:994519574083"


def test_the_documents_empty_individual_submit_reply_is_ambiguous(gateway, atl_sim):
    replay(atl_sim, DOC_EMPTY)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(FIRST))

    assert caught.value.category == ErrorCategory.AMBIGUOUS


def test_the_documents_broken_report_reply_is_read_with_its_counters():
    reply = parse_reply(DOC_REPORT, tolerant=True)

    assert reply.code == "000"
    assert not reply.well_formed
    assert {k: reply.value(k) for k in ("pending", "delivered", "failed", "removed", "error")} == {
        "pending": "0",
        "delivered": "1",
        "failed": "1",
        "removed": "0",
        "error": "0",
    }


def test_the_documents_report_reply_leads_to_the_detailed_report(atl_provider):
    sim = AtlSimulator(user=ATL_LOGIN, password=ATL_PASSWORD, undeliverable=["994518989447"])
    atl_provider.base_url = sim.start()
    try:
        gateway = atl_provider.get_gateway()
        results = gateway.send(make_batch(FIRST, SECOND)).results
        sim.advance(5)
        replay(sim, DOC_REPORT)
        found = gateway.fetch_reports(refs_of(results))
        asked = operations(sim)
    finally:
        sim.stop()

    assert asked[-2:] == ["report", "detailedreport"]
    assert [(r.provider_message_id, r.status) for r in found] == [
        ("4837:994519574083", DeliveryStatus.DELIVERED),
        ("4837:994518989447", DeliveryStatus.UNDELIVERED),
    ]


def test_the_documents_empty_detailed_report_reply_reports_nothing(gateway, atl_sim):
    results = gateway.send(make_batch(FIRST, SECOND)).results
    atl_sim.advance(5)
    atl_sim.queue_replies(MIXED, DOC_EMPTY)

    assert gateway.fetch_reports(refs_of(results)) == []
    assert operations(atl_sim)[-2:] == ["report", "detailedreport"]


def test_the_documents_units_reply_is_one_balance_in_units(gateway, atl_sim):
    replay(atl_sim, DOC_UNITS)

    [balance] = gateway.balance()

    assert (balance.account, balance.amount, balance.unit) == ("", Decimal("234"), "units")
    assert balance.raw["units"] == "234"


def test_the_documents_own_request_example_is_refused_by_the_simulator_as_bad_xml(atl_sim):
    reply = requests.post(f"{atl_sim.url}/bulksms/api", data=DOC_BULK_REQUEST.encode(), timeout=5)

    assert parse_reply(reply.text).code == "100"
    assert atl_sim.state()["messages"] == []


# -- response codes ------------------------------------------------------------------------


def test_the_error_table_covers_every_code_in_the_document():
    assert {code: category for code, (_, category) in ERRORS.items()} == EXPECTED_CATEGORIES


@pytest.mark.parametrize(
    ("code", "category"),
    sorted((c, k) for c, k in EXPECTED_CATEGORIES.items() if c not in ("002", "2XX")),
)
def test_each_document_code_answering_a_submit_raises_its_category(
    gateway, atl_sim, code, category
):
    replay(atl_sim, coded(code))

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(FIRST))

    assert (caught.value.category, caught.value.code, caught.value.text) == (
        category,
        code,
        ERRORS[code][0],
    )


@pytest.mark.parametrize("code", ["200", "201", "250", "299"])
def test_2xx_codes_other_than_235_are_system_errors_and_transient(gateway, atl_sim, code):
    replay(atl_sim, coded(code))

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(FIRST))

    assert caught.value.category == ErrorCategory.TRANSIENT
    assert caught.value.text == "System error, report to administrator"
    assert describe(code) == ERRORS["2XX"]


@pytest.mark.parametrize("code", ["0", "00", "000"])
def test_response_code_zero_in_any_spelling_is_success(gateway, atl_sim, code):
    replay(atl_sim, coded(code, taskid="99"))

    [result] = gateway.send(make_batch(FIRST)).results

    assert result.accepted and result.job_id == "99"


def test_unknown_code_is_an_invalid_request(gateway, atl_sim):
    replay(atl_sim, coded("999"))

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(FIRST))

    assert (caught.value.category, caught.value.code) == (ErrorCategory.INVALID_REQUEST, "999")
    assert "999" in caught.value.text


def test_unknown_code_with_a_task_id_is_ambiguous(gateway, atl_sim):
    replay(atl_sim, coded("999", taskid="77"))

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(FIRST))

    assert caught.value.category == ErrorCategory.AMBIGUOUS


def test_reply_without_a_response_code_is_ambiguous(gateway, atl_sim):
    replay(atl_sim, "<response><body><taskid>4837</taskid></body></response>")

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(FIRST))

    assert caught.value.category == ErrorCategory.AMBIGUOUS


def test_submit_reply_that_is_not_well_formed_is_ambiguous_even_with_a_code(gateway, atl_sim):
    replay(atl_sim, "<response><head><responsecode>000</responsecode><body><taskid>48")

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(FIRST))

    assert caught.value.category == ErrorCategory.AMBIGUOUS


ENTITY_REPLY = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "000">]>'
    "<response><head><responsecode>&x;</responsecode></head></response>"
)


def test_a_reply_declaring_entities_is_unreadable_and_never_expanded(gateway, atl_sim):
    replay(atl_sim, ENTITY_REPLY)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(FIRST))

    assert caught.value.category == ErrorCategory.AMBIGUOUS
    assert parse_reply(ENTITY_REPLY) is None
    assert parse_reply(ENTITY_REPLY, tolerant=True) is None


# -- the simulator's own refusals, through the adapter ------------------------------------


@pytest.mark.parametrize(
    ("batch", "code", "category"),
    [
        (make_batch(FIRST, sender=""), "106", ErrorCategory.INVALID_SENDER),
        (make_batch(FIRST, sender="HELPDESK-AZ1"), "107", ErrorCategory.INVALID_SENDER),
        (make_batch(FIRST, sender="Dəstək"), "107", ErrorCategory.INVALID_SENDER),
        (make_batch(FIRST, text=" "), "116", ErrorCategory.CONTENT_REJECTED),
        (make_batch("+99451"), "117", ErrorCategory.INVALID_RECIPIENT),
        (
            make_batch(FIRST, schedule_at=datetime(2020, 1, 1, tzinfo=UTC)),
            "113",
            ErrorCategory.INVALID_REQUEST,
        ),
    ],
    ids=["blank-title", "long-title", "non-ascii-title", "blank-text", "bad-number", "past"],
)
def test_simulator_refuses_bad_submits_with_the_documents_codes(
    gateway, atl_sim, batch, code, category
):
    with pytest.raises(GatewayError) as caught:
        gateway.send(batch)

    assert (caught.value.code, caught.value.category) == (code, category)
    assert atl_sim.state()["messages"] == []


def test_a_title_not_registered_for_the_account_is_235(atl_provider):
    sim = AtlSimulator(user=ATL_LOGIN, password=ATL_PASSWORD, titles=["OTHER"])
    atl_provider.base_url = sim.start()
    try:
        with pytest.raises(GatewayError) as caught:
            atl_provider.get_gateway().send(make_batch(FIRST))
    finally:
        sim.stop()

    assert (caught.value.code, caught.value.category) == ("235", ErrorCategory.INVALID_SENDER)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [("username", "", "103"), ("password", "", "104"), ("password", "wrong", "105")],
)
def test_bad_credentials_are_authentication_errors(atl_provider, field, value, code):
    setattr(atl_provider, field, value)

    with pytest.raises(GatewayError) as caught:
        atl_provider.get_gateway().send(make_batch(FIRST))

    assert (caught.value.code, caught.value.category) == (code, ErrorCategory.AUTHENTICATION)


def test_api_key_is_sent_as_the_password_when_the_password_is_empty(atl_provider, atl_sim):
    atl_provider.password = ""
    atl_provider.api_key = ATL_PASSWORD

    [result] = atl_provider.get_gateway().send(make_batch(FIRST)).results

    assert result.accepted


def test_auth_failure_fault_is_105_for_every_operation(gateway, atl_sim):
    atl_sim.set_faults(auth_failure=True)

    with pytest.raises(GatewayError) as sending:
        gateway.send(make_batch(FIRST))
    with pytest.raises(GatewayError) as balance:
        gateway.balance()

    assert sending.value.code == balance.value.code == "105"
    assert balance.value.category == ErrorCategory.AUTHENTICATION


def test_rejected_number_fault_refuses_the_whole_task_with_117(gateway, atl_sim):
    atl_sim.set_faults(reject_numbers=["994518989447"])

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(FIRST, SECOND))

    assert (caught.value.code, caught.value.category) == ("117", ErrorCategory.INVALID_RECIPIENT)
    assert atl_sim.state()["messages"] == []


def test_exhausted_credit_is_118_and_nothing_is_charged(gateway, atl_sim):
    atl_sim.set_faults(credit_exhausted=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(FIRST))

    assert (caught.value.code, caught.value.category) == ("118", ErrorCategory.INSUFFICIENT_CREDIT)
    assert atl_sim.state()["balances"]["units"] == "1000"


def test_too_few_units_for_every_part_is_118(atl_provider):
    sim = AtlSimulator(user=ATL_LOGIN, password=ATL_PASSWORD, units=3)
    atl_provider.base_url = sim.start()
    try:
        with pytest.raises(GatewayError) as caught:
            atl_provider.get_gateway().send(make_batch(FIRST, SECOND, text="x" * 161))
    finally:
        sim.stop()

    assert caught.value.code == "118"


def test_a_refused_submit_does_not_use_up_its_controlid(gateway, atl_sim):
    atl_sim.set_faults(credit_exhausted=True, times=1)
    with pytest.raises(GatewayError):
        gateway.send(make_batch(FIRST))

    [result] = gateway.send(make_batch(FIRST)).results

    assert result.accepted and "duplicate" not in result.raw


@pytest.mark.parametrize(
    ("head", "bodies", "code"),
    [
        (submit_head(operation=""), [{"msisdn": "994519574083"}], "101"),
        (submit_head(operation="send"), [{"msisdn": "994519574083"}], "102"),
        (submit_head(scheduled=""), [{"msisdn": "994519574083"}], "111"),
        (submit_head(scheduled="tomorrow"), [{"msisdn": "994519574083"}], "112"),
        (submit_head(isbulk=""), [{"msisdn": "994519574083"}], "114"),
        (submit_head(isbulk="yes"), [{"msisdn": "994519574083"}], "115"),
        (submit_head(), [], "117"),
        (submit_head(isbulk="false", bulkmessage=None), [{"msisdn": "994519574083"}], "117"),
        (
            {"operation": "report", "login": ATL_LOGIN, "password": ATL_PASSWORD},
            [],
            "108",
        ),
        (
            {
                "operation": "detailedreport",
                "login": ATL_LOGIN,
                "password": ATL_PASSWORD,
                "taskid": "31337",
            },
            [],
            "109",
        ),
    ],
    ids=[
        "no-op",
        "bad-op",
        "no-date",
        "bad-date",
        "no-isbulk",
        "bad-isbulk",
        "no-body",
        "no-message",
        "no-task",
        "bad-task",
    ],
)
def test_simulator_answers_malformed_requests_with_the_documents_codes(atl_sim, head, bodies, code):
    assert raw_post(atl_sim, head, bodies) == code
    assert atl_sim.state()["messages"] == []


def test_simulator_sends_individual_messages_with_their_own_texts(atl_sim):
    code = raw_post(
        atl_sim,
        submit_head(isbulk="false", bulkmessage=None),
        [
            {"msisdn": "994519574083", "message": "message one"},
            {"msisdn": "994518989447", "message": "message two"},
        ],
    )

    assert code == "000"
    assert [m["text"] for m in atl_sim.state()["messages"]] == ["message one", "message two"]


# -- delivery reports ----------------------------------------------------------------------


def test_report_not_ready_yet_reports_nothing_then_delivered(gateway, atl_sim):
    atl_sim.advance(0)  # freeze the simulator's clock
    refs = refs_of(gateway.send(make_batch(FIRST)).results)

    before = gateway.fetch_reports(refs)
    not_ready = atl_sim.state()["requests"][-1]["response"]["body"]
    atl_sim.advance(2.5)
    [after] = gateway.fetch_reports(refs)

    assert before == []
    assert "<responsecode>001</responsecode>" in not_ready
    assert "<body>" not in not_ready
    assert after.status == DeliveryStatus.DELIVERED
    assert after.provider_message_id == "4837:994519574083"


def test_a_task_wholly_delivered_is_settled_by_the_summary_report_alone(gateway, atl_sim):
    refs = refs_of(gateway.send(make_batch(FIRST, SECOND)).results)
    atl_sim.advance(5)

    found = gateway.fetch_reports(refs)

    assert [r.status for r in found] == [DeliveryStatus.DELIVERED] * 2
    assert operations(atl_sim)[-1] == "report"
    assert found[0].raw["delivered"] == "2"


def test_mixed_outcomes_are_read_from_the_detailed_report(atl_provider):
    sim = AtlSimulator(user=ATL_LOGIN, password=ATL_PASSWORD, undeliverable=["994518989447"])
    atl_provider.base_url = sim.start()
    try:
        gateway = atl_provider.get_gateway()
        refs = refs_of(gateway.send(make_batch(FIRST, SECOND)).results)
        sim.advance(5)
        found = gateway.fetch_reports(refs)
        asked = operations(sim)
    finally:
        sim.stop()

    assert asked[-2:] == ["report", "detailedreport"]
    assert {r.provider_message_id: (r.status, r.error_code, r.error_text) for r in found} == {
        "4837:994519574083": (DeliveryStatus.DELIVERED, "", ""),
        "4837:994518989447": (DeliveryStatus.UNDELIVERED, "3", "Message delivery failed"),
    }


@pytest.mark.parametrize(
    ("status", "expected", "error_code", "error_text"),
    [
        ("1", DeliveryStatus.ACCEPTED, "", ""),
        ("2", DeliveryStatus.DELIVERED, "", ""),
        ("3", DeliveryStatus.UNDELIVERED, "3", "Message delivery failed"),
        ("4", DeliveryStatus.UNDELIVERED, "4", "Message was removed from list"),
        ("5", DeliveryStatus.UNDELIVERED, "5", "System error"),
        ("pending", DeliveryStatus.ACCEPTED, "", ""),
        ("Delivered", DeliveryStatus.DELIVERED, "", ""),
        ("FAILED", DeliveryStatus.UNDELIVERED, "3", "Message delivery failed"),
        ("removed", DeliveryStatus.UNDELIVERED, "4", "Message was removed from list"),
        ("error", DeliveryStatus.UNDELIVERED, "5", "System error"),
    ],
)
def test_detailed_statuses_map_to_delivery_states(
    gateway, atl_sim, status, expected, error_code, error_text
):
    atl_sim.queue_replies(MIXED, detailed(("994519574083", status)))

    [report] = gateway.fetch_reports([ReportRef("4837:994519574083", "4837")])

    assert (report.status, report.error_code, report.error_text) == (
        expected,
        error_code,
        error_text,
    )
    assert report.raw["status"] == status


@pytest.mark.parametrize("status", ["9", "", "queued?"])
def test_an_unknown_detailed_status_reports_nothing(gateway, atl_sim, status):
    atl_sim.queue_replies(MIXED, detailed(("994519574083", status)))

    assert gateway.fetch_reports([ReportRef("4837:994519574083", "4837")]) == []


def test_a_summary_with_no_final_number_skips_the_detailed_report(gateway, atl_sim):
    replay(atl_sim, coded("000", pending="2", delivered="0", failed="0", removed="0", error="0"))

    assert gateway.fetch_reports([ReportRef("4837:994519574083", "4837")]) == []
    assert operations(atl_sim) == ["report"]


@pytest.mark.parametrize("counter", ["failed", "removed", "error"])
def test_a_summary_with_every_number_in_one_failed_state_settles_the_task(
    gateway, atl_sim, counter
):
    counts = dict.fromkeys(("pending", "delivered", "failed", "removed", "error"), "0")
    counts[counter] = "2"
    replay(atl_sim, coded("000", **counts))
    refs = [ReportRef("4837:994519574083", "4837"), ReportRef("4837:994518989447", "4837")]

    found = gateway.fetch_reports(refs)

    assert [r.status for r in found] == [DeliveryStatus.UNDELIVERED] * 2
    assert operations(atl_sim) == ["report"]


def test_detailed_entries_match_national_numbers_by_their_last_nine_digits(gateway, atl_sim):
    refs = [ReportRef("4837:994519574083", "4837"), ReportRef("4837:994518989447", "4837")]
    atl_sim.queue_replies(MIXED, detailed(("0518989447", "3"), ("519574083", "2")))

    found = gateway.fetch_reports(refs)

    assert [(r.provider_message_id, r.status) for r in found] == [
        ("4837:994519574083", DeliveryStatus.DELIVERED),
        ("4837:994518989447", DeliveryStatus.UNDELIVERED),
    ]


def test_several_pairs_in_one_body_are_read_in_order():
    reply = parse_reply(
        "<response><head><responsecode>000</responsecode></head><body>"
        "<msisdn>994519574083</msisdn><status>2</status>"
        "<msisdn>994518989447</msisdn><status>3</status></body></response>"
    )

    assert reply.entries == [
        {"msisdn": "994519574083", "status": "2"},
        {"msisdn": "994518989447", "status": "3"},
    ]


def test_reports_are_fetched_once_per_task_and_refs_without_a_task_are_skipped(gateway, atl_sim):
    first = gateway.send(make_batch(FIRST, SECOND)).results
    second = gateway.send(make_batch(THIRD)).results
    atl_sim.advance(5)

    found = gateway.fetch_reports(refs_of(first) + refs_of(second) + [ReportRef("x:1")])

    asked = [r["params"]["taskid"] for r in atl_sim.state()["requests"] if "taskid" in r["params"]]
    assert sorted(asked) == ["4837", "4838"]
    assert len(found) == 3


def test_a_task_the_gateway_does_not_know_does_not_stop_other_reports(gateway, atl_sim):
    refs = refs_of(gateway.send(make_batch(FIRST)).results)
    atl_sim.advance(5)

    found = gateway.fetch_reports([ReportRef("1:994519574083", "1"), *refs])

    assert [r.status for r in found] == [DeliveryStatus.DELIVERED]


def test_an_unreadable_report_skips_the_task_until_the_next_poll(gateway, atl_sim):
    refs = refs_of(gateway.send(make_batch(FIRST)).results)
    atl_sim.advance(5)
    replay(atl_sim, "Service Unavailable")

    assert gateway.fetch_reports(refs) == []
    assert [r.status for r in gateway.fetch_reports(refs)] == [DeliveryStatus.DELIVERED]


def test_a_truncated_summary_is_not_trusted_and_the_detailed_report_decides(gateway, atl_sim):
    refs = refs_of(gateway.send(make_batch(FIRST, SECOND)).results)
    atl_sim.advance(5)
    replay(
        atl_sim,
        '<?xml version="1.0" encoding="UTF-8"?>\n<response><head><responsecode>000'
        "</responsecode></head><body><pending>0</pending><delivered>2</delivered><fai",
    )

    found = gateway.fetch_reports(refs)

    assert operations(atl_sim)[-2:] == ["report", "detailedreport"]
    assert [r.status for r in found] == [DeliveryStatus.DELIVERED] * 2


def test_a_garbled_report_reply_never_raises(gateway, atl_sim):
    refs = refs_of(gateway.send(make_batch(FIRST)).results)
    atl_sim.advance(5)
    atl_sim.set_faults(malformed=True, times=2)

    found = gateway.fetch_reports(refs)

    assert all(r.status == DeliveryStatus.DELIVERED for r in found)


def test_an_authentication_error_while_polling_is_raised(gateway, atl_sim):
    refs = refs_of(gateway.send(make_batch(FIRST)).results)
    atl_sim.set_faults(auth_failure=True)

    with pytest.raises(GatewayError) as caught:
        gateway.fetch_reports(refs)

    assert caught.value.category == ErrorCategory.AUTHENTICATION


# -- balance -------------------------------------------------------------------------------


def test_balance_is_the_remaining_units(gateway):
    [balance] = gateway.balance()

    assert isinstance(balance, Balance)
    assert (balance.amount, balance.unit) == (Decimal("1000"), "units")


@pytest.mark.parametrize(
    ("text", "parts"),
    [("x" * 160, 1), ("x" * 161, 2), ("x" * 307, 3), ("ə" * 70, 1), ("ə" * 71, 2)],
)
def test_units_fall_by_parts_sent(gateway, text, parts):
    gateway.send(make_batch(FIRST, SECOND, text=text))

    [balance] = gateway.balance()

    assert balance.amount == Decimal(1000 - 2 * parts)


@pytest.mark.parametrize(
    "body",
    [
        coded("001"),
        "<response><head><responsecode>000</responsecode></head><body><units>",
        coded("000", units="many"),
    ],
    ids=["not-ready", "truncated", "not-a-number"],
)
def test_a_balance_reply_without_units_is_transient(gateway, atl_sim, body):
    replay(atl_sim, body)

    with pytest.raises(GatewayError) as caught:
        gateway.balance()

    assert caught.value.category == ErrorCategory.TRANSIENT


# -- transport failures --------------------------------------------------------------------


def test_truncated_submit_reply_is_ambiguous_and_keeps_the_raw_body(gateway, atl_sim):
    atl_sim.set_faults(malformed=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(FIRST))

    assert caught.value.category == ErrorCategory.AMBIGUOUS
    assert caught.value.raw.startswith('<?xml version="1.0" encoding="UTF-8"?>')


# -- configuration and refusals before sending ---------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/", "/bulksms/api", "/bulksms/api/"])
def test_the_api_path_is_added_to_the_base_url_once(atl_provider, atl_sim, suffix):
    atl_provider.base_url = atl_sim.url + suffix

    atl_provider.get_gateway().send(make_batch(FIRST))

    assert last_request(atl_sim)["path"] == "/bulksms/api"


def test_the_path_option_serves_another_host_layout(atl_provider):
    sim = AtlSimulator(user=ATL_LOGIN, password=ATL_PASSWORD, path="/api/v2/xml")
    atl_provider.base_url = sim.start()
    atl_provider.options = {"path": "api/v2/xml"}
    try:
        [result] = atl_provider.get_gateway().send(make_batch(FIRST)).results
    finally:
        sim.stop()

    assert result.accepted


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"isbulk": "yes"}, "isbulk"),
        ({"isbulk": 1}, "isbulk"),
        ({"path": "bulk sms?x=1"}, "path"),
        ({"path": 42}, "path"),
    ],
)
def test_bad_option_values_are_refused_when_the_provider_is_saved(atl_provider, options, problem):
    atl_provider.options = options

    with pytest.raises(ValidationError) as caught:
        atl_provider.full_clean()

    assert problem in str(caught.value.message_dict["options"])


@pytest.mark.parametrize(
    "options",
    [{"isbulk": False}, {"isbulk": "TRUE"}, {"path": "/bulksms/api"}, {"scheduling": "gateway"}],
)
def test_good_option_values_are_accepted(atl_provider, options):
    atl_provider.options = options

    atl_provider.full_clean()


@pytest.mark.parametrize(
    ("batch", "category"),
    [
        (make_batch("", group_id="7"), ErrorCategory.INVALID_REQUEST),
        (make_batch(FIRST, flash=True), ErrorCategory.INVALID_REQUEST),
        (make_batch(FIRST, text="bell \x07"), ErrorCategory.CONTENT_REJECTED),
    ],
    ids=["group", "flash", "control-character"],
)
def test_what_atl_cannot_carry_is_refused_before_sending(gateway, atl_sim, batch, category):
    with pytest.raises(GatewayError) as caught:
        gateway.send(batch)

    assert caught.value.category == category
    assert atl_sim.state()["requests"] == []


@pytest.mark.parametrize(
    ("sender", "ok"),
    [
        ("HELPDESK", True),
        ("Vurgus.com", True),
        ("CAPSULE PPF", True),
        ("HELPDESK-AZ1", False),
        ("Dəstək", False),
        (" HELP", False),
        ("", False),
    ],
)
def test_titles_are_at_most_eleven_printable_ascii_characters(gateway, sender, ok):
    assert (gateway.sender_errors(sender) == []) is ok


# -- secrets -------------------------------------------------------------------------------


def test_the_password_never_appears_in_the_stored_request_or_response(gateway):
    outcome = gateway.send(make_batch(FIRST))

    stored = json.dumps([outcome.request, outcome.response])
    assert ATL_PASSWORD not in stored
    assert "<password>***</password>" in outcome.request["xml"]
    assert outcome.request["path"] == "/bulksms/api"
    assert outcome.request["controlid"] == gateway.control_id(make_batch(FIRST))


def test_a_password_echoed_in_a_balance_reply_never_appears_in_the_balance(gateway, atl_sim):
    replay(atl_sim, coded("000", units="5", login=ATL_PASSWORD))

    [balance] = gateway.balance()

    assert ATL_PASSWORD not in json.dumps(balance.raw)


# -- the simulator's control API -----------------------------------------------------------


def test_simulator_faults_state_and_reset_work_over_http(atl_sim):
    url = atl_sim.url
    units = (
        f"<request><head><operation>units</operation><login>{ATL_LOGIN}</login>"
        f"<password>{ATL_PASSWORD}</password></head></request>"
    ).encode()
    set_fault = requests.post(f"{url}/_sim/faults", json={"http_500": True, "times": 1})
    first = requests.post(f"{url}/bulksms/api", data=units, timeout=5)
    second = requests.post(f"{url}/bulksms/api", data=units, timeout=5)
    state = requests.get(f"{url}/_sim/state", timeout=5).json()
    requests.post(f"{url}/_sim/reset", timeout=5)

    assert set_fault.json() == {"faults": {"http_500": {"value": True, "remaining": 1}}}
    assert (first.status_code, second.status_code) == (500, 200)
    assert [r["params"]["password"] for r in state["requests"]] == ["***", "***"]
    assert requests.get(f"{url}/_sim/state", timeout=5).json()["requests"] == []


def test_simulator_cancels_a_scheduled_task_over_http(gateway, atl_sim):
    gateway.send(make_batch(FIRST, schedule_at=timezone.now() + timedelta(hours=1)))

    reply = requests.post(f"{atl_sim.url}/_sim/cancel", json={"taskid": "4837"}, timeout=5)
    again = requests.post(f"{atl_sim.url}/_sim/cancel", json={"taskid": "4837"}, timeout=5)

    assert (reply.json(), again.json()) == ({"canceled": True}, {"canceled": False})
    assert atl_sim.state()["tasks"]["4837"]["canceled"] is True


def test_simulator_answers_get_with_405(atl_sim):
    assert requests.get(f"{atl_sim.url}/bulksms/api", timeout=5).status_code == 405


def test_get_simulator_builds_an_atl_simulator_with_no_options():
    sim = get_simulator("atl")

    assert isinstance(sim, AtlSimulator)
    assert (sim.user, sim.password, sim.delivery_delay) == ("demo", "demo", 2.0)


def test_get_simulator_takes_the_api_key_as_the_password():
    sim = get_simulator("atl", api_key="from-env", delivery_delay=7)

    assert (sim.password, sim.delivery_delay) == ("from-env", 7)


# -- the whole path through the app --------------------------------------------------------


def test_send_sms_reaches_atl_and_is_delivered_by_polling(atl_provider, atl_sim):
    [message] = send_sms(FIRST, "Your ticket #42 is open.")

    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert message.provider_job_id == "4837"
    assert message.provider_message_id == "4837:994519574083"
    assert [m["number"] for m in atl_sim.state()["messages"]] == ["994519574083"]

    atl_sim.advance(60)
    reports.poll_reports()

    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.events.last().source == "poll"


def test_several_messages_with_one_text_go_out_as_one_task(atl_provider, atl_sim):
    send_sms([FIRST, SECOND, THIRD], "Maintenance tonight at 22:00.")

    outbox.dispatch()

    assert list(atl_sim.state()["tasks"]) == ["4837"]
    assert set(Message.objects.values_list("status", flat=True)) == {Status.ACCEPTED}


def test_undelivered_number_ends_undelivered_with_the_gateways_words(atl_provider, atl_sim):
    atl_sim.undeliverable = {"994518989447"}
    send_sms([FIRST, SECOND], "Hello")
    outbox.dispatch()

    atl_sim.advance(60)
    reports.poll_reports()

    by_number = {m.recipient: m for m in Message.objects.all()}
    assert by_number[FIRST].status == Status.DELIVERED
    assert by_number[SECOND].status == Status.UNDELIVERED
    assert by_number[SECOND].error_text == "Message delivery failed"


def test_gateway_scheduled_message_is_delivered_after_its_time(atl_provider, atl_sim):
    atl_provider.options = {"scheduling": "gateway"}
    atl_provider.save()
    send_at = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    [message] = send_sms(FIRST, "Your visit is confirmed.", send_at=send_at)

    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    [task] = atl_sim.state()["tasks"].values()
    assert task["due_at"] == send_at.timestamp()

    atl_sim.set_time(send_at.timestamp() + 60)
    reports.poll_reports()
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_retry_after_a_system_error_reuses_the_controlid_and_texts_once(atl_provider, atl_sim):
    atl_sim.set_faults(body=coded("300"), times=1)  # processed, but answered "error"
    [message] = send_sms(FIRST, "Hello")

    outbox.dispatch()
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.QUEUED, "300")

    outbox.dispatch(now=message.next_attempt_at + timedelta(seconds=1))
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert message.provider_job_id == "4837"

    state = atl_sim.state()
    submits = [r for r in state["requests"] if r["params"].get("operation") == "submit"]
    assert len(submits) == 2
    assert submits[0]["params"]["controlid"] == submits[1]["params"]["controlid"]
    assert len(state["messages"]) == 1
    atl_sim.advance(60)
    reports.poll_reports()
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_timeout_after_submit_marks_unknown_and_never_resends(atl_provider, atl_sim, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "READ_TIMEOUT": 0.5}
    atl_sim.set_faults(read_timeout=2, times=1)
    [message] = send_sms(FIRST, "Hello")

    outbox.dispatch()
    outbox.dispatch(now=timezone.now() + timedelta(days=1))

    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    submits = [r for r in atl_sim.state()["requests"] if r["params"].get("operation")]
    assert len(submits) == 1


def test_exhausted_units_fail_the_message_with_code_118(atl_provider, atl_sim):
    atl_sim.set_faults(credit_exhausted=True)
    [message] = send_sms(FIRST, "Hello")

    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.FAILED, "118")
    assert message.error_category == ErrorCategory.INSUFFICIENT_CREDIT


def test_the_stored_events_never_contain_the_password(atl_provider, atl_sim):
    [message] = send_sms(FIRST, "Hello")
    outbox.dispatch()
    atl_sim.advance(60)
    reports.poll_reports()

    stored = message.events.select_related("exchange")
    events = json.dumps([event.full_data for event in stored], default=str)
    assert ATL_PASSWORD not in events
    assert "<password>***</password>" in events
