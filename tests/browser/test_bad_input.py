"""Bad input in the admin's forms, typed in a real browser: each shows its error, naming the
field and the rule, and nothing is written."""

from __future__ import annotations

import pytest

from helpdesk_sms.models import (
    Contact,
    Message,
    NotificationTemplate,
    Provider,
    RecipientGroup,
    SenderID,
)

pytestmark = pytest.mark.django_db(transaction=True)


def field_errors(page, field: str) -> str:
    """The error list Django's admin shows beside one field (empty when there is none)."""
    errors = page.locator(f"#id_{field}_error")
    return errors.inner_text() if errors.count() else ""


def test_a_template_reading_an_unknown_variable_is_refused_naming_it(admin_page):
    page = admin_page.page
    admin_page.goto("/admin/helpdesk_sms/notificationtemplate/add/")
    page.fill("#id_name", "Leaky")
    page.select_option("#id_event", "ticket_created")
    page.select_option("#id_audience", "customer")
    page.fill("#id_body", "Hi {{ ticket.customer.user.password }}")
    admin_page.save()

    assert "ticket.customer" in field_errors(page, "body")
    assert not NotificationTemplate.objects.filter(name="Leaky").exists()


def test_a_second_active_template_for_the_same_event_is_refused(admin_page, shipped_templates):
    shipped = NotificationTemplate.objects.filter(is_active=True).first()
    page = admin_page.page
    admin_page.goto("/admin/helpdesk_sms/notificationtemplate/add/")
    page.fill("#id_name", "Twin")
    page.select_option("#id_event", shipped.event)
    page.select_option("#id_audience", shipped.audience)
    page.fill("#id_body", "Hello again")
    admin_page.save()

    refusal = page.locator(".errorlist.nonfield").inner_text()
    assert "doubling every SMS" in refusal
    assert not NotificationTemplate.objects.filter(name="Twin").exists()


def test_a_contact_with_an_unusable_number_is_refused_naming_the_phone(admin_page):
    page = admin_page.page
    admin_page.goto("/admin/helpdesk_sms/contact/add/")
    page.fill("#id_name", "Ravi")
    page.fill("#id_phone", "12")
    admin_page.save()

    assert "too short" in field_errors(page, "phone")
    assert not Contact.objects.exists()


def test_a_sender_id_the_gateway_refuses_is_refused_naming_the_rule(admin_page, canlog_provider):
    page = admin_page.page
    admin_page.goto("/admin/helpdesk_sms/senderid/add/")
    page.select_option("#id_provider", str(canlog_provider.pk))
    page.fill("#id_value", "HELP DESK 24x7 SUPPORT")
    admin_page.save()

    assert "at most 6 characters" in field_errors(page, "value")
    assert not SenderID.objects.filter(value="HELP DESK 24x7 SUPPORT").exists()


def test_the_provider_form_offers_no_test_only_gateway(admin_page, settings):
    settings.DEBUG = False
    admin_page.goto("/admin/helpdesk_sms/provider/add/")

    offered = admin_page.page.locator("#id_gateway option").all_inner_texts()
    assert offered and not any("memory" in o.lower() or "console" in o.lower() for o in offered)


def test_an_active_provider_without_its_credentials_is_refused_naming_the_field(admin_page):
    page = admin_page.page
    admin_page.goto("/admin/helpdesk_sms/provider/add/")
    page.fill("#id_name", "Canlog India")
    page.select_option("#id_gateway", "canlog")
    page.fill("#id_base_url", "http://127.0.0.1:9/")
    admin_page.save()

    assert "the API key is missing" in field_errors(page, "api_key")
    assert not Provider.objects.filter(name="Canlog India").exists()


def test_a_group_send_without_text_is_refused_on_the_text(admin_page, canlog_provider):
    group = RecipientGroup.objects.create(name="On call")
    group.members.add(Contact.objects.create(name="Asha", phone="+919812345671"))
    page = admin_page.page
    admin_page.goto(f"/admin/helpdesk_sms/recipientgroup/{group.pk}/send/")
    admin_page.save("#content [name=_preview]")

    assert field_errors(page, "text")
    assert not Message.objects.exists()
