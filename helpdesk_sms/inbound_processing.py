"""What a newly received customer SMS leads to: the one hook the receiving code calls.

Receiving (``inbound``) stores each SMS once and calls :func:`process` for a new one only.
This default keeps every reply for a human (``unassigned``: no ticket matched) and sends
``sms_received``; keyword handling (consent) and ticket threading replace its body.
"""

from __future__ import annotations

from typing import Any

from .inbound_models import InboundAction, InboundMessage
from .signals import send_robustly, sms_received


def process(message: InboundMessage) -> None:
    """Decide what ``message`` means, record it on the row, and tell listeners."""
    ticket: Any = None
    message.action = InboundAction.UNASSIGNED
    message.action_detail = "no ticket matched"
    message.save(update_fields=["action", "action_detail"])
    send_robustly(sms_received, "sms_received", InboundMessage, message=message, ticket=ticket)
