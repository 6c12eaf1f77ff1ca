"""``sms_provider set``: change a provider from a shell as its admin page does (issue 10).

Only the options given change; a refused value writes nothing and names its option (exit
2); secrets come from the environment and never reach the output. Against the real
simulators over 127.0.0.1 where a gateway is involved: a key set here is the key the
gateway sees, and a callback secret rotated here is the one the gateway's pushes need.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from helpdesk_sms import outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.models import Audience, Event, NotificationTemplate, Provider, SenderID
from tests.fixtures_simulators import CANLOG_API_KEY
from tests.fixtures_unified import UNIFIED_CALLBACK_SECRET, UNIFIED_PASSWORD
from tests.test_commands import manage, refused, run
from tests.test_commands_parity import printed_callback_url

pytestmark = pytest.mark.django_db

NEW_SECRET = "new-callback-secret-never-shown-42"
WRONG_KEY = "wrong-key-never-shown-0000"
IN = "+919812345678"


def sms_set(provider: Provider, *args: str) -> str:
    return run("sms_provider", "set", provider.name, *args)


def refused_set(provider: Provider, *args: str) -> CommandError:
    return refused("sms_provider", "set", provider.name, *args)


def fresh(provider: Provider) -> Provider:
    return Provider.objects.get(pk=provider.pk)


def shown_rows(provider: Provider) -> dict[str, str]:
    """``sms_provider show``'s ``label: value`` rows."""
    output = run("sms_provider", "show", provider.name)
    rows = [line.strip().split(":", 1) for line in output.splitlines() if line.startswith("  ")]
    return {row[0]: row[1].strip() for row in rows if len(row) == 2}


# -- settings ------------------------------------------------------------------------------


def test_set_changes_only_the_settings_given_and_names_them(canlog_provider):
    output = sms_set(canlog_provider, "--priority", "5", "--timezone", "UTC")

    provider = fresh(canlog_provider)
    assert (provider.priority, provider.timezone) == (5, "UTC")
    assert (provider.base_url, provider.api_key, provider.options) == (
        canlog_provider.base_url,
        CANLOG_API_KEY,
        {"channel": "Trans", "route": "15"},
    )
    assert output.strip() == "Updated provider 'Canlog test': priority, time zone."


def test_set_option_keeps_the_other_options_and_remove_option_drops_one(canlog_provider):
    output = sms_set(canlog_provider, "--option", "route=20", "--remove-option", "channel")

    assert fresh(canlog_provider).options == {"route": 20}
    assert output.strip() == "Updated provider 'Canlog test': options (channel, route)."


def test_set_with_an_empty_value_clears_a_setting(canlog_provider):
    canlog_provider.default_region = "IN"
    canlog_provider.allowed_countries = "IN,NP"
    canlog_provider.low_balance_threshold = 600
    canlog_provider.save()

    sms_set(
        canlog_provider, "--default-region", "", "--allowed-countries", "", "--low-balance", ""
    )

    provider = fresh(canlog_provider)
    assert (provider.default_region, provider.allowed_countries) == ("", "")
    assert provider.low_balance_threshold is None


def test_set_priority_zero_is_a_change(memory_provider):
    sms_set(memory_provider, "--priority", "0")

    assert fresh(memory_provider).priority == 0


def test_set_switches_a_provider_off_and_on(memory_provider):
    sms_set(memory_provider, "--inactive")
    assert not fresh(memory_provider).is_active

    sms_set(memory_provider, "--active")
    assert fresh(memory_provider).is_active


def test_set_reads_regions_as_region_codes(memory_provider):
    sms_set(memory_provider, "--default-region", "in", "--allowed-countries", "in, np")

    provider = fresh(memory_provider)
    assert (provider.default_region, provider.allowed_countries) == ("IN", "IN,NP")


def test_set_renames_the_provider(memory_provider):
    output = sms_set(memory_provider, "--rename", "Backup")

    assert fresh(memory_provider).name == "Backup"
    assert output.strip() == "Updated provider 'Backup' (was 'Memory'): name."


