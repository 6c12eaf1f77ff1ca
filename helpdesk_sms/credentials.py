"""Encrypting provider credentials at rest, with keys that can be rotated.

The keys are Fernet keys (cryptography's authenticated encryption: AES-128-CBC plus an
HMAC-SHA256) listed in ``HELPDESK_SMS['CREDENTIAL_KEYS']``: the first encrypts, every one
decrypts, so a new key is put first, ``manage.py sms_credentials rotate`` re-encrypts every
row with it, and only then is the old key removed. Outside ``DEBUG`` the list must not be
empty (a system check refuses to start); in ``DEBUG`` a key derived from ``SECRET_KEY`` is
used when none is set, so a developer's ``runserver`` works and still writes no plain text.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from . import conf

#: Every Fernet token starts with its version byte 0x80, base64-encoded: "gAAAAA".
TOKEN_PREFIX = "gAAAAA"


class CredentialKeyError(ImproperlyConfigured):
    """The keys are missing or malformed, or none of them opens a stored credential."""


def generate_key() -> str:
    """A new random key, as it is written in the setting."""
    return Fernet.generate_key().decode("ascii")


def configured_keys() -> list[str]:
    """The keys from the setting; a comma-separated string is accepted (from one env var)."""
    keys = conf.get("CREDENTIAL_KEYS")
    if isinstance(keys, str):
        keys = keys.split(",")
    if not isinstance(keys, Sequence):
        raise CredentialKeyError("HELPDESK_SMS['CREDENTIAL_KEYS'] must be a list of keys.")
    return [k.strip() for k in keys if isinstance(k, str) and k.strip()]


def key_problems() -> list[str]:
    """What is wrong with the configured keys (positions only: a key is never printed)."""
    try:
        keys = configured_keys()
    except CredentialKeyError as exc:
        return [str(exc)]
    return list(_problems(tuple(keys), bool(django_settings.DEBUG)))


@lru_cache(maxsize=8)
def _problems(keys: tuple[str, ...], debug: bool) -> tuple[str, ...]:
    problems = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            problems.append(
                f"HELPDESK_SMS['CREDENTIAL_KEYS'] key {position} is not a Fernet key "
                "(32 random bytes, url-safe base64: 44 characters ending in '=')."
            )
    if not keys and not debug:
        problems.append("HELPDESK_SMS['CREDENTIAL_KEYS'] is empty and DEBUG is off.")
    return tuple(problems)


def development_key() -> str:
    """The key used in DEBUG when none is configured: derived from SECRET_KEY."""
    digest = hashlib.sha256(b"helpdesk_sms credentials|" + django_settings.SECRET_KEY.encode())
    return base64.urlsafe_b64encode(digest.digest()).decode("ascii")


@lru_cache(maxsize=8)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def cipher() -> MultiFernet:
    """The cipher of the current setting (built once per list of keys)."""
    problems = key_problems()
    if problems:
        raise CredentialKeyError(
            " ".join(problems) + " Generate a key with `manage.py sms_credentials generate-key` "
            "and list it in HELPDESK_SMS['CREDENTIAL_KEYS'] (see docs/security.md)."
        )
    return _cipher(tuple(configured_keys() or [development_key()]))


def encrypt(plain: str) -> str:
    return cipher().encrypt(plain.encode("utf-8")).decode("ascii")


NO_KEY_OPENS_IT = (
    "A stored SMS provider credential cannot be decrypted with any key in "
    "HELPDESK_SMS['CREDENTIAL_KEYS']: was a key removed before `manage.py sms_credentials "
    "rotate` re-encrypted every row? Put the old key back at the end of the list (see "
    "docs/security.md)."
)


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise CredentialKeyError(NO_KEY_OPENS_IT) from None


def key_number(token: str) -> int | None:
    """Which configured key (1 = the first) opens ``token``; None when none does."""
    keys = configured_keys() or [development_key()]
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key).decrypt(token.encode("ascii"))
        except (InvalidToken, ValueError):
            continue
        return number
    return None


def is_token(value: str) -> bool:
    """Whether a stored value is ciphertext (a row written before encryption is not)."""
    return value.startswith(TOKEN_PREFIX)
