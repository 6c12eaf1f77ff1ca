"""Country profiles: India, Nigeria, Azerbaijan and the Netherlands as presets of a provider
or a route — sender IDs checked per country, India's registered template required, part
limits, default quiet hours, Nigeria's DND route on smsclone, shown in the admin.

Only the clock is mocked (quiet hours); smsclone is its simulator over a real socket.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from helpdesk_sms import outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.country_profiles import PROFILES, RegisteredTemplateRequired
from helpdesk_sms.exceptions import InvalidSender, TextTooLong
from helpdesk_sms.integrations import model_watcher
from helpdesk_sms.models import (
    Message,
    MessageEvent,
    NotificationTemplate,
    Route,
    RouteHop,
    SenderID,
)
from helpdesk_sms.preview import quiet_hours_line
from helpdesk_sms.states import Status

from .fixtures_smsclone import SMSCLONE_DND_NUMBER
from .querycount import added, app_disabled, captured
from .test_admin import page, provider_form_data, template_form, url
from .test_commands import refused, run
from .test_notifications import BUDGET, make_ticket, within
from .test_quiet_hours import Clock
from .test_route_admin import field_errors, route_form

pytestmark = pytest.mark.django_db

KOLKATA = ZoneInfo("Asia/Kolkata")
INDIAN = "+919812345678"
DUTCH = "+31612345678"
TEMPLATE_ID = "1107161234567890123"

VALID_SENDERS = [
    ("IN", "HLPDSK"),
    ("NG", "HELPDESK"),
    ("NG", "Desk2go"),
    ("AZ", "ATLHELP"),
    ("NL", "Helpdesk"),
    ("NL", "+31612345678"),
    ("NL", "3010"),
]
INVALID_SENDERS = [
    ("IN", "HELPDESK"),  # 8 letters: a DLT header has 6
    ("IN", "123456"),  # digits: a promotional header
    ("NG", "HELPDESK2026"),  # 12 characters
    ("AZ", "Help Desk"),  # a space
    ("AZ", "12345"),  # no letter
    ("NL", "0612345678"),  # a number without +
]


@pytest.fixture
def clock(monkeypatch):
    """02:00 in Kolkata: inside every profile's night."""
    clock = Clock(datetime(2026, 3, 11, 2, 0, tzinfo=KOLKATA))
    monkeypatch.setattr(timezone, "now", clock)
    return clock


def with_profile(provider, code: str):
    provider.country_profile = code
    provider.save()
    return provider


def sender_on(provider, code: str, value: str) -> SenderID:
    with_profile(provider, code)
    return SenderID(provider=provider, value=value)


def acknowledgement() -> NotificationTemplate:
    return NotificationTemplate.objects.get(event="ticket_created", audience="customer")


def registered(template: NotificationTemplate) -> None:
    NotificationTemplate.objects.filter(pk=template.pk).update(registered_template_id=TEMPLATE_ID)


def routed(code: str, provider, *, country: str) -> Route:
    route = Route.objects.create(name=f"{code} route", country=country, country_profile=code)
    RouteHop.objects.create(route=route, provider=provider, position=1)
    return route


# -- sender IDs per country ----------------------------------------------------------------


@pytest.mark.parametrize(("code", "value"), VALID_SENDERS)
def test_a_sender_id_of_the_countrys_form_is_accepted(memory_provider, code, value):
    sender_on(memory_provider, code, value).full_clean()


@pytest.mark.parametrize(("code", "value"), INVALID_SENDERS)
def test_a_sender_id_of_another_form_is_refused_on_its_value_naming_the_rule(
    memory_provider, code, value
):
    with pytest.raises(ValidationError) as caught:
        sender_on(memory_provider, code, value).full_clean()

    [error] = caught.value.message_dict["value"]
    assert f"{value!r} is not a sender ID for the {PROFILES[code].name} profile" in error
    assert PROFILES[code].sender_rule.description in error


def test_a_provider_without_a_profile_keeps_any_sender_its_gateway_takes(memory_provider):
    SenderID(provider=memory_provider, value="HELPDESK2026").full_clean()


def test_a_default_sender_of_another_form_is_refused_on_the_default_sender(memory_provider):
    memory_provider.default_sender = SenderID.objects.create(
        provider=memory_provider, value="HELPDESK"
    )
    memory_provider.country_profile = "IN"

    with pytest.raises(ValidationError) as caught:
        memory_provider.full_clean()

    assert "exactly 6 letters" in caught.value.message_dict["default_sender"][0]


