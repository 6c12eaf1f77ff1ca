"""``manage.py check`` reports a misconfigured HELPDESK_SMS, naming the key and the rule."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

pytestmark = pytest.mark.django_db


def check_output(settings, **helpdesk_sms: object) -> str:
    """What ``manage.py check`` says about the app with these settings (errors raise)."""
    settings.HELPDESK_SMS = {**settings.HELPDESK_SMS, **helpdesk_sms}
    out, err = StringIO(), StringIO()
    try:
        call_command("check", stdout=out, stderr=err)
    except SystemCheckError as exc:
        return str(exc)
    return out.getvalue() + err.getvalue()


def test_check_names_an_unknown_setting(settings):
    said = check_output(settings, DISPATCHER="celery")

    assert "(helpdesk_sms.E002) HELPDESK_SMS has an unknown key 'DISPATCHER'." in said


def test_check_refuses_a_dispatch_mode_it_does_not_know(settings):
    said = check_output(settings, DISPATCH="cron")

    assert "(helpdesk_sms.E003) HELPDESK_SMS['DISPATCH'] must be 'celery' or 'none'." in said


def test_check_says_which_resolver_does_not_import(settings):
    said = check_output(settings, AGENT_PHONE_RESOLVER="nowhere.phone_of")

    assert "(helpdesk_sms.E004) HELPDESK_SMS['AGENT_PHONE_RESOLVER'] does not import" in said


def test_settings_that_are_not_a_dict_are_refused_by_name(settings):
    settings.HELPDESK_SMS = [("DISPATCH", "none")]

    with pytest.raises(ImproperlyConfigured, match="HELPDESK_SMS must be a dict, not a list"):
        call_command("check", stdout=StringIO(), stderr=StringIO())


def test_check_warns_about_a_push_provider_without_a_callback_secret(settings, memory_provider):
    said = check_output(settings)

    assert f"(helpdesk_sms.W001) SMS provider {memory_provider.name!r}" in said


def test_check_refuses_a_negative_hourly_limit_per_number(settings):
    said = check_output(settings, NUMBER_HOURLY_LIMIT=-1)

    assert "(helpdesk_sms.E007) HELPDESK_SMS['NUMBER_HOURLY_LIMIT'] must be a whole number" in said


def test_check_refuses_a_rate_limit_redis_url_that_is_not_one(settings):
    said = check_output(settings, RATE_LIMIT_REDIS_URL="127.0.0.1:6379")

    assert "(helpdesk_sms.E008) HELPDESK_SMS['RATE_LIMIT_REDIS_URL'] must be None" in said


def test_a_refused_redis_url_is_named_without_its_password(settings):
    said = check_output(settings, RATE_LIMIT_REDIS_URL="http://:hunter2@cache.example:6379/0")

    assert "helpdesk_sms.E008" in said and "cache.example" in said
    assert "hunter2" not in said
