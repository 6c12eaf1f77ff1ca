"""The public Python API for code that wants to send an SMS directly."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction

from .compose import apply_smart_replace, compose
from .exceptions import InvalidRecipient, SmsInputError
from .kick import dispatch_on_commit
from .models import Message, Provider, RecipientGroup, SenderID
from .transitions import record_creation


def send_sms(
    to: str | Iterable[str] | None,
    text: str,
    *,
    provider: Provider | str | int | None = None,
    sender: SenderID | str | None = None,
    send_at: datetime | None = None,
    flash: bool = False,
    group: RecipientGroup | str | None = None,
    idempotency_key: str | None = None,
    smart_replace: bool | None = None,
) -> list[Message]:
    """Queue ``text`` to ``to`` (one number or several) or to a recipient ``group``.

    Returns the created messages (one per number; one for a provider-side group). Raises an
    :class:`~helpdesk_sms.exceptions.SmsInputError` subclass naming the field and the rule
    when any input is invalid, and then writes nothing. With ``idempotency_key``, a second
    call with the same key returns the first call's message instead of sending again.
    ``smart_replace`` swaps typographic characters for GSM look-alikes (default: the
    ``SMART_REPLACE`` setting); what it changed is noted on each message's first event.
    """
    text, replaced_note = apply_smart_replace(text, smart_replace)
    numbers = [to] if isinstance(to, str) else list(to or [])
    drafts: list[Message] = []
    if group is not None:
        group = _resolve_group(group)
        if group.provider_group_id:
            drafts.append(
                compose(
                    to=None,
                    body=text,
                    provider=provider or group.provider,
                    sender=sender,
                    send_at=send_at,
                    flash=flash,
                    group=group,
                )
            )
        else:
            numbers += [c.phone for c in group.members.filter(is_active=True, opted_out=False)]
    if not numbers and not drafts:
        raise InvalidRecipient("Give at least one phone number or a group with members.")
    drafts += [
        compose(
            to=number, body=text, provider=provider, sender=sender, send_at=send_at, flash=flash
        )
        for number in numbers
    ]
    if idempotency_key:
        if len(drafts) != 1:
            raise SmsInputError("An idempotency key needs exactly one recipient.", field="to")
        existing = Message.objects.filter(idempotency_key=idempotency_key).first()
        if existing:
            return [existing]
        drafts[0].idempotency_key = idempotency_key
    try:
        with transaction.atomic():
            for draft in drafts:
                draft.save()
                note = "; ".join(filter(None, ["queued through send_sms", replaced_note]))
                record_creation(draft, note=note)
    except IntegrityError:
        if idempotency_key:  # a concurrent call with the same key won
            return list(Message.objects.filter(idempotency_key=idempotency_key))
        raise
    dispatch_on_commit()
    return drafts


def _resolve_group(group: RecipientGroup | str) -> RecipientGroup:
    if isinstance(group, RecipientGroup):
        return group
    found = RecipientGroup.objects.filter(name=group).first()
    if found is None:
        raise InvalidRecipient(f"Unknown recipient group {group!r}.", field="group")
    return found
