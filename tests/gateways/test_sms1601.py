"""The 1601SMS adapter against the 1601SMS simulator, over real sockets on 127.0.0.1.

Nothing here mocks HTTP. Time is moved on the simulator's clock (``sim.advance``), never by
sleeping; pushes are awaited with a bounded ``sim.wait_for_pushes()``. The document's
replies are replayed byte for byte through the ``body`` fault.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import requests
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from helpdesk_sms import outbox, reports
from helpdesk_sms.api import send_sms
from helpdesk_sms.exceptions import InvalidSender, TextTooLong, UnsupportedFeature
from helpdesk_sms.gateways.base import (
    Batch,
    Capability,
    DeliveryStatus,
    ErrorCategory,
    GatewayError,
    GroupMember,
    Recipient,
    ReportRef,
)
from helpdesk_sms.gateways.sms1601 import ERRORS, Sms1601Gateway, decode, parse_reply
from helpdesk_sms.models import Message, RecipientGroup
from helpdesk_sms.simulators import get_simulator
from helpdesk_sms.simulators.sms1601 import Sms1601Simulator
from helpdesk_sms.states import Status
from tests.fixtures_sms1601 import (
    SMS1601_GROUP,
    SMS1601_GROUP_MEMBERS,
    SMS1601_PASSWORD,
    SMS1601_SENDER,
    SMS1601_USER,
)
from tests.gateways.helpers import batch_maker, replay

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TEXT = "Ticket #42 ontvangen. We bellen u terug."
NL = "+31612345678"
BE = "+32478123456"
SHA1 = hashlib.sha1(SMS1601_PASSWORD.encode()).hexdigest()
CALLBACK_SECRET = "sms1601-callback-secret"

#: The error table of the document, with the category each code must mean.
EXPECTED_CATEGORIES = {
    "100": ErrorCategory.AUTHENTICATION,
    "101": ErrorCategory.AUTHENTICATION,
    "102": ErrorCategory.CONTENT_REJECTED,
    "103": ErrorCategory.INVALID_RECIPIENT,
    "104": ErrorCategory.AUTHENTICATION,
    "105": ErrorCategory.CONTENT_REJECTED,
    "106": ErrorCategory.INVALID_RECIPIENT,
    "107": ErrorCategory.INVALID_RECIPIENT,
    "108": ErrorCategory.INSUFFICIENT_CREDIT,
    "109": ErrorCategory.INVALID_SENDER,
    "110": ErrorCategory.INVALID_SENDER,
    "111": ErrorCategory.INVALID_SENDER,
    "112": ErrorCategory.INVALID_RECIPIENT,
    "113": ErrorCategory.INVALID_SENDER,
    "114": ErrorCategory.INVALID_RECIPIENT,
    "115": ErrorCategory.AUTHENTICATION,
    "116": ErrorCategory.AUTHENTICATION,
    "117": ErrorCategory.INVALID_SENDER,
    "118": ErrorCategory.CONTENT_REJECTED,
    "119": ErrorCategory.CONTENT_REJECTED,
    "120": ErrorCategory.TRANSIENT,
    "121": ErrorCategory.INVALID_REQUEST,
    "122": ErrorCategory.INVALID_REQUEST,
    "123": ErrorCategory.INVALID_REQUEST,
    "124": ErrorCategory.INVALID_REQUEST,
    "125": ErrorCategory.INVALID_RECIPIENT,
    "126": ErrorCategory.INVALID_RECIPIENT,
    "150": ErrorCategory.TRANSIENT,
}


make_batch = batch_maker(TEXT, SMS1601_SENDER)


def last_request(sim: Sms1601Simulator) -> dict:
    return sim.state()["requests"][-1]


def last_params(sim: Sms1601Simulator) -> dict[str, str]:
    return last_request(sim)["params"]



@pytest.fixture
def gateway(sms1601_provider) -> Sms1601Gateway:
    return sms1601_provider.get_gateway()


@contextmanager
def simulator(provider, **options) -> Iterator[Sms1601Simulator]:
    """A simulator with ``options`` that ``provider`` points at while the block runs."""
    sim = Sms1601Simulator(user=SMS1601_USER, password=SMS1601_PASSWORD, **options)
    provider.base_url = sim.start()
    provider.save()
    try:
        yield sim
    finally:
        sim.stop()


def set_options(provider, **options) -> Sms1601Gateway:
    provider.options = {**provider.options, **options}
    provider.save()
    return provider.get_gateway()


class Receiver:
    """A callback endpoint on 127.0.0.1 answering ``statuses`` in turn, then 200."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                query = urllib.parse.urlsplit(self.path).query
                receiver.received.append(dict(urllib.parse.parse_qsl(query)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dlr.php?site=1"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator:
    made: list[Receiver] = []

    def make(*statuses: int) -> Receiver:
        made.append(Receiver(list(statuses)))
        return made[-1]

    yield make
    for receiver in made:
        receiver.stop()


# -- sending -------------------------------------------------------------------------------


def test_single_send_returns_the_smsid_as_the_message_id(gateway, sms1601_sim):
    outcome = gateway.send(make_batch(NL))

    [result] = outcome.results
    [message] = sms1601_sim.state()["messages"]
    assert result.ref == 1
    assert result.accepted
    assert result.provider_message_id == message["message_id"] == "1234567"
    assert result.job_id == ""  # sent at once: nothing left to withdraw
    assert message["number"] == "31612345678"


def test_single_send_passes_exactly_the_documented_parameters(gateway, sms1601_sim):
    gateway.send(make_batch(BE))

    request = last_request(sms1601_sim)
    assert request["path"] == "/module/gateway.php"
    assert request["method"] == "GET"
    assert request["params"] == {
        "klantuser": SMS1601_USER,
        "klantpwd": "***",
        "bericht": TEXT,
        "naar": "32478123456",
        "afzender": SMS1601_SENDER,
        "delivery": "ja",
        "referentie": "1",
    }


def test_password_sha1_option_logs_in_with_the_sha1_of_the_password(sms1601_provider, sms1601_sim):
    gateway = set_options(sms1601_provider, password_sha1=True)

    outcome = gateway.send(make_batch(NL))

    assert outcome.results[0].accepted
    stored = json.dumps([outcome.request, outcome.response, sms1601_sim.state()])
    assert SHA1 not in stored
    assert SMS1601_PASSWORD not in stored


def test_several_numbers_go_in_one_request_with_an_id_each(gateway, sms1601_sim):
    outcome = gateway.send(make_batch(NL, BE, "+31612345679"))

    state = sms1601_sim.state()
    assert len(state["requests"]) == 1
    assert last_params(sms1601_sim)["naar"] == "31612345678,32478123456,31612345679"
    ids = {m["number"]: m["message_id"] for m in state["messages"]}
    assert [(r.ref, r.provider_message_id) for r in outcome.results] == [
        (1, ids["31612345678"]),
        (2, ids["32478123456"]),
        (3, ids["31612345679"]),
    ]


def test_referentie_carries_every_message_pk_that_fits_in_75_characters(gateway, sms1601_sim):
    batch = Batch(
        recipients=[Recipient(1000 + i, f"+3161234{5600 + i}") for i in range(20)],
        text=TEXT,
        sender=SMS1601_SENDER,
    )

    gateway.send(batch)

    reference = last_params(sms1601_sim)["referentie"]
    assert reference == ",".join(str(1000 + i) for i in range(15))  # 74 characters
    assert len(reference) <= 75


def test_by_default_each_message_is_a_request_of_its_own_with_its_pk_as_reference(
    sms1601_provider, sms1601_sim
):
    messages = send_sms([NL, BE], TEXT)

    outbox.dispatch()

    sends = sms1601_sim.state()["requests"]
    assert [r["params"]["referentie"] for r in sends] == [str(m.pk) for m in messages]
    assert [r["params"]["naar"] for r in sends] == ["31612345678", "32478123456"]


def test_max_numbers_option_puts_several_numbers_in_one_request(sms1601_provider, sms1601_sim):
    set_options(sms1601_provider, max_numbers=10)
    messages = send_sms([NL, BE], TEXT)

    outbox.dispatch()

    [send] = sms1601_sim.state()["requests"]
    assert send["params"]["referentie"] == f"{messages[0].pk},{messages[1].pk}"
    ids = [m["message_id"] for m in sms1601_sim.state()["messages"]]
    assert [Message.objects.get(pk=m.pk).provider_message_id for m in messages] == ids


def test_a_single_id_for_several_numbers_accepts_them_all_without_message_ids(gateway, sms1601_sim):
    replay(sms1601_sim, "OK 1234567")

    outcome = gateway.send(make_batch(NL, BE))

    assert [(r.accepted, r.provider_message_id, r.job_id) for r in outcome.results] == [
        (True, "", "1234567"),
        (True, "", "1234567"),
    ]


def test_long_text_is_sent_with_type_long(gateway, sms1601_sim):
    gateway.send(make_batch(NL, text="x" * 161))

    assert last_params(sms1601_sim)["type"] == "long"
    assert sms1601_sim.state()["messages"][0]["parts"] == 2


def test_text_of_one_part_is_sent_without_type(gateway, sms1601_sim):
    gateway.send(make_batch(NL, text="x" * 160))

    assert "type" not in last_params(sms1601_sim)


def test_text_of_three_parts_is_sent_and_a_fourth_part_is_refused_before_submission(
    sms1601_provider, sms1601_sim
):
    send_sms(NL, "x" * 459)

    with pytest.raises(TextTooLong, match="at most 3 SMS parts"):
        send_sms(NL, "x" * 460)

    outbox.dispatch()
    assert [m["parts"] for m in sms1601_sim.state()["messages"]] == [3]


def test_unicode_text_is_refused_before_submission(sms1601_provider, sms1601_sim):
    with pytest.raises(UnsupportedFeature):
        send_sms(NL, "Ticket ontvangen ✓")

    assert sms1601_sim.state()["requests"] == []


def test_flash_is_refused_before_submission(sms1601_provider):
    with pytest.raises(UnsupportedFeature):
        send_sms(NL, TEXT, flash=True)


def test_capabilities_are_what_the_document_offers():
    assert Sms1601Gateway.capabilities == {
        Capability.SCHEDULE,
        Capability.CANCEL,
        Capability.GROUP,
        Capability.BULK,
        Capability.DLR_POLL,
        Capability.DLR_PUSH,
        Capability.BALANCE,
        Capability.INBOUND,  # replies pushed in an assumed shape (docs/replies.md)
    }
    assert (Sms1601Gateway.max_parts, Sms1601Gateway.max_sender_length) == (3, 12)


def test_test_mode_sends_test_ja_and_nothing_is_sent_or_charged(sms1601_provider, sms1601_sim):
    gateway = set_options(sms1601_provider, test_mode=True)

    [result] = gateway.send(make_batch(NL)).results

    assert last_params(sms1601_sim)["test"] == "ja"
    assert (result.accepted, result.test, result.provider_message_id) == (True, True, "")
    state = sms1601_sim.state()
    assert state["messages"] == []
    assert state["balances"]["credits"] == "1000"


def test_test_mode_message_ends_suppressed_and_marked_as_a_test(sms1601_provider, sms1601_sim):
    set_options(sms1601_provider, test_mode=True)

    [message] = send_sms(NL, TEXT)
    report = outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.is_test) == (Status.SUPPRESSED, True)
    assert message.provider_message_id == ""
    assert message.events.last().note == (
        "test mode: the gateway checked the message and sent nothing (no credit used)"
    )
    assert (report.accepted, report.tested) == (0, 1)
    assert "1 test not sent" in str(report)


def test_test_mode_message_is_never_polled_for_a_report(sms1601_provider, sms1601_sim):
    set_options(sms1601_provider, test_mode=True)
    send_sms(NL, TEXT)
    outbox.dispatch()
    sent = len(sms1601_sim.state()["requests"])

    reports.poll_reports()

    assert len(sms1601_sim.state()["requests"]) == sent


def test_a_refusal_in_test_mode_fails_and_is_not_marked_as_a_test(sms1601_provider, sms1601_sim):
    set_options(sms1601_provider, test_mode=True)
    sms1601_sim.set_faults(credit_exhausted=True, times=1)

    [message] = send_sms(NL, TEXT)
    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.error_code, message.is_test) == (Status.FAILED, "108", False)


