"""Failover: a message a provider provably did not take goes to the route's next provider,
once; after an ambiguous outcome it never does.

Two real simulators over sockets: Unified first on the India route, Canlog second.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from helpdesk_sms import outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.models import MessageEvent, Provider, ProviderHealth, Route, RouteHop
from helpdesk_sms.states import Status

pytestmark = pytest.mark.django_db

IN = "+919812345678"


@pytest.fixture
def india(unified_provider: Provider, canlog_provider: Provider) -> Route:
    """India: Unified first, Canlog second."""
    route = Route.objects.create(name="India", country="IN")
    RouteHop.objects.create(route=route, provider=unified_provider, position=1)
    RouteHop.objects.create(route=route, provider=canlog_provider, position=2)
    return route


def sent_to(sim, number: str = IN) -> int:
    """How many messages the simulator took for ``number``."""
    digits = number.lstrip("+")
    return sum(1 for m in sim.messages if digits in str(m.number))


def test_failover_after_insufficient_credit_reaches_the_second_provider_once(
    india, unified_sim, canlog_sim, canlog_provider
):
    unified_sim.set_faults(credit_exhausted=True)
    [message] = send_sms(IN, "Your ticket #42 is open")

    outbox.dispatch()
    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.provider) == (Status.ACCEPTED, canlog_provider)
    assert (sent_to(unified_sim), sent_to(canlog_sim)) == (0, 1)


def test_the_timeline_names_the_hop_and_its_reason(india, unified_sim, unified_provider):
    unified_sim.set_faults(credit_exhausted=True)
    [message] = send_sms(IN, "Your ticket #42 is open")

    outbox.dispatch()

    hop = MessageEvent.objects.get(message=message, data__failover__isnull=False)
    assert "insufficient_credit" in hop.note and "route 'India': Canlog test" in hop.note
    assert hop.data["failover"]["from"] == unified_provider.name
    assert hop.exchange is not None  # the refusing request and answer, stored once


def test_a_failed_over_message_remembers_the_provider_that_refused_it(
    india, unified_sim, unified_provider
):
    unified_sim.set_faults(credit_exhausted=True)
    [message] = send_sms(IN, "Your ticket #42 is open")

    outbox.dispatch()

    message.refresh_from_db()
    assert message.providers_tried == [unified_provider.pk]


def test_no_failover_after_a_read_timeout(india, unified_sim, canlog_sim, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "READ_TIMEOUT": 0.3}
    unified_sim.set_faults(read_timeout=1.0)
    [message] = send_sms(IN, "Your ticket #42 is open")

    outbox.dispatch()
    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.UNKNOWN
    assert sent_to(canlog_sim) == 0


def test_no_failover_for_a_number_the_gateway_refused(india, unified_sim, canlog_sim):
    unified_sim.set_faults(reject_numbers=[IN.lstrip("+")])
    [message] = send_sms(IN, "Your ticket #42 is open")

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert len(canlog_sim.requests) == 0


def test_failover_after_a_refused_connection(india, unified_sim, canlog_sim, canlog_provider):
    unified_sim.stop()
    [message] = send_sms(IN, "Your ticket #42 is open")

    outbox.dispatch()
    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.provider) == (Status.ACCEPTED, canlog_provider)


def test_failover_prices_the_message_at_the_next_providers_rate(
    india, unified_sim, unified_provider, canlog_provider
):
    Provider.objects.filter(pk=unified_provider.pk).update(
        price_per_part=Decimal("0.10"), currency="INR"
    )
    Provider.objects.filter(pk=canlog_provider.pk).update(
        price_per_part=Decimal("0.25"), currency="INR"
    )
    unified_sim.set_faults(credit_exhausted=True)
    [message] = send_sms(IN, "Your ticket #42 is open")
    assert message.estimated_cost == Decimal("0.10")

    outbox.dispatch()
    outbox.dispatch()

    message.refresh_from_db()
    assert (message.estimated_cost, message.cost) == (Decimal("0.25"), Decimal("0.25"))


def test_failover_skips_a_provider_not_allowed_to_text_the_number(
    india, unified_sim, canlog_sim, canlog_provider
):
    Provider.objects.filter(pk=canlog_provider.pk).update(allowed_countries="NG")
    unified_sim.set_faults(credit_exhausted=True)
    [message] = send_sms(IN, "Your ticket #42 is open")

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert "no failover: Canlog test cannot take it" in message.events.last().note
    assert len(canlog_sim.requests) == 0


def test_when_every_provider_refused_the_message_fails_once_each(india, unified_sim, canlog_sim):
    unified_sim.set_faults(credit_exhausted=True)
    canlog_sim.set_faults(credit_exhausted=True)
    [message] = send_sms(IN, "Your ticket #42 is open")

    for _ in range(3):
        outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert (len(unified_sim.requests), len(canlog_sim.requests)) == (1, 1)


def test_a_named_provider_never_fails_over(india, unified_sim, canlog_sim, unified_provider):
    unified_sim.set_faults(credit_exhausted=True)
    [message] = send_sms(IN, "Your ticket #42 is open", provider=unified_provider)

    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.provider) == (Status.FAILED, unified_provider)
    assert len(canlog_sim.requests) == 0


# -- the circuit breaker in the outbox ---------------------------------------------------


def open_circuit(provider: Provider, settings) -> None:
    """``provider``'s circuit opened by one provable failure (threshold 1)."""
    from helpdesk_sms import health
    from helpdesk_sms.gateways.base import ErrorCategory

    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "CIRCUIT_FAILURES": 1}
    health.record_failure(provider, ErrorCategory.INSUFFICIENT_CREDIT, "no credit")


