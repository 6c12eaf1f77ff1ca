"""The chaos: a seeded plan of faults and kills, carried out on time and journaled.

The plan is drawn up front from the seed, so a run can be repeated; the journal records
what was actually done and when (wall-clock seconds, the clock the database stamps use),
because only the journal can tell whether an ``unknown`` message had a reason to be one.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Gateway faults the run switches, and whether each can leave the gateway holding a
#: message the engine got no answer for (so an ``unknown`` during it is honest).
GATEWAY_FAULTS: dict[str, bool] = {
    "latency": True,  # sleeps past the read timeout, then processes: taken, no answer
    "read_timeout": True,  # processes, then hangs up: taken, no answer
    "reset": True,  # drops the connection before processing: not taken, but who can tell
    "malformed": True,  # processes, answers half a body: taken, unreadable
    "http_500": False,  # answers 500 before processing: provably not taken
    "refused": True,  # listener closed: refused (not taken); in-flight accepts are reset
    "auth_failure": False,  # credentials refused before processing: provably not taken
}
#: Random fault kinds dealt to the gateways; auth_failure is the planned revocation alone.
DEALT_FAULTS = [name for name in GATEWAY_FAULTS if name != "auth_failure"]
#: Failover (issue 12): Canlog's credentials revoked, later Unified's listener closed, each
#: for a stretch of the run (start and length as shares of the duration), never together.
FAILOVER_WINDOWS = [("canlog", "auth_failure", 0.25, 0.15), ("unified", "refused", 0.5, 0.12)]


@dataclass
class Entry:
    """One journal line: something the harness did to the system, and when."""

    time: float
    kind: str  # fault_on, fault_off, kill, restart, pg_terminate, freeze, thaw, note
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Window:
    """A span during which one disturbance was in force (a kill is a zero-length one)."""

    kind: str
    target: str
    start: float
    end: float
    ambiguous: bool = False


class Journal:
    """Thread-safe, written through to a JSON-lines file as it happens."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[Entry] = []
        self._lock = threading.Lock()
        self._file = path.open("w")

    def record(self, kind: str, target: str = "", **detail: Any) -> Entry:
        entry = Entry(time.time(), kind, target, detail)
        with self._lock:
            self.entries.append(entry)
            if not self._file.closed:
                self._file.write(json.dumps(asdict(entry)) + "\n")
                self._file.flush()
        return entry

    def close(self) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._file.close()

    def windows(self, until: float | None = None) -> list[Window]:
        """Faults as spans (an unclosed one lasts until ``until``), kills as instants."""
        until = until or time.time()
        opened: dict[tuple[str, str], Entry] = {}
        spans: list[Window] = []
        with self._lock:
            entries = list(self.entries)
        for entry in entries:
            if entry.kind in ("fault_on", "freeze"):
                opened[(entry.kind, entry.target)] = entry
            elif entry.kind in ("fault_off", "thaw"):
                start = opened.pop(
                    ("fault_on" if entry.kind == "fault_off" else "freeze", entry.target), None
                )
                if start is not None:
                    spans.append(_span(start, entry.time))
            elif entry.kind in ("kill", "pg_terminate"):
                spans.append(Window(entry.kind, entry.target, entry.time, entry.time))
        spans += [_span(start, until) for start in opened.values()]
        return sorted(spans, key=lambda w: w.start)

    def count(self, kind: str) -> int:
        with self._lock:
            return sum(1 for e in self.entries if e.kind == kind)


def _span(start: Entry, end: float) -> Window:
    if start.kind == "freeze":
        return Window("broker_freeze", start.target, start.time, end)
    fault = str(start.detail.get("fault", ""))
    return Window(fault, start.target, start.time, end, GATEWAY_FAULTS.get(fault, False))


@dataclass(order=True)
class Action:
    """One planned step: at ``at`` seconds after the chaos began, call ``name``(target)."""

    at: float
    order: int
    name: str = field(compare=False)
    target: str = field(compare=False, default="")
    detail: dict[str, Any] = field(compare=False, default_factory=dict)


