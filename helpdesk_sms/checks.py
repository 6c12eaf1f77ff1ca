"""The app's system checks (``manage.py check``, and every ``runserver`` and ``migrate``).

Registered when the app is ready (``apps.py`` imports this module): they read settings and
the provider table, so they live apart from ``conf``, which every module imports and which
must therefore import nothing of the app's.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, register
from django.core.checks import Warning as CheckWarning
from django.db import DatabaseError, models
from django.db.models.functions import Cast

from . import conf, credentials
from .gateways.base import Capability
from .models import CREDENTIAL_FIELDS, Provider


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report unknown keys, bad choices and resolvers that do not import."""
    errors: list[CheckMessage] = []
    configured = getattr(django_settings, "HELPDESK_SMS", {})
    if not isinstance(configured, dict):
        return [Error("HELPDESK_SMS must be a dict.", id="helpdesk_sms.E001")]
    for key in sorted(set(configured) - set(conf.DEFAULTS)):
        errors.append(
            Error(
                f"HELPDESK_SMS has an unknown key {key!r}.",
                hint="Known keys: " + ", ".join(sorted(conf.DEFAULTS)),
                id="helpdesk_sms.E002",
            )
        )
    if conf.get("DISPATCH") not in ("celery", "none"):
        errors.append(
            Error("HELPDESK_SMS['DISPATCH'] must be 'celery' or 'none'.", id="helpdesk_sms.E003")
        )
    for name in ("NUMBER_HOURLY_LIMIT", "AGENT_HOURLY_LIMIT"):
        limit = conf.get(name)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            errors.append(
                Error(
                    f"HELPDESK_SMS[{name!r}] must be a whole number, 0 or more (0: no limit), "
                    f"not {limit!r}.",
                    id="helpdesk_sms.E007",
                )
            )
    url = conf.get("RATE_LIMIT_REDIS_URL")
    if url is not None and not (
        isinstance(url, str) and url.startswith(("redis://", "rediss://", "unix://"))
    ):
        errors.append(
            Error(
                "HELPDESK_SMS['RATE_LIMIT_REDIS_URL'] must be None (count in the database) or a "
                f"redis://, rediss:// or unix:// URL, not {_safe_url(url)!r}.",
                id="helpdesk_sms.E008",
            )
        )
    days = conf.get("RETENTION")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        errors.append(
            Error(
                "HELPDESK_SMS['RETENTION'] must be None (keep forever) or a whole number of "
                f"days, 1 or more, after which texts and numbers are erased; not {days!r}.",
                id="helpdesk_sms.E141",
            )
        )
    errors += _keyword_errors()
    for key in ("CUSTOMER_PHONE_RESOLVER", "AGENT_PHONE_RESOLVER"):
        try:
            conf.resolver(key)
        except ImportError as exc:
            errors.append(
                Error(f"HELPDESK_SMS['{key}'] does not import: {exc}", id="helpdesk_sms.E004")
            )
    return errors