def test_a_send_from_a_sender_the_routes_profile_refuses_is_refused(memory_provider):
    routed("IN", memory_provider, country="NL")
    SenderID.objects.filter(pk=memory_provider.default_sender_id).update(value="HELPDESK")

    with pytest.raises(InvalidSender, match="not a sender ID for the India profile"):
        send_sms(DUTCH, "Your ticket is open.", registered_template_id=TEMPLATE_ID)
    assert not Message.objects.exists()


# -- India: a registered template id is required --------------------------------------------


def test_a_template_pinned_to_an_india_provider_needs_a_registered_template_id(
    memory_provider,
):
    template = acknowledgement()
    template.provider = with_profile(memory_provider, "IN")

    with pytest.raises(ValidationError) as caught:
        template.full_clean()

    [error] = caught.value.message_dict["registered_template_id"]
    assert "India profile, which requires a registered (DLT) template id" in error


def test_a_template_pinned_to_an_india_provider_with_its_id_is_accepted(memory_provider):
    template = acknowledgement()
    template.provider = with_profile(memory_provider, "IN")
    template.registered_template_id = TEMPLATE_ID

    template.full_clean()


def test_send_sms_without_a_registered_template_id_on_india_is_refused_writing_nothing(
    memory_provider,
):
    with_profile(memory_provider, "IN")

    with pytest.raises(RegisteredTemplateRequired) as caught:
        send_sms(INDIAN, "Your ticket is open.")

    assert caught.value.field == "registered_template_id"
    assert not Message.objects.exists()


def test_send_sms_with_a_registered_template_id_on_india_is_queued(memory_provider):
    with_profile(memory_provider, "IN")

    [message] = send_sms(INDIAN, "Your ticket is open.", registered_template_id=TEMPLATE_ID)

    assert message.status == Status.QUEUED


def test_sms_send_without_a_registered_template_id_on_india_names_its_option(memory_provider):
    with_profile(memory_provider, "IN")

    error = refused("sms_send", "--to", INDIAN, "--text", "Your ticket is open.")

    assert error.returncode == 2
    assert str(error).startswith("--dlt-template-id: The India profile requires")
    assert not Message.objects.exists()


def test_a_notification_without_a_registered_template_id_on_india_is_suppressed(
    memory_provider,
):
    with_profile(memory_provider, "IN")

    make_ticket(customer_phone=INDIAN)

    [message] = Message.objects.all()
    assert message.status == Status.SUPPRESSED
    assert message.error_category == "content_rejected"
    assert "India profile requires a registered (DLT) template id" in message.error_text


# -- part limits ------------------------------------------------------------------------------


def test_a_text_over_the_profiles_part_limit_is_refused(memory_provider):
    with_profile(memory_provider, "NL")  # 3 parts

    with pytest.raises(TextTooLong, match="Netherlands profile allows at most 3 SMS parts"):
        send_sms(DUTCH, "x" * (153 * 3 + 1))
    assert not Message.objects.exists()


def test_a_text_within_the_profiles_part_limit_is_queued(memory_provider):
    with_profile(memory_provider, "NL")

    [message] = send_sms(DUTCH, "x" * (153 * 3))

    assert message.parts == 3


# -- default quiet hours ----------------------------------------------------------------------


def test_the_profiles_quiet_hours_hold_a_notification_when_nothing_else_sets_them(
    memory_provider, clock
):
    with_profile(memory_provider, "IN")  # 21:00-09:00
    registered(acknowledgement())

    make_ticket(customer_phone=INDIAN)

    [message] = Message.objects.all()
    assert message.status == Status.SCHEDULED
    assert message.send_at == datetime(2026, 3, 11, 9, 0, tzinfo=KOLKATA)


def test_a_message_held_by_the_profiles_quiet_hours_says_so(memory_provider, clock):
    with_profile(memory_provider, "IN")
    registered(acknowledgement())

    make_ticket(customer_phone=INDIAN)

    first = MessageEvent.objects.order_by("pk").first()
    assert first.note.startswith("quiet hours 21:00–09:00 in Asia/Kolkata: held until 09:00")
    assert "(the India country profile's default)" in first.note


def test_the_site_quiet_hours_beat_the_profiles(memory_provider, clock, settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "QUIET_HOURS": "21:00-08:00"}
    with_profile(memory_provider, "IN")
    registered(acknowledgement())

    make_ticket(customer_phone=INDIAN)

    [message] = Message.objects.all()
    assert message.send_at == datetime(2026, 3, 11, 8, 0, tzinfo=KOLKATA)


