"""Inline SVG charts: trend lines that break at missing months, escaped labels."""

from __future__ import annotations

import re

from ppxlib.plots_svg import sparkline


def _lines(svg: str) -> list[list[tuple[float, float]]]:
    return [[tuple(map(float, p.split(","))) for p in points.split()]
            for points in re.findall(r'<polyline points="([^"]+)"', svg)]


def test_a_gap_breaks_the_line_and_a_lone_month_is_a_dot():
    svg = sparkline([10.0, 20.0, None, 5.0, None, 15.0, 30.0], "revenue", width=68, height=40)
    first, second = _lines(svg)
    assert [x for x, _ in first] == [4.0, 14.0]  # months 0 and 1: 4 + 60 * i / 6
    assert [x for x, _ in second] == [54.0, 64.0]  # months 5 and 6
    lone = re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="1.8"', svg)
    assert lone == [("34.0", "36.0")]  # month 3, the lowest value: at the bottom
    latest = re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="2.6"', svg)
    assert latest == [("64.0", "4.0")]  # the highest value: at the top


def test_a_flat_line_sits_in_the_middle_and_labels_are_escaped():
    svg = sparkline([3.0, 3.0], '<b>"x"</b>', height=40)
    assert {y for _, y in _lines(svg)[0]} == {20.0}
    assert "<b>" not in svg and "&lt;b&gt;&quot;x&quot;" in svg
