"""India's DLT end to end: refused before queueing when the text is not the registered one,
sent with its template id and entity id (PE ID) over real sockets when it is."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from helpdesk_sms import consent, outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.dlt import DltMismatch
from helpdesk_sms.exceptions import SmsInputError
from helpdesk_sms.models import (
    Contact,
    Message,
    MessageEvent,
    NotificationTemplate,
    RecipientGroup,
    Route,
    RouteHop,
    SenderID,
)
from helpdesk_sms.resend import ResendRefused, resend
from helpdesk_sms.states import Status
from project.demo.models import Ticket

from .test_commands import refused, run

pytestmark = pytest.mark.django_db

NUMBER = "+919812345678"
PATTERN = "Your OTP is {#var#}. Do not share it. -HLPDSK"
TEXT = "Your OTP is 4821. Do not share it. -HLPDSK"
#: Every gateway whose panels take DLT ids: (provider fixture, simulator fixture).
DLT_GATEWAYS = [("canlog_provider", "canlog_sim"), ("unified_provider", "unified_sim")]


@pytest.fixture(params=DLT_GATEWAYS, ids=lambda p: p[0].split("_")[0])
def dlt_gateway(request):
    """(provider, simulator) of each DLT gateway in turn."""
    provider_name, sim_name = request.param
    return request.getfixturevalue(provider_name), request.getfixturevalue(sim_name)


def dispatched(provider, sim):
    """Run one outbox pass; return the simulator's record of the one message it took."""
    outbox.dispatch()
    [taken] = sim.messages
    return taken


# -- refused before queueing -------------------------------------------------------------


def test_send_sms_refuses_a_text_unlike_its_registered_pattern_and_writes_nothing(
    memory_provider,
):
    with pytest.raises(DltMismatch) as caught:
        send_sms(
            NUMBER,
            "Your OTP is 4821. Never share it. -HLPDSK",
            registered_template_id="1107161234567890123",
            registered_pattern=PATTERN,
        )

    assert caught.value.field == "text"
    assert "at character 19" in str(caught.value)
    assert "'Do not share it. -HLPDSK'" in str(caught.value)
    assert "'Never share it. -HLPDSK'" in str(caught.value)
    assert not Message.objects.exists()
    assert not MessageEvent.objects.exists()


def test_a_notification_unlike_its_registered_pattern_is_suppressed_and_the_ticket_saved(
    memory_provider,
):
    template = NotificationTemplate.objects.get(event="ticket_created", audience="customer")
    template.registered_template_id = "1107161234567890123"
    template.registered_pattern = "We received your request #{#var#}. -HLPDSK"
    template.save()

    ticket = Ticket.objects.create(title="Printer", customer_name="Ravi", customer_phone=NUMBER)

    assert Ticket.objects.filter(pk=ticket.pk).exists()
    [message] = Message.objects.all()
    assert message.status == Status.SUPPRESSED
    assert message.error_category == "content_rejected"
    assert "does not match its registered DLT template at character" in message.error_text


def test_a_notification_that_fits_its_pattern_is_queued_with_the_templates_ids(
    memory_provider,
):
    template = NotificationTemplate.objects.get(event="ticket_created", audience="customer")
    template.body = "Ticket {{ ticket.id }} received. -HLPDSK"
    template.registered_template_id = "1107161234567890123"
    template.registered_entity_id = "1201159876543210987"
    template.registered_pattern = "Ticket {#var#} received. -HLPDSK"
    template.save()

    Ticket.objects.create(title="Printer", customer_name="Ravi", customer_phone=NUMBER)

    [message] = Message.objects.all()
    assert message.status == Status.QUEUED
    assert (message.registered_template_id, message.registered_entity_id) == (
        "1107161234567890123",
        "1201159876543210987",
    )


# -- sent with both ids -------------------------------------------------------------------


def test_a_matching_text_reaches_the_gateway_with_both_ids(dlt_gateway):
    provider, sim = dlt_gateway

    [message] = send_sms(
        NUMBER,
        TEXT,
        provider=provider,
        registered_template_id="1107161234567890123",
        registered_entity_id="1201159876543210987",
        registered_pattern=PATTERN,
    )
    taken = dispatched(provider, sim)

    assert (taken.template_id, taken.entity_id) == ("1107161234567890123", "1201159876543210987")
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED


def test_the_parameter_names_are_the_providers_when_it_names_them(dlt_gateway):
    provider, sim = dlt_gateway
    provider.options = {**provider.options, "dlt_template_param": "templateid"}
    provider.options["dlt_entity_param"] = "pe_id"
    provider.full_clean()
    provider.save()
    sim.dlt_params = ("templateid", "pe_id")

    send_sms(
        NUMBER,
        TEXT,
        provider=provider,
        registered_template_id="11071",
        registered_entity_id="12011",
    )
    taken = dispatched(provider, sim)

    assert (taken.template_id, taken.entity_id) == ("11071", "12011")


