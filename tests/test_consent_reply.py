"""The reply to a keyword goes back over the gateway (a real socket to its simulator), from the
provider and sender the customer texted, and the STOP confirmation is not itself suppressed."""

from __future__ import annotations

import pytest

from helpdesk_sms import outbox, send_sms
from helpdesk_sms.consent import handle_keyword, send_reply
from helpdesk_sms.models import SenderID
from helpdesk_sms.states import Priority, Status

pytestmark = pytest.mark.django_db

CUSTOMER = "+919812345678"


@pytest.fixture
def support_sender(canlog_provider) -> SenderID:
    """A second sender ID of the Canlog account: the one the customer texted."""
    return SenderID.objects.create(provider=canlog_provider, value="SUPORT")


def test_the_stop_confirmation_is_sent_from_the_provider_and_sender_texted(
    memory_provider, canlog_provider, canlog_sim, support_sender
):
    outcome = handle_keyword(CUSTOMER, "STOP", canlog_provider)

    reply = send_reply(outcome, CUSTOMER, canlog_provider, "SUPORT")
    outbox.dispatch()

    reply.refresh_from_db()
    assert (reply.status, reply.provider, reply.sender) == (
        Status.ACCEPTED,
        canlog_provider,
        "SUPORT",
    )
    [delivered] = canlog_sim.messages
    assert (delivered.number[-10:], delivered.sender) == (CUSTOMER[-10:], "SUPORT")
    assert delivered.text == outcome.reply


def test_after_the_confirmation_the_number_gets_nothing_more(
    memory_provider, canlog_provider, canlog_sim, support_sender
):
    outcome = handle_keyword(CUSTOMER, "STOP", canlog_provider)
    send_reply(outcome, CUSTOMER, canlog_provider, "SUPORT")

    [later] = send_sms(CUSTOMER, "Your ticket is closed", provider=canlog_provider)
    outbox.dispatch()

    assert later.status == Status.SUPPRESSED
    assert len(canlog_sim.messages) == 1


def test_the_help_reply_is_the_providers_own_and_leaves_consent_alone(
    canlog_provider, canlog_sim, support_sender
):
    canlog_provider.options = {**canlog_provider.options, "help_reply": "Acme help: 0800 123"}
    canlog_provider.save()

    outcome = handle_keyword(CUSTOMER, "help", canlog_provider)
    send_reply(outcome, CUSTOMER, canlog_provider, "SUPORT")
    outbox.dispatch()

    [delivered] = canlog_sim.messages
    assert (delivered.text, delivered.sender) == ("Acme help: 0800 123", "SUPORT")


def test_the_stop_confirmation_is_the_providers_own_in_its_customers_language(
    canlog_provider, canlog_sim
):
    canlog_provider.options = {**canlog_provider.options, "opt_out_reply": "U bent afgemeld."}
    canlog_provider.save()

    outcome = handle_keyword(CUSTOMER, "STOP", canlog_provider)

    assert outcome.reply == "U bent afgemeld."


def test_an_empty_confirmation_option_sends_none_through_that_provider(canlog_provider):
    canlog_provider.options = {**canlog_provider.options, "opt_in_reply": ""}
    canlog_provider.save()
    handle_keyword(CUSTOMER, "STOP", canlog_provider)

    outcome = handle_keyword(CUSTOMER, "START", canlog_provider)

    assert outcome.changed and outcome.reply == ""
    assert send_reply(outcome, CUSTOMER, canlog_provider, "HLPDSK") is None


def test_a_confirmation_option_that_is_not_text_is_refused_naming_it(canlog_provider):
    from django.core.exceptions import ValidationError

    canlog_provider.options = {**canlog_provider.options, "opt_out_reply": 12}

    with pytest.raises(ValidationError, match="Opt_out_reply must be a text, not 12"):
        canlog_provider.full_clean()


def test_a_sender_the_gateway_cannot_send_from_falls_back_to_the_default_and_says_so(
    canlog_provider, canlog_sim
):
    outcome = handle_keyword(CUSTOMER, "STOP", canlog_provider)

    reply = send_reply(outcome, CUSTOMER, canlog_provider, "+919800000000")

    assert reply.sender == "HLPDSK"
    assert "from the default sender" in reply.events.get().note


def test_the_reply_is_critical_so_a_budget_cap_does_not_hold_it(canlog_provider):
    outcome = handle_keyword(CUSTOMER, "STOP", canlog_provider)

    reply = send_reply(outcome, CUSTOMER, canlog_provider, "SUPORT")

    assert reply.priority == Priority.CRITICAL


def test_a_repeated_stop_sends_no_second_confirmation(canlog_provider):
    handle_keyword(CUSTOMER, "STOP", canlog_provider)

    again = handle_keyword(CUSTOMER, "STOP", canlog_provider)

    assert send_reply(again, CUSTOMER, canlog_provider, "SUPORT") is None