def test_without_test_mode_a_message_is_accepted_and_not_marked(sms1601_provider, sms1601_sim):
    [message] = send_sms(NL, TEXT)
    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.is_test) == (Status.ACCEPTED, False)


def test_the_message_log_filters_tests_and_labels_them(sms1601_provider, admin_client):
    set_options(sms1601_provider, test_mode=True)
    [tested] = send_sms(NL, TEXT)
    outbox.dispatch()
    set_options(sms1601_provider, test_mode=False)
    send_sms(BE, TEXT)
    outbox.dispatch()
    changelist = reverse("admin:helpdesk_sms_message_changelist")

    response = admin_client.get(changelist, {"is_test__exact": "1"})

    html = response.content.decode()
    assert [m.pk for m in response.context["cl"].result_list] == [tested.pk]
    assert ">suppressed</span> <span" in html and "(test: not sent)</span>" in html


@pytest.mark.parametrize(("value", "sent"), [(True, "ja"), (False, "nee")])
def test_logging_option_is_sent_as_ja_or_nee(sms1601_provider, sms1601_sim, value, sent):
    set_options(sms1601_provider, logging=value).send(make_batch(NL))

    assert last_params(sms1601_sim)["logging"] == sent


def test_logging_is_not_sent_when_the_option_is_unset(gateway, sms1601_sim):
    gateway.send(make_batch(NL))

    assert "logging" not in last_params(sms1601_sim)