def test_an_open_circuit_sends_the_next_message_to_the_next_provider_without_trying_the_first(
    india, unified_sim, canlog_sim, unified_provider, canlog_provider, settings
):
    open_circuit(unified_provider, settings)
    [message] = send_sms(IN, "Your ticket #42 is open")

    outbox.dispatch()
    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.provider) == (Status.ACCEPTED, canlog_provider)
    assert len(unified_sim.requests) == 0


def test_repeated_provable_failures_open_the_circuit_for_the_next_messages(
    india, unified_sim, canlog_sim, unified_provider, settings
):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "CIRCUIT_FAILURES": 2}
    unified_sim.set_faults(credit_exhausted=True)
    for n in range(2):
        send_sms(IN, f"Ticket #{n} is open")
        outbox.dispatch()
    requests_before = len(unified_sim.requests)

    send_sms(IN, "Ticket #3 is open")
    outbox.dispatch()

    assert ProviderHealth.objects.get(provider=unified_provider).state == "open"
    assert len(unified_sim.requests) == requests_before


def test_a_message_with_no_other_provider_waits_while_the_circuit_is_open(
    unified_sim, unified_provider, settings
):
    open_circuit(unified_provider, settings)
    [message] = send_sms(IN, "Your ticket #42 is open", provider=unified_provider)

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.QUEUED
    circuit = ProviderHealth.objects.get(provider=unified_provider)
    assert message.next_attempt_at == circuit.retry_at
    assert (message.attempts, len(unified_sim.requests)) == (0, 0)
    assert "circuit is open" in message.events.last().note


def test_after_the_cool_down_a_probe_that_succeeds_closes_the_circuit(
    unified_sim, unified_provider, settings
):
    from datetime import timedelta

    from django.utils import timezone

    open_circuit(unified_provider, settings)
    [message] = send_sms(IN, "Your ticket #42 is open", provider=unified_provider)
    outbox.dispatch()  # waits for the circuit
    # The cool-down is over (the circuit's time moved, as the clock would have).
    ProviderHealth.objects.filter(provider=unified_provider).update(retry_at=timezone.now())

    outbox.dispatch(now=timezone.now() + timedelta(seconds=61))

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert ProviderHealth.objects.get(provider=unified_provider).state == "closed"


