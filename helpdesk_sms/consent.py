"""Consent: reply keywords (STOP, START, HELP…), the opt-out list, and suppression.

A customer who texts STOP (or a configured equivalent in their language) alone is put on
the opt-out list (:class:`~helpdesk_sms.consent_models.OptOut`); START takes them off; HELP
gets the provider's help text. Every actual change is audited once
(:class:`~helpdesk_sms.consent_models.ConsentChange`): a repeated STOP changes nothing and
writes nothing.

The list is applied before any row is queued: every path that writes messages to numbers
(notifications, ``send_sms``, group sends, re-sends) screens them here and writes a
message to a listed number as ``suppressed`` with the reason ``opted out`` (error category
``opted_out``), never queued. The one exception is the reply to the keyword itself
(:func:`send_reply`): the confirmation of a STOP goes out once, from the provider and
sender the customer texted.

Works on plain values (a number, a text, a provider), so the inbound processing calls
:func:`handle_keyword` and :func:`send_reply` without this module knowing its models.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import CharField, IntegerField, Q, QuerySet, Value
from django.utils import timezone

from . import conf
from .compose import Composer, creation_event
from .consent_models import (
    ERASED_PREFIX,
    HELP_REPLY_OPTION,
    REPLY_OPTIONS,
    ConsentChange,
    ConsentKind,
    ConsentSource,
    OptOut,
    pseudonym,
)
from .exceptions import InvalidRecipient, InvalidSender
from .kick import dispatch_on_commit
from .models import Audience, Contact, Event, Message, MessageEvent, Provider
from .phones import PhoneNumberError, normalize
from .states import PENDING, Priority, Source, Status
from .transitions import move_where

#: The kinds of keyword, as keys of the KEYWORDS setting.
OPT_OUT = ConsentKind.OPT_OUT.value
OPT_IN = ConsentKind.OPT_IN.value
HELP = "help"
KINDS = (OPT_OUT, OPT_IN, HELP)

#: The built-in keywords (English, plus STOPP, common in Scandinavia and the Netherlands).
#: Deliberately modest: CANCEL, END or QUIT alone may well be about the ticket, not consent.
#: HELPDESK_SMS["KEYWORDS"] adds each language's own.
DEFAULT_KEYWORDS: dict[str, tuple[str, ...]] = {
    OPT_OUT: ("STOP", "STOPP", "STOPALL", "UNSUBSCRIBE"),
    OPT_IN: ("START", "UNSTOP"),
    HELP: ("HELP",),
}

#: Where suppressed messages say why (``Message.error_category``).
OPTED_OUT_CATEGORY = "opted_out"

#: Numbers looked up by name in one query (SQLite's oldest limit is 999 parameters a
#: statement); more are read as a range (:func:`opted_out_numbers`).
NUMBERS_PER_QUERY = 450

#: Letters NFKD leaves alone that a keyboard without them gives as the plain one (Azerbaijani
#: "kömək" is typed "komek", Turkish "dayandır" "dayandir").
_FOLDS = str.maketrans({"ı": "i", "ə": "e", "ø": "o", "ł": "l", "đ": "d", "ß": "ss"})


def fold(text: str) -> str:
    """``text`` as keywords are compared: case, accents, inner spaces and surrounding
    punctuation ignored ("  Stop! " and "stop" alike; "KÖMƏK" and "kömək" alike)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_FOLDS)
    words = " ".join(plain.split())
    return words.strip("".join(c for c in set(words) if _is_punctuation(c)) + " ")


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith("P")


def keywords() -> dict[str, tuple[str, ...]]:
    """The keywords of each kind: the built-in ones and the KEYWORDS setting's, in order."""
    configured = conf.get("KEYWORDS") or {}
    merged = {}
    for kind in KINDS:
        extra = configured.get(kind, ()) if isinstance(configured, Mapping) else ()
        if not isinstance(extra, list | tuple):  # malformed: manage.py check says so
            extra = ()
        words = [*DEFAULT_KEYWORDS[kind], *(w for w in extra if isinstance(w, str))]
        merged[kind] = tuple(dict.fromkeys(words))
    return merged


