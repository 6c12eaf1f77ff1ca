"""What processing a new reply guarantees when parts of it fail: the consent change holds,
a listener cannot undo it, and a crash stores nothing (so the gateway's retry is processed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from helpdesk_sms import inbound, inbound_processing
from helpdesk_sms.consent import is_opted_out
from helpdesk_sms.gateways.inbound import DEDUP_SLOT_SECONDS
from helpdesk_sms.inbound_models import InboundAction, InboundMessage
from helpdesk_sms.models import OptOut
from helpdesk_sms.signals import sms_received

pytestmark = pytest.mark.django_db

CUSTOMER = "+919812345678"


def push(provider, text: str, gateway_id: str = "g-1") -> inbound.Received:
    return inbound.receive(
        provider, {"from": CUSTOMER, "to": "HELPDK", "text": text, "id": gateway_id}
    )


def test_an_opt_out_holds_when_its_confirmation_cannot_be_sent(memory_provider):
    memory_provider.allowed_countries = "GB"  # the confirmation to India is refused
    memory_provider.save()

    message = push(memory_provider, "STOP").message

    assert is_opted_out(CUSTOMER)
    assert message.action == InboundAction.KEYWORD
    assert "no reply sent" in message.action_detail


def test_a_failing_listener_does_not_undo_what_the_reply_did(memory_provider):
    def listener(sender, message, **kwargs):
        OptOut.objects.create(number=message.sender)  # a duplicate: IntegrityError

    sms_received.connect(listener, weak=False)
    try:
        message = push(memory_provider, "STOP").message
    finally:
        sms_received.disconnect(listener)

    assert is_opted_out(CUSTOMER)
    assert InboundMessage.objects.get(pk=message.pk).action == InboundAction.KEYWORD


def test_a_crash_while_processing_stores_nothing_so_the_gateways_retry_is_processed(
    memory_provider, monkeypatch
):
    def killed(message):
        raise KeyboardInterrupt  # the worker stopped mid-way: no answer to the gateway

    with monkeypatch.context() as patched:
        patched.setattr(inbound_processing, "process", killed)
        with pytest.raises(KeyboardInterrupt):
            push(memory_provider, "STOP")
    assert not InboundMessage.objects.exists()

    retried = push(memory_provider, "STOP")

    assert retried.created and retried.message.action == InboundAction.KEYWORD
    assert is_opted_out(CUSTOMER)


def test_a_push_counted_as_a_repeat_of_one_stored_in_the_slot_before(memory_provider):
    first = inbound.receive(memory_provider, {"from": CUSTOMER, "text": "STOP"}).message
    # Stored as the same SMS pushed one ten-minute slot earlier would have been.
    sms = memory_provider.get_gateway().parse_inbound({"from": CUSTOMER, "text": "STOP"})
    slot_before = sms.received_at - timedelta(seconds=DEDUP_SLOT_SECONDS)
    earlier_key = replace(sms, received_at=slot_before).dedup_key()
    InboundMessage.objects.filter(pk=first.pk).update(dedup_key=earlier_key)

    again = inbound.receive(memory_provider, {"from": CUSTOMER, "text": "STOP"})

    assert not again.created and again.message.pk == first.pk
    assert InboundMessage.objects.get().repeat_count == 2
