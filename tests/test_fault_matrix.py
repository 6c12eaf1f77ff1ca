"""The same faults against every gateway: nothing lost, nothing sent twice, the right end state.

Each gateway's simulator injects the fault over a real socket; the outbox must end the
message in the state DESIGN.md prescribes, and the simulator must hold the message at most
once, however often the outbox runs afterwards.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from helpdesk_sms import outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.models import Message
from helpdesk_sms.states import Status

pytestmark = pytest.mark.django_db

#: A valid mobile in each gateway's home country.
NUMBERS = {
    "canlog": "+919812345678",
    "unified": "+919812345678",
    "atl": "+994501234567",
    "sms1601": "+31612345678",
    "smsclone": "+2348031234567",
}
#: The gateways the matrix runs against (each has ``<name>_sim`` and ``<name>_provider``).
GATEWAYS = ["atl", "canlog", "sms1601", "smsclone", "unified"]

#: fault -> (simulator faults, the state the message must end in)
FAULTS = {
    "none": ({}, Status.ACCEPTED),
    "latency below the timeout": ({"latency": 0.2}, Status.ACCEPTED),
    "read timeout after accepting": ({"read_timeout": 3}, Status.UNKNOWN),
    "connection reset": ({"reset": True}, Status.UNKNOWN),
    "malformed answer": ({"malformed": True}, Status.UNKNOWN),
    "http 500 once": ({"http_500": True, "times": 1}, Status.ACCEPTED),
    "credit exhausted": ({"credit_exhausted": True}, Status.FAILED),
    "authentication failure": ({"auth_failure": True}, Status.FAILED),
}


def digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def received(sim, number: str) -> int:
    """How many messages the gateway holds for ``number``."""
    return sum(digits(m["number"]).endswith(digits(number)[-9:]) for m in sim.state()["messages"])


def run_outbox_until_settled(message: Message) -> None:
    """Dispatch now, then again well past any retry back-off: what a day of sweeps would do."""
    outbox.dispatch()
    for hours in (1, 24):
        outbox.dispatch(now=timezone.now() + timedelta(hours=hours))
    message.refresh_from_db()


@pytest.fixture
def gateway_under_test(request, settings):
    """(simulator, provider) for the gateway named by the test's ``gateway`` parameter."""
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "READ_TIMEOUT": 1, "RETRY_BACKOFF": 1}
    name = request.node.callspec.params["gateway"]
    sim = request.getfixturevalue(f"{name}_sim")
    provider = request.getfixturevalue(f"{name}_provider")
    return sim, provider


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("gateway", GATEWAYS)
def test_fault_ends_in_the_prescribed_state_and_is_never_sent_twice(
    gateway, fault, gateway_under_test
):
    sim, _ = gateway_under_test
    faults, expected = FAULTS[fault]
    number = NUMBERS[gateway]
    if faults:
        sim.set_faults(**faults)
    [message] = send_sms(number, "Your ticket #42 is open")

    run_outbox_until_settled(message)

    assert Message.objects.count() == 1  # nothing lost, nothing duplicated on our side
    assert message.status == expected, message.error_text
    assert received(sim, number) <= 1  # the gateway never got it twice
    if expected == Status.ACCEPTED:
        assert received(sim, number) == 1


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_a_rejected_number_fails_and_the_others_are_unaffected(gateway, gateway_under_test):
    sim, _ = gateway_under_test
    number = NUMBERS[gateway]
    other = number[:-1] + ("1" if number[-1] != "1" else "2")
    sim.set_faults(reject_numbers=[digits(number)])
    [rejected] = send_sms(number, "Hello")
    [fine] = send_sms(other, "Hello again")

    run_outbox_until_settled(rejected)
    fine.refresh_from_db()

    assert rejected.status == Status.FAILED
    assert fine.status == Status.ACCEPTED
    assert received(sim, number) == 0


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_a_refused_connection_is_retried_until_the_gateway_is_back(gateway, gateway_under_test):
    sim, provider = gateway_under_test
    url = provider.base_url
    sim.stop()
    [message] = send_sms(NUMBERS[gateway], "Hello")

    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.QUEUED

    port = int(url.rsplit(":", 1)[1].split("/")[0])
    sim.start(port=port)
    outbox.dispatch(now=message.next_attempt_at + timedelta(seconds=1))

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert received(sim, NUMBERS[gateway]) == 1