def keyword_table() -> dict[str, str]:
    """Folded keyword -> kind. A word configured for two kinds opts out (the safe reading;
    ``manage.py check`` reports the clash)."""
    table: dict[str, str] = {}
    for kind in (HELP, OPT_IN, OPT_OUT):  # later kinds win a clash
        for word in keywords()[kind]:
            if fold(word):
                table[fold(word)] = kind
    return table


def match_keyword(text: str) -> str | None:
    """The kind of keyword ``text`` is (alone in the message), or None."""
    return keyword_table().get(fold(text or ""))


@dataclass(frozen=True)
class KeywordOutcome:
    """What a keyword did: its kind, the number, whether the list changed, the reply."""

    kind: str  # "opt_out", "opt_in" or "help"
    keyword: str  # as the customer typed it, trimmed
    number: str  # E.164
    changed: bool  # the opt-out list changed (False for HELP and for a repeat)
    reply: str  # the text to send back ("" for none)


def handle_keyword(
    number: str,
    text: str,
    provider: Provider | None,
    *,
    source: str = ConsentSource.REPLY,
) -> KeywordOutcome | None:
    """Apply the keyword ``text`` is, from ``number`` through ``provider``; None if it is none.

    STOP and its equivalents put the number on the opt-out list, START and its equivalents
    take it off (each audited once; a repeat changes nothing and has no reply, so two
    auto-responders cannot text each other forever); HELP changes nothing and is always
    answered. The reply is returned, not sent: pass the outcome to :func:`send_reply`.
    A ``number`` that is not a phone number raises InvalidRecipient (field ``number``).
    """
    kind = match_keyword(text)
    if kind is None:
        return None
    e164 = _number(number, provider)
    typed = " ".join(text.split())[:50]
    if kind == HELP:
        return KeywordOutcome(HELP, typed, e164, False, help_reply(provider))
    details: dict[str, Any] = {"keyword": typed, "provider": provider}
    if kind == OPT_OUT:
        changed = opt_out(e164, source, **details)
        reply = keyword_reply("opt_out_reply", provider)
    else:
        changed = opt_in(e164, source, **details)
        reply = keyword_reply("opt_in_reply", provider)
    return KeywordOutcome(kind, typed, e164, changed, reply if changed else "")


def help_reply(provider: Provider | None) -> str:
    """The provider's ``help_reply`` option, else the HELP_REPLY setting."""
    return keyword_reply(HELP_REPLY_OPTION, provider)


def keyword_reply(option: str, provider: Provider | None) -> str:
    """The provider's own reply ``option`` when it sets one (an empty one: no reply), else
    the setting it overrides (``REPLY_OPTIONS``)."""
    options = (provider.options or {}) if provider is not None else {}
    if option in options and option != HELP_REPLY_OPTION:
        return str(options[option] or "")
    return str(options.get(option) or conf.get(REPLY_OPTIONS[option]) or "")


def _number(number: str, provider: Provider | None) -> str:
    region = (provider.default_region or None) if provider is not None else None
    try:
        return normalize(number or "", region or conf.get("DEFAULT_REGION"))
    except PhoneNumberError as exc:
        raise InvalidRecipient(str(exc), field="number") from None


# -- the list ---------------------------------------------------------------------------


