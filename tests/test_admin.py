"""The admin, as an operator sees it: pages, write-only credentials, previews and actions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk_sms import kick, outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.gateways.base import ErrorCategory, GatewayError
from helpdesk_sms.gateways.memory import MemoryGateway
from helpdesk_sms.models import (
    AgentProfile,
    BalanceSnapshot,
    Contact,
    Message,
    MessageEvent,
    NotificationTemplate,
    Provider,
    RecipientGroup,
    SenderID,
)
from helpdesk_sms.states import Source, Status
from helpdesk_sms.transitions import move

pytestmark = pytest.mark.django_db

NUMBER = "+919812345678"
API_KEY = "sk-live-SECRET-123"
PASSWORD = "hunter2-SECRET"


def url(model: str, view: str, *args: object) -> str:
    return reverse(f"admin:helpdesk_sms_{model}_{view}", args=args)


def page(response) -> str:
    return response.content.decode()


def flash_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def run_action(client, model: str, action: str, objects, **extra):
    """Post a changelist action the way the action bar does, following the redirect."""
    data = {"action": action, "_selected_action": [o.pk for o in objects], "index": 0, **extra}
    return client.post(url(model, "changelist"), data, follow=True)


@pytest.fixture
def secret_provider(db):
    return Provider.objects.create(
        name="Live", gateway="memory", api_key=API_KEY, password=PASSWORD, username="acme"
    )


def provider_form_data(provider: Provider, **changes: object) -> dict[str, object]:
    """What the provider change form posts when the operator touches nothing else."""
    data: dict[str, object] = {
        "name": provider.name,
        "gateway": provider.gateway,
        "is_active": "on" if provider.is_active else "",
        "priority": provider.priority,
        "base_url": provider.base_url,
        "username": provider.username,
        "api_key": "",
        "password": "",
        "timezone": provider.timezone,
        "default_region": provider.default_region,
        "allowed_countries": provider.allowed_countries,
        "callback_secrets": "",
        "default_sender": provider.default_sender_id or "",
        "options": "{}",
        "low_balance_threshold": "",
        "senders-TOTAL_FORMS": "0",
        "senders-INITIAL_FORMS": "0",
        "senders-MIN_NUM_FORMS": "0",
        "senders-MAX_NUM_FORMS": "1000",
        "price_per_part": "",
        "currency": "",
        "prices-TOTAL_FORMS": "0",
        "prices-INITIAL_FORMS": "0",
        "prices-MIN_NUM_FORMS": "0",
        "prices-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not False}


def failed_message(provider: Provider) -> Message:
    [message] = send_sms(NUMBER, "Your ticket is open", provider=provider)
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.INVALID_RECIPIENT, "bad number"))
    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.FAILED
    return message


def delivered_message(provider: Provider) -> Message:
    [message] = send_sms(NUMBER, "Delivered one", provider=provider)
    outbox.dispatch()
    message.refresh_from_db()
    assert move(message, Status.DELIVERED, source=Source.WEBHOOK, note="delivered")
    return message


@pytest.fixture
def one_of_each(memory_provider, agent):
    """A row of every model, so that every change page has something to show."""
    contact = Contact.objects.create(name="Ravi", phone=NUMBER)
    group = RecipientGroup.objects.create(name="Floor 3")
    group.members.add(contact)
    template = NotificationTemplate.objects.create(
        name="Created", event="ticket_created", audience="customer", body="Ticket #{{ ticket.pk }}"
    )
    [message] = send_sms(NUMBER, "Hello", provider=memory_provider)
    outbox.dispatch()
    snapshot = BalanceSnapshot.objects.create(
        provider=memory_provider, account="main", amount=Decimal("12.50")
    )
    return {
        "provider": memory_provider,
        "senderid": memory_provider.default_sender,
        "contact": contact,
        "recipientgroup": group,
        "agentprofile": AgentProfile.objects.get(user=agent),
        "notificationtemplate": template,
        "message": message,
        "messageevent": message.events.first(),
        "balancesnapshot": snapshot,
    }


MODELS = [
    "provider",
    "senderid",
    "contact",
    "recipientgroup",
    "agentprofile",
    "notificationtemplate",
    "message",
    "messageevent",
    "balancesnapshot",
]
ADDABLE = MODELS[:6]


# -- every page loads --------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_loads(admin_client, one_of_each, model):
    response = admin_client.get(url(model, "changelist"))

    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_every_change_page_loads(admin_client, one_of_each, model):
    response = admin_client.get(url(model, "change", one_of_each[model].pk))

    assert response.status_code == 200


@pytest.mark.parametrize("model", ADDABLE)
def test_add_page_loads_where_adding_by_hand_makes_sense(admin_client, one_of_each, model):
    response = admin_client.get(url(model, "add"))

    assert response.status_code == 200


@pytest.mark.parametrize("model", ["message", "messageevent", "balancesnapshot"])
def test_system_records_cannot_be_added_by_hand(admin_client, model):
    response = admin_client.get(url(model, "add"))

    assert response.status_code == 403


def test_message_change_page_is_read_only(admin_client, one_of_each):
    message = one_of_each["message"]

    response = admin_client.post(url("message", "change", message.pk), {"body": "edited"})

    assert response.status_code == 403
    message.refresh_from_db()
    assert message.body == "Hello"


# -- provider credentials ----------------------------------------------------------------


def test_provider_credentials_never_appear_in_any_admin_page(admin_client, secret_provider):
    pk = secret_provider.pk
    responses = [
        admin_client.get(url("provider", "changelist")),
        admin_client.get(url("provider", "changelist"), {"q": "Live"}),
        admin_client.get(url("provider", "change", pk)),
        admin_client.post(
            url("provider", "change", pk), provider_form_data(secret_provider), follow=True
        ),
        admin_client.get(url("provider", "history", pk)),
        admin_client.get(url("provider", "delete", pk)),
        run_action(admin_client, "provider", "delete_selected", [secret_provider]),
        run_action(admin_client, "provider", "send_test_sms", [secret_provider]),
    ]

    for response in responses:
        assert response.status_code == 200
        assert API_KEY not in page(response)
        assert PASSWORD not in page(response)


@pytest.fixture
def view_only_client(client, django_user_model):
    """A staff member who may only view providers, messages and balances."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("auditor", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="helpdesk_sms",
            codename__in=["view_provider", "view_message", "view_balancesnapshot"],
        )
    )
    client.force_login(user)
    return client


