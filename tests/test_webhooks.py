"""Delivery reports pushed to /sms/callback/<provider>/<secret>/."""

from __future__ import annotations

import logging

import pytest
from django.core import checks
from django.urls import reverse

from helpdesk_sms import outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.models import MessageEvent
from helpdesk_sms.states import Status

pytestmark = pytest.mark.django_db

SECRET = "s3cret-callback-value"


@pytest.fixture
def provider(memory_provider):
    memory_provider.callback_secrets = f"{SECRET}\nold-secret-still-accepted"
    memory_provider.save()
    return memory_provider


@pytest.fixture
def accepted(provider):
    [message] = send_sms("+919812345678", "Hello")
    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    return message


def push(client, provider, secret=SECRET, **data):
    url = reverse("helpdesk_sms:callback", kwargs={"provider_id": provider.pk, "secret": secret})
    return client.post(url, data)


def test_a_pushed_report_moves_the_message_to_delivered(client, provider, accepted):
    response = push(client, provider, id=accepted.provider_message_id, status="delivered")

    accepted.refresh_from_db()
    assert response.status_code == 200
    assert accepted.status == Status.DELIVERED
    assert accepted.events.last().source == "webhook"


def test_reports_are_taken_by_get_too(client, provider, accepted):
    url = reverse("helpdesk_sms:callback", kwargs={"provider_id": provider.pk, "secret": SECRET})

    response = client.get(url, {"id": accepted.provider_message_id, "status": "delivered"})

    accepted.refresh_from_db()
    assert (response.status_code, accepted.status) == (200, Status.DELIVERED)


def test_a_previous_secret_is_still_accepted_during_rotation(client, provider, accepted):
    response = push(
        client,
        provider,
        "old-secret-still-accepted",
        id=accepted.provider_message_id,
        status="delivered",
    )

    assert response.status_code == 200


def test_a_wrong_secret_is_refused_and_changes_nothing(client, provider, accepted):
    events_before = MessageEvent.objects.count()

    response = push(client, provider, "guess", id=accepted.provider_message_id, status="delivered")

    accepted.refresh_from_db()
    assert response.status_code == 403
    assert accepted.status == Status.ACCEPTED
    assert MessageEvent.objects.count() == events_before


def test_a_provider_without_secrets_refuses_every_push(client, memory_provider):
    response = push(client, memory_provider, "anything", id="x", status="delivered")

    assert response.status_code == 403


def test_an_unknown_provider_is_refused_like_a_wrong_secret(client, provider):
    url = reverse("helpdesk_sms:callback", kwargs={"provider_id": 9999, "secret": SECRET})

    assert client.post(url, {"id": "x", "status": "delivered"}).status_code == 403


def test_an_unreadable_report_answers_400(client, provider, accepted):
    response = push(client, provider, id=accepted.provider_message_id, status="exploded")

    assert response.status_code == 400


def test_a_late_earlier_report_does_not_overwrite_a_final_state(client, provider, accepted):
    push(client, provider, id=accepted.provider_message_id, status="delivered")

    response = push(client, provider, id=accepted.provider_message_id, status="accepted")

    accepted.refresh_from_db()
    assert response.status_code == 200
    assert accepted.status == Status.DELIVERED


def test_every_pushed_report_is_kept_raw_on_the_timeline(client, provider, accepted):
    push(client, provider, id=accepted.provider_message_id, status="delivered")
    push(client, provider, id=accepted.provider_message_id, status="delivered")

    pushed = accepted.events.filter(source="webhook")
    assert pushed.count() == 2
    assert pushed.last().data["report"]["status"] == "delivered"
    assert "kept delivered" in pushed.last().note


def test_the_callback_secret_never_reaches_the_request_log(client, provider, accepted, caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("django.server").info(
            '"POST /sms/callback/%s/%s/ HTTP/1.1" 200 2', provider.pk, SECRET
        )
        push(client, provider, "wrong-" + SECRET, id="x", status="delivered")

    assert SECRET not in caplog.text
    assert "/sms/callback/" in caplog.text


def test_check_warns_about_a_push_provider_without_a_secret(memory_provider):
    from helpdesk_sms.checks import check_callback_secrets

    warnings = check_callback_secrets()

    assert [w.id for w in warnings] == ["helpdesk_sms.W001"]
    assert isinstance(warnings[0], checks.Warning)
    assert "Memory" in warnings[0].msg


def test_check_is_quiet_when_the_secret_is_set(provider):
    from helpdesk_sms.checks import check_callback_secrets

    assert check_callback_secrets() == []


def test_a_report_naming_our_reference_finds_the_message_without_a_known_id(provider, accepted):
    from helpdesk_sms.gateways.base import DeliveryReport, DeliveryStatus
    from helpdesk_sms.reports import apply_reports

    report = DeliveryReport("an-id-we-never-saw", DeliveryStatus.DELIVERED, ref=accepted.pk)

    assert apply_reports(provider, [report], source="webhook") == 1
    accepted.refresh_from_db()
    assert accepted.status == Status.DELIVERED


def test_a_reference_to_another_providers_message_is_ignored(provider, accepted):
    from helpdesk_sms.gateways.base import DeliveryReport, DeliveryStatus
    from helpdesk_sms.models import Provider
    from helpdesk_sms.reports import apply_reports

    other = Provider.objects.create(name="Other", gateway="memory")
    report = DeliveryReport("x", DeliveryStatus.DELIVERED, ref=accepted.pk)

    assert apply_reports(other, [report], source="webhook") == 0


# -- hostile pushes: refused with a 400 naming the field, nothing written -------------------


def assert_refused_untouched(response, accepted, events_before, field):
    accepted.refresh_from_db()
    assert response.status_code == 400
    assert field in response.content.decode()
    assert accepted.status == Status.ACCEPTED
    assert MessageEvent.objects.count() == events_before


def test_a_nul_in_a_pushed_value_is_refused_naming_the_parameter(client, provider, accepted):
    events_before = MessageEvent.objects.count()

    response = push(client, provider, id=accepted.provider_message_id + "\x00", status="delivered")

    assert_refused_untouched(response, accepted, events_before, "parameter 'id'")


def test_a_control_character_in_a_parameter_name_is_refused(client, provider, accepted):
    events_before = MessageEvent.objects.count()
    data = {"id": accepted.provider_message_id, "status": "delivered", "x\x1b": "1"}

    response = push(client, provider, **data)

    assert_refused_untouched(response, accepted, events_before, "parameter name")


def test_an_over_long_pushed_value_is_refused(client, provider, accepted):
    events_before = MessageEvent.objects.count()

    response = push(client, provider, id="9" * 5000, status="delivered")

    assert_refused_untouched(response, accepted, events_before, "at most 1000")


def test_a_nul_inside_a_json_push_is_refused_naming_the_field(client, unified_provider):
    from tests.fixtures_unified import UNIFIED_CALLBACK_SECRET

    url = reverse(
        "helpdesk_sms:callback",
        kwargs={"provider_id": unified_provider.pk, "secret": UNIFIED_CALLBACK_SECRET},
    )
    body = '{"sMessageId": "abc\\u0000", "sStatus": "DELIVRD", "sMobileNo": "919812345678"}'

    response = client.post(url, body, content_type="application/json")

    assert response.status_code == 400
    assert "provider_message_id" in response.content.decode()