def opt_out(
    number: str,
    source: str = ConsentSource.API,
    *,
    user: Any = None,
    keyword: str = "",
    provider: Provider | None = None,
    note: str = "",
    at: datetime | None = None,
) -> bool:
    """Put ``number`` on the opt-out list; True when it was not on it (the change audited).

    The contacts with that number are marked opted out too. InvalidRecipient (field
    ``number``) for a number that is not a phone number.
    """
    e164 = _number(number, provider)
    at = at or timezone.now()
    with transaction.atomic():
        if OptOut.objects.filter(number=pseudonym(e164)).exists():
            return False  # listed, and erased on request since: keep it so
        _entry, created = OptOut.objects.get_or_create(
            number=e164,
            defaults=dict(
                opted_out_at=at, source=source, keyword=keyword, provider=provider, note=note
            ),
        )
        if not created:
            return False
        _audit(e164, ConsentKind.OPT_OUT, source, user, keyword, provider, note, at)
        Contact.objects.filter(phone=e164, opted_out=False).update(opted_out=True)
        withdraw_waiting(e164, Source.ADMIN if source == ConsentSource.ADMIN else Source.SYSTEM)
    return True


def withdraw_waiting(number: str, source: str) -> list[int]:
    """Suppress what still waits to go to ``number``: scheduled messages, and queued ones
    no dispatcher has claimed yet (a claimed one is already on its way). Without this, a
    message scheduled before the STOP (for later, or out of quiet hours) would still go
    out after it. Set-based; returns the pks suppressed."""
    reason = suppression_reason(number)
    waiting = Message.objects.filter(recipient=number)
    moved: list[int] = []
    for status in (Status.SCHEDULED, Status.QUEUED):
        moved += move_where(
            waiting.filter(status=status),
            status,
            Status.SUPPRESSED,
            source=source,
            note=reason,
            error_category=OPTED_OUT_CATEGORY,
            error_text=reason,
            next_attempt_at=None,
        )
    return moved


def opt_in(
    number: str,
    source: str = ConsentSource.API,
    *,
    user: Any = None,
    keyword: str = "",
    provider: Provider | None = None,
    note: str = "",
    at: datetime | None = None,
) -> bool:
    """Take ``number`` off the opt-out list; True when it was on it (the change audited).

    Its contacts are marked opted in again. ``number`` may be an entry erased on request
    (its :func:`pseudonym`, as the admin lists it): that entry is removed, audited as such.
    """
    e164 = number if number.startswith(ERASED_PREFIX) else _number(number, provider)
    with transaction.atomic():
        removed, _ = OptOut.objects.filter(number__in=(e164, pseudonym(e164))).delete()
        if not removed:
            return False
        _audit(e164, ConsentKind.OPT_IN, source, user, keyword, provider, note, at)
        Contact.objects.filter(phone=e164, opted_out=True).update(opted_out=False)
    return True


def _audit(
    number: str,
    change: str,
    source: str,
    user: Any,
    keyword: str,
    provider: Provider | None,
    note: str,
    at: datetime | None,
) -> ConsentChange:
    return ConsentChange.objects.create(
        number=number,
        change=change,
        source=source,
        keyword=keyword,
        provider=provider,
        by=user if user is not None and getattr(user, "pk", None) else None,
        at=at or timezone.now(),
        note=note,
    )


def matching(found: Iterable[str], wanted: Collection[str]) -> set[str]:
    """Those of the ``wanted`` numbers that the listed entries ``found`` name, in clear or
    as their :func:`pseudonym` (hashed only when an erased entry came back)."""
    found = set(found)
    listed = found & set(wanted)
    if any(entry.startswith(ERASED_PREFIX) for entry in found):
        listed |= {n for n in wanted if pseudonym(n) in found}
    return listed


def is_opted_out(number: str) -> bool:
    """Whether the (E.164) ``number`` is on the opt-out list (in clear or erased)."""
    return OptOut.objects.filter(number__in=(number, pseudonym(number))).exists()


def opted_out_numbers(numbers: Iterable[str]) -> set[str]:
    """Those of the (E.164) ``numbers`` on the opt-out list, in one query however many.

    Up to :data:`NUMBERS_PER_QUERY` numbers are looked up by name (each with its
    :func:`pseudonym`, for the entries erased on request); more read the listed numbers
    between the smallest and the largest of them, and the erased entries (three
    parameters, at most the list), and keep those asked about, so a send to 100,000
    numbers costs one read.
    """
    wanted = set(filter(None, numbers))
    if not wanted:
        return set()
    if len(wanted) <= NUMBERS_PER_QUERY:
        names = wanted | {pseudonym(n) for n in wanted}
        found = OptOut.objects.filter(number__in=names)
    else:
        found = _between(wanted)
    return matching(found.values_list("number", flat=True), wanted)