def test_the_senders_ids_go_when_the_call_names_none(dlt_gateway):
    provider, sim = dlt_gateway
    sender = provider.default_sender
    sender.registered_template_id, sender.registered_entity_id = "2207", "2201"
    sender.save()

    send_sms(NUMBER, TEXT, provider=provider)
    taken = dispatched(provider, sim)

    assert (taken.template_id, taken.entity_id) == ("2207", "2201")


def test_a_gateway_refusing_the_template_fails_the_message_as_content_rejected(dlt_gateway):
    provider, sim = dlt_gateway
    sim.dlt_templates = {"1107000000000000001"}

    [message] = send_sms(NUMBER, TEXT, provider=provider, registered_template_id="1107999")
    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.FAILED  # final: never retried nor failed over
    assert message.error_category == "content_rejected"
    assert message.next_attempt_at is None
    assert not sim.messages


def test_a_resent_message_reaches_the_gateway_with_its_ids_again(dlt_gateway):
    provider, sim = dlt_gateway
    consent.opt_out(NUMBER)
    [original] = send_sms(
        NUMBER, TEXT, provider=provider, registered_template_id="1107", registered_entity_id="1201"
    )
    consent.opt_in(NUMBER)

    resend(original, to=NUMBER)
    taken = dispatched(provider, sim)

    assert original.status == Status.SUPPRESSED
    assert (taken.template_id, taken.entity_id) == ("1107", "1201")


def test_a_notification_suppressed_for_its_text_is_not_resent_unchanged(memory_provider):
    template = NotificationTemplate.objects.get(event="ticket_created", audience="customer")
    template.registered_template_id = "1107161234567890123"
    template.registered_pattern = "We received your request #{#var#}. -HLPDSK"
    template.save()
    Ticket.objects.create(title="Printer", customer_name="Ravi", customer_phone=NUMBER)
    original = Message.objects.get()

    with pytest.raises(ResendRefused, match="registered DLT template"):
        resend(original)

    assert Message.objects.count() == 1


@pytest.fixture
def india(unified_provider, canlog_provider):
    """India: Unified first, Canlog second."""
    route = Route.objects.create(name="India", country="IN")
    RouteHop.objects.create(route=route, provider=unified_provider, position=1)
    RouteHop.objects.create(route=route, provider=canlog_provider, position=2)
    return route


def test_a_failed_over_message_takes_its_ids_to_the_next_provider(india, unified_sim, canlog_sim):
    unified_sim.set_faults(credit_exhausted=True)
    send_sms(NUMBER, TEXT, registered_template_id="1107", registered_entity_id="1201")

    outbox.dispatch()
    outbox.dispatch()

    [taken] = canlog_sim.messages
    assert (taken.template_id, taken.entity_id) == ("1107", "1201")


def test_a_template_refusal_is_not_failed_over(india, unified_sim, canlog_sim):
    unified_sim.dlt_templates = {"1107000000000000001"}
    [message] = send_sms(NUMBER, TEXT, registered_template_id="1107999")

    outbox.dispatch()
    outbox.dispatch()

    message.refresh_from_db()
    assert (message.status, message.error_category) == (Status.FAILED, "content_rejected")
    assert not canlog_sim.messages


# -- resolution order ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"registered_template_id": "T1", "registered_entity_id": "E1"}, ("T1", "E1")),
        ({}, ("T2", "E2")),  # the sender's
        ({"registered_template_id": "T1"}, ("T1", "E2")),  # each id on its own
    ],
)
def test_the_calls_ids_win_over_the_senders(memory_provider, given, expected):
    SenderID.objects.filter(pk=memory_provider.default_sender_id).update(
        registered_template_id="T2", registered_entity_id="E2"
    )

    [message] = send_sms(NUMBER, "Hi", **given)

    assert (message.registered_template_id, message.registered_entity_id) == expected


def test_a_sender_named_by_its_value_gives_its_ids(memory_provider):
    SenderID.objects.create(
        provider=memory_provider,
        value="OTHER",
        registered_template_id="T4",
        registered_entity_id="E4",
    )

    [message] = send_sms(NUMBER, "Hi", sender="OTHER")

    assert (message.registered_template_id, message.registered_entity_id) == ("T4", "E4")


def test_the_providers_options_come_last(memory_provider):
    memory_provider.options = {"dlt_template_id": "T3", "dlt_entity_id": "E3"}
    memory_provider.save()

    [message] = send_sms(NUMBER, "Hi")

    assert (message.registered_template_id, message.registered_entity_id) == ("T3", "E3")


def test_an_entity_id_without_a_template_id_is_not_recorded(memory_provider):
    [message] = send_sms(NUMBER, "Hi", registered_entity_id="E1")

    assert (message.registered_template_id, message.registered_entity_id) == ("", "")


# -- validation naming the field ----------------------------------------------------------


