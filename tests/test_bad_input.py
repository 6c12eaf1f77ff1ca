"""Bad input, at every entry point: the API, ``sms_send`` and the admin's test-SMS page.

Each bad input gets the same verdict everywhere: ``send_sms`` raises the specific
``SmsInputError`` naming the field, the command exits 2 with one line naming the option and
the rule, the admin shows the error on the field (or above the form when the field is not
on it). Whatever the entry point, a refused input writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from helpdesk_sms.api import send_sms
from helpdesk_sms.exceptions import (
    EmptyText,
    InvalidRecipient,
    InvalidSchedule,
    InvalidSender,
    SmsInputError,
    TextTooLong,
    UnknownProvider,
    UnsupportedFeature,
)
from helpdesk_sms.models import Message, MessageEvent, NotificationTemplate, Provider, SenderID

pytestmark = pytest.mark.django_db

NUMBER = "+919812345678"
PAST = datetime(2020, 1, 1, 9, 0, tzinfo=UTC)
#: 1601SMS: "a max. of 459 characters (seperated to a maximum of 3 messages)".
OVER_1601_LIMIT = "x" * 460


def make_provider(name: str, gateway: str, **options: object) -> Provider:
    """An active provider with the default sender HELPDK (valid on every gateway).

    Options are written with ``update()``: a test may need what the model's validation
    refuses, e.g. gateway scheduling on a gateway that cannot schedule.
    """
    provider = Provider.objects.create(name=name, gateway=gateway)
    provider.default_sender = SenderID.objects.create(provider=provider, value="HELPDK")
    provider.save()
    if options:
        Provider.objects.filter(pk=provider.pk).update(options=options)
    return provider


def memory() -> Provider:
    return make_provider("Memory", "memory")


@dataclass(frozen=True)
class BadInput:
    """One bad input: how to set it up, what to send, and the verdict every entry point gives."""

    provider: Callable[[], Provider]
    error: type[SmsInputError]
    field: str  # SmsInputError.field
    rule: str  # words of the message that name the rule broken
    to: str = NUMBER
    text: str = "Your ticket #123 is open."
    sender: str = ""
    send_at: Callable[[], datetime] | None = None
    flash: bool = False
    provider_name: str = ""  # send to this name instead of the created provider's


CASES: dict[str, BadInput] = {
    "invalid-number": BadInput(memory, InvalidRecipient, "to", "'12345' is too short", to="12345"),
    "unknown-provider": BadInput(
        memory, UnknownProvider, "provider", "Unknown provider 'Nope'", provider_name="Nope"
    ),
    "inactive-provider": BadInput(
        lambda: Provider.objects.create(name="Retired", gateway="memory", is_active=False),
        UnknownProvider,
        "provider",
        "Provider 'Retired' is not active",
        sender="HELPDK",
    ),
    "flash-without-flash": BadInput(
        lambda: make_provider("Clone", "smsclone"),
        UnsupportedFeature,
        "flash",
        "smsclone.com cannot send flash messages",
        flash=True,
    ),
    "gateway-scheduling-without-schedule": BadInput(
        lambda: make_provider("Console", "console", scheduling="gateway"),
        UnsupportedFeature,
        "send_at",
        "cannot schedule messages",
        send_at=lambda: timezone.now() + timedelta(hours=2),
    ),
    "empty-text": BadInput(memory, EmptyText, "text", "The text is empty", text="   "),
    "over-limit-text": BadInput(
        lambda: make_provider("1601", "sms1601"),
        TextTooLong,
        "text",
        "1601SMS allows at most 3 SMS parts; this text needs 4 (460 septets)",
        text=OVER_1601_LIMIT,
    ),
    "invalid-sender": BadInput(
        lambda: make_provider("Canlog", "canlog"),
        InvalidSender,
        "sender",
        "at most 6 characters in a sender ID; 'HELPDSK' has 7",
        sender="HELPDSK",
    ),
    "schedule-in-the-past": BadInput(
        memory, InvalidSchedule, "send_at", "is in the past", send_at=lambda: PAST
    ),
}

#: The admin sends through the providers ticked in its list, so it cannot name an unknown
#: one; an inactive provider is how "unknown provider" reaches it.
ADMIN_CASES = {name: case for name, case in CASES.items() if not case.provider_name}


def assert_nothing_written() -> None:
    assert not Message.objects.exists()
    assert not MessageEvent.objects.exists()


# -- the API ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_send_sms_raises_the_specific_error_naming_the_field_and_writes_nothing(case):
    provider = case.provider()

    with pytest.raises(SmsInputError) as raised:
        send_sms(
            case.to,
            case.text,
            provider=case.provider_name or provider.name,
            sender=case.sender or None,
            send_at=case.send_at() if case.send_at else None,
            flash=case.flash,
        )

    assert type(raised.value) is case.error
    assert raised.value.field == case.field
    assert case.rule in str(raised.value)
    assert_nothing_written()


def test_a_text_of_exactly_459_characters_fits_1601smss_three_parts():
    make_provider("1601", "sms1601")

    [message] = send_sms(NUMBER, "x" * 459, provider="1601")

    assert message.parts == 3


def test_unicode_text_on_a_gateway_without_unicode_is_refused_naming_the_character():
    make_provider("Clone", "smsclone")

    with pytest.raises(UnsupportedFeature) as raised:
        send_sms(NUMBER, "Ticket #123 – on its way", provider="Clone")

    assert raised.value.field == "text"
    assert "smsclone.com cannot send Unicode text" in str(raised.value)
    assert "the – at position 13 is not in the GSM-7 alphabet" in str(raised.value)
    assert_nothing_written()


# -- the command line ------------------------------------------------------------------------

#: SmsInputError.field -> the sms_send option that sets it.
OPTIONS = {
    "to": "--to",
    "text": "--text",
    "provider": "--provider",
    "sender": "--sender",
    "send_at": "--at",
    "flash": "--flash",
}


def sms_send_args(case: BadInput, provider: Provider) -> list[str]:
    args = ["--to", case.to, "--text", case.text]
    args += ["--provider", case.provider_name or provider.name]
    if case.sender:
        args += ["--sender", case.sender]
    if case.send_at:
        args += ["--at", case.send_at().isoformat()]
    if case.flash:
        args.append("--flash")
    return args


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_sms_send_exits_2_with_one_line_naming_the_option_and_rule_and_writes_nothing(case):
    provider = case.provider()

    with pytest.raises(CommandError) as raised:
        call_command("sms_send", *sms_send_args(case, provider))

    message = str(raised.value)
    assert raised.value.returncode == 2
    assert message.startswith(OPTIONS[case.field] + ": ")
    assert case.rule in message
    assert "\n" not in message
    assert_nothing_written()


# -- the admin's "Send a test SMS" page -----------------------------------------------------


def post_test_sms(client, providers: list[Provider], **fields: object):
    """Submit the test-SMS page for ``providers``, as the operator's browser does."""
    data = {
        "action": "send_test_sms",
        "_selected_action": [p.pk for p in providers],
        "apply": "Send",
        "to": NUMBER,
        "text": "Test from the admin",
        "sender": "",
        **fields,
    }
    if data.pop("flash", False):
        data["flash"] = "on"
    return client.post(reverse("admin:helpdesk_sms_provider_changelist"), data)


