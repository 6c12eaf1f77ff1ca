"""The truth after the chaos: the database against the simulators' own records.

Each message is matched to what its gateway holds by (number, text), unique in a run.
The checks, each a kind of violation when it finds anything:

* lost: created but in no known state at the end (still ``queued``/``scheduled``), a
  created job or ticket event with no message in the database, or a message the gateway
  holds that the database does not have (or has as ``failed``/``canceled``);
* doubled: the gateway holds one message more than once, or was sent one it already
  had (ATL answers a repeated controlid with 002 rather than doubling it);
* stranded: a claim that was never submitted and never queued again: left ``sending``,
  or swept to ``unknown`` though its request never started (``request_started_at`` is
  null) or, on an engine without that field, never reached the gateway (no request in
  the simulator's log carried it, and its listener was up); also a request left
  ``sending`` that was never answered nor swept;
* phantom: recorded accepted (or delivered…) though the gateway does not have it;
* silent rollback: a ticket whose creating transaction returned normally to the host,
  yet neither it nor its messages are in the database: its notifications are lost
  without anyone being told (a cut connection inside the app's save-path savepoint makes
  Django roll the host's transaction back silently);
* unexplained unknown: ``unknown`` with no journal entry to account for it. An unknown
  recorded from a gateway's answer (or its silence) is explained by an ambiguous fault on
  that gateway overlapping its request; one swept from ``sending`` by a worker killed
  while its request was in flight. Its request's start is ``request_started_at`` (or its
  GatewayExchange's start) where the engine records one, else the time of its event into
  ``unknown``, widened by the read timeout and, for a sweep, the stale-sending delay.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .chaos_load import Job, SimHolding
from .chaos_plan import Window

FINAL_OR_KNOWN = {
    "accepted",
    "delivered",
    "undelivered",
    "expired",
    "failed",
    "unknown",
    "canceled",
    "suppressed",
}
GATEWAY_HAS_IT = {"accepted", "delivered", "undelivered", "expired"}
NOT_SENT = {"failed", "canceled", "suppressed"}
#: Table columns: counter name -> heading.
COLUMNS: dict[str, str] = {
    "created": "created",
    "queued": "queued",
    "scheduled": "sched",
    "sending": "sending",
    "accepted": "accepted",
    "delivered": "deliv",
    "undelivered": "undeliv",
    "expired": "expired",
    "failed": "failed",
    "unknown": "unknown",
    "canceled": "cancel",
    "suppressed": "suppr",
    "held": "held",
    "unknown_held": "unk_held",
    "unknown_explained": "unk_ok",
}
NUMBER_PARAMS = ("number", "destination", "recipient", "naar", "msisdn")
TEXT_PARAMS = ("text", "message", "bericht", "bulkmessage")


@dataclass
class Timing:
    """The engine's clocks, as the run configured them (seconds)."""

    connect: float
    read: float
    stale: float
    sweep_every: float
    slack: float = 5.0

    @property
    def request(self) -> float:
        return self.connect + self.read


@dataclass
class Row:
    """One message as the database has it, plus what its gateway says."""

    pk: int
    gateway: str
    digits: str
    body: str
    status: str
    created_at: float
    submitted_at: float | None
    request_started_at: float | None
    error_category: str
    error_text: str
    held: int = 0
    reached: bool = False
    unknown_event: dict[str, Any] | None = None
    explanation: str = ""


@dataclass
class Report:
    """Everything the summary prints; ``violations`` decides the exit status."""

    rows: list[Row]
    by_gateway: dict[str, Counter[str]]
    violations: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)
    engine_fields: dict[str, bool] = field(default_factory=dict)

    @property
    def total_violations(self) -> int:
        return sum(len(v) for v in self.violations.values())


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _digits(value: Any) -> str:
    return "".join(c for c in str(value or "") if c.isdigit())


