"""The outbox: claim due messages, submit them, record what the gateway said.

At most once, and the truth about every message:

* A pass *claims* due messages set-wise (``queued -> sending``, one ``UPDATE … RETURNING``
  per chunk, rows another worker holds skipped) under a claim token of its own.
* Just before a request goes out, one statement marks its messages' request as started.
  Until then the gateway cannot have them: a claim whose request never started (its worker
  died, or its pass ended in an error) goes back to ``queued``, never to ``unknown``.
* After the request only the gateway's answer decides, recorded for all its messages in
  one transaction: accepted, failed (refused), back to queued (provably not taken, retried
  with back-off) or unknown (may have been taken: never resent automatically). The
  request and answer are stored once, as a GatewayExchange.
* Only a message whose request started and never got an answer recorded (its worker died
  mid-request) is swept to ``unknown``, measured from the start of *its* request. An
  answer that arrives after that is still recorded.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from . import budget, conf, ratelimit
from .failover import FAILOVER_CATEGORIES, REROUTE_FIELDS, Failover, Reroute
from .gateways.base import (
    Batch,
    Capability,
    ErrorCategory,
    Gateway,
    GatewayError,
    Recipient,
    RecipientResult,
    ReportRef,
    SendOutcome,
)
from .health import CircuitBoard, cooldown
from .models import GatewayExchange, Message, MessageEvent, OptOut, Provider
from .phones import country_of
from .pricing import PriceList
from .states import Priority, Source, Status
from .transitions import Expr, Outcome, apply_outcomes, move, move_where, update_returning

logger = logging.getLogger(__name__)


@dataclass
class DispatchReport:
    """What one outbox pass did, for logs, the CLI and tests."""

    claimed: int = 0
    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    retrying: int = 0
    #: Moved on to the next provider of their route after a provable refusal or past an
    #: open circuit.
    rerouted: int = 0
    #: Claimed, then put back to wait without a request (an open circuit, no other provider).
    waiting: int = 0
    #: Claimed, then held back: sending them would go over a budget cap.
    held: int = 0
    #: Checked by the gateway in its test mode and not sent (suppressed, marked as tests).
    tested: int = 0
    released: int = 0
    requeued: int = 0
    stale: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        plural = "" if self.tested == 1 else "s"
        tested = f", {self.tested} test{plural} not sent" if self.tested else ""
        rerouted = f", {self.rerouted} to the next provider" if self.rerouted else ""
        if self.waiting:
            rerouted += f", {self.waiting} waiting"
        if self.held:
            rerouted += f", {self.held} held by a budget cap"
        return (
            f"claimed {self.claimed}: accepted {self.accepted}, failed {self.failed}, "
            f"unknown {self.unknown}, retrying {self.retrying}{rerouted}{tested}; released "
            f"{self.released} scheduled, {self.requeued} unsent claims queued again, "
            f"{self.stale} stale"
        )


class Claim:
    """One pass's hold on the messages it claimed: a token, and a lease it renews."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex
        self._renewed = time.monotonic()

    def renew_if_due(self) -> None:
        """Keep this pass's unsent claims from being taken back while it works through
        them: one statement at most every quarter lease."""
        lease = float(conf.get("CLAIM_LEASE"))
        if time.monotonic() - self._renewed < lease / 4:
            return
        Message.objects.filter(
            claim_token=self.token, status=Status.SENDING, request_started_at__isnull=True
        ).update(claimed_at=timezone.now())
        self._renewed = time.monotonic()

    def release(self) -> int:
        """Every message still claimed by this pass but never started: queued again."""
        return _requeue_unstarted(
            _unstarted().filter(claim_token=self.token),
            "claimed but never submitted (the pass stopped early): queued again",
        )


class Gateways:
    """One adapter, and so one kept-alive HTTP session, per provider for a whole pass."""

    def __init__(self) -> None:
        self._gateways: dict[int, Gateway] = {}

    def get(self, provider: Provider) -> Gateway:
        if provider.pk not in self._gateways:
            self._gateways[provider.pk] = provider.get_gateway()
        return self._gateways[provider.pk]

    def close(self) -> None:
        for gateway in self._gateways.values():
            gateway.close()
        self._gateways.clear()


