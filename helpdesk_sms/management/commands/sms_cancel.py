"""``manage.py sms_cancel ID …``: withdraw messages that have not gone out yet.

The admin's *cancel* action from a shell: each message goes through ``outbox.cancel``, so
a scheduled or queued one is canceled here, and one a gateway holds for later is withdrawn
through the gateway where it can. Every message gets its own line saying what happened;
the exit status says whether all were canceled (0) or not (1). Unknown ids are bad input
(2) and cancel nothing, so a typo never cancels half a list.
"""

from __future__ import annotations

import re
from argparse import ArgumentParser
from typing import Any

from django.utils import timezone

from helpdesk_sms import outbox
from helpdesk_sms.gateways.base import Capability, GatewayError, redact
from helpdesk_sms.models import Message
from helpdesk_sms.states import FINAL, Source, Status

from ._common import SmsCommand, failure, gateway_label, usage_error

#: ``12`` or ``#12`` (as sms_send and the admin print them).
MESSAGE_ID = re.compile(r"#?([0-9]{1,18})")


class Command(SmsCommand):
    help = "Cancel messages not sent yet: scheduled, queued, or held for later by a gateway."
    positional_names = {"message_ids": "MESSAGE_ID"}

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "message_ids",
            nargs="+",
            metavar="MESSAGE_ID",
            help="The message's number, as sms_send and the admin show it (12 or #12).",
        )
        parser.add_argument(
            "--note", default="", help="Why, recorded on each message's timeline."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        messages = find_messages(options["message_ids"])
        note = "canceled from the command line"
        if options["note"].strip():
            note += f": {options['note'].strip()}"
        refused = 0
        for message in messages:
            line, canceled = cancel_one(message, note)
            self.stdout.write(line)
            refused += not canceled
        if refused:
            raise failure(f"{refused} of {len(messages)} message(s) not canceled")


def find_messages(values: list[str]) -> list[Message]:
    """The messages named, in the order given (each once); a usage error for any unknown."""
    ids: list[int] = []
    for value in values:
        match = MESSAGE_ID.fullmatch(value.strip())
        if not match:
            raise usage_error("MESSAGE_ID", f"{value!r} is not a message number such as 12")
        if int(match[1]) not in ids:
            ids.append(int(match[1]))
    found = Message.objects.select_related("provider").in_bulk(ids)
    missing = [f"#{pk}" for pk in ids if pk not in found]
    if missing:
        raise usage_error("MESSAGE_ID", f"no message {', '.join(missing)}; nothing was canceled")
    return [found[pk] for pk in ids]


def cancel_one(message: Message, note: str) -> tuple[str, bool]:
    """Cancel one message as the admin does; the line to print and whether it is canceled.

    Recorded with the source ``cli``, so a timeline tells a shell's cancel from the admin's.
    """
    before = message.status
    try:
        canceled = outbox.cancel(message, note=note, source=Source.CLI)
    except GatewayError as exc:
        secrets = message.provider.secret_values() if message.provider else []
        reason = redact(str(exc), secrets)
        return f"#{message.pk}: not canceled: the gateway refused to withdraw it: {reason}", False
    except (KeyError, ImportError) as exc:  # the provider's gateway adapter is gone
        return f"#{message.pk}: not canceled: its gateway cannot be loaded: {exc}", False
    if canceled:
        if before == Status.ACCEPTED:
            return f"#{message.pk}: canceled: withdrawn from {message.provider}'s schedule", True
        return f"#{message.pk}: canceled (it was {before})", True
    message.refresh_from_db()
    return f"#{message.pk}: not canceled: {why_not(message)}", False


def why_not(message: Message) -> str:
    """Why ``outbox.cancel`` left the message as it is, in the operator's words."""
    status = message.status
    if status == Status.CANCELED:
        return "it was already canceled"
    if status in FINAL:
        return f"it is already {status}"
    if status == Status.SENDING:
        return "it is being handed to the gateway right now"
    if status == Status.UNKNOWN:
        return "the gateway may already have it (status unknown); check in its panel"
    if status == Status.ACCEPTED:
        provider = message.provider
        held = message.send_at and message.send_at > timezone.now() and provider is not None
        if held and provider is not None and not provider.gateway_class().has(Capability.CANCEL):
            return (
                f"{gateway_label(provider)} holds it for "
                f"{timezone.localtime(message.send_at).isoformat(timespec='minutes')} but "
                "cannot withdraw it; cancel it in the gateway's own panel"
            )
        return "the gateway has already accepted it for delivery"
    return f"its status is {status}"
