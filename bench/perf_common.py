"""What every benchmark shares: sizes, interleaved timing, result rows and the table.

No Django here: the parent process (``bench.perf``) only formats, the per-database child
(``bench.perf_run``) measures.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

#: Env knobs: BENCH_SCALE shrinks every size (CI-like quick runs), BENCH_REPS the pairs.
SCALE = float(os.environ.get("BENCH_SCALE") or 1.0)
REPS = int(os.environ.get("BENCH_REPS") or 3)


def scaled(size: int, floor: int = 10) -> int:
    """``size`` times BENCH_SCALE, never below ``floor`` (a ratio of nothing is noise)."""
    return max(floor, int(round(size * SCALE)))


def log(text: str) -> None:
    """Progress on stderr, so a long run shows where it is; results go elsewhere."""
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()


@dataclass
class Clock:
    """Wall and CPU seconds of one timed block (CPU: this process only)."""

    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def timed() -> Iterator[Clock]:
    """Time a block by ``perf_counter`` and ``process_time`` at once."""
    clock = Clock()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        yield clock
    finally:
        clock.wall = time.perf_counter() - wall0
        clock.cpu = time.process_time() - cpu0


def interleave(
    reps: int, a: Callable[[int], dict[str, float]], b: Callable[[int], dict[str, float]]
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Run ``a(i)`` then ``b(i)`` for each rep: drift of a shared machine hits both alike."""
    runs_a: list[dict[str, float]] = []
    runs_b: list[dict[str, float]] = []
    for rep in range(reps):
        runs_a.append(a(rep))
        runs_b.append(b(rep))
    return runs_a, runs_b


@dataclass
class Row:
    """One line of the table: A against B (or one absolute figure when B is empty).

    ``kind`` says how the ratio reads: "speed" is B's time over A's (A's throughput as a
    fraction of B's, higher is better), "cost" is A over B (lower is better), "value" has
    no ratio (an absolute figure checked against ``limit``).
    """

    bench: str
    name: str
    unit: str
    kind: str
    a_label: str = "app"
    b_label: str = "raw"
    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    target: str = ""
    #: speed: ratio >= limit; cost: ratio <= limit; value: median(a) <= limit.
    limit: float | None = None
    #: For targets of the form A <= k*B + c (polling): (k, c).
    affine: tuple[float, float] | None = None
    note: str = ""
    error: str = ""
    db: str = ""

    @property
    def ratios(self) -> list[float]:
        pairs = [(x, y) for x, y in zip(self.a, self.b, strict=False) if x > 0 and y > 0]
        if self.kind == "speed":
            return [y / x for x, y in pairs]
        if self.kind == "cost":
            return [x / y for x, y in pairs]
        return []

    def meets(self) -> bool | None:
        """Whether the median meets the target (None: no target or no figures)."""
        if self.error or not self.a:
            return None
        if self.affine is not None and self.b:
            k, c = self.affine
            return statistics.median(self.a) <= k * statistics.median(self.b) + c
        if self.limit is None:
            return None
        if self.kind == "value":
            return statistics.median(self.a) <= self.limit
        ratios = self.ratios
        if not ratios:
            return None
        median = statistics.median(ratios)
        return median >= self.limit if self.kind == "speed" else median <= self.limit

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        data = dict(data)
        if data.get("affine") is not None:
            data["affine"] = tuple(data["affine"])
        return cls(**data)


def fmt(value: float, unit: str) -> str:
    """A figure with a precision that fits its size."""
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}"


def describe(row: Row) -> list[str]:
    """The table cells of one row."""
    label = f"{row.bench} {row.name}"
    if row.error:
        return [label, row.db, f"error: {row.error}"[:200], "", "", "", row.target, ""]
    a = fmt(statistics.median(row.a), row.unit) if row.a else "-"
    b = fmt(statistics.median(row.b), row.unit) if row.b else "-"
    ratios = row.ratios
    ratio = f"{statistics.median(ratios):.2f}x" if ratios else ""
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}x" if len(ratios) > 1 else ""
    if row.kind == "value" and len(row.a) > 1:
        spread = f"{fmt(min(row.a), row.unit)}-{fmt(max(row.a), row.unit)}"
    meets = {True: "yes", False: "NO", None: ""}[row.meets()]
    return [label, row.db, a, b, ratio, spread, row.target, meets]


HEADER = ["benchmark (A vs B)", "db", "A median", "B median", "ratio", "min-max", "target", "met"]


def table(rows: list[Row], markdown: bool = False) -> str:
    """The rows as an aligned text table, or a Markdown one for the docs."""
    cells = [HEADER] + [describe(row) for row in rows]
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in line) + " |" for line in cells[1:]]
        return "\n".join(lines)
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]
    widths[2] = min(widths[2], 60)
    out = []
    for index, line in enumerate(cells):
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def legend(rows: list[Row]) -> str:
    """What A and B are in each row, and its notes: the table stays narrow."""
    lines = []
    for row in rows:
        line = f"{row.bench} {row.name} [{row.db}]: A = {row.a_label}"
        if row.kind != "value":
            line += f"; B = {row.b_label}"
        if row.note:
            line += f". {row.note}"
        lines.append(line)
    return "\n".join(lines)