def dispatch(*, limit: int | None = None, now: datetime | None = None) -> DispatchReport:
    """One full pass: sweep, then submit until nothing is due.

    ``now`` is the clock for what is due (tests move it forward); every claim and request
    is stamped with the real time it happened.
    """
    report = DispatchReport()
    due_at = now or timezone.now()
    report.released = release_scheduled(due_at)
    report.requeued = requeue_unsent_claims(due_at)
    report.stale = expire_stale_sending(due_at)
    batch_size = int(limit or conf.get("BATCH_SIZE"))
    claim_ = Claim()
    gateways = Gateways()
    circuits = CircuitBoard.load()
    failover = Failover(circuits=circuits)
    caps = budget.check(due_at)
    rate_deadline = time.monotonic() + RATE_WAIT_PER_PASS
    try:
        while True:
            held = caps.held_filter()
            claimed = claim(batch_size, now or timezone.now(), claim=claim_, exclude=held)
            if not claimed:
                break
            report.claimed += len(claimed)
            for provider, messages in _by_provider(claimed).items():
                for chunk in group_into_batches(provider, messages):
                    if not circuits.allows(provider):
                        divert(provider, chunk, report, claim=claim_, failover=failover)
                        continue
                    pending = within_budget(provider, chunk, caps, report, claim=claim_)
                    while pending:
                        batch, pending = within_rate(
                            provider, pending, report, claim=claim_, deadline=rate_deadline
                        )
                        if not batch:
                            continue
                        accepted = submit(
                            provider,
                            batch,
                            report,
                            claim=claim_,
                            gateway=gateways.get(provider),
                            failover=failover,
                            circuits=circuits,
                        )
                        _count_spend(caps, provider, accepted)
            if limit or len(claimed) < batch_size:
                break
    finally:
        gateways.close()
        _release_quietly(claim_)
        _alert_quietly(caps)
    if report.claimed:
        logger.info("helpdesk_sms outbox: %s", report)
    return report


def _alert_quietly(caps: budget.BudgetBoard) -> None:
    """After a pass, the budget alerts its sends called for; a database failure here (the
    pass may be ending because of one) is logged, and the next pass alerts instead."""
    try:
        budget.alert_crossings(caps)
    except DatabaseError as exc:
        logger.warning("helpdesk_sms: budget alerts left for the next pass (%s)", exc)


def _release_quietly(claim_: Claim) -> None:
    """After a pass, also one that failed: what it claimed and never sent is queued again.

    When the database is what failed, this fails too; the sweep then takes the claims back
    once their lease runs out.
    """
    try:
        claim_.release()
    except DatabaseError as exc:
        logger.warning("helpdesk_sms: unsent claims left for the sweep (%s)", exc)


def _column(name: str) -> str:
    field = Message._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column is not None
    return connection.ops.quote_name(field.column)


def _unstarted() -> Any:
    return Message.objects.filter(status=Status.SENDING, request_started_at__isnull=True)


def release_scheduled(now: datetime) -> int:
    """Locally scheduled messages whose time has come: ``scheduled -> queued``."""
    return len(
        move_where(
            Message.objects.filter(status=Status.SCHEDULED, send_at__lte=now),
            Status.SCHEDULED,
            Status.QUEUED,
            source=Source.SYSTEM,
            note="send time reached",
        )
    )


def requeue_unsent_claims(now: datetime) -> int:
    """Claims whose request never started and whose lease ran out: ``sending -> queued``.

    Their worker died (or its pass failed) before the request went out, so the gateway
    cannot have them: they are sent by the next pass, once.
    """
    cutoff = now - timedelta(seconds=float(conf.get("CLAIM_LEASE")))
    return _requeue_unstarted(
        _unstarted().filter(claimed_at__lt=cutoff),
        "claimed by a worker that stopped before submitting: queued again",
    )


def _requeue_unstarted(claims: Any, note: str) -> int:
    """``sending -> queued`` for claims whose request never started; their attempt, counted
    at the claim, is taken back (nothing was submitted)."""
    return len(
        move_where(
            claims,
            Status.SENDING,
            Status.QUEUED,
            source=Source.SYSTEM,
            note=note,
            claim_token="",
            attempts=Expr(_column("attempts") + " - 1"),
        )
    )


def expire_stale_sending(now: datetime) -> int:
    """Messages whose request started long ago and never got an answer become ``unknown``.

    Measured from the start of each message's own request, so a request still in flight
    (bounded by the connect and read timeouts) is never swept. The request may have reached
    the gateway, so resending could double it; a late answer still resolves it.
    """
    cutoff = now - timedelta(seconds=float(conf.get("STALE_SENDING_AFTER")))
    return len(
        move_where(
            Message.objects.filter(status=Status.SENDING, request_started_at__lt=cutoff),
            Status.SENDING,
            Status.UNKNOWN,
            source=Source.SYSTEM,
            note="its request started but no answer was recorded (the worker stopped); "
            "the gateway may have it: not resent",
            error_category=ErrorCategory.AMBIGUOUS.value,
            error_text="The worker stopped while submitting; the gateway may have the message.",
        )
    )


