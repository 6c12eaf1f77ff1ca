"""What a template renders against: plain values read off the ticket once, nothing more.

The Django template language walks attributes, relations and managers and calls anything
callable, so a model instance in the context is a door to every table
(``{{ ticket.assigned_to.groups.all.0.user_set.values }}``). Here the ticket, the assignee
and the task are read *before* rendering into small frozen objects holding strings and
numbers, exactly the fields :mod:`template_variables` documents; a template can reach
nothing else, and rendering runs no query at all.

Integrations may hand over the values they know better (django-helpdesk's reference, queue
title and public URL) as plain keyword arguments of ``notify``; everything else is read
from the ticket by common field names.
"""

from __future__ import annotations

import datetime
import decimal
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise

logger = logging.getLogger(__name__)

#: Values a host may pass to templates as they are (anything else is dropped).
PLAIN_TYPES = (str, int, float, bool, decimal.Decimal, datetime.date, datetime.time, type(None))

_TITLE_FIELDS = ("title", "subject", "summary", "name")
_CUSTOMER_NAME_FIELDS = ("customer_name", "submitter_name", "requester_name", "contact_name")
_TEXT_FIELDS = ("comment", "text", "description", "body")


@dataclass(frozen=True, slots=True)
class TicketView:
    """The ticket as templates see it."""

    id: Any
    pk: Any
    reference: str
    title: str
    queue: str
    priority: str
    status: str
    url: str
    customer_name: str

    def __str__(self) -> str:
        return f"{self.reference} {self.title}".strip()


@dataclass(frozen=True, slots=True)
class PersonView:
    """The assigned agent as templates see them: names only."""

    name: str = ""
    first_name: str = ""

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task or follow-up as templates see it."""

    title: str = ""
    text: str = ""

    def __str__(self) -> str:
        return self.title


def text_of(value: Any) -> str:
    """``value`` as plain text ("" for None)."""
    if value is None:
        return ""
    return str(value)


def _plain_id(value: Any) -> Any:
    return value if isinstance(value, (int, str)) or value is None else str(value)


def _first_attribute(obj: Any, names: tuple[str, ...]) -> str:
    for name in names:
        value = getattr(obj, name, None)
        if isinstance(value, (str, Promise)) and str(value):
            return str(value)
    return ""


def _shown(ticket: Any, name: str) -> str:
    """How the host shows the ticket's ``name`` field: its choice label, related object's
    text, or value ("" when the ticket has no such field)."""
    display = getattr(ticket, f"get_{name}_display", None)
    if callable(display):
        return text_of(display())
    value = getattr(ticket, name, None)
    if callable(value):
        return ""
    return text_of(value)


def _url(ticket: Any) -> str:
    get_url = getattr(ticket, "get_absolute_url", None)
    return text_of(get_url()) if callable(get_url) else ""


def person_view(user: Any) -> PersonView:
    """The names of ``user`` (a Django user or any object), nothing else of theirs."""
    if user is None:
        return PersonView()
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    short = user.get_short_name() if hasattr(user, "get_short_name") else ""
    username = user.get_username() if hasattr(user, "get_username") else ""
    name = text_of(full).strip() or text_of(username) or text_of(user)
    return PersonView(name=name, first_name=text_of(short).strip() or name)


def task_view(task: Any) -> TaskView:
    """A task's or follow-up's title and text."""
    if task is None:
        return TaskView()
    title = _first_attribute(task, ("title", "subject", "name")) or text_of(task)
    return TaskView(title=title, text=_first_attribute(task, _TEXT_FIELDS))


def ticket_view(ticket: Any, given: Mapping[str, Any]) -> TicketView:
    """The ticket's documented fields: what the integration gave, else read off the ticket."""
    pk = _plain_id(given.get("ticket_id", getattr(ticket, "pk", None)))

    def pick(key: str, read: Any) -> str:
        return text_of(given[key]) if key in given else read()

    return TicketView(
        id=pk,
        pk=pk,
        reference=pick("ticket_ref", lambda: f"#{pk}"),
        title=pick("title", lambda: _first_attribute(ticket, _TITLE_FIELDS)),
        queue=pick("queue", lambda: _shown(ticket, "queue")),
        priority=pick("priority", lambda: _shown(ticket, "priority")),
        status=pick("status", lambda: _shown(ticket, "status")),
        url=pick("ticket_url", lambda: _url(ticket)),
        customer_name=pick(
            "customer_name", lambda: _first_attribute(ticket, _CUSTOMER_NAME_FIELDS)
        ),
    )


#: What the notification's own keyword arguments mean (never passed on as they are).
_OBJECT_KEYS = frozenset({"assignee", "task", "followup"})


def build(event: str, ticket: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """The context shared by every recipient of one event (add ``recipient_name`` to it).

    ``given`` is what ``notify`` was called with besides the ticket. Objects are turned into
    views; other plain values a host passes are kept under their own names; anything else
    (a model instance, a queryset, a callable) is dropped with a debug log.
    """
    view = ticket_view(ticket, given)
    assignee = given.get("assignee")
    if assignee is None:
        assignee = getattr(ticket, "assigned_to", None)
    person = person_view(assignee)
    task = given.get("task", given.get("followup"))
    task_info = task_view(task)
    context: dict[str, Any] = {}
    for key, value in given.items():
        if key in _OBJECT_KEYS:
            continue
        if isinstance(value, Promise):
            value = str(value)
        if isinstance(value, PLAIN_TYPES):
            context[key] = value
        else:
            logger.debug("helpdesk_sms: template variable %r dropped: not a plain value", key)
    context.update(
        ticket=view,
        ticket_id=view.id,
        ticket_ref=view.reference,
        title=view.title,
        queue=view.queue,
        priority=view.priority,
        status=view.status,
        ticket_url=view.url,
        customer_name=view.customer_name,
        submitter=text_of(given.get("submitter", "")),
        assignee=person,
        assignee_name=text_of(given.get("assignee_name", person.name)),
        event=str(event),
    )
    if task is not None or "followup_title" in given or "followup_comment" in given:
        title = text_of(given.get("followup_title", task_info.title))
        text = text_of(given.get("followup_comment", task_info.text))
        task_info = TaskView(title=title or task_info.title, text=text or task_info.text)
        context.update(
            task=task_info,
            followup=task_info,
            followup_title=title,
            followup_comment=text,
        )
    return context


def for_recipient(context: Mapping[str, Any], audience: str, name: str) -> dict[str, Any]:
    """``context`` with ``recipient_name``: the target's name, else the customer's name for a
    customer message (a ticket's customer has no name of their own beyond the ticket's)."""
    if not name and audience == "customer":
        name = context.get("customer_name", "")
    return {**context, "recipient_name": name}