def _has_field(model: Any, name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:
        return False
    return True


def reached_keys(requests: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(number, text) of every send request that reached a simulator, faults or not."""
    keys: set[tuple[str, str]] = set()
    for request in requests:
        params = {str(k).lower(): str(v) for k, v in (request.get("params") or {}).items()}
        text = next((params[k] for k in TEXT_PARAMS if params.get(k)), "")
        numbers = next((params[k] for k in NUMBER_PARAMS if params.get(k)), "")
        for body in request.get("bodies") or []:  # ATL, one text per number when not bulk
            if body.get("message"):
                keys.add((_digits(body.get("msisdn")), str(body["message"])))
        if text:
            for number in numbers.split(","):
                keys.add((_digits(number), text))
    return keys


def load_rows() -> tuple[list[Row], dict[str, bool]]:
    """Every message of the run, with its last event into ``unknown``."""
    from helpdesk_sms.models import Message, MessageEvent

    fields = {
        name: _has_field(Message, name)
        for name in ("request_started_at", "claimed_at", "claim_token")
    }
    fields["exchange"] = _has_field(MessageEvent, "exchange")
    columns = [
        "pk",
        "provider__gateway",
        "recipient",
        "body",
        "status",
        "created_at",
        "submitted_at",
        "error_category",
        "error_text",
    ]
    if fields["request_started_at"]:
        columns.append("request_started_at")
    rows = [
        Row(
            pk=m["pk"],
            gateway=m["provider__gateway"] or "",
            digits=_digits(m["recipient"]),
            body=m["body"],
            status=m["status"],
            created_at=_ts(m["created_at"]) or 0.0,
            submitted_at=_ts(m["submitted_at"]),
            request_started_at=_ts(m.get("request_started_at")),
            error_category=m["error_category"],
            error_text=m["error_text"],
        )
        for m in Message.objects.values(*columns).order_by("pk")
    ]
    event_columns = ["message_id", "created_at", "source", "note"]
    if fields["exchange"]:
        event_columns += ["exchange__started_at", "exchange__error"]
    last: dict[int, dict[str, Any]] = {}
    for event in (
        MessageEvent.objects.filter(to_status="unknown").values(*event_columns).order_by("pk")
    ):
        last[event["message_id"]] = event
    for row in rows:
        row.unknown_event = last.get(row.pk)
    return rows, fields


def account(
    rows: list[Row],
    engine_fields: dict[str, bool],
    holdings: dict[str, SimHolding],
    reached: dict[str, set[tuple[str, str]]],
    jobs: list[Job],
    tickets: dict[str, list[str]],
    windows: list[Window],
    timing: Timing,
) -> Report:
    """Compare, classify, explain; ``tickets`` maps a created ticket's title to the events
    its messages were for."""
    by_gateway: dict[str, Counter[str]] = defaultdict(Counter)
    report = Report(rows, by_gateway, engine_fields=engine_fields)
    v = report.violations
    in_db: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for row in rows:
        in_db[row.gateway][(row.digits, row.body)] += 1
        holding = holdings.get(row.gateway)
        row.held = holding.held.get((row.digits, row.body), 0) if holding else 0
        row.reached = (row.digits, row.body) in reached.get(row.gateway, set())
        counts = by_gateway[row.gateway]
        counts["created"] += 1
        counts[row.status] += 1
        counts["held"] += min(row.held, 1)
        label = f"#{row.pk} {row.gateway} {row.status}"
        if row.held > 1:
            v["doubled"].append(f"{label}: the gateway holds it {row.held} times")
        for other, other_holding in holdings.items():
            if other != row.gateway and other_holding.held.get((row.digits, row.body)):
                v["doubled"].append(f"{label}: {other} holds it too (sent through two providers)")
        if row.status in ("queued", "scheduled"):
            v["lost"].append(f"{label}: never sent by the end of the run")
        elif row.status == "sending":
            if engine_fields["request_started_at"] and row.request_started_at is not None:
                v["stranded"].append(
                    f"{label}: request started {_ago(row.request_started_at)}, never answered"
                    f" nor swept (gateway holds it {row.held}x)"
                )
            else:
                v["stranded"].append(f"{label}: claimed, never submitted, not queued again")
        elif row.status in GATEWAY_HAS_IT and row.held == 0:
            v["phantom"].append(f"{label}: recorded as taken, the gateway does not have it")
        elif row.status in NOT_SENT and row.held > 0:
            v["lost"].append(
                f"{label}: the gateway has it, the database says {row.status} "
                f"({row.error_category}: {row.error_text[:80]})"
            )
        elif row.status == "unknown":
            _check_unknown(row, report, windows, timing)
        elif row.status not in FINAL_OR_KNOWN:
            v["lost"].append(f"{label}: in no known state")
    for gateway, holding in holdings.items():
        for key, count in holding.held.items():
            if key not in in_db[gateway]:
                v["lost"].append(
                    f"{gateway}: holds {count}x {key[0]} {key[1][:50]!r}, the database has no "
                    "such message"
                )
        for params in holding.duplicate_submits:
            v["doubled"].append(
                f"{gateway}: a submit it had already taken was sent again (002): {params[:120]}"
            )
    _check_jobs(report, jobs, tickets, in_db)
    return report


def _check_unknown(row: Row, report: Report, windows: list[Window], timing: Timing) -> None:
    counts = report.by_gateway[row.gateway]
    counts["unknown_held"] += min(row.held, 1)
    event = row.unknown_event or {}
    swept = event.get("source") == "system"
    start = row.request_started_at or _ts(event.get("exchange__started_at"))
    label = f"#{row.pk} {row.gateway} unknown"
    if report.engine_fields["request_started_at"] and row.request_started_at is None:
        report.violations["stranded"].append(
            f"{label}: claimed, its request never started, swept to unknown instead of "
            f"queued again (held {row.held}x): {event.get('note', '')[:80]}"
        )
        return
    if not row.reached and not row.held and not report.engine_fields["request_started_at"]:
        refused = [w for w in windows if w.kind == "refused" and w.target == row.gateway]
        low, high = _request_span(start, event, swept, timing)
        if not any(w.start <= high and w.end >= low for w in refused):
            report.violations["stranded"].append(
                f"{label}: claimed, never reached the gateway, swept to unknown instead of "
                f"queued again: {event.get('note', '')[:80]}"
            )
            return
    if row.error_category != "ambiguous":
        report.violations["unexplained_unknown"].append(
            f"{label}: its error category is {row.error_category!r}, not 'ambiguous': "
            f"{row.error_text[:80]}"
        )
        return
    if not swept and report.engine_fields["exchange"] and not event.get("exchange__started_at"):
        report.notes.append(f"{label}: answered unknown without a GatewayExchange")
    low, high = _request_span(start, event, swept, timing)
    if swept:
        causes = [
            w for w in windows if w.kind == "kill" and low - 1 <= w.start <= high + timing.slack
        ]
    else:
        causes = [
            w
            for w in windows
            if w.ambiguous and w.target == row.gateway and w.start <= high and w.end >= low
        ]
    if causes:
        row.explanation = ", ".join(sorted({f"{w.kind} {w.target}" for w in causes}))
        counts["unknown_explained"] += 1
        return
    near = sorted(
        {
            f"{w.kind} {w.target}".strip()
            for w in windows
            if w.start <= high + timing.slack and w.end >= low - timing.slack
        }
    )
    reason = (event.get("exchange__error") or {}).get("text") or row.error_text
    report.violations["unexplained_unknown"].append(
        f"{label} (held {row.held}x, {'swept' if swept else 'answered'}, request "
        f"{'started ' + _clock(start) if start else 'start unknown'}): {reason[:90]}"
        + (f"; near: {', '.join(near)}" if near else "; no fault or kill near it")
    )


def _request_span(
    start: float | None, event: dict[str, Any], swept: bool, timing: Timing
) -> tuple[float, float]:
    """When the message's request may have been in flight (or, for a sweep, its worker
    may have died with the answer unrecorded: recording retries for a few seconds).

    A gateway takes its faults when the request arrives, so a fault that began after
    the request's read timeout ran out cannot have made it ambiguous.
    """
    if start is not None:
        if swept:
            return start - 1.0, start + timing.request + timing.slack
        return start - 1.0, start + timing.request + 1.0
    at = _ts(event.get("created_at")) or 0.0
    if swept:
        return at - timing.stale - 2 * timing.sweep_every - timing.slack, at
    return at - timing.request - timing.slack, at


def _check_jobs(
    report: Report,
    jobs: list[Job],
    tickets: dict[str, list[str]],
    in_db: dict[str, Counter[tuple[str, str]]],
) -> None:
    for job in jobs:
        if not job.created:
            continue
        if job.kind == "sms":
            for number in job.numbers:
                key = (_digits(number), job.text)
                if not any(key in messages for messages in in_db.values()):
                    report.violations["lost"].append(
                        f"send_sms job {job.index} ({job.gateway}) to {number}: returned, "
                        "but no such message in the database"
                    )
        elif job.title not in tickets:
            report.violations["silent_rollback"].append(
                f"ticket {job.title!r} ({job.gateway}): the host's transaction returned "
                "normally, yet neither the ticket nor its 3 messages are in the database "
                "(rolled back without an exception reaching the host)"
            )
        else:
            events = Counter(tickets.get(job.title, []))
            for wanted in ("ticket_created", "ticket_assigned", "task_added"):
                if events[wanted] != 1:
                    report.violations["lost"].append(
                        f"ticket {job.title!r} ({job.gateway}): {events[wanted]} "
                        f"{wanted} message(s), expected 1"
                    )


def ticket_events() -> dict[str, list[str]]:
    """Title of every ticket in the database -> the events of its messages."""
    from helpdesk_sms.models import Message
    from project.demo.models import Ticket

    titles = {str(pk): title for pk, title in Ticket.objects.values_list("pk", "title")}
    found: dict[str, list[str]] = defaultdict(list)
    for ticket_id, event in Message.objects.exclude(ticket_id="").values_list("ticket_id", "event"):
        if ticket_id in titles:
            found[titles[ticket_id]].append(event)
    for title in titles.values():
        found.setdefault(title, [])
    return found


def _ago(when: float) -> str:
    import time

    return f"{time.time() - when:.0f}s ago"


def _clock(when: float) -> str:
    return datetime.fromtimestamp(when).strftime("%H:%M:%S.%f")[:-3]


def render(report: Report, extra: list[tuple[str, str]], limit: int = 12) -> str:
    """The summary table, the run's facts, then every kind of violation with examples."""
    gateways = sorted(report.by_gateway)
    always = {"created", "queued", "sending", "accepted", "unknown", "held"}
    shown = [c for c in COLUMNS if c in always or any(report.by_gateway[g][c] for g in gateways)]
    head = "gateway".ljust(10) + "".join(
        COLUMNS[c].rjust(max(7, len(COLUMNS[c]) + 1)) for c in shown
    )
    lines = ["", "== chaos: final accounting (database vs. the simulators' own records)", head]
    lines.append("-" * len(head))
    totals: Counter[str] = Counter()

    def line(name: str, counts: Counter[str]) -> str:
        cells = "".join(str(counts[c]).rjust(max(7, len(COLUMNS[c]) + 1)) for c in shown)
        return name.ljust(10) + cells

    for gateway in gateways:
        totals.update(report.by_gateway[gateway])
        lines.append(line(gateway or "(none)", report.by_gateway[gateway]))
    lines.append("-" * len(head))
    lines.append(line("total", totals))
    lines.append(
        "(held: the gateway has it; unk_held: unknown here, held there; unk_ok: unknown "
        "and explained by the journal)"
    )
    lines.append("")
    label_width = max(len(k) for k, _ in extra) if extra else 0
    lines += [f"{key.ljust(label_width)}  {value}" for key, value in extra]
    lines.append("")
    kinds = ["lost", "doubled", "stranded", "phantom", "unexplained_unknown", "silent_rollback"]
    for kind in kinds:
        found = report.violations.get(kind, [])
        status = "ok" if not found else "VIOLATION"
        lines.append(f"{kind.ljust(20)} {str(len(found)).rjust(6)}  {status}")
    for kind in kinds:
        found = report.violations.get(kind, [])
        if found:
            lines.append(f"\n-- {kind} ({len(found)}), first {min(limit, len(found))}:")
            lines += [f"   {item}" for item in found[:limit]]
    if report.notes:
        lines.append(f"\n-- notes ({len(report.notes)}), not violations, first {limit}:")
        lines += [f"   {note}" for note in report.notes[:limit]]
    explained = Counter(r.explanation for r in report.rows if r.explanation)
    if explained:
        lines.append("\n-- unknown explained by:")
        lines += [f"   {n:5d}  {cause}" for cause, n in explained.most_common(limit)]
    lines.append("")
    if report.total_violations:
        lines.append(f"== chaos: FAIL, {report.total_violations} violation(s)")
    else:
        lines.append("== chaos: PASS, no violation")
    return "\n".join(lines)