def claim(
    limit: int, now: datetime, *, claim: Claim | None = None, exclude: Q | None = None
) -> list[Message]:
    """Take up to ``limit`` due messages for this pass alone (``queued -> sending``);
    ``exclude`` leaves some out (those a budget cap holds).

    One ``UPDATE … RETURNING`` (attempt counted in it, rows locked by another worker
    skipped), one bulk insert of their events, one read of the rows.
    """
    claim = claim or Claim()
    stamp = timezone.now()
    with transaction.atomic():
        due = Message.objects.due(now)
        if exclude is not None:
            due = due.exclude(exclude)
        due = due.select_for_update(skip_locked=True).order_by("created_at", "pk")[:limit]
        mine = update_returning(
            due,
            {
                "status": Status.SENDING,
                "status_changed_at": stamp,
                "updated_at": stamp,
                "claim_token": claim.token,
                "claimed_at": stamp,
                "request_started_at": None,
                "attempts": Expr(_column("attempts") + " + 1"),
            },
            require={"status": Status.QUEUED},
        )
        if not mine:
            return []
        MessageEvent.objects.bulk_create(
            MessageEvent(
                message_id=pk,
                from_status=Status.QUEUED,
                to_status=Status.SENDING,
                source=Source.SEND,
                note="claimed by the outbox",
                created_at=stamp,
            )
            for pk in mine
        )
    return list(
        Message.objects.filter(pk__in=mine)
        .select_related("provider", "group")
        .order_by("created_at", "pk")
    )


def _by_provider(messages: Iterable[Message]) -> dict[Provider, list[Message]]:
    grouped: dict[Provider, list[Message]] = defaultdict(list)
    for message in messages:
        assert message.provider is not None, "only messages with a provider are claimed"
        grouped[message.provider].append(message)
    return grouped


def _batch_key(message: Message, gateway_schedules: bool) -> tuple[Any, ...]:
    schedule = message.send_at if gateway_schedules and message.send_at else None
    return (
        message.sender,
        message.body,
        message.encoding,
        message.flash,
        message.group_id,
        message.registered_template_id,
        message.registered_entity_id,
        schedule,
        # A template's route or channel travels per request: only alike messages share one.
        tuple(sorted((message.gateway_options or {}).items())),
    )


def group_into_batches(provider: Provider, messages: list[Message]) -> list[list[Message]]:
    """Messages that may share one gateway request, within the gateway's numbers limit."""
    limit = provider.numbers_per_request()
    gateway_schedules = provider.schedules_at_gateway()
    same: dict[tuple[Any, ...], list[Message]] = defaultdict(list)
    for message in messages:
        key = _batch_key(message, gateway_schedules)
        if message.group_id:
            key += (message.pk,)  # a group send is a request of its own
        same[key].append(message)
    return [chunk for group in same.values() for chunk in _chunks(group, limit)]


def _chunks(messages: list[Message], limit: int) -> list[list[Message]]:
    """Requests of at most ``limit`` numbers, none carrying the same number twice.

    A gateway answers one entry per number, so a number twice in one request would leave
    one of its messages without an answer (and waiting for a report forever).
    """
    chunks: list[list[Message]] = []
    for message in messages:
        for chunk in chunks:
            if len(chunk) < limit and all(m.recipient != message.recipient for m in chunk):
                chunk.append(message)
                break
        else:
            chunks.append([message])
    return chunks


def submit(
    provider: Provider,
    messages: list[Message],
    report: DispatchReport,
    *,
    claim: Claim,
    gateway: Gateway | None = None,
    failover: Failover | None = None,
    circuits: CircuitBoard | None = None,
) -> list[Message]:
    """Send one batch and record each message's outcome; the messages it accepted back.

    A database error before the request starts propagates (the pass then queues its unsent
    claims again); once the request has started, only its answer decides.
    """
    claim.renew_if_due()
    messages = mark_started(messages, claim)
    if not messages:
        return []
    gateway = gateway or provider.get_gateway()
    batch = _batch_of(provider, messages)
    started = timezone.now()
    outcome: SendOutcome | None = None
    error: GatewayError | None = None
    try:
        outcome = gateway.send(batch)
    except GatewayError as exc:
        error = exc
    except Exception as exc:  # an adapter bug after the request may have gone out
        logger.exception("helpdesk_sms: %s adapter failed while sending", provider.gateway)
        error = GatewayError(
            ErrorCategory.AMBIGUOUS, gateway.redact(f"adapter error: {type(exc).__name__}: {exc}")
        )
    accepted: list[int] = []
    _record_persistently(
        lambda: record_answer(
            provider,
            messages,
            claim,
            report,
            started=started,
            outcome=outcome,
            error=error,
            failover=failover,
            accepted=accepted,
        )
    )
    _record_health(provider, circuits or CircuitBoard.load(), outcome, error)
    taken = set(accepted)
    return [m for m in messages if m.pk in taken]