def admin_fields(case: BadInput) -> dict[str, object]:
    return {
        "to": case.to,
        "text": case.text,
        "sender": case.sender,
        "send_at": case.send_at().isoformat() if case.send_at else "",
        "flash": case.flash,
    }


#: Where the admin shows each SmsInputError.field: a form field, or above the form.
FORM_FIELD = {"provider": "__all__"}


@pytest.mark.parametrize("case", ADMIN_CASES.values(), ids=ADMIN_CASES.keys())
def test_admin_test_sms_shows_the_error_on_its_field_and_writes_nothing(admin_client, case):
    provider = case.provider()

    response = post_test_sms(admin_client, [provider], **admin_fields(case))

    assert response.status_code == 200
    errors = response.context["form"].errors
    field = FORM_FIELD.get(case.field, case.field)
    assert list(errors) == [field]
    assert any(case.rule in error for error in errors[field])
    assert_nothing_written()


def test_admin_shows_a_non_field_error_above_the_form(admin_client):
    retired = Provider.objects.create(name="Retired", gateway="memory", is_active=False)

    response = post_test_sms(admin_client, [retired], sender="HELPDK")

    html = response.content.decode()
    assert '<div class="errornote">' in html
    assert "Provider &#x27;Retired&#x27; is not active." in html


def test_admin_refuses_for_all_selected_providers_when_one_refuses(admin_client):
    good = memory()
    clone = make_provider("Clone", "smsclone")

    response = post_test_sms(admin_client, [good, clone], flash=True)

    [error] = response.context["form"].errors["flash"]
    assert error == "Clone: smsclone.com cannot send flash messages."
    assert_nothing_written()


