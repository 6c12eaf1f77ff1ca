"""django-helpdesk-sms: SMS notifications for Django helpdesks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .models import Message

__all__ = ["send_sms"]


def send_sms(to: Any, text: str, **kwargs: Any) -> Sequence[Message]:
    """Queue an SMS to one number (or several); see :func:`helpdesk_sms.api.send_sms`."""
    from .api import send_sms as _send_sms

    return _send_sms(to, text, **kwargs)
