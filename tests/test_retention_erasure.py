"""An erasure request removes one number everywhere, whatever the age, while its opt-out
still holds through a keyed hash; and the sms_purge command, the admin and the settings
check around retention."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from helpdesk_sms import consent, retention
from helpdesk_sms.checks import check_settings
from helpdesk_sms.consent_models import ConsentChange, OptOut
from helpdesk_sms.inbound import receive
from helpdesk_sms.inbound_models import InboundMessage
from helpdesk_sms.models import Contact, Message
from helpdesk_sms.states import Status
from project.demo.models import Ticket

from .test_admin import page, url
from .test_retention import NUMBER, make

pytestmark = pytest.mark.django_db

OTHER = "+919812345679"


def everything_about(number: str) -> list[str]:
    """Where the clear number still stands."""
    places = {
        "message": Message.objects.filter(recipient=number),
        "inbound": InboundMessage.objects.filter(sender=number),
        "contact": Contact.objects.filter(phone=number),
        "consent change": ConsentChange.objects.filter(number=number),
        "opt-out": OptOut.objects.filter(number=number),
    }
    return [name for name, rows in places.items() if rows.exists()]


def test_erasure_removes_the_number_everywhere_whatever_the_age(memory_provider):
    make(memory_provider, days=0)
    make(memory_provider, days=400)
    Contact.objects.create(name="Ravi", phone=NUMBER)
    receive(memory_provider, {"from": NUMBER, "to": "HELPDK", "text": "STOP"})

    retention.erase_number(NUMBER)

    assert everything_about(NUMBER) == []
    assert not Message.objects.filter(body__contains="ticket #12").exists()


def test_erasure_leaves_other_numbers_alone(memory_provider):
    make(memory_provider, recipient=OTHER)

    retention.erase_number(NUMBER)

    assert everything_about(OTHER) == ["message"]


def test_messages_still_waiting_for_an_erased_number_are_canceled(memory_provider):
    [waiting] = make(memory_provider, status=Status.QUEUED, days=0)

    retention.erase_number(NUMBER)

    waiting.refresh_from_db()
    assert (waiting.status, waiting.recipient) == (Status.CANCELED, "")


def test_after_erasure_the_opt_out_still_holds(memory_provider):
    consent.handle_keyword(NUMBER, "STOP", memory_provider)
    retention.erase_number(NUMBER)

    Ticket.objects.create(title="Printer jammed", customer_name="Ravi", customer_phone=NUMBER)

    message = Message.objects.filter(recipient=NUMBER).get()
    assert message.status == Status.SUPPRESSED
    assert message.error_category == "opted_out"
    assert OptOut.objects.get().number == consent.pseudonym(NUMBER)


def test_after_erasure_the_number_is_listed_for_every_lookup(memory_provider):
    consent.opt_out(NUMBER)
    retention.erase_number(NUMBER)
    many = [f"+91981234{n:04d}" for n in range(5000, 5700)]  # more than one lookup by name

    assert consent.is_opted_out(NUMBER)
    assert consent.opted_out_numbers([NUMBER, OTHER]) == {NUMBER}
    assert consent.opted_out_numbers(many) == {NUMBER}


def test_after_erasure_the_shared_statement_of_notifications_lists_the_number(memory_provider):
    consent.opt_out(NUMBER)
    retention.erase_number(NUMBER)
    chunk = [NUMBER, OTHER, "+919000000000"]

    rows = consent.listed_rows(chunk, "~listed")

    assert consent.matching([number for number, _kind, _zero in rows], chunk) == {NUMBER}


def test_a_stop_after_erasure_changes_nothing_and_start_lifts_it(memory_provider):
    consent.opt_out(NUMBER)
    retention.erase_number(NUMBER)

    assert consent.opt_out(NUMBER) is False
    assert consent.opt_in(NUMBER) is True
    assert not consent.is_opted_out(NUMBER)


def test_a_number_never_listed_is_not_listed_after_erasure(memory_provider):
    retention.erase_number(NUMBER)

    assert not consent.is_opted_out(NUMBER)
    assert not OptOut.objects.exists()


def test_the_command_erases_a_number(memory_provider, capsys):
    make(memory_provider)

    call_command("sms_purge", "--number", "98123 45678")

    assert "messages: erased 1" in capsys.readouterr().out
    assert everything_about(NUMBER) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--older-than", "soon"], "--older-than"),
        (["--older-than", "-3"], "--older-than"),
        (["--older-than", "7", "--batch-size", "0"], "--batch-size"),
        (["--number", "not a number"], "--number"),
        (["--number", NUMBER, "--dry-run"], "--number"),
        ([], "--older-than"),  # RETENTION is None: no limit to apply
    ],
)
def test_the_command_names_the_option_at_fault(args, named, db):
    with pytest.raises(CommandError) as raised:
        call_command("sms_purge", *args)

    assert str(raised.value).startswith(f"{named}:")
    assert raised.value.returncode == 2


def test_the_command_uses_the_retention_setting_by_default(memory_provider, settings, capsys):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "RETENTION": 30}
    make(memory_provider, days=40)
    make(memory_provider, days=20)

    call_command("sms_purge", "--dry-run")

    assert "messages: would erase 1" in capsys.readouterr().out


@pytest.mark.parametrize("value", [0, -1, "90", True, 1.5])
def test_check_refuses_a_retention_that_is_not_days(settings, value):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "RETENTION": value}

    errors = [e for e in check_settings() if e.id == "helpdesk_sms.E141"]

    assert len(errors) == 1 and "RETENTION" in errors[0].msg


def test_the_admin_shows_a_purged_message_and_filters_by_it(admin_client, memory_provider):
    [purged] = make(memory_provider, days=10)
    [kept] = make(memory_provider, days=1)
    retention.purge(7)

    detail = page(admin_client.get(url("message", "change", purged.pk)))
    listed = page(admin_client.get(url("message", "changelist"), {"purged": "yes"}))

    assert "Purged on" in detail and retention.MARKER in detail
    assert f"/{purged.pk}/change/" in listed and f"/{kept.pk}/change/" not in listed


def test_the_admin_shows_a_purged_inbound_message(admin_client, memory_provider):
    stored = receive(
        memory_provider, {"from": NUMBER, "to": "HELPDK", "text": "my flat is 4B"}
    ).message
    retention.erase_number(NUMBER)

    detail = page(admin_client.get(url("inboundmessage", "change", stored.pk)))
    listed = page(admin_client.get(url("inboundmessage", "changelist"), {"purged": "yes"}))

    assert "Purged on" in detail and "my flat is 4B" not in detail
    assert f"/{stored.pk}/change/" in listed


def test_the_admin_opts_in_an_erased_entry_audited_by_its_hash(admin_client, memory_provider):
    consent.opt_out(NUMBER)
    retention.erase_number(NUMBER)
    entry = OptOut.objects.get()

    response = admin_client.post(
        url("optout", "changelist"),
        {"action": "opt_in_selected", "_selected_action": [entry.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert not consent.is_opted_out(NUMBER)
    assert ConsentChange.objects.latest("pk").number == consent.pseudonym(NUMBER)


def test_adding_an_erased_opted_out_number_in_the_admin_keeps_its_entry(
    admin_client, memory_provider
):
    consent.opt_out(NUMBER)
    retention.erase_number(NUMBER)

    response = admin_client.post(url("optout", "add"), {"number": NUMBER, "note": "asked again"})

    assert response.status_code == 302
    assert OptOut.objects.count() == 1
    assert consent.is_opted_out(NUMBER)


def test_erasure_masks_the_number_in_other_messages_timelines(memory_provider):
    from helpdesk_sms.models import MessageEvent

    [other] = make(memory_provider, recipient="+919812345600")
    MessageEvent.objects.create(
        message=other, to_status=other.status, source="admin", note=f"re-sent as #9 to {NUMBER}"
    )

    retention.erase_number(NUMBER)

    assert not MessageEvent.objects.filter(note__contains=NUMBER).exists()
    assert MessageEvent.objects.filter(note="re-sent as #9 to [number]").exists()


def test_erasure_masks_the_number_among_a_group_sends_skipped_members(memory_provider):
    from helpdesk_sms.models import GroupSend

    send = GroupSend.objects.create(
        group_name="Field team",
        text="Visit today",
        skipped=[
            {"name": "Ravi", "phone": "98123 45678", "reason": "98123 45678: not allowed"},
            {"name": "Asha", "phone": "+919812345600", "reason": "inactive"},
        ],
    )

    retention.erase_number(NUMBER)

    send.refresh_from_db()
    assert send.skipped == [
        {"name": "Ravi", "phone": "[number]", "reason": "[number]: not allowed"},
        {"name": "Asha", "phone": "+919812345600", "reason": "inactive"},
    ]
