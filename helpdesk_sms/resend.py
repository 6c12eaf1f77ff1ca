"""Send a suppressed message again once its cause is fixed: as a new, linked message.

``suppressed`` is final in the state table, and a message's row is the record of what was
decided at the time (the number it had, the reason), so a re-send never moves it: it writes
a *new* message (``resend_of`` points back), composed and checked like any other, to the
number the recipient has *now*, and notes the link on the original's timeline. Its
idempotency key (``resend-of:<pk>``) lets a suppressed message be replaced once, however
many operators click or corrections arrive at the same time.

Two callers: the admin's "Re-send" action (:func:`resend`, source ``admin``) and a
corrected customer number (:func:`customer_number_changed`, source ``system``), which
sends the ticket's suppressed acknowledgement to the new number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import conf, consent, dlt
from .compose import Composer, Composers, creation_event
from .exceptions import SmsInputError
from .kick import dispatch_on_commit
from .models import Audience, Contact, Event, Message, MessageEvent
from .notifications import Routes, Target, announce_created
from .savepoints import host_transaction_lost, inside_host_transaction
from .states import Source, Status

logger = logging.getLogger(__name__)

#: Why a message was suppressed that a corrected number fixes.
NUMBER_REASONS = ("no_recipient", "invalid_recipient")


class ResendRefused(Exception):
    """The message cannot be re-sent (yet); the text says why and what to fix."""


@dataclass(frozen=True)
class Addressee:
    """Where a re-send goes now: the number, and who it is for the notes."""

    phone: str
    who: str


def resend_key(original: Message) -> str:
    return f"resend-of:{original.pk}"


def resend(
    original: Message,
    *,
    source: str = Source.ADMIN,
    note: str = "",
    to: str | None = None,
    provider: Any = None,
) -> Message:
    """A new queued message replacing the suppressed ``original``; ResendRefused otherwise.

    The number is looked up again (the ticket's customer number, the agent's profile, the
    contact), unless ``to`` gives it; everything is checked again by the composer (number,
    opt-out, provider, sender, text). Nothing is written when it is refused.
    ``provider`` is the default route for a template without one (notify's ``provider``).
    """
    _check_resendable(original)
    addressee = Addressee(to, "") if to else _addressee(original)
    now = timezone.now()
    try:
        composer, number = _composer(original, provider, now, addressee.phone)
        message = composer.message(
            to=number,
            body=original.body,
            idempotency_key=resend_key(original),
            event=original.event,
            audience=original.audience,
            template_id=original.template_id,
            registered_template_id=original.registered_template_id,
            registered_entity_id=original.registered_entity_id,
            priority=original.priority,
            ticket_type_id=original.ticket_type_id,
            ticket_id=original.ticket_id,
            resend_of=original,
        )
    except SmsInputError as exc:
        raise ResendRefused(f"still not sendable: {exc}") from None
    if consent.is_opted_out(message.recipient):
        raise ResendRefused(
            f"{message.recipient} is on the opt-out list: it is texted nothing until it "
            "opts in again (replies START, or an operator opts it in)"
        )
    try:
        with transaction.atomic():
            message.save(force_insert=True)
            said = note or f"re-send of suppressed message #{original.pk}"
            first = creation_event(message, "; ".join(filter(None, [said, composer.route_note])))
            first.source = source
            first.save()
            MessageEvent.objects.create(
                message=original,
                from_status=original.status,
                to_status=original.status,
                source=source,
                note=f"re-sent as message #{message.pk} to {message.recipient}",
                data={"resent_as": message.pk},
                created_at=now,
            )
    except IntegrityError:  # someone re-sent it a moment ago
        raise ResendRefused(_already_resent(original)) from None
    dispatch_on_commit()
    return message


def _check_resendable(original: Message) -> None:
    if original.status != Status.SUPPRESSED:
        raise ResendRefused(
            f"it is {original.get_status_display()}, not suppressed (only a suppressed message "
            "is re-sent; a failed one is retried)"
        )
    if original.is_test:
        raise ResendRefused("it was a test send: the gateway checked it and sent nothing")
    if original.purged_at is not None:
        raise ResendRefused(
            "its text and number were erased (retention); nothing is left to re-send"
        )
    if not original.body.strip():
        raise ResendRefused("it has no text to send")
    if Message.objects.filter(resend_of=original).exists():
        raise ResendRefused(_already_resent(original))
    template = original.template
    try:  # the same text again: refused while its template's registered text says otherwise
        dlt.check_against_pattern(original.body, template.registered_pattern if template else "")
    except dlt.DltMismatch as exc:
        raise ResendRefused(f"still not sendable: {exc}") from None


def _already_resent(original: Message) -> str:
    done = Message.objects.filter(resend_of=original).values_list("pk", flat=True).first()
    return f"it was already re-sent as message #{done}" if done else "it was already re-sent"


def _composer(original: Message, provider: Any, now: Any, phone: str) -> tuple[Composer, str]:
    """The composer for the re-send and its number, chosen as a first send's would be.

    The template's provider or sender, else the provider the original had (or ``provider``),
    pins it; an original that never had one (suppressed before any provider was chosen)
    takes the number's route, as notify and send_sms do.
    """
    template = original.template
    pinned = provider or original.provider
    if template is not None:
        composer, number = Routes().for_target(template, pinned, now, Target(key="", phone=phone))
        return composer, number or phone
    composers = Composers(
        provider=pinned,
        sender=original.sender or None,
        now=now,
        gateway_options=original.gateway_options or None,
    )
    return composers.for_number(phone)


def _addressee(original: Message) -> Addressee:
    """The number the original's recipient has now, or ResendRefused saying what is missing."""
    target = _target(original.idempotency_key or "")
    if original.audience == Audience.CUSTOMER and original.ticket_type_id:
        ticket = original.ticket
        if ticket is None:
            raise ResendRefused(f"ticket {original.ticket_id} no longer exists")
        phone = conf.resolver("CUSTOMER_PHONE_RESOLVER")(ticket)
        if not phone:
            raise ResendRefused("the ticket still has no customer phone number")
        return Addressee(str(phone), "the customer")
    if original.audience == Audience.ASSIGNEE and target[0] == "user":
        user = get_user_model()._default_manager.filter(pk=target[1]).first()
        if user is None:
            raise ResendRefused("the agent no longer exists")
        phone = conf.resolver("AGENT_PHONE_RESOLVER")(user)
        if not phone:
            raise ResendRefused(f"agent {user} still has no phone or has not opted in")
        return Addressee(str(phone), f"agent {user}")
    if target[0] == "contact":
        contact = Contact.objects.filter(pk=target[1]).first()
        if contact is None:
            raise ResendRefused("the contact no longer exists")
        if contact.opted_out or not contact.is_active:
            raise ResendRefused(f"contact {contact} has opted out or is inactive")
        return Addressee(contact.phone, f"contact {contact}")
    if not original.recipient:
        raise ResendRefused("it has no recipient to send to")
    return Addressee(original.recipient, original.recipient)


def _target(key: str) -> tuple[str, str]:
    """("user" or "contact", pk) from notify's key (``…:audience:user:<pk>:occurrence``)."""
    parts = key.split(":")
    if len(parts) >= 7 and parts[5] in ("user", "contact"):
        return parts[5], parts[6]
    return "", ""


def customer_number_changed(ticket: Any, *, provider: Any = None) -> list[Message]:
    """Send the ticket's suppressed acknowledgement to its corrected number, once.

    For hosts whose customer number the integrations cannot see change (a resolver of their
    own): call it after saving the new number. Only acknowledgements suppressed for want of
    a valid number are re-sent, and only those never re-sent before; it never raises into
    the caller's save (errors are logged), and runs in a savepoint of its own.
    """
    try:
        with inside_host_transaction():
            return _resend_acknowledgements(ticket, provider)
    except Exception:
        if host_transaction_lost():
            raise
        logger.exception("helpdesk_sms: acknowledgement of %r not re-sent", ticket)
        return []


def _resend_acknowledgements(ticket: Any, provider: Any) -> list[Message]:
    from django.contrib.contenttypes.models import ContentType

    ticket_type = ContentType.objects.get_for_model(ticket, for_concrete_model=False)
    suppressed = Message.objects.filter(
        ticket_type=ticket_type,
        ticket_id=str(ticket.pk),
        event=Event.TICKET_CREATED,
        audience=Audience.CUSTOMER,
        status=Status.SUPPRESSED,
        error_category__in=NUMBER_REASONS,
        resends__isnull=True,
    ).select_related("template__provider__default_sender", "template__sender")
    sent = []
    for original in suppressed:
        original.ticket = ticket  # no second read of the ticket
        try:
            sent.append(
                resend(
                    original,
                    source=Source.SYSTEM,
                    note=f"the customer's number was corrected; replaces suppressed "
                    f"message #{original.pk}",
                    provider=provider,
                )
            )
        except ResendRefused as exc:
            logger.info("helpdesk_sms: message %s not re-sent: %s", original.pk, exc)
    if sent:
        announce_created(sent)  # the save's feedback says where the acknowledgement went
    return sent
