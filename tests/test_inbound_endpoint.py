"""Customer SMS pushed to /sms/inbound/<provider>/<secret>/ over a real socket."""

from __future__ import annotations

import json
import logging
import random

import pytest
import requests
from django.urls import reverse

from helpdesk_sms import inbound_processing
from helpdesk_sms.inbound_models import InboundAction, InboundMessage
from helpdesk_sms.models import Provider
from helpdesk_sms.signals import sms_received

SECRET = "inbound-secret-value-1"
OLD_SECRET = "inbound-secret-rotated-out"


@pytest.fixture
def provider(db) -> Provider:
    return Provider.objects.create(
        name="Unified",
        gateway="unified",
        base_url="http://127.0.0.1:9",
        username="u",
        password="gateway-password-xyz",
        callback_secrets=f"{SECRET}\n{OLD_SECRET}",
        timezone="Asia/Kolkata",
    )


@pytest.fixture
def sms1601(db) -> Provider:
    return Provider.objects.create(
        name="1601", gateway="sms1601", callback_secrets=SECRET, timezone="Europe/Amsterdam"
    )


def url(live_server, provider: Provider, secret: str = SECRET) -> str:
    path = reverse("helpdesk_sms:inbound", kwargs={"provider_id": provider.pk, "secret": secret})
    return live_server.url + path


@pytest.fixture
def received() -> list[dict]:
    calls: list[dict] = []

    def listener(sender, **kwargs):
        calls.append(kwargs)

    sms_received.connect(listener, weak=False)
    yield calls
    sms_received.disconnect(listener)


GENERIC = {"from": "919812345678", "to": "HELPDK", "text": "Yes please", "id": "g-1"}


def test_a_form_post_is_stored_and_answered_ok(live_server, provider):
    response = requests.post(url(live_server, provider), data=GENERIC, timeout=10)

    [message] = InboundMessage.objects.all()
    assert (response.status_code, response.text) == (200, "OK")
    assert (message.sender, message.recipient, message.text, message.gateway_id) == (
        "+919812345678",
        "HELPDK",
        "Yes please",
        "g-1",
    )


def test_a_get_is_stored(live_server, provider):
    response = requests.get(url(live_server, provider), params=GENERIC, timeout=10)

    assert response.status_code == 200
    assert InboundMessage.objects.get().text == "Yes please"


def test_a_json_post_is_stored(live_server, provider):
    response = requests.post(url(live_server, provider), json={**GENERIC, "id": 42}, timeout=10)

    assert response.status_code == 200
    assert InboundMessage.objects.get().gateway_id == "42"


def test_the_1601sms_preset_get_is_stored(live_server, sms1601):
    push = {
        "van": "31612345678",
        "naar": "3197010000",
        "bericht": "Ja",
        "smsid": "9",
        "datum": "20260301103000",
    }

    response = requests.get(url(live_server, sms1601), params=push, timeout=10)

    message = InboundMessage.objects.get()
    assert response.status_code == 200
    assert (message.sender, message.text, message.received_at.isoformat()) == (
        "+31612345678",
        "Ja",
        "2026-03-01T09:30:00+00:00",
    )


def test_a_field_mapping_override_is_used(live_server, provider):
    provider.options = {"inbound_fields": {"sender": "msisdn", "text": "message"}}
    provider.save()

    response = requests.post(
        url(live_server, provider), data={"msisdn": "+919812345678", "message": "hi"}, timeout=10
    )

    assert response.status_code == 200
    assert InboundMessage.objects.get().text == "hi"


def test_a_new_sms_about_no_ticket_is_kept_for_a_human_and_announced(
    live_server, provider, received
):
    requests.post(url(live_server, provider), data=GENERIC, timeout=10)

    message = InboundMessage.objects.get()
    assert message.action == InboundAction.UNASSIGNED
    assert message.action_detail.startswith("no ticket matched")
    assert received == [{"signal": sms_received, "message": message, "ticket": None}]


