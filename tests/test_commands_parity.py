"""The command line can set up, inspect and cancel what the admin can (issue 10).

``sms_provider add`` takes callback secrets, regions and several sender IDs;
``sms_provider show`` prints every setting and the callback URL to give a gateway that
pushes reports (never a secret); ``sms_cancel`` withdraws messages not sent yet. Against
the real simulators over 127.0.0.1, as an operator at a shell sees it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from helpdesk_sms import outbox, reports
from helpdesk_sms.api import send_sms
from helpdesk_sms.models import BalanceSnapshot, Provider, SenderID
from helpdesk_sms.states import Source, Status
from tests.fixtures_sms1601 import SMS1601_PASSWORD
from tests.fixtures_unified import UNIFIED_PASSWORD, UNIFIED_SENDER, UNIFIED_USER
from tests.test_commands import manage, refused, run

pytestmark = pytest.mark.django_db

SECRET = "cb-secret-that-must-never-show-1"
OLD_SECRET = "cb-old-secret-that-must-never-show"
NL = "+31612345678"
IN = "+919812345678"


def add_unified(unified_sim, monkeypatch, *extra: str) -> str:
    """``sms_provider add Unified`` for the simulator, secrets from the environment."""
    monkeypatch.setenv("UNIFIED_PASSWORD", UNIFIED_PASSWORD)
    monkeypatch.setenv("UNIFIED_CALLBACK", SECRET)
    return run(
        "sms_provider",
        "add",
        "Unified",
        "--gateway",
        "unified",
        "--url",
        unified_sim.url,
        "--username",
        UNIFIED_USER,
        "--password-env",
        "UNIFIED_PASSWORD",
        "--callback-secret-env",
        "UNIFIED_CALLBACK",
        "--sender",
        UNIFIED_SENDER,
        "--timezone",
        "Asia/Kolkata",
        *extra,
    )


def printed_callback_url(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith("Callback URL: ")]
    return line.removeprefix("Callback URL: ")


def set_options(provider: Provider, **options: object) -> None:
    provider.options = {**provider.options, **options}
    provider.save()


# -- sms_provider add: callback secrets, regions, sender IDs -----------------------------------


def test_add_reads_the_callback_secrets_from_an_environment_variable_one_per_line(monkeypatch):
    monkeypatch.setenv("CALLBACK_SECRETS", f"{SECRET}\n{OLD_SECRET}\n")

    output = run(
        "sms_provider", "add", "U", "--gateway", "unified", "--inactive",
        "--callback-secret-env", "CALLBACK_SECRETS",
    )  # fmt: skip

    assert Provider.objects.get(name="U").callback_secret_list() == [SECRET, OLD_SECRET]
    assert SECRET not in output and OLD_SECRET not in output


def test_add_takes_a_callback_secret_given_directly():
    run(
        "sms_provider", "add", "U", "--gateway", "unified", "--inactive", "--callback-secret",
        SECRET,
    )  # fmt: skip

    assert Provider.objects.get(name="U").callback_secret_list() == [SECRET]


def test_add_with_an_unset_callback_secret_variable_exits_2_naming_it(monkeypatch):
    monkeypatch.delenv("NO_SUCH_SECRET", raising=False)

    error = refused(
        "sms_provider", "add", "U", "--gateway", "unified", "--callback-secret-env",
        "NO_SUCH_SECRET",
    )  # fmt: skip

    assert error.returncode == 2
    assert str(error).startswith("--callback-secret-env: ")
    assert "NO_SUCH_SECRET" in str(error)
    assert not Provider.objects.exists()


def test_add_refuses_a_callback_secret_that_cannot_travel_in_a_url_without_echoing_it():
    bad = "has/a-slash-in-it-0123456789"

    error = refused("sms_provider", "add", "U", "--gateway", "unified", "--callback-secret", bad)

    assert error.returncode == 2
    assert str(error).startswith("--callback-secret: the secret must be 16 to 200 letters")
    assert bad not in str(error)
    assert not Provider.objects.exists()


def test_add_refuses_a_short_callback_secret():
    error = refused("sms_provider", "add", "U", "--gateway", "unified", "--callback-secret", "abc")

    assert error.returncode == 2
    assert "16 to 200" in str(error)


def test_add_refuses_a_callback_secret_for_a_gateway_that_does_not_push():
    error = refused("sms_provider", "add", "C", "--gateway", "canlog", "--callback-secret", SECRET)

    assert error.returncode == 2
    assert str(error) == (
        "--callback-secret: Canlog does not push delivery reports; a callback secret would "
        "never be used"
    )
    assert not Provider.objects.exists()


def test_callback_secret_and_its_environment_form_cannot_both_be_given(monkeypatch):
    monkeypatch.setenv("CALLBACK", SECRET)

    with pytest.raises(CommandError) as info:
        run(
            "sms_provider", "add", "U", "--gateway", "unified", "--callback-secret", SECRET,
            "--callback-secret-env", "CALLBACK",
        )  # fmt: skip

    assert "not allowed with argument" in str(info.value)
    assert SECRET not in str(info.value)
    assert not Provider.objects.exists()


def test_add_sets_the_default_region_and_allowed_countries_as_region_codes():
    run(
        "sms_provider", "add", "M", "--gateway", "memory", "--default-region", "in",
        "--allowed-countries", "in, np",
    )  # fmt: skip

    provider = Provider.objects.get(name="M")
    assert (provider.default_region, provider.allowed_countries) == ("IN", "IN,NP")


def test_add_with_a_bad_allowed_country_exits_2_naming_the_option():
    error = refused("sms_provider", "add", "M", "--gateway", "memory", "--allowed-countries", "IND")

    assert error.returncode == 2
    assert "--allowed-countries: IND is not a two-letter region code" in str(error)
    assert not Provider.objects.exists()


def test_add_with_a_bad_default_region_exits_2_naming_the_option():
    error = refused("sms_provider", "add", "M", "--gateway", "memory", "--default-region", "9X")

    assert error.returncode == 2
    assert "--default-region: " in str(error)
    assert not Provider.objects.exists()


def test_add_with_several_senders_creates_each_and_makes_the_first_the_default():
    output = run(
        "sms_provider", "add", "M", "--gateway", "memory", "--sender", "HELPDK", "--sender",
        "ALERTS",
    )  # fmt: skip

    provider = Provider.objects.get(name="M")
    assert provider.default_sender.value == "HELPDK"
    assert sorted(provider.senders.values_list("value", flat=True)) == ["ALERTS", "HELPDK"]
    assert "Other sender IDs: ALERTS." in output


def test_add_with_a_refused_second_sender_writes_nothing():
    error = refused(
        "sms_provider", "add", "C", "--gateway", "canlog", "--api-key", "k", "--sender",
        "WEBSMS", "--sender", "TOOLONG",
    )  # fmt: skip

    assert error.returncode == 2
    assert str(error).startswith("--sender: ")
    assert not Provider.objects.exists() and not SenderID.objects.exists()


def test_add_of_a_pushing_gateway_prints_the_callback_url_to_give_it(unified_sim, monkeypatch):
    output = add_unified(unified_sim, monkeypatch, "--base-url", "https://help.example.com/")

    provider = Provider.objects.get(name="Unified")
    assert printed_callback_url(output) == (
        f"https://help.example.com/sms/callback/{provider.pk}/<callback secret>/"
    )


# -- sms_provider show ---------------------------------------------------------------------------


def test_show_prints_every_setting_an_operator_needs(canlog_provider):
    canlog_provider.low_balance_threshold = 600
    canlog_provider.default_region = "IN"
    canlog_provider.allowed_countries = "IN,NP"
    canlog_provider.save()
    SenderID.objects.create(provider=canlog_provider, value="OLDSND", is_active=False)
    run("sms_provider", "check", canlog_provider.name)  # records the balances

    output = run("sms_provider", "show", canlog_provider.name)

    rows = dict(
        line.strip().split(":", 1) for line in output.splitlines()[1:] if line.startswith("  ")
    )
    rows = {label: value.strip() for label, value in rows.items()}
    changed = timezone.localtime(canlog_provider.credentials_changed_at)
    assert output.splitlines()[0] == f"Canlog test (provider #{canlog_provider.pk})"
    assert rows["gateway"] == "Canlog (canlog)"
    assert (rows["active"], rows["priority"]) == ("yes", "100")
    assert rows["URL"] == canlog_provider.base_url
    assert (rows["API key"], rows["password"], rows["callback secrets"]) == (
        "set",
        "not set",
        "not set",
    )
    assert rows["credentials changed"] == changed.isoformat(timespec="seconds")
    assert (rows["time zone"], rows["default region"], rows["allowed countries"]) == (
        "Asia/Kolkata",
        "IN",
        "IN,NP",
    )
    assert rows["options"] == "channel=Trans, route=15"
    assert rows["sender IDs"] == "HLPDSK (default), OLDSND (inactive)"
    assert rows["low-balance threshold"] == "600.00"
    assert rows["latest balance"].startswith("Promo: 9988.00 credits at ")
    assert "Trans: 500.00 credits (low) at " in rows["latest balance"]
    assert BalanceSnapshot.objects.filter(provider=canlog_provider).count() == 2


def test_show_prints_the_callback_url_with_a_placeholder_for_the_secret(unified_provider):
    output = run("sms_provider", "show", unified_provider.name, "--base-url", "https://h.example")

    assert printed_callback_url(output) == (
        f"https://h.example/sms/callback/{unified_provider.pk}/<callback secret>/"
    )
    assert "in place of <callback secret>" in output


def test_show_without_a_base_url_prints_the_site_as_a_placeholder(unified_provider):
    output = run("sms_provider", "show", unified_provider.name)

    assert printed_callback_url(output) == (
        f"https://<your site>/sms/callback/{unified_provider.pk}/<callback secret>/"
    )
    assert "--base-url" in output


def test_show_counts_the_callback_secrets_during_a_rotation(unified_provider):
    unified_provider.callback_secrets = f"{SECRET}\n{OLD_SECRET}"
    unified_provider.save()

    output = run("sms_provider", "show", unified_provider.name)

    assert "callback secrets:      set (2: a rotation in progress)" in output


def test_show_warns_that_a_pushing_gateway_without_a_secret_refuses_every_push(unified_provider):
    unified_provider.callback_secrets = ""
    unified_provider.save()

    output = run("sms_provider", "show", unified_provider.name)

    assert "No callback secret is set: every push is refused" in output


def test_show_of_a_gateway_that_does_not_push_says_there_is_no_callback_url(canlog_provider):
    output = run("sms_provider", "show", canlog_provider.name)

    assert "Callback URL: none: this gateway does not push delivery reports" in output


def test_show_of_an_unknown_provider_exits_2_listing_the_known_ones(canlog_provider):
    error = refused("sms_provider", "show", "Nobody")

    assert error.returncode == 2
    assert str(error) == "NAME: Unknown provider 'Nobody' (known: Canlog test)."


@pytest.mark.parametrize("base_url", ["help.example.com", "ftp://h.example", "https://h/?a=1"])
def test_show_with_a_base_url_that_is_not_a_site_address_exits_2(unified_provider, base_url):
    error = refused("sms_provider", "show", unified_provider.name, "--base-url", base_url)

    assert error.returncode == 2
    assert str(error).startswith(f"--base-url: {base_url!r} is not the site's address")


def test_no_sms_provider_subcommand_prints_a_secret(unified_sim, monkeypatch):
    """add, list, show, check and a refused add: stdout and stderr never hold a secret."""
    secrets = [UNIFIED_PASSWORD, SECRET]
    outputs = [add_unified(unified_sim, monkeypatch)]
    outputs.append(run("sms_provider", "list"))
    outputs.append(run("sms_provider", "show", "Unified"))
    outputs.append(run("sms_provider", "check", "Unified"))  # Unified has no balance
    monkeypatch.setenv("UNIFIED_CALLBACK", SECRET)
    outputs.append(
        str(
            refused(
                "sms_provider", "add", "Again", "--gateway", "unified", "--url", "not a url",
                "--password", UNIFIED_PASSWORD, "--callback-secret-env", "UNIFIED_CALLBACK",
            )
        )
    )  # fmt: skip

    assert len(outputs) == 5 and all(outputs)
    assert [s for s in secrets for out in outputs if s in out] == []


def test_show_masks_a_secret_pasted_into_another_field(unified_provider):
    unified_provider.username = UNIFIED_PASSWORD
    unified_provider.save()

    output = run("sms_provider", "show", unified_provider.name)

    assert UNIFIED_PASSWORD not in output
    assert "username:              ***" in output


def test_show_prints_the_callback_url_intact_whatever_the_password(unified_provider):
    unified_provider.password = "sms"  # weak, and part of the callback path
    unified_provider.save()

    output = run("sms_provider", "show", unified_provider.name, "--base-url", "https://h.example")

    assert printed_callback_url(output) == (
        f"https://h.example/sms/callback/{unified_provider.pk}/<callback secret>/"
    )


# -- the provider's URL as printed: credentials masked, the address intact -----------------------


def shown_url(provider: Provider) -> str:
    """The ``URL:`` row of ``sms_provider show``."""
    [line] = [line for line in run("sms_provider", "show", provider.name).splitlines()
              if line.startswith("  URL:")]  # fmt: skip
    return line.removeprefix("  URL:").strip()


def with_url(provider: Provider, url: str, **fields: str) -> Provider:
    for name, value in {"base_url": url, **fields}.items():
        setattr(provider, name, value)
    provider.save()
    return provider


def test_a_short_password_that_occurs_in_the_host_leaves_the_url_intact(unified_provider):
    url = "http://api.unifiedsms.example:8080/bulksms/"
    with_url(unified_provider, url, password="x")  # weak, and inside "example"

    assert shown_url(unified_provider) == url


def test_a_short_password_that_occurs_in_the_host_leaves_the_listed_url_intact(unified_provider):
    url = "http://api.unifiedsms.example:8080/bulksms/"
    with_url(unified_provider, url, password="x")

    assert f" {url} " in run("sms_provider", "list")


def test_a_secret_that_occurs_in_the_path_leaves_it_intact(unified_provider):
    url = "http://gw.example/sms/api"
    with_url(unified_provider, url, password="sms")

    assert shown_url(unified_provider) == url


def test_the_password_of_the_urls_userinfo_is_masked(unified_provider):
    with_url(unified_provider, "http://helpdesk:pa55word@gw.example/api")

    assert shown_url(unified_provider) == "http://helpdesk:***@gw.example/api"


def test_credential_query_parameters_are_masked_by_their_name(unified_provider):
    with_url(unified_provider, "http://gw.example/api?user=helpdesk&apikey=not-stored&pwd=p&route=15")

    assert shown_url(unified_provider) == (
        "http://gw.example/api?user=helpdesk&apikey=***&pwd=***&route=15"
    )


def test_a_query_parameter_holding_a_stored_secret_is_masked_whatever_its_name(
    unified_provider,
):
    with_url(unified_provider, f"http://gw.example/api?auth={UNIFIED_PASSWORD}&route=15")

    assert shown_url(unified_provider) == "http://gw.example/api?auth=***&route=15"


def test_a_query_parameter_merely_containing_a_short_password_is_left_intact(unified_provider):
    url = "http://gw.example/api?route=xpress"
    with_url(unified_provider, url, password="x")

    assert shown_url(unified_provider) == url


# -- end to end: a push-only gateway set up from the shell ----------------------------------------


def test_a_unified_provider_set_up_from_the_command_line_takes_its_pushed_reports(
    live_server, unified_sim, monkeypatch
):
    output = add_unified(unified_sim, monkeypatch, "--base-url", live_server.url)
    url = printed_callback_url(output)
    assert urlsplit(url).netloc == urlsplit(live_server.url).netloc
    unified_sim.callback_url = url.replace("<callback secret>", SECRET)
    unified_sim.advance(0)
    [message] = send_sms(IN, "Your ticket #42 is resolved.", provider="Unified")

    outbox.dispatch()
    unified_sim.advance(5)
    [push] = unified_sim.wait_for_pushes()

    message.refresh_from_db()
    assert push["status"] == 200
    assert message.status == Status.DELIVERED
    assert message.events.last().source == Source.WEBHOOK


# -- sms_cancel ---------------------------------------------------------------------------------


def later(hours: float = 2) -> datetime:
    return timezone.now() + timedelta(hours=hours)


def cancel(*pks: int) -> tuple[list[str], CommandError | None]:
    """Run sms_cancel: the lines it printed, and its CommandError (exit status) if any."""
    out = StringIO()
    try:
        call_command("sms_cancel", *map(str, pks), stdout=out, stderr=StringIO())
    except CommandError as exc:
        return out.getvalue().splitlines(), exc
    return out.getvalue().splitlines(), None


def test_cancel_cancels_a_scheduled_message(sms1601_provider, sms1601_sim):
    [message] = send_sms(NL, "Tomorrow at nine", send_at=later())

    lines, error = cancel(message.pk)

    message.refresh_from_db()
    assert message.status == Status.CANCELED
    assert (lines, error) == ([f"#{message.pk}: canceled (it was scheduled)"], None)
    outbox.dispatch()
    assert sms1601_sim.state()["requests"] == []


def test_cancel_takes_the_message_number_as_sms_send_prints_it(sms1601_provider):
    [message] = send_sms(NL, "Now")

    output = run("sms_cancel", f"#{message.pk}")

    message.refresh_from_db()
    assert message.status == Status.CANCELED
    assert output.strip() == f"#{message.pk}: canceled (it was queued)"


def test_cancel_withdraws_a_message_the_gateway_holds_for_later(sms1601_provider, sms1601_sim):
    set_options(sms1601_provider, scheduling="gateway")
    [message] = send_sms(NL, "Tomorrow at nine", send_at=later())
    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED and sms1601_sim.state()["outbox"]

    lines, error = cancel(message.pk)

    message.refresh_from_db()
    assert message.status == Status.CANCELED
    assert sms1601_sim.state()["outbox"] == []
    assert lines == [f"#{message.pk}: canceled: withdrawn from 1601SMS test's schedule"]
    assert error is None


def test_cancel_prints_the_gateways_refusal_and_exits_1(sms1601_provider, sms1601_sim):
    set_options(sms1601_provider, scheduling="gateway")
    [message] = send_sms(NL, "Tomorrow at nine", send_at=later())
    outbox.dispatch()
    sms1601_sim.set_time(later(3).timestamp())  # the gateway has sent it already

    [line], error = cancel(message.pk)

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert line.startswith(f"#{message.pk}: not canceled: the gateway refused to withdraw it: ")
    assert "122" in line
    assert SMS1601_PASSWORD not in line
    assert (error.returncode, str(error)) == (1, "1 of 1 message(s) not canceled")


def test_cancel_refuses_a_delivered_message_and_exits_1(sms1601_provider, sms1601_sim):
    [message] = send_sms(NL, "Hello")
    outbox.dispatch()
    sms1601_sim.advance(5)
    reports.poll_reports()
    message.refresh_from_db()
    assert message.status == Status.DELIVERED

    lines, error = cancel(message.pk)

    message.refresh_from_db()
    assert message.status == Status.DELIVERED
    assert lines == [f"#{message.pk}: not canceled: it is already delivered"]
    assert error.returncode == 1


def test_cancel_explains_a_gateway_that_holds_the_message_but_cannot_withdraw_it(
    unified_provider, unified_sim
):
    set_options(unified_provider, scheduling="gateway")
    [message] = send_sms(IN, "Tomorrow at nine", send_at=later())
    outbox.dispatch()
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED

    [line], error = cancel(message.pk)

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert line.startswith(f"#{message.pk}: not canceled: Unified Communications holds it for ")
    assert line.endswith("but cannot withdraw it; cancel it in the gateway's own panel")
    assert error.returncode == 1


def test_cancel_reports_each_message_and_exits_1_when_one_is_not_canceled(
    sms1601_provider, sms1601_sim
):
    [sent] = send_sms(NL, "Already out")
    outbox.dispatch()
    [waiting] = send_sms(NL, "Later", send_at=later())

    lines, error = cancel(sent.pk, waiting.pk)

    waiting.refresh_from_db()
    assert waiting.status == Status.CANCELED
    assert lines == [
        f"#{sent.pk}: not canceled: the gateway has already accepted it for delivery",
        f"#{waiting.pk}: canceled (it was scheduled)",
    ]
    assert (error.returncode, str(error)) == (1, "1 of 2 message(s) not canceled")


def test_cancel_records_the_note_on_the_messages_timeline(sms1601_provider):
    [message] = send_sms(NL, "Later", send_at=later())

    run("sms_cancel", str(message.pk), "--note", "customer called back")

    event = message.events.last()
    assert (event.from_status, event.to_status) == (Status.SCHEDULED, Status.CANCELED)
    assert event.note == "canceled from the command line: customer called back"


def test_cancel_records_the_command_line_as_the_source(sms1601_provider):
    [message] = send_sms(NL, "Later", send_at=later())

    run("sms_cancel", str(message.pk))

    assert message.events.last().source == Source.CLI


def test_cancel_withdrawing_from_the_gateway_records_the_command_line_as_the_source(
    sms1601_provider, sms1601_sim
):
    set_options(sms1601_provider, scheduling="gateway")
    [message] = send_sms(NL, "Tomorrow at nine", send_at=later())
    outbox.dispatch()

    run("sms_cancel", str(message.pk))

    event = message.events.last()
    assert (event.from_status, event.to_status) == (Status.ACCEPTED, Status.CANCELED)
    assert event.source == Source.CLI


def test_cancel_of_an_unknown_message_exits_2_and_cancels_nothing(sms1601_provider):
    [message] = send_sms(NL, "Later", send_at=later())

    error = refused("sms_cancel", str(message.pk), "999999", "999998")

    message.refresh_from_db()
    assert message.status == Status.SCHEDULED
    assert error.returncode == 2
    assert str(error) == "MESSAGE_ID: no message #999999, #999998; nothing was canceled"


@pytest.mark.parametrize("value", ["twelve", "-3", "1.5", ""])
def test_cancel_of_something_that_is_not_a_message_number_exits_2(value):
    error = refused("sms_cancel", value)

    assert error.returncode == 2
    assert str(error) == f"MESSAGE_ID: {value!r} is not a message number such as 12"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["sms_cancel", "1\x00"], "MESSAGE_ID"),
        (["sms_cancel", "1", "--note", "why\x1b"], "--note"),
        (["sms_provider", "show", "x\x00"], "NAME"),
        (["sms_provider", "show", "Memory", "--base-url", "https://h\x00"], "--base-url"),
        (["sms_provider", "add", "M", "--gateway", "memory", "--default-region", "\udcff"],
         "--default-region"),
        (["sms_provider", "add", "U", "--gateway", "unified", "--callback-secret", "s\x00" * 9],
         "--callback-secret"),
    ],
)  # fmt: skip
def test_new_options_refuse_unsendable_text_naming_the_option(memory_provider, args, option):
    error = refused(*args)

    assert error.returncode == 2
    assert str(error).startswith(f"{option}: the value has U+")
    assert Provider.objects.count() == 1


def test_cancel_on_the_command_line_prints_one_error_line_and_exits_2(tmp_path):
    result = manage("sms_cancel", "twelve", tmp_path=tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip() == "error: MESSAGE_ID: 'twelve' is not a message number such as 12"
    assert result.stdout == ""