def draw_plan(
    seed: int,
    duration: float,
    gateways: list[str],
    workers: list[str],
    *,
    can_freeze: bool,
) -> list[Action]:
    """Every fault and kill of one run, from the seed alone.

    Each worker is killed several times (at least three), the database's connections are
    cut every ~10 s, the broker is frozen a few times and each gateway alternates between
    healthy and one fault at a time. Everything ends by ``duration``.
    """
    rng = random.Random(seed)
    actions: list[Action] = []
    order = iter(range(1_000_000))

    def add(at: float, name: str, target: str = "", **detail: Any) -> None:
        actions.append(Action(round(at, 3), next(order), name, target, detail))

    kills = max(3, round(duration / 15))
    for worker in workers:
        slots = _spread(rng, kills, 0.08 * duration, 0.85 * duration)
        for at in slots:
            add(at, "kill", worker, restart_after=round(rng.uniform(0.5, 2.5), 2))
    for at in _spread(rng, max(3, round(duration / 10)), 0.05 * duration, 0.9 * duration):
        add(at, "pg_terminate")
    if can_freeze:
        for at in _spread(rng, max(2, round(duration / 20)), 0.1 * duration, 0.8 * duration):
            add(at, "freeze", "broker", seconds=round(rng.uniform(2.0, 5.0), 2))
    slots: list[tuple[float, str, float]] = []
    for gateway in gateways:
        at = rng.uniform(1.0, 6.0)
        while True:
            length = rng.uniform(2.0, 6.0)
            if at + length > 0.92 * duration:
                break
            slots.append((at, gateway, length))
            at += length + rng.uniform(2.0, 8.0)
    # Dealt from shuffled decks of every kind, in time order: a run of six or more fault
    # slots exercises every kind at least once.
    deck: list[str] = []
    failover = {gateway: (start, start + length) for gateway, _f, start, length in FAILOVER_WINDOWS}
    for gateway, fault, start, length in FAILOVER_WINDOWS:
        if gateway in gateways:
            add(
                start * duration, "fault", gateway, fault=fault, seconds=round(length * duration, 2)
            )
    for at, gateway, length in sorted(slots):
        low, high = failover.get(gateway, (2.0, 2.0))
        if at + length > low * duration and at < high * duration:
            continue  # that gateway's planned failover window is its only fault then
        if not deck:
            deck = list(DEALT_FAULTS)
            rng.shuffle(deck)
        add(at, "fault", gateway, fault=deck.pop(), seconds=round(length, 2))
    return sorted(actions)


def _spread(rng: random.Random, count: int, low: float, high: float) -> list[float]:
    """``count`` times in [low, high], one in each equal slice (no two kills bunched)."""
    if count <= 0 or high <= low:
        return []
    width = (high - low) / count
    return [low + width * i + rng.uniform(0.1, 0.9) * width for i in range(count)]


class Chaos(threading.Thread):
    """Carries out a plan: each action on time, its undoing scheduled as it starts."""

    def __init__(
        self,
        plan: list[Action],
        journal: Journal,
        handlers: dict[str, Callable[[Action], Action | None]],
    ) -> None:
        super().__init__(name="chaos", daemon=True)
        self.queue = list(plan)
        heapq.heapify(self.queue)
        self.journal = journal
        self.handlers = handlers
        self.stopping = threading.Event()
        self.started_at = 0.0
        self.errors: list[str] = []

    def run(self) -> None:
        self.started_at = time.time()
        while self.queue and not self.stopping.is_set():
            action = self.queue[0]
            delay = self.started_at + action.at - time.time()
            if delay > 0:
                self.stopping.wait(min(delay, 0.5))
                continue
            heapq.heappop(self.queue)
            try:
                follow_up = self.handlers[action.name](action)
            except Exception as exc:  # one failed step must not stop the others
                self.errors.append(f"{action.name} {action.target}: {exc}")
                self.journal.record("note", action.target, error=f"{action.name} failed: {exc}")
                continue
            if follow_up is not None:
                heapq.heappush(self.queue, follow_up)

    def stop(self) -> None:
        """Stop carrying out the plan (the run is ending); undo steps are left to calm()."""
        self.stopping.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout=15)

    def finish(self) -> None:
        """Stop now, running only the pending undo steps (faults off, thaw, restarts)."""
        self.stopping.set()
        self.join(timeout=30)
        undo = sorted(a for a in self.queue if a.name in UNDO_STEPS)
        self.queue = []
        for action in undo:
            try:
                self.handlers[action.name](action)
            except Exception as exc:
                self.errors.append(f"{action.name} {action.target}: {exc}")


#: Steps that put things back; always carried out, even when the chaos is cut short.
UNDO_STEPS = frozenset({"fault_off", "thaw", "restart"})
