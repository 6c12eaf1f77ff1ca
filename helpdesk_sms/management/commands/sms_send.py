"""``manage.py sms_send``: queue an SMS from the shell, through the same rules as the API.

For operators testing a gateway or sender and for scripts; everything goes through
``api.send_sms`` so the command refuses exactly what the API refuses, naming the option.
"""

from __future__ import annotations

from argparse import ArgumentParser
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from helpdesk_sms import outbox
from helpdesk_sms.api import send_sms
from helpdesk_sms.exceptions import SmsInputError
from helpdesk_sms.models import Message
from helpdesk_sms.states import Priority, Status

from ._common import SmsCommand, failure, from_input_error, usage_error

#: API field -> the option that sets it.
OPTIONS = {
    "to": "--to",
    "text": "--text",
    "provider": "--provider",
    "sender": "--sender",
    "send_at": "--at",
    "flash": "--flash",
    "group": "--group",
    "priority": "--priority",
    "registered_template_id": "--dlt-template-id",
    "registered_entity_id": "--dlt-entity-id",
    "registered_pattern": "--dlt-pattern",
    "__all__": "",
}


class Command(SmsCommand):
    help = "Queue an SMS to one or more numbers (or a recipient group)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--to",
            action="append",
            default=[],
            metavar="NUMBER",
            help="Recipient, international form (+91…). Repeat for several.",
        )
        parser.add_argument("--text", required=True, help="The message text.")
        parser.add_argument("--provider", help="Provider name (default: the preferred active one).")
        parser.add_argument("--sender", help="Sender ID (default: the provider's default sender).")
        parser.add_argument(
            "--at",
            metavar="DATETIME",
            help="Send no earlier than this ISO-8601 time, e.g. 2025-03-01T09:30+05:30; "
            "without an offset it is read in the site's TIME_ZONE.",
        )
        parser.add_argument("--flash", action="store_true", help="Send as a flash SMS.")
        parser.add_argument("--group", help="Recipient group name (instead of or besides --to).")
        parser.add_argument(
            "--priority",
            choices=Priority.values,
            help="critical: always sent; normal (default): held while a budget cap is reached.",
        )
        parser.add_argument(
            "--dlt-template-id",
            metavar="ID",
            help="India's DLT: the registered template id (default: the sender's, then the "
            "provider's).",
        )
        parser.add_argument(
            "--dlt-entity-id",
            metavar="ID",
            help="India's DLT: the principal entity id, PE ID (default: the sender's, then "
            "the provider's).",
        )
        parser.add_argument(
            "--dlt-pattern",
            metavar="TEXT",
            help="India's DLT: the text as registered, {#var#} for each value; a --text that "
            "does not fit it is refused, showing where they differ.",
        )
        parser.add_argument(
            "--now",
            action="store_true",
            help="Also run one outbox pass right away and show the result (no Celery needed).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        send_at = parse_at(options["at"]) if options["at"] else None
        try:
            messages = send_sms(
                options["to"],
                options["text"],
                provider=options["provider"],
                sender=options["sender"],
                send_at=send_at,
                flash=options["flash"],
                group=options["group"],
                priority=options["priority"],
                registered_template_id=options["dlt_template_id"],
                registered_entity_id=options["dlt_entity_id"],
                registered_pattern=options["dlt_pattern"],
            )
        except SmsInputError as exc:
            raise from_input_error(exc, OPTIONS) from None
        for message in messages:
            self.stdout.write(describe(message))
        if options["now"]:
            self.dispatch_now(messages)

    def dispatch_now(self, messages: Sequence[Message]) -> None:
        """One outbox pass, then each message's new status; exit 1 if the gateway refused one."""
        report = outbox.dispatch()
        self.stdout.write(f"dispatch: {report}")
        failed = 0
        for message in messages:
            message.refresh_from_db()
            line = describe(message)
            if message.error_text and message.status not in (Status.ACCEPTED, Status.DELIVERED):
                line += f" ({message.error_text})"
            self.stdout.write(line)
            failed += message.status == Status.FAILED
        if failed:
            raise failure(f"{failed} of {len(messages)} message(s) failed at the gateway")


def parse_at(value: str) -> datetime:
    """An aware datetime from ISO-8601 text; a naive one is taken in settings.TIME_ZONE."""
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:  # well formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        raise usage_error(
            "--at",
            f"{value!r} is not an ISO-8601 date and time; write e.g. 2025-03-01T09:30 "
            "or 2025-03-01T09:30+05:30",
        )
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed


def describe(message: Message) -> str:
    """``#12 to +919812345678: 1 part, queued`` (and when, for a scheduled one)."""
    target = message.recipient or (f"group {message.group.name}" if message.group else "?")
    parts = f"{message.parts} part" + ("s" if message.parts != 1 else "")
    line = f"#{message.pk} to {target}: {parts}, {message.status}"
    if message.status == Status.SCHEDULED and message.send_at:
        line += f" for {timezone.localtime(message.send_at).isoformat()}"
    return line
