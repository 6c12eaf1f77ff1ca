"""Helpdesk events -> templates -> recipients -> rendered bodies -> Message rows.

Runs inside the host's transaction and never talks to a gateway. Every outcome is a row an
operator can see: a message queued, or one ``suppressed``/``failed`` with the reason (no
phone, invalid number, broken template). Each row carries an idempotency key built from
(event, ticket, template, audience, recipient, occurrence), so a repeated signal sends
nothing twice.

It runs on the host's save path, so it is frugal there (docs/architecture.md, "The
ticket-save path"): the event's templates in one query, each provider and sender resolved
once per call, every row built in memory, then one bulk insert of the messages and one of
their first events; the events of one save (a ticket created already assigned) share all
of that (:func:`one_pass`). The unique idempotency key is what stops a repeat: there is no
lookup before the insert, a conflict rolls the insert back and only then are the keys
already there looked up. All of it runs in one savepoint when the host is in a
transaction, so a failure of ours never aborts the host's.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from . import conf, consent, quiet_hours, signals, template_context
from .compose import Composer, Composers, apply_smart_replace, creation_event, resolve_provider
from .country_profiles import CountryProfile, RegisteredTemplateRequired
from .dlt import DltMismatch, check_against_pattern
from .exceptions import InvalidRecipient, SmsInputError
from .inputs import check_notify_arguments
from .kick import dispatch_on_commit
from .models import Audience, Event, Message, MessageEvent, NotificationTemplate, Provider
from .phones import country_of
from .rendering import TemplateRenderError, render
from .routing import RouteTable
from .savepoints import host_transaction_lost, inside_host_transaction
from .states import PENDING, Status
from .sticky import StickyRoute, StickyRoutes, TicketKey

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Tries of the slow path after a conflict (each try loses only to a concurrent notify).
CONFLICT_TRIES = 3


@dataclass
class Target:
    """One addressee of a template: a number (or provider-side group) and who they are."""

    key: str  # stable identity for the idempotency key
    phone: str | None = None
    name: str = ""
    missing_reason: str = ""  # why there is no number (suppressed with this reason)
    group: Any = None


@dataclass
class Draft:
    """A message built in memory and the note for its first event."""

    message: Message
    note: str
    ticket: Any = None  # for the log
    profile: CountryProfile | None = None  # its country profile: default quiet hours


@dataclass
class Request:
    """One event to announce: what ``notify`` was called with."""

    event: str
    ticket: Any
    occurrence: str
    provider: Any
    context: dict[str, Any]
    _template_context: dict[str, Any] | None = None
    ticket_zone: str | None = None  # read once, when a template keeps quiet hours

    def template_context(self) -> dict[str, Any]:
        """The plain values templates see, read off the ticket once for all recipients."""
        if self._template_context is None:
            try:
                built = template_context.build(self.event, self.ticket, self.context)
            except Exception as exc:  # a host's property raised: the template cannot render
                raise TemplateRenderError(
                    f"The ticket could not be read for the template: {type(exc).__name__}: {exc}"
                ) from None
            self._template_context = built
        return self._template_context


#: The requests collected by the innermost :func:`one_pass` (None: notify runs at once).
_pending: ContextVar[list[Request] | None] = ContextVar("helpdesk_sms_pending", default=None)


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
    Inside :func:`one_pass` the event waits for the pass and this returns ``[]``.
    Arguments of the wrong kind raise :class:`SmsInputError` naming them; nothing is written.
    """
    check_notify_arguments(event, ticket, occurrence, provider)
    event = Event(event)
    if occurrence is None:
        task = context.get("task")
        occurrence = f"task-{task.pk}" if task is not None and task.pk else ""
    request = Request(event, ticket, occurrence, provider, context)
    pending = _pending.get()
    if pending is not None:
        pending.append(request)
        return []
    return _run([request])


