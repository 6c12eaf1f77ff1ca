"""A development gateway that writes each SMS to the log instead of sending it.

Like Django's console e-mail backend: choose it for a site that should send nothing.
"""

from __future__ import annotations

import itertools
import logging

from .base import Batch, Capability, Gateway, RecipientResult, SendOutcome

logger = logging.getLogger("helpdesk_sms.console")
_ids = itertools.count(1)


class ConsoleGateway(Gateway):
    name = "console"
    verbose_name = "Console (log only)"
    capabilities = frozenset({Capability.UNICODE, Capability.FLASH, Capability.BULK})
    max_numbers_per_request = 100

    def send(self, batch: Batch) -> SendOutcome:
        results = []
        for recipient in batch.recipients:
            message_id = f"console-{next(_ids)}"
            logger.info(
                "SMS %s from %r to %s%s: %s",
                message_id,
                batch.sender,
                recipient.number,
                " (flash)" if batch.flash else "",
                batch.text,
            )
            results.append(
                RecipientResult(ref=recipient.ref, accepted=True, provider_message_id=message_id)
            )
        return SendOutcome(results=results, request={"numbers": len(batch.recipients)})
