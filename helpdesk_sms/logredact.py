"""Keep credentials out of third-party logs.

Query-string gateways carry the API key or password in the URL, and urllib3 logs every
request URL at DEBUG. This filter rewrites such records before any handler sees them.
"""

from __future__ import annotations

import logging
import re

SECRET_IN_QUERY = re.compile(
    r"(?i)\b([\w.-]*(?:api_?key|pass(?:word)?|pwd|secret|token)[\w.-]*)=[^&\s\"']*"
)

#: The secret segment of a delivery-report or inbound URL (``/callback/<provider>/<secret>/``,
#: ``/inbound/<provider>/<secret>/``).
SECRET_IN_CALLBACK_PATH = re.compile(r"(/(?:callback|inbound)/\d+/)[^/\s?\"']+")

#: Loggers known to write request URLs or paths.
URL_LOGGERS = ("urllib3.connectionpool", "requests", "django.server", "django.request")


class RedactQuerySecrets(logging.Filter):
    """Mask ``apikey=…``/``password=…`` values and callback-URL secrets in a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SECRET_IN_QUERY.sub(r"\1=***", message)
        redacted = SECRET_IN_CALLBACK_PATH.sub(r"\1***", redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install() -> None:
    """Attach the filter to the loggers that write URLs (idempotent)."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactQuerySecrets) for f in logger.filters):
            logger.addFilter(RedactQuerySecrets())