def test_group_send_names_the_group_and_is_one_message(gateway, sms1601_sim):
    outcome = gateway.send(make_batch("", group_id=SMS1601_GROUP))

    params = last_params(sms1601_sim)
    assert (params["naar"], params["groep"]) == ("groep", SMS1601_GROUP)
    [result] = outcome.results
    members = sms1601_sim.state()["messages"]
    assert [m["number"] for m in members] == SMS1601_GROUP_MEMBERS
    assert {m["message_id"] for m in members} == {result.provider_message_id}
    assert result.accepted and result.members == []


def test_group_reply_listing_several_ids_makes_each_id_a_member(gateway, sms1601_sim):
    replay(sms1601_sim, "OK 501,502,503")

    [result] = gateway.send(make_batch("", group_id=SMS1601_GROUP)).results

    assert result.accepted
    assert result.provider_message_id == ""
    assert result.members == [
        GroupMember("", "501"),
        GroupMember("", "502"),
        GroupMember("", "503"),
    ]


@pytest.mark.parametrize(("group", "code"), [("Onbekend", "125"), ("Leeg", "126")])
def test_unknown_or_empty_group_is_an_invalid_recipient(gateway, sms1601_sim, group, code):
    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch("", group_id=group))

    assert (caught.value.code, caught.value.category) == (code, ErrorCategory.INVALID_RECIPIENT)
    assert sms1601_sim.state()["messages"] == []


def test_group_send_through_the_app_reaches_every_member_and_is_delivered(
    sms1601_provider, sms1601_sim
):
    group = RecipientGroup.objects.create(
        name="Field engineers", provider=sms1601_provider, provider_group_id=SMS1601_GROUP
    )
    sms1601_sim.advance(0)
    [message] = send_sms(None, TEXT, group=group)

    outbox.dispatch()
    sms1601_sim.advance(5)
    reports.poll_reports()

    message.refresh_from_db()
    assert [m["number"] for m in sms1601_sim.state()["messages"]] == SMS1601_GROUP_MEMBERS
    assert message.status == Status.DELIVERED


# -- scheduling and cancellation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("utc_time", "datum"),
    [
        (datetime(2030, 1, 15, 16, 5, tzinfo=UTC), "203001151705"),
        (datetime(2030, 1, 15, 16, 5, 30, tzinfo=UTC), "203001151706"),  # rounded up
        (datetime(2030, 7, 1, 10, 0, tzinfo=UTC), "203007011200"),  # summer time
    ],
)
def test_gateway_scheduling_sends_datum_in_the_provider_timezone_with_outboxid(
    gateway, sms1601_sim, utc_time, datum
):
    gateway.send(make_batch(NL, schedule_at=utc_time))

    params = last_params(sms1601_sim)
    assert (params["datum"], params["outboxid"], params["emailen"]) == (datum, "ja", "nee")
    [message] = sms1601_sim.state()["messages"]
    assert message["status"] == "OUTBOX"


def test_email_confirmation_option_leaves_emailen_out(sms1601_provider, sms1601_sim):
    gateway = set_options(sms1601_provider, email_confirmation=True)

    gateway.send(make_batch(NL, schedule_at=datetime(2030, 1, 15, 16, 5, tzinfo=UTC)))

    assert "emailen" not in last_params(sms1601_sim)


def test_scheduled_send_keeps_the_outbox_id_as_job_and_message_id(gateway, sms1601_sim):
    [result] = gateway.send(
        make_batch(NL, schedule_at=datetime(2030, 1, 15, 16, 5, tzinfo=UTC))
    ).results

    assert result.job_id == result.provider_message_id == sms1601_sim.state()["outbox"][0]


def test_scheduled_message_reports_nothing_until_due_then_delivered(gateway, sms1601_sim):
    due = datetime(2030, 1, 15, 16, 5, tzinfo=UTC)
    [result] = gateway.send(make_batch(NL, schedule_at=due)).results
    ref = ReportRef(result.provider_message_id, result.job_id)

    sms1601_sim.set_time(due.timestamp() - 1)
    waiting = gateway.fetch_reports([ref])
    sms1601_sim.set_time(due.timestamp() + 3)
    [done] = gateway.fetch_reports([ref])

    assert waiting == []  # NONE: nothing to report yet
    assert done.status == DeliveryStatus.DELIVERED
    assert done.occurred_at == datetime(2030, 1, 15, 17, 5, 2, tzinfo=AMSTERDAM)


def test_schedule_in_the_past_is_refused_with_121(gateway, sms1601_sim):
    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NL, schedule_at=datetime(2020, 1, 1, tzinfo=UTC)))

    assert (caught.value.code, caught.value.category) == ("121", ErrorCategory.INVALID_REQUEST)


def test_cancel_removes_the_message_from_the_outbox_by_its_outbox_id(gateway, sms1601_sim):
    due = datetime(2030, 1, 15, 16, 5, tzinfo=UTC)
    [result] = gateway.send(make_batch(NL, schedule_at=due, text="x" * 200)).results
    assert sms1601_sim.state()["balances"]["credits"] == "998"

    gateway.cancel(ReportRef(result.provider_message_id, result.job_id))

    params = last_params(sms1601_sim)
    assert (params["action"], params["id"]) == ("verwijderbericht", result.job_id)
    state = sms1601_sim.state()
    assert state["outbox"] == []
    assert state["messages"][0]["status"] == "REMOVED"
    assert state["balances"]["credits"] == "1000"


def test_cancel_after_the_message_left_the_outbox_is_refused_with_122(gateway, sms1601_sim):
    due = datetime(2030, 1, 15, 16, 5, tzinfo=UTC)
    [result] = gateway.send(make_batch(NL, schedule_at=due)).results
    sms1601_sim.set_time(due.timestamp() + 1)

    with pytest.raises(GatewayError) as caught:
        gateway.cancel(ReportRef(result.provider_message_id, result.job_id))

    assert (caught.value.code, caught.value.category) == ("122", ErrorCategory.INVALID_REQUEST)


