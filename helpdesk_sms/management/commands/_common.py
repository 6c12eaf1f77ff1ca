"""What the sms_* commands share: exit codes, one-line errors, provider lookup, output.

Every command reports a user's mistake the same way (``error: --option: what is wrong``
on stderr, exit status 2), so scripts and cron can tell bad input (2) from a gateway or
database failure (1) without parsing text, and nobody ever sees a traceback for a typo.
"""

from __future__ import annotations

import shlex
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, SystemCheckError
from django.core.validators import URLValidator
from django.urls import NoReverseMatch, reverse

from helpdesk_sms import balances
from helpdesk_sms.exceptions import SmsInputError
from helpdesk_sms.gateways.base import (
    REDACTED,
    Capability,
    GatewayError,
    redact,
    redact_params,
)
from helpdesk_sms.inputs import check_text
from helpdesk_sms.models import BalanceSnapshot, Provider

#: The command did what was asked.
EXIT_OK = 0
#: The input was fine but the work failed (gateway refused or unreachable, database error).
EXIT_FAILED = 1
#: Bad input: an option's value broke a rule. Nothing was written.
EXIT_USAGE = 2


class SmsCommand(BaseCommand):
    """Base of the sms_* commands: prints CommandError as ``error: …`` and exits with its code.

    Django would print ``CommandError: …``; the ``error:`` prefix matches argparse's own
    usage errors, so every mistake on the command line reads the same. ``call_command``
    (tests, other code) still gets the CommandError with its ``returncode``.
    """

    #: Positional arguments by their dest, as ``--help`` names them (e.g. "name": "NAME").
    positional_names: Mapping[str, str] = {}

    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            self.check_text_options(options)
            return super().execute(*args, **options)
        except CommandError as exc:
            if (
                not getattr(self, "_called_from_command_line", False)  # set by run_from_argv
                or options.get("traceback")
                or isinstance(exc, SystemCheckError)
            ):
                raise
            self.stderr.write(f"error: {exc}")
            raise SystemExit(exc.returncode) from None

    def check_text_options(self, options: Mapping[str, Any]) -> None:
        """Every text given on the command line: no NUL, control character or lone surrogate.

        Bytes that are not UTF-8 arrive from argv as lone surrogates; a NUL would fail a
        PostgreSQL query. Each is a usage error naming the option, before any work starts.
        """
        for dest, value in options.items():
            values = value if isinstance(value, list | tuple) else [value]
            for item in values:
                if not isinstance(item, str):
                    continue
                try:
                    check_text(item, dest)
                except SmsInputError as exc:
                    option = self.positional_names.get(dest, "--" + dest.replace("_", "-"))
                    raise usage_error(option, exc.message.replace(dest, "the value", 1)) from None


def usage_error(option: str, message: str) -> CommandError:
    """A bad-input error naming the option (or argument) to fix; exit status 2."""
    return CommandError(f"{option}: {message}" if option else message, returncode=EXIT_USAGE)


def failure(message: str) -> CommandError:
    """The work itself failed (gateway, database); exit status 1."""
    return CommandError(message, returncode=EXIT_FAILED)


def from_input_error(exc: SmsInputError, options: Mapping[str, str]) -> CommandError:
    """An API input error with its field renamed to the command-line option."""
    field = exc.field
    option = options.get(field, "" if field == "__all__" else "--" + field.replace("_", "-"))
    return usage_error(option, exc.message)


def from_validation_error(exc: ValidationError, options: Mapping[str, str]) -> CommandError:
    """A model validation error as one line: each field's option and its messages."""
    if not hasattr(exc, "error_dict"):
        return usage_error("", " ".join(exc.messages))
    parts = []
    for field, errors in exc.message_dict.items():
        option = options.get(field, "" if field == "__all__" else "--" + field.replace("_", "-"))
        text = " ".join(errors).rstrip(".")
        parts.append(f"{option}: {text}" if option else text)
    return usage_error("", "; ".join(parts) + ".")


def get_provider(name: str, option: str = "--provider") -> Provider:
    """The provider called ``name`` (active or not); a usage error listing the known ones."""
    found = Provider.objects.filter(name=name).first()
    if found is None:
        known = ", ".join(Provider.objects.order_by("name").values_list("name", flat=True))
        raise usage_error(option, f"Unknown provider {name!r} (known: {known or 'none'}).")
    return found


def safe_url(provider: Provider) -> str:
    """The provider's base URL fit for printing, credentials in its userinfo and query masked.

    Masked where a credential sits in a URL: the password of ``user:password@`` (and a user
    name that is a stored secret), and query or fragment parameters named like one
    (``apikey=``, ``password=``, as ``redact_params`` masks them) or whose whole value is a
    stored secret. Never inside the host or the path: a short password such as ``x`` would
    turn ``api.example.com`` into ``api.e***ample.com``, an address that does not exist.
    """
    url = provider.base_url or ""
    secrets = set(provider.secret_values())
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # not a URL at all (saved by code, not the form): mask bluntly
        return redact(url, secrets)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, password = userinfo.partition(":")
        if urllib.parse.unquote(user) in secrets:
            user = REDACTED
        netloc = f"{user}{colon}{REDACTED if password else ''}@{host}"
    masked = parts._replace(
        netloc=netloc,
        query=_masked_params(parts.query, secrets),
        fragment=_masked_params(parts.fragment, secrets),
    )
    return url if masked == parts else urllib.parse.urlunsplit(masked)