@contextlib.contextmanager
def one_pass() -> Iterator[None]:
    """Announce the events notified inside together, when the block ends; never raises.

    For the events of one save (a ticket created already assigned): one template query for
    all of them, each provider resolved once, one insert of all their messages. A failure
    of the pass is not theirs alone to bear: each event is then tried on its own, so one
    that fails (a resolver raising, say) does not keep the others from being sent.
    """
    if _pending.get() is not None:  # inside another pass: that one announces them
        yield
        return
    pending: list[Request] = []
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
    if not pending:
        return
    try:
        _run(pending)
        return
    except Exception:
        if host_transaction_lost():
            raise  # the host's own transaction is gone: never pretend it saved
        if len(pending) == 1:
            _log_failure(pending[0])
            return
        logger.debug("helpdesk_sms: one pass failed; announcing each event alone", exc_info=True)
    for request in pending:
        try:
            _run([request])
        except Exception:
            if host_transaction_lost():
                raise
            _log_failure(request)


def _log_failure(request: Request) -> None:
    logger.exception("helpdesk_sms: %s notification for %r failed", request.event, request.ticket)


def _run(requests: Sequence[Request]) -> list[Message]:
    """Build and insert the messages of ``requests``: their reads and writes in one savepoint."""
    drafts: list[Draft] = []
    try:
        with inside_host_transaction():
            drafts = _drafts(requests)
            _insert(drafts)
        created = [draft.message for draft in drafts]
    except IntegrityError:  # some of these keys are there already: a repeated event
        created = _insert_missing(drafts)
    inserted = {id(message) for message in created}
    for draft in drafts:
        message = draft.message
        if id(message) in inserted and message.status in (Status.FAILED, Status.SUPPRESSED):
            logger.warning(
                "helpdesk_sms: %s message %s for %r: %s",
                message.status,
                message.pk,
                draft.ticket,
                message.error_text,
            )
    if any(m.status == Status.QUEUED for m in created):
        dispatch_on_commit()
    if created:
        announce_created(created)
    return created


def announce_created(created: list[Message]) -> None:
    """Tell listeners (the admin's save feedback) what was written; never raises."""
    signals.send_robustly(
        signals.notification_messages_created,
        "notification_messages_created",
        Message,
        messages=created,
    )


def _drafts(requests: Sequence[Request]) -> list[Draft]:
    """Every message the requests call for, unsaved: all the reads of one pass are here."""
    templates: dict[str, list[NotificationTemplate]] = {}
    for template in NotificationTemplate.objects.filter(
        event__in={r.event for r in requests}, is_active=True
    ).select_related("provider__default_sender", "sender", "group"):
        templates.setdefault(template.event, []).append(template)
    routes = Routes()
    now = timezone.now()
    routes.sticky = StickyRoutes.load(_sticky_keys(requests, templates))
    drafts = []
    for request in requests:
        if not templates.get(request.event):
            continue
        ticket = request.ticket
        ticket_type = ContentType.objects.get_for_model(ticket, for_concrete_model=False)
        for template in templates[request.event]:
            for target in _targets(template, ticket, request.context):
                key = ":".join(
                    [
                        request.event,
                        str(ticket_type.pk),
                        str(ticket.pk),
                        str(template.pk),
                        template.audience,
                        target.key,
                        request.occurrence,
                    ]
                )
                fields = dict(
                    idempotency_key=key,
                    event=request.event,
                    audience=template.audience,
                    template=template,
                    registered_template_id=template.registered_template_id,
                    registered_entity_id=template.registered_entity_id,
                    priority=template.priority,
                    ticket_type=ticket_type,
                    ticket_id=str(ticket.pk),
                )
                draft = _build(template, target, request, fields, routes, now)
                draft.ticket = ticket
                _keep_quiet_hours(draft, template, request, now)
                drafts.append(draft)
    _limit_per_number(drafts, now)
    return drafts


def _keep_quiet_hours(
    draft: Draft, template: NotificationTemplate, request: Request, now: datetime
) -> None:
    """Schedule the draft for its window's opening when it is due inside quiet hours.

    A window that cannot be read (a setting ``manage.py check`` reports) holds nothing:
    the message goes as it would without quiet hours, rather than not at all.
    """
    try:
        window = quiet_hours.template_window(template, draft.profile)
        if window is None:
            return
        by_profile = quiet_hours.template_window(template) is None  # only the profile's
    except ValueError as exc:
        logger.warning("helpdesk_sms: quiet hours ignored: %s", exc)
        return
    if request.ticket_zone is None:
        request.ticket_zone = quiet_hours.ticket_zone(request.ticket) or ""
    note = quiet_hours.apply(
        draft.message, template, now, ticket_tz=request.ticket_zone or None, profile=draft.profile
    )
    if note and by_profile and draft.profile is not None:
        note += f" (the {draft.profile.name} country profile's default)"
    if note:
        draft.note = "; ".join(filter(None, [note, draft.note]))