#: The longest a pass waits for a provider's rate to allow more (seconds): the next second
#: is worth waiting for; a later window (a per-minute limit spent) is left to a later pass.
RATE_WAIT_MAX = 1.5
#: The most a pass waits for rates in all (seconds): one slow provider's backlog must not
#: hold the pass's other claimed messages in ``sending`` for long.
RATE_WAIT_PER_PASS = 10.0


def within_rate(
    provider: Provider,
    messages: list[Message],
    report: DispatchReport,
    *,
    claim: Claim,
    deadline: float | None = None,
) -> tuple[list[Message], list[Message]]:
    """The messages the provider's rate lets go now, and those to try again in this pass.

    What the rate refuses is tried again after a short wait (the next second's window), or,
    when its window is further off, put back to ``queued`` until then, unsent (its attempt
    taken back): a limit delays a message, it never drops or fails one.
    """
    grant = ratelimit.acquire(provider, len(messages))
    now_ok, rest = messages[: grant.granted], messages[grant.granted :]
    if not rest:
        return now_ok, []
    until = grant.retry_at or timezone.now()
    wait = (until - timezone.now()).total_seconds()
    waited_enough = deadline is not None and time.monotonic() + wait > deadline
    if wait <= RATE_WAIT_MAX and not waited_enough:
        if not now_ok:
            time.sleep(max(0.0, wait))
        return now_ok, rest
    report.waiting += put_back(
        rest,
        claim,
        f"not sent yet: {provider.name}'s rate limit is reached; waits until "
        f"{until.isoformat(timespec='seconds')}",
        next_attempt_at=until,
    )
    return now_ok, []


def within_budget(
    provider: Provider,
    messages: list[Message],
    caps: budget.BudgetBoard,
    report: DispatchReport,
    *,
    claim: Claim,
) -> list[Message]:
    """The messages of a batch that may go out under the budget caps: critical ones always,
    normal ones while they fit. Those that do not fit go back to ``queued`` with the reason,
    unsent (their attempt taken back); the claim leaves them out until the cap allows."""
    normal = [m for m in messages if m.priority != Priority.CRITICAL]
    if not normal:
        return messages
    cost = sum((m.estimated_cost for m in normal if m.estimated_cost is not None), Decimal(0))
    parts = sum(m.parts or 1 for m in normal)
    reason = caps.would_exceed(provider, cost if cost else None, parts)
    if reason is None:
        return messages
    held = {m.pk for m in normal}
    report.held += put_back(normal, claim, f"not sent: {reason}", held_reason=reason[:255])
    return [m for m in messages if m.pk not in held]


def put_back(messages: list[Message], claim: Claim, note: str, **fields: Any) -> int:
    """Claimed messages back to ``queued`` unsent, saying why: the claim given up, the
    attempt counted at the claim taken back. One transaction; returns how many moved."""
    moved = apply_outcomes(
        [
            Outcome(
                pk=m.pk,
                to_status=Status.QUEUED,
                note=note,
                fields={"claim_token": "", "attempts": max(0, m.attempts - 1), **fields},
                expected=(Status.SENDING,),
            )
            for m in messages
        ],
        source=Source.SEND,
        guard={"claim_token": claim.token},
    )
    return len(moved)


def _count_spend(caps: budget.BudgetBoard, provider: Provider, accepted: list[Message]) -> None:
    """What a request's accepted messages cost, counted on the pass's budget board."""
    if not accepted:
        return
    cost = sum((m.estimated_cost for m in accepted if m.estimated_cost is not None), Decimal(0))
    caps.add(provider, cost, sum(m.parts or 1 for m in accepted))


