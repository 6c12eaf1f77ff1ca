"""Sending to a recipient group from the admin: preview, confirm, progress, permissions."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from helpdesk_sms import group_sends, kick, outbox
from helpdesk_sms.admin_times import to_the_second
from helpdesk_sms.models import (
    Contact,
    GroupSend,
    Message,
    NotificationTemplate,
    Provider,
    RecipientGroup,
    SenderID,
)
from helpdesk_sms.states import Source, Status
from helpdesk_sms.transitions import move_where

pytestmark = pytest.mark.django_db

VALID = ["+919812345671", "+919812345672", "+919812345673"]
#: 200 GSM-7 characters: two parts (153 a part once concatenated).
TWO_PARTS = "Office closed on Friday for maintenance. " * 5


@pytest.fixture
def priced_provider(memory_provider):
    memory_provider.currency = "EUR"
    memory_provider.price_per_part = Decimal("0.05")
    memory_provider.save()
    return memory_provider


@pytest.fixture
def group(db):
    """Three members to text, one whose number is no number, one opted out, one inactive."""
    group = RecipientGroup.objects.create(name="Floor 3")
    contacts = [Contact(name=f"Member {i}", phone=phone) for i, phone in enumerate(VALID, 1)]
    contacts += [
        Contact(name="Broken", phone="12"),
        Contact(name="Quiet", phone="+919812345674", opted_out=True),
        Contact(name="Gone", phone="+919812345675", is_active=False),
    ]
    Contact.objects.bulk_create(contacts)
    group.members.set(Contact.objects.all())
    return group


def send_url(group: RecipientGroup) -> str:
    return reverse("admin:helpdesk_sms_recipientgroup_send", args=[group.pk])


def progress_url(send: GroupSend) -> str:
    return reverse("admin:helpdesk_sms_groupsend_progress", args=[send.pk])


def preview(client, group, **data):
    return client.post(send_url(group), {"_preview": "1", **data})


def confirm(client, group, previewed, **data):
    """Post the confirm button of a preview page, with the form's token and fingerprint."""
    context = previewed.context
    form = {"token": context["token"], "previewed": context["plan"].digest(), "_confirm": "1"}
    return client.post(send_url(group), {**form, **data})


def progress_json(client, send: GroupSend) -> dict:
    response = client.get(progress_url(send), {"format": "json"})
    assert response.status_code == 200
    return json.loads(response.content)


def field_errors(response) -> dict[str, list[str]]:
    return {name: list(errors) for name, errors in response.context["form"].errors.items()}


def nothing_written() -> bool:
    return not GroupSend.objects.exists() and not Message.objects.exists()


# -- preview ------------------------------------------------------------------------------


def test_preview_shows_recipients_parts_and_estimated_cost(admin_client, priced_provider, group):
    response = preview(admin_client, group, text=TWO_PARTS)

    summary = dict((str(k), str(v)) for k, v in response.context["summary"])
    assert summary["Recipients"] == "3"
    assert summary["Encoding"] == "GSM-7"
    assert summary["Parts per message"] == "2"
    assert summary["Total parts"] == "6"
    assert summary["Estimated cost"] == "0.30 EUR"
    assert "0.30 EUR" in response.content.decode()
    assert nothing_written()


def test_preview_names_the_members_not_texted_and_why(admin_client, memory_provider, group):
    response = preview(admin_client, group, text="Hello")

    page = response.content.decode()
    summary = dict((str(k), str(v)) for k, v in response.context["summary"])
    assert summary["Not texted"] == (
        "1 with a number the provider cannot text, 1 inactive, 1 opted out"
    )
    assert "Broken" in page and "Quiet" not in page
    assert response.context["plan"].skipped[0].phone == "12"


def test_preview_of_unicode_text_counts_unicode_parts(admin_client, memory_provider, group):
    response = preview(admin_client, group, text="नमस्ते " * 12)  # 84 UCS-2 units: 2 parts

    summary = dict((str(k), str(v)) for k, v in response.context["summary"])
    assert summary["Encoding"] == "Unicode (UCS-2)"
    assert summary["Total parts"] == "6"


