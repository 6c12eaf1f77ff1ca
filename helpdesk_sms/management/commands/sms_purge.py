"""``manage.py sms_purge``: erase old texts and numbers, or one number on request.

``--older-than DAYS`` (default: the RETENTION setting) erases, in place and in bounded
batches, the texts, numbers and raw gateway data of what is older (retention.purge);
``--number N`` removes one number everywhere, whatever the age (retention.erase_number).
``--dry-run`` counts what an age purge would erase and writes nothing. Each table's count
is printed; bad input is a usage error (exit 2) naming the option.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from helpdesk_sms import retention

from ._common import SmsCommand, usage_error


class Command(SmsCommand):
    help = (
        "Erase message texts, numbers, inbound texts and raw gateway data older than the "
        "RETENTION setting (or --older-than DAYS), or one number everywhere (--number)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--older-than",
            metavar="DAYS",
            help="Erase what is older than this many days (default: the RETENTION setting).",
        )
        parser.add_argument(
            "--number", help="Erase this number everywhere, whatever the age (erasure request)."
        )
        parser.add_argument(
            "--batch-size",
            metavar="N",
            default="1000",
            help="Rows erased per short transaction (default 1000).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be erased; write nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch_size = _whole(options["batch_size"], "--batch-size", minimum=1)
        if options["number"] is not None:
            if options["older_than"] is not None or options["dry_run"]:
                raise usage_error(
                    "--number",
                    "erases one number whatever its age; it takes no --older-than or --dry-run",
                )
            try:
                report = retention.erase_number(options["number"], batch_size=batch_size)
            except ValueError as exc:
                raise usage_error("--number", str(exc)) from None
        else:
            days = _days(options["older_than"])
            report = retention.purge(days, batch_size=batch_size, dry_run=options["dry_run"])
        for line in report.lines() or ["nothing to erase"]:
            self.stdout.write(line)


def _days(value: str | None) -> int:
    if value is not None:
        return _whole(value, "--older-than", minimum=0)
    days = retention.retention_days()
    if days is None:
        raise usage_error(
            "--older-than",
            "is required while HELPDESK_SMS['RETENTION'] is None (keep forever)",
        )
    return days


def _whole(value: str, option: str, *, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < minimum or not value.strip().isdigit():
        raise usage_error(option, f"must be a whole number, {minimum} or more, not {value!r}")
    return number
