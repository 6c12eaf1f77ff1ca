"""Retention: old texts, numbers and raw data are erased in place, in batches, while every
count, state, cost and dashboard figure stays as it was."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from helpdesk_sms import retention
from helpdesk_sms.dashboard import queries
from helpdesk_sms.dashboard.periods import PERIODS, Window
from helpdesk_sms.inbound import receive
from helpdesk_sms.inbound_models import InboundMessage
from helpdesk_sms.models import GatewayExchange, Message, MessageEvent, Provider
from helpdesk_sms.states import Source, Status

pytestmark = pytest.mark.django_db

NUMBER = "+919812345678"


@pytest.fixture
def provider(db) -> Provider:
    return Provider.objects.create(name="Memory", gateway="memory", priority=1)


def make(provider, status=Status.DELIVERED, n=1, *, days=10, **fields) -> list[Message]:
    """``n`` messages to NUMBER in ``status``, created ``days`` ago, each with an event."""
    defaults = dict(
        recipient=NUMBER,
        country="IN",
        provider=provider,
        status=status,
        body="Your ticket #12 is solved",
        parts=1,
        cost=Decimal("0.25"),
        currency="INR",
        gateway_options={"dlt_template_id": "123"},
    )
    rows = Message.objects.bulk_create(Message(**{**defaults, **fields}) for _ in range(n))
    pks = [m.pk for m in rows]
    Message.objects.filter(pk__in=pks).update(created_at=timezone.now() - timedelta(days=days))
    MessageEvent.objects.bulk_create(
        MessageEvent(
            message_id=pk,
            to_status=status,
            source=Source.SEND,
            note=f"submitted to {NUMBER}",
            data={"to": NUMBER},
        )
        for pk in pks
    )
    return [Message.objects.get(pk=pk) for pk in pks]


def figures() -> tuple:
    """What the dashboard shows for the last 30 days."""
    window = Window.of(PERIODS["30d"])
    tally = queries.tally(window)
    names = queries.provider_names()
    return (
        sorted(tally.rows, key=repr),
        queries.failures(window),
        queries.spend(window, tally, names),
        queries.attention(timezone.now()),
    )


def test_old_final_messages_lose_their_text_and_number(provider):
    [old] = make(provider, error_text=f"rejected: {NUMBER} is barred")

    report = retention.purge(7)

    old.refresh_from_db()
    assert report.counts["messages"] == 1
    assert (old.recipient, old.body, old.gateway_options) == ("", retention.MARKER, {})
    assert old.error_text == "rejected: [number] is barred"
    assert old.purged_at is not None


def test_purge_keeps_state_parts_cost_provider_country_and_times(provider):
    [old] = make(provider)
    created = old.created_at

    retention.purge(7)

    old.refresh_from_db()
    assert (old.status, old.parts, old.cost, old.currency) == (
        Status.DELIVERED,
        1,
        Decimal("0.25"),
        "INR",
    )
    assert (old.provider, old.country, old.created_at) == (provider, "IN", created)


def test_the_events_of_a_purged_message_lose_their_data_and_the_number_in_notes(provider):
    [old] = make(provider)

    retention.purge(7)

    event = old.events.get()
    assert (event.note, event.data, event.to_status) == (
        "submitted to [number]",
        {},
        Status.DELIVERED,
    )


def test_messages_newer_than_the_limit_are_untouched(provider):
    [new] = make(provider, days=3)

    report = retention.purge(7)

    new.refresh_from_db()
    assert (new.recipient, new.body, new.purged_at) == (NUMBER, "Your ticket #12 is solved", None)
    assert report.total == 0


@pytest.mark.parametrize(
    "status", [Status.SCHEDULED, Status.QUEUED, Status.SENDING, Status.ACCEPTED, Status.UNKNOWN]
)
def test_messages_not_in_a_final_state_are_not_purged(provider, status):
    [waiting] = make(provider, status=status)

    retention.purge(7)

    waiting.refresh_from_db()
    assert (waiting.recipient, waiting.purged_at) == (NUMBER, None)


def test_purge_works_in_batches_until_all_are_done(provider):
    make(provider, n=5)

    report = retention.purge(7, batch_size=2)

    assert report.batches == 3
    assert report.counts["messages"] == 5
    assert not Message.objects.exclude(recipient="").exists()


def test_a_second_purge_finds_nothing_left(provider):
    make(provider, n=2)
    retention.purge(7)

    assert retention.purge(7).total == 0


def test_dashboard_figures_are_unchanged_by_the_purge(provider):
    make(provider, n=3, days=10)
    make(provider, status=Status.FAILED, n=2, days=12, error_category="rejected", error_text="x")
    make(provider, status=Status.QUEUED, days=9)
    make(provider, n=2, days=1)
    before = figures()

    retention.purge(7)

    assert figures() == before


def test_a_dry_run_counts_and_writes_nothing(provider):
    make(provider, n=3)

    report = retention.purge(7, dry_run=True)

    assert report.counts["messages"] == 3
    assert not Message.objects.filter(recipient="").exists()
    assert "messages: would erase 3" in report.lines()


def test_old_inbound_texts_and_numbers_are_purged(provider):
    stored = receive(provider, {"from": NUMBER, "to": "HELPDK", "text": "My address is…"}).message
    InboundMessage.objects.filter(pk=stored.pk).update(
        created_at=timezone.now() - timedelta(days=10)
    )

    retention.purge(7)

    stored.refresh_from_db()
    assert (stored.sender, stored.text, stored.raw) == ("", retention.MARKER, {})
    assert stored.action and stored.received_at and stored.purged_at


def test_old_gateway_exchanges_lose_their_raw_request_and_answer(provider):
    old = GatewayExchange.objects.create(
        provider=provider,
        started_at=timezone.now() - timedelta(days=10),
        numbers=2,
        request={"to": NUMBER, "text": "hello"},
        response={"ok": True},
    )
    new = GatewayExchange.objects.create(
        provider=provider, started_at=timezone.now(), request={"to": NUMBER}
    )

    retention.purge(7)

    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.request, old.response, old.numbers) == ({}, None, 2)
    assert new.request == {"to": NUMBER}


def test_the_periodic_job_follows_the_retention_setting(provider, settings):
    make(provider, days=40)
    assert retention.purge_configured() is None  # None: keep forever

    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "RETENTION": 30}
    from helpdesk_sms.tasks import purge

    assert purge() == {"messages": 1, "inbound messages": 0, "gateway exchanges": 0}


def test_the_command_prints_the_counts(provider, capsys):
    make(provider, n=2)

    call_command("sms_purge", "--older-than", "7", "--batch-size", "1")

    assert "messages: erased 2" in capsys.readouterr().out


def test_a_waiting_message_among_old_ones_does_not_stop_the_batches(provider):
    make(provider)
    make(provider, status=Status.QUEUED)
    make(provider)

    retention.purge(7, batch_size=1)

    assert [m.purged_at is not None for m in Message.objects.order_by("pk")] == [True, False, True]


def test_a_purged_suppressed_message_cannot_be_resent(provider):
    from helpdesk_sms.resend import ResendRefused, resend

    [old] = make(provider, Status.SUPPRESSED)
    retention.purge(7)
    old.refresh_from_db()

    with pytest.raises(ResendRefused, match="erased \\(retention\\)"):
        resend(old, to=NUMBER)
    assert Message.objects.count() == 1


def test_a_purged_failed_group_message_is_not_retried(provider):
    from helpdesk_sms import outbox
    from helpdesk_sms.models import RecipientGroup

    group = RecipientGroup.objects.create(name="Field team")
    [old] = make(provider, Status.FAILED, recipient="", group=group)
    retention.purge(7)
    old.refresh_from_db()

    assert outbox.retry(old) is False
    old.refresh_from_db()
    assert (old.status, old.body) == (Status.FAILED, retention.MARKER)
