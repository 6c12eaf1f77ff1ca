"""The public Python API for code that wants to send an SMS directly."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Any, overload

from django.db import IntegrityError, connections, transaction

from . import consent
from .compose import Composer, Composers, apply_smart_replace, compose, creation_event
from .dlt import check_against_pattern
from .exceptions import InvalidRecipient, SmsInputError
from .inputs import check_dlt, check_numbers, check_send_options, check_text
from .kick import dispatch_on_commit
from .models import Message, MessageEvent, Provider, RecipientGroup, SenderID
from .phones import country_of
from .states import Priority, Status

#: Messages built and inserted at a time: a send to 100,000 numbers never holds more
#: model instances than this (Django splits each chunk further where the database needs).
CHUNK_SIZE = 2000


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
    gateway_options: dict[str, str | int] | None = None,
    priority: str | None = None,
    registered_template_id: str | None = None,
    registered_entity_id: str | None = None,
    registered_pattern: str | None = None,
) -> Sequence[Message]:
    """Queue ``text`` to ``to`` (one number or several) or to a recipient ``group``.

    Returns the created messages (one per number; one for a provider-side group). Raises an
    :class:`~helpdesk_sms.exceptions.SmsInputError` subclass naming the field and the rule
    when any input is invalid, and then writes nothing. With ``idempotency_key``, a second
    call with the same key returns the first call's message instead of sending again.
    ``smart_replace`` swaps typographic characters for GSM look-alikes (default: the
    ``SMART_REPLACE`` setting); what it changed is noted on each message's first event.
    ``gateway_options`` sets the gateway's per-message options for these messages, overriding
    the provider's (Canlog: ``{"route": "22", "channel": "Promo"}``); a name the gateway does
    not take, or a value its provider does not allow, raises ``InvalidGatewayOption``.
    ``priority`` is ``"normal"`` (the default: held while a budget cap is reached) or
    ``"critical"`` (always sent); anything else raises ``InvalidPriority``.
    ``registered_template_id`` and ``registered_entity_id`` are India's DLT ids, sent by
    every gateway that takes them (else the sender's, then the provider's defaults);
    with ``registered_pattern`` (the text as registered, ``{#var#}`` for each value) a text
    that does not fit it raises ``DltMismatch`` (field ``text``) showing where they differ.
    A number on the opt-out list (:mod:`~helpdesk_sms.consent`) gets its message written
    ``suppressed`` (error category ``opted_out``), not queued.

    The text, provider and sender are checked once however many numbers there are; each
    number is then only normalized, and the rows go in with bulk inserts, a chunk at a
    time, so 10,000 numbers cost about what inserting 10,000 rows does.
    """
    numbers = check_numbers(to)
    check_text(text, "text")
    check_send_options(
        send_at=send_at,
        flash=flash,
        idempotency_key=idempotency_key,
        smart_replace=smart_replace,
        sender=sender,
        provider=provider,
        group=group,
        gateway_options=gateway_options,
        priority=priority,
    )
    check_dlt(registered_template_id, registered_entity_id, registered_pattern)
    text, replaced_note = apply_smart_replace(text, smart_replace)
    check_against_pattern(text, registered_pattern or "")  # the text as it would go out
    dlt_ids: dict[str, Any] = {
        "registered_template_id": registered_template_id or "",
        "registered_entity_id": registered_entity_id or "",
    }
    group_send: Message | None = None
    if group is not None:
        group = _resolve_group(group)
        if group.provider_group_id:
            group_send = compose(
                to=None,
                body=text,
                provider=provider or group.provider,
                sender=sender,
                send_at=send_at,
                flash=flash,
                group=group,
                gateway_options=gateway_options,
                priority=priority or Priority.NORMAL,
                **dlt_ids,
            )
        else:
            numbers += [c.phone for c in group.members.filter(is_active=True, opted_out=False)]
    if not numbers and group_send is None:
        raise InvalidRecipient("Give at least one phone number or a group with members.")
    composers: Composers | None = None
    recipients: list[tuple[Composer, str]] = []
    if numbers:
        composers = Composers(
            provider=provider,
            sender=sender,
            body=text,
            send_at=send_at,
            flash=flash,
            gateway_options=gateway_options,
        )
        recipients = [composers.for_number(number) for number in numbers]  # all, before any write
    if idempotency_key and len(recipients) + (group_send is not None) != 1:
        raise SmsInputError("An idempotency key needs exactly one recipient.", field="to")
    fields: dict[str, Any] = {"priority": priority or Priority.NORMAL, **dlt_ids}
    if idempotency_key:
        fields["idempotency_key"] = idempotency_key
    note = "; ".join(filter(None, ["queued through send_sms", replaced_note]))
    sent = SentMessages(composers.all if composers is not None else [], text, fields)
    listed = consent.opted_out_numbers(r for _c, r in recipients)  # one read for the send
    try:
        with transaction.atomic():
            if group_send is not None:
                group_send.idempotency_key = idempotency_key
                insert_messages([group_send], note)
                sent.keep(group_send)
            pairs = iter(recipients)
            while chunk := list(islice(pairs, CHUNK_SIZE)):
                messages = [c.message(recipient=r, body=text, **fields) for c, r in chunk]
                opted_out = consent.screen(messages, listed)  # suppressed, not queued
                notes = [
                    opted_out.get(id(m)) or _with_route(note, c)
                    for m, (c, _r) in zip(messages, chunk, strict=True)
                ]
                insert_messages(messages, notes)
                sent.add(messages, [c for c, _r in chunk])
    except IntegrityError:
        if idempotency_key:  # the first call with this key made it: return its message
            return list(Message.objects.filter(idempotency_key=idempotency_key))
        raise
    dispatch_on_commit()
    return sent


def _with_route(note: str, composer: Composer) -> str:
    return "; ".join(filter(None, [note, composer.route_note]))


def insert_messages(messages: list[Message], note: str | Sequence[str]) -> None:
    """The messages and their first events, in bulk (one statement each, per batch).

    ``note`` is every first event's, or one per message (the route that chose each).
    """
    if connections[Message.objects.db].features.can_return_rows_from_bulk_insert:
        Message.objects.bulk_create(messages)
    else:  # a database that cannot number bulk-inserted rows: their events need the pks
        for message in messages:
            message.save()
    notes = [note] * len(messages) if isinstance(note, str) else note
    MessageEvent.objects.bulk_create(
        creation_event(message, text) for message, text in zip(messages, notes, strict=True)
    )


class SentMessages(Sequence[Message]):
    """The messages one ``send_sms`` made, kept as compact rows, rebuilt on access.

    100,000 Message instances take about 190 MB; what tells them apart (pk, number,
    timestamps) a fraction of it. Every access builds a fresh instance, as a query would.
    """

    def __init__(self, composers: list[Composer], text: str, fields: dict[str, Any]) -> None:
        self._kept: list[Message] = []
        self._rows: list[tuple[int, str, datetime, datetime, int]] = []
        self._commons: list[dict[str, Any]] = []
        self._index: dict[int, int] = {}
        self._suppressed: dict[int, tuple[str, str]] = {}  # pk -> (category, reason)
        self._composers = composers
        for index, composer in enumerate(composers):
            # What the composer gives every message, read off one built like them.
            sample = composer.message(recipient="", body=text, **fields)
            self._commons.append(
                {
                    f.attname: getattr(sample, f.attname)
                    for f in Message._meta.concrete_fields
                    if f.attname
                    not in (
                        "id",
                        "recipient",
                        "country",
                        "created_at",
                        "updated_at",
                        "estimated_cost",
                    )
                }
            )
            self._index[id(composer)] = index

    def keep(self, message: Message) -> None:
        self._kept.append(message)

    def add(self, messages: Iterable[Message], composers: Iterable[Composer]) -> None:
        """Remember ``messages``, each made by the composer at the same place."""
        self._rows.extend(
            (m.pk, m.recipient, m.created_at, m.updated_at, self._index[id(c)])
            for m, c in zip(messages, composers, strict=True)
        )
        self._suppressed.update(
            (m.pk, (m.error_category, m.error_text))
            for m in messages
            if m.status == Status.SUPPRESSED
        )

    def _build(self, row: tuple[int, str, datetime, datetime, int]) -> Message:
        pk, recipient, created_at, updated_at, index = row
        composer = self._composers[index]
        message = Message(
            id=pk,
            recipient=recipient,
            created_at=created_at,
            updated_at=updated_at,
            **self._commons[index],
        )
        # Per number: a price per country makes two numbers' estimates differ.
        message.estimated_cost = composer.prices.estimate(message.parts, recipient)
        message.country = country_of(recipient)
        message.provider = composer.provider
        if pk in self._suppressed:  # to an opted-out number (consent.screen)
            message.error_category, message.error_text = self._suppressed[pk]
            message.status = Status.SUPPRESSED
            message.next_attempt_at = None
            message.estimated_cost = None
        message._state.adding = False
        message._state.db = Message.objects.db
        return message

    def __len__(self) -> int:
        return len(self._kept) + len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Message: ...

    @overload
    def __getitem__(self, index: slice) -> list[Message]: ...

    def __getitem__(self, index: int | slice) -> Message | list[Message]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("SentMessages index out of range")
        if index < len(self._kept):
            return self._kept[index]
        return self._build(self._rows[index - len(self._kept)])

    def __iter__(self) -> Iterator[Message]:
        yield from self._kept
        for row in self._rows:
            yield self._build(row)

    def __repr__(self) -> str:
        return f"<SentMessages: {len(self)} message(s)>"


def _resolve_group(group: RecipientGroup | str) -> RecipientGroup:
    if isinstance(group, RecipientGroup):
        return group
    found = RecipientGroup.objects.filter(name=group).first()
    if found is None:
        raise InvalidRecipient(f"Unknown recipient group {group!r}.", field="group")
    return found
