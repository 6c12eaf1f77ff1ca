"""Delivery reports are applied set-wise: a whole reply in a few queries, forward-only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk_sms import outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.gateways.base import DeliveryReport, DeliveryStatus
from helpdesk_sms.models import Message
from helpdesk_sms.reports import apply_reports
from helpdesk_sms.states import Source, Status

pytestmark = pytest.mark.django_db


def accepted(count: int, text: str) -> list[Message]:
    send_sms([f"+91981234{n:04}" for n in range(count)], text)
    outbox.dispatch()
    return list(Message.objects.filter(body=text, status=Status.ACCEPTED))


def delivered_reports(messages: list[Message]) -> list[DeliveryReport]:
    return [DeliveryReport(m.provider_message_id, DeliveryStatus.DELIVERED) for m in messages]


def queries_to_apply(provider, reports: list[DeliveryReport]) -> int:
    with CaptureQueriesContext(connection) as queries:
        apply_reports(provider, reports, source=Source.POLL)
    return len(queries)


def test_a_reply_of_many_reports_costs_about_as_many_queries_as_a_reply_of_few(
    memory_provider,
):
    few = accepted(5, "few")
    many = accepted(120, "many")

    few_queries = queries_to_apply(memory_provider, delivered_reports(few))
    many_queries = queries_to_apply(memory_provider, delivered_reports(many))

    # Not one per message: at most the database's own batching of big statements (SQLite).
    assert many_queries <= few_queries + 2
    assert set(Message.objects.values_list("status", flat=True)) == {Status.DELIVERED}


def test_two_reports_for_one_message_in_one_reply_end_in_the_later_state(memory_provider):
    [message] = accepted(1, "one")
    reports = [
        DeliveryReport(message.provider_message_id, DeliveryStatus.ACCEPTED),
        DeliveryReport(message.provider_message_id, DeliveryStatus.DELIVERED),
    ]

    apply_reports(memory_provider, reports, source=Source.POLL)

    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_a_final_state_is_never_overwritten_by_a_later_report(memory_provider):
    [message] = accepted(1, "one")
    apply_reports(memory_provider, delivered_reports([message]), source=Source.POLL)

    moved = apply_reports(
        memory_provider,
        [DeliveryReport(message.provider_message_id, DeliveryStatus.UNDELIVERED)],
        source=Source.WEBHOOK,
    )

    message.refresh_from_db()
    assert (moved, message.status) == (0, Status.DELIVERED)
    assert message.events.last().note == "delivery report: undelivered (kept delivered)"


def test_a_report_resolves_a_message_recorded_unknown(memory_provider):
    [message] = accepted(1, "one")
    Message.objects.filter(pk=message.pk).update(status=Status.UNKNOWN)

    apply_reports(memory_provider, delivered_reports([message]), source=Source.POLL)

    message.refresh_from_db()
    assert message.status == Status.DELIVERED