def test_preview_prices_numbers_by_their_country(admin_client, priced_provider, group):
    priced_provider.prices.create(region="IN", price_per_part=Decimal("0.01"))

    response = preview(admin_client, group, text="Hello")

    assert dict(response.context["summary"])["Estimated cost"] == "0.03 EUR"


def test_preview_without_prices_says_the_cost_is_unknown(admin_client, memory_provider, group):
    response = preview(admin_client, group, text="Hello")

    assert "unknown: provider Memory has no price" in str(
        dict(response.context["summary"])["Estimated cost"]
    )


# -- confirm ------------------------------------------------------------------------------


def test_confirm_creates_one_message_per_member_texted(admin_client, priced_provider, group):
    previewed = preview(admin_client, group, text="Hello")

    response = confirm(admin_client, group, previewed, text="Hello")

    send = GroupSend.objects.get()
    assert response.status_code == 302
    assert response["Location"] == progress_url(send)
    messages = Message.objects.filter(group_send=send)
    assert sorted(messages.values_list("recipient", flat=True)) == VALID
    assert Message.objects.count() == 3
    assert {m.status for m in messages} == {Status.QUEUED}
    assert all(m.events.count() == 1 for m in messages)


def test_confirm_records_who_sent_what_and_who_was_skipped(
    admin_client, admin_user, priced_provider, group
):
    previewed = preview(admin_client, group, text=TWO_PARTS)

    confirm(admin_client, group, previewed, text=TWO_PARTS)

    send = GroupSend.objects.get()
    assert send.created_by == admin_user
    assert (send.group, send.group_name, send.text) == (group, "Floor 3", TWO_PARTS)
    assert (send.recipients, send.parts) == (3, 6)
    assert (send.estimated_cost, send.currency) == (Decimal("0.30"), "EUR")
    assert [s["name"] for s in send.skipped] == ["Broken"]


def test_progress_page_after_confirm_lists_the_skipped_members(
    admin_client, memory_provider, group
):
    previewed = preview(admin_client, group, text="Hello")

    response = confirm(admin_client, group, previewed, text="Hello")
    page = admin_client.get(response["Location"]).content.decode()

    assert "3 messages queued to group Floor 3. 1 member skipped" in page
    assert "Broken (12)" in page


def test_progress_page_and_list_show_when_it_was_sent_to_the_second(
    admin_client, memory_provider, group
):
    previewed = preview(admin_client, group, text="Hello")
    response = confirm(admin_client, group, previewed, text="Hello")
    send = GroupSend.objects.get()
    shown = to_the_second(send.created_at)

    assert f"on {shown}" in admin_client.get(response["Location"]).content.decode()
    listed = admin_client.get(reverse("admin:helpdesk_sms_groupsend_changelist"))
    assert shown in listed.content.decode()


def test_confirming_the_same_form_twice_sends_once(admin_client, memory_provider, group):
    previewed = preview(admin_client, group, text="Hello")
    first = confirm(admin_client, group, previewed, text="Hello")

    second = confirm(admin_client, group, previewed, text="Hello")

    assert second.status_code == 302
    assert second["Location"] == first["Location"]
    assert GroupSend.objects.count() == 1
    assert Message.objects.count() == 3
    page = admin_client.get(second["Location"]).content.decode()
    assert "This send was confirmed already: nothing was sent again." in page


def test_a_confirm_losing_the_race_for_its_token_returns_the_winners_send(
    admin_user, memory_provider, group
):
    """Two requests confirming one form at once both get past the view's look-up: the
    unique token lets one insert win, and the other writes nothing."""
    token = "ab" * 16
    first, made_first = group_sends.confirm(
        group_sends.plan(group, text="Hello"), token=token, user=admin_user
    )

    second, made_second = group_sends.confirm(
        group_sends.plan(group, text="Hello"), token=token, user=admin_user
    )

    assert (made_first, made_second) == (True, False)
    assert second == first
    assert Message.objects.count() == 3