def test_view_only_staff_see_no_credential_on_the_provider_page(view_only_client, secret_provider):
    secret_provider.callback_secrets = "cb-SECRET-777"
    secret_provider.save()

    response = view_only_client.get(url("provider", "change", secret_provider.pk))

    assert response.status_code == 200
    text = page(response)
    for secret in (API_KEY, PASSWORD, "cb-SECRET-777"):
        assert secret not in text
    assert "API key: set" in text and "callback secrets: set" in text


def test_view_only_staff_see_when_credentials_last_changed(view_only_client, secret_provider):
    response = view_only_client.get(url("provider", "change", secret_provider.pk))

    assert "Last changed" in page(response)


def test_view_only_staff_see_no_credential_in_lists_history_or_search(
    view_only_client, secret_provider
):
    responses = [
        view_only_client.get(url("provider", "changelist")),
        view_only_client.get(url("provider", "changelist"), {"q": "Live"}),
        view_only_client.get(url("provider", "history", secret_provider.pk)),
    ]

    for response in responses:
        assert response.status_code == 200
        assert API_KEY not in page(response) and PASSWORD not in page(response)


def test_a_rejected_new_credential_is_not_echoed_back(admin_client, secret_provider):
    response = admin_client.post(
        url("provider", "change", secret_provider.pk),
        provider_form_data(secret_provider, api_key="sk-new-SECRET-999", timezone="Mars/Base"),
    )

    assert response.status_code == 200
    assert "Mars/Base" in page(response)  # the form came back with an error
    assert "sk-new-SECRET-999" not in page(response)


def test_change_form_says_whether_each_credential_is_stored(admin_client, memory_provider):
    memory_provider.api_key = API_KEY
    memory_provider.save()

    response = admin_client.get(url("provider", "change", memory_provider.pk))

    api_key_field = response.context["adminform"].form.fields["api_key"]
    password_field = response.context["adminform"].form.fields["password"]
    assert "Currently: stored" in str(api_key_field.help_text)
    assert "Currently: not set" in str(password_field.help_text)
    assert "leave empty to keep the stored value" in str(api_key_field.help_text).lower()


def test_saving_provider_with_empty_credential_fields_keeps_stored_credentials(
    admin_client, secret_provider
):
    response = admin_client.post(
        url("provider", "change", secret_provider.pk),
        provider_form_data(secret_provider, priority=5),
    )

    assert response.status_code == 302
    secret_provider.refresh_from_db()
    assert secret_provider.priority == 5
    assert secret_provider.api_key == API_KEY
    assert secret_provider.password == PASSWORD


