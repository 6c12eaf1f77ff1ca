"""Quiet hours: a customer texted at 02:00 their time gets the text at the window's opening.

The clock is the only thing mocked (``django.utils.timezone.now``, see ``clock``); tickets
are the demo's, watched by the model watcher as on the demo site, and sent through the
in-memory gateway by the real outbox.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from helpdesk_sms import outbox, quiet_hours
from helpdesk_sms.gateways.memory import MemoryGateway
from helpdesk_sms.integrations import model_watcher
from helpdesk_sms.models import Message, MessageEvent, NotificationTemplate
from helpdesk_sms.quiet_hours import Window, hold_for, local_zone, parse
from helpdesk_sms.states import Status
from project.demo.models import Task

from .querycount import added, app_disabled, captured
from .test_notifications import BUDGET, make_ticket, within

pytestmark = pytest.mark.django_db

KOLKATA = ZoneInfo("Asia/Kolkata")
#: 02:00 in Kolkata (20:30 UTC the day before).
TWO_AM_IST = datetime(2026, 3, 11, 2, 0, tzinfo=KOLKATA)
EIGHT_AM_IST = datetime(2026, 3, 11, 8, 0, tzinfo=KOLKATA)
NIGHT = {"start": "21:00", "end": "08:00"}


class Clock:
    """The time ``django.utils.timezone.now`` answers while a test runs."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(TWO_AM_IST)
    monkeypatch.setattr(timezone, "now", clock)
    return clock


@pytest.fixture
def night(settings):
    """HELPDESK_SMS["QUIET_HOURS"] = 21:00-08:00."""
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "QUIET_HOURS": NIGHT}


def acknowledgement(ticket) -> Message:
    return Message.objects.get(ticket_id=str(ticket.pk), event="ticket_created")


def sent_to() -> list[str]:
    """The numbers the in-memory gateway was asked to text."""
    return [r.number for batch in MemoryGateway.outbox for r in batch.recipients]


def first_note(message: Message) -> str:
    return MessageEvent.objects.filter(message=message).order_by("pk").first().note


# -- the rule, end to end ----------------------------------------------------------------


def test_a_ticket_created_at_two_in_kolkata_is_held_until_eight(memory_provider, night, clock):
    ticket = make_ticket(customer_phone="+919812345678")

    message = acknowledgement(ticket)
    assert message.status == Status.SCHEDULED
    assert message.send_at == EIGHT_AM_IST
    assert message.quiet_hours is True
    assert first_note(message).startswith(
        "quiet hours 21:00–08:00 in Asia/Kolkata: held until 08:00 local"
    )


def test_the_held_acknowledgement_is_not_sent_before_eight_and_goes_at_eight(
    memory_provider, night, clock
):
    ticket = make_ticket(customer_phone="+919812345678")

    clock.moment = (EIGHT_AM_IST - timedelta(minutes=1)).astimezone(UTC)
    outbox.dispatch(now=clock.moment)
    assert sent_to() == []
    assert acknowledgement(ticket).status == Status.SCHEDULED

    clock.moment = EIGHT_AM_IST.astimezone(UTC)
    outbox.dispatch(now=clock.moment)
    assert sent_to() == ["+919812345678"]
    assert acknowledgement(ticket).status == Status.ACCEPTED


def test_an_urgent_template_sends_at_once(memory_provider, night, clock):
    NotificationTemplate.objects.filter(event="ticket_created").update(urgent=True)

    ticket = make_ticket(customer_phone="+919812345678")
    outbox.dispatch(now=clock.moment)

    message = acknowledgement(ticket)
    assert message.status == Status.ACCEPTED
    assert message.quiet_hours is False
    assert sent_to() == ["+919812345678"]


def test_a_ticket_created_in_the_day_is_queued_at_once(memory_provider, night, clock):
    clock.moment = datetime(2026, 3, 11, 10, 0, tzinfo=KOLKATA).astimezone(UTC)

    message = acknowledgement(make_ticket(customer_phone="+919812345678"))

    assert message.status == Status.QUEUED
    assert message.send_at is None
    assert message.quiet_hours is False