def test_a_template_set_off_beats_the_profiles_quiet_hours(memory_provider, clock):
    with_profile(memory_provider, "IN")
    template = acknowledgement()
    registered(template)
    NotificationTemplate.objects.filter(pk=template.pk).update(quiet_hours="off")

    make_ticket(customer_phone=INDIAN)

    [message] = Message.objects.all()
    assert message.status == Status.QUEUED


def test_profile_quiet_hours_add_no_query_to_the_ticket_save(memory_provider, clock):
    with_profile(memory_provider, "IN")
    registered(acknowledgement())
    make_ticket()  # as in any running site: the ticket's ContentType is cached

    with_app = captured(make_ticket, atomic=True)
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SCHEDULED}
    with app_disabled(model_watcher.active.disconnect, model_watcher.active.connect):
        without_app = captured(make_ticket, atomic=True)

    assert within(added(with_app, without_app), BUDGET["create"])


# -- the route's profile before the provider's ------------------------------------------------


def test_the_routes_profile_beats_the_providers(memory_provider):
    with_profile(memory_provider, "NL")  # no registered template needed
    routed("IN", memory_provider, country="IN")  # needed

    with pytest.raises(RegisteredTemplateRequired):
        send_sms(INDIAN, "Your ticket is open.")


def test_a_route_without_a_profile_keeps_the_providers(memory_provider):
    with_profile(memory_provider, "IN")
    Route.objects.create(name="India", country="IN")
    RouteHop.objects.create(route=Route.objects.get(), provider=memory_provider, position=1)

    with pytest.raises(RegisteredTemplateRequired):
        send_sms(INDIAN, "Your ticket is open.")


# -- Nigeria: the DND route on smsclone ------------------------------------------------------


def test_nigerias_profile_sends_smsclone_on_the_dnd_fallback_route(smsclone_provider, smsclone_sim):
    smsclone_provider.options = {}
    with_profile(smsclone_provider, "NG")

    [message] = send_sms(SMSCLONE_DND_NUMBER, "Your ticket is open.", provider=smsclone_provider)
    outbox.dispatch()

    [taken] = smsclone_sim.messages
    assert taken.route == "dnd-fallback"
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED


def test_the_providers_own_smsclone_route_beats_the_profiles(smsclone_provider, smsclone_sim):
    with_profile(smsclone_provider, "NG")  # the fixture's options: {"route": "normal"}

    [message] = send_sms(SMSCLONE_DND_NUMBER, "Your ticket is open.", provider=smsclone_provider)
    outbox.dispatch()

    assert smsclone_sim.messages == []  # the normal route refuses a number on the register
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert "DND_REJECTED" in message.error_text


# -- the admin -------------------------------------------------------------------------------


def test_the_provider_page_shows_what_its_profile_implies(admin_client, memory_provider):
    with_profile(memory_provider, "IN")

    html = page(admin_client.get(url("provider", "change", memory_provider.pk)))

    assert "exactly 6 letters (the DLT header registered for the sender)" in html
    assert "a registered (DLT) template id is required" in html
    assert "default quiet hours 21:00-09:00" in html


