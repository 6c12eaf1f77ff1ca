"""A customer answers our SMS, end to end over real sockets: the Canlog simulator texts the
app's inbound URL (served by the live server), and the reply lands on the demo ticket it is
about, once; STOP and START change what the next ticket's acknowledgement does.

The demo's settings make each reply a ``CustomerReply`` row on its ticket (MODEL_WATCHER
REPLY_MODEL), as an operator sees it in the demo's admin.
"""

from __future__ import annotations

import pytest

from helpdesk_sms import outbox
from helpdesk_sms.inbound_models import InboundAction, InboundMessage
from helpdesk_sms.models import Message
from helpdesk_sms.states import Status
from project.demo.models import Ticket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("demo_watcher", "shipped_templates"),
]

CUSTOMER = "+919812345678"


def raise_ticket(title: str = "Printer jammed") -> Ticket:
    """A demo ticket whose acknowledgement has gone out through the simulator."""
    ticket = Ticket.objects.create(title=title, customer_name="Ravi", customer_phone=CUSTOMER)
    outbox.dispatch()
    return ticket


def replies(ticket: Ticket) -> list[str]:
    return list(ticket.replies.values_list("text", flat=True))


def acknowledgement(ticket: Ticket) -> Message:
    return Message.objects.get(event="ticket_created", ticket_id=str(ticket.pk))


def test_a_reply_naming_its_ticket_lands_on_it_once_though_pushed_three_times(texting_canlog):
    named = raise_ticket("Printer jammed")
    latest = raise_ticket("Scanner offline")

    pushes = texting_canlog.reply(CUSTOMER, "HLPDSK", f"About #{named.pk}: still jammed", repeat=3)

    assert [push["status"] for push in pushes] == [200, 200, 200]
    assert replies(named) == [f"About #{named.pk}: still jammed"]
    assert replies(latest) == []
    stored = InboundMessage.objects.get()
    assert (stored.repeat_count, stored.action, stored.ticket) == (3, InboundAction.TICKET, named)


def test_a_reply_without_a_reference_lands_on_the_ticket_last_texted(texting_canlog):
    raise_ticket("Printer jammed")
    latest = raise_ticket("Scanner offline")

    texting_canlog.reply(CUSTOMER, "HLPDSK", "Still broken, please call me")

    assert replies(latest) == ["Still broken, please call me"]
    assert InboundMessage.objects.get().ticket == latest


def test_a_reply_about_no_ticket_is_kept_for_a_human(texting_canlog):
    texting_canlog.reply("+919812345699", "HLPDSK", "Who is this?")

    stored = InboundMessage.objects.get()
    assert (stored.action, stored.ticket) == (InboundAction.UNASSIGNED, None)


def test_stop_suppresses_the_next_notification_to_that_number(texting_canlog):
    raise_ticket()

    texting_canlog.reply(CUSTOMER, "HLPDSK", "STOP")
    after_stop = raise_ticket("Scanner offline")

    message = acknowledgement(after_stop)
    assert (message.status, message.error_category) == (Status.SUPPRESSED, "opted_out")


def test_start_lifts_the_opt_out(texting_canlog):
    texting_canlog.reply(CUSTOMER, "HLPDSK", "STOP")
    texting_canlog.reply(CUSTOMER, "HLPDSK", "start")

    ticket = raise_ticket()

    assert acknowledgement(ticket).status == Status.ACCEPTED


def test_stop_is_confirmed_from_the_provider_and_sender_the_customer_texted(
    texting_canlog, canlog_provider
):
    texting_canlog.reply(CUSTOMER, "HLPDSK", "Stop")
    outbox.dispatch()

    confirmation = Message.objects.get(recipient=CUSTOMER)
    assert (confirmation.provider, confirmation.sender) == (canlog_provider, "HLPDSK")
    assert confirmation.status == Status.ACCEPTED
    assert InboundMessage.objects.get().action == InboundAction.KEYWORD


def test_stop_is_not_put_on_the_ticket(texting_canlog):
    ticket = raise_ticket()

    texting_canlog.reply(CUSTOMER, "HLPDSK", "STOP")

    assert replies(ticket) == []
