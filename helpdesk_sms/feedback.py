"""Tell the staff user whose save made SMS what became of each of them.

The host's ticket admin (or django-helpdesk's staff form) is not ours, so this listens to
``notification_messages_created``, which ``notify()`` sends after writing an event's
messages, and finds the user through the request :class:`CurrentRequestMiddleware`
remembers. The lines ("SMS queued to +91…", "No SMS to the customer: … (suppressed)") are
added with ``django.contrib.messages`` once the save commits, so a save that is rolled back
reports nothing, and a django-helpdesk creation announced at the commit still reports to
the same request.

It never makes a save fail or wait: it reads nothing from the database while the host's
transaction is open, and every error is logged, not raised. Only staff users are told (a
customer submitting django-helpdesk's public form must not see the agents' numbers).
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages as django_messages
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.translation import gettext as _

from .integrations.posted_fields import current_request
from .models import Audience, Message
from .signals import notification_messages_created
from .states import Status

logger = logging.getLogger(__name__)

#: Lines shown for one request at most; the rest are summed up in one more.
MAX_LINES = 8
#: Where the request keeps the messages created while it is served.
PENDING = "_helpdesk_sms_feedback"


@receiver(notification_messages_created, dispatch_uid="helpdesk_sms_save_feedback")
def collect(sender: Any, messages: list[Message], **kwargs: Any) -> None:
    """Remember the new messages on the current request; report them after the commit."""
    request = current_request()
    if request is None:
        return
    pending: list[Message] | None = getattr(request, PENDING, None)
    if pending is not None:  # a report is already waiting for the commit
        pending.extend(messages)
        return
    setattr(request, PENDING, list(messages))
    # The messages are the host's transaction's: reported only if it commits (in
    # autocommit on_commit reports at once, so the list must be in place first).
    transaction.on_commit(lambda: report(request))


def report(request: HttpRequest) -> None:
    """Add one line per message (then a summary) to the request's messages; never raises."""
    try:
        pending: list[Message] = getattr(request, PENDING, None) or []
        setattr(request, PENDING, None)
        user = getattr(request, "user", None)
        if not pending or user is None or not (user.is_authenticated and user.is_staff):
            return
        for level, text in lines(pending):
            django_messages.add_message(request, level, text, fail_silently=True)
    except Exception:
        logger.exception("helpdesk_sms: the SMS feedback of a save could not be shown")


def lines(created: list[Message]) -> list[tuple[int, str]]:
    """(level, text) for each message, the first MAX_LINES of them, then how many more."""
    shown = [(_level(m), describe(m)) for m in created[:MAX_LINES]]
    rest = len(created) - MAX_LINES
    if rest > 0:
        queued = sum(m.status in (Status.QUEUED, Status.SCHEDULED) for m in created[MAX_LINES:])
        shown.append(
            (
                django_messages.INFO,
                _("…and %(rest)d more SMS (%(queued)d of them queued): see the message log.")
                % {"rest": rest, "queued": queued},
            )
        )
    return shown


def describe(message: Message) -> str:
    """One message's outcome in a sentence an operator can act on."""
    what = _what(message)
    if message.status in (Status.QUEUED, Status.SCHEDULED):
        to = message.recipient or (str(message.group) if message.group is not None else "")
        verb = _("SMS queued") if message.status == Status.QUEUED else _("SMS scheduled")
        return _("%(verb)s to %(to)s (%(what)s), message #%(pk)s.") % {
            "verb": verb,
            "to": to,
            "what": what,
            "pk": message.pk,
        }
    reason = _reason(message)
    if message.status == Status.SUPPRESSED:
        return _("No SMS to %(who)s: %(reason)s (suppressed, message #%(pk)s; %(what)s).") % {
            "who": _who(message),
            "reason": reason,
            "pk": message.pk,
            "what": what,
        }
    return _("SMS to %(who)s not sent: %(reason)s (%(status)s, message #%(pk)s; %(what)s).") % {
        "who": _who(message),
        "reason": reason,
        "status": message.get_status_display(),
        "pk": message.pk,
        "what": what,
    }


def _level(message: Message) -> int:
    if message.status in (Status.QUEUED, Status.SCHEDULED):
        return django_messages.SUCCESS
    if message.status == Status.SUPPRESSED:
        return django_messages.WARNING
    return django_messages.ERROR


def _who(message: Message) -> str:
    if message.audience == Audience.CUSTOMER:
        return _("the customer")
    if message.audience == Audience.ASSIGNEE:
        return _("the agent")
    return message.recipient or _("a group member")


def _what(message: Message) -> str:
    """Which notification: the template's name (in memory: notify built it with the row)."""
    template = message.template if message.template_id else None
    event = message.get_event_display()
    if template is None:
        return str(event)
    return _("%(event)s, template “%(name)s”") % {"event": event, "name": template.name}


def _reason(message: Message) -> str:
    """The stored reason, without the "Not sent:" and final stop a sentence adds back."""
    text = (message.error_text or message.error_category or _("no reason recorded")).strip()
    if text.lower().startswith("not sent:"):
        text = text[len("not sent:") :].strip()
    return text.rstrip(".")