def listed_rows(numbers: Collection[str], marker: str) -> QuerySet[Any]:
    """Rows ``(number, marker, 0)`` for listed numbers between the smallest and the largest
    of ``numbers`` (exactly them for one number), and the entries erased on request: to
    share one statement (a UNION) with a count of the same shape, as notifications do,
    with three parameters however many numbers. The caller keeps those it asked about
    with :func:`matching`."""
    return (
        _between(numbers)
        .order_by()
        .annotate(kind=Value(marker, CharField()), zero=Value(0, IntegerField()))
        .values_list("number", "kind", "zero")
    )


def _between(numbers: Collection[str]) -> QuerySet[OptOut]:
    low, high = min(numbers), max(numbers)
    if low == high:
        return OptOut.objects.filter(number__in=(low, pseudonym(low)))
    erased = Q(number__startswith=ERASED_PREFIX)
    return OptOut.objects.filter(Q(number__gte=low, number__lte=high) | erased)


# -- suppression --------------------------------------------------------------------------


def suppression_reason(number: str) -> str:
    return f"opted out: {number} is on the opt-out list (it replied STOP, or an operator added it)"


def suppress(message: Message) -> str:
    """Mark the unsaved ``message`` suppressed as opted out; returns the reason."""
    reason = suppression_reason(message.recipient)
    message.status = Status.SUPPRESSED
    message.error_category = OPTED_OUT_CATEGORY
    message.error_text = reason
    message.next_attempt_at = None
    message.estimated_cost = None
    return reason


def screen(messages: Sequence[Message], listed: set[str] | None = None) -> dict[int, str]:
    """Suppress the unsaved ``messages`` to listed numbers (one query, or none when the
    caller read the list for a whole send already: ``listed``).

    Returns ``id(message) -> reason`` for those suppressed, so callers can note it on
    their first event.
    """
    pending = [m for m in messages if m.recipient and m.status in PENDING]
    if listed is None:
        listed = opted_out_numbers(m.recipient for m in pending)
    return {id(m): suppress(m) for m in pending if m.recipient in listed}


# -- the reply ----------------------------------------------------------------------------


def send_reply(
    outcome: KeywordOutcome,
    number: str,
    provider: Provider | None,
    sender: str | None,
) -> Message | None:
    """Queue the outcome's reply to ``number`` from the ``provider`` and ``sender`` the
    customer texted (sticky); None when there is nothing to say.

    Not screened by the opt-out list: the confirmation of a STOP is the one message a number
    gets after opting out (and HELP is always answered). Sent as critical, so a budget cap
    does not hold it. A ``sender`` the provider's gateway cannot send from (a long number on
    an alphanumeric-only gateway) falls back to the provider's default sender, and says so.
    """
    if not outcome.reply:
        return None
    note = f"reply to {outcome.keyword!r} ({outcome.kind}); not screened by the opt-out list"
    try:
        composer = Composer.start(provider=provider, sender=sender or None, body=outcome.reply)
    except InvalidSender as exc:
        composer = Composer.start(provider=provider, body=outcome.reply)
        note += f"; from the default sender: {exc}"
    message = composer.message(
        to=number,
        body=outcome.reply,
        event=Event.MANUAL,
        audience=Audience.CUSTOMER,
        priority=Priority.CRITICAL,
    )
    with transaction.atomic():
        message.save(force_insert=True)
        first = creation_event(message, note)
        first.source = Source.SYSTEM
        MessageEvent.objects.bulk_create([first])
    dispatch_on_commit()
    return message