def test_a_wrong_secret_is_refused_and_writes_nothing(live_server, provider, received):
    response = requests.post(url(live_server, provider, "guess"), data=GENERIC, timeout=10)

    assert response.status_code == 403
    assert not InboundMessage.objects.exists()
    assert received == []


def test_an_unknown_provider_is_refused(live_server, provider):
    bad = reverse(
        "helpdesk_sms:inbound", kwargs={"provider_id": provider.pk + 99, "secret": SECRET}
    )

    assert requests.post(live_server.url + bad, data=GENERIC, timeout=10).status_code == 403


def test_an_inactive_provider_is_refused(live_server, provider):
    provider.is_active = False
    provider.save()

    assert requests.post(url(live_server, provider), data=GENERIC, timeout=10).status_code == 403
    assert not InboundMessage.objects.exists()


def test_a_previous_secret_is_still_accepted_during_rotation(live_server, provider):
    response = requests.post(url(live_server, provider, OLD_SECRET), data=GENERIC, timeout=10)

    assert response.status_code == 200
    assert InboundMessage.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"to": "HELPDK", "text": "hi"}, "the sender is missing"),
        ({"from": "+919812345678"}, "the text is missing"),
        ({"from": "12", "text": "hi"}, "from (sender) is not a phone number"),
        ({"from": "+919812345678", "text": "a\x00b"}, "U+0000"),
    ],
)
def test_an_unreadable_push_gets_400_with_the_reason(live_server, provider, data, reason):
    response = requests.post(url(live_server, provider), data=data, timeout=10)

    assert response.status_code == 400
    assert reason in response.text
    assert not InboundMessage.objects.exists()


def test_a_push_repeated_three_times_is_stored_once_and_processed_once(
    live_server, provider, received
):
    answers = [
        requests.post(url(live_server, provider), data=GENERIC, timeout=10).status_code
        for _ in range(3)
    ]

    [message] = InboundMessage.objects.all()
    assert answers == [200, 200, 200]
    assert message.repeat_count == 3
    assert len(received) == 1


def test_a_repeat_without_a_gateway_id_is_recognised_by_sender_text_and_time(live_server, provider):
    push = {"from": "+919812345678", "text": "STOP", "time": "2026-03-01 10:30:00"}
    for _ in range(2):
        requests.get(url(live_server, provider), params=push, timeout=10)

    assert InboundMessage.objects.get().repeat_count == 2


def test_stored_data_has_no_credentials(live_server, provider):
    push = {**GENERIC, "password": "gateway-password-xyz", "note": SECRET}

    requests.post(url(live_server, provider), data=push, timeout=10)

    raw = json.dumps(InboundMessage.objects.get().raw)
    assert "gateway-password-xyz" not in raw
    assert SECRET not in raw


def test_a_failing_processing_step_keeps_the_sms_and_still_answers_ok(
    live_server, provider, monkeypatch, caplog
):
    def broken(message):
        raise RuntimeError("threading is down")

    monkeypatch.setattr(inbound_processing, "process", broken)

    with caplog.at_level(logging.ERROR):
        response = requests.post(url(live_server, provider), data=GENERIC, timeout=10)

    message = InboundMessage.objects.get()
    assert response.status_code == 200
    assert message.action == InboundAction.ERROR
    assert "threading is down" in message.action_detail


def test_a_body_over_the_cap_is_refused(live_server, provider):
    response = requests.post(
        url(live_server, provider), data={**GENERIC, "pad": "x" * 70_000}, timeout=10
    )

    assert response.status_code == 400
    assert "over 65536 bytes" in response.text


def test_other_methods_are_refused(live_server, provider):
    assert requests.put(url(live_server, provider), data=GENERIC, timeout=10).status_code == 405