def test_cancel_without_an_outbox_id_is_refused_without_asking_the_gateway(gateway, sms1601_sim):
    with pytest.raises(GatewayError) as caught:
        gateway.cancel(ReportRef("1234567"))

    assert caught.value.category == ErrorCategory.INVALID_REQUEST
    assert sms1601_sim.state()["requests"] == []


def test_message_scheduled_at_the_gateway_is_canceled_through_the_outbox(
    sms1601_provider, sms1601_sim
):
    set_options(sms1601_provider, scheduling="gateway")
    [message] = send_sms(NL, TEXT, send_at=timezone.now() + timedelta(hours=2))

    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert message.provider_job_id == sms1601_sim.state()["outbox"][0]

    assert outbox.cancel(message)

    message.refresh_from_db()
    assert message.status == Status.CANCELED
    assert sms1601_sim.state()["outbox"] == []


# -- the document's replies, verbatim ------------------------------------------------------


@pytest.mark.parametrize("body", ["OK 1234567", "OK1234567", "OK 1234567\r\n", "ok: 1234567"])
def test_the_documents_ok_reply_and_its_wild_spellings_give_the_id(gateway, sms1601_sim, body):
    replay(sms1601_sim, body)

    [result] = gateway.send(make_batch(NL)).results

    assert (result.accepted, result.provider_message_id) == (True, "1234567")


def test_bare_ok_accepts_without_an_id(gateway, sms1601_sim):
    replay(sms1601_sim, "OK")

    [result] = gateway.send(make_batch(NL)).results

    assert (result.accepted, result.provider_message_id) == (True, "")


def test_ok_with_one_id_per_line_is_read_in_order(gateway, sms1601_sim):
    replay(sms1601_sim, "OK 11\r\nOK 12\r\n")

    outcome = gateway.send(make_batch(NL, BE))

    assert [r.provider_message_id for r in outcome.results] == ["11", "12"]


def test_the_documents_outbox_reply_gives_the_outbox_id(gateway, sms1601_sim):
    replay(sms1601_sim, "OK 7654321")

    [result] = gateway.send(
        make_batch(NL, schedule_at=datetime(2030, 1, 15, 16, 5, tzinfo=UTC))
    ).results

    assert result.job_id == "7654321"


def test_the_documents_remove_reply_ok_confirms_the_cancel(gateway, sms1601_sim):
    replay(sms1601_sim, "OK")

    gateway.cancel(ReportRef("7654321", "7654321"))

    assert last_params(sms1601_sim)["id"] == "7654321"


def test_the_documents_error_122_reply_refuses_the_cancel(gateway, sms1601_sim):
    replay(sms1601_sim, "ERROR 122")

    with pytest.raises(GatewayError) as caught:
        gateway.cancel(ReportRef("7654321", "7654321"))

    assert caught.value.code == "122"
    assert "no matching message was found" in caught.value.text


def test_the_documents_credits_reply_is_the_balance(gateway, sms1601_sim):
    replay(sms1601_sim, "476")

    [balance] = gateway.balance()

    assert (balance.account, balance.amount, balance.unit) == ("", Decimal("476"), "credits")
    assert last_params(sms1601_sim)["action"] == "credits"


@pytest.mark.parametrize(("body", "amount"), [("12,50", "12.50"), ("1.234,5", "1234.5")])
def test_balance_with_a_decimal_comma_is_read(gateway, sms1601_sim, body, amount):
    replay(sms1601_sim, body)

    assert gateway.balance()[0].amount == Decimal(amount)


def test_the_documents_status_reply_with_date_is_read_in_the_provider_timezone(
    gateway, sms1601_sim
):
    replay(sms1601_sim, "DELIVERED 01/02/2012 10:23:10")

    [report] = gateway.fetch_reports([ReportRef("1234567")])

    request = last_request(sms1601_sim)
    assert request["path"] == "/module/gatewayrapport.php"
    assert request["params"] == {"smsid": "1234567", "datum": "ja"}
    assert report.provider_message_id == "1234567"
    assert report.status == DeliveryStatus.DELIVERED
    assert report.occurred_at == datetime(2012, 2, 1, 10, 23, 10, tzinfo=AMSTERDAM)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("DELIVERED", DeliveryStatus.DELIVERED),
        ("NOT DELIVERED", DeliveryStatus.UNDELIVERED),
        ("NOT DELIVERED 01/02/2012 10:23:10", DeliveryStatus.UNDELIVERED),
        ("BUFFERED", DeliveryStatus.ACCEPTED),
        ("SUBMITTED", DeliveryStatus.ACCEPTED),
        ("REJECTED", DeliveryStatus.UNDELIVERED),
        ("delivered", DeliveryStatus.DELIVERED),
        ("ENROUTE", DeliveryStatus.ACCEPTED),
    ],
)
def test_every_delivery_code_in_the_document_maps_to_a_status(gateway, sms1601_sim, body, status):
    replay(sms1601_sim, body)

    [report] = gateway.fetch_reports([ReportRef("1234567")])

    assert report.status == status
    assert report.raw["body"] == body


def test_none_status_reports_nothing(gateway, sms1601_sim):
    replay(sms1601_sim, "NONE")

    assert gateway.fetch_reports([ReportRef("1234567")]) == []


def test_failed_status_keeps_the_gateways_word_as_the_error_text(gateway, sms1601_sim):
    replay(sms1601_sim, "NOT DELIVERED 01/02/2012 10:23:10")

    [report] = gateway.fetch_reports([ReportRef("1234567")])

    assert report.error_text == "NOT DELIVERED"


def test_a_report_error_for_one_message_does_not_stop_the_others(gateway, sms1601_sim):
    [result] = gateway.send(make_batch(NL)).results
    sms1601_sim.advance(5)
    replay(sms1601_sim, "ERROR 124")

    reports_ = gateway.fetch_reports([ReportRef("1"), ReportRef(result.provider_message_id)])

    assert [(r.provider_message_id, r.status) for r in reports_] == [
        (result.provider_message_id, DeliveryStatus.DELIVERED)
    ]


def test_an_unreadable_report_for_one_message_does_not_stop_the_others(gateway, sms1601_sim):
    [result] = gateway.send(make_batch(NL)).results
    sms1601_sim.advance(5)
    sms1601_sim.set_faults(malformed=True, times=1)

    reports_ = gateway.fetch_reports([ReportRef("1"), ReportRef(result.provider_message_id)])

    assert [r.provider_message_id for r in reports_] == [result.provider_message_id]


