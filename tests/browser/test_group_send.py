"""Texting a recipient group from the admin in a real browser: preview, confirm, and the
progress page following the send to the end by itself."""

from __future__ import annotations

from decimal import Decimal

import pytest

from helpdesk_sms.models import Contact, GroupSend, Message, RecipientGroup

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def floor3(db) -> RecipientGroup:
    """Two members to text and one whose number is no number."""
    group = RecipientGroup.objects.create(name="Floor 3")
    group.members.set(
        [
            Contact.objects.create(name="Asha", phone="+919812345671"),
            Contact.objects.create(name="Ravi", phone="+919812345672"),
            Contact.objects.create(name="Typo", phone="12"),
        ]
    )
    return group


def test_the_action_on_the_group_list_opens_the_send_page(admin_page, floor3, canlog_provider):
    page = admin_page.page
    admin_page.goto("/admin/helpdesk_sms/recipientgroup/")
    page.check(f"input[name=_selected_action][value='{floor3.pk}']")
    page.select_option("select[name=action]", "send_sms_to_group")
    with page.expect_navigation():
        page.click("button[name=index]")

    assert page.url.endswith(f"/admin/helpdesk_sms/recipientgroup/{floor3.pk}/send/")
    assert "Send SMS to group “Floor 3”" in page.locator("#content h1, #content").first.inner_text()


def test_a_group_send_is_previewed_confirmed_and_followed_until_final(
    admin_page, floor3, canlog_provider, canlog_sim, deliver
):
    canlog_provider.currency, canlog_provider.price_per_part = "INR", Decimal("0.20")
    canlog_provider.save()
    page = admin_page.page
    admin_page.goto(f"/admin/helpdesk_sms/recipientgroup/{floor3.pk}/change/")
    with page.expect_navigation():
        page.click("a.send-group-sms")
    page.fill("#id_text", "The office is closed on Friday.")
    admin_page.save("input[name=_preview]")

    preview = page.locator("#group-send-preview").inner_text()
    assert "Recipients\t2" in preview and "Total parts\t2" in preview
    assert "0.40 INR" in preview and "Typo" in preview
    assert not Message.objects.exists()

    admin_page.save("input[name=_confirm]")
    send = GroupSend.objects.get()
    assert page.url.endswith(f"/admin/helpdesk_sms/groupsend/{send.pk}/progress/")
    assert page.locator("[data-status=queued]").inner_text() == "2"

    deliver(canlog_sim)  # from the test process, while the page polls

    phase = page.locator("[data-field=phase]")
    phase.filter(has_text="final").wait_for()
    assert page.locator("[data-status=delivered]").inner_text() == "2"
    assert page.locator("[data-status=queued]").inner_text() == "0"
    assert page.locator("[data-field=cost]").inner_text() == "0.40 INR"
    assert page.locator("[data-field=refreshing]").is_hidden()