@register()
def check_quiet_hours(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report a quiet-hours setting or a ticket time-zone resolver that cannot work."""
    from .quiet_hours import site_window

    errors: list[CheckMessage] = []
    try:
        site_window()
    except ValueError as exc:
        errors.append(Error(str(exc), id="helpdesk_sms.E150"))
    dotted = conf.get("TICKET_TIMEZONE_RESOLVER")
    if dotted is not None:
        try:
            conf.resolver("TICKET_TIMEZONE_RESOLVER")
        except Exception as exc:  # ImportError, or a value that is no dotted path at all
            errors.append(
                Error(
                    "HELPDESK_SMS['TICKET_TIMEZONE_RESOLVER'] must be None or the dotted path "
                    f"of a callable(ticket) -> time zone name; {dotted!r} does not import: "
                    f"{exc}",
                    id="helpdesk_sms.E151",
                )
            )
    return errors


@register()
def check_reply_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report reply-threading settings that cannot work (reply_threading.py)."""
    errors: list[CheckMessage] = []
    days = conf.get("REPLY_WINDOW_DAYS")
    if isinstance(days, bool) or not isinstance(days, int | float) or days < 0:
        errors.append(
            Error(
                "HELPDESK_SMS['REPLY_WINDOW_DAYS'] must be a number of days, 0 or more (how "
                "long a reply without a ticket reference threads onto the ticket last texted "
                f"to its number), not {days!r}.",
                id="helpdesk_sms.E131",
            )
        )
    if not isinstance(conf.get("REPLY_NEW_TICKETS"), bool):
        errors.append(
            Error(
                "HELPDESK_SMS['REPLY_NEW_TICKETS'] must be True or False (whether a reply that "
                f"matches no ticket opens one), not {conf.get('REPLY_NEW_TICKETS')!r}.",
                id="helpdesk_sms.E132",
            )
        )
    elif conf.get("REPLY_NEW_TICKETS"):
        errors.extend(_new_ticket_queue_problems())
    return errors


def _new_ticket_queue_problems() -> list[CheckMessage]:
    """REPLY_NEW_TICKETS is on: it needs django-helpdesk and a queue that exists."""
    from .integrations import helpdesk_replies

    slug = conf.get("REPLY_NEW_TICKET_QUEUE")
    try:
        problem = helpdesk_replies.new_ticket_problem(slug)
    except DatabaseError:  # tables not migrated yet
        return []
    if not problem:
        return []
    return [
        Error(
            f"HELPDESK_SMS['REPLY_NEW_TICKETS'] is True but {problem}: replies that match no "
            "ticket are kept unassigned instead.",
            hint="Set REPLY_NEW_TICKET_QUEUE to the slug of a django-helpdesk queue, or "
            "REPLY_NEW_TICKETS to False.",
            id="helpdesk_sms.E133",
        )
    ]


@register()
def check_callback_secrets(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Warn about push-capable providers whose reports cannot be accepted (no secret)."""
    warnings: list[CheckMessage] = []
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
                CheckWarning(
                    f"SMS provider {provider.name!r} ({provider.gateway}) pushes delivery "
                    "reports but has no callback secret, so every report will be refused.",
                    hint="Set a callback secret on the provider and give the gateway the URL "
                    f"/sms/callback/{provider.pk}/<secret>/ (see docs/operations.md).",
                    id="helpdesk_sms.W001",
                )
            )
    return warnings


@register()
def check_credential_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse to start without a usable key outside DEBUG; say so when DEBUG derives one."""
    problems = credentials.key_problems()
    if problems:
        return [
            Error(
                problem,
                hint="Generate a key with `manage.py sms_credentials generate-key` and list it "
                "in HELPDESK_SMS['CREDENTIAL_KEYS'] (e.g. from an environment variable).",
                id="helpdesk_sms.E005",
            )
            for problem in problems
        ]
    if not credentials.configured_keys():
        return [
            CheckWarning(
                "HELPDESK_SMS['CREDENTIAL_KEYS'] is empty: provider credentials are encrypted "
                "with a development key derived from SECRET_KEY (DEBUG only).",
                hint="Set a key before storing real credentials; outside DEBUG one is required.",
                id="helpdesk_sms.W002",
            )
        ]
    return _undecryptable_credentials()


def _undecryptable_credentials() -> list[CheckMessage]:
    """Providers whose stored credentials no configured key opens (a key removed too soon)."""
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
        Error(
            "No key in HELPDESK_SMS['CREDENTIAL_KEYS'] decrypts the credentials of SMS "
            f"provider(s) {', '.join(map(repr, locked))}.",
            hint="Put the key they were written with back at the end of the list, then run "
            "`manage.py sms_credentials rotate` (docs/security.md).",
            id="helpdesk_sms.E006",
        )
    ]


def _keyword_errors() -> list[CheckMessage]:
    """The KEYWORDS setting's shape, and the reply texts' (docs/replies.md)."""
    from .consent import KINDS, fold, keywords
    from .consent_models import MAX_REPLY_LENGTH

    errors: list[CheckMessage] = []
    configured = conf.get("KEYWORDS")
    if not isinstance(configured, dict):
        return [
            Error(
                "HELPDESK_SMS['KEYWORDS'] must be a dict of lists of words by kind "
                f"({', '.join(KINDS)}), not {type(configured).__name__}.",
                id="helpdesk_sms.E030",
            )
        ]
    for kind in sorted(set(configured) - set(KINDS), key=str):
        errors.append(
            Error(
                f"HELPDESK_SMS['KEYWORDS'] has an unknown kind {kind!r}; known: "
                f"{', '.join(KINDS)}.",
                id="helpdesk_sms.E030",
            )
        )
    for kind in KINDS:
        words = configured.get(kind, [])
        if isinstance(words, str) or not isinstance(words, list | tuple):
            errors.append(
                Error(
                    f"HELPDESK_SMS['KEYWORDS'][{kind!r}] must be a list of words, not {words!r}.",
                    id="helpdesk_sms.E031",
                )
            )
            continue
        for word in words:
            if not isinstance(word, str) or not fold(word) or len(word) > 50:
                errors.append(
                    Error(
                        f"HELPDESK_SMS['KEYWORDS'][{kind!r}] has {word!r}: each keyword must "
                        "be a text of 1 to 50 characters with a letter or digit.",
                        id="helpdesk_sms.E031",
                    )
                )
    seen: dict[str, str] = {}
    for kind, words in keywords().items():
        for word in words:
            other = seen.setdefault(fold(word), kind)
            if other != kind:
                errors.append(
                    Error(
                        f"HELPDESK_SMS['KEYWORDS']: {word!r} is both an {other} and an {kind} "
                        "keyword (case and accents ignored); it would opt out.",
                        id="helpdesk_sms.E032",
                    )
                )
    for name in ("OPT_OUT_REPLY", "OPT_IN_REPLY", "HELP_REPLY"):
        value = conf.get(name)
        if not isinstance(value, str) or len(value) > MAX_REPLY_LENGTH:
            errors.append(
                Error(
                    f"HELPDESK_SMS[{name!r}] must be a text of at most {MAX_REPLY_LENGTH} "
                    f'characters ("": no reply), not {value!r:.60}.',
                    id="helpdesk_sms.E033",
                )
            )
    return errors


def _safe_url(url: object) -> object:
    """A URL as a check may print it: any password in it masked."""
    if not isinstance(url, str):
        return url
    from .ratelimit import redacted_url

    return redacted_url(url)
