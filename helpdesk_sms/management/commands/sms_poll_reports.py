"""``manage.py sms_poll_reports``: fetch delivery reports now, for sites without Celery.

Run from cron next to ``sms_dispatch``. Without ``--provider`` every active provider whose
gateway can be polled is asked, and one failing gateway does not stop the others (it is
logged); with ``--provider`` its failure is the command's failure (exit 1).
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.utils import timezone

from helpdesk_sms import reports
from helpdesk_sms.gateways.base import Capability, GatewayError, redact
from helpdesk_sms.models import Provider

from ._common import SmsCommand, failure, gateway_label, get_provider, usage_error


class Command(SmsCommand):
    help = "Fetch delivery reports for messages still awaiting one."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--provider",
            metavar="NAME",
            help="Poll only this provider (default: every active one that can be polled).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["provider"]:
            provider = get_provider(options["provider"])
            if not provider.gateway_class().has(Capability.DLR_POLL):
                raise usage_error(
                    "--provider",
                    f"{provider.name} uses {gateway_label(provider)}, whose delivery reports "
                    "cannot be polled",
                )
            try:
                moved = reports.poll_provider(provider, timezone.now())
            except GatewayError as exc:
                text = redact(str(exc), provider.secret_values())
                raise failure(f"{provider.name}: report poll failed: {text}") from None
            polled = [provider.name]
        else:
            polled = [
                p.name
                for p in Provider.objects.active()
                if p.gateway_class().has(Capability.DLR_POLL)
            ]
            moved = reports.poll_reports()
        if not polled:
            self.stdout.write("No active provider's delivery reports can be polled.")
            return
        self.stdout.write(
            f"Polled {', '.join(polled)}: {moved} message(s) moved by delivery reports."
        )