def test_confirm_after_the_text_changed_previews_again_and_sends_nothing(
    admin_client, memory_provider, group
):
    previewed = preview(admin_client, group, text="Hello")

    response = confirm(admin_client, group, previewed, text="Hello, changed")

    assert response.status_code == 200
    assert "changed since the preview" in str(response.context["form"].non_field_errors())
    assert response.context["plan"].drafts[0].body == "Hello, changed"
    assert nothing_written()


def test_confirm_after_a_member_joined_previews_again_and_sends_nothing(
    admin_client, memory_provider, group
):
    previewed = preview(admin_client, group, text="Hello")
    group.members.add(Contact.objects.create(name="New", phone="+919812345679"))

    response = confirm(admin_client, group, previewed, text="Hello")

    assert "changed since the preview" in str(response.context["form"].non_field_errors())
    assert nothing_written()


def test_a_template_is_rendered_with_each_members_name(admin_client, memory_provider, group):
    template = NotificationTemplate.objects.create(
        name="Closure", event="manual", audience="customer", body="Hi {{ recipient_name }}!"
    )
    previewed = preview(admin_client, group, template=template.pk)

    confirm(admin_client, group, previewed, template=template.pk)

    bodies = sorted(Message.objects.values_list("body", flat=True))
    assert bodies == ["Hi Member 1!", "Hi Member 2!", "Hi Member 3!"]
    assert set(Message.objects.values_list("template", flat=True)) == {template.pk}


def test_the_dispatcher_is_kicked_once_the_send_commits(
    admin_client, memory_provider, group, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "DISPATCH": "celery"}
    requests: list[int] = []
    monkeypatch.setattr(kick.publisher, "request", lambda: requests.append(1))
    previewed = preview(admin_client, group, text="Hello")

    with django_capture_on_commit_callbacks(execute=True):
        confirm(admin_client, group, previewed, text="Hello")

    assert requests == [1]


# -- bad input: an error on the field, nothing written ----------------------------------


def test_no_text_and_no_template_is_an_error_on_the_text(admin_client, memory_provider, group):
    previewed = preview(admin_client, group, text="")

    assert field_errors(previewed) == {"text": ["Type the text to send, or choose a template."]}
    assert confirm_without_plan(admin_client, group, text="") and nothing_written()


def test_blank_text_is_an_error_on_the_text(admin_client, memory_provider, group):
    response = preview(admin_client, group, text="   ")

    assert field_errors(response) == {"text": ["The text is empty."]}
    assert confirm_without_plan(admin_client, group, text="   ") and nothing_written()


def test_text_and_template_together_is_an_error_on_the_template(
    admin_client, memory_provider, group
):
    template = NotificationTemplate.objects.create(
        name="Closure", event="manual", audience="customer", body="Closed"
    )

    response = preview(admin_client, group, text="Hello", template=template.pk)

    assert field_errors(response) == {"template": ["Type a text or choose a template, not both."]}
    assert confirm_without_plan(admin_client, group, text="Hi", template=template.pk)
    assert nothing_written()


def test_a_template_needing_a_ticket_is_an_error_on_the_template(
    admin_client, memory_provider, group
):
    template = NotificationTemplate.objects.create(
        name="Ticket", event="manual", audience="customer", body="#{{ ticket.pk }} done"
    )

    response = preview(admin_client, group, template=template.pk)

    [error] = field_errors(response)["template"]
    assert "uses {{ ticket.pk }}, which a group send has no value for" in error
    assert confirm_without_plan(admin_client, group, template=template.pk)
    assert nothing_written()


def test_a_group_without_members_to_text_is_an_error_naming_the_group(
    admin_client, memory_provider
):
    empty = RecipientGroup.objects.create(name="Nobody")
    empty.members.add(Contact.objects.create(name="Quiet", phone=VALID[0], opted_out=True))

    response = preview(admin_client, empty, text="Hello")

    [error] = response.context["form"].non_field_errors()
    assert error == (
        "Group 'Nobody' has no members to text (1 in all, 0 inactive, 1 opted out): add "
        "contacts on the group's page."
    )
    assert confirm_without_plan(admin_client, empty, text="Hello") and nothing_written()