def _record_health(
    provider: Provider,
    circuits: CircuitBoard,
    outcome: SendOutcome | None,
    error: GatewayError | None,
) -> None:
    """One request's verdict on its provider's health: taken (any message accepted or
    checked), provably not taken (its error, or every message refused for a provable
    reason), or neither (an ambiguous answer, refused numbers or texts)."""
    if error is None and outcome is not None:
        if any(r.accepted or r.test for r in outcome.results):
            circuits.succeeded(provider)
            return
        errors = [r.error for r in outcome.results if r.error is not None]
        error = errors[0] if errors and len(errors) == len(outcome.results) else None
    if error is not None and error.category in FAILOVER_CATEGORIES:
        circuits.failed(provider, error.category, error.text)


def divert(
    provider: Provider,
    messages: list[Message],
    report: DispatchReport,
    *,
    claim: Claim,
    failover: Failover,
) -> None:
    """``provider``'s circuit is open: its claimed messages go on to their route's next
    provider at once, without a request to it; the others wait, queued, until it lets a
    probe through. Never sent, so their attempt is taken back."""
    circuits = failover.circuits
    assert circuits is not None
    reason = circuits.reason(provider) or "open circuit"
    # Never due at once: a time already past would have the pass claim them again at once.
    soon = timezone.now() + timedelta(seconds=1)
    until = max(circuits.retry_at(provider) or soon + cooldown(), soon)
    rerouted, waiting = [], []
    for message in messages:
        reroute, _skipped = failover.reroute(message, provider, reason, refused=False)
        if reroute is None:
            waiting.append(message)
            continue
        rerouted.append(
            Outcome(
                pk=message.pk,
                to_status=Status.QUEUED,
                note=reroute.note,
                data=reroute.data,
                fields={**reroute.fields, "claim_token": ""},
                expected=(Status.SENDING,),
            )
        )
    moved = apply_outcomes(rerouted, source=Source.SEND, guard={"claim_token": claim.token})
    report.rerouted += len(moved)
    report.waiting += put_back(
        waiting,
        claim,
        f"not sent: {provider.name}'s circuit is open ({reason}); waits until it lets a "
        "request through",
        next_attempt_at=until,
    )


#: How often the answer to a request is written again when the database failed (seconds).
RECORD_RETRY_DELAYS = (0.2, 1.0, 3.0)


def _record_persistently(record: Any) -> None:
    """Write a request's answer, reconnecting when the database dropped us meanwhile.

    The answer is the only proof of what the gateway did with the messages; losing it to
    a dropped connection would leave them to the sweep as ``unknown``. Inside a caller's
    transaction a failure cannot be retried and propagates.
    """
    for delay in (*RECORD_RETRY_DELAYS, None):
        try:
            record()
            return
        except DatabaseError as exc:
            if delay is None or connection.in_atomic_block:
                raise
            logger.warning("helpdesk_sms: recording an answer failed (%s); retrying", exc)
            connection.close()
            time.sleep(delay)


def mark_started(messages: list[Message], claim: Claim) -> list[Message]:
    """Durably note that these messages' request is about to go out: one statement.

    Only messages this pass still holds are marked (the sweep may have taken back a claim
    whose lease ran out); only those are sent.
    """
    pks = [m.pk for m in messages]
    stamp = timezone.now()
    marked = Message.objects.filter(
        pk__in=pks,
        claim_token=claim.token,
        status=Status.SENDING,
        request_started_at__isnull=True,
    ).update(request_started_at=stamp, updated_at=stamp)
    if marked == len(pks):
        return messages
    still_mine = set(
        Message.objects.filter(
            pk__in=pks, claim_token=claim.token, request_started_at=stamp
        ).values_list("pk", flat=True)
    )
    return [m for m in messages if m.pk in still_mine]


def _batch_of(provider: Provider, messages: list[Message]) -> Batch:
    first = messages[0]
    schedule_at = first.send_at if provider.schedules_at_gateway() else None
    if schedule_at is not None and schedule_at <= timezone.now():
        schedule_at = None
    return Batch(
        recipients=[Recipient(m.pk, m.recipient) for m in messages],
        text=first.body,
        sender=first.sender,
        unicode=first.encoding == "ucs2",
        flash=first.flash,
        schedule_at=schedule_at,
        group_id=first.group.provider_group_id if first.group is not None else "",
        template_id=first.registered_template_id,
        entity_id=first.registered_entity_id,
        encoding=first.encoding,
        options={str(k): str(v) for k, v in (first.gateway_options or {}).items()},
    )


