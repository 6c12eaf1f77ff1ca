"""Bad input at the other public entry points: ``notify``, every sms_* command, admin forms.

``send_sms`` has its own suite (test_send_sms_input.py) and the webhooks theirs
(test_webhooks.py). Here each refusal names the field or option and the rule, comes as an
SmsInputError, a usage error (exit 2) or a form error, never a crash, and writes nothing.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from helpdesk_sms.exceptions import SmsInputError
from helpdesk_sms.models import Message, NotificationTemplate, Provider, SenderID
from helpdesk_sms.notifications import notify
from project.demo.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(memory_provider) -> Ticket:
    ticket = Ticket.objects.create(
        title="Printer jammed", customer_name="Ravi", customer_phone="+919812345678"
    )
    Message.objects.all().delete()  # the creation's own acknowledgement
    return ticket


# -- notify -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "field", "rule"),
    [
        (("ticket_closed", "TICKET"), {}, "event", "must be one of ticket_created"),
        (("ticket_created", None), {}, "ticket", "not NoneType"),
        (("ticket_created", "TICKET"), {"occurrence": 5}, "occurrence", "not int"),
        (("ticket_created", "TICKET"), {"occurrence": "o" * 101}, "occurrence", "at most 100"),
        (("ticket_created", "TICKET"), {"occurrence": "a\x00b"}, "occurrence", "U+0000"),
        (("ticket_created", "TICKET"), {"provider": 2.5}, "provider", "not float"),
        (("ticket_created", "TICKET"), {"provider": "Mem\x00"}, "provider", "control character"),
    ],
)
def test_notify_refuses_bad_arguments_naming_the_field(ticket, args, kwargs, field, rule):
    args = tuple(ticket if a == "TICKET" else a for a in args)

    with pytest.raises(SmsInputError) as caught:
        notify(*args, **kwargs)

    assert caught.value.field == field
    assert rule in str(caught.value)
    assert not Message.objects.exists()


def test_notify_refuses_an_unsaved_ticket():
    with pytest.raises(SmsInputError, match="saved model instance"):
        notify("ticket_created", Ticket(title="Draft"))


# -- every sms_* command --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["sms_send", "--to", "+919812345678", "--text", "hi", "--group", "Ops\x00"], "--group"),
        (["sms_send", "--to", "+9198\udcff", "--text", "hi"], "--to"),
        (["sms_provider", "add", "Bad\x00name", "--gateway", "memory"], "NAME"),
        (["sms_provider", "add", "Fine", "--gateway", "memory", "--url", "http://a\x00"], "--url"),
        (["sms_provider", "check", "x\x00"], "NAME"),
        (["sms_balance", "--provider", "\x1bx"], "--provider"),
    ],
)
def test_commands_refuse_unsendable_text_naming_the_option(memory_provider, args, option):
    with pytest.raises(CommandError) as caught:
        call_command(*args)

    assert caught.value.returncode == 2
    assert str(caught.value).startswith(f"{option}: the value has U+")
    assert Provider.objects.count() == 1 and not Message.objects.exists()


# -- admin forms ----------------------------------------------------------------------------


def test_admin_refuses_a_template_body_with_a_control_character(admin_client):
    response = admin_client.post(
        reverse("admin:helpdesk_sms_notificationtemplate_add"),
        {
            "name": "Bell",
            "event": "ticket_created",
            "audience": "customer",
            "body": "Ticket {{ ticket.id }}\x07 received",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "U+0007" in " ".join(errors["body"])
    assert not NotificationTemplate.objects.filter(name="Bell").exists()


def test_admin_refuses_a_sender_id_with_a_control_character(admin_client, memory_provider):
    response = admin_client.post(
        reverse("admin:helpdesk_sms_senderid_add"),
        {"provider": memory_provider.pk, "value": "HELP\x1bDK", "is_active": "on"},
    )

    assert response.status_code == 200
    assert "U+001B" in " ".join(response.context["adminform"].form.errors["value"])
    assert not SenderID.objects.filter(value__startswith="HELP\x1b").exists()