def test_a_group_whose_numbers_are_all_invalid_is_an_error_naming_the_group(
    admin_client, memory_provider
):
    broken = RecipientGroup.objects.create(name="Broken")
    broken.members.add(Contact.objects.create(name="Typo", phone="12"))

    response = preview(admin_client, broken, text="Hello")

    [error] = response.context["form"].non_field_errors()
    assert error.startswith("None of the 1 members of group 'Broken' has a number")
    assert nothing_written()


def test_an_inactive_provider_is_an_error_on_the_provider(admin_client, memory_provider, group):
    memory_provider.is_active = False
    memory_provider.save()

    response = preview(admin_client, group, text="Hello", provider=memory_provider.pk)

    assert field_errors(response) == {"provider": ["Provider 'Memory' is not active."]}
    assert confirm_without_plan(admin_client, group, text="Hello", provider=memory_provider.pk)
    assert nothing_written()


def test_a_provider_without_a_sender_is_an_error_on_the_sender(admin_client, group):
    bare = Provider.objects.create(name="Bare", gateway="memory")

    response = preview(admin_client, group, text="Hello", provider=bare.pk)

    [error] = field_errors(response)["sender"]
    assert error.startswith("Provider 'Bare' has no default sender ID")
    assert nothing_written()


def test_another_providers_sender_is_an_error_on_the_sender(admin_client, memory_provider, group):
    other = Provider.objects.create(name="Other", gateway="memory")
    foreign = SenderID.objects.create(provider=other, value="OTHER")

    response = preview(
        admin_client, group, text="Hello", provider=memory_provider.pk, sender=foreign.pk
    )

    assert field_errors(response) == {"sender": ["Sender ID 'OTHER' belongs to another provider."]}


def test_text_over_the_gateways_parts_limit_is_an_error_on_the_text(admin_client, group):
    sms1601 = Provider.objects.create(name="1601", gateway="sms1601")
    sms1601.default_sender = SenderID.objects.create(provider=sms1601, value="Helpdesk")
    sms1601.save()

    response = preview(admin_client, group, text="x" * 500, provider=sms1601.pk)

    [error] = field_errors(response)["text"]
    assert "allows at most 3 SMS parts; this text needs 4" in error
    assert confirm_without_plan(admin_client, group, text="x" * 500, provider=sms1601.pk)
    assert nothing_written()


def test_a_provider_side_group_is_refused_naming_the_group(admin_client, memory_provider):
    gateway_group = RecipientGroup.objects.create(
        name="On the gateway", provider=memory_provider, provider_group_id="7"
    )

    response = preview(admin_client, gateway_group, text="Hello")

    [error] = response.context["form"].non_field_errors()
    assert "is kept on the gateway (group id 7)" in error
    assert nothing_written()


def confirm_without_plan(client, group, **data) -> bool:
    """A confirm posted straight away (no preview) with bad input: shown again, not sent."""
    token = "0" * 32
    response = client.post(send_url(group), {"_confirm": "1", "token": token, **data})
    return response.status_code == 200 and bool(response.context["form"].errors)


# -- progress -----------------------------------------------------------------------------


@pytest.fixture
def sent(admin_client, priced_provider, group) -> GroupSend:
    previewed = preview(admin_client, group, text=TWO_PARTS)
    confirm(admin_client, group, previewed, text=TWO_PARTS)
    return GroupSend.objects.get()


def test_progress_counts_follow_the_dispatch(admin_client, sent):
    before = progress_json(admin_client, sent)

    outbox.dispatch()
    after = progress_json(admin_client, sent)

    assert before["counts"]["queued"] == 3 and before["phase"] == "sending"
    assert (before["parts"], before["cost"]) == (0, "0.00 EUR")
    assert after["counts"]["queued"] == 0 and after["counts"]["accepted"] == 3
    assert (after["parts"], after["cost"]) == (6, "0.30 EUR")
    assert after["phase"] == "awaiting reports" and after["final"] is False


def test_progress_is_final_when_every_message_is(admin_client, sent):
    outbox.dispatch()
    move_where(
        Message.objects.filter(group_send=sent),
        Status.ACCEPTED,
        Status.DELIVERED,
        source=Source.WEBHOOK,
        note="delivered",
    )

    data = progress_json(admin_client, sent)
    page = admin_client.get(progress_url(sent)).content.decode()

    assert data["final"] is True and data["counts"]["delivered"] == 3
    assert "final: every message is in its final state" in page
    assert 'http-equiv="refresh"' not in page


