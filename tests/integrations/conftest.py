"""Shared by the integration tests: a Canlog provider with a sender, and the delivery walk."""

from __future__ import annotations

import pytest

from helpdesk_sms import outbox, reports
from helpdesk_sms.models import SenderID


@pytest.fixture
def sms_provider(canlog_provider):
    """The Canlog simulator's provider, sure to have the default sender ID HLPDSK."""
    if canlog_provider.default_sender_id is None:
        sender, _ = SenderID.objects.get_or_create(provider=canlog_provider, value="HLPDSK")
        canlog_provider.default_sender = sender
        canlog_provider.save()
    return canlog_provider


def deliver(sim) -> dict[str, str]:
    """Send what is queued to the simulator, let it deliver, poll the reports.

    Returns {number: text} of what the simulator received, in the gateway's number format
    (digits with the country code, no '+').
    """
    outbox.dispatch()
    received = {m["number"]: m["text"] for m in sim.state()["messages"]}
    sim.advance(60)
    reports.poll_reports()
    return received
