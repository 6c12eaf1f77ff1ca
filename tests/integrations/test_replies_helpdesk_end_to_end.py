"""On django-helpdesk, a customer's SMS answer pushed by the gateway simulator over HTTP
becomes a follow-up on the staff ticket page, once, however often it is pushed."""

from __future__ import annotations

import pytest
from django.apps import apps

if not apps.is_installed("helpdesk"):
    pytest.skip("django-helpdesk is not in INSTALLED_APPS", allow_module_level=True)

from django.urls import reverse

from helpdesk_sms.inbound_models import InboundMessage

from . import test_django_helpdesk as helpdesk_tests

# The helpdesk tests' fixtures, used here by name (pytest finds them among the attributes).
_read_phones_from_custom_fields = helpdesk_tests._read_phones_from_custom_fields
phone_field = helpdesk_tests.phone_field
staff = helpdesk_tests.staff
staff_client = helpdesk_tests.staff_client
support = helpdesk_tests.support
ticket = helpdesk_tests.ticket
visitor = helpdesk_tests.visitor
CUSTOMER = helpdesk_tests.CUSTOMER

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "helpdesk-inbound-secret"


@pytest.fixture
def texting_sim(live_server, sms_provider, canlog_sim, shipped_templates):
    """The Canlog simulator, set to push customer SMS to the app's inbound URL."""
    sms_provider.callback_secrets = SECRET
    sms_provider.save()
    path = reverse(
        "helpdesk_sms:inbound", kwargs={"provider_id": sms_provider.pk, "secret": SECRET}
    )
    canlog_sim.reply_to = live_server.url + path
    return canlog_sim


def test_a_pushed_reply_is_one_followup_on_the_staff_ticket_page(texting_sim, ticket, staff_client):
    texting_sim.reply(CUSTOMER, "HLPDSK", f"#{ticket.pk} tray 2 still jams", repeat=3)

    page = staff_client.get(reverse("helpdesk:view", args=[ticket.pk])).content.decode()
    assert page.count("tray 2 still jams") == 1
    assert f"SMS received from {CUSTOMER}" in page
    assert InboundMessage.objects.get().repeat_count == 3