@pytest.mark.parametrize("code", ["150", "120", "104"])
def test_maintenance_outage_or_account_error_stops_the_poll(gateway, sms1601_sim, code):
    replay(sms1601_sim, f"ERROR {code}")

    with pytest.raises(GatewayError) as caught:
        gateway.fetch_reports([ReportRef("1"), ReportRef("2")])

    assert caught.value.code == code
    assert len(sms1601_sim.state()["requests"]) == 1


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_documented_error_code_is_mapped(gateway, sms1601_sim, code):
    replay(sms1601_sim, f"ERROR {code}")

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NL))

    assert caught.value.code == code
    assert caught.value.category == EXPECTED_CATEGORIES[code]
    assert caught.value.text == ERRORS[code][0]


def test_the_error_table_is_the_documents_whole_table():
    assert set(ERRORS) == set(EXPECTED_CATEGORIES)


@pytest.mark.parametrize(
    "body",
    [
        "ERROR 104",
        "104",
        "Error 104: No valid username and/or password combination",
        "error104",
        "FOUT 104",
        "ERROR: 104\r\n",
    ],
)
def test_an_error_is_the_first_three_digit_number_in_the_reply(gateway, sms1601_sim, body):
    replay(sms1601_sim, body)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NL))

    assert (caught.value.code, caught.value.category) == ("104", ErrorCategory.AUTHENTICATION)


def test_an_unknown_error_code_is_an_invalid_request_with_the_raw_reply(gateway, sms1601_sim):
    replay(sms1601_sim, "ERROR 199")

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NL))

    assert (caught.value.code, caught.value.category) == ("199", ErrorCategory.INVALID_REQUEST)
    assert "ERROR 199" in caught.value.text


@pytest.mark.parametrize(
    "body", ["", "<html><body>Bad Gateway 502</body></html>", "OK sent", "Bedankt"]
)
def test_an_unreadable_send_reply_is_ambiguous(gateway, sms1601_sim, body):
    replay(sms1601_sim, body)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NL))

    assert caught.value.category == ErrorCategory.AMBIGUOUS


def test_an_unreadable_credits_reply_is_transient(gateway, sms1601_sim):
    replay(sms1601_sim, "Bedankt")

    with pytest.raises(GatewayError) as caught:
        gateway.balance()

    assert caught.value.category == ErrorCategory.TRANSIENT


def test_an_error_on_the_credits_action_is_raised(gateway, sms1601_sim):
    replay(sms1601_sim, "ERROR 104")

    with pytest.raises(GatewayError) as caught:
        gateway.balance()

    assert (caught.value.code, caught.value.category) == ("104", ErrorCategory.AUTHENTICATION)


def test_a_reply_that_is_not_utf8_is_read_as_windows_1252():
    body = "Fout 108: onvoldoende credits, sufficiënt".encode("cp1252")

    reply = parse_reply(decode(body))

    assert decode(body).endswith("sufficiënt")
    assert reply is not None and reply.code == "108"


@pytest.mark.parametrize(
    ("body", "ids"),
    [("OK 1234567", ("1234567",)), ("OK1234567", ("1234567",)), ("OK", ()), ("OK 1,2", ("1", "2"))],
)
def test_parse_reply_reads_ok_replies(body, ids):
    reply = parse_reply(body)

    assert reply is not None and reply.ok and reply.ids == ids


# -- errors the simulator produces itself --------------------------------------------------


