"""An in-memory gateway for tests: every batch is kept in ``MemoryGateway.outbox``.

Like Django's locmem e-mail backend: tests read what would have been sent, and can queue
errors for the next sends with ``MemoryGateway.fail_next``.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import ClassVar

from .base import (
    Balance,
    Batch,
    Capability,
    Gateway,
    GatewayError,
    RecipientResult,
    SendOutcome,
)

_ids = itertools.count(1)


class MemoryGateway(Gateway):
    name = "memory"
    verbose_name = "In-memory (tests)"
    capabilities = frozenset(
        {
            Capability.UNICODE,
            Capability.FLASH,
            Capability.BULK,
            Capability.SCHEDULE,
            Capability.GROUP,
            Capability.BALANCE,
        }
    )
    max_numbers_per_request = 50
    option_help: ClassVar[dict[str, str]] = {
        "scheduling": "'local' (default) or 'gateway'",
        "max_numbers": "numbers per request",
    }

    #: Every batch sent, in order. Tests clear it.
    outbox: ClassVar[list[Batch]] = []
    #: Errors raised by the next sends, first in first out.
    fail_next: ClassVar[list[GatewayError]] = []
    #: What balance() answers.
    balances: ClassVar[dict[str, Decimal]] = {"main": Decimal("1000")}

    def send(self, batch: Batch) -> SendOutcome:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.outbox.append(batch)
        job = f"job-{next(_ids)}"
        return SendOutcome(
            results=[
                RecipientResult(
                    ref=r.ref, accepted=True, provider_message_id=f"mem-{next(_ids)}", job_id=job
                )
                for r in batch.recipients
            ],
            request={"numbers": [r.number for r in batch.recipients], "text": batch.text},
        )

    def balance(self) -> list[Balance]:
        return [Balance(account, amount) for account, amount in self.balances.items()]

    @classmethod
    def reset(cls) -> None:
        cls.outbox.clear()
        cls.fail_next.clear()
        cls.balances.clear()
        cls.balances["main"] = Decimal("1000")