@pytest.mark.parametrize("value", ["text", "a b", ""])
def test_a_dlt_parameter_name_that_cannot_be_sent_is_refused_on_save(canlog_provider, value):
    canlog_provider.options = {**canlog_provider.options, "dlt_template_param": value}

    with pytest.raises(ValidationError) as caught:
        canlog_provider.full_clean()

    assert "dlt_template_param" in " ".join(caught.value.message_dict["options"])


@pytest.mark.parametrize(
    ("template_id", "pattern", "field", "words"),
    [
        ("1107", "Ticket {#id#} received", "registered_pattern", "{#var#}"),  # misspelt
        ("", "Ticket {#var#} received", "registered_template_id", "template id"),
    ],
    ids=["misspelt-variable", "no-template-id"],
)
def test_a_template_pattern_is_checked_on_save(memory_provider, template_id, pattern, field, words):
    template = NotificationTemplate.objects.get(event="ticket_created", audience="customer")
    template.registered_template_id = template_id
    template.registered_pattern = pattern

    with pytest.raises(ValidationError) as caught:
        template.full_clean()

    assert words in " ".join(caught.value.message_dict[field])


def test_send_sms_refuses_a_template_id_that_is_not_text(memory_provider):
    with pytest.raises(SmsInputError) as caught:
        send_sms(NUMBER, "Hi", registered_template_id=1107)

    assert caught.value.field == "registered_template_id"
    assert not Message.objects.exists()


# -- the admin's test form and sms_send -----------------------------------------------------


def post_test_sms(admin_client, provider, **fields):
    return admin_client.post(
        reverse("admin:helpdesk_sms_provider_changelist"),
        {
            "action": "send_test_sms",
            "_selected_action": [provider.pk],
            "apply": "Send",
            "to": NUMBER,
            "sender": "",
            **fields,
        },
    )


def test_the_admin_test_form_refuses_a_text_unlike_its_pattern_on_the_text_field(
    admin_client, memory_provider
):
    response = post_test_sms(
        admin_client,
        memory_provider,
        text="Your OTP is 4821. -HLPDSK",
        registered_template_id="1107",
        registered_pattern=PATTERN,
    )

    assert response.status_code == 200
    assert "registered DLT template" in " ".join(response.context["form"].errors["text"])
    assert not Message.objects.exists()


def test_the_admin_test_form_queues_with_both_ids(admin_client, memory_provider):
    post_test_sms(
        admin_client,
        memory_provider,
        text=TEXT,
        registered_template_id="1107",
        registered_entity_id="1201",
        registered_pattern=PATTERN,
    )

    message = Message.objects.get()
    assert (message.registered_template_id, message.registered_entity_id) == ("1107", "1201")


def test_sms_send_records_both_ids(memory_provider):
    run(
        "sms_send",
        *("--to", NUMBER, "--text", TEXT),
        *("--dlt-template-id", "1107", "--dlt-entity-id", "1201", "--dlt-pattern", PATTERN),
    )

    message = Message.objects.get()
    assert (message.registered_template_id, message.registered_entity_id) == ("1107", "1201")


def test_sms_send_refuses_a_text_unlike_its_pattern_naming_the_text_option(memory_provider):
    error = refused(
        "sms_send",
        *("--to", NUMBER, "--text", "Your OTP is 4821."),
        *("--dlt-template-id", "1107", "--dlt-pattern", PATTERN),
    )

    assert error.returncode == 2
    assert str(error).startswith("--text: ")
    assert "registered DLT template" in str(error)
    assert not Message.objects.exists()


def test_a_group_send_from_a_template_unlike_its_pattern_is_refused_on_the_template(
    admin_client, memory_provider
):
    group = RecipientGroup.objects.create(name="Floor 3")
    group.members.add(Contact.objects.create(name="Asha", phone=NUMBER))
    template = NotificationTemplate.objects.create(
        name="Closure",
        event="manual",
        audience="customer",
        body="Hi {{ recipient_name }}!",
        registered_template_id="1107",
        registered_pattern="Hello {#var#}!",
    )

    response = admin_client.post(
        reverse("admin:helpdesk_sms_recipientgroup_send", args=[group.pk]),
        {"_preview": "1", "template": template.pk},
    )

    [error] = response.context["form"].errors["template"]
    assert "Rendered for Asha: The text does not match its registered DLT template" in error
    assert not Message.objects.exists()


def test_messages_with_different_entity_ids_go_in_separate_requests(dlt_gateway):
    provider, sim = dlt_gateway
    for entity in ("1201159876543210987", "1201150000000000001"):
        send_sms(
            [NUMBER, "+919812345679"],
            TEXT,
            provider=provider,
            registered_template_id="1107161234567890123",
            registered_entity_id=entity,
        )

    outbox.dispatch()

    assert sorted((m.entity_id, m.number[-10:]) for m in sim.messages) == [
        ("1201150000000000001", "9812345678"),
        ("1201150000000000001", "9812345679"),
        ("1201159876543210987", "9812345678"),
        ("1201159876543210987", "9812345679"),
    ]