def test_the_secret_never_reaches_the_log(live_server, provider, caplog):
    with caplog.at_level(logging.DEBUG):
        requests.post(url(live_server, provider, "guess-" + SECRET), data={}, timeout=10)
        requests.post(url(live_server, provider), data={"from": "x"}, timeout=10)

    assert SECRET not in caplog.text


# -- fuzzing: no request ever gets a 500 ---------------------------------------------


def _fuzz_requests(rng: random.Random, count: int):
    alphabet = 'abc+01234567890%&=\x00\xff\u0928\ud7ff \n\t"{}[]:,'
    names = ["from", "to", "text", "id", "time", "coding", "van", "bericht", "x" * 2000]

    def junk(limit: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, limit)))

    for _ in range(count):
        kind = rng.choice(["get", "form", "json", "garbage", "huge", "badenc", "jsonjunk"])
        fields = {rng.choice(names): junk(30) for _ in range(rng.randint(0, 6))}
        if rng.random() < 0.5:
            fields.setdefault("from", rng.choice(["+919812345678", "919812345678", junk(20)]))
            fields.setdefault("text", junk(200))
        if kind == "get":
            yield "GET", {"params": fields}
        elif kind == "form":
            yield "POST", {"data": fields}
        elif kind == "json":
            value = rng.choice([fields, [fields], "text", 1, None, {"from": {"a": 1}}])
            yield "POST", {"json": value}
        elif kind == "garbage":
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 3000)))
            ctype = rng.choice(
                ["application/json", "application/x-www-form-urlencoded", "text/plain", "x/y"]
            )
            yield "POST", {"data": body, "headers": {"Content-Type": ctype}}
        elif kind == "huge":
            yield "POST", {"data": b"text=" + b"A" * rng.randint(60_000, 300_000)}
        elif kind == "badenc":
            body = b"from=%2B919812345678&text=" + rng.choice(
                [b"%ff%fe%00", b"\xc3\x28", b"%C0%AF"]
            )
            charset = rng.choice(["utf-8", "latin-1", "bogus-charset", "utf-16"])
            headers = {"Content-Type": f"application/x-www-form-urlencoded; charset={charset}"}
            if rng.random() < 0.3:  # the same bytes in the query string of a GET
                yield "GET", {"query": body.decode("latin-1")}
            else:
                yield "POST", {"data": body, "headers": headers}
        else:
            body = (
                b'{"from": "+919812345678", "text": '
                + rng.choice([b'"\\ud800"', b"[" * 5000, b'"\\u0000"', b"1e999999", b'"ok"'])
                + b"}"
            )
            yield "POST", {"data": body, "headers": {"Content-Type": "application/json"}}


def test_fuzzed_pushes_never_get_a_500(live_server, provider):
    rng = random.Random(13)
    session = requests.Session()
    statuses = []
    for method, kwargs in _fuzz_requests(rng, 200):
        target = url(live_server, provider)
        if "query" in kwargs:
            target += "?" + kwargs.pop("query")
        response = session.request(method, target, timeout=10, **kwargs)
        statuses.append(response.status_code)

    assert set(statuses) <= {200, 400}
    assert 200 in statuses and 400 in statuses


def test_a_gateway_without_the_inbound_capability_is_refused(live_server, db):
    console = Provider.objects.create(name="Console", gateway="console", callback_secrets=SECRET)

    response = requests.post(url(live_server, console), data=GENERIC, timeout=10)

    assert response.status_code == 400
    assert "does not take inbound SMS" in response.text


def test_the_log_filter_masks_the_secret_of_an_inbound_path():
    from helpdesk_sms.logredact import RedactQuerySecrets

    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        "",
        0,
        '"GET /sms/inbound/3/%s/?from=1 HTTP/1.1" 200',
        (SECRET,),
        None,
    )
    RedactQuerySecrets().filter(record)

    assert record.getMessage() == '"GET /sms/inbound/3/***/?from=1 HTTP/1.1" 200'
