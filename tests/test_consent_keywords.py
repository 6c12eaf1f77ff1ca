"""Reply keywords: which texts are STOP, START or HELP, and what each changes (audited once)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from helpdesk_sms.consent import handle_keyword, is_opted_out, match_keyword, opt_in, opt_out
from helpdesk_sms.consent_models import ConsentChange, OptOut
from helpdesk_sms.exceptions import InvalidRecipient
from helpdesk_sms.models import Contact

from .test_checks import check_output

pytestmark = pytest.mark.django_db

CUSTOMER = "+919812345678"
LANGUAGES = {
    "opt_out": ["AFMELDEN", "DAYANDIR"],
    "opt_in": ["AANMELDEN"],
    "help": ["HULP", "KÖMƏK"],
}


@pytest.fixture
def languages(settings):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "KEYWORDS": LANGUAGES}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("STOP", "opt_out"),
        ("stop", "opt_out"),
        ("Stop!", "opt_out"),
        (" STOPP ", "opt_out"),
        ("unsubscribe.", "opt_out"),
        ("Afmelden", "opt_out"),
        ("dayandır", "opt_out"),
        ("START", "opt_in"),
        ("aanmelden", "opt_in"),
        ("help?", "help"),
        ("kömək", "help"),
        ("KOMEK", "help"),
        ("Hulp!!", "help"),
        ("please stop texting me", None),
        ("stop it", None),
        ("STOPPING", None),
        ("", None),
        ("!!!", None),
    ],
)
def test_keywords_match_alone_ignoring_case_accents_and_punctuation(languages, text, kind):
    assert match_keyword(text) == kind


def test_a_language_keyword_is_not_matched_unless_configured():
    assert match_keyword("Afmelden") is None


def test_stop_puts_the_number_on_the_list_and_asks_for_a_confirmation(memory_provider):
    outcome = handle_keyword("+91 98123 45678", "Stop", memory_provider)

    entry = OptOut.objects.get()
    assert (entry.number, entry.source, entry.keyword, entry.provider) == (
        CUSTOMER,
        "reply",
        "Stop",
        memory_provider,
    )
    assert (outcome.kind, outcome.changed) == ("opt_out", True)
    assert "START" in outcome.reply


def test_a_repeated_stop_changes_nothing_and_is_not_answered(memory_provider):
    handle_keyword(CUSTOMER, "STOP", memory_provider)

    again = handle_keyword(CUSTOMER, "stop", memory_provider)

    assert (again.changed, again.reply) == (False, "")
    assert OptOut.objects.count() == 1
    assert ConsentChange.objects.count() == 1


def test_stop_then_start_is_audited_once_each(memory_provider):
    handle_keyword(CUSTOMER, "STOP", memory_provider)
    handle_keyword(CUSTOMER, "START", memory_provider)
    handle_keyword(CUSTOMER, "START", memory_provider)

    history = list(
        ConsentChange.objects.order_by("pk").values_list("number", "change", "source", "keyword")
    )
    assert history == [
        (CUSTOMER, "opt_out", "reply", "STOP"),
        (CUSTOMER, "opt_in", "reply", "START"),
    ]
    assert not is_opted_out(CUSTOMER)


def test_start_from_a_number_never_opted_out_changes_nothing(memory_provider):
    outcome = handle_keyword(CUSTOMER, "START", memory_provider)

    assert (outcome.kind, outcome.changed, outcome.reply) == ("opt_in", False, "")
    assert not ConsentChange.objects.exists()


def test_a_text_that_is_no_keyword_is_left_alone(memory_provider):
    assert handle_keyword(CUSTOMER, "please stop texting me", memory_provider) is None
    assert not OptOut.objects.exists()


def test_an_empty_confirmation_setting_sends_no_confirmation(settings, memory_provider):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "OPT_OUT_REPLY": ""}

    outcome = handle_keyword(CUSTOMER, "STOP", memory_provider)

    assert (outcome.changed, outcome.reply) == (True, "")


def test_help_is_answered_with_the_providers_own_help_text(memory_provider):
    memory_provider.options = {"help_reply": "Acme support: call 0800 123. Reply STOP to end."}
    memory_provider.full_clean()
    memory_provider.save()

    outcome = handle_keyword(CUSTOMER, "HELP", memory_provider)

    assert (outcome.kind, outcome.changed) == ("help", False)
    assert outcome.reply == "Acme support: call 0800 123. Reply STOP to end."
    assert not ConsentChange.objects.exists()


def test_help_falls_back_to_the_help_reply_setting(settings, memory_provider):
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, "HELP_REPLY": "Text STOP to stop."}

    assert handle_keyword(CUSTOMER, "help", memory_provider).reply == "Text STOP to stop."


def test_an_empty_help_reply_option_is_refused_naming_the_option(memory_provider):
    memory_provider.options = {"help_reply": "  "}

    with pytest.raises(ValidationError) as raised:
        memory_provider.full_clean()

    assert "Help_reply must be a non-empty text" in str(raised.value.message_dict["options"])


def test_a_keyword_from_something_that_is_no_number_is_refused_naming_the_field(
    memory_provider,
):
    with pytest.raises(InvalidRecipient) as raised:
        handle_keyword("ACME", "STOP", memory_provider)

    assert raised.value.field == "number"


def test_opting_out_and_in_keeps_the_contacts_with_that_number_in_step(db):
    contact = Contact.objects.create(name="Ravi", phone=CUSTOMER)

    opt_out(CUSTOMER)
    contact.refresh_from_db()
    assert contact.opted_out

    opt_in(CUSTOMER)
    contact.refresh_from_db()
    assert not contact.opted_out


# -- manage.py check -------------------------------------------------------------------------


def test_check_refuses_keywords_that_are_not_a_dict(settings):
    said = check_output(settings, KEYWORDS=["STOP"])

    assert "(helpdesk_sms.E030) HELPDESK_SMS['KEYWORDS'] must be a dict" in said


def test_check_names_an_unknown_keyword_kind(settings):
    said = check_output(settings, KEYWORDS={"optout": ["AFMELDEN"]})

    assert "HELPDESK_SMS['KEYWORDS'] has an unknown kind 'optout'" in said


def test_check_refuses_a_kind_given_as_one_string(settings):
    said = check_output(settings, KEYWORDS={"opt_out": "AFMELDEN"})

    assert "(helpdesk_sms.E031) HELPDESK_SMS['KEYWORDS']['opt_out'] must be a list" in said


def test_check_refuses_a_keyword_without_letters(settings):
    said = check_output(settings, KEYWORDS={"help": ["?!"]})

    assert "HELPDESK_SMS['KEYWORDS']['help'] has '?!'" in said


def test_check_refuses_a_keyword_of_two_kinds(settings):
    said = check_output(settings, KEYWORDS={"opt_in": ["stop"]})

    assert "(helpdesk_sms.E032)" in said and "'stop' is both an opt_out and an opt_in" in said


def test_check_refuses_a_reply_setting_that_is_not_text(settings):
    said = check_output(settings, OPT_IN_REPLY=None)

    assert "(helpdesk_sms.E033) HELPDESK_SMS['OPT_IN_REPLY'] must be a text" in said