def test_the_provider_form_refuses_a_profile_its_default_sender_does_not_fit(
    admin_client, memory_provider
):
    memory_provider.default_sender = SenderID.objects.create(
        provider=memory_provider, value="HELPDESK"
    )
    memory_provider.save()
    data = provider_form_data(memory_provider, country_profile="IN")

    response = admin_client.post(url("provider", "change", memory_provider.pk), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "'HELPDESK' is not a sender ID for the India profile" in errors["default_sender"][0]
    memory_provider.refresh_from_db()
    assert memory_provider.country_profile == ""


def test_the_provider_list_filters_by_profile(admin_client, memory_provider):
    with_profile(memory_provider, "NG")

    html = page(admin_client.get(url("provider", "changelist") + "?country_profile__exact=IN"))

    assert "0 SMS providers" in html


def test_the_route_page_shows_its_profile_and_what_it_implies(admin_client, memory_provider):
    route = routed("NL", memory_provider, country="NL")

    html = page(admin_client.get(url("route", "change", route.pk)))

    assert "Netherlands (NL)" in html
    assert "at most 3 SMS parts a message" in html


def test_a_route_row_whose_default_sender_does_not_fit_the_routes_profile_is_refused(
    admin_client, memory_provider
):
    SenderID.objects.filter(pk=memory_provider.default_sender_id).update(value="HELPDESK")
    data = route_form({"provider": memory_provider.pk}, name="India", country="IN")
    data["country_profile"] = "IN"

    response = admin_client.post(url("route", "add"), data)

    [error] = field_errors(response)["hops.sender"]
    assert "'HELPDESK' is not a sender ID for the India profile" in error
    assert "the provider's default is used" in error
    assert not Route.objects.exists()


def test_the_template_preview_names_the_profiles_quiet_hours(memory_provider):
    with_profile(memory_provider, "IN")
    template = NotificationTemplate(name="Ack", event="task_added", audience="customer", body="Hi")

    line = quiet_hours_line(
        template, memory_provider, now=datetime(2026, 3, 11, 2, 0, tzinfo=KOLKATA)
    )

    assert "Quiet hours 21:00–09:00 in the recipient's local time" in line


# -- failover ---------------------------------------------------------------------------------


def test_failover_skips_a_provider_whose_profile_the_message_does_not_fit(
    unified_provider, unified_sim, canlog_provider, canlog_sim
):
    route = Route.objects.create(name="India", country="IN")
    RouteHop.objects.create(route=route, provider=unified_provider, position=1)
    RouteHop.objects.create(route=route, provider=canlog_provider, position=2)
    with_profile(canlog_provider, "IN")  # requires a registered template id
    unified_sim.set_faults(credit_exhausted=True)
    [message] = send_sms(INDIAN, "Your ticket #42 is open")

    outbox.dispatch()

    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert canlog_sim.messages == []
    note = MessageEvent.objects.filter(message=message).order_by("pk").last().note
    assert "Canlog test cannot take it (The India profile requires a registered" in note


def test_the_provider_forms_sender_rows_follow_the_profile_chosen_on_the_same_page(
    admin_client, memory_provider
):
    data = provider_form_data(memory_provider, country_profile="NL")
    data.update(
        {
            "senders-TOTAL_FORMS": "1",
            "senders-0-value": "0612345678",
            "senders-0-is_active": "on",
        }
    )

    response = admin_client.post(url("provider", "change", memory_provider.pk), data)

    senders, _prices = response.context["inline_admin_formsets"]
    [error] = senders.formset.forms[0].errors["value"]
    assert "'0612345678' is not a sender ID for the Netherlands profile" in error
    assert not SenderID.objects.filter(value="0612345678").exists()


def test_the_template_form_refuses_an_india_provider_without_a_registered_template_id(
    admin_client, memory_provider
):
    with_profile(memory_provider, "IN")
    data = template_form(provider=memory_provider.pk, is_active=None)

    response = admin_client.post(url("notificationtemplate", "add"), data)

    [error] = response.context["adminform"].form.errors["registered_template_id"]
    assert "has the India profile, which requires a registered (DLT) template id" in error
    assert not NotificationTemplate.objects.filter(name="Second").exists()


# -- the command line -------------------------------------------------------------------------

#: ``sms_route add`` of an Indian route on the memory provider, with India's profile.
ADD_INDIA = ("sms_route", "add", "India", "--country", "IN", "--provider", "Memory")


def test_sms_route_add_sets_the_routes_profile(memory_provider):
    run(*ADD_INDIA, "--country-profile", "IN")

    assert Route.objects.get(name="India").country_profile == "IN"


def test_sms_route_add_refuses_a_sender_the_profile_does_not_take_naming_the_sender_option(
    memory_provider,
):
    SenderID.objects.filter(pk=memory_provider.default_sender_id).update(value="HELPDESK")

    error = refused(*ADD_INDIA, "--country-profile", "IN")

    assert error.returncode == 2
    assert str(error).startswith("--sender: 'HELPDESK' is not a sender ID for the India profile")
    assert not Route.objects.exists()


def test_sms_provider_add_refuses_a_sender_the_profile_does_not_take_naming_the_sender_option(
    db,
):
    error = refused(
        *("sms_provider", "add", "Dutch", "--gateway", "memory"),
        *("--country-profile", "NL", "--sender", "0612345678"),
    )

    assert error.returncode == 2
    assert str(error).startswith("--sender: '0612345678' is not a sender ID for the Netherlands")
    assert not SenderID.objects.exists()


def test_sms_provider_set_chooses_the_profile_and_show_prints_it(memory_provider):
    run("sms_provider", "set", "Memory", "--country-profile", "IN")

    assert "India (IN)" in run("sms_provider", "show", "Memory")