def sticks(template: NotificationTemplate) -> bool:
    """Whether the template's messages keep the customer's last sender (see sticky.py)."""
    return template.audience == Audience.CUSTOMER and not (
        template.provider_id or template.sender_id
    )


def _sticky_keys(
    requests: Sequence[Request], templates: dict[str, list[NotificationTemplate]]
) -> list[TicketKey]:
    """The tickets whose customer the pass texts through a routed template.

    A ticket being created has had no message yet: it costs no query (the save path's
    budget, docs/architecture.md). The rest are read together, in one query per pass.
    """
    keys = []
    for request in requests:
        if request.event == Event.TICKET_CREATED or request.ticket.pk is None:
            continue
        if any(sticks(t) for t in templates.get(request.event, ())):
            ticket_type = ContentType.objects.get_for_model(
                request.ticket, for_concrete_model=False
            )
            keys.append((ticket_type.pk, str(request.ticket.pk)))
    return keys


#: Statuses of messages that never reached the number: not counted by the hourly limit.
NOT_SENT = (Status.SUPPRESSED, Status.FAILED, Status.CANCELED)


def hourly_limit(template: NotificationTemplate) -> int:
    """The template's messages per number per hour (its own, else the setting for its
    audience: agents take many more assignments an hour than a customer gets updates); 0:
    none."""
    if template.hourly_limit_per_number is not None:
        return template.hourly_limit_per_number
    if template.audience == Audience.ASSIGNEE:
        return int(conf.get("AGENT_HOURLY_LIMIT") or 0)
    return int(conf.get("NUMBER_HOURLY_LIMIT") or 0)


def _limit_per_number(drafts: Sequence[Draft], now: datetime) -> None:
    """Suppress the drafts to opted-out numbers, then those over their number's hourly
    limit for their event.

    Both are read in one statement for all the numbers and events of the pass (one per
    :data:`NUMBERS_PER_COUNT` numbers): the numbers on the opt-out
    list, UNION the last hour's messages to the same numbers for the same events, except
    those that never went out (``NOT_SENT``); then each draft to send counts too, in order.
    Not locked: two saves at the same instant may both pass (a limit against loops, not an
    exact quota).
    """
    pending = [d for d in drafts if d.message.recipient and d.message.status in PENDING]
    if not pending:
        return
    limited = [
        (draft, template, limit)
        for draft in pending
        if (template := draft.message.template) is not None and (limit := hourly_limit(template))
    ]
    events = {d.message.event for d, _, _ in limited}
    numbers = sorted({d.message.recipient for d in pending})
    listed: set[str] = set()
    counts: Counter[tuple[str, str]] = Counter()
    for start in range(0, len(numbers), NUMBERS_PER_COUNT):
        chunk = numbers[start : start + NUMBERS_PER_COUNT]
        rows = consent.listed_rows(chunk, LISTED)
        if limited:
            rows = _recent_counts(chunk, events, now).union(rows, all=True)
        entries = []
        for recipient, event, sent in rows:
            if event == LISTED:  # a range, and erased entries: keep the pass's own numbers
                entries.append(recipient)
            else:
                counts[(recipient, event)] = sent
        listed |= consent.matching(entries, chunk)
    for draft in pending:
        if draft.message.recipient in listed:
            draft.note = consent.suppress(draft.message)
    for draft, template, limit in limited:
        message = draft.message
        if message.status not in PENDING:
            continue
        key = (message.recipient, message.event)
        if counts[key] < limit:
            counts[key] += 1
            continue
        reason = (
            f"suppressed: {message.recipient} already had {counts[key]} {message.event} "
            f"messages in the last hour (limit {limit}, template {template.name!r})"
        )
        message.status = Status.SUPPRESSED
        message.error_category = "rate_limited"
        message.error_text = reason
        message.next_attempt_at = None
        draft.note = reason


#: Numbers per query of the hourly count: one query for any event but a group of thousands,
#: within SQLite's oldest limit of 999 parameters a statement (the opt-out rows sharing the
#: statement take two: a range).
NUMBERS_PER_COUNT = 900

#: The "event" of the opt-out rows in the shared statement: no event is named so.
LISTED = "~opted-out"


