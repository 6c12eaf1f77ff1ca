"""Inbound SMS in the admin and on the dashboard."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from helpdesk_sms.inbound import receive
from helpdesk_sms.inbound_models import InboundAction, InboundMessage
from helpdesk_sms.models import Provider

from .test_admin import flash_messages, page, run_action, url
from .test_dashboard import dashboard, text

pytestmark = pytest.mark.django_db

PASSWORD = "admin-inbound-password-77"
SECRET = "admin-inbound-callback-secret"


@pytest.fixture
def provider(db) -> Provider:
    return Provider.objects.create(
        name="Replies",
        gateway="memory",
        password=PASSWORD,
        callback_secrets=SECRET,
    )


def reply(provider, text="Yes please", sender="+919812345678", **extra) -> InboundMessage:
    data = {"from": sender, "to": "HELPDK", "text": text, **extra}
    return receive(provider, data).message


def test_the_list_shows_each_reply_with_its_action_and_repeats(admin_client, provider):
    reply(provider, id="r1")
    reply(provider, id="r1")

    response = admin_client.get(url("inboundmessage", "changelist"))

    html = page(response)
    assert response.status_code == 200
    assert "+919812345678" in html and "Yes please" in html
    assert "kept for a human" in html
    assert response.context["cl"].result_list[0].repeat_count == 2


def test_the_list_filters_by_action(admin_client, provider):
    reply(provider, text="one", id="1")
    handled = reply(provider, text="two", id="2")
    InboundMessage.objects.filter(pk=handled.pk).update(action=InboundAction.HANDLED)

    response = admin_client.get(url("inboundmessage", "changelist"), {"action__exact": "handled"})

    assert [m.text for m in response.context["cl"].result_list] == ["two"]


@pytest.mark.parametrize("term", ["98123", "refund", "gw-77"])
def test_the_list_searches_number_text_and_gateway_id(admin_client, provider, term):
    reply(provider, text="about my refund", id="gw-77")
    reply(provider, text="other", sender="+919900000001", id="x")

    response = admin_client.get(url("inboundmessage", "changelist"), {"q": term})

    assert [m.gateway_id for m in response.context["cl"].result_list] == ["gw-77"]


def test_the_page_shows_the_pushed_data_without_secrets(admin_client, provider):
    message = reply(provider, note=f"{PASSWORD} {SECRET}", password=PASSWORD)

    html = page(admin_client.get(url("inboundmessage", "change", message.pk)))

    assert "Yes please" in html
    assert PASSWORD not in html and SECRET not in html


def test_no_reply_can_be_added_by_hand(admin_client):
    assert admin_client.get(url("inboundmessage", "add")).status_code == 403


def test_the_ticket_is_linked_where_the_host_has_an_admin_page(admin_client, provider, admin_user):
    message = reply(provider)
    message.ticket_type = ContentType.objects.get_for_model(admin_user)
    message.ticket_id = str(admin_user.pk)
    message.save()

    html = page(admin_client.get(url("inboundmessage", "changelist")))

    assert f'/admin/auth/user/{admin_user.pk}/change/">#{admin_user.pk}</a>' in html


def test_mark_handled_and_keep_for_a_human(admin_client, provider):
    message = reply(provider)

    response = run_action(admin_client, "inboundmessage", "mark_handled", [message])
    message.refresh_from_db()
    assert flash_messages(response) == ["1 reply marked handled."]
    assert message.action == InboundAction.HANDLED and message.handled_at is not None

    run_action(admin_client, "inboundmessage", "keep_for_a_human", [message])
    message.refresh_from_db()
    assert (message.action, message.handled_at) == (InboundAction.UNASSIGNED, None)


def test_the_dashboard_counts_replies_kept_for_a_human_and_links_them(admin_client, provider):
    reply(provider, text="one", id="1")
    reply(provider, text="two", id="2")
    done = reply(provider, text="three", id="3")
    InboundMessage.objects.filter(pk=done.pk).update(action=InboundAction.HANDLED)

    response = dashboard(admin_client)

    [item] = [i for i in response.context["attention"] if "kept" in str(i["label"])]
    listing = admin_client.get(item["url"])
    assert item["count"] == listing.context["cl"].result_count == 2
    assert "customer replies kept for a human" in text(response)


def test_the_dashboard_counts_replies_that_could_not_be_handled(admin_client, provider):
    failed = reply(provider, text="one", id="1")
    InboundMessage.objects.filter(pk=failed.pk).update(action=InboundAction.ERROR)

    response = dashboard(admin_client)

    [item] = [i for i in response.context["attention"] if "could not" in str(i["label"])]
    listing = admin_client.get(item["url"])
    assert item["count"] == listing.context["cl"].result_count == 1


def test_the_provider_page_shows_the_inbound_url_without_the_secret(admin_client, provider):
    shown = page(admin_client.get(url("provider", "change", provider.pk)))

    assert f"/sms/inbound/{provider.pk}/&lt;callback secret&gt;/" in shown
    assert SECRET not in shown


def test_sms_provider_show_prints_the_inbound_url_without_the_secret(provider):
    from .test_commands import run

    output = run("sms_provider", "show", provider.name, "--base-url", "https://h.example")

    assert f"Inbound URL: https://h.example/sms/inbound/{provider.pk}/<callback secret>/" in output
    assert SECRET not in output
