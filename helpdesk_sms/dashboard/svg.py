"""Tiny server-side SVG charts: stacked bars, horizontal rate bars, a balance line.

No script and no library: the page works offline and the charts are plain markup a test
can read. Readable without colour: every series has its own texture as well as its own
colour (the patterns of :func:`defs`), bars carry their numbers as text, lines are labelled
where they end, and every shape has a ``<title>`` tooltip. Every text is escaped here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

#: (colour, texture) per series: Okabe–Ito colours (told apart by most colour-blind
#: readers), each with a different texture for those who cannot tell them at all.
PATTERNS: tuple[tuple[str, str], ...] = (
    ("#009E73", "solid"),
    ("#56B4E9", "diagonal"),
    ("#BBBBBB", "dots"),
    ("#D55E00", "cross"),
    ("#E69F00", "horizontal"),
    ("#CC79A7", "vertical"),
    ("#0072B2", "backdiagonal"),
    ("#F0E442", "grid"),
)

_TEXTURES = {
    "solid": "",
    "diagonal": '<path d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4" stroke="#fff" stroke-width="1.6"/>',
    "dots": '<circle cx="4" cy="4" r="1.6" fill="#333"/>',
    "cross": '<path d="M0,0 l8,8 M8,0 l-8,8" stroke="#fff" stroke-width="1.4"/>',
    "horizontal": '<path d="M0,2 h8 M0,6 h8" stroke="#333" stroke-width="1"/>',
    "vertical": '<path d="M2,0 v8 M6,0 v8" stroke="#fff" stroke-width="1.4"/>',
    "backdiagonal": '<path d="M-2,6 l4,4 M0,0 l8,8 M6,-2 l4,4" stroke="#fff" stroke-width="1.6"/>',
    "grid": '<path d="M0,4 h8 M4,0 v8" stroke="#333" stroke-width="0.8"/>',
}


def fill(index: int) -> str:
    """The ``fill`` of series ``index`` (patterns repeat after eight series)."""
    return f"url(#hsms-pattern-{index % len(PATTERNS)})"


def defs() -> SafeString:
    """The patterns, once per page, in an invisible SVG the charts refer to."""
    patterns = "".join(
        f'<pattern id="hsms-pattern-{i}" width="8" height="8" patternUnits="userSpaceOnUse">'
        f'<rect width="8" height="8" fill="{colour}"/>{_TEXTURES[texture]}</pattern>'
        for i, (colour, texture) in enumerate(PATTERNS)
    )
    return mark_safe(  # noqa: S308 - built from the constants above only
        f'<svg width="0" height="0" style="position:absolute" aria-hidden="true">'
        f"<defs>{patterns}</defs></svg>"
    )


def swatch(index: int) -> SafeString:
    """A legend's sample of series ``index``."""
    return mark_safe(  # noqa: S308 - no outside text
        f'<svg class="hsms-swatch" width="18" height="14" aria-hidden="true">'
        f'<rect width="18" height="14" fill="{fill(index)}" stroke="#333" stroke-width="0.6"/>'
        f"</svg>"
    )


def number(value: float | int | Decimal) -> str:
    """``1,234`` or ``12.5``: the figures written on and under the charts."""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round axis values from 0 to at least ``top`` (1, 2, 2.5 or 5 times a power of 10)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(ticks[-1] + step)
    return ticks


@dataclass(frozen=True)
class Series:
    """One stacked series: its name, pattern index and one value per bucket."""

    name: str
    pattern: int
    values: Sequence[float | int | Decimal]


WIDTH, HEIGHT = 760, 250
#: A balance line with more readings than this marks only its last one.
MAX_MARKERS = 48
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 18, 34