def test_nothing_is_held_when_quiet_hours_are_off(memory_provider, clock):
    message = acknowledgement(make_ticket(customer_phone="+919812345678"))

    assert message.status == Status.QUEUED


def test_an_agent_assigned_at_night_waits_too_unless_the_template_is_urgent(
    memory_provider, agent, night, clock
):
    ticket = make_ticket()
    ticket.assigned_to = agent
    ticket.save()
    held = Message.objects.get(event="ticket_assigned")
    assert (held.status, held.send_at) == (Status.SCHEDULED, EIGHT_AM_IST)

    NotificationTemplate.objects.filter(event="ticket_assigned").update(urgent=True)
    urgent = make_ticket(title="Server down", assigned_to=agent)
    message = Message.objects.get(event="ticket_assigned", ticket_id=str(urgent.pk))
    assert message.status == Status.QUEUED


def test_a_task_added_at_night_waits_like_the_acknowledgement(memory_provider, night, clock):
    ticket = make_ticket()
    clock.moment = datetime(2026, 3, 11, 23, 45, tzinfo=KOLKATA).astimezone(UTC)

    Task.objects.create(ticket=ticket, title="Replace toner")

    message = Message.objects.get(event="task_added")
    assert message.status == Status.SCHEDULED
    assert message.send_at == datetime(2026, 3, 12, 8, 0, tzinfo=KOLKATA)


def test_the_template_quiet_hours_beat_the_setting(memory_provider, night, clock):
    NotificationTemplate.objects.filter(event="ticket_created").update(quiet_hours="01:00-03:30")

    message = acknowledgement(make_ticket(customer_phone="+919812345678"))

    assert message.send_at == datetime(2026, 3, 11, 3, 30, tzinfo=KOLKATA)
    assert "quiet hours 01:00–03:30 in Asia/Kolkata" in first_note(message)


def test_a_template_set_off_sends_through_the_setting(memory_provider, night, clock):
    NotificationTemplate.objects.filter(event="ticket_created").update(quiet_hours="off")

    assert acknowledgement(make_ticket()).status == Status.QUEUED


def test_a_template_window_applies_without_the_setting(memory_provider, clock):
    NotificationTemplate.objects.filter(event="ticket_created").update(quiet_hours="22:00-07:00")

    message = acknowledgement(make_ticket(customer_phone="+919812345678"))

    assert message.send_at == datetime(2026, 3, 11, 7, 0, tzinfo=KOLKATA)


def test_holding_for_quiet_hours_adds_no_query_to_the_ticket_save(memory_provider, night, clock):
    make_ticket()  # as in any running site: the ticket's ContentType is cached

    with_app = captured(make_ticket, atomic=True)
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SCHEDULED}
    with app_disabled(model_watcher.active.disconnect, model_watcher.active.connect):
        without_app = captured(make_ticket, atomic=True)

    found = added(with_app, without_app)
    assert within(found, BUDGET["create"]), found


# -- the recipient's time zone ---------------------------------------------------------


def test_a_number_with_several_zones_takes_the_providers_when_it_is_one_of_them():
    # Russian mobiles span eleven zones in phonenumbers' tables.
    assert local_zone("+79161234567", ticket_tz=None, provider_tz="Asia/Vladivostok") == (
        "Asia/Vladivostok"
    )


def test_a_number_with_several_zones_takes_the_tickets_before_the_providers():
    zone = local_zone("+79161234567", ticket_tz="Europe/Moscow", provider_tz="Asia/Omsk")

    assert zone == "Europe/Moscow"


def test_a_number_with_several_zones_and_no_match_takes_the_first_listed():
    zones = quiet_hours.number_zones("+79161234567")

    assert len(zones) > 1
    assert local_zone("+79161234567", ticket_tz=None, provider_tz="UTC") == zones[0]


def test_a_number_of_one_zone_keeps_it_whatever_the_provider_says():
    assert local_zone("+919812345678", ticket_tz=None, provider_tz="Europe/London") == (
        "Asia/Kolkata"
    )


