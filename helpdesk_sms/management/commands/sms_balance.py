"""``manage.py sms_balance``: read balances now and keep a snapshot of each.

The same check the periodic task runs (a low balance warns the admins once), for sites
without Celery and for an operator who wants the number before a bulk send. Exit 1 when
any provider's gateway could not answer, so cron can tell.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from helpdesk_sms import balances
from helpdesk_sms.gateways.base import redact

from ._common import SmsCommand, failure, get_provider, read_balance


class Command(SmsCommand):
    help = "Read and record SMS provider balances."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--provider",
            metavar="NAME",
            help="Check only this provider (default: every active one that reports a balance).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["provider"]:
            provider = get_provider(options["provider"])
            for line in read_balance(provider):
                self.stdout.write(f"{provider.name}: {line}")
            return
        checks = balances.check_all()
        if not checks:
            self.stdout.write("No active provider reports a balance.")
            return
        failed = []
        for check in checks:
            # Gateways redact their errors already; this is belt and braces.
            line = redact(str(check), check.provider.secret_values())
            self.stdout.write(f"{check.provider.name}: {line}")
            if check.error is not None:
                failed.append(check.provider.name)
        if failed:
            raise failure(f"balance check failed for {', '.join(failed)}")
