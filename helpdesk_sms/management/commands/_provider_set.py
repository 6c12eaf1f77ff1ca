"""``sms_provider set NAME``: change an existing provider from a shell, as its admin page does.

Every setting ``add`` takes, the credentials, a callback-secret rotation in two steps, and the
sender IDs. Secrets come from environment variables only (a value typed on the command line is
visible in ``ps`` and kept in shell history). The same validation as the admin (the models'
``full_clean``), in one transaction on the locked row: a refused value writes nothing, not even
the sender IDs given beside it. What changed is printed by the setting's name, never a value,
so no secret reaches the output.
"""

from __future__ import annotations

import copy
import shlex
from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from helpdesk_sms.country_profiles import PROFILES
from helpdesk_sms.gateways import registry
from helpdesk_sms.gateways.base import Capability, Gateway
from helpdesk_sms.models import NotificationTemplate, Provider, SenderID

from ._common import (
    callback_lines,
    failure,
    from_validation_error,
    get_provider,
    parse_base_url,
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

#: Model field -> its name in the output (as ``sms_provider show`` labels it).
SETTINGS: dict[str, str] = {
    "name": "name",
    "gateway": "gateway",
    "is_active": "active",
    "priority": "priority",
    "base_url": "URL",
    "username": "username",
    "api_key": "API key",
    "password": "password",
    "callback_secrets": "callback secrets",
    "timezone": "time zone",
    "default_region": "default region",
    "allowed_countries": "allowed countries",
    "country_profile": "country profile",
    "options": "options",
    "default_sender": "default sender",
    "low_balance_threshold": "low-balance threshold",
}
#: Model field -> the option that sets it, so a validation error names what to retype.
FIELD_OPTIONS: dict[str, str] = {
    "name": "--rename",
    "gateway": "--gateway",
    "base_url": "--url",
    "username": "--username",
    "api_key": "--api-key-env",
    "password": "--password-env",
    "callback_secrets": "--callback-secret-env",
    "options": "--option",
    "priority": "--priority",
    "is_active": "--active",
    "timezone": "--timezone",
    "default_region": "--default-region",
    "allowed_countries": "--allowed-countries",
    "country_profile": "--country-profile",
    "low_balance_threshold": "--low-balance",
    "default_sender": "--default-sender",
}
SENDER_OPTIONS = {"value": "--add-sender", "provider": "NAME", "__all__": "--add-sender"}
#: The mutually exclusive ways to change the callback secrets: option dest -> option.
CALLBACK_OPTIONS = {
    "callback_secret_env": "--callback-secret-env",
    "add_callback_secret_env": "--add-callback-secret-env",
    "keep_only_callback_secret_env": "--keep-only-callback-secret-env",
    "clear_callback_secrets": "--clear-callback-secrets",
}
#: Options of ``set`` that change something (``--base-url`` only completes what is printed).
CHANGE_OPTIONS = (
    "rename",
    "gateway",
    "url",
    "username",
    "api_key_env",
    "clear_api_key",
    "password_env",
    "clear_password",
    *CALLBACK_OPTIONS,
    "option",
    "remove_option",
    "priority",
    "active",
    "timezone",
    "default_region",
    "allowed_countries",
    "country_profile",
    "low_balance",
    "add_sender",
    "remove_sender",
    "default_sender",
)


def add_set_parser(actions: Any) -> ArgumentParser:
    """The ``set`` subcommand's options: only those given change anything."""
    parser: ArgumentParser = actions.add_parser(
        "set",
        help="Change a provider: settings, credentials, callback secrets, sender IDs.",
        description="Change an existing provider; only the options given change. '' clears a "
        "text setting. Secrets are read from environment variables only.",
    )
    parser.add_argument("name", metavar="NAME", help="The provider to change.")
    parser.add_argument("--rename", metavar="NEW_NAME", help="Give the provider a new name.")
    parser.add_argument(
        "--gateway",
        help=f"Switch the gateway protocol: one of {', '.join(sorted(registry.BUILTIN))}; "
        "the options and sender IDs are checked against it.",
    )
    parser.add_argument("--url", help="The gateway's base URL ('' to clear).")
    parser.add_argument("--username", help="Login, for gateways without API keys ('' to clear).")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--api-key-env", metavar="VAR", help="Replace the API key with $VAR's.")
    key.add_argument("--clear-api-key", action="store_true", help="Erase the stored API key.")
    password = parser.add_mutually_exclusive_group()
    password.add_argument("--password-env", metavar="VAR", help="Replace the password with $VAR's.")
    password.add_argument(
        "--clear-password", action="store_true", help="Erase the stored password."
    )
    callback = parser.add_mutually_exclusive_group()
    callback.add_argument(
        "--callback-secret-env",
        metavar="VAR",
        help="Replace every callback secret with those in $VAR (one per line).",
    )
    callback.add_argument(
        "--add-callback-secret-env",
        metavar="VAR",
        help="Rotation, step 1: accept the secret in $VAR as well as the stored ones.",
    )
    callback.add_argument(
        "--keep-only-callback-secret-env",
        metavar="VAR",
        help="Rotation, last step: keep only the secret in $VAR (it must be stored already) "
        "and drop the old ones.",
    )
    callback.add_argument(
        "--clear-callback-secrets",
        action="store_true",
        help="Erase every callback secret: every delivery-report push is then refused.",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Set a gateway option, the others kept; VALUE is read as JSON when it parses. "
        "Repeatable.",
    )
    parser.add_argument(
        "--remove-option", action="append", default=[], metavar="KEY",
        help="Remove a gateway option. Repeatable.",
    )  # fmt: skip
    parser.add_argument("--priority", type=int, help="Lower is preferred when none is named.")
    active = parser.add_mutually_exclusive_group()
    active.add_argument(
        "--active", dest="active", action="store_const", const=True, help="Switch it on."
    )
    active.add_argument(
        "--inactive", dest="active", action="store_const", const=False, help="Switch it off."
    )
    parser.add_argument("--timezone", help="The gateway's clock, e.g. Asia/Kolkata.")
    parser.add_argument(
        "--default-region",
        metavar="XX",
        help="Region for numbers without a country code ('' for the site's default).",
    )
    parser.add_argument(
        "--allowed-countries",
        metavar="XX,YY",
        help="The only regions this provider may text ('' for any).",
    )
    parser.add_argument(
        "--country-profile",
        choices=["", *sorted(PROFILES)],
        help="The destination country's preset rules ('' for none).",
    )
    parser.add_argument(
        "--low-balance", metavar="AMOUNT", help="Warn below this balance ('' for no warning)."
    )
    parser.add_argument(
        "--add-sender", action="append", default=[], metavar="ID",
        help="Create a sender ID. Repeatable.",
    )  # fmt: skip
    parser.add_argument(
        "--remove-sender",
        action="append",
        default=[],
        metavar="ID",
        help="Delete a sender ID; the default one only with --default-sender. Repeatable.",
    )
    parser.add_argument(
        "--default-sender",
        metavar="ID",
        help="Make this sender ID (stored, or added by --add-sender) the default ('' for none).",
    )
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="The site's address as the gateway reaches it, to print the callback URL in full "
        "when the callback secrets change.",
    )
    return parser


