"""The demo's "reply as a customer" page: the operator writes as the customer, the gateway
simulator pushes it to the app's inbound URL over HTTP, and the reply shows on the ticket."""

from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk_sms import outbox
from project.demo.models import Ticket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("demo_watcher", "shipped_templates"),
]

CUSTOMER = "+919812345678"


@pytest.fixture
def texted_ticket(texting_canlog) -> Ticket:
    """A demo ticket acknowledged through the Canlog simulator, which texts the app back."""
    ticket = Ticket.objects.create(
        title="Printer jammed", customer_name="Ravi", customer_phone=CUSTOMER
    )
    outbox.dispatch()
    return ticket


def test_a_reply_written_on_the_page_shows_on_the_demo_ticket(admin_client, texted_ticket):
    response = admin_client.post(
        reverse("demo-reply"), {"number": CUSTOMER, "text": "Still jammed", "repeat": 2}
    )

    change_page = reverse("admin:demo_ticket_change", args=[texted_ticket.pk])
    assert response.status_code == 302 and response.url == change_page
    assert "Still jammed" in admin_client.get(change_page).content.decode()
    assert list(texted_ticket.replies.values_list("text", flat=True)) == ["Still jammed"]


def test_the_ticket_page_links_to_the_reply_page_with_the_customers_number(
    admin_client, texted_ticket
):
    page = admin_client.get(reverse("admin:demo_ticket_change", args=[texted_ticket.pk]))

    assert f"{reverse('demo-reply')}?number=%2B919812345678" in page.content.decode()


def test_the_reply_page_refuses_a_number_the_helpdesk_never_texted(admin_client, texted_ticket):
    response = admin_client.post(
        reverse("demo-reply"), {"number": "+919812345699", "text": "Hello?", "repeat": 1}
    )

    assert response.status_code == 200
    assert "The helpdesk has not texted this number" in response.content.decode()
    assert not texted_ticket.replies.exists()


def test_the_reply_page_is_for_staff_only(client):
    response = client.get(reverse("demo-reply"))

    assert response.status_code == 302 and "login" in response.url
