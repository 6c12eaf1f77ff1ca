"""The ``HELPDESK_SMS`` settings dict: defaults, access and system checks.

One dict keeps the host's settings.py tidy; unknown keys are reported by ``manage.py check``
so a typo never silently falls back to a default.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core import checks
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    # Region for numbers written without a country code (ISO 3166 alpha-2, e.g. "IN", "NG").
    "DEFAULT_REGION": None,
    # Dotted path of ``callable(ticket) -> str | None`` giving the customer's phone number.
    "CUSTOMER_PHONE_RESOLVER": "helpdesk_sms.resolvers.customer_phone_from_ticket",
    # Dotted path of ``callable(user) -> str | None`` giving an agent's phone number.
    "AGENT_PHONE_RESOLVER": "helpdesk_sms.resolvers.agent_phone_from_profile",
    # "celery": kick the dispatch task when a message is committed; "none": leave it to the
    # periodic sweep or to ``manage.py sms_dispatch`` run from cron.
    "DISPATCH": "celery",
    # Replace typographic quotes, dashes, ellipses and odd spaces with GSM look-alikes in every
    # message (templates can also switch it on one by one), so they do not force Unicode.
    "SMART_REPLACE": False,
    # How many due messages one dispatch pass claims at a time.
    "BATCH_SIZE": 100,
    # Seconds to wait for a gateway to accept the connection, and then for its answer.
    "CONNECT_TIMEOUT": 5.0,
    "READ_TIMEOUT": 30.0,
    # The longest gateway answer read (bytes): a longer one is refused unread, as an
    # ambiguous send or a failed poll, so a broken or hostile gateway cannot exhaust memory.
    "MAX_REPLY_BYTES": 2 * 1024 * 1024,
    # Retries when the gateway provably did not take the message, with doubling back-off.
    "MAX_ATTEMPTS": 5,
    "RETRY_BACKOFF": 30,
    "RETRY_BACKOFF_MAX": 3600,
    # A claimed message whose request has not started after this many seconds (its worker
    # died, or its pass ended in an error) goes back to "queued". Workers renew their claims.
    "CLAIM_LEASE": 120,
    # A message whose gateway request started this long ago with no answer recorded (its
    # worker died mid-request) becomes "unknown": the gateway may have it. Keep it well above
    # CONNECT_TIMEOUT + READ_TIMEOUT, so a request still in flight is never swept.
    "STALE_SENDING_AFTER": 600,
    # Stop polling delivery reports for messages accepted longer ago than this (seconds).
    "REPORT_POLL_MAX_AGE": 3 * 24 * 3600,
    # Periodic jobs registered with django-celery-beat (seconds between runs).
    "SWEEP_INTERVAL": 60,
    "REPORT_POLL_INTERVAL": 60,
    "BALANCE_CHECK_INTERVAL": 3600,
    # The django-helpdesk integration (helpdesk_sms.integrations.django_helpdesk): a dict of
    # ENABLED, PHONE_FIELD, QUEUES, QUEUE_PROVIDERS, FOLLOWUPS; {} takes every default.
    "DJANGO_HELPDESK": {},
    # Watch any ticket model's saves (helpdesk_sms.integrations.model_watcher): a dict of
    # TICKET_MODEL, ASSIGNEE_FIELD, TASK_MODEL, TASK_TICKET_FIELD; None watches nothing.
    "MODEL_WATCHER": None,
    # Names of extra plain values your code passes to notify() (or the signals) for
    # templates to use: a template naming any other unknown variable is refused when saved.
    "EXTRA_TEMPLATE_VARIABLES": (),
    # Fernet keys encrypting provider credentials at rest: the first encrypts, all decrypt
    # (rotation). A list, or one comma-separated string. Required unless DEBUG is on
    # (docs/security.md; `manage.py sms_credentials generate-key` makes one).
    "CREDENTIAL_KEYS": (),
}


def get(name: str) -> Any:
    """The effective value of one setting (the host's value, else the default)."""
    if name not in DEFAULTS:
        raise KeyError(f"HELPDESK_SMS has no setting {name!r}")
    return getattr(django_settings, "HELPDESK_SMS", {}).get(name, DEFAULTS[name])


def resolver(name: str) -> Any:
    """Import the callable a dotted-path setting names."""
    return import_string(get(name))


@checks.register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Report unknown keys, bad choices and resolvers that do not import."""
    errors: list[checks.CheckMessage] = []
    configured = getattr(django_settings, "HELPDESK_SMS", {})
    if not isinstance(configured, dict):
        return [checks.Error("HELPDESK_SMS must be a dict.", id="helpdesk_sms.E001")]
    for key in sorted(set(configured) - set(DEFAULTS)):
        errors.append(
            checks.Error(
                f"HELPDESK_SMS has an unknown key {key!r}.",
                hint="Known keys: " + ", ".join(sorted(DEFAULTS)),
                id="helpdesk_sms.E002",
            )
        )
    if get("DISPATCH") not in ("celery", "none"):
        errors.append(
            checks.Error(
                "HELPDESK_SMS['DISPATCH'] must be 'celery' or 'none'.", id="helpdesk_sms.E003"
            )
        )
    for key in ("CUSTOMER_PHONE_RESOLVER", "AGENT_PHONE_RESOLVER"):
        try:
            resolver(key)
        except ImportError as exc:
            errors.append(
                checks.Error(
                    f"HELPDESK_SMS['{key}'] does not import: {exc}", id="helpdesk_sms.E004"
                )
            )
    return errors


@checks.register()
def check_callback_secrets(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn about push-capable providers whose reports cannot be accepted (no secret)."""
    from django.db import DatabaseError

    from .gateways.base import Capability
    from .models import Provider

    warnings = []
    try:
        providers = list(Provider.objects.filter(is_active=True, callback_secrets=""))
    except DatabaseError:  # tables not migrated yet
        return []
    for provider in providers:
        try:
            pushes = provider.gateway_class().has(Capability.DLR_PUSH)
        except (KeyError, ImportError):
            continue
        if pushes:
            warnings.append(
                checks.Warning(
                    f"SMS provider {provider.name!r} ({provider.gateway}) pushes delivery "
                    "reports but has no callback secret, so every report will be refused.",
                    hint="Set a callback secret on the provider and give the gateway the URL "
                    f"/sms/callback/{provider.pk}/<secret>/ (see docs/operations.md).",
                    id="helpdesk_sms.W001",
                )
            )
    return warnings


@checks.register()
def check_credential_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Refuse to start without a usable key outside DEBUG; say so when DEBUG derives one."""
    from . import credentials

    problems = credentials.key_problems()
    if problems:
        return [
            checks.Error(
                problem,
                hint="Generate a key with `manage.py sms_credentials generate-key` and list it "
                "in HELPDESK_SMS['CREDENTIAL_KEYS'] (e.g. from an environment variable).",
                id="helpdesk_sms.E005",
            )
            for problem in problems
        ]
    if not credentials.configured_keys():
        return [
            checks.Warning(
                "HELPDESK_SMS['CREDENTIAL_KEYS'] is empty: provider credentials are encrypted "
                "with a development key derived from SECRET_KEY (DEBUG only).",
                hint="Set a key before storing real credentials; outside DEBUG one is required.",
                id="helpdesk_sms.W002",
            )
        ]
    return _undecryptable_credentials()


def _undecryptable_credentials() -> list[checks.CheckMessage]:
    """Providers whose stored credentials no configured key opens (a key removed too soon)."""
    from django.db import DatabaseError, models
    from django.db.models.functions import Cast

    from . import credentials
    from .models import CREDENTIAL_FIELDS, Provider

    raw = {f"raw_{name}": Cast(name, models.TextField()) for name in CREDENTIAL_FIELDS}
    try:
        rows = list(Provider.objects.annotate(**raw).values_list("name", *raw))
    except DatabaseError:  # tables not migrated yet
        return []
    locked = []
    for name, *values in rows:
        for value in values:
            if value and credentials.is_token(value):
                try:
                    credentials.decrypt(value)
                except credentials.CredentialKeyError:
                    locked.append(name)
                    break
    if not locked:
        return []
    return [
        checks.Error(
            "No key in HELPDESK_SMS['CREDENTIAL_KEYS'] decrypts the credentials of SMS "
            f"provider(s) {', '.join(map(repr, locked))}.",
            hint="Put the key they were written with back at the end of the list, then run "
            "`manage.py sms_credentials rotate` (docs/security.md).",
            id="helpdesk_sms.E006",
        )
    ]