def test_progress_page_refreshes_itself_until_final(admin_client, sent):
    page = admin_client.get(progress_url(sent)).content.decode()

    assert "sending: some messages are still on their way" in page
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page
    assert "helpdesk_sms/group_send_progress.js" in page


def test_progress_page_shows_billed_parts_against_the_estimate(admin_client, sent):
    outbox.dispatch()

    page = admin_client.get(progress_url(sent)).content.decode()

    assert 'Parts billed so far: <span data-field="parts">6</span> of 6' in page
    assert "estimated in all: 0.30 EUR" in page


def test_progress_reads_the_messages_in_one_query(admin_client, sent):
    with CaptureQueriesContext(connection) as queries:
        progress_json(admin_client, sent)

    reads = [q["sql"] for q in queries if '"helpdesk_sms_message"' in q["sql"]]
    assert len(reads) == 1


def test_progress_links_to_the_sends_messages(admin_client, sent, memory_provider):
    Message.objects.create(recipient="+919812345600", body="other", provider=memory_provider)
    link = admin_client.get(progress_url(sent)).context["messages_url"]

    response = admin_client.get(link)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 3


def test_group_send_list_and_record_pages_load(admin_client, sent):
    listing = admin_client.get(reverse("admin:helpdesk_sms_groupsend_changelist"))
    record = admin_client.get(reverse("admin:helpdesk_sms_groupsend_change", args=[sent.pk]))

    assert listing.status_code == record.status_code == 200
    assert "Broken (12): " in record.content.decode()


# -- the way in, and who may use it --------------------------------------------------------


def test_action_on_one_group_opens_its_send_page(admin_client, group):
    response = admin_client.post(
        reverse("admin:helpdesk_sms_recipientgroup_changelist"),
        {"action": "send_sms_to_group", "_selected_action": [group.pk], "index": 0},
    )

    assert response.status_code == 302
    assert response["Location"] == send_url(group)


def test_action_on_several_groups_asks_for_one(admin_client, group):
    other = RecipientGroup.objects.create(name="Floor 4")

    response = admin_client.post(
        reverse("admin:helpdesk_sms_recipientgroup_changelist"),
        {"action": "send_sms_to_group", "_selected_action": [group.pk, other.pk], "index": 0},
        follow=True,
    )

    [message] = [str(m) for m in response.context["messages"]]
    assert message == (
        "Select exactly one group to send to: a send goes to one group at a time (2 selected)."
    )


def test_group_change_page_has_a_send_button(admin_client, group):
    page = admin_client.get(
        reverse("admin:helpdesk_sms_recipientgroup_change", args=[group.pk])
    ).content.decode()

    assert f'href="{send_url(group)}"' in page


@pytest.fixture
def staff(db, django_user_model, client):
    user = django_user_model.objects.create_user("ops", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_recipientgroup"))
    client.force_login(user)
    return user


def grant(user, codename: str) -> None:
    user.user_permissions.add(Permission.objects.get(codename=codename))


def test_sending_needs_the_add_group_send_permission(client, staff, memory_provider, group):
    denied = client.post(send_url(group), {"_preview": "1", "text": "Hello"})
    listing = client.get(reverse("admin:helpdesk_sms_recipientgroup_changelist"))

    assert denied.status_code == 403
    assert "send_sms_to_group" not in listing.content.decode()


def test_staff_with_the_permission_can_send(client, staff, memory_provider, group):
    grant(staff, "add_groupsend")

    previewed = preview(client, group, text="Hello")
    response = confirm(client, group, previewed, text="Hello")

    assert response.status_code == 302
    assert Message.objects.count() == 3


def test_following_a_send_needs_the_view_permission(client, staff, sent):
    denied = client.get(progress_url(sent), {"format": "json"})
    grant(staff, "view_groupsend")
    allowed = client.get(progress_url(sent), {"format": "json"})

    assert (denied.status_code, allowed.status_code) == (403, 200)