@pytest.mark.parametrize(
    ("options", "batch", "code"),
    [
        ({}, make_batch(NL, text=""), "102"),
        ({}, make_batch(), "103"),
        ({}, make_batch("+3161"), "106"),
        ({"countries": ["31"]}, make_batch(BE), "107"),
        ({"credits": 1}, make_batch(NL, BE), "108"),
        ({}, make_batch(NL, sender=""), "109"),
        ({}, make_batch(NL, sender="1601"), "110"),
        ({}, make_batch(NL, sender="HelpDeskNLBV1"), "111"),
        ({}, make_batch("+0612345678"), "112"),
        ({}, make_batch(NL, sender="Help Desk"), "113"),
        ({"blocked_countries": ["32"]}, make_batch(BE), "114"),
        ({"blocked": "115"}, make_batch(NL), "115"),
        ({"blocked": "116"}, make_batch(NL), "116"),
        ({"blocked_senders": ["HelpDesk"]}, make_batch(NL), "117"),
        ({}, make_batch(NL, text="x" * 460), "118"),
        ({"no_long_countries": ["32"]}, make_batch(BE, text="x" * 200), "119"),
        ({"maintenance": True}, make_batch(NL), "150"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_simulator_refuses_bad_requests_with_the_documents_codes(
    sms1601_provider, options, batch, code
):
    with simulator(sms1601_provider, **options) as sim:
        with pytest.raises(GatewayError) as caught:
            sms1601_provider.get_gateway().send(batch)
        messages = sim.state()["messages"]

    assert caught.value.code == code
    assert caught.value.category == EXPECTED_CATEGORIES[code]
    assert messages == []


@pytest.mark.parametrize(
    ("field", "value", "code"), [("username", "", "100"), ("password", "", "101")]
)
def test_missing_credentials_are_refused_with_100_and_101(
    sms1601_provider, sms1601_sim, field, value, code
):
    setattr(sms1601_provider, field, value)

    with pytest.raises(GatewayError) as caught:
        sms1601_provider.get_gateway().send(make_batch(NL))

    assert (caught.value.code, caught.value.category) == (code, ErrorCategory.AUTHENTICATION)


def test_wrong_password_is_104(sms1601_provider, sms1601_sim):
    sms1601_provider.password = "not-the-password"

    with pytest.raises(GatewayError) as caught:
        sms1601_provider.get_gateway().send(make_batch(NL))

    assert (caught.value.code, caught.value.category) == ("104", ErrorCategory.AUTHENTICATION)


def test_simulator_refuses_a_long_text_without_type_long_with_105(sms1601_sim):
    reply = requests.get(
        f"{sms1601_sim.url}/module/gateway.php",
        params={
            "klantuser": SMS1601_USER,
            "klantpwd": SMS1601_PASSWORD,
            "bericht": "x" * 161,
            "naar": "31612345678",
            "afzender": "HelpDesk",
        },
    )

    assert reply.text == "ERROR 105"


def test_simulator_answers_the_status_page_without_an_smsid_with_123_and_124(sms1601_sim):
    page = f"{sms1601_sim.url}/module/gatewayrapport.php"

    assert requests.get(page).text == "ERROR 123"
    assert requests.get(page, params={"smsid": "abc"}).text == "ERROR 124"
    assert requests.get(page, params={"smsid": "999"}).text == "NONE"


def test_simulator_accepts_the_documents_date_spelling_on_the_status_page(gateway, sms1601_sim):
    sms1601_sim.advance(0)
    [result] = gateway.send(make_batch(NL)).results
    sms1601_sim.advance(5)

    reply = requests.get(
        f"{sms1601_sim.url}/module/gatewayrapport.php",
        params={"smsid": result.provider_message_id, "date": "ja"},
    )

    assert reply.text.startswith("DELIVERED ")
    assert len(reply.text) == len("DELIVERED 01/02/2012 10:23:10")


def test_simulator_report_action_needs_a_valid_count(sms1601_sim):
    auth = {"klantuser": SMS1601_USER, "klantpwd": SMS1601_PASSWORD, "action": "rapport"}
    url = f"{sms1601_sim.url}/module/gateway.php"

    assert requests.get(url, params=auth).text == "ERROR 123"
    assert requests.get(url, params={**auth, "aantal": "veel"}).text == "ERROR 124"
    assert requests.get(url, params={**auth, "aantal": "100"}).text == "NONE"


def test_simulator_report_action_lists_the_last_final_reports(gateway, sms1601_sim):
    sms1601_sim.advance(0)
    gateway.send(make_batch(NL))
    gateway.send(make_batch(BE))
    sms1601_sim.advance(5)

    reply = requests.get(
        f"{sms1601_sim.url}/module/gateway.php",
        params={
            "klantuser": SMS1601_USER,
            "klantpwd": SMS1601_PASSWORD,
            "action": "rapport",
            "aantal": "1",
        },
    )

    [line] = reply.text.splitlines()
    assert line.startswith("1234568;32478123456;DELIVERED;")


def test_simulator_removes_by_number_and_empties_the_outbox(gateway, sms1601_sim):
    due = datetime(2030, 1, 15, 16, 5, tzinfo=UTC)
    gateway.send(make_batch(NL, schedule_at=due))
    gateway.send(make_batch(BE, schedule_at=due))
    auth = {"klantuser": SMS1601_USER, "klantpwd": SMS1601_PASSWORD}
    url = f"{sms1601_sim.url}/module/gateway.php"

    by_number = requests.get(
        url, params={**auth, "action": "verwijderbericht", "naar": "31612345678"}
    )
    emptied = requests.get(url, params={**auth, "action": "verwijderoutbox"})
    again = requests.get(url, params={**auth, "action": "verwijderoutbox"})

    assert (by_number.text, emptied.text, again.text) == ("OK", "OK", "ERROR 122")
    assert sms1601_sim.state()["outbox"] == []


def test_simulator_accepts_the_documents_to_parameter_and_a_post(sms1601_sim):
    reply = requests.post(
        f"{sms1601_sim.url}/module/gateway.php",
        data={
            "klantuser": SMS1601_USER,
            "klantpwd": SMS1601_PASSWORD,
            "bericht": "this is a test",
            "to": "32478123456,31600123456",
            "afzender": "HelpDesk",
            "delivery": "ja",
        },
    )

    assert reply.text == "OK 1234567,1234568"


# -- simulator faults ----------------------------------------------------------------------


def test_rejected_number_fault_refuses_the_request_with_106(gateway, sms1601_sim):
    sms1601_sim.set_faults(reject_numbers=["32478123456"])

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NL, BE))

    assert (caught.value.code, caught.value.category) == ("106", ErrorCategory.INVALID_RECIPIENT)


def test_exhausted_credit_is_108_and_nothing_is_charged(gateway, sms1601_sim):
    sms1601_sim.set_faults(credit_exhausted=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NL))

    assert (caught.value.code, caught.value.category) == (
        "108",
        ErrorCategory.INSUFFICIENT_CREDIT,
    )
    assert sms1601_sim.state()["balances"]["credits"] == "1000"


def test_auth_failure_fault_is_104(gateway, sms1601_sim):
    sms1601_sim.set_faults(auth_failure=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.balance()

    assert (caught.value.code, caught.value.category) == ("104", ErrorCategory.AUTHENTICATION)


def test_truncated_reply_is_ambiguous_and_keeps_the_raw_body(gateway, sms1601_sim):
    sms1601_sim.set_faults(malformed=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NL))

    assert caught.value.category == ErrorCategory.AMBIGUOUS
    assert caught.value.raw.startswith("OK 1")


def test_truncated_credits_reply_is_transient(gateway, sms1601_sim):
    sms1601_sim.set_faults(malformed=True, times=1)

    with pytest.raises(GatewayError) as caught:
        gateway.balance()

    assert caught.value.category == ErrorCategory.TRANSIENT


# -- delivery reports by polling -----------------------------------------------------------


def test_delivery_report_moves_from_submitted_to_delivered(gateway, sms1601_sim):
    sms1601_sim.advance(0)
    [result] = gateway.send(make_batch(NL)).results
    ref = ReportRef(result.provider_message_id)

    [before] = gateway.fetch_reports([ref])
    sms1601_sim.advance(2.5)
    [after] = gateway.fetch_reports([ref])

    assert (before.status, before.raw["body"][:9]) == (DeliveryStatus.ACCEPTED, "SUBMITTED")
    assert after.status == DeliveryStatus.DELIVERED
    sent_at = sms1601_sim.state()["messages"][0]["submitted_at"]
    assert abs(after.occurred_at.timestamp() - (sent_at + 2)) < 1


@pytest.mark.parametrize(
    ("option", "word"), [("undeliverable", "NOT DELIVERED"), ("rejected", "REJECTED")]
)
def test_undeliverable_and_rejected_numbers_report_undelivered(sms1601_provider, option, word):
    with simulator(sms1601_provider, **{option: ["32478123456"]}) as sim:
        gateway = sms1601_provider.get_gateway()
        results = gateway.send(make_batch(NL, BE)).results
        sim.advance(5)
        found = gateway.fetch_reports([ReportRef(r.provider_message_id) for r in results])

    assert [r.status for r in found] == [DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED]
    assert found[1].error_text == word


def test_status_page_is_asked_without_credentials(gateway, sms1601_sim):
    gateway.fetch_reports([ReportRef("1234567")])

    assert last_params(sms1601_sim) == {"smsid": "1234567", "datum": "ja"}