def test_clear_checkbox_erases_the_stored_credential(admin_client, secret_provider):
    response = admin_client.post(
        url("provider", "change", secret_provider.pk),
        provider_form_data(secret_provider, clear_password="on"),
    )

    assert response.status_code == 302
    secret_provider.refresh_from_db()
    assert secret_provider.password == ""
    assert secret_provider.api_key == API_KEY


def test_typing_a_new_credential_replaces_the_stored_one(admin_client, secret_provider):
    admin_client.post(
        url("provider", "change", secret_provider.pk),
        provider_form_data(secret_provider, api_key="sk-live-NEW"),
    )

    secret_provider.refresh_from_db()
    assert secret_provider.api_key == "sk-live-NEW"
    assert secret_provider.password == PASSWORD


def test_history_records_which_credential_changed_but_not_its_value(admin_client, secret_provider):
    admin_client.post(
        url("provider", "change", secret_provider.pk),
        provider_form_data(secret_provider, api_key="sk-live-NEW"),
    )

    entry = LogEntry.objects.get(object_id=str(secret_provider.pk))
    assert "API key" in entry.get_change_message()
    assert "sk-live-NEW" not in entry.change_message


# -- provider form: gateway info and validation -------------------------------------------


def test_provider_change_form_shows_gateway_capabilities_and_options(admin_client, memory_provider):
    response = admin_client.get(url("provider", "change", memory_provider.pk))

    html = page(response)
    assert "Capabilities" in html
    assert "balance" in html and "unicode" in html
    assert "<code>max_numbers</code>: numbers per request" in html
    assert "<code>scheduling</code>" in html


