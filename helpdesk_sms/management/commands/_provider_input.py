"""What ``sms_provider add`` and ``set`` read from the command line: secrets, options, regions.

One reading for both subcommands, so a value ``add`` takes is taken by ``set`` the same way,
and refused in the same words naming the option.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from helpdesk_sms.gateways.base import Capability, Gateway

from ._common import usage_error

#: A callback secret travels in the URL path: only characters a URL carries unchanged,
#: and long enough not to be guessed (``secrets.token_urlsafe(24)`` gives 32).
CALLBACK_SECRET = re.compile(r"[A-Za-z0-9._~-]{16,200}")


def env_secret(variable: str, option: str) -> str:
    """The secret held by the environment variable ``variable``; a usage error if unset."""
    value = os.environ.get(variable, "")
    if not value:
        raise usage_error(option, f"the environment variable {variable} is not set or empty")
    return value


def secret_lines(text: str) -> list[str]:
    """Callback secrets as given: one per line, blank lines and surrounding spaces dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def check_callback_secrets(values: list[str], option: str, gateway: type[Gateway]) -> list[str]:
    """``values`` if each may be a callback secret of ``gateway``; else a usage error.

    The error never echoes a secret: it says which one (by position) broke which rule.
    """
    if not values:
        raise usage_error(option, "no secret given")
    if not gateway.has(Capability.DLR_PUSH):
        raise usage_error(
            option,
            f"{gateway.verbose_name or gateway.name} does not push delivery reports; "
            "a callback secret would never be used",
        )
    for number, value in enumerate(values, 1):
        if not CALLBACK_SECRET.fullmatch(value):
            which = f"secret {number}" if len(values) > 1 else "the secret"
            raise usage_error(
                option,
                f"{which} must be 16 to 200 letters, digits or - . _ ~ (it goes into a URL), "
                'e.g. from: python -c "import secrets; print(secrets.token_urlsafe(24))"',
            )
    return values


def parse_options(pairs: list[str], option: str = "--option") -> dict[str, Any]:
    """``key=value`` pairs; a value that parses as JSON (numbers, true, objects) is used as such."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise usage_error(option, f"{pair!r} is not KEY=VALUE, e.g. {option} route=15")
        try:
            parsed[key] = json.loads(raw)
        except ValueError:
            parsed[key] = raw
    return parsed


def parse_countries(value: str) -> str:
    """``in, np`` -> ``IN,NP`` (the model checks each is a two-letter region)."""
    return ",".join(c.strip().upper() for c in value.split(",") if c.strip())


def parse_region(value: str) -> str:
    """``in`` -> ``IN`` (the model checks it is a two-letter region)."""
    return value.strip().upper()