def test_sent_message_is_polled_to_delivered_through_the_app(sms1601_provider, sms1601_sim):
    sms1601_sim.advance(0)
    [message] = send_sms(NL, TEXT)

    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert [m["number"] for m in sms1601_sim.state()["messages"]] == ["31612345678"]
    sms1601_sim.advance(5)
    reports.poll_reports()

    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert message.events.last().source == "poll"


# -- delivery reports by push --------------------------------------------------------------


def callback_request(method: str = "get", **data: str):
    factory = RequestFactory()
    return getattr(factory, method)("/sms/callback/1/secret/", data)


def test_pushed_report_is_parsed_with_its_date_in_the_provider_timezone(gateway):
    request = callback_request(
        smsid="1234567", datum="20120201102310", status="DELIVERED", referentie="17"
    )

    [report] = gateway.parse_callback(request)

    assert report.provider_message_id == "1234567"
    assert report.status == DeliveryStatus.DELIVERED
    assert report.occurred_at == datetime(2012, 2, 1, 10, 23, 10, tzinfo=AMSTERDAM)
    assert report.raw["referentie"] == "17"


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("DELIVERED", DeliveryStatus.DELIVERED),
        ("NOT DELIVERED", DeliveryStatus.UNDELIVERED),
        ("REJECTED", DeliveryStatus.UNDELIVERED),
        ("BUFFERED", DeliveryStatus.ACCEPTED),
        ("SUBMITTED", DeliveryStatus.ACCEPTED),
    ],
)
def test_every_pushed_status_maps(gateway, word, status):
    [report] = gateway.parse_callback(callback_request(smsid="1", status=word))

    assert report.status == status


def test_pushed_none_status_reports_nothing(gateway):
    assert gateway.parse_callback(callback_request(smsid="1", status="NONE")) == []


def test_pushed_report_by_form_post_with_any_case_names_is_read(gateway):
    request = callback_request(
        "post", SMSID="42", Status="NOT DELIVERED", Datum="01/02/2012 10:23:10"
    )

    [report] = gateway.parse_callback(request)

    assert (report.provider_message_id, report.status) == ("42", DeliveryStatus.UNDELIVERED)
    assert report.occurred_at == datetime(2012, 2, 1, 10, 23, 10, tzinfo=AMSTERDAM)


@pytest.mark.parametrize("data", [{"status": "DELIVERED"}, {"smsid": "1"}, {}])
def test_push_without_smsid_or_status_is_unreadable(gateway, data):
    with pytest.raises(GatewayError) as caught:
        gateway.parse_callback(callback_request(**data))

    assert caught.value.category == ErrorCategory.INVALID_REQUEST


def test_simulator_pushes_the_documents_parameters_once_acknowledged(
    gateway, sms1601_sim, receiver_factory
):
    receiver = receiver_factory()
    sms1601_sim.callback_url = receiver.url
    sms1601_sim.advance(0)
    [result] = gateway.send(make_batch(NL)).results

    sms1601_sim.advance(5)
    [push] = sms1601_sim.wait_for_pushes()
    sms1601_sim.advance(30)

    assert push["status"] == 200
    assert push["method"] == "GET"
    [received] = receiver.received
    done = datetime.fromtimestamp(sms1601_sim.state()["messages"][0]["status_time"], AMSTERDAM)
    assert received == {
        "site": "1",
        "smsid": result.provider_message_id,
        "datum": done.strftime("%Y%m%d%H%M%S"),
        "status": "DELIVERED",
        "referentie": "1",
    }


def test_simulator_pushes_again_until_the_receiver_answers_200(
    gateway, sms1601_sim, receiver_factory
):
    receiver = receiver_factory(500, 503)
    sms1601_sim.callback_url = receiver.url
    sms1601_sim.advance(0)
    gateway.send(make_batch(NL))

    sms1601_sim.advance(5)
    for _ in range(4):
        sms1601_sim.wait_for_pushes()
        sms1601_sim.advance(1)
    pushes = sms1601_sim.wait_for_pushes()

    assert [(p["attempt"], p["status"]) for p in pushes] == [(1, 500), (2, 503), (3, 200)]
    [note] = sms1601_sim.state()["notifications"]
    assert (note["attempts"], note["acknowledged"]) == (3, True)
    assert len(receiver.received) == 3


def test_simulator_gives_up_pushing_after_the_bounded_attempts(sms1601_provider, receiver_factory):
    receiver = receiver_factory(*[500] * 10)
    with simulator(sms1601_provider, push_attempts=3, callback_url=receiver.url) as sim:
        sim.advance(0)
        sms1601_provider.get_gateway().send(make_batch(NL))
        sim.advance(5)
        for _ in range(6):
            sim.wait_for_pushes()
            sim.advance(1)
        pushes = sim.wait_for_pushes()
        [note] = sim.state()["notifications"]

    assert [p["status"] for p in pushes] == [500, 500, 500]
    assert (note["attempts"], note["acknowledged"]) == (3, False)


def test_simulator_pushes_nothing_without_a_callback_url(gateway, sms1601_sim):
    gateway.send(make_batch(NL))

    sms1601_sim.advance(60)

    assert sms1601_sim.wait_for_pushes() == []


def app_callback_url(live_server, provider, secret: str) -> str:
    try:
        path = reverse(
            "helpdesk_sms:callback", kwargs={"provider_id": provider.pk, "secret": secret}
        )
    except NoReverseMatch:
        pytest.skip("the delivery-report callback view is not mounted yet")
    return live_server.url + path


@pytest.mark.parametrize(
    ("option", "status"),
    [(None, Status.DELIVERED), ("undeliverable", Status.UNDELIVERED)],
)
def test_sms_is_sent_pushed_and_reaches_its_final_state(
    live_server, sms1601_provider, sms1601_sim, option, status
):
    sms1601_provider.callback_secrets = CALLBACK_SECRET
    sms1601_provider.save()
    sms1601_sim.callback_url = app_callback_url(live_server, sms1601_provider, CALLBACK_SECRET)
    if option:
        setattr(sms1601_sim, option, {"31612345678"})
    sms1601_sim.advance(0)
    [message] = send_sms(NL, TEXT)

    outbox.dispatch()
    sms1601_sim.advance(5)
    [push] = sms1601_sim.wait_for_pushes()

    message.refresh_from_db()
    assert push["status"] == 200
    assert message.status == status
    event = message.events.last()
    assert event.source == "webhook"
    assert event.data["report"]["referentie"] == str(message.pk)


