"""Helpdesk events -> templates -> recipients -> rendered bodies -> Message rows.

Runs inside the host's transaction and never talks to a gateway. Every outcome is a row an
operator can see: a message queued, or one ``suppressed``/``failed`` with the reason (no
phone, invalid number, broken template). Each row carries an idempotency key built from
(event, ticket, template, audience, recipient, occurrence), so a repeated signal sends
nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import conf
from .compose import apply_smart_replace, compose
from .exceptions import InvalidRecipient, SmsInputError
from .kick import dispatch_on_commit
from .models import Audience, Event, Message, NotificationTemplate
from .rendering import TemplateRenderError, render
from .states import Status
from .transitions import record_creation

logger = logging.getLogger(__name__)


@dataclass
class Target:
    """One addressee of a template: a number (or provider-side group) and who they are."""

    key: str  # stable identity for the idempotency key
    phone: str | None = None
    name: str = ""
    missing_reason: str = ""  # why there is no number (suppressed with this reason)
    group: Any = None


def notify(
    event: str,
    ticket: Any,
    *,
    occurrence: str | None = None,
    provider: Any = None,
    **context: Any,
) -> list[Message]:
    """Create the messages ``event`` calls for on ``ticket``; returns the new ones.

    ``context`` is passed to the templates (e.g. ``assignee=user`` for ticket_assigned,
    ``task=task`` for task_added). ``occurrence`` distinguishes repeated events of the same
    kind on one ticket; by default the task's pk for task_added, else nothing.
    ``provider`` (a Provider or its name) sends through that provider the templates that
    name neither a provider nor a sender of their own (e.g. a provider per helpdesk queue).
    """
    event = Event(event)
    if occurrence is None:
        task = context.get("task")
        occurrence = f"task-{task.pk}" if task is not None and task.pk else ""
    ticket_type = ContentType.objects.get_for_model(ticket, for_concrete_model=False)
    templates = NotificationTemplate.objects.filter(event=event, is_active=True).select_related(
        "provider", "sender", "group"
    )
    created: list[Message] = []
    for template in templates:
        for target in _targets(template, ticket, context):
            key = ":".join(
                [
                    event,
                    str(ticket_type.pk),
                    str(ticket.pk),
                    str(template.pk),
                    template.audience,
                    target.key,
                    occurrence,
                ]
            )
            message = _create_once(
                key, template, target, ticket, ticket_type, event, context, provider
            )
            if message is not None:
                created.append(message)
    if any(m.status == Status.QUEUED for m in created):
        dispatch_on_commit()
    return created


def _targets(template: NotificationTemplate, ticket: Any, context: dict[str, Any]) -> list[Target]:
    if template.audience == Audience.CUSTOMER:
        phone = conf.resolver("CUSTOMER_PHONE_RESOLVER")(ticket)
        return [
            Target(
                key="customer",
                phone=phone,
                missing_reason="the ticket has no customer phone number",
            )
        ]
    if template.audience == Audience.ASSIGNEE:
        assignee = context.get("assignee") or getattr(ticket, "assigned_to", None)
        if assignee is None:
            return []
        phone = conf.resolver("AGENT_PHONE_RESOLVER")(assignee)
        name = assignee.get_full_name() if hasattr(assignee, "get_full_name") else str(assignee)
        return [
            Target(
                key=f"user:{assignee.pk}",
                phone=phone,
                name=name or str(assignee),
                missing_reason=f"agent {assignee} has no phone or has not opted in",
            )
        ]
    group = template.group
    if group is None:
        return []
    if group.provider_group_id:
        return [Target(key=f"group:{group.pk}", name=group.name, group=group)]
    return [
        Target(key=f"contact:{c.pk}", phone=c.phone, name=c.name)
        for c in group.members.filter(is_active=True, opted_out=False)
    ]


def _create_once(
    key: str,
    template: NotificationTemplate,
    target: Target,
    ticket: Any,
    ticket_type: ContentType,
    event: str,
    context: dict[str, Any],
    provider: Any = None,
) -> Message | None:
    if Message.objects.filter(idempotency_key=key).exists():
        return None
    fields = dict(
        idempotency_key=key,
        event=event,
        audience=template.audience,
        template=template,
        registered_template_id=template.registered_template_id,
        ticket_type=ticket_type,
        ticket_id=str(ticket.pk),
    )
    message, note = _build(template, target, ticket, event, context, fields, provider)
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not break the host's txn
            message.save()
            record_creation(message, note=note)
    except IntegrityError:
        return None  # a concurrent notify created it first
    if message.status in (Status.FAILED, Status.SUPPRESSED):
        logger.warning(
            "helpdesk_sms: %s message %s for %r: %s",
            message.status,
            message.pk,
            ticket,
            message.error_text,
        )
    return message


def _build(
    template: NotificationTemplate,
    target: Target,
    ticket: Any,
    event: str,
    context: dict[str, Any],
    fields: dict[str, Any],
    provider: Any = None,
) -> tuple[Message, str]:
    """The message to store and a note for its first event; never raises for bad input."""
    now = timezone.now()
    template_context = {
        **context,
        "ticket": ticket,
        "event": event,
        "recipient_name": target.name,
    }
    try:
        body = render(template.body, template_context)
    except TemplateRenderError as exc:
        return _unsent(Status.FAILED, "template", str(exc), target, fields, now), "not sent"
    body, replaced_note = apply_smart_replace(body, template.smart_replace or None)
    if target.group is None and not target.phone:
        return _unsent(
            Status.SUPPRESSED,
            "no_recipient",
            f"Not sent: {target.missing_reason}.",
            target,
            fields,
            now,
            body=body,
        ), "not sent"
    try:
        message = compose(
            to=target.phone,
            body=body,
            provider=template.provider or (None if template.sender else provider),
            sender=template.sender,
            group=target.group,
            now=now,
            **fields,
        )
    except InvalidRecipient as exc:
        return _unsent(
            Status.SUPPRESSED, "invalid_recipient", str(exc), target, fields, now, body=body
        ), "not sent"
    except SmsInputError as exc:
        return _unsent(
            Status.FAILED, "invalid_input", str(exc), target, fields, now, body=body
        ), "not sent"
    note = f"queued by template {template.name!r}"
    return message, "; ".join(filter(None, [note, replaced_note]))


def _unsent(
    status: str,
    category: str,
    reason: str,
    target: Target,
    fields: dict[str, Any],
    now: Any,
    body: str = "",
) -> Message:
    return Message(
        recipient=(target.phone or "")[:20],
        body=body,
        status=status,
        status_changed_at=now,
        error_category=category,
        error_text=reason,
        **fields,
    )
