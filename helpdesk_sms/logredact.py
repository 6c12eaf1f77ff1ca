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

#: Loggers known to write request URLs.
URL_LOGGERS = ("urllib3.connectionpool", "requests")


class RedactQuerySecrets(logging.Filter):
    """Replace ``apikey=…``/``password=…`` values in a record's text with ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = SECRET_IN_QUERY.sub(r"\1=***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install() -> None:
    """Attach the filter to the loggers that write URLs (idempotent)."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactQuerySecrets) for f in logger.filters):
            logger.addFilter(RedactQuerySecrets())