def test_push_with_a_wrong_secret_is_refused_and_changes_nothing(
    live_server, sms1601_provider, sms1601_sim
):
    sms1601_provider.callback_secrets = CALLBACK_SECRET
    sms1601_provider.save()
    sms1601_sim.callback_url = app_callback_url(live_server, sms1601_provider, "wrong-secret")
    sms1601_sim.advance(0)
    [message] = send_sms(NL, TEXT)
    outbox.dispatch()

    sms1601_sim.advance(5)
    [push] = sms1601_sim.wait_for_pushes()

    message.refresh_from_db()
    assert push["status"] in (400, 403)
    assert message.status == Status.ACCEPTED


# -- balance -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "parts"), [("x" * 160, 1), ("x" * 161, 2), ("x" * 459, 3)])
def test_balance_falls_by_parts_times_numbers(gateway, sms1601_sim, text, parts):
    gateway.send(make_batch(NL, BE, text=text))

    [balance] = gateway.balance()

    assert balance.amount == Decimal(1000 - 2 * parts)


# -- secrets -------------------------------------------------------------------------------


def test_password_never_appears_in_the_stored_request_or_response(gateway):
    outcome = gateway.send(make_batch(NL))

    assert SMS1601_PASSWORD not in json.dumps([outcome.request, outcome.response])
    assert outcome.request == {
        "path": "/module/gateway.php",
        "params": {
            "klantuser": SMS1601_USER,
            "klantpwd": "***",
            "bericht": TEXT,
            "naar": "31612345678",
            "afzender": SMS1601_SENDER,
            "delivery": "ja",
            "referentie": "1",
        },
    }


@pytest.mark.parametrize("echoed", [SMS1601_PASSWORD, SHA1, SHA1.upper()])
def test_credentials_echoed_by_the_gateway_never_appear_in_the_error(gateway, sms1601_sim, echoed):
    replay(sms1601_sim, f"ERROR 104 klantpwd={echoed} rejected")

    with pytest.raises(GatewayError) as caught:
        gateway.send(make_batch(NL))

    error = caught.value
    assert echoed not in f"{error} {error.text} {error.raw}"


# -- sender IDs and numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "ok"),
    [
        ("HelpDesk", True),
        ("1601SMS", True),
        ("HelpDeskNL01", False),  # 12: the document's limit, but networks show 11
        ("HelpDeskNL1", True),
        ("+31612345678", True),
        ("31612345678", False),  # numeric needs a +
        ("+316123456789", False),  # 13 characters
        ("+31-6123", False),
        ("Help Desk", False),
        ("Help-Desk", False),
        ("", False),
    ],
)
def test_sender_rules_follow_the_document(gateway, sender, ok):
    assert (gateway.sender_errors(sender) == []) is ok


def test_numeric_sender_with_its_plus_reaches_the_gateway_intact(gateway, sms1601_sim):
    [result] = gateway.send(make_batch(NL, sender="+31201234567")).results

    assert result.accepted
    assert sms1601_sim.state()["messages"][0]["sender"] == "+31201234567"


def test_numeric_sender_without_plus_is_refused_before_submission(sms1601_provider, sms1601_sim):
    with pytest.raises(InvalidSender, match="start"):
        send_sms(NL, TEXT, sender="31612345678")


@pytest.mark.parametrize(("e164", "written"), [(BE, "32478123456"), (NL, "31612345678")])
def test_numbers_are_written_as_the_document_shows(gateway, e164, written):
    assert gateway.format_number(e164) == written


# -- the simulator's API -------------------------------------------------------------------


def test_get_simulator_builds_a_1601sms_simulator_without_options():
    sim = get_simulator("sms1601")

    assert isinstance(sim, Sms1601Simulator)
    assert sim.state()["balances"] == {"credits": "1000"}


def test_get_simulator_takes_the_api_key_option_as_the_password():
    sim = get_simulator("sms1601", api_key="from-env", delivery_delay=7)

    assert (sim.password, sim.delivery_delay) == ("from-env", 7)


def test_simulator_faults_state_and_reset_work_over_http(sms1601_sim):
    url = sms1601_sim.url
    auth = {"klantuser": SMS1601_USER, "klantpwd": SMS1601_PASSWORD, "action": "credits"}
    requests.post(f"{url}/_sim/faults", json={"http_500": True, "times": 1})
    first = requests.get(f"{url}/module/gateway.php", params=auth)
    second = requests.get(f"{url}/module/gateway.php", params=auth)
    state = requests.get(f"{url}/_sim/state").json()
    requests.post(f"{url}/_sim/reset")

    assert (first.status_code, second.status_code, second.text) == (500, 200, "1000")
    assert [r["params"]["klantpwd"] for r in state["requests"]] == ["***", "***"]
    assert requests.get(f"{url}/_sim/state").json()["requests"] == []


# -- group reports: many open messages in one request -------------------------------------


def send_many(gateway, sim, count: int) -> list[str]:
    numbers = [f"+316123{n:05}" for n in range(count)]
    ids = [r.provider_message_id for r in gateway.send(make_batch(*numbers)).results]
    sim.advance(5)
    return ids


def test_many_open_messages_are_polled_with_one_group_report(gateway, sms1601_sim):
    ids = send_many(gateway, sms1601_sim, 30)
    before = len(sms1601_sim.state()["requests"])

    reports_ = gateway.fetch_reports([ReportRef(i) for i in ids])

    assert sorted(r.provider_message_id for r in reports_) == sorted(ids)
    assert {r.status for r in reports_} == {DeliveryStatus.DELIVERED}
    [request] = sms1601_sim.state()["requests"][before:]
    assert request["params"]["action"] == "rapport"


def test_messages_a_full_group_report_left_out_are_asked_one_by_one(
    gateway, sms1601_sim, monkeypatch
):
    from helpdesk_sms.gateways import sms1601

    monkeypatch.setattr(sms1601, "GROUP_REPORT_MAX", 100)
    ids = send_many(gateway, sms1601_sim, 120)  # more final reports than one list holds
    before = len(sms1601_sim.state()["requests"])

    reports_ = gateway.fetch_reports([ReportRef(i) for i in ids[:15]])

    assert sorted(r.provider_message_id for r in reports_) == sorted(ids[:15])
    paths = [r["path"] for r in sms1601_sim.state()["requests"][before:]]
    assert paths == ["/module/gateway.php"] + ["/module/gatewayrapport.php"] * 15


def test_an_unreadable_group_report_falls_back_to_one_request_per_message(
    gateway, sms1601_sim
):
    ids = send_many(gateway, sms1601_sim, 12)
    replay(sms1601_sim, "<html>maintenance page</html>")

    reports_ = gateway.fetch_reports([ReportRef(i) for i in ids])

    assert sorted(r.provider_message_id for r in reports_) == sorted(ids)
