"""Run the whole demo: five gateway simulators, a Celery worker with beat, and the web site.

Everything started here is stopped on Ctrl-C. Fixtures hold no secrets: each run makes
fresh ones (the admin password, the simulators' credentials, the callback secrets), stores
them on the demo providers and hands them to the simulators through environment variables,
which keeps them off the command line.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from helpdesk_sms.gateways.base import Capability
from helpdesk_sms.models import Provider


class DemoGateway(NamedTuple):
    gateway: str
    port: int


#: The simulators the demo runs; fixtures/demo.json points one provider at each.
DEMO_GATEWAYS = [
    DemoGateway("canlog", 9001),
    DemoGateway("unified", 9002),
    DemoGateway("atl", 9003),
    DemoGateway("sms1601", 9004),
    DemoGateway("smsclone", 9005),
]
SECRET_ENV = "HELPDESK_SMS_DEMO_SECRET"
CALLBACK_ENV = "HELPDESK_SMS_DEMO_CALLBACK_URL"
REPLY_TO_ENV = "HELPDESK_SMS_DEMO_REPLY_TO_URL"


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the demo site with its gateway simulators and a Celery worker (Ctrl-C stops all)."
    # The checks run in handle(), once the fresh callback secrets are stored: run before,
    # they would warn (W001) about the secrets the fixtures leave out on purpose.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Where the site listens.")
        parser.add_argument(
            "--delivery-delay", default="5", help="Seconds before simulators report delivery."
        )
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="GATEWAY:NAME[=VALUE]",
            help="Start that gateway's simulator with this fault on, e.g. "
            "canlog:credit_exhausted to watch the India route fail over to Unified. Repeatable.",
        )
        # Django adds this only to commands it checks itself; these checks run in handle().
        parser.add_argument("--skip-checks", action="store_true", help="Skip system checks.")

    def handle(self, *args: Any, **options: Any) -> None:
        faults = _faults_by_gateway(options["fault"])  # bad input: refused before any write
        password = self._admin_password()
        python = sys.executable
        commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        for demo in DEMO_GATEWAYS:
            provider = self._provider(demo)
            if provider is None:
                self.stderr.write(f"No demo provider for {demo.gateway} on port {demo.port}.")
                continue
            command, env = self._simulator(python, demo, provider, options)
            for fault in faults.get(demo.gateway, []):
                command += ["--fault", fault]
            commands[demo.gateway] = (command, env)
        if not options["skip_checks"]:
            self.check()
        commands["celery"] = (
            [
                python,
                "-m",
                "celery",
                "-A",
                "project",
                "worker",
                "--beat",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
            ],
            {},
        )
        commands["web"] = ([python, "manage.py", "runserver", options["addr"], "--noreload"], {})
        self._run(commands, options["addr"], password)

    def _provider(self, demo: DemoGateway) -> Provider | None:
        address = f"http://127.0.0.1:{demo.port}"
        for provider in Provider.objects.filter(gateway=demo.gateway):
            if provider.base_url.rstrip("/").startswith(address):
                return provider
        return None

    def _simulator(
        self, python: str, demo: DemoGateway, provider: Provider, options: dict[str, Any]
    ) -> tuple[list[str], dict[str, str]]:
        """The command and environment of one simulator, sharing fresh secrets with its provider."""
        secret = secrets.token_urlsafe(16)
        env = {SECRET_ENV: secret}
        command = [
            python,
            "manage.py",
            "sms_simulate",
            demo.gateway,
            "--port",
            str(demo.port),
            "--delivery-delay",
            options["delivery_delay"],
            "--api-key-env",
            SECRET_ENV,
        ]
        if provider.api_key or not provider.username:
            provider.api_key = secret
        else:
            provider.password = secret
            command += ["--user", provider.username]
        # One fresh secret authenticates both what the simulator pushes to us: delivery
        # reports (where its gateway pushes them) and the customers' replies.
        callback_secret = secrets.token_urlsafe(16)
        provider.callback_secrets = callback_secret
        kwargs = {"provider_id": provider.pk, "secret": callback_secret}
        if provider.gateway_class().has(Capability.DLR_PUSH):
            path = reverse("helpdesk_sms:callback", kwargs=kwargs)
            env[CALLBACK_ENV] = f"http://{options['addr']}{path}"
            command += ["--callback-url-env", CALLBACK_ENV]
        if provider.gateway_class().has(Capability.INBOUND):
            path = reverse("helpdesk_sms:inbound", kwargs=kwargs)
            env[REPLY_TO_ENV] = f"http://{options['addr']}{path}"
            command += ["--reply-to-env", REPLY_TO_ENV]
        provider.save(update_fields=["api_key", "password", "callback_secrets"])
        return command, env

    def _run(
        self, commands: dict[str, tuple[list[str], dict[str, str]]], addr: str, password: str
    ) -> None:
        processes: dict[str, subprocess.Popen] = {}
        # Started in the background by a script, SIGINT arrives ignored: take it (and SIGTERM,
        # from a service manager) explicitly, so every way of stopping the demo stops it all.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            for label, (command, env) in commands.items():
                processes[label] = subprocess.Popen(command, env={**os.environ, **env})
            time.sleep(3)
            self.stdout.write(self.style.SUCCESS(self._welcome(addr, password)))
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            stopped = [label for label, p in processes.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(stopped)} stopped; shutting the demo down.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the demo…")
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()  # SIGTERM: honoured even where SIGINT is ignored
            deadline = time.monotonic() + 10
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()

    def _welcome(self, addr: str, password: str) -> str:
        lines = [
            f"\nDemo running on http://{addr}/admin/  login: admin / {password}",
            "Create a ticket under 'Demo helpdesk > Tickets' with a customer phone, then watch "
            "'Helpdesk SMS > SMS messages'.",
            f"Answer as the customer at http://{addr}/admin/demo/reply/ (or from the ticket's "
            "page): the reply lands on the ticket; STOP, START and HELP change consent.",
        ]
        if getattr(settings, "DEMO_HELPDESK", False):
            lines += [
                f"django-helpdesk: open a ticket with a phone number at http://{addr}/helpdesk/ ; "
                f"staff view at http://{addr}/helpdesk/login/ (admin), assign it to arjun.",
            ]
        lines.append("Ctrl-C stops everything.\n")
        return "\n".join(lines)

    def _admin_password(self) -> str:
        """A fresh password for the demo's superuser 'admin', created if missing."""
        password = secrets.token_urlsafe(9)
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        return password


def _faults_by_gateway(specs: list[str]) -> dict[str, list[str]]:
    """``["canlog:credit_exhausted"]`` -> ``{"canlog": ["credit_exhausted"]}``; a gateway the
    demo does not run is a usage error naming the option."""
    known = {demo.gateway for demo in DEMO_GATEWAYS}
    faults: dict[str, list[str]] = {}
    for spec in specs:
        gateway, _, fault = spec.partition(":")
        if gateway not in known or not fault:
            raise CommandError(
                f"--fault {spec!r}: write GATEWAY:FAULT with GATEWAY one of "
                f"{', '.join(sorted(known))}, e.g. canlog:credit_exhausted."
            )
        faults.setdefault(gateway, []).append(fault)
    return faults
