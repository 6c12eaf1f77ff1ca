"""The demo's start: ``rundemo`` on the shipped fixtures, without starting its processes."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from helpdesk_sms.models import Provider
from project.demo.management.commands import rundemo

pytestmark = pytest.mark.django_db

DEMO_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "demo.json"


@pytest.fixture
def started(monkeypatch) -> list[dict[str, object]]:
    """The demo fixture loaded; starting the simulators, worker and web server only recorded."""
    call_command("loaddata", str(DEMO_FIXTURE), stdout=StringIO())
    runs: list[dict[str, object]] = []
    monkeypatch.setattr(
        rundemo.Command, "_run", lambda self, commands, addr, password: runs.append(commands)
    )
    return runs


def run_demo() -> str:
    """rundemo as ``make demo`` runs it: the system checks on; what it printed on stderr."""
    err = StringIO()
    call_command("rundemo", skip_checks=False, stdout=StringIO(), stderr=err)
    return err.getvalue()


def test_the_demo_starts_without_a_callback_secret_warning(started):
    stderr = run_demo()

    assert "W001" not in stderr
    assert len(started) == 1
    assert not Provider.objects.filter(gateway__in=["unified", "sms1601"], callback_secrets="")


def test_the_demo_still_warns_about_a_push_provider_of_its_own_without_a_secret(started):
    Provider.objects.create(name="Mine", gateway="unified", base_url="https://sms.example")

    stderr = run_demo()

    assert "helpdesk_sms.W001" in stderr and "'Mine'" in stderr


def test_the_demo_routes_india_through_canlog_then_unified(started):
    from helpdesk_sms.routing import RouteTable

    india = RouteTable.load().route_for("+919812345678")

    assert india is not None
    assert [hop.provider.gateway for hop in india.hops] == ["canlog", "unified"]


def test_a_demo_fault_starts_that_gateways_simulator_with_it(started):
    call_command("rundemo", fault=["canlog:credit_exhausted"], stdout=StringIO())

    [commands] = started
    canlog, _env = commands["canlog"]
    unified, _env = commands["unified"]
    assert canlog[-2:] == ["--fault", "credit_exhausted"]
    assert "--fault" not in unified


def test_a_demo_fault_for_an_unknown_gateway_is_refused_naming_the_option(started):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--fault 'mars:x'"):
        call_command("rundemo", fault=["mars:x"], stdout=StringIO())


def test_every_demo_simulator_texts_the_inbound_url_of_its_provider(started):
    call_command("rundemo", stdout=StringIO())

    [commands] = started
    for demo in rundemo.DEMO_GATEWAYS:
        command, env = commands[demo.gateway]
        provider = Provider.objects.get(gateway=demo.gateway, base_url__contains=f":{demo.port}")
        assert command[command.index("--reply-to-env") + 1] == rundemo.REPLY_TO_ENV
        assert env[rundemo.REPLY_TO_ENV].endswith(
            f"/sms/inbound/{provider.pk}/{provider.callback_secrets}/"
        )
