"""Budget caps in the outbox: normal messages wait while a cap is reached, critical ones go.

A real Unified simulator over a socket; the cap's spend is what the accepted messages cost.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from helpdesk_sms import outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.models import BudgetCap, Provider
from helpdesk_sms.states import Status

pytestmark = pytest.mark.django_db

IN = "+919812345678"


@pytest.fixture
def priced(unified_provider: Provider) -> Provider:
    """Unified at 1.00 INR a part, with a daily cap of 1.00 INR."""
    Provider.objects.filter(pk=unified_provider.pk).update(
        price_per_part=Decimal("1.00"), currency="INR"
    )
    unified_provider.refresh_from_db()
    BudgetCap.objects.create(
        provider=unified_provider, period=BudgetCap.Period.DAILY, limit=Decimal("1.00"), unit="INR"
    )
    return unified_provider


def spend_the_cap(provider: Provider) -> None:
    send_sms("+919800000001", "The first message of the day", provider=provider)
    outbox.dispatch()


def test_a_reached_cap_holds_normal_messages_queued_with_the_reason(priced, unified_sim):
    spend_the_cap(priced)
    [message] = send_sms(IN, "Your ticket #42 is open", provider=priced)

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert "daily cap of 1.00 INR" in message.held_reason
    assert len(unified_sim.messages) == 1


def test_a_reached_cap_lets_critical_messages_through(priced, unified_sim):
    spend_the_cap(priced)
    [message] = send_sms(IN, "Your account was locked", provider=priced, priority="critical")

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED


def test_a_batch_that_would_go_over_the_cap_is_held(priced, unified_sim):
    first, second = send_sms([IN, "+919812345679"], "Maintenance tonight", provider=priced)

    outbox.dispatch()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.QUEUED, Status.QUEUED)
    assert unified_sim.messages == []


def test_held_messages_go_out_once_the_cap_is_raised(priced, unified_sim):
    spend_the_cap(priced)
    [message] = send_sms(IN, "Your ticket #42 is open", provider=priced)
    outbox.dispatch()

    cap = BudgetCap.objects.get()
    cap.limit = Decimal("5.00")
    cap.save()
    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.held_reason) == (Status.ACCEPTED, "")


def test_a_message_queued_after_the_cap_was_reached_is_held_without_being_claimed(
    priced, unified_sim
):
    spend_the_cap(priced)
    [message] = send_sms(IN, "Your ticket #42 is open", provider=priced)

    report = outbox.dispatch()

    message.refresh_from_db()
    assert report.claimed == 0
    assert message.held_reason and message.events.count() == 1  # only its creation


def test_the_operator_is_alerted_once_when_a_pass_reaches_the_cap(priced, unified_sim, mailoutbox):
    spend_the_cap(priced)
    send_sms(IN, "Your ticket #42 is open", provider=priced)

    outbox.dispatch()
    outbox.dispatch()

    assert [m.subject for m in mailoutbox].count(mailoutbox[0].subject) == 1
    assert "budget cap" in mailoutbox[0].subject.lower()
