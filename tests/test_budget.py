"""Budget caps: the period's spend, normal messages held and critical ones sent, one alert
per crossing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from helpdesk_sms import signals
from helpdesk_sms.api import send_sms
from helpdesk_sms.budget import BudgetBoard, alert_crossings, check, hold, period_start
from helpdesk_sms.exceptions import InvalidPriority
from helpdesk_sms.models import BudgetCap, Message, NotificationTemplate, Provider
from helpdesk_sms.states import Priority, Status
from project.demo.models import Ticket

pytestmark = pytest.mark.django_db

#: The tests' clock: 3 December, mid-morning UTC.
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


@pytest.fixture
def atl(db):
    return Provider.objects.create(
        name="ATL", gateway="memory", priority=1, currency="NGN", price_per_part=Decimal("4")
    )


@pytest.fixture
def other(db):
    return Provider.objects.create(
        name="Other", gateway="memory", priority=2, currency="NGN", price_per_part=Decimal("3")
    )


@pytest.fixture
def reached():
    received = []

    def receiver(sender, **kwargs):
        received.append((kwargs["cap"].pk, kwargs["spent"], kwargs["period_start"]))

    signals.budget_cap_reached.connect(receiver)
    yield received
    signals.budget_cap_reached.disconnect(receiver)


def sent(provider, cost, at=NOW - timedelta(hours=1), *, parts=1, currency="NGN") -> Message:
    """A message the gateway accepted at ``at``, billed ``cost``."""
    return Message.objects.create(
        recipient="+2348031234567",
        provider=provider,
        status=Status.ACCEPTED,
        submitted_at=at,
        cost=Decimal(cost) if cost is not None else None,
        currency=currency,
        parts=parts,
    )


def queued(provider, priority=Priority.NORMAL) -> Message:
    return Message.objects.create(
        recipient="+2348031234567",
        provider=provider,
        status=Status.QUEUED,
        priority=priority,
        estimated_cost=Decimal("4"),
        currency="NGN",
    )


def cap(provider=None, limit="500", unit="NGN", period=BudgetCap.Period.DAILY) -> BudgetCap:
    return BudgetCap.objects.create(provider=provider, period=period, limit=limit, unit=unit)


def spent_on(board: BudgetBoard, budget_cap: BudgetCap) -> Decimal:
    [state] = [s for s in board.caps if s.cap.pk == budget_cap.pk]
    return state.spent


# -- the spend -----------------------------------------------------------------------------


def test_the_daily_spend_adds_up_todays_costs_in_the_caps_currency(atl):
    daily = cap(atl)
    sent(atl, "100.50")
    sent(atl, "20")
    sent(atl, "999", at=NOW - timedelta(days=1))  # yesterday
    sent(atl, "999", currency="EUR")  # another currency
    Message.objects.create(provider=atl, status=Status.QUEUED, cost=None)  # not submitted

    assert spent_on(BudgetBoard.load(NOW), daily) == Decimal("120.50")


def test_a_cap_in_parts_counts_parts_whatever_the_price(atl):
    parts_cap = cap(atl, limit="100", unit="parts")
    sent(atl, "8", parts=2)
    sent(atl, None, parts=3, currency="")

    assert spent_on(BudgetBoard.load(NOW), parts_cap) == 5


def test_a_monthly_cap_counts_the_whole_month_and_a_daily_one_only_today(atl):
    daily = cap(atl)
    monthly = cap(atl, limit="10000", period=BudgetCap.Period.MONTHLY)
    sent(atl, "10")
    sent(atl, "20", at=datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    sent(atl, "40", at=datetime(2026, 11, 30, 23, 59, tzinfo=UTC))  # last month

    board = BudgetBoard.load(NOW)

    assert spent_on(board, daily) == 10
    assert spent_on(board, monthly) == 30


def test_the_day_starts_at_local_midnight(atl, settings):
    settings.TIME_ZONE = "Africa/Lagos"  # UTC+1
    daily = cap(atl)
    sent(atl, "10", at=datetime(2026, 12, 2, 23, 30, tzinfo=UTC))  # 00:30 on the 3rd in Lagos
    sent(atl, "20", at=datetime(2026, 12, 2, 22, 30, tzinfo=UTC))  # 23:30 on the 2nd

    assert spent_on(BudgetBoard.load(NOW), daily) == 10
    assert period_start(BudgetCap.Period.DAILY, NOW).isoformat() == "2026-12-03T00:00:00+01:00"


def test_an_overall_cap_adds_up_every_provider(atl, other):
    overall = cap(None, limit="50")
    sent(atl, "30")
    sent(other, "25")

    board = BudgetBoard.load(NOW)

    assert spent_on(board, overall) == 55
    assert board.overall_over


def test_the_spends_are_read_in_two_queries_however_many_messages(
    atl, other, django_assert_num_queries
):
    cap(atl)
    cap(atl, limit="9000", period=BudgetCap.Period.MONTHLY)
    cap(None, limit="9000")
    for _ in range(20):
        sent(atl, "1")
        sent(other, "1")

    with django_assert_num_queries(2):
        BudgetBoard.load(NOW)


def test_without_caps_the_board_costs_one_query(atl, django_assert_num_queries):
    sent(atl, "1")

    with django_assert_num_queries(1):
        board = BudgetBoard.load(NOW)

    assert board.held_filter() is None


# -- what is held --------------------------------------------------------------------------


def test_a_reached_cap_holds_normal_messages_and_lets_critical_ones_through(atl):
    cap(atl)
    sent(atl, "500")
    normal = queued(atl)
    critical = queued(atl, Priority.CRITICAL)

    board = BudgetBoard.load(NOW)
    due = Message.objects.due(NOW).exclude(board.held_filter())

    assert list(due) == [critical]
    assert normal.pk not in {m.pk for m in due}
    assert board.over_cap_providers() == {atl.pk}


def test_a_providers_cap_holds_only_that_providers_messages(atl, other):
    cap(atl)
    sent(atl, "600")
    mine, theirs = queued(atl), queued(other)

    due = Message.objects.due(NOW).exclude(BudgetBoard.load(NOW).held_filter())

    assert list(due) == [theirs]
    assert mine.status == Status.QUEUED


def test_a_reached_overall_cap_holds_every_normal_message(atl, other):
    cap(None, limit="50")
    sent(atl, "50")
    queued(atl), queued(other)
    critical = queued(other, Priority.CRITICAL)

    due = Message.objects.due(NOW).exclude(BudgetBoard.load(NOW).held_filter())

    assert list(due) == [critical]


def test_a_cap_not_reached_holds_nothing(atl):
    cap(atl)
    sent(atl, "499.99")

    assert BudgetBoard.load(NOW).held_filter() is None


def test_when_the_day_turns_the_held_messages_are_due_again(atl):
    cap(atl)
    sent(atl, "500")
    queued(atl)

    tomorrow = NOW + timedelta(days=1)

    assert BudgetBoard.load(tomorrow).held_filter() is None


def test_a_monthly_cap_still_holds_the_next_day(atl):
    cap(atl, period=BudgetCap.Period.MONTHLY)
    sent(atl, "500")

    assert BudgetBoard.load(NOW + timedelta(days=1)).over_cap_providers() == {atl.pk}


def test_a_batch_that_would_go_over_the_cap_is_named(atl):
    cap(atl)
    sent(atl, "490")
    board = BudgetBoard.load(NOW)

    assert board.would_exceed(atl, Decimal("8"), 2) is None
    reason = board.would_exceed(atl, Decimal("12"), 3)

    assert reason == (
        "held: provider ATL's daily cap of 500.00 NGN would be exceeded (490.00 NGN spent today)"
    )


def test_a_batch_that_does_not_fit_makes_the_cap_reached_until_the_period_turns(atl, reached):
    cap(atl)
    sent(atl, "498")
    board = BudgetBoard.load(NOW)
    board.would_exceed(atl, Decimal("4"), 1)
    queued(atl)

    alert_crossings(board)  # after the pass: recorded, and the operator told

    later = BudgetBoard.load(NOW + timedelta(minutes=5))
    assert len(reached) == 1
    assert later.over_cap_providers() == {atl.pk}  # not claimed again and again
    assert later.caps[0].reason() == (
        "held: provider ATL's daily cap of 500.00 NGN reached "
        "(498.00 NGN spent today; the next messages do not fit)"
    )
    assert Message.objects.due(NOW).exclude(later.held_filter()).count() == 0
    assert BudgetBoard.load(NOW + timedelta(days=1)).held_filter() is None


def test_saving_a_cap_unchanged_keeps_it_reached(atl):
    daily = cap(atl)
    sent(atl, "500")
    check(NOW)

    BudgetCap.objects.get(pk=daily.pk).save()

    assert BudgetCap.objects.get(pk=daily.pk).alerted_for == NOW.date()


def test_what_the_pass_sent_counts_towards_the_cap(atl):
    cap(atl)
    sent(atl, "490")
    board = BudgetBoard.load(NOW)

    board.add(atl, Decimal("10"), 2)

    assert board.over_cap_providers() == {atl.pk}
    assert board.would_exceed(atl, Decimal("1"), 1) == (
        "held: provider ATL's daily cap of 500.00 NGN reached (500.00 NGN spent today)"
    )


def test_a_critical_only_provider_is_not_limited_by_another_providers_cap(atl, other):
    cap(atl)
    sent(atl, "500")

    assert BudgetBoard.load(NOW).would_exceed(other, Decimal("100"), 25) is None


# -- hold: the reason on the message -------------------------------------------------------


def test_holding_writes_the_reason_on_each_held_message(atl):
    cap(atl)
    sent(atl, "512.40")
    normal = queued(atl)
    critical = queued(atl, Priority.CRITICAL)

    marked = hold(BudgetBoard.load(NOW))

    normal.refresh_from_db()
    critical.refresh_from_db()
    assert marked == 1
    assert normal.held_reason == (
        "held: provider ATL's daily cap of 500.00 NGN reached (512.40 NGN spent today)"
    )
    assert critical.held_reason == ""
    assert not normal.events.exists()  # waiting is not a move: no event


def test_holding_again_keeps_the_first_reason(atl):
    cap(atl)
    sent(atl, "512.40")
    normal = queued(atl)
    hold(BudgetBoard.load(NOW))
    sent(atl, "10")

    assert hold(BudgetBoard.load(NOW)) == 0

    normal.refresh_from_db()
    assert "512.40 NGN spent today" in normal.held_reason


def test_raising_the_cap_clears_the_reason(atl):
    daily = cap(atl)
    sent(atl, "512.40")
    normal = queued(atl)
    hold(BudgetBoard.load(NOW))

    daily.limit = Decimal("1000")
    daily.save()
    hold(BudgetBoard.load(NOW))

    normal.refresh_from_db()
    assert normal.held_reason == ""
    assert normal in Message.objects.due(NOW)


def test_removing_the_cap_clears_the_reason(atl):
    daily = cap(atl)
    sent(atl, "512.40")
    normal = queued(atl)
    check(NOW)

    daily.delete()
    check(NOW)

    normal.refresh_from_db()
    assert normal.held_reason == ""


# -- the alert -----------------------------------------------------------------------------


def test_reaching_a_cap_alerts_once_by_signal_log_and_mail(atl, reached, mailoutbox, caplog):
    daily = cap(atl)
    sent(atl, "512.40")

    with caplog.at_level(logging.WARNING, logger="helpdesk_sms.budget"):
        check(NOW)
        check(NOW + timedelta(hours=1))

    assert reached == [(daily.pk, Decimal("512.40"), period_start("daily", NOW))]
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject.endswith("SMS budget cap reached: provider ATL, daily")
    assert "512.40 NGN spent" in mailoutbox[0].body
    assert "critical ones are still sent" in mailoutbox[0].body
    warnings = [r for r in caplog.records if "budget cap" in r.getMessage()]
    assert len(warnings) == 1


def test_the_cap_reached_again_in_the_next_period_alerts_again(atl, reached, mailoutbox):
    cap(atl)
    sent(atl, "500")
    check(NOW)
    tomorrow = NOW + timedelta(days=1)
    sent(atl, "500", at=tomorrow)

    check(tomorrow + timedelta(minutes=1))

    assert len(reached) == 2
    assert len(mailoutbox) == 2


def test_a_cap_raised_and_reached_again_the_same_day_alerts_again(atl, reached):
    daily = cap(atl)
    sent(atl, "500")
    check(NOW)
    daily.limit = Decimal("600")
    daily.save()

    sent(atl, "100", at=NOW + timedelta(minutes=2))
    check(NOW + timedelta(minutes=3))

    assert [spent for _pk, spent, _start in reached] == [Decimal("500"), Decimal("600")]


def test_an_alerted_cap_costs_no_write_on_later_passes(atl, django_assert_num_queries):
    cap(atl)
    sent(atl, "500")
    queued(atl)
    check(NOW)

    with django_assert_num_queries(4):  # caps, spends, hold (mark, release); no alert update
        check(NOW + timedelta(minutes=1))


def test_two_workers_seeing_the_crossing_alert_once(atl, reached):
    cap(atl)
    sent(atl, "500")
    first, second = BudgetBoard.load(NOW), BudgetBoard.load(NOW)

    alerted = alert_crossings(first) + alert_crossings(second)

    assert len(alerted) == 1
    assert len(reached) == 1


def test_a_failing_receiver_does_not_stop_the_alert(atl, mailoutbox):
    def broken(sender, **kwargs):
        raise RuntimeError("receiver bug")

    signals.budget_cap_reached.connect(broken)
    try:
        cap(atl)
        sent(atl, "500")
        check(NOW)
    finally:
        signals.budget_cap_reached.disconnect(broken)

    assert [m for m in mailoutbox if "budget cap reached" in m.subject]


def test_a_cap_not_reached_alerts_nobody(atl, reached, mailoutbox):
    cap(atl)
    sent(atl, "100")

    check(NOW)

    assert reached == [] and mailoutbox == []


# -- validation ----------------------------------------------------------------------------


def errors_of(budget_cap: BudgetCap) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        budget_cap.full_clean()
    return caught.value.message_dict


def test_a_limit_of_zero_is_refused_on_the_limit(atl):
    errors = errors_of(BudgetCap(provider=atl, period="daily", limit=Decimal("0"), unit="NGN"))

    assert errors["limit"] == ["The limit must be more than zero."]


def test_a_providers_cap_in_another_currency_is_refused_on_the_unit(atl):
    errors = errors_of(BudgetCap(provider=atl, period="daily", limit=Decimal("5"), unit="EUR"))

    assert errors["unit"] == ["Provider 'ATL' is priced in NGN: use NGN or 'parts'."]


def test_a_unit_that_is_no_currency_is_refused(atl):
    errors = errors_of(BudgetCap(provider=None, period="daily", limit=Decimal("5"), unit="naira"))

    assert "neither a currency code" in errors["unit"][0]


def test_a_provider_without_prices_takes_only_parts(db):
    bare = Provider.objects.create(name="Bare", gateway="memory")

    errors = errors_of(BudgetCap(provider=bare, period="daily", limit=Decimal("5"), unit="NGN"))
    assert "use 'parts'" in errors["unit"][0]
    BudgetCap(provider=bare, period="daily", limit=Decimal("5"), unit="Parts").full_clean()


def test_a_second_active_cap_for_the_same_period_is_refused_on_the_period(atl):
    cap(atl)

    errors = errors_of(BudgetCap(provider=atl, period="daily", limit=Decimal("9"), unit="NGN"))

    assert "already an active daily cap for provider ATL" in errors["period"][0]


def test_the_database_refuses_a_second_active_overall_cap(atl):
    cap(None, limit="10")
    cap(atl)  # a provider's cap for the same period is another scope
    BudgetCap.objects.create(period="daily", limit="10", unit="NGN", is_active=False)

    with pytest.raises(IntegrityError), transaction.atomic():
        cap(None, limit="20")


# -- priority on messages ------------------------------------------------------------------


def test_send_sms_queues_normal_messages_by_default(memory_provider):
    [message] = send_sms("+919812345678", "Hello")

    assert Message.objects.get(pk=message.pk).priority == Priority.NORMAL


def test_send_sms_takes_a_priority(memory_provider):
    [message] = send_sms("+919812345678", "Server down", priority="critical")

    assert message.priority == Priority.CRITICAL
    assert Message.objects.get(pk=message.pk).priority == Priority.CRITICAL


def test_send_sms_refuses_an_unknown_priority_naming_the_field(memory_provider):
    with pytest.raises(InvalidPriority) as caught:
        send_sms("+919812345678", "Hello", priority="urgent")

    assert caught.value.field == "priority"
    assert "critical, normal" in str(caught.value)
    assert not Message.objects.exists()


def test_a_templates_priority_is_copied_to_its_messages(memory_provider):
    NotificationTemplate.objects.filter(event="ticket_created").update(priority="critical")

    Ticket.objects.create(title="Down", customer_name="Ravi", customer_phone="+919812345678")

    [message] = Message.objects.all()
    assert message.priority == Priority.CRITICAL


def test_sms_send_takes_a_priority(memory_provider):
    out = StringIO()
    call_command(
        "sms_send", "--to", "+919812345678", "--text", "Hi", "--priority", "critical", stdout=out
    )

    assert Message.objects.get().priority == Priority.CRITICAL