def test_admin_reads_a_send_time_without_offset_in_the_site_time_zone(admin_client, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    provider = memory()
    year = timezone.now().year + 1

    post_test_sms(admin_client, [provider], send_at=f"{year}-03-01 09:30")

    message = Message.objects.get()
    assert message.status == "scheduled"
    assert message.send_at == datetime(year, 3, 1, 4, 0, tzinfo=UTC)


def test_admin_sends_a_flash_test_sms_when_ticked(admin_client):
    provider = memory()

    post_test_sms(admin_client, [provider], flash=True)

    assert Message.objects.get().flash is True


def test_admin_send_time_that_is_not_a_date_shows_the_error_on_send_at(admin_client):
    provider = memory()

    response = post_test_sms(admin_client, [provider], send_at="tomorrow")

    assert list(response.context["form"].errors) == ["send_at"]
    assert_nothing_written()


# -- the template preview ---------------------------------------------------------------------


def preview(client, body: str, **fields: object) -> str:
    template = NotificationTemplate.objects.create(
        name="Preview", event="ticket_created", audience="customer", body=body, **fields
    )
    url = reverse("admin:helpdesk_sms_notificationtemplate_change", args=[template.pk])
    return client.get(url).content.decode()


def verdict_row(html: str, label: str) -> str:
    """The verdict cell's text of one gateway's row in the preview's table."""
    start = html.index(f"<tr><td>{label}</td>")
    return html[start : html.index("</tr>", start)]


def test_template_preview_says_ok_for_a_gateway_that_takes_the_text(admin_client):
    html = preview(admin_client, "Ticket #{{ ticket.pk }} received.")

    assert '<table class="gateway-verdicts">' in html
    assert '<td class="ok">OK</td>' in verdict_row(html, "1601SMS")
    assert '<td class="ok">OK</td>' in verdict_row(html, "Canlog")


#: A sentence of the sample ticket's length, to make texts of several parts.
LONG_LINE = "The printer near the lifts shows a paper jam error. "


def test_template_preview_names_the_parts_limit_and_count_of_a_gateway_that_refuses(
    admin_client,
):
    html = preview(admin_client, LONG_LINE * 10)

    row = verdict_row(html, "1601SMS")
    assert 'class="refused"' in row
    assert "1601SMS allows at most 3 SMS parts; this text needs 4" in row
    assert '<td class="ok">OK</td>' in verdict_row(html, "Canlog")


def test_template_preview_says_which_gateways_cannot_send_unicode(admin_client):
    html = preview(admin_client, "Ticket #{{ ticket.pk }} – {{ ticket.title }}")

    assert "smsclone.com cannot send Unicode text" in verdict_row(html, "smsclone.com")
    assert '<td class="ok">OK</td>' in verdict_row(html, "Canlog")


def test_template_preview_shows_what_smart_replacement_would_change_and_save(admin_client):
    html = preview(admin_client, ("We’re on ticket #{{ ticket.pk }}: " + LONG_LINE) * 2)

    assert "Only typographic characters make this text Unicode." in html
    assert "&#x27;’&#x27; -&gt; &quot;&#x27;&quot;" in html  # '’' -> "'"
    assert "sent as GSM-7: 1 part instead of 3." in html


def test_template_preview_smart_replace_hint_on_a_short_text_says_the_part_holds_more(
    admin_client,
):
    html = preview(admin_client, "We’re on ticket #{{ ticket.pk }} – thanks")

    assert "&#x27;–&#x27; -&gt; &#x27;-&#x27;" in html
    assert "still 1 part, with room for 160 characters a part instead of 70." in html


def test_template_preview_has_no_smart_replace_hint_when_other_characters_need_unicode(
    admin_client,
):
    html = preview(admin_client, "We’re on it ✓")

    assert "Unicode (UCS-2)" in html
    assert "Only typographic characters" not in html


def test_template_preview_with_smart_replace_on_shows_the_text_as_sent(admin_client):
    html = preview(admin_client, "We’re on ticket #{{ ticket.pk }}", smart_replace=True)

    assert "We&#x27;re on ticket #123" in html
    assert "GSM-7" in html
    assert "Typographic characters replaced to stay GSM-7" in html
    assert "Only typographic characters" not in html


def test_template_preview_warns_when_its_own_provider_would_refuse(admin_client):
    provider = make_provider("1601", "sms1601")

    html = preview(admin_client, LONG_LINE * 10, provider=provider)

    assert "This template&#x27;s provider 1601 would refuse it: 1601SMS allows at most 3" in html


def test_template_preview_leaves_out_a_gateway_whose_module_does_not_import(
    admin_client, monkeypatch
):
    from helpdesk_sms.gateways import registry

    monkeypatch.setitem(
        registry.BUILTIN, "broken", registry.Entry("helpdesk_sms.gateways.nosuch.X", "Broken")
    )

    html = preview(admin_client, "Ticket #{{ ticket.pk }}")

    assert "<tr><td>Broken</td>" not in html
    assert '<td class="ok">OK</td>' in verdict_row(html, "Canlog")
