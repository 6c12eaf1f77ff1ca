"""Every gateway simulator texts the app: Simulator.reply, POST /_sim/reply and the CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from django.core.management import CommandError, call_command
from django.urls import reverse

from helpdesk_sms.inbound_models import InboundAction, InboundMessage
from helpdesk_sms.models import Provider
from helpdesk_sms.signals import sms_received
from helpdesk_sms.simulators import SIMULATORS, Simulator, get_simulator

SECRET = "simulated-inbound-secret"


@pytest.fixture(params=sorted(SIMULATORS))
def gateway(request) -> str:
    return request.param


@pytest.fixture
def provider(db, gateway) -> Provider:
    return Provider.objects.create(
        name=gateway, gateway=gateway, callback_secrets=SECRET, timezone="UTC"
    )


@pytest.fixture
def sim(live_server, provider) -> Iterator[Simulator]:
    path = reverse("helpdesk_sms:inbound", kwargs={"provider_id": provider.pk, "secret": SECRET})
    simulator = get_simulator(provider.gateway, reply_to=live_server.url + path)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def announced() -> Iterator[list[InboundMessage]]:
    seen: list[InboundMessage] = []

    def listener(sender, message, **kwargs):
        seen.append(message)

    sms_received.connect(listener, weak=False)
    yield seen
    sms_received.disconnect(listener)


def test_a_simulator_reply_is_stored_by_the_app(sim, provider):
    [push] = sim.reply("+919812345678", "HELPDK", "Is my ticket done?")

    message = InboundMessage.objects.get()
    assert push["status"] == 200
    assert (message.provider, message.sender, message.text) == (
        provider,
        "+919812345678",
        "Is my ticket done?",
    )
    assert message.action == InboundAction.UNASSIGNED


def test_a_reply_pushed_three_times_is_stored_once_and_processed_once(sim, announced):
    pushes = sim.reply("+919812345678", "HELPDK", "STOP", repeat=3)

    [message] = InboundMessage.objects.all()
    assert [p["status"] for p in pushes] == [200, 200, 200]
    assert message.repeat_count == 3
    assert announced == [message]


def test_the_control_endpoint_makes_the_simulator_text_us(sim):
    answer = requests.post(
        sim.url + "/_sim/reply",
        json={"from": "+919812345678", "to": "HELPDK", "text": "hello", "repeat": 2},
        timeout=10,
    )

    assert answer.status_code == 200
    assert [p["status"] for p in answer.json()["pushes"]] == [200, 200]
    assert InboundMessage.objects.get().repeat_count == 2


def test_the_control_endpoint_takes_a_form_too(sim):
    answer = requests.post(
        sim.url + "/_sim/reply", data={"from": "+919812345678", "text": "form"}, timeout=10
    )

    assert answer.status_code == 200
    assert InboundMessage.objects.get().text == "form"


def test_the_control_endpoint_refuses_a_reply_without_text(sim):
    answer = requests.post(sim.url + "/_sim/reply", json={"from": "+919812345678"}, timeout=10)

    assert answer.status_code == 400
    assert "text" in answer.json()["error"]


@pytest.mark.parametrize("gateway", ["sms1601"])
def test_the_cli_send_reply_asks_a_running_simulator(sim, capsys):
    call_command(
        "sms_simulate",
        "send-reply",
        "--url",
        sim.url,
        "--from",
        "+31612345678",
        "--text",
        "Ja graag",
        "--repeat",
        "3",
    )

    message = InboundMessage.objects.get()
    assert (message.sender, message.text, message.repeat_count) == ("+31612345678", "Ja graag", 3)
    assert capsys.readouterr().out.count("push") == 3


def test_a_simulator_without_reply_to_says_so():
    simulator = get_simulator("canlog")

    with pytest.raises(ValueError, match="reply_to"):
        simulator.reply("+919812345678", "", "hi")


def test_the_cli_send_reply_needs_a_text():
    with pytest.raises(CommandError, match="--text"):
        call_command("sms_simulate", "send-reply", "--url", "http://127.0.0.1:9", "--from", "1")


def test_the_cli_takes_reply_to_or_reply_to_env_not_both():
    with pytest.raises(CommandError, match="--reply-to: give --reply-to or --reply-to-env"):
        call_command(
            "sms_simulate", "canlog", "--reply-to", "http://a/", "--reply-to-env", "REPLY_URL"
        )


def test_the_cli_refuses_an_unset_reply_to_env(monkeypatch):
    monkeypatch.delenv("REPLY_URL", raising=False)

    with pytest.raises(CommandError, match=r"--reply-to-env: \$REPLY_URL is empty or unset"):
        call_command("sms_simulate", "canlog", "--reply-to-env", "REPLY_URL")