def _masked_params(text: str, secrets: set[str]) -> str:
    """``a=1&apikey=K`` -> ``a=1&apikey=***``: values masked by their name or as a secret."""
    if not text:
        return text
    pieces = []
    for piece in text.split("&"):
        name, equals, value = piece.partition("=")
        key = urllib.parse.unquote_plus(name)
        if not equals:
            pieces.append(REDACTED if key in secrets else piece)
        elif value and (
            redact_params({key: None})[key] is not None
            or urllib.parse.unquote_plus(value) in secrets
        ):
            pieces.append(f"{name}={REDACTED}")
        else:
            pieces.append(piece)
    return "&".join(pieces)


#: Shown in place of the callback secret: the secret itself is never printed.
SECRET_PLACEHOLDER = "<callback secret>"
#: Shown in place of the site's address when no --base-url is given (as the admin does).
SITE_PLACEHOLDER = "https://<your site>"


def parse_base_url(value: str, option: str = "--base-url") -> str:
    """The site's address as the gateway reaches it, without a trailing slash.

    Only scheme, host and an optional path prefix: a query or fragment would end up in
    the middle of the callback URL.
    """
    url = value.strip().rstrip("/")
    parts: urllib.parse.SplitResult | None = urllib.parse.urlsplit(url)
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        parts = None
    if parts is None or parts.query or parts.fragment or parts.username or parts.password:
        raise usage_error(
            option,
            f"{value!r} is not the site's address: write scheme and host (and any path "
            "prefix) only, e.g. https://help.example.com",
        )
    return url


def callback_url(
    provider: Provider, base_url: str | None, url_name: str = "helpdesk_sms:callback"
) -> str | None:
    """The URL the gateway pushes reports (or, by ``url_name``, replies) to, the secret as a
    placeholder; None if unmounted.

    Built like the admin's ``ProviderAdmin.callback_url``: with reverse(), so a site
    that mounts ``helpdesk_sms.urls`` elsewhere than ``sms/`` gets its own path.
    """
    try:
        path = reverse(url_name, kwargs={"provider_id": provider.pk, "secret": "SECRET"})
    except NoReverseMatch:
        return None
    return (base_url or SITE_PLACEHOLDER) + path.replace("SECRET", SECRET_PLACEHOLDER)


def callback_lines(provider: Provider, base_url: str | None) -> list[str]:
    """Where a push-capable gateway must send reports, or why it sends none; no secret."""
    try:
        cls = provider.gateway_class()
    except (KeyError, ImportError):
        return []
    if not cls.has(Capability.DLR_PUSH):
        how = (
            "they are polled (sms_poll_reports, or the periodic poll)"
            if cls.has(Capability.DLR_POLL)
            else "nor can they be polled"
        )
        return [f"Callback URL: none: this gateway does not push delivery reports; {how}."]
    url = callback_url(provider, base_url)
    if url is None:
        return [
            "Callback URL: none: helpdesk_sms.urls is not in the site's URLconf; add "
            'path("sms/", include("helpdesk_sms.urls")).'
        ]
    lines = [
        f"Callback URL: {url}",
        f"  Give the gateway this URL with one of the callback secrets in place of "
        f"{SECRET_PLACEHOLDER}.",
    ]
    if not base_url:
        lines.append("  Add --base-url https://your.site to print it in full.")
    if not provider.callback_secret_list():
        lines.append(
            "  No callback secret is set: every push is refused until one is (sms_provider "
            f"set {shlex.quote(provider.name)} --callback-secret-env VAR, or in the admin)."
        )
    return lines


def inbound_lines(provider: Provider, base_url: str | None) -> list[str]:
    """Where the gateway must push customer replies (docs/replies.md); no secret."""
    try:
        cls = provider.gateway_class()
    except (KeyError, ImportError):
        return []
    if not cls.has(Capability.INBOUND):
        return ["Inbound URL: none: this gateway does not push customer replies."]
    url = callback_url(provider, base_url, "helpdesk_sms:inbound")
    if url is None:
        return []  # callback_lines says the URLconf lacks helpdesk_sms.urls
    return [
        f"Inbound URL: {url} (customer replies; one of the callback secrets in place of "
        f"{SECRET_PLACEHOLDER})"
    ]


def gateway_label(provider: Provider) -> str:
    try:
        cls = provider.gateway_class()
    except (KeyError, ImportError):
        return provider.gateway
    return cls.verbose_name or cls.name


def has_balance_feature(provider: Provider) -> bool:
    """Whether the provider's gateway can report a balance at all (a failure if unloadable)."""
    try:
        cls = provider.gateway_class()
    except (KeyError, ImportError) as exc:
        raise failure(f"{provider.name}: its gateway cannot be loaded: {exc}") from None
    return cls.has(Capability.BALANCE)


#: What a balance check of a gateway without the feature says: a fact, not an error.
NO_BALANCE_FEATURE = "this gateway has no balance feature"


def read_balance(provider: Provider) -> list[str]:
    """Read and record the provider's balances now: one line per account.

    A gateway without the balance feature is no error (nothing is wrong, there is just
    nothing to read): its one line says so and the exit status stays 0. A gateway that
    cannot answer is a failure (exit 1) carrying its error, credentials masked.
    """
    if not has_balance_feature(provider):
        return [NO_BALANCE_FEATURE]
    try:
        snapshots = balances.check_provider(provider)
    except GatewayError as exc:
        text = redact(str(exc), provider.secret_values())
        raise failure(f"{provider.name}: balance check failed: {text}") from None
    return balance_lines(snapshots) or ["no balance reported"]


def balance_lines(snapshots: Iterable[BalanceSnapshot]) -> list[str]:
    """One line per account, flagging a balance under the provider's low-balance threshold."""
    lines = []
    for snap in snapshots:
        line = f"{snap.account or 'balance'}: {snap.amount} {snap.unit}"
        if snap.is_low:
            line += f" (below the low-balance threshold {snap.provider.low_balance_threshold})"
        lines.append(line)
    return lines


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain left-aligned text table: readable in a terminal and greppable."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