def record_answer(
    provider: Provider,
    messages: list[Message],
    claim: Claim,
    report: DispatchReport,
    *,
    started: datetime,
    outcome: SendOutcome | None = None,
    error: GatewayError | None = None,
    failover: Failover | None = None,
    accepted: list[int] | None = None,
) -> None:
    """Everything one request's answer says, in one transaction; the pks it accepted are
    added to ``accepted`` when given.

    The request and answer are stored once (a GatewayExchange); each message moves by what
    the answer says of it. A message the sweep meanwhile marked ``unknown`` is resolved by
    its answer all the same (``unknown -> accepted`` or ``failed``).
    """
    exchange = GatewayExchange(
        provider=provider,
        operation=GatewayExchange.Operation.SEND,
        started_at=started,
        finished_at=timezone.now(),
        numbers=len(messages),
        request=outcome.request if outcome else {},
        response=outcome.response if outcome else None,
        error=_error_data(error) if error else None,
    )
    results = {r.ref: r for r in outcome.results} if outcome else {}
    failover = failover or Failover()
    outcomes = []
    errors: list[str] = []
    for message in messages:
        result = results.get(message.pk)
        if error is not None or (result is not None and result.accepted):
            problem = error
        elif result is None:
            problem = GatewayError(
                ErrorCategory.AMBIGUOUS, "The gateway's answer did not mention this message."
            )
        else:
            problem = result.error or GatewayError(ErrorCategory.INVALID_REQUEST, "refused")
        if problem is None and result is not None:
            outcomes.append(
                _test_outcome(result) if result.test else _accepted_outcome(result, message)
            )
            continue
        assert problem is not None
        data = {"result": result.raw} if result is not None and result.raw is not None else {}
        reroute, skipped = None, ""
        if problem.category in FAILOVER_CATEGORIES:
            reroute, skipped = _safe_reroute(failover, message, provider, problem)
        if reroute is not None:
            outcomes.append(_reroute_outcome(message, problem, reroute, data))
        else:
            outcomes.append(_error_outcome(message, problem, data, skipped))
        errors.append(f"message {message.pk}: {problem}")
    with transaction.atomic():
        moved = apply_outcomes(
            outcomes,
            source=Source.SEND,
            exchange=exchange,
            guard={"claim_token": claim.token},
            decide=_late_answer,
        )
        for pk, _from, done in moved:
            result = results.get(pk)
            if done.to_status == Status.ACCEPTED and result is not None and result.members:
                parent = next(m for m in messages if m.pk == pk)
                _record_group_members(parent, result, exchange)
    # Counted once committed: a write retried after a dropped connection counts once.
    counters: dict[str, str] = {
        Status.ACCEPTED: "accepted",
        Status.QUEUED: "retrying",
        Status.UNKNOWN: "unknown",
        Status.FAILED: "failed",
        Status.SUPPRESSED: "tested",
    }
    for pk, _from, done in moved:
        if accepted is not None and done.to_status == Status.ACCEPTED:
            accepted.append(pk)
        name = "rerouted" if "failover" in done.data else counters[done.to_status]
        setattr(report, name, getattr(report, name) + 1)
    report.errors.extend(errors)


def _late_answer(row: Message, outcome: Outcome) -> Outcome:
    """An answer for a message already swept to ``unknown``: record what it proves.

    Accepted or refused, the answer settles it. One saying "not taken, try again" also
    proves the gateway does not have it, but an ``unknown`` is never resent
    automatically: it is failed, for an operator to retry.
    """
    if row.status != Status.UNKNOWN:
        return outcome
    if outcome.to_status == Status.QUEUED:
        outcome.to_status = Status.FAILED
        outcome.fields["next_attempt_at"] = None
        for name in REROUTE_FIELDS:  # a failover it no longer gets: it stays as it was
            outcome.fields.pop(name, None)
        outcome.data.pop("failover", None)
        outcome.note = f"{outcome.note.split(';')[0]}; it was marked unknown meanwhile: not resent"
    if outcome.to_status == Status.UNKNOWN:
        return outcome  # unknown stays unknown; nothing new to record as a move
    outcome.note = f"late answer: {outcome.note}"
    outcome.expected = (Status.UNKNOWN,)
    return outcome


def _accepted_outcome(result: RecipientResult, message: Message) -> Outcome:
    """Accepted: from now on billed. No gateway reports what it charged, so the cost is the
    parts the message was composed with × the price then (its estimate); see pricing.py."""
    return Outcome(
        pk=result.ref,
        to_status=Status.ACCEPTED,
        note="accepted by the gateway",
        data={"result": result.raw} if result.raw is not None else {},
        fields=_answered_fields(result, cost=message.estimated_cost, submitted_at=timezone.now()),
        expected=(Status.SENDING,),
    )


