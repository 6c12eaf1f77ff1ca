"""Routes in the admin, in a real browser: a route saved with its providers chooses the
provider of the next send; a provider that may not text the country is refused on its row."""

from __future__ import annotations

import pytest

from helpdesk_sms.api import send_sms
from helpdesk_sms.models import Route

from ..test_routing import provider

pytestmark = pytest.mark.django_db(transaction=True)

NG = "+2347031234567"


def fill_route(admin_page, provider_pk: int) -> None:
    page = admin_page.page
    admin_page.goto("/admin/helpdesk_sms/route/add/")
    page.fill("#id_name", "Nigeria")
    page.fill("#id_country", "ng")
    page.select_option("#id_hops-0-provider", str(provider_pk))
    admin_page.save()


def test_a_route_saved_in_the_admin_chooses_the_provider_of_the_next_send(admin_page):
    provider("Fallback", priority=1)
    lagos = provider("Lagos")

    fill_route(admin_page, lagos.pk)

    assert Route.objects.get().country == "NG"
    [message] = send_sms(NG, "Hello")
    assert (message.provider, message.route.name) == (lagos, "Nigeria")


def test_a_provider_that_may_not_text_the_country_is_refused_on_its_row(admin_page):
    india_only = provider("India only", allowed="IN")

    fill_route(admin_page, india_only.pk)

    row_error = admin_page.page.locator("#hops-0 td.field-provider .errorlist").inner_text()
    assert "Provider 'India only' may only text IN, not NG" in row_error
    assert not Route.objects.exists()
