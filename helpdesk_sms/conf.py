"""The ``HELPDESK_SMS`` settings dict: its defaults, and reading them.

One dict keeps the host's settings.py tidy; unknown keys are reported by ``manage.py check``
(``checks.py``) so a typo never silently falls back to a default. Nearly every module reads
settings here, so this one imports nothing from the app.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
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
    # A provider's circuit breaker (docs/routing.md): this many requests in a row that the
    # gateway provably did not take (refused connection, throttled, authentication, credit,
    # sender refused) open its circuit: it is skipped for CIRCUIT_COOLDOWN seconds, then one
    # probe request is let through (and let through again if that probe's worker died).
    "CIRCUIT_FAILURES": 5,
    "CIRCUIT_COOLDOWN": 60,
    # Providers' rates (messages per second / minute) are counted across every worker in this
    # Redis ("redis://host:6379/0"), one atomic script per request; None counts them in the
    # database (a short locked transaction per request; SQLite serialises it anyway). An
    # unreachable Redis falls back to the database, with a warning: the limiter never fails
    # a send.
    "RATE_LIMIT_REDIS_URL": None,
    # Prefix of the limiter's Redis keys: sites sharing one Redis need different ones, or
    # their providers (numbered alike) would share their counts.
    "RATE_LIMIT_REDIS_PREFIX": "helpdesk_sms:rate:",
    # At most this many messages of one event to one number in an hour (a template may set
    # its own; 0: no limit); more are suppressed with the reason. A loop in the host's code
    # must not text a customer a hundred times, while a busy ticket's few honest updates
    # (created, re-assigned twice) still go out. For customers and recipient groups; agents
    # have their own below.
    "NUMBER_HOURLY_LIMIT": 3,
    # The same for an assigned agent's number: a busy agent honestly takes a dozen tickets
    # an hour, a loop in the host's code takes a hundred.
    "AGENT_HOURLY_LIMIT": 30,
    # Quiet hours (docs/compliance.md): local hours of the recipient when notifications
    # send nothing, e.g. {"start": "21:00", "end": "08:00"} (may wrap midnight); a message
    # due then waits, scheduled, until the window opens. Templates may set their own, or be
    # urgent and ignore it. None: off.
    "QUIET_HOURS": None,
    # Dotted path of ``callable(ticket) -> str | None`` giving a ticket's own time zone
    # (e.g. "Asia/Kolkata"), for quiet hours when the number alone does not tell; None reads
    # a ``timezone`` or ``time_zone`` attribute of the ticket, if it has one.
    "TICKET_TIMEZONE_RESOLVER": None,
    # Stop polling delivery reports for messages accepted longer ago than this (seconds).
    "REPORT_POLL_MAX_AGE": 3 * 24 * 3600,
    # Periodic jobs registered with django-celery-beat (seconds between runs).
    "SWEEP_INTERVAL": 60,
    "REPORT_POLL_INTERVAL": 60,
    "BALANCE_CHECK_INTERVAL": 3600,
    "PURGE_INTERVAL": 24 * 3600,
    # Days after which message texts, numbers, inbound texts and raw gateway data are erased
    # in place (docs/compliance.md, "Retention"); None keeps them forever.
    "RETENTION": None,
    # The django-helpdesk integration (helpdesk_sms.integrations.django_helpdesk): a dict of
    # ENABLED, PHONE_FIELD, QUEUES, QUEUE_PROVIDERS, FOLLOWUPS; {} takes every default.
    "DJANGO_HELPDESK": {},
    # Watch any ticket model's saves (helpdesk_sms.integrations.model_watcher): a dict of
    # TICKET_MODEL, ASSIGNEE_FIELD, TASK_MODEL, TASK_TICKET_FIELD; None watches nothing.
    "MODEL_WATCHER": None,
    # Names of extra plain values your code passes to notify() (or the signals) for
    # templates to use: a template naming any other unknown variable is refused when saved.
    "EXTRA_TEMPLATE_VARIABLES": (),
    # Threading a customer's SMS reply into a ticket (reply_threading.py, docs/replies.md):
    # a reply without a ticket reference goes to the open ticket we last texted that number
    # about, if that was within this many days.
    "REPLY_WINDOW_DAYS": 7,
    # A reply that matches no ticket opens a new django-helpdesk ticket in the queue with
    # slug REPLY_NEW_TICKET_QUEUE, when True; else it waits, unassigned, for a person.
    "REPLY_NEW_TICKETS": False,
    "REPLY_NEW_TICKET_QUEUE": None,
    # Fernet keys encrypting provider credentials at rest: the first encrypts, all decrypt
    # (rotation). A list, or one comma-separated string. Required unless DEBUG is on
    # (docs/security.md; `manage.py sms_credentials generate-key` makes one).
    "CREDENTIAL_KEYS": (),
    # Reply keywords (docs/replies.md): words a customer texts alone to opt out, opt in or ask
    # for help, added to the built-in English ones (consent.DEFAULT_KEYWORDS), e.g.
    # {"opt_out": ["AFMELDEN", "DAYANDIR"], "opt_in": ["AANMELDEN"], "help": ["HULP", "KÖMƏK"]}.
    # Matched alone in the message, ignoring case, accents and trailing punctuation.
    "KEYWORDS": {},
    # The confirmation texted back after an opt-out and after an opt-in ("": none), and the
    # answer to HELP when the provider sets no "help_reply" option of its own.
    "OPT_OUT_REPLY": "You will get no more texts from us. Reply START to get them again.",
    "OPT_IN_REPLY": "You will get our texts again. Reply STOP to stop them.",
    "HELP_REPLY": "Reply STOP to stop our texts, START to get them again.",
    # Offer the test-only gateways (console, in-memory) in the provider form and the template
    # preview even with DEBUG off. Providers already using one keep working either way.
    "ALLOW_TEST_GATEWAYS": False,
}


def get(name: str) -> Any:
    """The effective value of one setting (the host's value, else the default)."""
    if name not in DEFAULTS:
        raise KeyError(f"HELPDESK_SMS has no setting {name!r}")
    configured = getattr(django_settings, "HELPDESK_SMS", {})
    if not isinstance(configured, dict):
        raise ImproperlyConfigured(
            f"HELPDESK_SMS must be a dict, not a {type(configured).__name__}."
        )
    return configured.get(name, DEFAULTS[name])


def resolver(name: str) -> Any:
    """Import the callable a dotted-path setting names."""
    return import_string(get(name))