def _recent_counts(numbers: Sequence[str], events: set[str], now: datetime) -> Any:
    """``(recipient, event, count)`` of the last hour's messages that went out."""
    return (
        Message.objects.filter(
            recipient__in=numbers, event__in=events, created_at__gt=now - timedelta(hours=1)
        )
        .exclude(status__in=NOT_SENT)
        .order_by()
        .values_list("recipient", "event")
        .annotate(sent=Count("pk"))
    )


def _insert(drafts: Sequence[Draft]) -> None:
    """The drafts' messages and their first events: two statements, however many there are.

    In autocommit this is a transaction of its own (a message never lacks its first event);
    in the host's transaction it joins the caller's savepoint rather than nesting another.
    An IntegrityError leaves it to that savepoint to roll back.
    """
    if not drafts:
        return
    with transaction.atomic(savepoint=False):
        Message.objects.bulk_create([draft.message for draft in drafts])
        MessageEvent.objects.bulk_create(
            [creation_event(draft.message, draft.note) for draft in drafts]
        )


def _insert_missing(drafts: Sequence[Draft]) -> list[Message]:
    """After a conflict: insert the drafts whose keys are not there yet, and return them.

    Rare (a repeated event, or one racing another), so it may cost a lookup. A concurrent
    notify can still win between the lookup and the insert; then look again.
    """
    keys = [draft.message.idempotency_key for draft in drafts]
    for _ in range(CONFLICT_TRIES):
        for draft in drafts:  # the failed insert may have numbered some of them
            draft.message.pk = None
            draft.message._state.adding = True
        try:
            with inside_host_transaction():
                existing = set(
                    Message.objects.filter(idempotency_key__in=keys).values_list(
                        "idempotency_key", flat=True
                    )
                )
                missing = [d for d in drafts if d.message.idempotency_key not in existing]
                _insert(missing)
            return [draft.message for draft in missing]
        except IntegrityError:
            continue
    logger.warning("helpdesk_sms: gave up inserting %s after repeated conflicts", keys)
    return []


def remembered(store: dict[Any, Any], key: Any, make: Callable[[], T]) -> T:
    """``make()`` once per ``key``; an input error it raised is kept and raised again."""
    found = store.get(key)
    if found is None:
        try:
            found = make()
        except SmsInputError as exc:
            found = exc
        store[key] = found
    if isinstance(found, SmsInputError):
        raise found
    return cast(T, found)


