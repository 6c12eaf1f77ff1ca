"""The Unified Communications adapter against its simulator, over real sockets on 127.0.0.1.

Nothing here mocks HTTP. Time is moved on the simulator's clock (``sim.advance``), never by
sleeping; pushes are awaited with the bounded ``sim.wait_for_pushes()``. The document's
replies are replayed byte for byte through the ``body`` fault.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from helpdesk_sms import outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.gateways.base import (
    Capability,
    DeliveryStatus,
    ErrorCategory,
    GatewayError,
)
from helpdesk_sms.gateways.unified import (
    DELIVERY_STATUSES,
    ERRORS,
    UnifiedGateway,
    parse_reply,
)
from helpdesk_sms.models import NotificationTemplate
from helpdesk_sms.simulators import get_simulator
from helpdesk_sms.simulators.unified import UnifiedSimulator
from helpdesk_sms.states import Status
from helpdesk_sms.text import analyze
from tests.fixtures_unified import (
    UNIFIED_CALLBACK_SECRET,
    UNIFIED_PASSWORD,
    UNIFIED_SENDER,
    UNIFIED_USER,
)
from tests.gateways.helpers import batch_maker, replay

pytestmark = pytest.mark.django_db

IST = ZoneInfo("Asia/Kolkata")
TEXT = "Ticket #42 received. We will call you back."
#: Dutch with ë and ê: not GSM-7 (UCS-2 by default), but all of it ISO-8859-1.
DUTCH = "Ticket #42 ontvangen: Zoë belt u terug, ook over uw privé-gegevens en de crêpes."
NUMBER = "+919812345678"

# -- the document's replies, exactly as written ---------------------------------------------

#: 1.4 / 2.4, row 1: "you will receive the response 1701|<CELL_NO>|<MESSAGE ID>".
DOC_SUCCESS = "1701|<CELL_NO>|<MESSAGE ID>"
#: "Body API Reply Format": a template, not a reply.
DOC_REPLY_FORMAT = "<Error_Code>|<destination>|<message_id>"

#: The document's error table, with the category each code must mean.
EXPECTED_CATEGORIES = {
    "1702": ErrorCategory.INVALID_REQUEST,
    "1703": ErrorCategory.AUTHENTICATION,
    "1704": ErrorCategory.INVALID_REQUEST,
    "1705": ErrorCategory.CONTENT_REJECTED,
    "1706": ErrorCategory.INVALID_RECIPIENT,
    "1707": ErrorCategory.INVALID_SENDER,
    "1708": ErrorCategory.INVALID_REQUEST,
    "1709": ErrorCategory.TRANSIENT,
    "1710": ErrorCategory.INVALID_REQUEST,
    "1725": ErrorCategory.INSUFFICIENT_CREDIT,
    "1715": ErrorCategory.AMBIGUOUS,
    "1732": ErrorCategory.INVALID_RECIPIENT,
    "1028": ErrorCategory.CONTENT_REJECTED,
    "1041": ErrorCategory.CONTENT_REJECTED,
    "1042": ErrorCategory.INVALID_RECIPIENT,
    "1033": ErrorCategory.CONTENT_REJECTED,
    "69": ErrorCategory.INVALID_REQUEST,
    "8": ErrorCategory.INVALID_REQUEST,
    "16": ErrorCategory.AUTHENTICATION,
    "18": ErrorCategory.AUTHENTICATION,
}


make_batch = batch_maker(TEXT, UNIFIED_SENDER)


def last_request(sim: UnifiedSimulator) -> dict[str, Any]:
    return sim.state()["requests"][-1]


def last_params(sim: UnifiedSimulator) -> dict[str, str]:
    return last_request(sim)["params"]



def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gateway(unified_provider) -> UnifiedGateway:
    return unified_provider.get_gateway()


class Receiver:
    """A real HTTP endpoint for the simulator's pushes, answering the statuses it is given."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self._answer()

            do_POST = do_GET  # noqa: N815

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                split = urlsplit(self.path)
                receiver.received.append(
                    {
                        "method": self.command,
                        "query": dict(parse_qsl(split.query)),
                        "form": dict(parse_qsl(body)),
                    }
                )
                status = (
                    receiver.statuses.pop(0)
                    if len(receiver.statuses) > 1
                    else (receiver.statuses[0])
                )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/dlr?source=unified"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """Answers 200 unless a test sets ``receiver.statuses``."""
    endpoint = Receiver([200])
    yield endpoint
    endpoint.close()


# -- sending -------------------------------------------------------------------------------


def test_single_send_returns_the_gateway_message_id(gateway, unified_sim):
    outcome = gateway.send(make_batch(NUMBER))

    [result] = outcome.results
    [message] = unified_sim.state()["messages"]
    assert (result.ref, result.accepted) == (1, True)
    assert result.provider_message_id == message["message_id"]
    assert result.raw == f"1701|919812345678|{message['message_id']}"


def test_single_send_passes_exactly_the_documented_parameters(gateway, unified_sim):
    gateway.send(make_batch(NUMBER))

    request = last_request(unified_sim)
    assert (request["method"], request["path"]) == ("GET", "/bulksms/bulksms")
    assert request["params"] == {
        "username": UNIFIED_USER,
        "password": "***",
        "type": "0",
        "dlr": "1",
        "destination": "919812345678",
        "source": UNIFIED_SENDER,
        "message": TEXT,
    }


def test_several_numbers_go_in_one_request_with_an_id_each(gateway, unified_sim):
    outcome = gateway.send(make_batch(NUMBER, "+919812345679", "+2348031234567"))

    state = unified_sim.state()
    assert len(state["requests"]) == 1
    assert last_params(unified_sim)["destination"] == "919812345678,919812345679,2348031234567"
    ids = {m["number"]: m["message_id"] for m in state["messages"]}
    assert [(r.ref, r.accepted, r.provider_message_id) for r in outcome.results] == [
        (1, True, ids["919812345678"]),
        (2, True, ids["919812345679"]),
        (3, True, ids["2348031234567"]),
    ]


@pytest.mark.parametrize(
    ("unicode", "flash", "charset", "text", "expected"),
    [
        (False, False, None, TEXT, "0"),
        (False, True, None, TEXT, "1"),
        (True, False, None, "टिकट 42 प्राप्त हुआ", "2"),
        (True, True, None, "टिकट 42 प्राप्त हुआ", "6"),
        (False, False, "iso-8859-1", DUTCH, "5"),
        (False, True, "iso-8859-1", DUTCH, "7"),
        (False, False, "iso-8859-1", TEXT, "0"),  # GSM-7 holds more: 160 a part, not 140
        (False, False, "iso-8859-1", "Pay €5 now", "0"),  # € is GSM, not ISO-8859-1
        (True, False, "iso-8859-1", "टिकट 42", "2"),
        (False, False, None, "Pay €5 now", "0"),
    ],
    ids=[
        "plain",
        "flash",
        "unicode",
        "unicode-flash",
        "latin1",
        "latin1-flash",
        "latin1-gsm-text-stays-gsm",
        "latin1-fallback",
        "latin1-unicode",
        "gsm-euro",
    ],
)
def test_message_type_follows_unicode_flash_and_the_charset_option(
    unified_provider, unified_sim, unicode, flash, charset, text, expected
):
    if charset:
        unified_provider.options = {"charset": charset}

    outcome = unified_provider.get_gateway().send(
        make_batch(NUMBER, text=text, unicode=unicode, flash=flash)
    )

    assert outcome.results[0].accepted
    assert last_params(unified_sim)["type"] == expected
    assert unified_sim.state()["messages"][0]["text"] == text


def test_unicode_hex_option_sends_ucs2_hex_which_the_gateway_reads_back(unified_provider):
    sim = UnifiedSimulator(user=UNIFIED_USER, password=UNIFIED_PASSWORD, unicode_hex=True)
    unified_provider.base_url = sim.start()
    unified_provider.options = {"unicode_hex": True}
    try:
        unified_provider.get_gateway().send(make_batch(NUMBER, text="टिकट", unicode=True))
        state = sim.state()
    finally:
        sim.stop()

    assert state["requests"][-1]["params"]["message"] == "091F093F0915091F"
    assert state["messages"][0]["text"] == "टिकट"


def test_dlr_option_false_sends_dlr_0(unified_provider, unified_sim):
    unified_provider.options = {"dlr": False}

    unified_provider.get_gateway().send(make_batch(NUMBER))

    assert last_params(unified_sim)["dlr"] == "0"
    assert unified_sim.state()["messages"][0]["dlr"] is False


def test_numeric_sender_with_plus_arrives_url_encoded(gateway, unified_sim):
    gateway.send(make_batch(NUMBER, sender="+919800000000"))

    assert last_params(unified_sim)["source"] == "+919800000000"  # not " 9198…"


def test_base_url_ending_in_bulksms_is_not_repeated(unified_provider, unified_sim):
    unified_provider.base_url = unified_sim.url + "/bulksms/"

    unified_provider.get_gateway().send(make_batch(NUMBER))

    assert last_request(unified_sim)["path"] == "/bulksms/bulksms"


# -- scheduling -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "when", "expected"),
    [
        (
            "Asia/Kolkata",
            datetime(2030, 1, 15, 16, 5, tzinfo=UTC),
            {"date": "01/15/2030", "time": "09:35 pm", "gmt": "+05:30"},
        ),
        (
            "Europe/Amsterdam",
            datetime(2030, 7, 1, 8, 0, tzinfo=UTC),
            {"date": "07/01/2030", "time": "10:00 am", "gmt": "+02:00"},
        ),
        (
            "Europe/Amsterdam",
            datetime(2030, 1, 15, 8, 0, tzinfo=UTC),
            {"date": "01/15/2030", "time": "09:00 am", "gmt": "+01:00"},
        ),
        (
            "America/New_York",
            datetime(2030, 1, 15, 4, 30, tzinfo=UTC),
            {"date": "01/14/2030", "time": "11:30 pm", "gmt": "-05:00"},
        ),
        (
            "Europe/London",
            datetime(2030, 1, 15, 0, 5, tzinfo=UTC),
            {"date": "01/15/2030", "time": "12:05 am", "gmt": "+00:00"},
        ),
        (
            "Africa/Lagos",
            datetime(2030, 1, 15, 11, 30, tzinfo=UTC),
            {"date": "01/15/2030", "time": "12:30 pm", "gmt": "+01:00"},
        ),
        (
            "Asia/Kathmandu",  # +05:45: not writable, sent as the same instant in UTC
            datetime(2030, 1, 15, 4, 30, tzinfo=UTC),
            {"date": "01/15/2030", "time": "04:30 am", "gmt": "+00:00"},
        ),
        (
            "Pacific/Kiritimati",  # +14:00: beyond the document's 12 hours
            datetime(2030, 1, 15, 4, 30, tzinfo=UTC),
            {"date": "01/15/2030", "time": "04:30 am", "gmt": "+00:00"},
        ),
        (
            "Asia/Kolkata",  # seconds round up: never early
            datetime(2030, 1, 15, 16, 5, 1, tzinfo=UTC),
            {"date": "01/15/2030", "time": "09:36 pm", "gmt": "+05:30"},
        ),
    ],
    ids=[
        "kolkata",
        "amsterdam-summer",
        "amsterdam-winter",
        "new-york",
        "london-midnight",
        "lagos-noon",
        "kathmandu",
        "kiritimati",
        "seconds",
    ],
)
def test_gateway_scheduling_sends_date_time_and_gmt_of_the_provider_timezone(
    unified_provider, unified_sim, zone, when, expected
):
    unified_provider.timezone = zone

    unified_provider.get_gateway().send(make_batch(NUMBER, schedule_at=when))

    request = last_request(unified_sim)
    assert request["path"] == "/bulksms/schedulemsg"
    assert {k: request["params"][k] for k in ("date", "time", "gmt")} == expected
    [message] = unified_sim.state()["messages"]
    rounded = when.replace(second=0) + timedelta(minutes=1 if when.second else 0)
    assert message["due_at"] == rounded.timestamp()
    assert message["status"] == "SCHEDULED"


def test_schedule_endpoint_option_sends_scheduled_messages_to_bulksms(
    unified_provider, unified_sim
):
    unified_provider.options = {"schedule_endpoint": "bulksms"}
    when = datetime(2030, 1, 15, 16, 5, tzinfo=UTC)

    unified_provider.get_gateway().send(make_batch(NUMBER, schedule_at=when))

    request = last_request(unified_sim)
    assert request["path"] == "/bulksms/bulksms"
    assert request["params"]["gmt"] == "+05:30"
    assert unified_sim.state()["messages"][0]["due_at"] == when.timestamp()


def test_scheduled_message_is_pushed_only_after_it_is_due(unified_provider, unified_sim, receiver):
    unified_sim.callback_url = receiver.url
    due = datetime(2030, 1, 15, 16, 5, tzinfo=UTC)
    unified_sim.set_time(due.timestamp() - 3600)
    unified_provider.get_gateway().send(make_batch(NUMBER, schedule_at=due))

    unified_sim.set_time(due.timestamp() + 1)
    assert unified_sim.state()["messages"][0]["status"] == "ENROUTE"
    assert unified_sim.wait_for_pushes() == []
    unified_sim.set_time(due.timestamp() + 2)
    [push] = unified_sim.wait_for_pushes()

    assert push["data"]["sStatus"] == "DELIVRD"
    assert push["data"]["dtDone"] == "2030-01-15 21:35:02"


def test_outbox_hands_a_later_message_to_the_gateways_scheduler(unified_provider, unified_sim):
    unified_provider.options = {"scheduling": "gateway"}
    unified_provider.save()
    when = timezone.now().replace(microsecond=0) + timedelta(days=2)
    [message] = send_sms(NUMBER, "See you soon", send_at=when)

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    request = last_request(unified_sim)
    assert request["path"] == "/bulksms/schedulemsg"
    assert request["params"]["gmt"] == "+05:30"
    [sent] = unified_sim.state()["messages"]
    assert sent["message_id"] == message.provider_message_id
    assert abs(sent["due_at"] - when.timestamp()) <= 60


# -- the document's replies, verbatim ------------------------------------------------------


def test_the_documents_success_reply_is_read_verbatim(gateway, unified_sim):
    replay(unified_sim, DOC_SUCCESS)

    [result] = gateway.send(make_batch(NUMBER)).results

    assert result.accepted
    assert result.provider_message_id == "<MESSAGE ID>"


def test_the_documents_reply_format_template_is_unreadable_and_ambiguous(gateway, unified_sim):
    replay(unified_sim, DOC_REPLY_FORMAT)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER))

    assert caught.value.category == ErrorCategory.AMBIGUOUS
    assert caught.value.raw == DOC_REPLY_FORMAT


@pytest.mark.parametrize(
    "body",
    [
        "1701|919812345678|aaa,1701|919812345679|bbb",
        "1701|919812345678|aaa,1701|919812345679|bbb\r\n",
        "1701|919812345678:aaa,1701|919812345679:bbb\r\n",
        "1701|+919812345678|aaa, 1701|+919812345679|bbb\r\n",
        "1701|919812345679|bbb,1701|919812345678|aaa",
        "1701|9812345678|aaa\r\n1701|9812345679|bbb\r\n",
        "01701|919812345678|aaa,1701|919812345679|bbb",
    ],
    ids=[
        "document",
        "crlf",
        "colon",
        "plus-and-space",
        "reordered",
        "national-lines",
        "padded-code",
    ],
)
def test_every_reply_variant_maps_ids_to_their_numbers(gateway, unified_sim, body):
    replay(unified_sim, body)

    outcome = gateway.send(make_batch(NUMBER, "+919812345679"))

    assert [(r.accepted, r.provider_message_id) for r in outcome.results] == [
        (True, "aaa"),
        (True, "bbb"),
    ]


def test_per_number_error_entries_fail_only_their_number(gateway, unified_sim):
    replay(unified_sim, "1701|919812345678|aaa,1706|919812345679,1732|919812345670\r\n")

    outcome = gateway.send(make_batch(NUMBER, "+919812345679", "+919812345670"))

    first, second, third = outcome.results
    assert (first.accepted, first.provider_message_id) == (True, "aaa")
    assert (second.accepted, second.error.code, second.error.category) == (
        False,
        "1706",
        ErrorCategory.INVALID_RECIPIENT,
    )
    assert (third.error.code, third.error.text) == ("1732", "DND reject.")
    assert second.raw == "1706|919812345679"


def test_a_number_the_reply_does_not_mention_is_ambiguous(gateway, unified_sim):
    replay(unified_sim, "1701|919812345678|aaa\r\n")

    outcome = gateway.send(make_batch(NUMBER, "+919812345679"))

    assert outcome.results[0].accepted
    missing = outcome.results[1]
    assert not missing.accepted
    assert missing.error.category == ErrorCategory.AMBIGUOUS


def test_reply_entries_for_other_numbers_are_ignored(gateway, unified_sim):
    replay(unified_sim, "1701|918461238888|stranger,1701|919812345678|aaa")

    outcome = gateway.send(make_batch(NUMBER))

    assert outcome.results[0].provider_message_id == "aaa"
    assert "stranger" in outcome.response


def test_parse_reply_keeps_unreadable_pieces_apart():
    entries, unreadable = parse_reply("1701|919812345678|aaa,garbage,1706|12\r\n")

    assert [(e.code, e.number, e.message_id) for e in entries] == [
        ("1701", "919812345678", "aaa"),
        ("1706", "12", ""),
    ]
    assert unreadable == ["garbage"]


# -- error codes ---------------------------------------------------------------------------


def test_the_error_table_covers_every_code_in_the_document():
    assert {code: category for code, (_, category) in ERRORS.items()} == EXPECTED_CATEGORIES


def test_only_1709_may_be_retried_and_1715_is_never_resubmitted():
    retryable = {code for code, (_, category) in ERRORS.items() if category.retryable}
    ambiguous = {code for code, (_, c) in ERRORS.items() if c == ErrorCategory.AMBIGUOUS}

    assert (retryable, ambiguous) == ({"1709"}, {"1715"})


@pytest.mark.parametrize(("code", "category"), sorted(EXPECTED_CATEGORIES.items()))
def test_each_document_error_code_refusing_the_request_maps_to_its_category(
    gateway, unified_sim, code, category
):
    replay(unified_sim, f"{code}\r\n")

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER, "+919812345679"))

    assert (caught.value.category, caught.value.code, caught.value.text) == (
        category,
        code,
        ERRORS[code][0],
    )


@pytest.mark.parametrize(("code", "category"), sorted(EXPECTED_CATEGORIES.items()))
def test_each_document_error_code_for_one_number_maps_to_its_category(
    gateway, unified_sim, code, category
):
    replay(unified_sim, f"1701|919812345678|aaa,{code}|919812345679")

    outcome = gateway.send(make_batch(NUMBER, "+919812345679"))

    refused = outcome.results[1]
    assert (refused.accepted, refused.error.category, refused.error.code) == (
        False,
        category,
        code,
    )
    assert outcome.results[0].accepted


def test_unknown_code_is_an_invalid_request_never_retried(gateway, unified_sim):
    replay(unified_sim, "1088\r\n")  # an SMPP-range code outside the table

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER))

    assert caught.value.category == ErrorCategory.INVALID_REQUEST
    assert not caught.value.category.retryable
    assert caught.value.code == "1088"


# -- the simulator's own refusals, through the adapter --------------------------------------


@pytest.mark.parametrize(
    ("batch", "code", "category"),
    [
        (make_batch(NUMBER, sender=""), "1702", ErrorCategory.INVALID_REQUEST),
        (make_batch(NUMBER, sender="HelpDeskIndia"), "1707", ErrorCategory.INVALID_SENDER),
        (make_batch(NUMBER, sender="Help-Desk"), "1707", ErrorCategory.INVALID_SENDER),
        (make_batch(NUMBER, text=" "), "1702", ErrorCategory.INVALID_REQUEST),
    ],
    ids=["blank-sender", "long-sender", "odd-sender", "blank-text"],
)
def test_simulator_refuses_bad_requests_with_the_documents_codes(
    gateway, unified_sim, batch, code, category
):
    with pytest.raises(GatewayError) as caught:
        gateway.send(batch)

    assert (caught.value.code, caught.value.category) == (code, category)
    assert unified_sim.state()["messages"] == []


def test_unicode_text_not_in_hex_where_the_panel_wants_hex_is_an_invalid_message(
    unified_provider,
):
    sim = UnifiedSimulator(user=UNIFIED_USER, password=UNIFIED_PASSWORD, unicode_hex=True)
    unified_provider.base_url = sim.start()
    try:
        with pytest.raises(GatewayError) as caught:
            unified_provider.get_gateway().send(make_batch(NUMBER, text="टिकट", unicode=True))
    finally:
        sim.stop()

    assert (caught.value.code, caught.value.category) == ("1705", ErrorCategory.CONTENT_REJECTED)


def test_invalid_number_is_refused_alone(gateway, unified_sim):
    outcome = gateway.send(make_batch(NUMBER, "+91981"))

    assert outcome.results[0].accepted
    assert (outcome.results[1].accepted, outcome.results[1].error.code) == (False, "1706")
    assert [m["number"] for m in unified_sim.state()["messages"]] == ["919812345678"]


def test_dnd_number_is_refused_with_1732(unified_provider):
    sim = UnifiedSimulator(user=UNIFIED_USER, password=UNIFIED_PASSWORD, dnd=["919812345679"])
    unified_provider.base_url = sim.start()
    try:
        outcome = unified_provider.get_gateway().send(make_batch(NUMBER, "+919812345679"))
    finally:
        sim.stop()

    assert outcome.results[1].error.code == "1732"
    assert outcome.results[1].error.category == ErrorCategory.INVALID_RECIPIENT


def test_wrong_password_is_an_authentication_error(unified_provider):
    unified_provider.password = "not-the-password"

    with pytest.raises(GatewayError) as caught:
        unified_provider.get_gateway().send(make_batch(NUMBER))

    assert (caught.value.code, caught.value.category) == ("1703", ErrorCategory.AUTHENTICATION)


def test_auth_failure_fault_answers_1703(gateway, unified_sim):
    unified_sim.set_faults(auth_failure=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER))

    assert caught.value.code == "1703"


def test_rejected_number_fault_refuses_that_number_only(gateway, unified_sim):
    unified_sim.set_faults(reject_numbers=["919812345679"])

    outcome = gateway.send(make_batch(NUMBER, "+919812345679"))

    assert [r.accepted for r in outcome.results] == [True, False]
    assert outcome.results[1].error.category == ErrorCategory.INVALID_RECIPIENT


def test_exhausted_credit_is_1725_and_nothing_is_charged(gateway, unified_sim):
    unified_sim.set_faults(credit_exhausted=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER))

    assert (caught.value.code, caught.value.category) == ("1725", ErrorCategory.INSUFFICIENT_CREDIT)
    state = unified_sim.state()
    assert state["balances"] == {UNIFIED_USER: "1000"}
    assert state["messages"] == []


def test_credit_shortfall_refuses_the_whole_request(unified_provider):
    sim = UnifiedSimulator(user=UNIFIED_USER, password=UNIFIED_PASSWORD, balance=1)
    unified_provider.base_url = sim.start()
    try:
        with pytest.raises(GatewayError) as caught:
            unified_provider.get_gateway().send(make_batch(NUMBER, "+919812345679"))
    finally:
        sim.stop()

    assert caught.value.code == "1725"


# -- balance -------------------------------------------------------------------------------


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
def test_simulated_credit_falls_by_parts_sent(gateway, unified_sim, text, unicode, parts):
    gateway.send(make_batch(NUMBER, "+919812345679", text=text, unicode=unicode))

    assert unified_sim.state()["balances"][UNIFIED_USER] == str(1000 - 2 * parts)


def test_the_gateway_has_no_balance_call(gateway):
    assert not UnifiedGateway.has(Capability.BALANCE)
    with pytest.raises(GatewayError) as caught:
        gateway.balance()

    assert caught.value.category == ErrorCategory.INVALID_REQUEST


def test_capabilities_are_those_of_the_document():
    assert UnifiedGateway.capabilities == {
        Capability.UNICODE,
        Capability.FLASH,
        Capability.SCHEDULE,
        Capability.BULK,
        Capability.DLR_PUSH,
        Capability.DLT,  # its 1033 "Message Template Mismatch"
        Capability.INBOUND,
    }


# -- transport failures --------------------------------------------------------------------


def test_truncated_reply_is_ambiguous_and_keeps_the_raw_body(gateway, unified_sim):
    unified_sim.set_faults(malformed=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER))

    assert caught.value.category == ErrorCategory.AMBIGUOUS
    assert caught.value.raw.startswith("1701|919812345678|")


def test_truncated_reply_leaves_the_cut_off_numbers_ambiguous(gateway, unified_sim):
    unified_sim.set_faults(malformed=True, times=1)

    outcome = gateway.send(make_batch(NUMBER, "+919812345679", "+919812345670"))

    assert outcome.results[0].accepted
    assert outcome.results[-1].error.category == ErrorCategory.AMBIGUOUS


# -- secrets -------------------------------------------------------------------------------


def test_password_never_appears_in_the_stored_request_or_response(gateway):
    outcome = gateway.send(make_batch(NUMBER))

    stored = json.dumps([outcome.request, outcome.response, [r.raw for r in outcome.results]])
    assert UNIFIED_PASSWORD not in stored
    assert outcome.request == {
        "path": "/bulksms/bulksms",
        "params": {
            "username": UNIFIED_USER,
            "password": "***",
            "type": "0",
            "dlr": "1",
            "destination": "919812345678",
            "source": UNIFIED_SENDER,
            "message": TEXT,
        },
    }


def test_password_echoed_by_the_gateway_never_appears_in_the_result(gateway, unified_sim):
    replay(unified_sim, f"1703|password {UNIFIED_PASSWORD} is wrong")

    outcome = gateway.send(make_batch(NUMBER))

    [result] = outcome.results
    error = result.error
    assert (result.accepted, error.code) == (False, "1703")
    stored = f"{error} {error.text} {error.raw} {result.raw} {outcome.response}"
    assert UNIFIED_PASSWORD not in stored


def test_simulator_state_and_pushes_mask_the_password(gateway, unified_sim, receiver):
    unified_sim.callback_url = receiver.url
    unified_sim.advance(0)
    gateway.send(make_batch(NUMBER))
    unified_sim.advance(5)
    unified_sim.wait_for_pushes()

    assert UNIFIED_PASSWORD not in json.dumps(unified_sim.state())


# -- sender IDs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "ok"),
    [
        ("HelpDesk", True),
        ("HELPDESK123", True),
        ("HELPDESK1234", False),
        ("Help Desk", False),
        ("Help-Desk", False),
        ("919812345678", True),
        ("+919812345678", True),
        ("123456789012345678", True),
        ("+123456789012345678", True),
        ("1234567890123456789", False),
        ("", False),
    ],
)
def test_sender_ids_follow_the_documents_numeric_and_alphanumeric_limits(gateway, sender, ok):
    assert (gateway.sender_errors(sender) == []) is ok


# -- pushed delivery reports: parsing ------------------------------------------------------

PUSH = {
    "sSender": "HelpDesk",
    "sMobileNo": "919812345678",
    "sStatus": "DELIVRD",
    "dtSubmit": "2030-01-15 21:35:00",
    "dtDone": "2030-01-15 21:35:02",
    "sMessageId": "93614150-65c2-4c53-884f-67dabc17051e",
    "iErrCode": "000",
}


def test_pushed_report_by_get_is_read_in_the_provider_timezone(gateway):
    request = RequestFactory().get("/sms/callback/1/s/", PUSH)

    [report] = gateway.parse_callback(request)

    assert report.provider_message_id == PUSH["sMessageId"]
    assert report.status == DeliveryStatus.DELIVERED
    assert report.occurred_at == datetime(2030, 1, 15, 21, 35, 2, tzinfo=IST)
    assert report.number == "+919812345678"
    assert (report.error_code, report.error_text) == ("", "")
    assert report.raw == PUSH


def test_pushed_report_by_post_form_is_read(gateway):
    request = RequestFactory().post(
        "/sms/callback/1/s/", {**PUSH, "sStatus": "UNDELIV", "iErrCode": "001"}
    )

    [report] = gateway.parse_callback(request)

    assert report.status == DeliveryStatus.UNDELIVERED
    assert (report.error_code, report.error_text) == ("001", "UNDELIV")


def test_pushed_report_as_json_is_read(gateway):
    request = RequestFactory().post(
        "/sms/callback/1/s/", json.dumps(PUSH), content_type="application/json"
    )

    [report] = gateway.parse_callback(request)

    assert report.provider_message_id == PUSH["sMessageId"]


def test_pushed_names_are_matched_case_insensitively(gateway):
    request = RequestFactory().get(
        "/sms/callback/1/s/", {"SMESSAGEID": "abc", "sstatus": "expired", "smobileno": "91"}
    )

    [report] = gateway.parse_callback(request)

    assert (report.provider_message_id, report.status) == ("abc", DeliveryStatus.EXPIRED)


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("UNKNOWN", DeliveryStatus.ACCEPTED),
        ("ACKED", DeliveryStatus.ACCEPTED),
        ("ENROUTE", DeliveryStatus.ACCEPTED),
        ("ACCEPTED", DeliveryStatus.ACCEPTED),
        ("DELIVRD", DeliveryStatus.DELIVERED),
        ("EXPIRED", DeliveryStatus.EXPIRED),
        ("DELETED", DeliveryStatus.UNDELIVERED),
        ("UNDELIV", DeliveryStatus.UNDELIVERED),
        ("REJECTD", DeliveryStatus.UNDELIVERED),
        ("Delivrd", DeliveryStatus.DELIVERED),
        ("SOMETHING", DeliveryStatus.ACCEPTED),
    ],
)
def test_each_pushed_status_maps_to_a_delivery_status(gateway, word, status):
    request = RequestFactory().get("/sms/callback/1/s/", {**PUSH, "sStatus": word})

    [report] = gateway.parse_callback(request)

    assert report.status == status


def test_every_documented_push_status_has_a_mapping():
    documented = {"UNKNOWN", "ACKED", "ENROUTE", "DELIVRD", "EXPIRED"}
    documented |= {"DELETED", "UNDELIV", "ACCEPTED", "REJECTD"}

    assert documented <= set(DELIVERY_STATUSES)


def test_push_without_done_time_uses_the_submit_time(gateway):
    request = RequestFactory().get(
        "/sms/callback/1/s/", {**PUSH, "sStatus": "ACKED", "dtDone": "0000-00-00 00:00:00"}
    )

    [report] = gateway.parse_callback(request)

    assert report.occurred_at == datetime(2030, 1, 15, 21, 35, tzinfo=IST)


def test_push_with_only_a_number_is_matched_by_number(gateway):
    request = RequestFactory().get(
        "/sms/callback/1/s/", {"sMobileNo": "919812345678", "sStatus": "DELIVRD"}
    )

    [report] = gateway.parse_callback(request)

    assert (report.provider_message_id, report.number) == ("", "+919812345678")


@pytest.mark.parametrize(
    "params",
    [{}, {"sMessageId": "abc"}, {"sStatus": "DELIVRD"}],
    ids=["empty", "no-status", "no-id-or-number"],
)
def test_unreadable_push_is_an_invalid_request(gateway, params):
    with pytest.raises(GatewayError) as caught:
        gateway.parse_callback(RequestFactory().get("/sms/callback/1/s/", params))

    assert caught.value.category == ErrorCategory.INVALID_REQUEST


def test_broken_json_push_is_an_invalid_request(gateway):
    request = RequestFactory().post("/x/", "{nope", content_type="application/json")

    with pytest.raises(GatewayError):
        gateway.parse_callback(request)


# -- pushed delivery reports: the simulator ------------------------------------------------


def test_simulator_pushes_the_final_state_with_every_field(gateway, unified_sim, receiver):
    unified_sim.callback_url = receiver.url
    unified_sim.set_time(datetime(2030, 1, 15, 16, 5, tzinfo=UTC).timestamp())
    [result] = gateway.send(make_batch(NUMBER)).results

    assert unified_sim.wait_for_pushes() == []  # still ENROUTE
    unified_sim.advance(2)
    [push] = unified_sim.wait_for_pushes()

    assert push["method"] == "GET"
    assert (push["status"], push["attempt"]) == (200, 1)
    assert push["message_id"] == result.provider_message_id
    assert receiver.received[0]["query"] == {
        "source": "unified",
        "sSender": UNIFIED_SENDER,
        "sMobileNo": "919812345678",
        "sStatus": "DELIVRD",
        "dtSubmit": "2030-01-15 21:35:00",
        "dtDone": "2030-01-15 21:35:02",
        "sMessageId": result.provider_message_id,
        "iErrCode": "000",
    }


def test_simulator_can_push_by_post(unified_provider, receiver):
    sim = UnifiedSimulator(
        user=UNIFIED_USER,
        password=UNIFIED_PASSWORD,
        callback_url=receiver.url,
        push_method="POST",
        outcomes={"919812345678": "REJECTD"},
    )
    unified_provider.base_url = sim.start()
    try:
        sim.advance(0)
        unified_provider.get_gateway().send(make_batch(NUMBER))
        sim.advance(5)
        sim.wait_for_pushes()
    finally:
        sim.stop()

    [received] = receiver.received
    assert received["method"] == "POST"
    assert received["form"]["sStatus"] == "REJECTD"


def test_simulator_pushes_again_until_acknowledged_backing_off(gateway, unified_sim, receiver):
    receiver.statuses = [500, 404, 202]
    unified_sim.callback_url = receiver.url
    unified_sim.advance(0)
    gateway.send(make_batch(NUMBER))

    unified_sim.advance(2)
    unified_sim.wait_for_pushes()
    unified_sim.advance(10)  # before the 30 s back-off: nothing new
    assert len(unified_sim.wait_for_pushes()) == 1
    unified_sim.advance(20)
    unified_sim.wait_for_pushes()
    unified_sim.advance(60)
    unified_sim.wait_for_pushes()
    unified_sim.advance(600)
    pushes = unified_sim.wait_for_pushes()

    assert [(p["attempt"], p["status"]) for p in pushes] == [(1, 500), (2, 404), (3, 202)]
    assert unified_sim.state()["messages"][0]["push_acknowledged"] is True


def test_simulator_gives_up_after_the_bounded_number_of_attempts(unified_provider, receiver):
    receiver.statuses = [503]
    sim = UnifiedSimulator(
        user=UNIFIED_USER,
        password=UNIFIED_PASSWORD,
        callback_url=receiver.url,
        push_attempts=3,
        push_backoff=1,
    )
    unified_provider.base_url = sim.start()
    try:
        sim.advance(0)
        unified_provider.get_gateway().send(make_batch(NUMBER))
        for _ in range(8):
            sim.advance(10)
            sim.wait_for_pushes()
        state = sim.state()
    finally:
        sim.stop()

    assert [p["attempt"] for p in state["pushes"]] == [1, 2, 3]
    assert state["messages"][0]["push_acknowledged"] is False


def test_unreachable_callback_is_recorded_and_retried(unified_provider):
    sim = UnifiedSimulator(
        user=UNIFIED_USER,
        password=UNIFIED_PASSWORD,
        callback_url=f"http://127.0.0.1:{free_port()}/dlr",
        push_backoff=1,
    )
    unified_provider.base_url = sim.start()
    try:
        sim.advance(0)
        unified_provider.get_gateway().send(make_batch(NUMBER))
        sim.advance(2)
        sim.wait_for_pushes()
        sim.advance(1)
        pushes = sim.wait_for_pushes()
    finally:
        sim.stop()

    assert [p["attempt"] for p in pushes] == [1, 2]
    assert all("error" in p for p in pushes)


def test_no_push_is_made_for_a_message_sent_with_dlr_0(unified_provider, unified_sim, receiver):
    unified_provider.options = {"dlr": "0"}
    unified_sim.callback_url = receiver.url
    unified_sim.advance(0)
    unified_provider.get_gateway().send(make_batch(NUMBER))

    unified_sim.advance(60)

    assert unified_sim.wait_for_pushes() == []
    assert unified_sim.state()["messages"][0]["status"] == "DELIVRD"


# -- end to end: send_sms -> outbox -> simulator -> push -> message final -------------------


def callback_url(live_server, provider, secret: str) -> str:
    path = reverse("helpdesk_sms:callback", kwargs={"provider_id": provider.pk, "secret": secret})
    return live_server.url + path


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("DELIVRD", Status.DELIVERED),
        ("UNDELIV", Status.UNDELIVERED),
        ("EXPIRED", Status.EXPIRED),
    ],
)
def test_sms_is_sent_pushed_and_reaches_its_final_state(
    live_server, unified_provider, unified_sim, outcome, status
):
    unified_sim.callback_url = callback_url(live_server, unified_provider, UNIFIED_CALLBACK_SECRET)
    unified_sim.outcomes = {"919812345678": outcome}
    unified_sim.advance(0)
    [message] = send_sms(NUMBER, "Your ticket #42 is resolved.")

    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert [m["number"] for m in unified_sim.state()["messages"]] == ["919812345678"]
    unified_sim.advance(5)
    [push] = unified_sim.wait_for_pushes()

    message.refresh_from_db()
    assert push["status"] == 200
    assert message.status == status
    event = message.events.last()
    assert event.source == "webhook"
    assert event.data["report"]["sStatus"] == outcome


def test_push_with_a_wrong_secret_is_refused_and_changes_nothing(
    live_server, unified_provider, unified_sim
):
    unified_sim.callback_url = callback_url(live_server, unified_provider, "wrong-secret")
    unified_sim.advance(0)
    [message] = send_sms(NUMBER, "Hello")
    outbox.dispatch()

    unified_sim.advance(5)
    [push] = unified_sim.wait_for_pushes()

    message.refresh_from_db()
    assert push["status"] in (400, 403)
    assert message.status == Status.ACCEPTED


def test_repeated_and_late_pushes_leave_a_final_message_final(
    live_server, unified_provider, unified_sim
):
    url = callback_url(live_server, unified_provider, UNIFIED_CALLBACK_SECRET)
    [message] = send_sms(NUMBER, "Hello")
    outbox.dispatch()
    message.refresh_from_db()
    push = {**PUSH, "sMessageId": message.provider_message_id}

    for word in ("DELIVRD", "DELIVRD", "ACKED", "ENROUTE"):
        assert requests.get(url, params={**push, "sStatus": word}, timeout=5).status_code == 200

    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    kept = message.events.filter(source="webhook").order_by("pk")
    assert [e.data["report"]["sStatus"] for e in kept] == ["DELIVRD", "DELIVRD", "ACKED", "ENROUTE"]


def test_response_timeout_1715_marks_unknown_and_never_resends(unified_provider, unified_sim):
    replay(unified_sim, "1715\r\n")
    [message] = send_sms(NUMBER, "Hello")

    outbox.dispatch()
    outbox.dispatch(now=timezone.now() + timedelta(days=1))

    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.UNKNOWN, "1715")
    assert len(unified_sim.state()["requests"]) == 1


def test_user_validation_failure_1709_is_retried_and_then_accepted(unified_provider, unified_sim):
    unified_sim.set_faults(error_code="1709", times=1)
    [message] = send_sms(NUMBER, "Hello")

    outbox.dispatch()
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Status.QUEUED, "1709")
    outbox.dispatch(now=message.next_attempt_at + timedelta(seconds=1))

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert len(unified_sim.state()["requests"]) == 2
    assert len(unified_sim.state()["messages"]) == 1


def test_error_code_fault_refuses_the_request_before_taking_anything(gateway, unified_sim):
    unified_sim.set_faults(error_code="1710", times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER))

    assert (caught.value.code, caught.value.text) == ("1710", "Internal error.")
    assert unified_sim.state()["messages"] == []
    assert gateway.send(make_batch(NUMBER)).results[0].accepted


def test_one_refused_number_in_a_batch_fails_alone(unified_provider, unified_sim):
    unified_sim.set_faults(reject_numbers=["919812345679"])
    first, second = send_sms([NUMBER, "+919812345679"], "Hello")

    outbox.dispatch()

    first.refresh_from_db()
    second.refresh_from_db()
    assert len(unified_sim.state()["requests"]) == 1
    assert first.status == Status.ACCEPTED
    assert (second.status, second.error_code) == (Status.FAILED, "1706")


def test_one_sms_per_number_reaches_the_gateway_in_one_request(unified_provider, unified_sim):
    messages = send_sms([NUMBER, "+919812345679", "+919812345670"], "Hello")

    outbox.dispatch()

    assert len(unified_sim.state()["requests"]) == 1
    ids = {m["number"]: m["message_id"] for m in unified_sim.state()["messages"]}
    for message in messages:
        message.refresh_from_db()
        assert message.status == Status.ACCEPTED
        assert message.provider_message_id == ids[message.recipient.lstrip("+")]


# -- ISO-8859-1 (types 5 and 7, option charset) ---------------------------------------------


def latin1_provider(provider, charset: str = "iso-8859-1"):
    provider.options = {**provider.options, "charset": charset}
    provider.full_clean()
    provider.save()
    return provider


def test_iso_8859_1_text_goes_as_type_5_in_8_bit_parts_where_the_charset_says_so(
    unified_provider, unified_sim
):
    latin1_provider(unified_provider)

    [message] = send_sms(NUMBER, DUTCH * 2)  # 160 characters: 2 parts of 8-bit, 3 of UCS-2
    outbox.dispatch()

    message.refresh_from_db()
    [sent] = unified_sim.state()["messages"]
    assert (message.status, message.encoding, message.parts) == (Status.ACCEPTED, "latin1", 2)
    assert (sent["type"], sent["parts"], sent["text"]) == ("5", 2, DUTCH * 2)
    assert unified_sim.state()["balances"][UNIFIED_USER] == "998"


def test_iso_8859_1_text_goes_as_unicode_type_2_without_the_charset_option(
    unified_provider, unified_sim
):
    [message] = send_sms(NUMBER, DUTCH * 2)
    outbox.dispatch()

    message.refresh_from_db()
    [sent] = unified_sim.state()["messages"]
    assert (message.encoding, message.parts) == ("ucs2", 3)
    assert (sent["type"], sent["parts"]) == ("2", 3)


def test_iso_8859_1_flash_text_goes_as_type_7(unified_provider, unified_sim):
    latin1_provider(unified_provider)

    send_sms(NUMBER, DUTCH, flash=True)
    outbox.dispatch()

    assert unified_sim.state()["messages"][0]["type"] == "7"


def test_a_text_with_a_character_outside_iso_8859_1_stays_unicode_with_the_charset(
    unified_provider, unified_sim
):
    latin1_provider(unified_provider)

    [message] = send_sms(NUMBER, "Zoë betaalt €5")  # € is GSM, ë is Latin-1: neither has both
    outbox.dispatch()

    message.refresh_from_db()
    assert message.encoding == "ucs2"
    assert unified_sim.state()["messages"][0]["type"] == "2"


def test_a_message_composed_8_bit_is_sent_8_bit_after_the_charset_option_is_removed(
    unified_provider, unified_sim
):
    latin1_provider(unified_provider)
    [message] = send_sms(NUMBER, DUTCH)
    unified_provider.options = {}
    unified_provider.save()

    outbox.dispatch()

    [sent] = unified_sim.state()["messages"]
    assert (sent["type"], sent["parts"]) == ("5", message.parts)


@pytest.mark.parametrize("length", [140, 141, 268, 269])
def test_simulator_bills_types_5_and_7_as_the_app_counts_8_bit_parts(gateway, unified_sim, length):
    text = "ë" * length

    gateway.send(make_batch(NUMBER, text=text, encoding="latin1"))

    expected = analyze(text, latin1=True).parts
    assert unified_sim.state()["messages"][0]["parts"] == expected
    assert unified_sim.state()["balances"][UNIFIED_USER] == str(1000 - expected)


def test_simulator_refuses_type_5_text_outside_iso_8859_1_as_an_invalid_message(
    gateway, unified_sim
):
    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NUMBER, text="Zoë ’s avonds", encoding="latin1"))

    assert (caught.value.code, caught.value.category) == ("1705", ErrorCategory.CONTENT_REJECTED)
    assert unified_sim.state()["messages"] == []


@pytest.mark.parametrize("charset", ["gsm", "iso-8859-1", "ISO_8859_1", "latin1"])
def test_known_charsets_are_accepted_when_the_provider_is_saved(unified_provider, charset):
    latin1_provider(unified_provider, charset)


def test_an_unknown_charset_is_refused_when_the_provider_is_saved(unified_provider):
    unified_provider.options = {"charset": "utf-8"}

    with pytest.raises(ValidationError) as caught:
        unified_provider.full_clean()

    assert caught.value.message_dict["options"] == [
        "The charset option must be 'gsm' or 'iso-8859-1', not 'utf-8'."
    ]


def test_template_preview_counts_8_bit_parts_for_a_provider_with_the_charset(
    unified_provider, admin_client
):
    latin1_provider(unified_provider)
    template = NotificationTemplate.objects.create(
        name="Dutch",
        event="ticket_created",
        audience="customer",
        body=DUTCH * 2,
        provider=unified_provider,
    )

    response = admin_client.get(
        reverse("admin:helpdesk_sms_notificationtemplate_change", args=[template.pk])
    )

    html = response.content.decode()
    assert "Encoding: ISO-8859-1 (8-bit)" in html
    assert "Size: 160 octets" in html
    assert "SMS parts: 2" in html


# -- the simulator's control API and construction -------------------------------------------


def test_simulator_faults_state_and_reset_work_over_http(unified_sim):
    url = unified_sim.url
    params = {
        "username": UNIFIED_USER,
        "password": UNIFIED_PASSWORD,
        "type": "0",
        "dlr": "1",
        "destination": "919812345678",
        "source": "HelpDesk",
        "message": "hi",
    }
    set_fault = requests.post(f"{url}/_sim/faults", json={"http_500": True, "times": 1})
    first = requests.get(f"{url}/bulksms/bulksms", params=params, timeout=5)
    second = requests.get(f"{url}/bulksms/bulksms", params=params, timeout=5)
    state = requests.get(f"{url}/_sim/state", timeout=5).json()
    requests.post(f"{url}/_sim/reset", timeout=5)

    assert set_fault.json() == {"faults": {"http_500": {"value": True, "remaining": 1}}}
    assert (first.status_code, second.status_code) == (500, 200)
    assert second.text.startswith("1701|919812345678|") and second.text.endswith("\r\n")
    assert [r["params"]["password"] for r in state["requests"]] == ["***", "***"]
    assert state["messages"][0]["status"] == "ENROUTE"
    assert requests.get(f"{url}/_sim/state", timeout=5).json()["messages"] == []


def test_simulator_answers_the_colon_variant_without_crlf_when_asked():
    sim = UnifiedSimulator(id_separator=":", crlf=False)
    sim.start()
    try:
        reply = requests.get(
            f"{sim.url}/bulksms/bulksms",
            params={
                "username": "demo",
                "password": "demo",
                "type": "0",
                "dlr": "0",
                "destination": "919812345678",
                "source": "HelpDesk",
                "message": "hi",
            },
            timeout=5,
        ).text
    finally:
        sim.stop()

    message_id = sim.state()["messages"][0]["message_id"]
    assert reply == f"1701|919812345678:{message_id}"


def test_get_simulator_builds_a_unified_simulator_with_the_cli_options():
    sim = get_simulator("unified", api_key="from-env", delivery_delay=7, verbose=False)

    assert isinstance(sim, UnifiedSimulator)
    assert (sim.password, sim.delivery_delay) == ("from-env", 7)
    assert sim.state()["balances"] == {"demo": "1000"}
