"""``send_sms`` refuses what Python callers can pass but no SMS can carry: wrong types,
control characters, lone surrogates, over-long keys. Each with an SmsInputError naming
the field and the rule, never a TypeError or a database error, and nothing written."""

from __future__ import annotations

import pytest

from helpdesk_sms.api import send_sms
from helpdesk_sms.exceptions import SmsInputError
from helpdesk_sms.models import Message, MessageEvent

pytestmark = pytest.mark.django_db

NUMBER = "+919812345678"


def refused(**kwargs) -> SmsInputError:
    kwargs.setdefault("to", NUMBER)
    kwargs.setdefault("text", "Hello")
    with pytest.raises(SmsInputError) as caught:
        send_sms(kwargs.pop("to"), kwargs.pop("text"), **kwargs)
    assert not Message.objects.exists()
    assert not MessageEvent.objects.exists()
    return caught.value


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"to": 919812345678}, "to", "not int"),
        ({"to": [NUMBER, 919812345679]}, "to", "not int"),
        ({"to": b"+919812345678"}, "to", "not bytes"),
        ({"to": "9" * 40}, "to", "at most 32"),
        ({"text": 42}, "text", "not int"),
        ({"text": None}, "text", "not NoneType"),
        ({"text": "Hello\x00there"}, "text", "U+0000"),
        ({"text": "bell\x07"}, "text", "control character"),
        ({"text": "broken \ud83d half"}, "text", "unpaired surrogate"),
        ({"send_at": "2030-01-01 10:00"}, "send_at", "not str"),
        ({"flash": "yes"}, "flash", "True or False"),
        ({"idempotency_key": "k" * 100_000}, "idempotency_key", "at most 255"),
        ({"idempotency_key": 7}, "idempotency_key", "not int"),
        ({"sender": "HELP\x00DK"}, "sender", "control character"),
        ({"provider": 3.5}, "provider", "not float"),
        ({"group": "Ops\x00"}, "group", "control character"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_the_rule(memory_provider, kwargs, field, rule):
    error = refused(**kwargs)

    assert error.field == field
    assert rule in str(error)


def test_line_breaks_are_sendable(memory_provider):
    [message] = send_sms(NUMBER, "Line one\nLine two\r\n")

    assert message.body.startswith("Line one\nLine two")


def test_the_error_says_where_the_bad_character_is(memory_provider):
    error = refused(text="abc\x00")

    assert "at position 3" in str(error)
