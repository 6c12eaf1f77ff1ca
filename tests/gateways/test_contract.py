"""The gateway contract: what every adapter does, proven once against all five simulators.

Each test runs against every gateway (or every gateway with the capability), over real
sockets: the simulator processes the request and answers whatever the test makes it answer
(its ``body`` fault), so a reply is exactly what a broken or hostile gateway could send.
What each protocol does of its own stays in its own file (tests/gateways/test_<name>.py).

The rules proven here: transport failures fall into the taxonomy (after sending:
AMBIGUOUS; provably not taken: TRANSIENT); a reply that cannot be read is AMBIGUOUS for a
send and a clean error for a poll, a balance or a push, whatever the parser trips on; a
reply over MAX_REPLY_BYTES is refused unread in well under a second; credentials never
reach what is stored, logged or raised, also when a reply echoes one at the point where
the stored text is cut.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import RequestFactory
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from helpdesk_sms.gateways.base import (
    STORED_REPLY_CHARS,
    Batch,
    Capability,
    ErrorCategory,
    Gateway,
    GatewayError,
    Recipient,
    ReportRef,
)
from tests.fixtures_atl import ATL_PASSWORD
from tests.fixtures_simulators import CANLOG_API_KEY
from tests.fixtures_sms1601 import SMS1601_PASSWORD
from tests.fixtures_smsclone import SMSCLONE_PASSWORD
from tests.fixtures_unified import UNIFIED_PASSWORD

pytestmark = pytest.mark.django_db

#: Fuzzed examples per gateway and test: bounded for CI; raise it for a real fuzz run
#: (``HELPDESK_SMS_FUZZ_EXAMPLES=2000 pytest tests/gateways/test_contract.py -k fuzzed``).
FUZZ_EXAMPLES = int(os.environ.get("HELPDESK_SMS_FUZZ_EXAMPLES", "30"))


@dataclass(frozen=True)
class Contract:
    """What the suite needs to know of one gateway: a number it serves, its secret."""

    name: str
    number: str
    secret: str


CONTRACTS = {
    "canlog": Contract("canlog", "+919812345678", CANLOG_API_KEY),
    "unified": Contract("unified", "+919812345678", UNIFIED_PASSWORD),
    "atl": Contract("atl", "+994519574083", ATL_PASSWORD),
    "sms1601": Contract("sms1601", "+31612345678", SMS1601_PASSWORD),
    "smsclone": Contract("smsclone", "+2348031234567", SMSCLONE_PASSWORD),
}

#: What the 2026 fuzz run found crashing the parsers, one example of each kind.
CRASHERS: dict[str, bytes] = {
    "deep JSON": b"[" * 5000 + b"]" * 5000,
    "deep JSON object": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "5000-digit number": b'{"ErrorCode": ' + b"9" * 5000 + b"}",
    "superscript digit": "ErrorCode: \u00b2 OK \u00b2".encode(),
    "bogus XML encoding": b'<?xml version="1.0" encoding="bogus"?><reply><code>0</code></reply>',
    "NUL bytes": b"\x00" * 64,
    "invalid UTF-8": b"\xff\xfe\xfa OK 123",
    "unclosed tags": b"<a><b><c>" * 2000,
    "empty": b"",
}


@pytest.fixture(params=sorted(CONTRACTS))
def contract(request) -> Contract:
    return CONTRACTS[request.param]


@pytest.fixture
def sim(contract, request):
    return request.getfixturevalue(f"{contract.name}_sim")


@pytest.fixture
def provider(contract, request, sim):
    return request.getfixturevalue(f"{contract.name}_provider")


@pytest.fixture
def gateway(provider) -> Gateway:
    return provider.get_gateway()


def batch(contract: Contract, provider, text: str = "Ticket 42 received.") -> Batch:
    return Batch(
        recipients=[Recipient(1, contract.number)],
        text=text,
        sender=provider.default_sender.value,
    )


def raised(call: Callable[[], Any]) -> GatewayError:
    """The GatewayError ``call`` raises; any other exception fails the test."""
    with pytest.raises(GatewayError) as caught:
        call()
    return caught.value


def send_verdict(gateway: Gateway, sent: Batch) -> tuple[ErrorCategory | None, Any]:
    """What becomes of the one message: None (accepted) or the error's category, and the
    raw reply kept. A gateway may refuse the whole request or one number of it."""
    try:
        outcome = gateway.send(sent)
    except GatewayError as error:
        return error.category, error.raw
    [result] = outcome.results
    if result.accepted:
        return None, outcome.response
    return result.error.category, result.raw or outcome.response


def everything_said(error: GatewayError) -> str:
    return f"{error} {error.text} {json.dumps(error.raw, default=str)}"


def operations(gateway: Gateway, contract: Contract, provider) -> dict[str, Callable[[], Any]]:
    """Every outgoing operation the gateway has, ready to call."""
    calls: dict[str, Callable[[], Any]] = {"send": lambda: gateway.send(batch(contract, provider))}
    if gateway.has(Capability.DLR_POLL):
        calls["fetch_reports"] = lambda: gateway.fetch_reports([ReportRef("4711", "99")])
    if gateway.has(Capability.BALANCE):
        calls["balance"] = gateway.balance
    return calls


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- transport failures --------------------------------------------------------------------


def test_read_timeout_after_the_gateway_took_the_message_is_ambiguous(
    contract, provider, sim, settings
):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "READ_TIMEOUT": 0.5}
    sim.set_faults(read_timeout=3, times=1)

    error = raised(lambda: provider.get_gateway().send(batch(contract, provider)))

    assert error.category == ErrorCategory.AMBIGUOUS
    assert len(sim.state()["messages"]) >= 1  # the gateway did take it


def test_connection_refused_is_transient_and_names_no_secret(contract, provider):
    provider.base_url = f"http://127.0.0.1:{free_port()}"

    error = raised(lambda: provider.get_gateway().send(batch(contract, provider)))

    assert error.category == ErrorCategory.TRANSIENT
    assert contract.secret not in everything_said(error)


def test_http_500_is_transient_and_nothing_was_sent(contract, provider, gateway, sim):
    sim.set_faults(http_500=True, times=1)

    error = raised(lambda: gateway.send(batch(contract, provider)))

    assert error.category == ErrorCategory.TRANSIENT
    assert sim.state()["messages"] == []


def test_connection_reset_before_any_reply_is_ambiguous(contract, provider, gateway, sim):
    sim.set_faults(reset=True, times=1)

    error = raised(lambda: gateway.send(batch(contract, provider)))

    assert error.category == ErrorCategory.AMBIGUOUS


def test_a_truncated_send_reply_is_ambiguous_and_keeps_the_raw_body(
    contract, provider, gateway, sim
):
    sim.set_faults(malformed=True, times=1)

    category, raw = send_verdict(gateway, batch(contract, provider))

    assert category == ErrorCategory.AMBIGUOUS
    assert raw


def test_latency_within_the_timeout_still_succeeds(contract, provider, gateway, sim):
    sim.set_faults(latency=0.2, times=1)

    outcome = gateway.send(batch(contract, provider))

    assert [r.accepted for r in outcome.results] == [True]


# -- replies that cannot be read ---------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CRASHERS))
def test_a_send_reply_that_cannot_be_read_is_ambiguous_never_a_crash(
    contract, provider, gateway, sim, kind
):
    sim.set_faults(body=CRASHERS[kind], times=1)

    try:
        outcome = gateway.send(batch(contract, provider))
    except GatewayError as error:
        assert error.category in set(ErrorCategory)
        return
    assert len(outcome.results) == 1  # read as an answer after all: one result, no crash


@pytest.mark.parametrize("kind", sorted(CRASHERS))
def test_a_poll_or_balance_reply_that_cannot_be_read_is_a_clean_error(
    contract, provider, gateway, sim, kind
):
    for name, call in operations(gateway, contract, provider).items():
        if name == "send":
            continue
        sim.set_faults(body=CRASHERS[kind], times=1)
        with contextlib.suppress(GatewayError):  # the clean error: nothing moves
            call()


def test_a_reply_over_the_size_cap_is_refused_unread_in_well_under_a_second(
    contract, provider, gateway, sim, settings
):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "MAX_REPLY_BYTES": 64 * 1024}
    huge = b"<x>" + b"9" * (50 * 1024 * 1024)

    for name, call in operations(gateway, contract, provider).items():
        sim.set_faults(body=huge, times=1)
        started = time.perf_counter()
        error = raised(call)
        elapsed = time.perf_counter() - started

        assert error.code == "reply_too_large", name
        assert elapsed < 1.0, name
        if name == "send":
            assert error.category == ErrorCategory.AMBIGUOUS


@hypothesis_settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(reply=st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode)))
def test_fuzzed_replies_raise_nothing_but_gateway_errors_each_under_a_second(
    contract, provider, gateway, sim, reply
):
    for _name, call in operations(gateway, contract, provider).items():
        sim.set_faults(body=reply, times=1)
        started = time.perf_counter()
        with contextlib.suppress(GatewayError):
            call()
        assert time.perf_counter() - started < 1.0


# -- secrets ---------------------------------------------------------------------------------


def test_credentials_never_appear_in_the_stored_request_or_response(
    contract, provider, gateway, sim
):
    outcome = gateway.send(batch(contract, provider))

    assert contract.secret not in json.dumps([outcome.request, outcome.response], default=str)
    assert contract.secret not in json.dumps(sim.state(), default=str)


def test_a_credential_echoed_in_a_reply_never_appears_in_the_error(
    contract, provider, gateway, sim
):
    for name, call in operations(gateway, contract, provider).items():
        sim.set_faults(body=f"ERROR 999 bad login {contract.secret} refused", times=1)
        try:
            call()
        except GatewayError as error:
            assert contract.secret not in everything_said(error), name


def test_a_credential_cut_at_the_stored_length_leaves_no_part_of_it(
    contract, provider, gateway, sim
):
    # The secret straddles the point where the stored reply is cut.
    padding = "x" * (STORED_REPLY_CHARS - len(contract.secret) // 2)
    sim.set_faults(body=f"{padding}{contract.secret} and more", times=1)

    error = raised(lambda: gateway.send(batch(contract, provider)))

    head = contract.secret[: len(contract.secret) // 2]
    assert head not in everything_said(error)


# -- pushed reports ------------------------------------------------------------------------

PUSH_GATEWAYS = ["sms1601", "unified"]


@pytest.fixture(params=PUSH_GATEWAYS)
def push_provider(request):
    provider = request.getfixturevalue(f"{request.param}_provider")
    provider.callback_secrets = "contract-callback-secret"
    provider.save()
    return provider


def callback_url(provider) -> str:
    return f"/sms/callback/{provider.pk}/contract-callback-secret/"


def test_every_push_gateway_is_listed_here():
    from helpdesk_sms.gateways import registry

    pushing = {name for name in CONTRACTS if registry.gateway_class(name).has(Capability.DLR_PUSH)}
    assert pushing == set(PUSH_GATEWAYS)


@pytest.mark.parametrize(
    "query",
    [
        {"referentie": "\u00b2", "smsid": "1", "status": "DELIVERED"},
        {"sMessageId": "1", "sStatus": "DELIVRD", "dtDone": "9" * 900},
        {"smsid": "1" * 900, "status": "DELIVERED", "datum": "99999999999999"},
    ],
)
def test_pushes_the_fuzz_run_crashed_on_answer_200_or_400(client, push_provider, query):
    response = client.get(callback_url(push_provider), query)

    assert response.status_code in (200, 400)


def test_a_deeply_nested_json_push_answers_400(client, push_provider):
    body = "[" * 5000 + "]" * 5000

    response = client.post(callback_url(push_provider), body, content_type="application/json")

    assert response.status_code == 400


@hypothesis_settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    query=st.dictionaries(
        st.sampled_from(
            [
                "smsid",
                "status",
                "datum",
                "referentie",
                "sMessageId",
                "sStatus",
                "sMobileNo",
                "dtDone",
                "dtSubmit",
                "iErrCode",
                "x",
            ]
        ),
        st.text(max_size=40),
        max_size=6,
    ),
    body=st.binary(max_size=200),
)
def test_fuzzed_pushes_never_answer_500(client, push_provider, query, body):
    url = callback_url(push_provider)

    answers = [
        client.get(url, query).status_code,
        client.post(url, query).status_code,
        client.generic("POST", url, body, content_type="application/json").status_code,
    ]

    assert set(answers) <= {200, 400}


def test_a_push_parser_error_is_a_gateway_error(push_provider):
    request = RequestFactory().post("/x/", "[" * 5000 + "]" * 5000, content_type="application/json")

    with pytest.raises(GatewayError) as caught:
        push_provider.get_gateway().parse_callback(request)

    assert caught.value.category == ErrorCategory.INVALID_REQUEST