class Routes:
    """Providers and senders resolved once per pass, however many templates and targets.

    A resolution that fails is kept too: every message it concerns fails with that reason.
    """

    def __init__(self) -> None:
        self._providers: dict[Any, Provider | SmsInputError] = {}
        self._composers: dict[Any, Composer | SmsInputError] = {}
        self._pools: dict[Any, Composers | SmsInputError] = {}
        self._table: RouteTable | None = None
        self.sticky = StickyRoutes()

    def for_target(
        self,
        template: NotificationTemplate,
        default: Any,
        now: Any,
        target: Target,
        ticket: TicketKey | None = None,
    ) -> tuple[Composer, str | None]:
        """The composer for ``target`` and the number to give it (E.164 once routed).

        A customer keeps the provider and sender they last heard from about ``ticket``
        (sticky.py), unless the template names its own. Else the template's own provider
        or sender, else ``default`` (notify's), pins the provider; else the number's route
        chooses, as in ``send_sms`` (one read per pass).
        """
        sticky = (
            self.sticky.route_for(ticket, target.phone)
            if ticket is not None and target.group is None and sticks(template)
            else None
        )
        if sticky is not None:
            composer = self._sticky_composer(template, sticky, now)
            if composer is not None:
                return composer, sticky.recipient
        provider = template.provider or (None if template.sender else default)
        if provider is None and template.sender is None and target.group is None:
            pool = self._pool(self._key(template, provider), template, now)
            return pool.for_number(target.phone)
        return self.composer(template, default, now), target.phone

    def composer(self, template: NotificationTemplate, default: Any, now: Any) -> Composer:
        """The template's provider/sender, else ``default`` (notify's), else the preferred."""
        provider = template.provider or (None if template.sender else default)
        return remembered(
            self._composers,
            self._key(template, provider),
            lambda: Composer.start(
                provider=self._provider(provider),
                sender=template.sender,
                now=now,
                gateway_options=template.gateway_options or {},
            ),
        )

    def _sticky_composer(
        self, template: NotificationTemplate, sticky: StickyRoute, now: Any
    ) -> Composer | None:
        """The composer of a sticky route; None when it no longer composes (a sender
        since refused, say): then the message is routed as if there were none."""
        key = ("sticky", sticky.provider.pk, sticky.sender, self._key(template, None)[2])

        def start() -> Composer:
            composer = Composer.start(
                provider=sticky.provider,
                sender=sticky.sender or None,
                now=now,
                gateway_options=template.gateway_options or {},
            )
            composer.note = (
                f"sticky sender: {sticky.recipient} last heard from {sticky.provider.name} "
                f"({composer.route.sender}) about this ticket"
            )
            return composer

        try:
            return remembered(self._composers, key, start)
        except SmsInputError:
            return None

    def _key(self, template: NotificationTemplate, provider: Any) -> Any:
        options = template.gateway_options or {}
        return (
            self._provider_key(provider),
            template.sender_id,
            tuple(sorted((str(k), str(v)) for k, v in options.items()))
            if isinstance(options, dict)
            else repr(options),
        )

    def _pool(self, key: Any, template: NotificationTemplate, now: Any) -> Composers:
        """The routed composers for templates sharing ``key`` (a failure kept as well)."""
        if self._table is None:
            self._table = RouteTable.load()
        table = self._table
        return remembered(
            self._pools,
            key,
            lambda: Composers(
                sender=template.sender,
                now=now,
                gateway_options=template.gateway_options or {},
                table=table,
            ),
        )

    @staticmethod
    def _provider_key(provider: Any) -> Any:
        return ("pk", provider.pk) if isinstance(provider, Provider) else ("name", provider)

    def _provider(self, provider: Any) -> Provider:
        """A Provider for a name or None (one lookup each); an instance as it is."""
        if isinstance(provider, Provider):
            return provider
        key = self._provider_key(provider)
        return remembered(self._providers, key, lambda: resolve_provider(provider))


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


def _build(
    template: NotificationTemplate,
    target: Target,
    request: Request,
    fields: dict[str, Any],
    routes: Routes,
    now: Any,
) -> Draft:
    """The message to store and a note for its first event; never raises for bad input."""
    try:
        context = template_context.for_recipient(
            request.template_context(), template.audience, target.name
        )
        body = render(template.body, context)
    except TemplateRenderError as exc:
        return Draft(_unsent(Status.FAILED, "template", str(exc), target, fields, now), "not sent")
    body, replaced_note = apply_smart_replace(body, template.smart_replace or None)
    try:
        check_against_pattern(body, template.registered_pattern)
    except DltMismatch as exc:  # the operator would drop it: never queued
        return Draft(
            _unsent(Status.SUPPRESSED, "content_rejected", str(exc), target, fields, now, body),
            "not sent",
        )
    if target.group is None and not target.phone:
        reason = f"Not sent: {target.missing_reason}."
        unsent = _unsent(Status.SUPPRESSED, "no_recipient", reason, target, fields, now, body)
        return Draft(unsent, "not sent")
    try:
        ticket_key = (fields["ticket_type"].pk, fields["ticket_id"])
        composer, to = routes.for_target(template, request.provider, now, target, ticket_key)
        message = composer.message(to=to, body=body, group=target.group, **fields)
    except InvalidRecipient as exc:
        unsent = _unsent(
            Status.SUPPRESSED, "invalid_recipient", str(exc), target, fields, now, body
        )
        return Draft(unsent, "not sent")
    except RegisteredTemplateRequired as exc:  # the operator would drop it: never queued
        unsent = _unsent(Status.SUPPRESSED, "content_rejected", str(exc), target, fields, now, body)
        return Draft(unsent, "not sent")
    except SmsInputError as exc:
        unsent = _unsent(Status.FAILED, "invalid_input", str(exc), target, fields, now, body)
        return Draft(unsent, "not sent")
    note = f"from template {template.name!r}"
    notes = "; ".join(filter(None, [note, replaced_note, composer.route_note]))
    return Draft(message, notes, profile=composer.profile)


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
        country=country_of(target.phone or ""),
        body=body,
        status=status,
        status_changed_at=now,
        error_category=category,
        error_text=reason,
        **fields,
    )