def test_set_to_the_stored_values_says_so_and_saves_nothing(canlog_provider):
    updated_at = fresh(canlog_provider).updated_at

    output = sms_set(canlog_provider, "--priority", "100", "--timezone", "Asia/Kolkata")

    assert output.strip() == (
        "Provider 'Canlog test' unchanged: every value given is the one stored."
    )
    assert fresh(canlog_provider).updated_at == updated_at


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "not a url"], "--url: Enter a valid URL."),
        (["--timezone", "Mars/Base"], "--timezone: Mars/Base is not a known time zone"),
        (["--allowed-countries", "IND"], "--allowed-countries: IND is not a two-letter region"),
        (["--default-region", "9X"], "--default-region: Use a two-letter region code"),
        (["--low-balance", "lots"], "--low-balance: "),
        (["--priority", "-1"], "--priority: "),
        (["--option", "colour=red"], "--option: Canlog does not know the option(s) colour"),
        (["--option", "route"], "--option: 'route' is not KEY=VALUE"),
        (["--remove-option", "colour"], "--remove-option: 'colour' is not set (set: channel, "),
        (["--rename", ""], "--rename: This field cannot be blank."),
        (["--gateway", "nosuch"], "--gateway: "),
    ],
)
def test_set_with_a_bad_value_exits_2_naming_the_option(canlog_provider, args, message):
    error = refused_set(canlog_provider, *args)

    assert error.returncode == 2
    assert str(error).startswith(message)


def test_set_with_one_bad_value_writes_none_of_the_others(canlog_provider):
    refused_set(canlog_provider, "--priority", "5", "--add-sender", "ALERTS", "--timezone", "X")

    provider = fresh(canlog_provider)
    assert provider.priority == 100
    assert list(provider.senders.values_list("value", flat=True)) == ["HLPDSK"]


def test_set_without_anything_to_change_exits_2(memory_provider):
    error = refused_set(memory_provider)

    assert error.returncode == 2
    assert str(error).startswith("nothing to change: give at least one option")


def test_set_of_an_unknown_provider_exits_2_listing_the_known_ones(memory_provider):
    error = refused("sms_provider", "set", "Nobody", "--priority", "1")

    assert error.returncode == 2
    assert str(error) == "NAME: Unknown provider 'Nobody' (known: Memory)."


def test_set_rename_to_a_taken_name_exits_2(memory_provider, canlog_provider):
    error = refused_set(memory_provider, "--rename", canlog_provider.name)

    assert error.returncode == 2
    assert str(error).startswith("--rename: ")
    assert fresh(memory_provider).name == "Memory"


def test_set_gateway_switches_the_protocol(memory_provider):
    output = sms_set(memory_provider, "--gateway", "console")

    assert fresh(memory_provider).gateway == "console"
    assert output.strip() == "Updated provider 'Memory': gateway."


def test_set_gateway_refuses_a_switch_a_stored_sender_id_does_not_suit(memory_provider):
    SenderID.objects.create(provider=memory_provider, value="HELPDESK1")

    error = refused_set(memory_provider, "--gateway", "canlog", "--option", "route=15")

    assert error.returncode == 2
    assert str(error).startswith("--gateway: the sender ID 'HELPDESK1' does not suit canlog: ")
    assert fresh(memory_provider).gateway == "memory"


def test_bad_input_to_set_on_the_command_line_is_one_line_on_stderr(tmp_path):
    result = manage("sms_provider", "set", "Canlog", tmp_path=tmp_path)

    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: nothing to change: ")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [["--rename", "x\x00"], ["--option", "route=\x1b"], ["--add-sender", "\udcff"]],
)
def test_set_refuses_unsendable_text_naming_the_option(memory_provider, args):
    error = refused_set(memory_provider, *args)

    assert error.returncode == 2
    assert str(error).startswith(f"{args[0]}: the value has U+")


# -- credentials ---------------------------------------------------------------------------


def test_set_api_key_env_replaces_the_key_the_gateway_sees(canlog_provider, monkeypatch):
    monkeypatch.setenv("CANLOG_KEY", WRONG_KEY)
    output = sms_set(canlog_provider, "--api-key-env", "CANLOG_KEY")
    assert output.strip() == "Updated provider 'Canlog test': API key."

    error = refused("sms_provider", "check", canlog_provider.name)

    assert error.returncode == 1 and "authentication" in str(error)
    monkeypatch.setenv("CANLOG_KEY", CANLOG_API_KEY)
    sms_set(canlog_provider, "--api-key-env", "CANLOG_KEY")
    assert "Trans: 500" in run("sms_provider", "check", canlog_provider.name)


