"""Settings for ``make chaos``: the demo project's, with HELPDESK_SMS values from the env.

The app reads its knobs from the ``HELPDESK_SMS`` dict, which project/settings.py fills
from only a few variables. The chaos run needs short timeouts, leases and back-offs in
every process it starts (workers, web server, itself), so any scalar key the app knows
can be given as ``HELPDESK_SMS_<KEY>`` here. Keys the app does not know (yet) are
ignored, so the run works on older and newer engines alike.
"""

from __future__ import annotations

import os
from typing import Any

from helpdesk_sms.conf import DEFAULTS as _APP_DEFAULTS
from project.settings import *  # noqa: F403 - this module *is* the project's settings
from project.settings import CELERY_BROKER_URL
from project.settings import HELPDESK_SMS as _PROJECT_SMS

#: Keys project/settings.py already reads from the environment itself.
_READ_BY_PROJECT = frozenset({"DEFAULT_REGION", "DISPATCH"})


def _convert(raw: str, default: Any) -> Any:
    """The env text as the default's type (bool, int, float or str)."""
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(float(raw))
    if isinstance(default, float):
        return float(raw)
    return raw


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """``HELPDESK_SMS_<KEY>`` variables for scalar keys the app knows, converted."""
    environ = dict(os.environ if environ is None else environ)
    overrides: dict[str, Any] = {}
    for key, default in _APP_DEFAULTS.items():
        raw = environ.get(f"HELPDESK_SMS_{key}")
        if raw is None or key in _READ_BY_PROJECT:
            continue
        if default is None or isinstance(default, bool | int | float | str):
            overrides[key] = _convert(raw, default) if default is not None else raw
    return overrides


HELPDESK_SMS = {**_PROJECT_SMS, **env_overrides()}

# A frozen broker (the run SIGSTOPs its own Redis) must cost a publish seconds, not
# forever. Newer project settings say so themselves; only fill in what they leave out.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_timeout": 5,
        "socket_connect_timeout": 2,
        **globals().get("CELERY_BROKER_TRANSPORT_OPTIONS", {}),
    }
    CELERY_BROKER_CONNECTION_TIMEOUT = globals().get("CELERY_BROKER_CONNECTION_TIMEOUT", 2)

# The run's own processes log to files; INFO from every worker pass is what explains a
# message's path when the accounting finds a violation.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"helpdesk_sms": {"handlers": ["console"], "level": "INFO"}},
}
