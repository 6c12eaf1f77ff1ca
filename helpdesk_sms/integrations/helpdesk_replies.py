"""A customer's SMS reply on a django-helpdesk ticket, as django-helpdesk takes an e-mail one.

Modelled on django-helpdesk 2.6's e-mail import (``helpdesk.email``,
``create_object_from_email_message``): the reply is a public follow-up with no user (that
is, from the submitter), a closed ticket is reopened when django-helpdesk would reopen it
for an e-mail (``HELPDESK_EMAIL_REOPEN_STATUSES``, by default closed only: a resolved
ticket stays resolved, with the reply on it), and django-helpdesk's own templates e-mail
the owner (``updated_owner``) and the queue's CC (``updated_cc``, if the queue notifies on
e-mail events), then ``update_ticket_done`` is sent as for an e-mail. The submitter is not
e-mailed a copy of their own SMS.

The follow-up is marked :data:`~.model_watcher.INBOUND_REPLY`, so our own follow-up
acknowledgement (``task_added``) does not text the customer their words back.

Imported only where django-helpdesk is installed and the integration enabled; every
helpdesk import is inside the functions.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils.translation import gettext as _

from ..reply_values import Delivered, Reply
from . import django_helpdesk
from .model_watcher import INBOUND_REPLY

logger = logging.getLogger(__name__)

#: The longest title made from an SMS for a new ticket (django-helpdesk allows 200).
TITLE_LENGTH = 80


def is_open(ticket: Any) -> bool:
    """Neither closed nor a duplicate: django-helpdesk's open statuses and resolved."""
    from helpdesk import settings as helpdesk_settings

    statuses = (*helpdesk_settings.TICKET_OPEN_STATUSES, ticket.RESOLVED_STATUS)
    return ticket.status in statuses


def merged_into(ticket: Any) -> Any:
    """The ticket ``ticket`` was merged into (followed to the end), else itself."""
    seen = {ticket.pk}
    while ticket.merged_to_id is not None and ticket.merged_to_id not in seen:
        seen.add(ticket.merged_to_id)
        ticket = ticket.merged_to
    return ticket


def has_slug(ticket: Any, slug: str) -> bool:
    """Whether a ``slug-123`` reference names ``ticket``'s queue (only helpdesk tickets)."""
    if not django_helpdesk.is_helpdesk_ticket(ticket) or not ticket.queue_id:
        return False
    return str(ticket.queue.slug).lower() == slug.lower()


def new_ticket_problem(slug: Any) -> str:
    """Why a reply cannot open a ticket in queue ``slug`` now ("" when it can)."""
    if not django_helpdesk.is_enabled():
        return "REPLY_NEW_TICKETS needs the django-helpdesk integration"
    if not slug:
        return "REPLY_NEW_TICKET_QUEUE names no queue"
    from helpdesk.models import Queue

    if not Queue.objects.filter(slug=slug).exists():
        return f"REPLY_NEW_TICKET_QUEUE {slug!r} is not the slug of a django-helpdesk queue"
    return ""


def title_of(text: str) -> str:
    """A ticket title from an SMS: its first line, whitespace tidied, cut at a word."""
    line = " ".join((text or "").strip().splitlines()[0].split()) if text.strip() else ""
    if len(line) <= TITLE_LENGTH:
        return line or _("SMS without text")
    return line[: TITLE_LENGTH - 1].rsplit(" ", 1)[0] + "…"


def follow_up(ticket: Any, reply: Reply, key: str, *, new: bool = False) -> Delivered:
    """The reply as a public follow-up from the submitter (once per reply: ``key``)."""
    from helpdesk import settings as helpdesk_settings
    from helpdesk.models import FollowUp

    existing = FollowUp.objects.filter(ticket=ticket, message_id=key).first()
    if existing is not None:
        return Delivered(ticket, existing)
    reopened = False
    if not new and ticket.status in helpdesk_settings.EMAIL_REOPEN_STATUSES:
        ticket.status = ticket.REOPENED_STATUS
        ticket.save()
        reopened = True
    followup = FollowUp(
        ticket=ticket,
        title=_("SMS received from %(number)s") % {"number": reply.number},
        date=reply.received_at,
        public=True,
        user=None,
        comment=reply.text,
        message_id=key,
    )
    if reopened:
        followup.new_status = ticket.REOPENED_STATUS
        followup.title = _("Ticket re-opened by SMS from %(number)s") % {"number": reply.number}
    followup.__dict__[INBOUND_REPLY] = True
    followup.save()
    notified = _notify(ticket, followup, new)
    followup.email_recipients = sorted(notified)
    followup.save(update_fields=["email_recipients"])
    _send_done(ticket, followup, new)
    return Delivered(ticket, followup, created=True, reopened=reopened, notified=tuple(notified))


def _notify(ticket: Any, followup: Any, new: bool) -> set[str]:
    """django-helpdesk's own e-mails for this follow-up, as for an e-mail reply."""
    from helpdesk.lib import safe_template_context

    context = safe_template_context(ticket)
    sent_to: set[str] = set()
    if new:
        roles = {"new_ticket_cc": ("newticket_cc", context)}
    else:
        context.update(comment=followup.comment)
        roles = {"assigned_to": ("updated_owner", context)}
        if ticket.queue.enable_notifications_on_email_events:
            roles["ticket_cc"] = ("updated_cc", context)
    ticket.send(roles, sent_to=sent_to, fail_silently=True)
    return sent_to


def _send_done(ticket: Any, followup: Any, new: bool) -> None:
    """django-helpdesk's own signals (its webhooks listen), as its e-mail import sends."""
    from helpdesk.signals import new_ticket_done, update_ticket_done

    if new:
        new_ticket_done.send(sender="helpdesk_sms.reply", ticket=ticket)
    else:
        update_ticket_done.send(sender="helpdesk_sms.reply", followup=followup)


def new_ticket(reply: Reply, key: str) -> Delivered:
    """A ticket opened by an SMS that matched none, in REPLY_NEW_TICKET_QUEUE.

    The number goes into the PHONE_FIELD custom field, where the integration reads the
    customer's phone: the usual acknowledgement (ticket_created) texts them the new
    ticket's reference, and their next reply threads onto it. Delivering the same reply
    again finds the ticket it opened.
    """
    from helpdesk.models import CustomField, FollowUp, Queue, Ticket, TicketCustomFieldValue

    from .. import conf

    existing = FollowUp.objects.filter(message_id=key).select_related("ticket").first()
    if existing is not None:
        return Delivered(existing.ticket, existing)
    queue = Queue.objects.get(slug=conf.get("REPLY_NEW_TICKET_QUEUE"))
    ticket = Ticket.objects.create(
        title=title_of(reply.text),
        queue=queue,
        description=reply.text,
        submitter_email="",
    )
    field = CustomField.objects.filter(
        name=django_helpdesk.helpdesk_settings()["PHONE_FIELD"]
    ).first()
    if field is not None:
        TicketCustomFieldValue.objects.create(ticket=ticket, field=field, value=reply.number)
    else:
        logger.warning(
            "helpdesk_sms: ticket %s from %s: no custom field %r to keep the number in",
            ticket.pk,
            reply.number,
            django_helpdesk.helpdesk_settings()["PHONE_FIELD"],
        )
    return follow_up(ticket, reply, key, new=True)
