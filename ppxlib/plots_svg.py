"""Small inline SVG charts for pages that must open offline and run no script.

They only draw: positions and values come computed. Every label is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

LINE = "#2f6690"
LATEST = "#d1495b"
GRID = "#d9dee3"


def _finite(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def sparkline(values: Sequence[float | None], label: str, width: int = 180,
              height: int = 40, start: str = "", end: str = "") -> str:
    """A trend line of ``values`` (one per period, None where there is none) as inline SVG.

    Consecutive periods are joined by a line; a gap (None) breaks it, and a period with no
    neighbour is drawn as a dot. The last value is marked. The line spans its own range
    (lowest to highest value), so the chart shows the shape of the trend, not the size of
    the change; ``label`` becomes the SVG's accessible name and tooltip, and ``start`` and
    ``end`` (e.g. "Oct 2025", "Oct 2026") are written under the line.

    Examples
    --------
    >>> svg = sparkline([1.0, None, 2.0, 3.0], "Revenue by month")
    >>> svg.startswith("<svg") and 'aria-label="Revenue by month"' in svg
    True
    >>> svg.count("<polyline"), svg.count("<circle")  # a dot, a line, the latest point
    (1, 2)
    >>> "<polyline" in sparkline([None, None], "nothing")
    False
    """
    name = html.escape(label, quote=True)
    axis = 11 if start or end else 0
    plot_h = height - axis
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="ppx-spark" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{name}"><title>{name}</title>')
    marks = [f'<line x1="0" y1="{plot_h - 0.5}" x2="{width}" y2="{plot_h - 0.5}" '
             f'stroke="{GRID}" stroke-width="1"/>']
    known = [v for v in values if _finite(v)]
    if known:
        low, high = min(known), max(known)
        span = high - low
        pad = 4

        def x(i: int) -> float:
            return pad + (width - 2 * pad) * (i / (len(values) - 1) if len(values) > 1 else .5)

        def y(v: float) -> float:
            share = (v - low) / span if span else 0.5
            return round(plot_h - pad - share * (plot_h - 2 * pad), 1)

        run: list[tuple[float, float]] = []
        for i, value in enumerate([*values, None]):
            if i < len(values) and _finite(value):
                run.append((round(x(i), 1), y(value)))
                continue
            if len(run) > 1:
                points = " ".join(f"{a},{b}" for a, b in run)
                marks.append(f'<polyline points="{points}" fill="none" stroke="{LINE}" '
                             'stroke-width="1.6" stroke-linejoin="round"/>')
            elif run and i - 1 != len(values) - 1:  # a lone period (not the last: marked)
                marks.append(f'<circle cx="{run[0][0]}" cy="{run[0][1]}" r="1.8" '
                             f'fill="{LINE}"/>')
            run = []
        if _finite(values[-1]):
            marks.append(f'<circle cx="{round(x(len(values) - 1), 1)}" cy="{y(values[-1])}" '
                         f'r="2.6" fill="{LATEST}"/>')
    if start:
        marks.append(f'<text x="0" y="{height - 1}" font-size="9" fill="#777">'
                     f"{html.escape(start)}</text>")
    if end:
        marks.append(f'<text x="{width}" y="{height - 1}" font-size="9" fill="#777" '
                     f'text-anchor="end">{html.escape(end)}</text>')
    return head + "".join(marks) + "</svg>"
