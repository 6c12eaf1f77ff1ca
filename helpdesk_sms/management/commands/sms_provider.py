"""``manage.py sms_provider add|set|list|show|check``: gateway accounts without the admin.

For deployments scripted from a shell (Ansible, Docker entrypoints): the same validation
as the admin (the models' ``full_clean``), one transaction so a refused sender leaves no
half-made provider behind, and secrets that can come from the environment and are never
printed back. ``set`` (in ``_provider_set``) changes what ``add`` made, credentials and
callback-secret rotations included. ``show`` prints what the admin's provider page shows,
the callback URL to give a gateway that pushes reports included, with the secret as a
placeholder.
"""

from __future__ import annotations

import json
import shlex
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from helpdesk_sms import conf
from helpdesk_sms.country_profiles import PROFILES
from helpdesk_sms.gateways import registry
from helpdesk_sms.gateways.base import Capability, redact
from helpdesk_sms.models import BalanceSnapshot, Provider, SenderID

from ._common import (
    NO_BALANCE_FEATURE,
    SmsCommand,
    callback_lines,
    failure,
    from_validation_error,
    gateway_label,
    get_provider,
    inbound_lines,
    parse_base_url,
    read_balance,
    safe_url,
    table,
    usage_error,
)
from ._provider_input import (
    check_callback_secrets,
    env_secret,
    parse_countries,
    parse_options,
    parse_region,
    secret_lines,
)
from ._provider_set import add_set_parser, set_provider

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
    "default_region": "--default-region",
    "allowed_countries": "--allowed-countries",
    "callback_secrets": "--callback-secret",
    "country_profile": "--country-profile",
}
SENDER_OPTIONS = {"value": "--sender", "provider": "NAME", "__all__": "--sender"}


class Command(SmsCommand):
    help = "Add, change, list, show and check SMS providers (gateway accounts)."
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
        callback = add.add_mutually_exclusive_group()
        callback.add_argument(
            "--callback-secret",
            default="",
            metavar="SECRET",
            help="Secret of the delivery-report URL, for gateways that push reports "
            "(visible in `ps`; prefer --callback-secret-env). Several: one per line.",
        )
        callback.add_argument(
            "--callback-secret-env",
            metavar="VAR",
            help="Read the callback secret(s) from $VAR, one per line.",
        )
        add.add_argument(
            "--sender",
            action="append",
            default=[],
            metavar="ID",
            help="Sender ID to create; the first is made the default. Repeatable.",
        )
        add.add_argument(
            "--priority", type=int, help="Lower is preferred when none is named (default 100)."
        )
        add.add_argument("--timezone", help="The gateway's clock, e.g. Asia/Kolkata (default UTC).")
        add.add_argument(
            "--default-region",
            metavar="XX",
            help="Region for numbers written without a country code, e.g. IN (default: "
            "HELPDESK_SMS['DEFAULT_REGION']).",
        )
        add.add_argument(
            "--allowed-countries",
            metavar="XX,YY",
            help="Regions this provider may text, e.g. IN,NP (default: any).",
        )
        add.add_argument(
            "--country-profile",
            choices=sorted(PROFILES),
            help="The destination country's preset rules (sender IDs, SMS parts, default "
            "quiet hours, India's registered template id, Nigeria's smsclone DND route).",
        )
        add.add_argument("--low-balance", metavar="AMOUNT", help="Warn below this balance.")
        add.add_argument("--inactive", action="store_true", help="Create it switched off.")
        add_base_url(add)

        add_set_parser(actions)

        actions.add_parser("list", help="Show the providers (never their secrets).")

        show = actions.add_parser(
            "show", help="Every setting of one provider and its callback URL (never a secret)."
        )
        show.add_argument("name", metavar="NAME", help="The provider to show.")
        add_base_url(show)

        check = actions.add_parser("check", help="Read the provider's balance through its gateway.")
        check.add_argument("name", metavar="NAME", help="The provider to check.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "add":
            self.add_provider(options)
        elif action == "set":
            for line in set_provider(options):
                self.stdout.write(line)
        elif action == "list":
            self.list_providers()
        elif action == "show":
            base_url = parse_base_url(options["base_url"]) if options["base_url"] else None
            self.show_provider(options["name"], base_url)
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
            options=parse_options(options["option"]),
            is_active=not options["inactive"],
            default_region=parse_region(options["default_region"] or ""),
            allowed_countries=parse_countries(options["allowed_countries"] or ""),
            callback_secrets=_callback_secrets(options, gateway),
            country_profile=options["country_profile"] or "",
        )
        base_url = parse_base_url(options["base_url"]) if options["base_url"] else None
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
                senders = []
                for value in options["sender"]:
                    sender = SenderID(provider=provider, value=value)
                    try:
                        sender.full_clean()
                    except ValidationError as exc:
                        raise from_validation_error(exc, SENDER_OPTIONS) from None
                    sender.save()
                    senders.append(sender)
                if senders:
                    provider.default_sender = senders[0]
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
        if senders:
            self.stdout.write(f"Default sender ID: {senders[0].value}.")
            if len(senders) > 1:
                others = ", ".join(s.value for s in senders[1:])
                self.stdout.write(f"Other sender IDs: {others}.")
        else:
            self.stdout.write(
                "No default sender ID: each message must name one (sms_send --sender), or add "
                f"one: sms_provider set {shlex.quote(provider.name)} --add-sender ID "
                "--default-sender ID."
            )
        if provider.gateway_class().has(Capability.DLR_PUSH):
            for line in callback_lines(provider, base_url):
                self.stdout.write(line)

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

    # -- show ----------------------------------------------------------------------------

    def show_provider(self, name: str, base_url: str | None) -> None:
        provider = get_provider(name, option="NAME")
        secrets = provider.secret_values()

        def masked(text: str) -> str:  # a secret pasted into a free-text setting by mistake
            return redact(text, secrets)

        rows = [
            ("gateway", f"{gateway_label(provider)} ({provider.gateway})"),
            ("active", "yes" if provider.is_active else "no"),
            ("priority", str(provider.priority)),
            ("URL", safe_url(provider) or "-"),
            ("username", masked(provider.username) or "-"),
            ("API key", _is_set(provider.api_key)),
            ("password", _is_set(provider.password)),
            ("callback secrets", _secrets_state(provider)),
            ("credentials changed", _credentials_changed(provider)),
            ("time zone", provider.timezone),
            ("default region", _default_region(provider)),
            ("allowed countries", ",".join(provider.allowed_country_list()) or "any"),
            ("country profile", provider.get_country_profile_display() or "-"),
            ("options", masked(_format_options(provider.options))),
            ("sender IDs", masked(_format_senders(provider))),
            ("low-balance threshold", _or_dash(provider.low_balance_threshold)),
            ("latest balance", _latest_balance(provider)),
            ("capabilities", _capabilities(provider)),
        ]
        width = max(len(label) for label, _value in rows) + 1
        lines = [f"{provider.name} (provider #{provider.pk})"]
        lines += [f"  {label + ':':<{width}} {value}" for label, value in rows]
        # Not masked as a whole: a short password that happens to occur in the callback URL
        # would turn it into a wrong one. Only free-text settings are masked, above.
        lines += callback_lines(provider, base_url)
        lines += inbound_lines(provider, base_url)
        for line in lines:
            self.stdout.write(line)

    # -- check ---------------------------------------------------------------------------

    def check_provider(self, name: str) -> None:
        provider = get_provider(name, option="NAME")
        lines = read_balance(provider)
        if lines == [NO_BALANCE_FEATURE]:
            self.stdout.write(f"{provider.name}: {NO_BALANCE_FEATURE}")
            return
        self.stdout.write(f"{provider.name} ({gateway_label(provider)}):")
        for line in lines:
            self.stdout.write(f"  {line}")