def set_provider(options: dict[str, Any]) -> list[str]:
    """Apply the options to the provider named; the lines that say what changed."""
    if not any(_given(dest, options[dest]) for dest in CHANGE_OPTIONS):
        raise usage_error(
            "",
            "nothing to change: give at least one option, e.g. --priority 10 "
            "(manage.py sms_provider set --help lists them)",
        )
    base_url = parse_base_url(options["base_url"]) if options["base_url"] else None
    found = get_provider(options["name"], option="NAME")
    try:
        with transaction.atomic():
            provider = Provider.objects.select_for_update().get(pk=found.pk)
            before = _snapshot(provider)
            _apply_settings(provider, options)
            sender_lines = _apply_senders(provider, before["gateway"], options)
            try:
                provider.full_clean()
            except ValidationError as exc:
                raise from_validation_error(exc, _field_options(options)) from None
            changed = _changes(before, provider)
            if changed:
                provider.save()
    except IntegrityError:
        if options["rename"]:
            message = f"a provider named {options['rename']!r} already exists"
            raise usage_error("--rename", message) from None
        raise failure(
            f"{found.name}: another process changed it at the same time; nothing was written"
        ) from None
    return _report(provider, before["name"], changed, sender_lines, base_url)


def _given(dest: str, value: Any) -> bool:
    """Whether the option was given: not its default (None, [], or False for a flag).

    ``--inactive`` stores False and ``--priority 0`` stores 0: both are given.
    """
    if dest == "active":
        return value is not None
    return value is not None and value is not False and value != []


# -- settings ----------------------------------------------------------------------------