def stacked_bars(
    labels: Sequence[str],
    tooltips: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    unit: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """Bars per bucket, one stacked segment per series; the bar's total written above it."""
    buckets = len(labels)
    totals = [sum(float(s.values[i]) for s in series) for i in range(buckets)]
    ticks = nice_ticks(max(totals, default=0))
    top = ticks[-1]
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    slot = plot_w / max(buckets, 1)
    bar = max(slot * 0.72, 2)
    out = [_open(title, width, height)]
    out += _y_axis(ticks, top, plot_w, plot_h, unit)
    every = max(1, math.ceil(44 / slot))  # a label needs about 44 units
    for i in range(buckets):
        x = LEFT + i * slot + (slot - bar) / 2
        y = float(TOP + plot_h)
        segments = []
        for s in series:
            value = float(s.values[i])
            if value <= 0:
                continue
            h = value / top * plot_h
            y -= h
            segments.append(
                f'<rect class="hsms-bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{fill(s.pattern)}" stroke="#333" stroke-width="0.4">'
                f"<title>{escape(tooltips[i])}: {escape(s.name)} {escape(number(value))}"
                f"{escape(unit and ' ' + unit)}</title></rect>"
            )
        out.append(f'<g class="hsms-bucket">{"".join(segments)}</g>')
        if totals[i] > 0:
            size = 10 if slot >= 26 else 8
            out.append(
                f'<text class="hsms-total" x="{x + bar / 2:.1f}" y="{y - 3:.1f}" '
                f'font-size="{size}" text-anchor="middle">{escape(number(totals[i]))}</text>'
            )
        if i % every == 0 or i == buckets - 1:
            out.append(
                f'<text x="{x + bar / 2:.1f}" y="{TOP + plot_h + 14}" font-size="10" '
                f'text-anchor="middle">{escape(labels[i])}</text>'
            )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every outside text escaped above


def rate_bars(rows: Sequence[tuple[str, float | None, str]], *, title: str) -> SafeString:
    """One horizontal bar per row: its label, the share as a bar, and the figures as text."""
    line, label_w, text_w = 24, 110, 200
    width = 500
    bar_w = width - label_w - text_w - 16
    height = max(len(rows), 1) * line + 8
    out = [_open(title, width, height)]
    for i, (label, share, text) in enumerate(rows):
        y = 4 + i * line
        out.append(
            f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"{escape(_clip(label, 22))}<title>{escape(label)}</title></text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" fill="#f2f2f2" '
            f'stroke="#999" stroke-width="0.6"/>'
        )
        if share is not None and share > 0:
            out.append(
                f'<rect class="hsms-bar" x="{label_w}" y="{y + 3}" width="{bar_w * share:.1f}" '
                f'height="16" fill="{fill(0)}" stroke="#333" stroke-width="0.4">'
                f"<title>{escape(label)}: {escape(text)}</title></rect>"
            )
        out.append(
            f'<text x="{label_w + bar_w + 8}" y="{y + 15}" font-size="12">{escape(text)}</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every outside text escaped above


def balance_line(
    points: Sequence[tuple[datetime, Decimal]],
    start: datetime,
    end: datetime,
    *,
    title: str,
    unit: str,
    when: str = "%m-%d %H:%M",
) -> SafeString:
    """A balance over time, each reading marked, the latest one written where the line ends."""
    width, height = 360, 150
    left, right, top_pad, bottom = 56, 70, 12, 26
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    amounts = [float(a) for _, a in points]
    ticks = nice_ticks(max(amounts, default=0))
    top = ticks[-1] or 1.0
    span = max((end - start).total_seconds(), 1.0)

    def xy(moment: datetime, amount: float) -> tuple[float, float]:
        seconds = min(max((moment - start).total_seconds(), 0.0), span)
        return left + seconds / span * plot_w, top_pad + plot_h - amount / top * plot_h

    out = [_open(title, width, height)]
    for tick in ticks:
        _, y = xy(start, tick)
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">'
            f"{escape(number(tick))}</text>"
        )
    coords = [xy(m, a) for m, a in zip((m for m, _ in points), amounts, strict=True)]
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        out.append(
            f'<polyline class="hsms-line" points="{path}" fill="none" stroke="#0072B2" '
            f'stroke-width="2"/>'
        )
    marked = list(zip(points, coords, strict=True))
    if len(marked) > MAX_MARKERS:  # a dense line: mark only where it ends
        marked = marked[-1:]
    for (moment, amount), (x, y) in marked:
        out.append(
            f'<rect class="hsms-point" x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" '
            f'fill="#0072B2"><title>{escape(moment.strftime(when))}: '
            f"{escape(number(amount))} {escape(unit)}</title></rect>"
        )
    if coords:
        x, y = coords[-1]
        out.append(
            f'<text class="hsms-latest" x="{x + 6:.1f}" y="{y + 4:.1f}" font-size="11" '
            f'font-weight="bold">{escape(number(amounts[-1]))}</text>'
        )
    for moment, anchor in ((start, "start"), (end, "end")):
        x, _ = xy(moment, 0)
        out.append(
            f'<text x="{x:.1f}" y="{height - 8}" font-size="9" text-anchor="{anchor}">'
            f"{escape(moment.strftime(when))}</text>"
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every outside text escaped above


def _open(title: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    return (
        f'<svg class="hsms-chart" viewBox="0 0 {width} {height}" width="100%" '
        f'style="max-width:{width}px" role="img" aria-label="{escape(title)}" '
        f'font-family="sans-serif"><title>{escape(title)}</title>'
    )


def _y_axis(ticks: list[float], top: float, plot_w: float, plot_h: float, unit: str) -> list[str]:
    out = []
    for tick in ticks:
        y = TOP + plot_h - tick / top * plot_h
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y + 3:.1f}" font-size="10" text-anchor="end">'
            f"{escape(number(tick))}</text>"
        )
    if unit:
        out.append(f'<text x="4" y="{TOP - 6}" font-size="10">{escape(unit)}</text>')
    return out


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"