def add_base_url(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="The site's address as the gateway reaches it, e.g. https://help.example.com, "
        "to print the callback URL in full.",
    )


def _is_set(value: str) -> str:
    return "set" if value else "not set"


def _secrets_state(provider: Provider) -> str:
    count = len(provider.callback_secret_list())
    if count > 1:
        return f"set ({count}: a rotation in progress)"
    return _is_set(provider.callback_secrets.strip())


def _credentials_changed(provider: Provider) -> str:
    if provider.credentials_changed_at:
        return timezone.localtime(provider.credentials_changed_at).isoformat(timespec="seconds")
    if provider.secret_values():
        return "not recorded (set before this was tracked)"
    return "never"


def _default_region(provider: Provider) -> str:
    if provider.default_region:
        return provider.default_region
    return f"the site's ({conf.get('DEFAULT_REGION') or 'none'})"


def _format_options(options: dict[str, Any]) -> str:
    """``key=value`` as ``--option`` takes them; text as is, anything else as JSON."""
    if not options:
        return "none"
    return ", ".join(
        f"{key}={value if isinstance(value, str) else json.dumps(value)}"
        for key, value in sorted(options.items())
    )


def _format_senders(provider: Provider) -> str:
    senders = []
    for sender in provider.senders.order_by("value"):
        marks = ["default"] if sender.pk == provider.default_sender_id else []
        if not sender.is_active:
            marks.append("inactive")
        senders.append(sender.value + (f" ({', '.join(marks)})" if marks else ""))
    return ", ".join(senders) or "none"


def _or_dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _latest_balances(provider: Provider) -> QuerySet[BalanceSnapshot]:
    """The newest snapshot of each of the provider's accounts (as the admin's list shows)."""
    newest = (
        BalanceSnapshot.objects.filter(provider=provider, account=OuterRef("account"))
        .order_by("-taken_at", "-pk")
        .values("pk")[:1]
    )
    return BalanceSnapshot.objects.filter(provider=provider, pk=Subquery(newest)).order_by(
        "account"
    )


def _latest_balance(provider: Provider) -> str:
    parts = []
    for snap in _latest_balances(provider):
        when = timezone.localtime(snap.taken_at).isoformat(timespec="seconds")
        low = " (low)" if snap.is_low else ""
        parts.append(f"{snap.account or 'balance'}: {snap.amount} {snap.unit}{low} at {when}")
    return "; ".join(parts) or "none read yet (sms_provider check NAME)"


def _capabilities(provider: Provider) -> str:
    try:
        cls = provider.gateway_class()
    except (KeyError, ImportError) as exc:
        return f"unknown: its gateway cannot be loaded ({exc})"
    return ", ".join(sorted(str(c) for c in cls.capabilities)) or "none"


def _callback_secrets(options: dict[str, Any], gateway: str) -> str:
    """The callback secrets, one per line, each fit to travel in the URL path."""
    if not (options["callback_secret"] or options["callback_secret_env"]):
        return ""
    option = "--callback-secret-env" if options["callback_secret_env"] else "--callback-secret"
    values = secret_lines(_secret(options, "callback_secret"))
    return "\n".join(check_callback_secrets(values, option, registry.gateway_class(gateway)))


def _secret(options: dict[str, Any], name: str) -> str:
    """The secret given directly, or read from the environment variable ``--<name>-env``."""
    variable = options.get(f"{name}_env")
    if variable is None:
        return options[name]
    return env_secret(variable, "--" + name.replace("_", "-") + "-env")
