"""The template form's live preview: the form's current values rendered before any save."""

from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk_sms.models import NotificationTemplate

URL = "admin:helpdesk_sms_notificationtemplate_live_preview"


def preview(client, **fields):
    data = {"event": "ticket_created", "audience": "customer", "provider": "", **fields}
    return client.post(reverse(URL), data)


def test_the_preview_renders_the_typed_text_with_the_sample_ticket(admin_client, db):
    response = preview(admin_client, body="Ticket {{ ticket_id }}: {{ title }}")

    data = response.json()
    assert data["errors"] == {}
    assert 'Ticket 123: Printer on floor 3 is jammed' in data["html"]


def test_the_preview_counts_parts_and_encoding(admin_client, db):
    data = preview(admin_client, body="Zoë " * 50).json()

    assert "SMS parts: 3" in data["html"]
    assert "Unicode" in data["html"] or "UCS-2" in data["html"]


def test_an_unknown_variable_is_named_as_a_save_would_name_it(admin_client, db):
    data = preview(admin_client, body="Hello {{ customer_shoe_size }}").json()

    assert data["errors"] == {
        "body": "{{ customer_shoe_size }} is not a template variable for the “ticket created” "
        "event; the variables are listed below the body."
    }


def test_a_syntax_error_is_named(admin_client, db):
    data = preview(admin_client, body="Hello {% if %}").json()

    assert "body" in data["errors"]


def test_a_missing_provider_is_named(admin_client, db):
    data = preview(admin_client, body="Hi", provider="999").json()

    assert data["errors"] == {"provider": "Provider '999' does not exist."}


def test_the_preview_writes_nothing(admin_client, db):
    before = NotificationTemplate.objects.count()

    preview(admin_client, body="Hi {{ title }}")

    assert NotificationTemplate.objects.count() == before


def test_a_get_is_refused(admin_client, db):
    assert admin_client.get(reverse(URL)).status_code == 405


def test_staff_without_template_permissions_are_refused(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(user)

    response = preview(client, body="Hi")

    assert response.status_code == 403


def test_the_endpoint_needs_the_csrf_token(django_user_model):
    from django.test import Client

    user = django_user_model.objects.create_superuser("op", "op@example.com", "pw")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = preview(client, body="Hi")

    assert response.status_code == 403


def test_the_change_page_loads_the_script_and_marks_the_preview_box(admin_client, db):
    template = NotificationTemplate.objects.first()

    page = admin_client.get(
        reverse("admin:helpdesk_sms_notificationtemplate_change", args=[template.pk])
    ).content.decode()

    assert "helpdesk_sms/template_preview.js" in page
    assert f'data-url="{reverse(URL)}"' in page


@pytest.mark.parametrize("body", ["", "   "])
def test_an_empty_text_says_nothing_would_be_sent(admin_client, db, body):
    data = preview(admin_client, body=body).json()

    assert "nothing would be sent" in data["html"]
