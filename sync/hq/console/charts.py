"""Charts as SVG drawn here, on the server: no script, no chart library, nothing from the network.

Each function returns the `<svg>` as Markup. Every piece of text in it (a category, a station id,
a week) goes through `escape`, the same as in the templates. Each chart has a `<title>` and a
`<desc>` for screen readers, and the page shows the same figures as a table beside it; series
differ by dash pattern and marker shape as well as colour, so they read in grey too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

INK, MUTED, GRID = "#1b1b1b", "#4a4a4a", "#d5d8dc"
SERIES = [("#0a4fa3", "", "circle"), ("#a40e26", "6 4", "square"), ("#0f6b2f", "2 3", "diamond")]
BAR = "#0a4fa3"
FONT = 'font-family="system-ui, sans-serif" font-size="13"'


def nice_max(value: float) -> float:
    """The axis top: 1, 2, 2.5 or 5 times a power of ten, at or above `value`."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _svg(width: int, height: int, title: str, desc: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'{FONT}><title>{escape(title)}</title><desc>{escape(desc)}</desc>{"".join(body)}</svg>')


def bar_chart(rows: Sequence[tuple[str, float]], *, title: str, fmt: Callable[[float], str],
              width: int = 640) -> Markup:
    """Horizontal bars, one per row (label, value), largest scale first."""
    label_w, bar_h, gap, top = 170, 22, 8, 8
    height = top + max(1, len(rows)) * (bar_h + gap) + 8
    top_value = nice_max(max((v for _, v in rows), default=0.0))
    span = width - label_w - 90
    body: list[str] = []
    if not rows:
        body.append(f'<text x="8" y="24" fill="{MUTED}">Nothing this week</text>')
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = 0 if top_value == 0 else max(0.0, value) / top_value * span
        text = escape(label if len(label) <= 24 else label[:23] + "…")
        body.append(
            f'<text x="{label_w - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" fill="{INK}">{text}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{BAR}">'
            f'<title>{escape(label)}: {escape(fmt(value))}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h * 0.7:.1f}" fill="{INK}">{escape(fmt(value))}</text>')
    desc = "; ".join(f"{label}: {fmt(value)}" for label, value in rows) or "no data"
    return _svg(width, height, title, desc, body)


def _marker(shape: str, x: float, y: float, color: str, tip: str = "") -> str:
    inner = f"<title>{escape(tip)}</title>" if tip else ""
    if shape == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{color}">{inner}</rect>'
    if shape == "diamond":
        return (f'<path d="M{x:.1f} {y - 5:.1f}L{x + 5:.1f} {y:.1f}L{x:.1f} {y + 5:.1f}L{x - 5:.1f} {y:.1f}Z" '
                f'fill="{color}">{inner}</path>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}">{inner}</circle>'


def _frame(weeks: Sequence[str], top_value: float, fmt: Callable[[float], str], width: int, height: int,
           left: int, bottom: int) -> tuple[list[str], Callable[[int], float], Callable[[float], float]]:
    plot_w, plot_h = width - left - 16, height - bottom - 12
    step = plot_w / max(1, len(weeks))

    def x(i: int) -> float:
        return left + step * (i + 0.5)

    def y(v: float) -> float:
        return 12 + plot_h - (v / top_value * plot_h if top_value else 0)

    body = []
    for k in range(5):
        v = top_value * k / 4
        body.append(f'<line x1="{left}" x2="{width - 16}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{GRID}"/>'
                    f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="{MUTED}">{escape(fmt(v))}</text>')
    for i, week in enumerate(weeks):
        body.append(f'<text x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle" fill="{MUTED}">'
                    f'{escape(week[-3:])}</text>')
    body.append(f'<line x1="{left}" x2="{width - 16}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="{INK}"/>')
    return body, x, y


def line_chart(weeks: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *, title: str,
               fmt: Callable[[float], str], width: int = 640, height: int = 240) -> Markup:
    """One line per series over the weeks; a week with no figure leaves a gap."""
    top_value = nice_max(max((v for _, vs in series for v in vs if v is not None), default=0.0))
    left, bottom = 64, 56
    body, x, y = _frame(weeks, top_value, fmt, width, height, left, bottom)
    descs = []
    for n, (name, values) in enumerate(series):
        color, dash, shape = SERIES[n % len(SERIES)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
            body.append(_marker(shape, x(i), y(v), color, f"{name} {weeks[i]}: {fmt(v)}"))
        for run in runs:
            if len(run) > 1:
                body.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="2.5"'
                            + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        lx = left + n * 170
        body.append(f'<line x1="{lx}" x2="{lx + 28}" y1="{height - 14}" y2="{height - 14}" stroke="{color}" '
                    f'stroke-width="2.5"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>"
                    + _marker(shape, lx + 14, height - 14, color)
                    + f'<text x="{lx + 34}" y="{height - 10}" fill="{INK}">{escape(name)}</text>')
        descs.append(f"{name}: " + ", ".join(f"{w} {fmt(v) if v is not None else 'none'}"
                                             for w, v in zip(weeks, values, strict=True)))
    return _svg(width, height, title, "; ".join(descs), body)


def column_chart(weeks: Sequence[str], values: Sequence[float | None], *, title: str, fmt: Callable[[float], str],
                 width: int = 640, height: int = 220) -> Markup:
    """One column per week (working capital released)."""
    top_value = nice_max(max((v for v in values if v is not None), default=0.0))
    left, bottom = 80, 36
    body, x, y = _frame(weeks, top_value, fmt, width, height, left, bottom)
    col = (width - left - 16) / max(1, len(weeks)) * 0.6
    for i, v in enumerate(values):
        if v is None:
            continue
        body.append(f'<rect x="{x(i) - col / 2:.1f}" y="{y(v):.1f}" width="{col:.1f}" height="{y(0) - y(v):.1f}" '
                    f'fill="{BAR}"><title>{escape(weeks[i])}: {escape(fmt(v))}</title></rect>')
    desc = ", ".join(f"{w}: {fmt(v) if v is not None else 'none'}" for w, v in zip(weeks, values, strict=True))
    return _svg(width, height, title, desc, body)
