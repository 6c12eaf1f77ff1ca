"""The sms_* management commands, as an operator at a shell sees them.

Bad input is one line naming the option and the rule, exit status 2, nothing written;
a gateway that cannot answer is exit status 1; secrets never reach the output.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from helpdesk_sms import api, outbox
from helpdesk_sms.gateways.base import Capability
from helpdesk_sms.gateways.memory import MemoryGateway
from helpdesk_sms.models import BalanceSnapshot, Message, Provider, SenderID
from helpdesk_sms.simulators import SIMULATORS

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "k3y-that-must-never-show"
SECRET_PASSWORD = "pa55-that-must-never-show"


def run(*args: str) -> str:
    """Run a command as call_command does; return what it printed on stdout."""
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def refused(*args: str) -> CommandError:
    """Run a command that must fail; return the CommandError (message and returncode)."""
    with pytest.raises(CommandError) as info:
        run(*args)
    return info.value


def manage(*args: str, timeout: float = 60, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``manage.py`` for real, on a throw-away database, to see exit status and stderr."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "HELPDESK_SMS_DISPATCH": "none",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- sms_provider ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_provider_add_creates_the_provider_with_its_default_sender():
    output = run(
        "sms_provider",
        "add",
        "Canlog",
        "--gateway",
        "canlog",
        "--url",
        "http://127.0.0.1:9001",
        "--api-key",
        SECRET_KEY,
        "--sender",
        "WEBSMS",
        "--priority",
        "5",
        "--timezone",
        "Asia/Kolkata",
        "--low-balance",
        "100",
        "--option",
        "channel=Trans",
        "--option",
        "route=15",
    )

    provider = Provider.objects.get(name="Canlog")
    assert (provider.gateway, provider.base_url, provider.priority, provider.timezone) == (
        "canlog",
        "http://127.0.0.1:9001",
        5,
        "Asia/Kolkata",
    )
    assert provider.api_key == SECRET_KEY
    assert provider.default_sender.value == "WEBSMS"
    assert provider.options == {"channel": "Trans", "route": 15}
    assert provider.low_balance_threshold == 100
    assert "Created provider 'Canlog'" in output
    assert "WEBSMS" in output
    assert SECRET_KEY not in output


@pytest.mark.django_db
def test_provider_add_reads_secrets_from_environment_variables(monkeypatch):
    monkeypatch.setenv("SMS_KEY", SECRET_KEY)
    monkeypatch.setenv("SMS_PASSWORD", SECRET_PASSWORD)

    run(
        "sms_provider",
        "add",
        "Env",
        "--gateway",
        "memory",
        "--api-key-env",
        "SMS_KEY",
        "--username",
        "demo",
        "--password-env",
        "SMS_PASSWORD",
    )

    provider = Provider.objects.get(name="Env")
    assert (provider.api_key, provider.username, provider.password) == (
        SECRET_KEY,
        "demo",
        SECRET_PASSWORD,
    )


@pytest.mark.django_db
def test_provider_add_with_an_unset_environment_variable_fails_naming_it(monkeypatch):
    monkeypatch.delenv("SMS_KEY_NOT_SET", raising=False)

    error = refused(
        "sms_provider", "add", "Env", "--gateway", "memory", "--api-key-env", "SMS_KEY_NOT_SET"
    )

    assert error.returncode == 2
    assert "--api-key-env" in str(error) and "SMS_KEY_NOT_SET" in str(error)
    assert not Provider.objects.exists()


@pytest.mark.django_db
def test_provider_add_with_a_sender_the_gateway_refuses_writes_nothing():
    error = refused(
        "sms_provider",
        "add",
        "Canlog",
        "--gateway",
        "canlog",
        "--url",
        "http://127.0.0.1:9001",
        "--api-key",
        SECRET_KEY,
        "--sender",
        "WEBSMS7",
    )

    assert error.returncode == 2
    assert str(error).startswith("--sender: ")
    assert "at most 6 characters" in str(error)
    assert not Provider.objects.exists()
    assert not SenderID.objects.exists()


@pytest.mark.django_db
def test_provider_add_with_an_unknown_gateway_fails_listing_the_known_ones():
    error = refused("sms_provider", "add", "Mystery", "--gateway", "nosuch")

    assert error.returncode == 2
    assert str(error).startswith("--gateway: ")
    assert "'nosuch'" in str(error) and "canlog" in str(error)
    assert not Provider.objects.exists()


@pytest.mark.django_db
def test_provider_add_reports_every_invalid_field_by_its_option():
    error = refused(
        "sms_provider",
        "add",
        "Bad",
        "--gateway",
        "memory",
        "--url",
        "not a url",
        "--timezone",
        "Mars/Olympus",
        "--option",
        "colour=blue",
    )

    assert error.returncode == 2
    message = str(error)
    assert "--url: Enter a valid URL" in message
    assert "--timezone: Mars/Olympus is not a known time zone" in message
    assert "--option: " in message and "colour" in message
    assert not Provider.objects.exists()


@pytest.mark.django_db
def test_provider_add_with_a_taken_name_fails_naming_it(memory_provider):
    error = refused("sms_provider", "add", "Memory", "--gateway", "memory")

    assert error.returncode == 2
    assert "NAME: " in str(error) and "already exists" in str(error)
    assert Provider.objects.count() == 1


@pytest.mark.django_db
def test_provider_list_shows_each_provider_but_never_its_secrets():
    provider = Provider.objects.create(
        name="Canlog",
        gateway="canlog",
        api_key=SECRET_KEY,
        password=SECRET_PASSWORD,
        base_url=f"http://demo:{SECRET_PASSWORD}@127.0.0.1:9001",
    )
    provider.default_sender = SenderID.objects.create(provider=provider, value="WEBSMS")
    provider.save()
    Provider.objects.create(name="Bare", gateway="console", priority=7)

    output = run("sms_provider", "list")

    assert SECRET_KEY not in output
    assert SECRET_PASSWORD not in output
    lines = output.splitlines()
    assert lines[0].split() == [
        "NAME",
        "GATEWAY",
        "URL",
        "ACTIVE",
        "PRIORITY",
        "DEFAULT",
        "SENDER",
        "CREDENTIALS",
    ]
    canlog = next(line for line in lines if line.startswith("Canlog"))
    bare = next(line for line in lines if line.startswith("Bare"))
    assert canlog.split()[-2:] == ["WEBSMS", "stored"]
    assert "http://demo:***@127.0.0.1:9001" in canlog
    assert bare.split()[-3:] == ["-", "not", "set"]


@pytest.mark.django_db
def test_provider_check_prints_the_balances_from_the_canlog_simulator(canlog_provider):
    output = run("sms_provider", "check", canlog_provider.name)

    assert "Promo: 9988" in output
    assert "Trans: 500" in output
    assert BalanceSnapshot.objects.filter(provider=canlog_provider).count() == 2
    assert all(s not in output for s in canlog_provider.secret_values())


@pytest.mark.django_db
def test_provider_check_exits_1_with_the_gateway_error(canlog_provider, canlog_sim):
    canlog_sim.set_faults(http_500=True)

    error = refused("sms_provider", "check", canlog_provider.name)

    assert error.returncode == 1
    assert "balance check failed" in str(error) and "HTTP 500" in str(error)


@pytest.mark.django_db
def test_provider_check_of_a_gateway_without_balance_says_so_and_exits_0(unified_provider):
    output = run("sms_provider", "check", unified_provider.name)

    assert output == f"{unified_provider.name}: this gateway has no balance feature\n"
    assert not BalanceSnapshot.objects.exists()


@pytest.mark.django_db
def test_balance_of_one_provider_without_balance_says_so_and_exits_0(unified_provider):
    output = run("sms_balance", "--provider", unified_provider.name)

    assert output == f"{unified_provider.name}: this gateway has no balance feature\n"
    assert not BalanceSnapshot.objects.exists()


@pytest.mark.django_db
def test_balance_of_all_providers_skips_a_gateway_without_balance(
    canlog_provider, unified_provider
):
    output = run("sms_balance")

    assert canlog_provider.name in output
    assert unified_provider.name not in output


@pytest.mark.django_db
def test_provider_check_of_an_unknown_provider_exits_2():
    error = refused("sms_provider", "check", "Nobody")

    assert error.returncode == 2
    assert str(error).startswith("NAME: Unknown provider 'Nobody'")


# -- sms_send --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_send_queues_one_message_per_number_and_prints_each(memory_provider):
    output = run("sms_send", "--to", "+919812345678", "--to", "9812345679", "--text", "Hello")

    messages = list(Message.objects.order_by("pk"))
    assert [(m.recipient, m.status, m.sender) for m in messages] == [
        ("+919812345678", "queued", "HELPDK"),
        ("+919812345679", "queued", "HELPDK"),
    ]
    assert output.splitlines() == [
        f"#{messages[0].pk} to +919812345678: 1 part, queued",
        f"#{messages[1].pk} to +919812345679: 1 part, queued",
    ]
    assert MemoryGateway.outbox == []  # queued, not sent: that is the outbox's job


@pytest.mark.django_db
def test_send_with_an_invalid_number_exits_2_naming_to_and_writes_nothing(memory_provider):
    error = refused("sms_send", "--to", "+919812345678", "--to", "12", "--text", "Hello")

    assert error.returncode == 2
    assert str(error).startswith("--to: ")
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_send_through_an_unknown_provider_exits_2(memory_provider):
    error = refused("sms_send", "--to", "+919812345678", "--text", "Hi", "--provider", "Nope")

    assert error.returncode == 2
    assert str(error).startswith("--provider: Unknown provider 'Nope'")
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_send_with_empty_text_exits_2_naming_text(memory_provider):
    error = refused("sms_send", "--to", "+919812345678", "--text", "  ")

    assert error.returncode == 2
    assert str(error) == "--text: The text is empty."
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_send_at_a_past_time_exits_2_naming_at(memory_provider):
    error = refused(
        "sms_send", "--to", "+919812345678", "--text", "Hi", "--at", "2020-01-01T09:00+05:30"
    )

    assert error.returncode == 2
    assert str(error).startswith("--at: ") and "in the past" in str(error)
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_send_at_an_unparseable_time_exits_2_naming_at(memory_provider):
    error = refused("sms_send", "--to", "+919812345678", "--text", "Hi", "--at", "tomorrow")

    assert error.returncode == 2
    assert str(error).startswith("--at: 'tomorrow' is not an ISO-8601 date and time")


@pytest.mark.django_db
def test_send_at_a_naive_time_is_read_in_the_site_time_zone(memory_provider, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    year = datetime.now(UTC).year + 1

    output = run("sms_send", "--to", "+919812345678", "--text", "Hi", "--at", f"{year}-03-01T09:30")

    message = Message.objects.get()
    assert message.status == "scheduled"
    assert message.send_at == datetime(year, 3, 1, 4, 0, tzinfo=UTC)
    assert f"scheduled for {year}-03-01T09:30:00+05:30" in output


@pytest.mark.django_db
def test_send_flash_through_a_gateway_without_flash_exits_2_naming_flash(
    memory_provider, monkeypatch
):
    # Every built-in gateway can flash; take the ability away from the memory gateway.
    monkeypatch.setattr(
        MemoryGateway, "capabilities", MemoryGateway.capabilities - {Capability.FLASH}
    )

    error = refused("sms_send", "--to", "+919812345678", "--text", "Hi", "--flash")

    assert error.returncode == 2
    assert str(error).startswith("--flash: ") and "flash" in str(error)[len("--flash: ") :]
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_send_now_submits_at_once_and_prints_the_new_status(memory_provider):
    output = run("sms_send", "--to", "+919812345678", "--text", "Hello", "--now")

    message = Message.objects.get()
    assert message.status == "accepted"
    assert [batch.text for batch in MemoryGateway.outbox] == ["Hello"]
    assert "claimed 1: accepted 1" in output
    assert output.splitlines()[-1] == f"#{message.pk} to +919812345678: 1 part, accepted"


# -- sms_dispatch ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_dispatch_sends_queued_messages_and_prints_the_report(memory_provider):
    api.send_sms(["+919812345678", "+919812345679"], "Ticket #7 received")

    output = run("sms_dispatch")

    assert sorted(r.number for batch in MemoryGateway.outbox for r in batch.recipients) == [
        "+919812345678",
        "+919812345679",
    ]
    assert set(Message.objects.values_list("status", flat=True)) == {"accepted"}
    assert output.strip() == (
        "claimed 2: accepted 2, failed 0, unknown 0, retrying 0; released 0 scheduled, "
        "0 unsent claims queued again, 0 stale"
    )


@pytest.mark.django_db
def test_dispatch_prints_each_gateway_error(memory_provider):
    from helpdesk_sms.gateways.base import ErrorCategory, GatewayError

    api.send_sms("+919812345678", "Hi")
    MemoryGateway.fail_next.append(GatewayError(ErrorCategory.AUTHENTICATION, "bad key"))

    output = run("sms_dispatch")

    assert "failed 1" in output
    assert "authentication: bad key" in output


@pytest.mark.django_db
def test_dispatch_with_a_zero_limit_exits_2():
    error = refused("sms_dispatch", "--limit", "0")

    assert error.returncode == 2
    assert str(error).startswith("--limit: ")


@pytest.mark.django_db
def test_dispatch_loop_finishes_its_pass_and_stops_on_sigterm(memory_provider, monkeypatch):
    passes = []
    real_dispatch = outbox.dispatch

    def dispatch_then_terminate(**kwargs):
        passes.append(kwargs)
        if len(passes) == 1:
            api.send_sms("+919812345678", "Hi")  # arrives between passes
        else:
            signal.raise_signal(signal.SIGTERM)  # a service manager stops us mid-pass
        return real_dispatch(**kwargs)

    monkeypatch.setattr(outbox, "dispatch", dispatch_then_terminate)

    output = run("sms_dispatch", "--loop", "--interval", "0.01")

    assert len(passes) == 2
    assert Message.objects.get().status == "accepted"  # the interrupted pass completed
    assert output.splitlines()[-1] == "Stopped."


# -- sms_poll_reports and sms_balance --------------------------------------------------------


@pytest.mark.django_db
def test_poll_reports_for_an_unknown_provider_exits_2(memory_provider):
    error = refused("sms_poll_reports", "--provider", "Nope")

    assert error.returncode == 2
    assert str(error) == "--provider: Unknown provider 'Nope' (known: Memory)."


@pytest.mark.django_db
def test_poll_reports_moves_messages_from_the_canlog_simulator(canlog_provider, canlog_sim):
    api.send_sms("+919812345678", "Hi", provider=canlog_provider, sender="WEBSMS")
    outbox.dispatch()
    canlog_sim.advance(3600)

    output = run("sms_poll_reports", "--provider", canlog_provider.name)

    assert Message.objects.get().status == "delivered"
    assert output.strip() == (
        f"Polled {canlog_provider.name}: 1 message(s) moved by delivery reports."
    )


@pytest.mark.django_db
def test_balance_prints_every_provider_balance(memory_provider):
    output = run("sms_balance")

    assert output.strip() == "Memory: main: 1000 credits"
    assert BalanceSnapshot.objects.filter(provider=memory_provider).count() == 1


@pytest.mark.django_db
def test_balance_for_an_unknown_provider_exits_2(memory_provider):
    error = refused("sms_balance", "--provider", "Nope")

    assert error.returncode == 2
    assert str(error).startswith("--provider: Unknown provider 'Nope'")


# -- sms_simulate ----------------------------------------------------------------------------


def test_simulate_an_unknown_gateway_exits_2_listing_the_known_ones():
    error = refused("sms_simulate", "nosuch")

    assert error.returncode == 2
    known = ", ".join(sorted(SIMULATORS))
    assert str(error) == f"GATEWAY: no simulator for 'nosuch'; known: {known}"


@contextlib.contextmanager
def running_simulator(tmp_path, *args: str):
    """``manage.py sms_simulate canlog --port N *args`` in a subprocess, answering; killed after."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sms_simulate", "canlog", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state = None
        deadline = time.monotonic() + 30
        while state is None and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/state", timeout=2) as r:
                    state = json.load(r)
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        assert state is not None, "the simulator never answered"
        yield process, port, state
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_simulate_serves_the_canlog_simulator_until_terminated(tmp_path):
    with running_simulator(tmp_path) as (process, port, state):
        assert state["simulator"] == "canlog"

        process.terminate()
        stdout, stderr = process.communicate(timeout=10)

    assert process.returncode == 0, stderr
    assert f"canlog simulator on http://127.0.0.1:{port}" in stdout
    assert "Traceback" not in stderr


