"""Run the whole demo: gateway simulators, a Celery worker with beat, and the web site.

Everything started here is stopped on Ctrl-C. Prints the admin login it creates.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from helpdesk_sms.models import Provider

#: (simulator name, port) — the fixtures point providers at these.
SIMULATORS = [("canlog", 9001)]
#: How the generated simulator API key reaches the simulator process.
API_KEY_ENV = "HELPDESK_SMS_DEMO_API_KEY"


class Command(BaseCommand):
    help = "Run the demo site with its gateway simulators and a Celery worker (Ctrl-C stops all)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Where the site listens.")
        parser.add_argument(
            "--delivery-delay", default="5", help="Seconds before simulators report delivery."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = self._admin_password()
        api_key = self._simulator_api_key()
        python = sys.executable
        names = [name for name, _ in SIMULATORS]
        commands = {
            "simulators": [
                python,
                "manage.py",
                "sms_simulate",
                *names,
                "--port",
                str(SIMULATORS[0][1]),
                "--delivery-delay",
                options["delivery_delay"],
                "--api-key-env",
                API_KEY_ENV,
            ],
            "celery": [
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
            "web": [python, "manage.py", "runserver", options["addr"], "--noreload"],
        }
        processes: dict[str, subprocess.Popen] = {}
        try:
            for label, command in commands.items():
                env = {**os.environ, API_KEY_ENV: api_key}
                processes[label] = subprocess.Popen(command, env=env)
                time.sleep(1)
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nDemo running on http://{options['addr']}/admin/  "
                    f"login: admin / {password}\n"
                    "Create a ticket under 'Demo helpdesk > Tickets' with a customer phone, "
                    "then watch 'Helpdesk SMS > SMS messages'. Ctrl-C stops everything.\n"
                )
            )
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            stopped = [label for label, p in processes.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(stopped)} stopped; shutting the demo down.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the demo…")
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 10
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()

    def _simulator_api_key(self) -> str:
        """A fresh key shared by the simulators and the demo providers (never in fixtures)."""
        key = secrets.token_urlsafe(16)
        addresses = tuple(f"http://127.0.0.1:{port}" for _, port in SIMULATORS)
        for provider in Provider.objects.all():
            if provider.base_url.rstrip("/").startswith(addresses):
                provider.api_key = key
                provider.save(update_fields=["api_key"])
        return key

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
