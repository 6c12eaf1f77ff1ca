"""``manage.py sms_provider add|list|check``: set up gateway accounts without the admin.

For deployments scripted from a shell (Ansible, Docker entrypoints): the same validation
as the admin (the models' ``full_clean``), one transaction so a refused sender leaves no
half-made provider behind, and secrets that can come from the environment and are never
printed back.
"""

from __future__ import annotations

import json
import os
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from helpdesk_sms.gateways import registry
from helpdesk_sms.models import Provider, SenderID

from ._common import (
    SmsCommand,
    failure,
    from_validation_error,
    gateway_label,
    get_provider,
    read_balance,
    safe_url,
    table,
    usage_error,
)

#: Model field -> the option that sets it, so validation errors name what to retype.
PROVIDER_OPTIONS = {
    "name": "NAME",
    "gateway": "--gateway",
    "base_url": "--url",
    "api_key": "--api-key",
    "username": "--username",
    "password": "--password",
    "options": "--option",
    "default_sender": "--sender",
    "priority": "--priority",
    "is_active": "--inactive",
    "low_balance_threshold": "--low-balance",
    "timezone": "--timezone",
}
SENDER_OPTIONS = {"value": "--sender", "provider": "NAME", "__all__": "--sender"}


class Command(SmsCommand):
    help = "Add, list and check SMS providers (gateway accounts)."
    positional_names = {"name": "NAME"}

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)

        add = actions.add_parser("add", help="Create a provider (and its default sender ID).")
        add.add_argument("name", metavar="NAME", help="How operators refer to the provider.")
        add.add_argument(
            "--gateway",
            required=True,
            help=f"Gateway protocol: one of {', '.join(sorted(registry.BUILTIN))}.",
        )
        add.add_argument("--url", default="", help="The gateway's base URL, e.g. http://…")
        key = add.add_mutually_exclusive_group()
        key.add_argument(
            "--api-key", default="", help="API key (visible in `ps`; prefer --api-key-env)."
        )
        key.add_argument("--api-key-env", metavar="VAR", help="Read the API key from $VAR.")
        add.add_argument("--username", default="", help="Login, for gateways without API keys.")
        password = add.add_mutually_exclusive_group()
        password.add_argument("--password", default="", help="Password (prefer --password-env).")
        password.add_argument("--password-env", metavar="VAR", help="Read the password from $VAR.")
        add.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="A gateway option; VALUE is read as JSON when it parses, else as text. "
            "Repeatable.",
        )
        add.add_argument("--sender", help="Sender ID to create and make the default.")
        add.add_argument(
            "--priority", type=int, help="Lower is preferred when none is named (default 100)."
        )
        add.add_argument("--timezone", help="The gateway's clock, e.g. Asia/Kolkata (default UTC).")
        add.add_argument("--low-balance", metavar="AMOUNT", help="Warn below this balance.")
        add.add_argument("--inactive", action="store_true", help="Create it switched off.")

        actions.add_parser("list", help="Show the providers (never their secrets).")

        check = actions.add_parser("check", help="Read the provider's balance through its gateway.")
        check.add_argument("name", metavar="NAME", help="The provider to check.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "add":
            self.add_provider(options)
        elif action == "list":
            self.list_providers()
        else:
            self.check_provider(options["name"])

    # -- add -----------------------------------------------------------------------------

    def add_provider(self, options: dict[str, Any]) -> None:
        gateway = options["gateway"]
        try:
            registry.gateway_class(gateway)
        except KeyError as exc:
            raise usage_error("--gateway", str(exc.args[0])) from None
        except ImportError as exc:  # an installation problem, not the user's input
            raise failure(f"the {gateway} gateway adapter cannot be loaded: {exc}") from None

        provider = Provider(
            name=options["name"],
            gateway=gateway,
            base_url=options["url"],
            api_key=_secret(options, "api_key"),
            username=options["username"],
            password=_secret(options, "password"),
            options=_parse_options(options["option"]),
            is_active=not options["inactive"],
        )
        if options["priority"] is not None:
            provider.priority = options["priority"]
        if options["timezone"] is not None:
            provider.timezone = options["timezone"]
        if options["low_balance"] is not None:
            provider.low_balance_threshold = options["low_balance"]

        try:
            with transaction.atomic():
                provider.full_clean()
                provider.save()
                sender = None
                if options["sender"] is not None:
                    sender = SenderID(provider=provider, value=options["sender"])
                    try:
                        sender.full_clean()
                    except ValidationError as exc:
                        raise from_validation_error(exc, SENDER_OPTIONS) from None
                    sender.save()
                    provider.default_sender = sender
                    provider.save(update_fields=["default_sender", "updated_at"])
        except ValidationError as exc:
            raise from_validation_error(exc, PROVIDER_OPTIONS) from None
        except IntegrityError:  # another process created the same name since full_clean
            message = f"a provider named {provider.name!r} already exists"
            raise usage_error("NAME", message) from None

        state = "" if provider.is_active else " (inactive)"
        self.stdout.write(
            f"Created provider {provider.name!r}{state}: {gateway_label(provider)}"
            + (f" at {safe_url(provider)}" if provider.base_url else "")
            + f", priority {provider.priority}."
        )
        if sender is not None:
            self.stdout.write(f"Default sender ID: {sender.value}.")
        else:
            self.stdout.write(
                "No default sender ID: each message must name one (sms_send --sender), "
                "or add one in the admin."
            )

    # -- list ----------------------------------------------------------------------------

    def list_providers(self) -> None:
        providers = list(Provider.objects.select_related("default_sender"))
        if not providers:
            self.stdout.write("No SMS providers yet. Add one with: manage.py sms_provider add …")
            return
        rows = [
            [
                p.name,
                p.gateway,
                safe_url(p) or "-",
                "yes" if p.is_active else "no",
                str(p.priority),
                p.default_sender.value if p.default_sender else "-",
                "stored" if p.secret_values() else "not set",
            ]
            for p in providers
        ]
        headers = ["NAME", "GATEWAY", "URL", "ACTIVE", "PRIORITY", "DEFAULT SENDER", "CREDENTIALS"]
        self.stdout.write(table(headers, rows))

    # -- check ---------------------------------------------------------------------------

    def check_provider(self, name: str) -> None:
        provider = get_provider(name, option="NAME")
        lines = read_balance(provider, option="NAME")
        self.stdout.write(f"{provider.name} ({gateway_label(provider)}):")
        for line in lines:
            self.stdout.write(f"  {line}")


def _secret(options: dict[str, Any], name: str) -> str:
    """The secret given directly, or read from the environment variable ``--<name>-env``."""
    variable = options.get(f"{name}_env")
    if variable is None:
        return options[name]
    value = os.environ.get(variable, "")
    if not value:
        option = "--" + name.replace("_", "-") + "-env"
        raise usage_error(option, f"the environment variable {variable} is not set or empty")
    return value


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; a value that parses as JSON (numbers, true, objects) is used as such."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise usage_error("--option", f"{pair!r} is not KEY=VALUE, e.g. --option route=15")
        try:
            parsed[key] = json.loads(raw)
        except ValueError:
            parsed[key] = raw
    return parsed
