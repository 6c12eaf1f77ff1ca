"""The opt-out list in the admin: adds, deletions and the opt-in action are audited with the
operator; the history is read-only; a bad number is refused naming the field."""

from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk_sms.consent import is_opted_out, opt_out
from helpdesk_sms.consent_models import ConsentChange, OptOut
from helpdesk_sms.models import Contact

pytestmark = pytest.mark.django_db

CUSTOMER = "+919812345678"
LIST_URL = reverse("admin:helpdesk_sms_optout_changelist")


def history() -> list[tuple[str, str, str, str]]:
    return list(
        ConsentChange.objects.order_by("pk").values_list(
            "number", "change", "source", "by__username"
        )
    )


def test_adding_a_number_opts_it_out_audited_with_the_operator(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:helpdesk_sms_optout_add"), {"number": "+91 98123 45678", "note": "called"}
    )

    assert response.status_code == 302
    entry = OptOut.objects.get()
    assert (entry.number, entry.source, entry.note) == (CUSTOMER, "admin", "called")
    assert history() == [(CUSTOMER, "opt_out", "admin", admin_user.username)]


def test_a_number_that_is_no_number_is_refused_naming_the_field(admin_client):
    response = admin_client.post(reverse("admin:helpdesk_sms_optout_add"), {"number": "12"})

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["number"]
    assert not OptOut.objects.exists()


def test_a_number_already_on_the_list_is_refused(admin_client):
    opt_out(CUSTOMER)

    response = admin_client.post(reverse("admin:helpdesk_sms_optout_add"), {"number": CUSTOMER})

    assert "number" in response.context["adminform"].form.errors
    assert ConsentChange.objects.count() == 1


def test_the_opt_in_action_takes_numbers_off_the_list_audited(admin_client, admin_user):
    opt_out(CUSTOMER)
    entry = OptOut.objects.get()

    response = admin_client.post(
        LIST_URL, {"action": "opt_in_selected", "_selected_action": [entry.pk]}, follow=True
    )

    assert not is_opted_out(CUSTOMER)
    assert history()[-1] == (CUSTOMER, "opt_in", "admin", admin_user.username)
    assert "1 number opted in." in [str(m) for m in response.context["messages"]]


def test_deleting_an_entry_is_an_audited_opt_in(admin_client, admin_user):
    opt_out(CUSTOMER)
    entry = OptOut.objects.get()

    admin_client.post(reverse("admin:helpdesk_sms_optout_delete", args=[entry.pk]), {"post": "yes"})

    assert not is_opted_out(CUSTOMER)
    assert history()[-1] == (CUSTOMER, "opt_in", "admin", admin_user.username)


def test_the_list_filters_by_source_and_finds_a_number(admin_client):
    opt_out(CUSTOMER)
    opt_out("+919812345679", "import")

    response = admin_client.get(LIST_URL, {"source": "import", "q": "45679"})

    assert [e.number for e in response.context["cl"].result_list] == ["+919812345679"]


def test_the_history_is_read_only(admin_client):
    opt_out(CUSTOMER)
    change = ConsentChange.objects.get()

    listed = admin_client.get(reverse("admin:helpdesk_sms_consentchange_changelist"))
    added = admin_client.get(reverse("admin:helpdesk_sms_consentchange_add"))
    deleted = admin_client.post(
        reverse("admin:helpdesk_sms_consentchange_delete", args=[change.pk]), {"post": "yes"}
    )

    assert listed.status_code == 200
    assert CUSTOMER in listed.content.decode()
    assert (added.status_code, deleted.status_code) == (403, 403)
    assert ConsentChange.objects.count() == 1


def test_ticking_a_contacts_opted_out_box_puts_the_number_on_the_list(admin_client, admin_user):
    contact = Contact.objects.create(name="Ravi", phone=CUSTOMER)

    admin_client.post(
        reverse("admin:helpdesk_sms_contact_change", args=[contact.pk]),
        {"name": "Ravi", "phone": CUSTOMER, "is_active": "on", "opted_out": "on"},
    )

    assert is_opted_out(CUSTOMER)
    assert history() == [(CUSTOMER, "opt_out", "admin", admin_user.username)]


def test_an_entrys_page_shows_how_it_came_and_edits_only_the_note(admin_client, admin_user):
    opt_out(CUSTOMER, "import", note="old list")
    entry = OptOut.objects.get()
    url = reverse("admin:helpdesk_sms_optout_change", args=[entry.pk])

    assert '<div class="readonly">import</div>' in admin_client.get(url).content.decode()
    admin_client.post(url, {"number": "+919800000000", "note": "from the 2025 list"})

    entry.refresh_from_db()
    assert (entry.number, entry.note) == (CUSTOMER, "from the 2025 list")
    assert ConsentChange.objects.count() == 1
