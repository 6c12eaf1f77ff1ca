"""``manage.py sms_credentials generate-key|status|rotate``: the keys of encrypted credentials.

Rotating a key: put the new key first in HELPDESK_SMS['CREDENTIAL_KEYS'] and keep the old
one after it, deploy, run ``rotate`` (every provider's credentials re-encrypted with the
first key, in one transaction), check with ``status`` that no provider still uses the old
key, then remove it. No command ever prints a credential or a configured key.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.db import models, transaction
from django.db.models.functions import Cast

from helpdesk_sms import credentials
from helpdesk_sms.models import CREDENTIAL_FIELDS, Provider

from ._common import SmsCommand, failure, table


class Command(SmsCommand):
    help = "Generate a credential key; show which key each provider uses; re-encrypt with key 1."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("generate-key", help="Print a new random key (nothing is stored).")
        actions.add_parser("status", help="Which configured key each provider's credentials use.")
        actions.add_parser(
            "rotate", help="Re-encrypt every provider's credentials with the first key."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "generate-key":
            self.stdout.write(credentials.generate_key())
            return
        try:
            credentials.cipher()
        except credentials.CredentialKeyError as exc:
            raise failure(str(exc)) from None
        if action == "status":
            self.status()
        else:
            self.rotate()

    def status(self) -> None:
        raw = {f"raw_{name}": Cast(name, models.TextField()) for name in CREDENTIAL_FIELDS}
        rows = []
        for name, *values in Provider.objects.annotate(**raw).values_list("name", *raw):
            rows.append([name, _which_keys(values)])
        if not rows:
            self.stdout.write("No SMS providers yet.")
            return
        self.stdout.write(table(["PROVIDER", "CREDENTIALS"], rows))

    def rotate(self) -> None:
        fields = list(CREDENTIAL_FIELDS)
        with transaction.atomic():
            # Read (any configured key opens them) and write back (the first key encrypts).
            providers = list(Provider.objects.select_for_update().only("pk", *fields))
            for provider in providers:
                plain = {name: getattr(provider, name) for name in fields}
                Provider.objects.filter(pk=provider.pk).update(**plain)
        self.stdout.write(
            f"Re-encrypted the credentials of {len(providers)} provider(s) with key 1 of "
            "HELPDESK_SMS['CREDENTIAL_KEYS']. Any other key can be removed once every site "
            "runs with this list."
        )


def _which_keys(values: list[str | None]) -> str:
    """'not set', 'key 1', 'key 1, key 2' or 'plain text (run rotate)' for one provider."""
    found: set[str] = set()
    for value in values:
        if not value:
            continue
        if not credentials.is_token(value):
            found.add("plain text (run rotate)")
            continue
        number = credentials.key_number(value)
        found.add(f"key {number}" if number else "no configured key opens them")
    return ", ".join(sorted(found)) or "not set"