def test_simulate_starts_with_the_faults_given_on_the_command_line(tmp_path):
    with running_simulator(tmp_path, "--fault", "http_500", "--fault", "latency=0.5") as (
        _process,
        _port,
        state,
    ):
        faults = {name: fault["value"] for name, fault in state["faults"].items()}

    assert faults == {"http_500": True, "latency": 0.5}


def test_simulate_with_an_unknown_fault_exits_2_naming_the_known_ones():
    error = refused("sms_simulate", "canlog", "--fault", "gremlins")

    assert error.returncode == 2
    assert str(error).startswith("--fault: unknown fault(s) gremlins; known: ")


# -- the real command line -------------------------------------------------------------------


def test_bad_input_on_the_command_line_is_one_line_on_stderr_and_exit_2(tmp_path):
    result = manage("sms_provider", "add", "X", "--gateway", "nosuch", tmp_path=tmp_path)

    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: --gateway: unknown gateway 'nosuch'; known: ")
    assert "canlog" in line
    assert result.stdout == ""


def test_an_unknown_simulator_on_the_command_line_exits_2(tmp_path):
    result = manage("sms_simulate", "nosuch", tmp_path=tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith("error: GATEWAY: no simulator for 'nosuch'")
    assert "Traceback" not in result.stderr


@pytest.mark.django_db
def test_balance_of_every_provider_exits_1_naming_the_one_that_failed(
    memory_provider, canlog_provider, canlog_sim
):
    canlog_sim.set_faults(http_500=True)

    error = refused("sms_balance")

    assert error.returncode == 1
    assert str(error) == f"balance check failed for {canlog_provider.name}"