def test_set_api_key_env_stamps_the_change_and_show_reports_it(canlog_provider, monkeypatch):
    long_ago = timezone.now() - timedelta(days=400)
    Provider.objects.filter(pk=canlog_provider.pk).update(credentials_changed_at=long_ago)
    monkeypatch.setenv("CANLOG_KEY", WRONG_KEY)

    sms_set(canlog_provider, "--api-key-env", "CANLOG_KEY")

    stamp = fresh(canlog_provider).credentials_changed_at
    assert stamp > long_ago + timedelta(days=399)
    changed = timezone.localtime(stamp).isoformat(timespec="seconds")
    assert shown_rows(canlog_provider)["credentials changed"] == changed


def test_set_with_the_stored_key_changes_nothing_and_keeps_the_stamp(canlog_provider, monkeypatch):
    stamp = fresh(canlog_provider).credentials_changed_at
    monkeypatch.setenv("CANLOG_KEY", CANLOG_API_KEY)

    output = sms_set(canlog_provider, "--api-key-env", "CANLOG_KEY")

    assert "unchanged" in output
    assert fresh(canlog_provider).credentials_changed_at == stamp


def test_set_password_env_replaces_the_password(unified_provider, monkeypatch):
    monkeypatch.setenv("UNIFIED_PW", "another-password-1")

    output = sms_set(unified_provider, "--password-env", "UNIFIED_PW")

    assert fresh(unified_provider).password == "another-password-1"
    assert output.startswith("Updated provider 'Unified test': password.")


def test_set_clear_password_erases_it(unified_provider):
    sms_set(unified_provider, "--clear-password", "--inactive")

    assert fresh(unified_provider).password == ""
    assert shown_rows(unified_provider)["password"] == "not set"


def test_set_clear_api_key_erases_it(canlog_provider):
    sms_set(canlog_provider, "--clear-api-key", "--inactive")

    assert fresh(canlog_provider).api_key == ""


def test_set_with_an_unset_environment_variable_exits_2_naming_it(canlog_provider, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)

    error = refused_set(canlog_provider, "--priority", "5", "--api-key-env", "NO_SUCH_KEY")

    assert error.returncode == 2
    assert str(error) == (
        "--api-key-env: the environment variable NO_SUCH_KEY is not set or empty"
    )
    assert fresh(canlog_provider).priority == 100


def test_set_cannot_both_replace_and_clear_a_key(canlog_provider, monkeypatch):
    monkeypatch.setenv("CANLOG_KEY", WRONG_KEY)

    error = refused_set(canlog_provider, "--api-key-env", "CANLOG_KEY", "--clear-api-key")

    assert "not allowed with argument" in str(error)
    assert fresh(canlog_provider).api_key == CANLOG_API_KEY


# -- callback secrets ----------------------------------------------------------------------


def test_set_callback_secret_env_replaces_every_secret(unified_provider, monkeypatch):
    monkeypatch.setenv("CALLBACK", NEW_SECRET)

    sms_set(unified_provider, "--callback-secret-env", "CALLBACK")

    assert fresh(unified_provider).callback_secret_list() == [NEW_SECRET]


def test_add_callback_secret_env_accepts_the_new_secret_beside_the_old(
    unified_provider, monkeypatch
):
    monkeypatch.setenv("CALLBACK", NEW_SECRET)

    output = sms_set(unified_provider, "--add-callback-secret-env", "CALLBACK")

    assert fresh(unified_provider).callback_secret_list() == [UNIFIED_CALLBACK_SECRET, NEW_SECRET]
    assert "Callback secrets: 2 accepted (a rotation in progress)." in output
    assert "sms_provider set 'Unified test' --keep-only-callback-secret-env VAR" in output


def test_keep_only_callback_secret_env_drops_the_old_secrets(unified_provider, monkeypatch):
    unified_provider.callback_secrets = f"{UNIFIED_CALLBACK_SECRET}\n{NEW_SECRET}"
    unified_provider.save()
    monkeypatch.setenv("CALLBACK", NEW_SECRET)

    output = sms_set(unified_provider, "--keep-only-callback-secret-env", "CALLBACK")

    assert fresh(unified_provider).callback_secret_list() == [NEW_SECRET]
    assert output.startswith("Updated provider 'Unified test': callback secrets.")


