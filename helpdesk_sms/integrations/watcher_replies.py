"""A customer's SMS reply on the model watcher's ticket: its REPLY_MODEL row, its openness.

``HELPDESK_SMS["MODEL_WATCHER"]`` may name a ``REPLY_MODEL`` (``app_label.Model``): each
reply threaded onto one of its tickets becomes a new row, ``REPLY_TICKET_FIELD`` (default
"ticket") the ticket, ``REPLY_TEXT_FIELD`` (default "text") the text and, if named,
``REPLY_NUMBER_FIELD`` the number. The row is marked :data:`~.model_watcher.INBOUND_REPLY`:
when REPLY_MODEL is also the TASK_MODEL, its save is no ``task_added`` that would text the
customer back.

Whether a ticket is open (for the last-texted rule) is ``OPEN_FIELD`` (a field, property or
method of the ticket) compared with ``OPEN_VALUES``, or its truth when OPEN_VALUES is None;
without OPEN_FIELD every ticket is open.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.db import models

from ..reply_values import Delivered, Reply
from .model_watcher import INBOUND_REPLY, watcher_settings

logger = logging.getLogger(__name__)


def _watched(ticket: Any) -> dict[str, Any] | None:
    """The watcher's settings when ``ticket`` is of its TICKET_MODEL, else None."""
    config = watcher_settings()
    if config is None or not config.get("TICKET_MODEL"):
        return None
    label = str(config["TICKET_MODEL"]).lower()
    return config if ticket._meta.concrete_model._meta.label_lower == label else None


def is_open(ticket: Any) -> bool:
    """OPEN_FIELD against OPEN_VALUES for the watcher's tickets; any other ticket is open."""
    config = _watched(ticket)
    if config is None or not config["OPEN_FIELD"]:
        return True
    value = getattr(ticket, str(config["OPEN_FIELD"]))
    if callable(value):
        value = value()
    values = config["OPEN_VALUES"]
    return bool(value) if values is None else value in values


def _fit(model: type[models.Model], name: str, value: str) -> str:
    """``value`` cut to the field's max_length (a task title, say), with a log line."""
    limit = getattr(model._meta.get_field(name), "max_length", None)
    if limit and len(value) > limit:
        logger.info("helpdesk_sms: reply cut to %s.%s's %s characters", model.__name__, name, limit)
        return value[: limit - 1] + "…"
    return value


def reply_row(ticket: Any, reply: Reply) -> Delivered:
    """A new REPLY_MODEL row for the reply; nothing when no REPLY_MODEL is configured."""
    config = _watched(ticket)
    if config is None or not config["REPLY_MODEL"]:
        return Delivered(ticket)
    model = apps.get_model(str(config["REPLY_MODEL"]))
    text_field = str(config["REPLY_TEXT_FIELD"])
    values: dict[str, Any] = {
        str(config["REPLY_TICKET_FIELD"]): ticket,
        text_field: _fit(model, text_field, reply.text),
    }
    if config["REPLY_NUMBER_FIELD"]:
        number_field = str(config["REPLY_NUMBER_FIELD"])
        values[number_field] = _fit(model, number_field, reply.number)
    row = model(**values)
    row.__dict__[INBOUND_REPLY] = True
    row.save()
    return Delivered(ticket, row, created=True)