def _apply_settings(provider: Provider, options: dict[str, Any]) -> None:
    """Every provider field given on the command line, as the model will validate it."""
    simple = {
        "rename": "name",
        "url": "base_url",
        "username": "username",
        "priority": "priority",
        "active": "is_active",
        "timezone": "timezone",
    }
    for dest, field in simple.items():
        if options[dest] is not None:
            setattr(provider, field, options[dest])
    if options["gateway"] is not None:
        _gateway_class(options["gateway"])
        provider.gateway = options["gateway"]
    if options["default_region"] is not None:
        provider.default_region = parse_region(options["default_region"])
    if options["allowed_countries"] is not None:
        provider.allowed_countries = parse_countries(options["allowed_countries"])
    if options["country_profile"] is not None:
        provider.country_profile = options["country_profile"]
    if options["low_balance"] is not None:
        provider.low_balance_threshold = options["low_balance"].strip() or None
    if options["api_key_env"] is not None:
        provider.api_key = env_secret(options["api_key_env"], "--api-key-env")
    elif options["clear_api_key"]:
        provider.api_key = ""
    if options["password_env"] is not None:
        provider.password = env_secret(options["password_env"], "--password-env")
    elif options["clear_password"]:
        provider.password = ""
    if options["option"] or options["remove_option"]:
        provider.options = _merged_options(provider, options["option"], options["remove_option"])
    _apply_callback_secrets(provider, options)


def _gateway_class(name: str) -> type[Gateway]:
    try:
        return registry.gateway_class(name)
    except KeyError as exc:
        raise usage_error("--gateway", str(exc.args[0])) from None
    except ImportError as exc:  # an installation problem, not the user's input
        raise failure(f"the {name} gateway adapter cannot be loaded: {exc}") from None


def _merged_options(provider: Provider, pairs: list[str], removed: list[str]) -> dict[str, Any]:
    """The stored gateway options with ``--option`` set and ``--remove-option`` removed."""
    given = parse_options(pairs)
    merged = dict(provider.options) if isinstance(provider.options, dict) else {}
    for key in removed:
        if key in given:
            raise usage_error("--remove-option", f"{key!r} is also set by --option")
        if key not in merged:
            stored = ", ".join(sorted(merged)) or "none"
            raise usage_error("--remove-option", f"{key!r} is not set (set: {stored})")
        del merged[key]
    return {**merged, **given}


def _apply_callback_secrets(provider: Provider, options: dict[str, Any]) -> None:
    """Replace, add to (rotation), keep one of (end of rotation) or clear the secrets."""
    dest = next((d for d in CALLBACK_OPTIONS if options[d]), None)
    if dest is None:
        return
    option = CALLBACK_OPTIONS[dest]
    if dest == "clear_callback_secrets":
        provider.callback_secrets = ""
        return
    variable = options[dest]
    given = secret_lines(env_secret(variable, option))
    stored = provider.callback_secret_list()
    if dest == "keep_only_callback_secret_env":
        if not given or any(value not in stored for value in given):
            raise usage_error(
                option,
                f"the secret in ${variable} is not one of the stored callback secrets; "
                "nothing was dropped (to replace them all: --callback-secret-env)",
            )
        provider.callback_secrets = "\n".join(given)
        return
    check_callback_secrets(given, option, _gateway_class(provider.gateway))
    if dest == "callback_secret_env":
        provider.callback_secrets = "\n".join(given)
        return
    if any(value in stored for value in given):
        raise usage_error(option, f"the secret in ${variable} is already accepted")
    provider.callback_secrets = "\n".join([*stored, *given])


# -- sender IDs --------------------------------------------------------------------------


def _apply_senders(provider: Provider, old_gateway: str, options: dict[str, Any]) -> list[str]:
    """Add, remove and choose the default sender ID; lines saying what was done."""
    added_values = list(dict.fromkeys(options["add_sender"]))
    removed_values = list(dict.fromkeys(options["remove_sender"]))
    default = options["default_sender"]
    stored = {sender.value: sender for sender in provider.senders.all()}
    known = ", ".join(sorted(stored)) or "none"
    for value in removed_values:
        if value not in stored:
            raise usage_error(
                "--remove-sender",
                f"{value!r} is not a sender ID of {provider.name} (its sender IDs: {known})",
            )
        if value in added_values:
            raise usage_error("--remove-sender", f"{value!r} is also given to --add-sender")
        if stored[value].pk == provider.default_sender_id and default is None:
            raise usage_error(
                "--remove-sender",
                f"{value!r} is the default sender ID: name the new default with "
                "--default-sender ID (or --default-sender '' for none)",
            )
    if default:
        if default in removed_values:
            raise usage_error("--default-sender", f"{default!r} is removed by --remove-sender")
        if default not in stored and default not in added_values:
            raise usage_error(
                "--default-sender",
                f"{default!r} is not a sender ID of {provider.name} (its sender IDs: {known}); "
                "add it with --add-sender",
            )
    if provider.gateway != old_gateway:
        _check_kept_senders(provider, [s for v, s in stored.items() if v not in removed_values])

    notes = [_remove_sender(stored[value]) for value in removed_values]
    added = {value: _add_sender(provider, value, stored) for value in added_values}
    if default is not None:
        provider.default_sender = added.get(default) or stored.get(default)
    lines = [f"Sender IDs added: {', '.join(added)}."] if added else []
    if removed_values:
        lines.append(f"Sender IDs removed: {', '.join(removed_values)}.")
    return lines + [note for note in notes if note]


