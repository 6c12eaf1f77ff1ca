"""The plain values of reply threading (reply_threading.py), apart so that the host
integrations it calls can name them without importing it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.db import models

from .models import Provider

How = Literal["reference", "last_texted", "new_ticket", "unassigned"]


@dataclass(frozen=True)
class Reply:
    """A customer's SMS, as plain values: who sent it, what, to which of our numbers."""

    number: str  # E.164
    text: str
    provider: Provider | None
    our_number: str
    received_at: datetime


@dataclass(frozen=True)
class TicketMatch:
    """Which ticket a reply belongs to, how that was decided, and why (for the operator)."""

    ticket: models.Model | None
    how: How
    detail: str


@dataclass(frozen=True)
class Delivered:
    """What :func:`deliver` did.

    ``record`` is the follow-up or REPLY_MODEL row holding the reply (None when the host
    keeps none); ``created`` is False when it was there already (the same reply delivered
    twice) or nothing was written; ``notified``: the addresses django-helpdesk e-mailed.
    """

    ticket: models.Model | None
    record: models.Model | None = None
    created: bool = False
    reopened: bool = False
    notified: tuple[str, ...] = ()