def test_unknown_gateway_option_shows_error_on_options_field(admin_client, memory_provider):
    response = admin_client.post(
        url("provider", "change", memory_provider.pk),
        provider_form_data(memory_provider, options='{"route": "15"}'),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "route" in errors["options"][0]
    memory_provider.refresh_from_db()
    assert memory_provider.options == {}


def test_unknown_time_zone_shows_error_on_timezone_field(admin_client, memory_provider):
    response = admin_client.post(
        url("provider", "change", memory_provider.pk),
        provider_form_data(memory_provider, timezone="Mars/Base"),
    )

    assert "Mars/Base is not a known time zone" in " ".join(
        response.context["adminform"].form.errors["timezone"]
    )


# -- sender IDs ------------------------------------------------------------------------


def test_too_long_sender_id_on_canlog_shows_field_error_and_saves_nothing(admin_client):
    canlog = Provider.objects.create(name="Canlog", gateway="canlog")

    response = admin_client.post(
        url("senderid", "add"),
        {"provider": canlog.pk, "value": "HELPDSK", "description": "", "is_active": "on"},
    )

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["value"]
    assert "at most 6 characters" in error
    assert not SenderID.objects.exists()


def test_sender_inline_on_a_new_provider_applies_the_gateway_rules(admin_client):
    data = {
        "name": "Canlog",
        "gateway": "canlog",
        "is_active": "on",
        "priority": "100",
        "timezone": "Asia/Kolkata",
        "options": "{}",
        "senders-TOTAL_FORMS": "1",
        "senders-INITIAL_FORMS": "0",
        "senders-MIN_NUM_FORMS": "0",
        "senders-MAX_NUM_FORMS": "1000",
        "senders-0-value": "HELPDSK",
        "senders-0-is_active": "on",
        "prices-TOTAL_FORMS": "0",
        "prices-INITIAL_FORMS": "0",
    }

    response = admin_client.post(url("provider", "add"), data)

    assert response.status_code == 200
    formset, _prices = response.context["inline_admin_formsets"]
    assert "at most 6 characters" in formset.formset.forms[0].errors["value"][0]
    assert not Provider.objects.exists()


# -- test-only gateways (console, in-memory) ----------------------------------------------


def offered_gateways(response) -> list[str]:
    return [name for name, _label in response.context["adminform"].form.fields["gateway"].choices]


def new_provider_data(gateway: str) -> dict[str, object]:
    return {
        "name": "New",
        "gateway": gateway,
        "is_active": "on",
        "priority": "100",
        "timezone": "Asia/Kolkata",
        "options": "{}",
        "senders-TOTAL_FORMS": "0",
        "senders-INITIAL_FORMS": "0",
        "senders-MIN_NUM_FORMS": "0",
        "senders-MAX_NUM_FORMS": "1000",
        "prices-TOTAL_FORMS": "0",
        "prices-INITIAL_FORMS": "0",
    }


def test_the_provider_form_does_not_offer_test_gateways_on_a_live_site(admin_client):
    response = admin_client.get(url("provider", "add"))

    offered = offered_gateways(response)
    assert "canlog" in offered and "unified" in offered
    assert "memory" not in offered and "console" not in offered
    assert "In-memory (tests)" not in page(response)  # nor in the gateways' summaries


def test_the_provider_form_refuses_a_test_gateway_on_a_live_site(admin_client):
    response = admin_client.post(url("provider", "add"), new_provider_data("console"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["gateway"]
    assert any("console is not one of the available choices" in e for e in errors)
    assert not Provider.objects.exists()


@pytest.mark.parametrize("allowed_by", ["DEBUG", "ALLOW_TEST_GATEWAYS"])
def test_the_provider_form_offers_test_gateways_when_allowed(admin_client, settings, allowed_by):
    if allowed_by == "DEBUG":
        settings.DEBUG = True
    else:
        settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "ALLOW_TEST_GATEWAYS": True}

    response = admin_client.post(url("provider", "add"), new_provider_data("memory"))

    assert response.status_code == 302
    assert Provider.objects.get(name="New").gateway == "memory"


def test_a_saved_provider_on_a_test_gateway_stays_editable(admin_client, memory_provider):
    change = url("provider", "change", memory_provider.pk)

    offered = offered_gateways(admin_client.get(change))
    response = admin_client.post(change, provider_form_data(memory_provider, priority=7))

    assert "memory" in offered and "console" not in offered
    assert response.status_code == 302
    memory_provider.refresh_from_db()
    assert (memory_provider.gateway, memory_provider.priority) == ("memory", 7)


def template_preview(client, **fields: object) -> str:
    template = NotificationTemplate.objects.create(
        name="Preview", event="ticket_created", audience="customer", body="Hi", **fields
    )
    return page(client.get(url("notificationtemplate", "change", template.pk)))


def test_the_template_preview_leaves_out_test_gateways_on_a_live_site(admin_client):
    html = template_preview(admin_client)

    assert "<tr><td>Canlog</td>" in html
    assert "<tr><td>In-memory (tests)</td>" not in html
    assert "<tr><td>Console (log only)</td>" not in html


def test_the_template_preview_lists_test_gateways_when_allowed(admin_client, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "ALLOW_TEST_GATEWAYS": True}

    html = template_preview(admin_client)

    assert "<tr><td>In-memory (tests)</td>" in html
    assert "<tr><td>Console (log only)</td>" in html


def test_the_template_preview_lists_the_test_gateway_of_its_own_provider(
    admin_client, memory_provider
):
    html = template_preview(admin_client, provider=memory_provider)

    assert "<tr><td>In-memory (tests)</td>" in html
    assert "<tr><td>Console (log only)</td>" not in html


def test_contact_with_an_invalid_phone_shows_error_on_phone_field(admin_client):
    response = admin_client.post(
        url("contact", "add"), {"name": "Ravi", "phone": "12345", "is_active": "on"}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone"]
    assert not Contact.objects.exists()


def test_contact_phone_is_stored_in_international_form(admin_client):
    admin_client.post(url("contact", "add"), {"name": "Ravi", "phone": "098123 45678"})

    assert Contact.objects.get().phone == NUMBER


# -- notification templates --------------------------------------------------------------


def make_template(body: str) -> NotificationTemplate:
    return NotificationTemplate.objects.create(
        name="Preview me", event="ticket_created", audience="customer", body=body
    )


def test_template_preview_shows_rendered_text_and_part_count(admin_client):
    template = make_template("Ticket #{{ ticket.pk }}: {{ ticket.title }} ({{ queue }})")

    response = admin_client.get(url("notificationtemplate", "change", template.pk))

    html = page(response)
    assert "Ticket #123: Printer on floor 3 is jammed (Support)" in html
    assert "GSM-7" in html
    assert "SMS parts: 1" in html


def test_template_preview_counts_parts_of_a_long_text(admin_client):
    template = make_template("{{ ticket.title }} " * 10)

    response = admin_client.get(url("notificationtemplate", "change", template.pk))

    assert "SMS parts: 2" in page(response)


def test_template_preview_explains_what_made_the_text_unicode(admin_client):
    template = make_template("Ticket #{{ ticket.pk }} – {{ ticket.title }}")

    response = admin_client.get(url("notificationtemplate", "change", template.pk))

    html = page(response)
    assert "Unicode (UCS-2)" in html
    assert "makes this message Unicode" in html


def test_template_with_broken_syntax_shows_error_on_body_field(admin_client):
    response = admin_client.post(
        url("notificationtemplate", "add"),
        {
            "name": "Broken",
            "event": "ticket_created",
            "audience": "customer",
            "body": "Ticket {% if ticket.pk %}#{{ ticket.pk }}",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["body"]
    assert "syntax error" in error
    assert not NotificationTemplate.objects.filter(name="Broken").exists()


def test_template_that_fails_to_render_shows_the_error_in_the_preview(admin_client):
    template = make_template("Ticket #{{ ticket.pk }} {{ title|date:bad }}")

    response = admin_client.get(url("notificationtemplate", "change", template.pk))

    assert response.status_code == 200
    assert "Template failed to render" in page(response)


def test_deactivate_and_activate_actions_switch_templates(admin_client):
    template = NotificationTemplate.objects.create(
        name="Assignee on creation", event="ticket_created", audience="assignee", body="Hi"
    )

    response = run_action(admin_client, "notificationtemplate", "deactivate", [template])
    template.refresh_from_db()
    assert not template.is_active
    assert "1 template deactivated." in flash_messages(response)

    run_action(admin_client, "notificationtemplate", "activate", [template])
    template.refresh_from_db()
    assert template.is_active


# -- one active template per event, audience and provider --------------------------------

SHIPPED_CREATED = "Default: ticket created (customer)"


def template_form(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Second",
        "event": "ticket_created",
        "audience": "customer",
        "body": "Got it: #{{ ticket.pk }}",
        "is_active": "on",
        "priority": "normal",
        "gateway_options": "{}",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def add_template(client, **changes: object):
    return client.post(url("notificationtemplate", "add"), template_form(**changes))


def test_a_second_active_template_for_the_same_event_and_audience_is_refused(admin_client):
    response = add_template(admin_client)

    assert response.status_code == 200
    [error] = response.context["adminform"].form.non_field_errors()
    assert f"“{SHIPPED_CREATED}”" in error and "doubling every SMS" in error
    assert not NotificationTemplate.objects.filter(name="Second").exists()


def test_a_second_template_is_accepted_while_inactive(admin_client):
    response = add_template(admin_client, is_active=None)

    assert response.status_code == 302
    assert not NotificationTemplate.objects.get(name="Second").is_active


def test_a_second_active_template_through_another_provider_is_accepted(
    admin_client, memory_provider
):
    response = add_template(admin_client, provider=memory_provider.pk)

    assert response.status_code == 302
    assert NotificationTemplate.objects.get(name="Second").provider == memory_provider


def test_active_group_templates_are_refused_only_for_the_same_group(admin_client):
    floor3, floor4 = (RecipientGroup.objects.create(name=n) for n in ("Floor 3", "Floor 4"))
    assert add_template(admin_client, audience="group", group=floor3.pk).status_code == 302

    other_group = add_template(admin_client, name="Floor 4", audience="group", group=floor4.pk)
    same_group = add_template(admin_client, name="Again", audience="group", group=floor3.pk)

    assert other_group.status_code == 302
    assert same_group.status_code == 200
    assert "“Second”" in same_group.context["adminform"].form.non_field_errors()[0]


def test_an_active_template_can_be_saved_again_unchanged(admin_client):
    shipped = NotificationTemplate.objects.get(name=SHIPPED_CREATED)

    response = admin_client.post(
        url("notificationtemplate", "change", shipped.pk),
        template_form(name=shipped.name, body=shipped.body),
    )

    assert response.status_code == 302


def test_the_shipped_templates_pass_the_one_active_template_rule():
    shipped = NotificationTemplate.objects.filter(name__startswith="Default: ")

    assert shipped.count() == 3
    for template in shipped:
        template.full_clean()  # raises if any two were twins


def test_the_activate_action_refuses_a_template_that_would_double_another(admin_client):
    twin = NotificationTemplate.objects.create(
        name="Second", event="ticket_created", audience="customer", body="Hi", is_active=False
    )

    response = run_action(admin_client, "notificationtemplate", "activate", [twin])

    twin.refresh_from_db()
    assert not twin.is_active
    error, summary = response.context["messages"]
    assert str(error).startswith(f"Second: The active template “{SHIPPED_CREATED}”")
    assert error.level_tag == "error"
    assert str(summary) == "0 templates activated."


# -- message log actions -----------------------------------------------------------------


def test_retry_action_requeues_a_failed_message(admin_client, memory_provider):
    message = failed_message(memory_provider)

    response = run_action(admin_client, "message", "retry_failed", [message])

    message.refresh_from_db()
    assert message.status == Status.QUEUED
    assert message.events.filter(source=Source.ADMIN, to_status=Status.QUEUED).exists()
    assert "1 message re-queued." in flash_messages(response)


def test_retry_action_wakes_the_outbox_once_for_all_it_requeued(
    admin_client, memory_provider, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "DISPATCH": "celery"}
    failed = [failed_message(memory_provider), failed_message(memory_provider)]
    wake_ups = []
    monkeypatch.setattr(kick.publisher, "request", lambda: wake_ups.append(1))

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(admin_client, "message", "retry_failed", failed)

    assert "2 messages re-queued." in flash_messages(response)
    assert len(wake_ups) == 1


def test_retry_action_skips_a_delivered_message(admin_client, memory_provider):
    failed = failed_message(memory_provider)
    delivered = delivered_message(memory_provider)

    response = run_action(admin_client, "message", "retry_failed", [failed, delivered])

    delivered.refresh_from_db()
    assert delivered.status == Status.DELIVERED
    assert not delivered.events.filter(source=Source.ADMIN).exists()
    assert "1 message re-queued. 1 skipped because it is not failed." in flash_messages(response)


def test_retry_action_leaves_a_message_to_an_opted_out_number_failed(admin_client, memory_provider):
    from helpdesk_sms.consent import opt_out

    message = failed_message(memory_provider)
    opt_out(message.recipient)

    response = run_action(admin_client, "message", "retry_failed", [message])

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert "1 failed message was not retried: its number is on the opt-out list." in (
        flash_messages(response)
    )


def test_cancel_action_cancels_a_scheduled_message(admin_client, memory_provider):
    later = timezone.now() + timedelta(hours=2)
    [message] = send_sms(NUMBER, "Reminder", provider=memory_provider, send_at=later)
    assert message.status == Status.SCHEDULED

    response = run_action(admin_client, "message", "cancel_pending", [message])

    message.refresh_from_db()
    assert message.status == Status.CANCELED
    assert message.events.filter(source=Source.ADMIN, to_status=Status.CANCELED).exists()
    assert "1 message canceled." in flash_messages(response)


def test_cancel_action_skips_a_message_already_accepted(admin_client, one_of_each):
    message = one_of_each["message"]

    response = run_action(admin_client, "message", "cancel_pending", [message])

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert any("1 skipped" in text for text in flash_messages(response))


def test_message_change_page_shows_the_event_timeline(admin_client, memory_provider):
    message = failed_message(memory_provider)

    response = admin_client.get(url("message", "change", message.pk))

    html = page(response)
    assert "queued through send_sms" in html
    assert "claimed by the outbox" in html
    assert "refused by the gateway" in html
    assert "queued &rarr; sending" in html
    assert "&quot;category&quot;: &quot;invalid_recipient&quot;" in html  # raw data, as JSON


def test_message_changelist_shows_readable_status(admin_client, one_of_each):
    response = admin_client.get(url("message", "changelist"))

    assert "accepted by gateway" in page(response)


class ColumnHeaders(HTMLParser):
    """The text of each column header of a changelist's result table."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self._in_results = self._in_header = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("id", "result_list") in attrs:
            self._in_results = True
        elif tag == "th" and self._in_results and ("scope", "col") in attrs:
            self._in_header = True
            self.headers.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "th":
            self._in_header = False
        elif tag == "table":
            self._in_results = False

    def handle_data(self, data: str) -> None:
        if self._in_header:
            self.headers[-1] += data.strip()


def test_message_changelist_names_each_column_for_what_it_shows(admin_client, one_of_each):
    response = admin_client.get(url("message", "changelist"))

    parser = ColumnHeaders()
    parser.feed(page(response))
    assert parser.headers == [
        "",  # the select-all checkbox
        "ID",
        "Created",
        "Recipient",
        "Status",
        "Provider",
        "Cost",
        "Event",  # with its ticket: "ticket created #12" (the list fits 1366 px)
        "Text",
        "Reason",
    ]


# -- the message list and page: layout -------------------------------------------------

LONG_REASON = "the gateway refused the number because " + "it is on the do-not-disturb list " * 4


def changelist_row(html: str, message: Message) -> str:
    """The HTML of one message's row in the changelist."""
    start = html.index(f'value="{message.pk}"')
    return html[start : html.index("</tr>", start)]


def test_the_timeline_lists_the_newest_event_first(admin_client, memory_provider):
    message = failed_message(memory_provider)

    html = page(admin_client.get(url("message", "change", message.pk)))

    refused = html.index("refused by the gateway")
    claimed = html.index("claimed by the outbox")
    queued = html.index("queued through send_sms")
    assert refused < claimed < queued


def test_the_message_page_shows_its_times_and_the_timeline_to_the_second(
    admin_client, memory_provider
):
    message = failed_message(memory_provider)
    created = timezone.make_aware(timezone.datetime(2026, 1, 2, 3, 4, 5))
    Message.objects.filter(pk=message.pk).update(created_at=created)
    message.events.update(created_at=created + timedelta(seconds=7))

    html = page(admin_client.get(url("message", "change", message.pk)))

    assert '<div class="readonly">2026-01-02 03:04:05</div>' in html  # the created field
    assert "<td>2026-01-02 03:04:12</td>" in html  # the timeline
    assert "3:04 a.m." not in html  # Django's default, minutes only


def test_a_failed_message_row_shows_its_reason_truncated(admin_client, memory_provider):
    message = failed_message(memory_provider)
    Message.objects.filter(pk=message.pk).update(error_text=LONG_REASON)

    row = changelist_row(page(admin_client.get(url("message", "changelist"))), message)

    assert (
        '<td class="field-reason"><span class="hsms-clip">the gateway refused the number '
        "because it is on the"
    ) in row
    assert "…</span></td>" in row
    assert LONG_REASON.strip() not in row


def test_a_suppressed_message_row_shows_its_reason(admin_client):
    message = Message.objects.create(
        recipient="",
        body="Hi",
        status=Status.SUPPRESSED,
        error_category="no_recipient",
        error_text="the customer has no phone number",
    )

    row = changelist_row(page(admin_client.get(url("message", "changelist"))), message)

    assert (
        '<td class="field-reason"><span class="hsms-clip">the customer has no phone number'
        "</span></td>"
    ) in row


def test_a_delivered_message_row_shows_no_reason(admin_client, memory_provider):
    message = delivered_message(memory_provider)

    row = changelist_row(page(admin_client.get(url("message", "changelist"))), message)

    assert '<td class="field-reason">-</td>' in row  # the admin's empty value


def test_the_status_is_a_coloured_badge_that_carries_its_text(admin_client, memory_provider):
    failed = failed_message(memory_provider)
    delivered = delivered_message(memory_provider)

    html = page(admin_client.get(url("message", "changelist")))

    failed_badge = changelist_row(html, failed).split('class="hsms-status hsms-status-failed"')[1]
    delivered_badge = changelist_row(html, delivered).split("hsms-status-delivered")[1]
    assert "background: #ba2121" in failed_badge and ">failed</span>" in failed_badge
    assert "background: #2e7d32" in delivered_badge and ">delivered</span>" in delivered_badge


# -- provider actions ------------------------------------------------------------------


def test_send_test_sms_action_first_asks_for_number_and_text(admin_client, memory_provider):
    response = run_action(admin_client, "provider", "send_test_sms", [memory_provider])

    assert response.status_code == 200
    assert "Send a test SMS" in page(response)
    assert 'name="to"' in page(response)
    assert not Message.objects.exists()


def test_send_test_sms_queues_a_message_on_that_provider(admin_client, memory_provider):
    other = Provider.objects.create(name="Other", gateway="memory", priority=0)
    SenderID.objects.create(provider=other, value="OTHER")

    response = admin_client.post(
        url("provider", "changelist"),
        {
            "action": "send_test_sms",
            "_selected_action": [memory_provider.pk],
            "apply": "Send",
            "to": NUMBER,
            "text": "Test from the admin",
            "sender": "",
        },
        follow=True,
    )

    message = Message.objects.get()
    assert message.provider == memory_provider
    assert message.recipient == NUMBER
    assert message.status == Status.QUEUED
    assert f"Memory: test SMS queued as message #{message.pk}." in flash_messages(response)


def test_send_test_sms_with_invalid_number_shows_error_and_creates_nothing(
    admin_client, memory_provider
):
    response = admin_client.post(
        url("provider", "changelist"),
        {
            "action": "send_test_sms",
            "_selected_action": [memory_provider.pk],
            "apply": "Send",
            "to": "12345",
            "text": "Test from the admin",
        },
    )

    assert response.status_code == 200
    assert "12345" in " ".join(response.context["form"].errors["to"])
    assert not Message.objects.exists()
    assert not MessageEvent.objects.exists()


def test_check_balance_action_records_snapshots_and_reports_the_amount(
    admin_client, memory_provider
):
    MemoryGateway.balances["Trans"] = Decimal("42")

    response = run_action(admin_client, "provider", "check_balance", [memory_provider])

    assert BalanceSnapshot.objects.filter(provider=memory_provider).count() == 2
    [report] = flash_messages(response)
    assert report.startswith("Memory:")
    assert "main: 1000 credits" in report
    assert "Trans: 42 credits" in report


def test_check_balance_action_reports_a_gateway_error(admin_client, canlog_provider, canlog_sim):
    canlog_sim.set_faults(http_500=True)

    response = run_action(admin_client, "provider", "check_balance", [canlog_provider])

    [report] = response.context["messages"]
    assert str(report).startswith(f"{canlog_provider.name}: balance check failed")
    assert "HTTP 500" in str(report)
    assert report.level_tag == "error"
    assert not BalanceSnapshot.objects.exists()


def test_check_balance_action_says_calmly_that_a_gateway_has_no_balance_feature(
    admin_client, unified_provider
):
    response = run_action(admin_client, "provider", "check_balance", [unified_provider])

    [report] = response.context["messages"]
    assert str(report) == f"{unified_provider.name}: this gateway has no balance feature."
    assert report.level_tag == "info"
    assert not BalanceSnapshot.objects.exists()


def test_provider_changelist_shows_the_latest_balance_of_each_account(
    admin_client, memory_provider
):
    now = timezone.now()
    memory_provider.low_balance_threshold = Decimal("100")
    memory_provider.save()
    for account, amount, age in [("main", "900", 2), ("main", "77", 1), ("promo", "500", 3)]:
        BalanceSnapshot.objects.create(
            provider=memory_provider,
            account=account,
            amount=Decimal(amount),
            taken_at=now - timedelta(hours=age),
        )

    response = admin_client.get(url("provider", "changelist"))

    html = page(response)
    assert "main: 77.00 credits" in html
    assert "promo: 500.00 credits" in html
    assert "900.00" not in html
    assert ">low<" in html


def test_provider_changelist_reads_balances_in_a_constant_number_of_queries(
    admin_client, memory_provider
):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url("provider", "changelist")).status_code == 200
        return len(queries)

    BalanceSnapshot.objects.create(provider=memory_provider, account="main", amount=1)
    one = count_queries()
    for n in range(3):
        provider = Provider.objects.create(name=f"P{n}", gateway="memory")
        BalanceSnapshot.objects.create(provider=provider, account="main", amount=n)

    assert count_queries() == one


def test_callback_secrets_are_write_only_and_kept_when_left_empty(admin_client, memory_provider):
    memory_provider.callback_secrets = "cb-SECRET-one\ncb-SECRET-two"
    memory_provider.save()
    change = url("provider", "change", memory_provider.pk)

    shown = page(admin_client.get(change))
    admin_client.post(change, provider_form_data(memory_provider))

    memory_provider.refresh_from_db()
    assert "cb-SECRET" not in shown
    assert memory_provider.callback_secret_list() == ["cb-SECRET-one", "cb-SECRET-two"]


def test_the_callback_url_is_shown_with_a_placeholder_for_the_secret(admin_client, memory_provider):
    memory_provider.callback_secrets = "cb-SECRET-one"
    memory_provider.save()

    shown = page(admin_client.get(url("provider", "change", memory_provider.pk)))

    assert f"/sms/callback/{memory_provider.pk}/&lt;callback secret&gt;/" in shown
    assert "cb-SECRET-one" not in shown


def test_message_log_says_when_a_gateway_does_not_report_delivery(admin_client, db):
    from helpdesk_sms.models import Provider, SenderID

    provider = Provider.objects.create(name="NG", gateway="smsclone", username="u", password="p")
    SenderID.objects.create(provider=provider, value="HELPDESK")
    Message.objects.create(
        recipient="+2348031234567",
        body="Hi",
        provider=provider,
        sender="HELPDESK",
        status=Status.ACCEPTED,
    )

    shown = page(admin_client.get(url("message", "changelist")))

    assert "final: this gateway does not report delivery" in shown


def test_message_log_does_not_add_the_note_for_a_reporting_gateway(admin_client, memory_provider):
    Message.objects.create(
        recipient=NUMBER,
        body="Hi",
        provider=memory_provider,
        sender="HELPDK",
        status=Status.ACCEPTED,
    )

    shown = page(admin_client.get(url("message", "changelist")))

    assert "does not report delivery" not in shown


def test_message_page_shows_its_fields_as_text_not_inputs(admin_client, memory_provider):
    [message] = send_sms(NUMBER, "Hello there")

    shown = page(admin_client.get(url("message", "change", message.pk)))

    assert NUMBER in shown and "Hello there" in shown
    assert 'name="recipient"' not in shown and 'name="body"' not in shown