def _test_outcome(result: RecipientResult) -> Outcome:
    """A test the gateway passed but did not send (1601SMS's test=ja): final, not sent.

    ``suppressed`` (deliberately not sent), marked as a test: ``accepted`` would wait for
    a delivery report that never comes, ``failed`` would say the gateway refused it.
    """
    return Outcome(
        pk=result.ref,
        to_status=Status.SUPPRESSED,
        note="test mode: the gateway checked the message and sent nothing (no credit used)",
        data={"result": result.raw} if result.raw is not None else {},
        fields=_answered_fields(result, is_test=True),
        expected=(Status.SENDING,),
    )


def _answered_fields(result: RecipientResult, **extra: Any) -> dict[str, Any]:
    """What a gateway's yes (or a test mode's checked-and-not-sent) writes on the message:
    its ids, no error, no retry, the claim given up."""
    return dict(
        provider_message_id=result.provider_message_id[:100],
        provider_job_id=result.job_id[:100],
        error_category="",
        error_code="",
        error_text="",
        next_attempt_at=None,
        claim_token="",
        **extra,
    )


def _safe_reroute(
    failover: Failover, message: Message, provider: Provider, problem: GatewayError
) -> tuple[Reroute | None, str]:
    """The failover for a refused message; never an error: the request's answer must be
    written whatever finding the next provider runs into (else its acceptances are lost)."""
    try:
        return failover.reroute(message, provider, _reason(problem))
    except DatabaseError:
        raise  # the answer is written again once the database is back
    except Exception:
        logger.exception("helpdesk_sms: failover for message %s failed", message.pk)
        return None, "an internal error while looking for the next provider (logged)"


def _reason(error: GatewayError) -> str:
    """A refusal in words for a failover note: its category, code and the gateway's text."""
    code = f" {error.code}" if error.code else ""
    return f"{error.category}{code}: {error.text}"[:300]


def _error_fields(error: GatewayError) -> dict[str, Any]:
    return dict(
        error_category=error.category.value,
        error_code=error.code[:50],
        error_text=error.text,
        claim_token="",
    )


def _reroute_outcome(
    message: Message, error: GatewayError, reroute: Reroute, data: dict[str, Any]
) -> Outcome:
    """Provably not taken, and another provider of its route can: queued for that one at
    once, its error kept until that provider answers."""
    return Outcome(
        pk=message.pk,
        to_status=Status.QUEUED,
        note=reroute.note,
        data={**data, **reroute.data},
        fields={**_error_fields(error), **reroute.fields},
        expected=(Status.SENDING,),
    )


def _error_outcome(
    message: Message, error: GatewayError, data: dict[str, Any], skipped: str = ""
) -> Outcome:
    fields = _error_fields(error)
    if error.category.retryable and message.attempts < int(conf.get("MAX_ATTEMPTS")):
        delay = min(
            int(conf.get("RETRY_BACKOFF")) * 2 ** (message.attempts - 1),
            int(conf.get("RETRY_BACKOFF_MAX")),
        )
        fields["next_attempt_at"] = timezone.now() + timedelta(seconds=delay)
        to_status = Status.QUEUED
        note = f"not taken by the gateway ({error.category}); retry in {delay}s"
    elif error.category == ErrorCategory.AMBIGUOUS:
        to_status = Status.UNKNOWN
        note = "the gateway may have taken it: not resent"
    else:
        to_status = Status.FAILED
        note = "refused by the gateway"
        if error.category.retryable:
            note = f"gave up after {message.attempts} attempts"
    if to_status != Status.UNKNOWN and message.providers_tried:
        note += "; every other provider of its route had already refused it"
    if skipped:
        note += f"; no failover: {skipped}"
    return Outcome(
        pk=message.pk,
        to_status=to_status,
        note=note,
        data=data,
        fields=fields,
        expected=(Status.SENDING,),
    )


