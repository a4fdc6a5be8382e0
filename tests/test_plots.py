"""Charts with labels from the data: drawn as plain text, capped in length and number."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib import cbook

from ppxlib import plots

HOSTILE = [r"$\undefinedmacro$", r"$\frac{a}{b}$", "x" * 3000, "ab\x1b[31m\u202ecd", "$5 off"]


def _png_size(fig) -> tuple[int, int]:
    """Width and height in pixels of the figure as the notebooks' inline backend saves it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    header = buffer.getvalue()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


def _labels(fig) -> list[str]:
    texts = []
    for ax in fig.axes:
        texts += [t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels()]
        legend = ax.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
    return [t for t in texts if t]


def test_plain_label_is_never_mathtext_and_is_capped():
    for label in HOSTILE:
        shown = plots.plain_label(label)
        assert not cbook.is_math_text(shown), label
        assert len(shown) <= plots.MAX_LABEL_CHARS + 4  # escaped $ count double
    assert plots.plain_label("ab\x1b[31m\u202ecd\x00") == "ab[31mcd"
    assert plots.plain_label("a\n\n b") == "a b"
    assert plots.plain_label("x" * 41) == "x" * 39 + "…"


def _groups(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    names = HOSTILE + [f"region {i}" for i in range(n - len(HOSTILE))]
    delivered = rng.integers(1, 500, n)
    delivered[:len(HOSTILE)] = 10_000  # the hostile ones are among the largest: drawn
    rate = rng.uniform(0.5, 1, n)
    return pd.DataFrame({"region": names, "delivered": delivered, "on_time_rate": rate,
                         "low": rate - 0.05, "high": np.minimum(rate + 0.05, 1),
                         "score": rate, "n": delivered, "small_n": delivered < 30})


@pytest.mark.parametrize("groups", [5, 2500])
def test_bar_and_dot_charts_draw_hostile_labels_literally_at_a_normal_size(groups):
    table = _groups(groups)
    for fig in (plots.rate_bars(table, "region", "on_time_rate", "On time", "share"),
                plots.score_by_group(table, "region", "CSAT by region")):
        labels = _labels(fig)
        assert not any(cbook.is_math_text(t) for t in labels), labels
        assert any(r"\frac{a}{b}" in t for t in labels)  # drawn, as text
        drawn = len(fig.axes[0].get_yticklabels())
        assert drawn == min(groups, plots.MAX_GROUPS)
        if groups > plots.MAX_GROUPS:
            assert f"{groups - plots.MAX_GROUPS:,} smaller ones not drawn" in (
                fig.axes[0].get_xlabel())
        width, height = _png_size(fig)  # rendering fails on mathtext or grows with labels
        assert width < 1300 and height < 1500, (width, height)


def test_curve_charts_draw_hostile_legends_and_at_most_a_few_lines():
    rows = []
    for i, group in enumerate(HOSTILE + [f"channel {i}" for i in range(40)]):
        days = np.arange(0, 100, 10.0)
        rows.append(pd.DataFrame({"group": group, "days": days, "reordered_share": days / 200,
                                  "low": days / 250, "high": days / 150,
                                  "at_risk": 1000 - i}))
    curve = pd.concat(rows, ignore_index=True)
    fig = plots.reorder_curves(curve)
    assert len(fig.axes[0].get_lines()) == plots.MAX_LINES + 3  # the 30/90/180-day marks
    legend = fig.axes[0].get_legend().get_title().get_text()
    assert f"{45 - plots.MAX_LINES} smaller groups not drawn" in legend
    assert not any(cbook.is_math_text(t) for t in _labels(fig))
    width, height = _png_size(fig)
    assert width < 1300 and height < 800
    grid = plots.reorder_curves_grid([(r"$\undefinedmacro$", curve, 0.01, HOSTILE[1])])
    assert not any(cbook.is_math_text(t) for t in _labels(grid))
    _png_size(grid)
    tickets = curve.rename(columns={"days": "hours", "reordered_share": "resolved_share"})
    width, height = _png_size(plots.resolution_curves(tickets))
    assert width < 1300 and height < 800


def test_clv_and_forest_charts_draw_hostile_labels():
    table = pd.DataFrame({"estimate": [10.0, 20.0, 30.0], "low": [5.0, 15, 25],
                          "high": [15.0, 25, 35]}, index=HOSTILE[:3])
    fig = plots.clv_by_group(table, "CLV by channel")
    assert not any(cbook.is_math_text(t) for t in _labels(fig))
    assert _png_size(fig)[0] < 1300
    effects = pd.DataFrame({"label": HOSTILE, "difference": [-0.1, 0.0, 0.05, 0.1, 0.02],
                            "difference_low": [-0.2, -0.1, -0.05, 0.05, -0.01],
                            "difference_high": [-0.05, 0.1, 0.1, 0.2, 0.05]})
    fig = plots.difference_forest(effects)
    assert not any(cbook.is_math_text(t) for t in _labels(fig))
    assert _png_size(fig)[0] < 1600  # its labels may be twice as long
