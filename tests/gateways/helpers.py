"""What the gateway test files share: building batches and replaying a vendor's reply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from helpdesk_sms.gateways.base import Batch, Recipient
from helpdesk_sms.simulators.base import Simulator


def batch_maker(text: str, sender: str) -> Callable[..., Batch]:
    """``make_batch(*numbers, **fields)`` with this gateway's usual text and sender."""

    def make_batch(*numbers: str, **fields: Any) -> Batch:
        fields.setdefault("text", text)
        fields.setdefault("sender", sender)
        return Batch(recipients=[Recipient(i + 1, n) for i, n in enumerate(numbers)], **fields)

    return make_batch


def replay(sim: Simulator, body: str | bytes, times: int = 1) -> None:
    """The next request(s) are processed, but answered with ``body`` exactly."""
    sim.set_faults(body=body, times=times)