def test_a_healthy_providers_requests_cost_the_breaker_one_query_a_pass(
    unified_sim, unified_provider
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    send_sms(IN, "Your ticket #42 is open", provider=unified_provider)
    with CaptureQueriesContext(connection) as queries:
        outbox.dispatch()

    assert not [q for q in queries.captured_queries if "providerhealth" in q["sql"].lower()][1:]


def test_one_refused_request_moves_each_message_with_its_own_history(db):
    """Messages of one request that had different providers behind them each keep theirs:
    the per-message values of one UPDATE (JSON lists on PostgreSQL too)."""
    from helpdesk_sms.gateways.base import ErrorCategory, GatewayError
    from helpdesk_sms.gateways.memory import MemoryGateway
    from helpdesk_sms.models import Message, SenderID

    providers = []
    for name in ("First", "Second", "Third"):
        made = Provider.objects.create(name=name, gateway="memory")
        made.default_sender = SenderID.objects.create(provider=made, value=name.upper())
        made.save()
        providers.append(made)
    first, second, third = providers
    route = Route.objects.create(name="India", country="IN")
    for position, provider in enumerate(providers, 1):
        RouteHop.objects.create(route=route, provider=provider, position=position)
    fresh, returned = send_sms([IN, "+919812345679"], "Maintenance tonight")
    Message.objects.filter(pk=returned.pk).update(providers_tried=[third.pk])
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.INSUFFICIENT_CREDIT, "no credit"))

    outbox.dispatch(limit=2)

    fresh.refresh_from_db()
    returned.refresh_from_db()
    assert (fresh.provider, fresh.providers_tried) == (second, [first.pk])
    assert (returned.provider, returned.providers_tried) == (second, [third.pk, first.pk])


def test_two_open_circuits_on_a_route_make_its_messages_wait_not_bounce(
    india, unified_sim, canlog_sim, unified_provider, canlog_provider, settings
):
    open_circuit(unified_provider, settings)
    open_circuit(canlog_provider, settings)
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "BATCH_SIZE": 1}
    [message] = send_sms(IN, "Your ticket #42 is open")

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.QUEUED and message.next_attempt_at > message.created_at
    assert message.events.count() == 3  # created, claimed, put back to wait: once
    assert (len(unified_sim.requests), len(canlog_sim.requests)) == (0, 0)


def test_a_half_open_circuit_probing_elsewhere_makes_its_messages_wait_for_the_probe(
    unified_sim, unified_provider, settings
):
    from django.utils import timezone

    open_circuit(unified_provider, settings)
    ProviderHealth.objects.filter(provider=unified_provider).update(
        state="half_open",
        probe_started_at=timezone.now(),  # another worker's probe
    )
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "BATCH_SIZE": 1}
    [message] = send_sms(IN, "Your ticket #42 is open", provider=unified_provider)

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.next_attempt_at > timezone.now()
    assert message.events.count() == 3


def test_a_next_provider_that_cannot_even_be_loaded_still_lets_the_answer_be_written(
    india, unified_sim, canlog_provider
):
    Provider.objects.filter(pk=canlog_provider.pk).update(gateway="retired")
    unified_sim.set_faults(credit_exhausted=True)
    [message] = send_sms(IN, "Your ticket #42 is open")

    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.error_category) == (Status.FAILED, "insufficient_credit")
    assert "no failover: an internal error" in message.events.last().note


def test_a_message_held_for_its_send_time_fails_over_still_held(
    india, unified_sim, canlog_sim, unified_provider, canlog_provider
):
    from datetime import timedelta

    from django.utils import timezone

    Provider.objects.filter(pk=unified_provider.pk).update(options={"scheduling": "gateway"})
    Provider.objects.filter(pk=canlog_provider.pk).update(
        options={**canlog_provider.options, "scheduling": "local"}
    )
    unified_sim.set_faults(credit_exhausted=True)
    tomorrow = timezone.now() + timedelta(days=1)
    [message] = send_sms(IN, "Maintenance tomorrow", send_at=tomorrow)

    outbox.dispatch()
    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.provider) == (Status.QUEUED, canlog_provider)
    assert message.next_attempt_at == tomorrow
    assert len(canlog_sim.requests) == 0