def test_a_number_without_a_known_zone_takes_the_tickets_then_the_providers_then_the_sites(
    settings,
):
    settings.TIME_ZONE = "Asia/Baku"
    unknown = "+15555550100"  # a fictional US number: phonenumbers knows no zone for it

    assert local_zone(unknown, ticket_tz="America/Denver", provider_tz="UTC") == "America/Denver"
    assert local_zone(unknown, ticket_tz=None, provider_tz="Asia/Dubai") == "Asia/Dubai"
    assert local_zone(unknown, ticket_tz=None, provider_tz=None) == "Asia/Baku"


def test_a_held_message_uses_the_providers_zone_for_a_number_of_several(
    memory_provider, night, clock
):
    memory_provider.timezone = "Asia/Vladivostok"
    memory_provider.allowed_countries = ""
    memory_provider.save()
    # 02:00 in Kolkata is 07:30 in Vladivostok: inside 21:00-08:00 there, until 08:00.
    message = acknowledgement(make_ticket(customer_phone="+79161234567"))

    vladivostok = ZoneInfo("Asia/Vladivostok")
    assert message.send_at == datetime(2026, 3, 11, 8, 0, tzinfo=vladivostok)
    assert "in Asia/Vladivostok" in first_note(message)


def test_the_ticket_time_zone_resolver_decides_for_a_number_without_a_zone(settings):
    settings.HELPDESK_SMS = {
        **settings.HELPDESK_SMS,
        "TICKET_TIMEZONE_RESOLVER": "tests.test_quiet_hours.denver",
    }

    assert quiet_hours.ticket_zone(object()) == "America/Denver"


def denver(ticket) -> str:
    return "America/Denver"


def test_a_ticket_time_zone_attribute_is_read():
    class Ticket:
        time_zone = ZoneInfo("Europe/Amsterdam")

    assert quiet_hours.ticket_zone(Ticket()) == "Europe/Amsterdam"


# -- the window ------------------------------------------------------------------------


def test_a_window_wrapping_midnight_holds_the_late_evening_and_the_early_morning():
    window = parse("21:00-08:00", "test")

    assert window.contains(time(23, 30))
    assert window.contains(time(2, 0))
    assert window.contains(time(21, 0))
    assert not window.contains(time(8, 0))
    assert not window.contains(time(12, 0))


def test_a_message_due_late_in_the_evening_waits_for_the_next_morning():
    due = datetime(2026, 3, 10, 22, 15, tzinfo=KOLKATA)

    hold = hold_for(Window(time(21), time(8)), "+919812345678", due)

    assert hold is not None
    assert hold.until == datetime(2026, 3, 11, 8, 0, tzinfo=KOLKATA)


def test_a_window_within_one_day_holds_only_its_hours():
    window = parse({"start": "12:00", "end": "14:00"}, "test")

    assert window.contains(time(13, 0))
    assert not window.contains(time(23, 0))
    due = datetime(2026, 3, 10, 12, 30, tzinfo=KOLKATA)
    hold = hold_for(window, "+919812345678", due)
    assert hold is not None and hold.until == datetime(2026, 3, 10, 14, 0, tzinfo=KOLKATA)


def test_a_later_send_time_outside_the_window_is_not_held():
    due = datetime(2026, 3, 11, 10, 0, tzinfo=KOLKATA)

    assert hold_for(Window(time(21), time(8)), "+919812345678", due) is None


@pytest.mark.parametrize(
    "value",
    ["21:00", "25:00-08:00", "21:00-21:00", {"start": "21:00"}, 2100, "nine-eight"],
    ids=["no-end", "no-such-hour", "empty", "dict-without-end", "a-number", "words"],
)
def test_a_window_that_cannot_be_read_is_refused_naming_the_rule(value):
    with pytest.raises(ValueError) as refused:
        parse(value, "HELPDESK_SMS['QUIET_HOURS']")

    assert str(refused.value).startswith("HELPDESK_SMS['QUIET_HOURS'] must be a window")
    assert "HH:MM-HH:MM" in str(refused.value)