def test_keep_only_a_secret_that_is_not_stored_exits_2_and_drops_nothing(
    unified_provider, monkeypatch
):
    monkeypatch.setenv("CALLBACK", NEW_SECRET)

    error = refused_set(unified_provider, "--keep-only-callback-secret-env", "CALLBACK")

    assert error.returncode == 2
    assert str(error).startswith(
        "--keep-only-callback-secret-env: the secret in $CALLBACK is not one of the stored"
    )
    assert fresh(unified_provider).callback_secret_list() == [UNIFIED_CALLBACK_SECRET]


def test_add_callback_secret_that_is_already_accepted_exits_2(unified_provider, monkeypatch):
    monkeypatch.setenv("CALLBACK", UNIFIED_CALLBACK_SECRET)

    error = refused_set(unified_provider, "--add-callback-secret-env", "CALLBACK")

    assert error.returncode == 2
    assert str(error) == "--add-callback-secret-env: the secret in $CALLBACK is already accepted"


def test_add_callback_secret_that_cannot_travel_in_a_url_exits_2(unified_provider, monkeypatch):
    monkeypatch.setenv("CALLBACK", "has/a-slash-in-it-0123456789")

    error = refused_set(unified_provider, "--add-callback-secret-env", "CALLBACK")

    assert error.returncode == 2
    assert str(error).startswith("--add-callback-secret-env: the secret must be 16 to 200")
    assert "has/a-slash" not in str(error)


def test_callback_secret_for_a_gateway_that_does_not_push_exits_2(canlog_provider, monkeypatch):
    monkeypatch.setenv("CALLBACK", NEW_SECRET)

    error = refused_set(canlog_provider, "--callback-secret-env", "CALLBACK")

    assert error.returncode == 2
    assert str(error) == (
        "--callback-secret-env: Canlog does not push delivery reports; a callback secret "
        "would never be used"
    )


def test_clear_callback_secrets_erases_them_and_warns_that_pushes_are_refused(unified_provider):
    output = sms_set(unified_provider, "--clear-callback-secrets")

    assert fresh(unified_provider).callback_secrets == ""
    assert "No callback secret is set: every push is refused" in output


def pushed_status(sim, url: str) -> int:
    """Send one message through the Unified simulator pushing to ``url``; the push's status."""
    sim.callback_url = url
    sim.advance(0)
    [message] = send_sms(IN, "Your ticket #42 is resolved.")
    outbox.dispatch()
    sim.advance(5)
    message.refresh_from_db()
    pushes = sim.wait_for_pushes()
    return next(p["status"] for p in pushes if p["message_id"] == message.provider_message_id)


def test_a_callback_secret_rotated_from_the_shell_takes_pushes_on_both_until_the_old_is_dropped(
    live_server, unified_provider, unified_sim, monkeypatch
):
    monkeypatch.setenv("NEW_CALLBACK", NEW_SECRET)
    output = sms_set(
        unified_provider, "--add-callback-secret-env", "NEW_CALLBACK", "--base-url", live_server.url
    )
    url = printed_callback_url(output)
    old_url = url.replace("<callback secret>", UNIFIED_CALLBACK_SECRET)
    new_url = url.replace("<callback secret>", NEW_SECRET)
    assert pushed_status(unified_sim, old_url) == 200  # the gateway has not moved yet
    assert pushed_status(unified_sim, new_url) == 200  # now it has

    sms_set(unified_provider, "--keep-only-callback-secret-env", "NEW_CALLBACK")

    assert pushed_status(unified_sim, old_url) == 403
    assert pushed_status(unified_sim, new_url) == 200


def test_no_set_prints_a_secret(unified_provider, monkeypatch):
    """Every way set takes a secret, accepted or refused: stdout and stderr never hold one."""
    monkeypatch.setenv("PW", "another-password-1")
    monkeypatch.setenv("CALLBACK", NEW_SECRET)
    monkeypatch.setenv("BAD_CALLBACK", "short-" + UNIFIED_PASSWORD[:3])
    outputs = [
        sms_set(unified_provider, "--password-env", "PW"),
        sms_set(unified_provider, "--add-callback-secret-env", "CALLBACK"),
        str(refused_set(unified_provider, "--add-callback-secret-env", "CALLBACK")),
        sms_set(unified_provider, "--keep-only-callback-secret-env", "CALLBACK"),
        str(refused_set(unified_provider, "--callback-secret-env", "BAD_CALLBACK")),
        str(refused_set(unified_provider, "--url", f"http://x:{NEW_SECRET}@ not a url")),
    ]

    secrets = ["another-password-1", UNIFIED_PASSWORD, NEW_SECRET, UNIFIED_CALLBACK_SECRET]
    assert all(outputs)
    assert [s for s in secrets for out in outputs if s in out] == []