def _record_group_members(
    parent: Message, result: RecipientResult, exchange: GatewayExchange
) -> None:
    """One accepted message per number a gateway-side group expanded to.

    Each member is billed and delivered on its own, so each gets its own row: the log
    accounts for every SMS, and delivery reports (keyed by message id) find their message.
    """
    now = timezone.now()
    prices = PriceList.for_provider(parent.provider) if parent.provider else PriceList()
    numbers = [_as_e164(member.number) for member in result.members]
    members = [
        Message(
            recipient=number,
            country=country_of(number),
            body=parent.body,
            encoding=parent.encoding,
            parts=parent.parts,
            estimated_cost=(estimate := prices.estimate(parent.parts, number)),
            cost=estimate,
            currency=prices.currency,
            provider=parent.provider,
            sender=parent.sender,
            flash=parent.flash,
            gateway_options=parent.gateway_options,
            status=Status.ACCEPTED,
            status_changed_at=now,
            provider_message_id=member.provider_message_id[:100],
            provider_job_id=result.job_id[:100],
            submitted_at=now,
            attempts=1,
            parent=parent,
            event=parent.event,
            audience=parent.audience,
            template=parent.template,
            registered_template_id=parent.registered_template_id,
            registered_entity_id=parent.registered_entity_id,
            ticket_type=parent.ticket_type,
            ticket_id=parent.ticket_id,
        )
        for member, number in zip(result.members, numbers, strict=True)
    ]
    with transaction.atomic():
        Message.objects.bulk_create(members)
        MessageEvent.objects.bulk_create(
            MessageEvent(
                message=member,
                from_status="",
                to_status=Status.ACCEPTED,
                source=Source.SEND,
                note=f"texted as a member of group send #{parent.pk}",
                exchange=exchange,
                created_at=now,
            )
            for member in members
        )


def _as_e164(number: str) -> str:
    digits = number.strip().lstrip("+")
    return f"+{digits}"[:20] if digits.isdigit() else number[:20]


def _error_data(error: GatewayError) -> dict[str, Any]:
    return {
        "category": error.category.value,
        "code": error.code,
        "text": error.text,
        "raw": error.raw,
    }


# -- operator actions --------------------------------------------------------------------


def retry(
    message: Message, *, note: str = "retried by an operator", source: str = Source.ADMIN
) -> bool:
    """Re-queue a failed message: an explicit operator decision, never automatic.

    ``source`` is where the operator acted (the admin, or ``Source.CLI`` for a command), as
    the message's timeline shows it.

    Messages that never had a sendable form (a template that did not render, no provider)
    cannot be retried; fix the cause and let the next event create a new one. The caller
    wakes the outbox (``kick.dispatch_on_commit()``), once for all it retried: the outbox
    is what the dispatch task runs, so it does not call back into it.
    """
    if not (message.provider_id and message.body and (message.recipient or message.group_id)):
        return False
    if message.purged_at is not None:
        return False  # its text was erased (retention): "[purged]" is nothing to send
    if message.recipient and OptOut.objects.filter(number=message.recipient).exists():
        return False  # the number replied STOP (or was opted out) since: never re-sent
    return move(
        message,
        Status.QUEUED,
        source=source,
        note=note,
        expected=Status.FAILED,
        next_attempt_at=None,
        attempts=0,
    )


def cancel(
    message: Message, *, note: str = "canceled by an operator", source: str = Source.ADMIN
) -> bool:
    """Cancel a message before it goes out; True when it is now canceled.

    A message still with us (scheduled or queued) is simply canceled. One the gateway holds
    for later delivery is withdrawn through the gateway first, where the gateway can (its
    refusal raises GatewayError and the message stays as it was). ``source`` is where the
    operator acted (the admin, or ``Source.CLI``), recorded on every event it writes.
    """
    for status in (Status.SCHEDULED, Status.QUEUED):
        if move(message, Status.CANCELED, source=source, note=note, expected=status):
            return True
    if not is_held_by_gateway(message):
        return False
    assert message.provider is not None  # is_held_by_gateway: it went out through one
    gateway = message.provider.get_gateway()
    gateway.cancel(ReportRef(message.provider_message_id, message.provider_job_id))
    withdrawn = f"{note}; withdrawn from the gateway's schedule"
    # Withdrawn before it went out: nothing is billed, so the cost set on acceptance goes.
    canceled = move(
        message,
        Status.CANCELED,
        source=source,
        note=withdrawn,
        expected=Status.ACCEPTED,
        cost=None,
    )
    for member in message.members.filter(status=Status.ACCEPTED):  # a group send's members
        move(
            member,
            Status.CANCELED,
            source=source,
            expected=Status.ACCEPTED,
            note=f"group send #{message.pk} {withdrawn}",
            cost=None,
        )
    return canceled


def is_held_by_gateway(message: Message) -> bool:
    """Accepted for a later time by a gateway that can withdraw it."""
    return bool(
        message.status == Status.ACCEPTED
        and message.send_at
        and message.send_at > timezone.now()
        and message.provider is not None
        and message.provider.gateway_class().has(Capability.CANCEL)
    )