def _check_kept_senders(provider: Provider, senders: list[SenderID]) -> None:
    """A gateway switch: every sender ID kept must suit the new gateway's rules."""
    for sender in senders:
        sender.provider = provider
        try:
            sender.full_clean()
        except ValidationError as exc:
            text = " ".join(exc.messages).rstrip(".")
            raise usage_error(
                "--gateway",
                f"the sender ID {sender.value!r} does not suit {provider.gateway}: {text}; "
                "remove it with --remove-sender",
            ) from None


def _add_sender(provider: Provider, value: str, stored: dict[str, SenderID]) -> SenderID:
    if value in stored:
        raise usage_error("--add-sender", f"{value!r} is already a sender ID of {provider.name}")
    sender = SenderID(provider=provider, value=value)
    try:
        sender.full_clean()
    except ValidationError as exc:
        raise from_validation_error(exc, SENDER_OPTIONS) from None
    sender.save()
    return sender


def _remove_sender(sender: SenderID) -> str:
    """Delete it; a line when notification templates named it (they now name none)."""
    templates = NotificationTemplate.objects.filter(sender=sender).count()
    sender.delete()
    if not templates:
        return ""
    return (
        f"{sender.value} was the sender ID of {templates} notification template(s): they now "
        "use the provider's default sender ID."
    )


# -- what changed ------------------------------------------------------------------------


def _value(provider: Provider, field: str) -> Any:
    return provider.default_sender_id if field == "default_sender" else getattr(provider, field)


def _snapshot(provider: Provider) -> dict[str, Any]:
    return {field: copy.deepcopy(_value(provider, field)) for field in SETTINGS}


def _changes(before: dict[str, Any], provider: Provider) -> list[str]:
    """The names of the settings that differ from ``before``; option keys, not values."""
    changed = []
    for field, label in SETTINGS.items():
        old, new = before[field], _value(provider, field)
        if old == new:
            continue
        if field == "options":
            keys = sorted(k for k in {*old, *new} if old.get(k, ...) != new.get(k, ...))
            label = f"options ({', '.join(keys)})"
        changed.append(label)
    return changed


def _field_options(options: dict[str, Any]) -> dict[str, str]:
    """FIELD_OPTIONS with the callback and credential options actually given."""
    named = dict(FIELD_OPTIONS)
    for dest, option in CALLBACK_OPTIONS.items():
        if options[dest]:
            named["callback_secrets"] = option
    if options["clear_api_key"]:
        named["api_key"] = "--clear-api-key"
    if options["clear_password"]:
        named["password"] = "--clear-password"
    if options["active"] is False:
        named["is_active"] = "--inactive"
    return named


def _report(
    provider: Provider,
    old_name: str,
    changed: list[str],
    sender_lines: list[str],
    base_url: str | None,
) -> list[str]:
    if not changed and not sender_lines:
        return [f"Provider {provider.name!r} unchanged: every value given is the one stored."]
    renamed = f" (was {old_name!r})" if provider.name != old_name else ""
    lines = [
        f"Updated provider {provider.name!r}{renamed}: {', '.join(changed)}."
        if changed
        else f"Updated provider {provider.name!r}."
    ]
    lines += sender_lines
    if "default sender" in changed:
        sender = provider.default_sender
        lines.append(
            f"Default sender ID: {sender.value}."
            if sender
            else "No default sender ID: each message must name one (sms_send --sender)."
        )
    if "callback secrets" in changed and provider.gateway_class().has(Capability.DLR_PUSH):
        count = len(provider.callback_secret_list())
        if count > 1:
            lines.append(
                f"Callback secrets: {count} accepted (a rotation in progress). Give the gateway "
                "the callback URL with the new secret; once its pushes use it: manage.py "
                f"sms_provider set {shlex.quote(provider.name)} "
                "--keep-only-callback-secret-env VAR"
            )
        lines += callback_lines(provider, base_url)
    return lines
