"""An in-memory gateway for tests: every batch is kept in ``MemoryGateway.outbox``.

Like Django's locmem e-mail backend: tests read what would have been sent, and can queue
errors for the next sends with ``MemoryGateway.fail_next``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

from .base import (
    Balance,
    Batch,
    Capability,
    DeliveryReport,
    DeliveryStatus,
    ErrorCategory,
    Gateway,
    GatewayError,
    GroupMember,
    RecipientResult,
    ReportRef,
    SendOutcome,
)
from .inbound import INBOUND_OPTION_HELP

if TYPE_CHECKING:  # pragma: no cover
    from django.http import HttpRequest

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
            Capability.DLR_PUSH,
            Capability.CANCEL,
            Capability.INBOUND,
        }
    )
    max_numbers_per_request = 50
    option_help: ClassVar[dict[str, str]] = {
        "scheduling": "'local' (default) or 'gateway'",
        "max_numbers": "numbers per request",
        **INBOUND_OPTION_HELP,
    }

    #: Every batch sent, in order. Tests clear it.
    outbox: ClassVar[list[Batch]] = []
    #: Errors raised by the next sends, first in first out.
    fail_next: ClassVar[list[GatewayError]] = []
    #: Gateway-side groups: group id -> the numbers a group send reaches.
    groups: ClassVar[dict[str, list[str]]] = {"7": ["919812345601", "919812345602"]}
    #: Refs withdrawn through cancel(), in order.
    canceled: ClassVar[list[ReportRef]] = []
    #: What balance() answers.
    balances: ClassVar[dict[str, Decimal]] = {"main": Decimal("1000")}
    #: Called with each batch while its request is "in flight", first in first out: what
    #: another worker or the database does meanwhile (tests of the outbox's truthfulness).
    while_sending: ClassVar[list[Callable[[Batch], None]]] = []

    def send(self, batch: Batch) -> SendOutcome:
        if self.while_sending:
            self.while_sending.pop(0)(batch)
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.outbox.append(batch)
        job = f"job-{next(_ids)}"
        members = [
            GroupMember(number, f"mem-{next(_ids)}")
            for number in self.groups.get(batch.group_id, [])
        ]
        return SendOutcome(
            results=[
                RecipientResult(
                    ref=r.ref,
                    accepted=True,
                    provider_message_id=f"mem-{next(_ids)}",
                    job_id=job,
                    members=members if batch.group_id else [],
                )
                for r in batch.recipients
            ],
            request={"numbers": [r.number for r in batch.recipients], "text": batch.text},
        )

    def cancel(self, ref: ReportRef) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.canceled.append(ref)

    def balance(self) -> list[Balance]:
        return [Balance(account, amount) for account, amount in self.balances.items()]

    def parse_callback(self, request: HttpRequest) -> list[DeliveryReport]:
        """A minimal push format for tests: ``id`` and ``status`` (delivered, undelivered…)."""
        data = request.POST if request.method == "POST" else request.GET
        try:
            status = DeliveryStatus(data.get("status", ""))
        except ValueError:
            raise GatewayError(
                ErrorCategory.INVALID_REQUEST, f"unknown status {data.get('status')!r}"
            ) from None
        if not data.get("id"):
            raise GatewayError(ErrorCategory.INVALID_REQUEST, "the report has no id")
        return [DeliveryReport(data["id"], status, raw=dict(data.items()))]

    @classmethod
    def reset(cls) -> None:
        cls.outbox.clear()
        cls.fail_next.clear()
        cls.canceled.clear()
        cls.while_sending.clear()
        cls.balances.clear()
        cls.balances["main"] = Decimal("1000")