# -- sender IDs ----------------------------------------------------------------------------


def test_set_add_sender_creates_it(canlog_provider):
    output = sms_set(canlog_provider, "--add-sender", "ALERTS")

    assert sorted(fresh(canlog_provider).senders.values_list("value", flat=True)) == [
        "ALERTS",
        "HLPDSK",
    ]
    assert output.strip() == "Updated provider 'Canlog test'.\nSender IDs added: ALERTS."


def test_set_add_sender_the_gateway_refuses_exits_2_naming_the_option(canlog_provider):
    error = refused_set(canlog_provider, "--add-sender", "TOOLONG")

    assert error.returncode == 2
    assert str(error).startswith("--add-sender: Canlog allows at most 6 characters")
    assert not SenderID.objects.filter(value="TOOLONG").exists()


def test_set_add_sender_already_there_exits_2(canlog_provider):
    error = refused_set(canlog_provider, "--add-sender", "HLPDSK")

    assert (error.returncode, str(error)) == (
        2,
        "--add-sender: 'HLPDSK' is already a sender ID of Canlog test",
    )


def test_set_remove_sender_deletes_it(canlog_provider):
    SenderID.objects.create(provider=canlog_provider, value="OLDSND")

    output = sms_set(canlog_provider, "--remove-sender", "OLDSND")

    assert list(fresh(canlog_provider).senders.values_list("value", flat=True)) == ["HLPDSK"]
    assert "Sender IDs removed: OLDSND." in output


def test_set_refuses_to_remove_the_default_sender_without_a_new_default(canlog_provider):
    error = refused_set(canlog_provider, "--remove-sender", "HLPDSK")

    assert error.returncode == 2
    assert str(error).startswith(
        "--remove-sender: 'HLPDSK' is the default sender ID: name the new default with "
        "--default-sender"
    )
    assert fresh(canlog_provider).default_sender.value == "HLPDSK"


def test_set_replaces_the_default_sender_in_one_go(canlog_provider):
    output = sms_set(
        canlog_provider, "--add-sender", "ALERTS", "--default-sender", "ALERTS",
        "--remove-sender", "HLPDSK",
    )  # fmt: skip

    provider = fresh(canlog_provider)
    assert provider.default_sender.value == "ALERTS"
    assert list(provider.senders.values_list("value", flat=True)) == ["ALERTS"]
    assert output.splitlines() == [
        "Updated provider 'Canlog test': default sender.",
        "Sender IDs added: ALERTS.",
        "Sender IDs removed: HLPDSK.",
        "Default sender ID: ALERTS.",
    ]


def test_set_default_sender_empty_leaves_the_provider_without_one(canlog_provider):
    output = sms_set(canlog_provider, "--default-sender", "")

    assert fresh(canlog_provider).default_sender is None
    assert "No default sender ID: each message must name one" in output


def test_set_default_sender_that_is_not_the_providers_exits_2(canlog_provider):
    error = refused_set(canlog_provider, "--default-sender", "ALERTS")

    assert error.returncode == 2
    assert str(error).startswith("--default-sender: 'ALERTS' is not a sender ID of Canlog test")


def test_set_remove_unknown_sender_exits_2_listing_the_providers(canlog_provider):
    error = refused_set(canlog_provider, "--remove-sender", "NOSUCH")

    assert error.returncode == 2
    assert str(error) == (
        "--remove-sender: 'NOSUCH' is not a sender ID of Canlog test (its sender IDs: HLPDSK)"
    )


def test_removing_a_sender_a_template_names_says_the_template_now_uses_the_default(
    canlog_provider,
):
    old = SenderID.objects.create(provider=canlog_provider, value="OLDSND")
    template = NotificationTemplate.objects.create(
        name="Assigned", event=Event.TICKET_ASSIGNED, audience=Audience.CUSTOMER, body="Hi.",
        provider=canlog_provider, sender=old,
    )  # fmt: skip

    output = sms_set(canlog_provider, "--remove-sender", "OLDSND")

    template.refresh_from_db()
    assert template.sender is None
    assert (
        "OLDSND was the sender ID of 1 notification template(s): they now use the provider's "
        "default sender ID."
    ) in output
