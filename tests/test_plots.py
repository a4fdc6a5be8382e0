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


# --- charts a manager can read (issue 16) ---------------------------------------------------

def _title(ax) -> str:
    return ax.get_title("left") or ax.get_title()


def _drawn(fig):
    fig.canvas.draw()  # tick labels are only final once drawn
    return fig


def _visible_ticks(ax, axis: str = "y") -> list[tuple[float, str]]:
    lo, hi = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    axis_ = ax.yaxis if axis == "y" else ax.xaxis
    return [(t.get_position()[1 if axis == "y" else 0], t.get_text())
            for t, loc in zip(axis_.get_ticklabels(), axis_.get_ticklocs(), strict=True)
            if lo - 1e-9 <= loc <= hi + 1e-9]


def _assert_round_percent_ticks(ax, axis: str = "y") -> None:
    ticks = _visible_ticks(ax, axis)
    assert len(ticks) >= 2, ticks
    values = [v for v, _ in ticks]
    steps = {round(b - a, 9) for a, b in zip(values, values[1:], strict=False)}
    assert len(steps) == 1, ticks
    step = steps.pop() * 100  # in percent
    mantissa = step / 10 ** np.floor(np.log10(step))
    assert round(mantissa, 6) in (1, 2, 5), (step, ticks)
    for value, text in ticks:  # the label says the tick's value exactly, not 2.5 % as "2 %"
        assert float(text.rstrip("%").replace("−", "-")) == pytest.approx(value * 100), ticks


def _metrics(lo: float = 0.63, hi: float = 0.68) -> pd.DataFrame:
    months = pd.period_range("2025-01", periods=12, freq="M")
    rate = np.linspace(lo, hi, 12)
    return pd.DataFrame({"month": months, "retention_rate": rate,
                         "retention_rate_exact": rate - 0.02,
                         "repeat_purchase_rate": np.linspace(0.02, 0.13, 12),
                         "aov": np.linspace(55, 61, 12),
                         "purchase_frequency": np.linspace(1.1, 1.2, 12)})


def test_use_style_sets_one_seaborn_theme_in_the_workbook_palette():
    plt.rcdefaults()
    plots.use_style()
    from matplotlib.colors import to_hex

    colours = [to_hex(c) for c in plt.rcParams["axes.prop_cycle"].by_key()["color"]]
    assert colours[:3] == [plots.PALETTE["primary"], plots.PALETTE["highlight"],
                           plots.PALETTE["secondary"]]
    assert plt.rcParams["axes.grid"] and not plt.rcParams["axes.spines.top"]
    assert plt.rcParams["axes.facecolor"] == "white"  # seaborn's whitegrid


def test_rates_start_at_zero_with_round_ticks_labelled_exactly():
    # today's retention panel read 63 %, 65 %, 68 % from a 62-69 % axis; repeat 2 %, 5 %, 8 %
    fig = _drawn(plots.period_metrics_panel(_metrics()))
    retention, repeat, aov, frequency = fig.axes
    for ax in (retention, repeat, aov, frequency):
        assert ax.get_ylim()[0] == 0, _title(ax)
    _assert_round_percent_ticks(retention)
    _assert_round_percent_ticks(repeat)
    pooled = pd.DataFrame({"period_number": range(8), "rate": [1, .13, .1, .09, .08, .07, .07,
                                                               .06],
                           "rate_low": 0.0, "rate_high": 0.2})
    fig = _drawn(plots.retention_curve(pooled))
    assert fig.axes[0].get_ylim()[0] == 0
    _assert_round_percent_ticks(fig.axes[0])
    table = _groups(5).assign(on_time_rate=np.linspace(0.9, 0.95, 5))
    fig = _drawn(plots.rate_bars(table, "region", "on_time_rate", "On time", "share"))
    assert fig.axes[0].get_xlim()[0] == 0
    _assert_round_percent_ticks(fig.axes[0], "x")
    plt.close("all")


def test_amount_axes_carry_the_currency_at_round_steps():
    monthly = pd.DataFrame({"month": pd.period_range("2025-01", periods=6, freq="M"),
                            "orders": [400, 420, 450, 430, 470, 535],
                            "revenue": [23_000.0, 25_500, 27_300, 26_100, 29_000, 32_262]})
    fig = _drawn(plots.monthly_orders_revenue(monthly, currency="€"))
    ticks = [t for _, t in _visible_ticks(fig.axes[1])]
    assert ticks and all(t.startswith("€") for t in ticks if t != "€0"), ticks
    assert ("€" in fig.axes[1].get_ylabel())
    fig = _drawn(plots.monthly_orders_revenue(monthly, currency="EUR"))
    assert "EUR 10k" in [t for _, t in _visible_ticks(fig.axes[1])]
    fig = _drawn(plots.monthly_orders_revenue(monthly))
    assert "10k" in [t for _, t in _visible_ticks(fig.axes[1])]  # no currency: plain numbers
    plt.close("all")


def _cohort_revenue(cohorts: int = 12) -> pd.DataFrame:
    rows = []
    for i, cohort in enumerate(pd.period_range("2025-01", periods=cohorts, freq="M")):
        for k in range(cohorts - i):
            rows.append({"cohort": cohort, "period_number": k, "reached": True,
                         "cumulative_revenue_per_customer": 60.0 + 8 * k})
    return pd.DataFrame(rows)


def _named_lines(ax) -> list[str]:
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_every_line_of_a_curve_chart_is_named_in_its_legend():
    # today the cumulative revenue chart drew 12 cohorts and named 2 of them
    fig = plots.cumulative_revenue(_cohort_revenue(12), currency="€")
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(ax.get_lines()) == 12 and len(legend) == 12
    assert legend == _named_lines(ax) and legend[0] == "2025-01" and legend[-1] == "2025-12"
    track = _track(10)
    fig = plots.tracking_chart(track)
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["actual", "model"]
        assert _named_lines(ax) == ["actual", "model"]
    fig = plots.period_metrics_panel(_metrics())
    assert len(fig.axes[0].get_legend().get_texts()) == len(fig.axes[0].get_lines()) == 2
    plt.close("all")


def _track(weeks: int) -> pd.DataFrame:
    start = pd.Timestamp("2026-06-01")
    actual = np.full(weeks, 50.0)
    return pd.DataFrame({"week_start": pd.date_range(start, periods=weeks, freq="7D"),
                         "actual": actual, "expected": actual * 1.02,
                         "actual_cumulative": actual.cumsum(),
                         "expected_cumulative": (actual * 1.02).cumsum(),
                         "holdout": np.arange(weeks) >= weeks - 4})


def test_the_weekly_model_check_leaves_a_partial_last_week_out():
    # today the chart ended in a cliff: a last week of two days drawn as a week
    track = _track(10)
    track.loc[9, ["actual", "expected"]] = [14.0, 14.5]  # two of its seven days
    last_day = track.week_start.iloc[9] + pd.Timedelta(days=1)
    fig = plots.tracking_chart(track, observation_end=last_day)
    weekly, cumulative = fig.axes
    assert all(len(line.get_xdata()) == 9 for line in weekly.get_lines())
    assert min(weekly.get_lines()[0].get_ydata()) == 50  # no cliff
    assert "partial week is left out" in _title(weekly)
    assert len(cumulative.get_lines()[0].get_xdata()) == 10  # cumulative keeps every day
    whole = track.week_start.iloc[9] + pd.Timedelta(days=6)
    fig = plots.tracking_chart(track, observation_end=whole)
    assert len(fig.axes[0].get_lines()[0].get_xdata()) == 10
    assert "partial" not in _title(fig.axes[0])
    plt.close("all")


def test_a_group_too_small_to_judge_does_not_stretch_the_axis():
    # today a segment with one answer at -100 stretched the NPS axis to -100
    table = pd.DataFrame({"segment": ["Champions", "Loyal", "New", "Lost"],
                          "n": [400, 350, 300, 1], "score": [42.0, 35.0, 28.0, -100.0],
                          "low": [36.0, 28.0, 20.0, -100.0], "high": [48.0, 42.0, 36.0, 60.0],
                          "small_n": [False, False, False, True]})
    fig = plots.score_by_group(table, "segment", "NPS by segment", percent=False)
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert 0 < lo < 20 and 48 < hi < 60  # the judged groups' intervals set the scale
    points = [line for line in ax.get_lines() if line.get_marker() in ("o", "<", ">")]
    small = [line for line in points if line.get_markerfacecolor() == "white"]
    assert len(small) == 1 and small[0].get_marker() == "<"  # drawn hollow, at the edge
    assert lo <= small[0].get_xdata()[0] <= hi
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any("−100, off the scale" in t for t in labels), labels
    assert "too few answers" in ax.get_xlabel()
    # shares: the axis starts at zero, and a small group inside it is just hollow
    shares = table.assign(score=[0.8, 0.75, 0.7, 0.5], low=[0.75, 0.7, 0.64, 0.0],
                          high=[0.85, 0.8, 0.76, 1.0])
    ax = plots.score_by_group(shares, "segment", "CSAT", percent=True).axes[0]
    assert ax.get_xlim()[0] == 0 and ax.get_xlim()[1] < 0.95
    plt.close("all")


def test_small_groups_are_hollow_bars_and_currency_prefix_rules():
    table = _groups(5)
    fig = plots.rate_bars(table.assign(small_n=[False] * 4 + [True]), "region",
                          "on_time_rate", "On time", "share")
    faces = [tuple(p.get_facecolor()[:3]) for p in fig.axes[0].patches]
    assert faces.count((1.0, 1.0, 1.0)) == 1
    assert plots.currency_prefix("€") == "€" and plots.currency_prefix("kr") == "kr "
    assert plots.currency_prefix("\u202e$") == "$"
    plt.close("all")


def test_curve_panels_say_in_words_whether_curves_differ_not_the_test():
    rows = [pd.DataFrame({"group": g, "days": np.arange(0, 100, 10.0),
                          "reordered_share": np.arange(0, 100, 10.0) / d, "at_risk": 100})
            for g, d in (("on time", 200), ("late", 300))]
    curve = pd.concat(rows, ignore_index=True)
    fig = plots.reorder_curves_grid([("First delivery", curve, 1e-14, "on time"),
                                     ("First order returned", curve, 0.4, "on time")])
    titles = [_title(ax) for ax in fig.axes[:2]]
    assert titles == ["First delivery: differ clearly", "First order returned: no clear "
                      "difference"]
    assert not any("log-rank" in t or "p =" in t for t in titles)
    plt.close("all")


def test_colour_bars_of_shares_have_round_ticks_labelled_exactly():
    # the cohort heatmap's colour bar read 0 %, 2 %, 5 %, 8 %, 12 % (2.5 % steps, rounded)
    cohorts = pd.period_range("2025-01", periods=6, freq="M")
    matrix = pd.DataFrame(np.tile([1.0, 0.19, 0.12, 0.1], (6, 1)), index=cohorts,
                          columns=range(4))
    fig = _drawn(plots.cohort_heatmap(matrix))
    _assert_round_percent_ticks(fig.axes[1])
    plt.close("all")


def test_a_curve_of_too_few_customers_is_drawn_apart_and_said():
    # the support-ticket panel drew "open" (11 customers) like the groups of thousands
    days = np.arange(0, 100, 10.0)
    curve = pd.concat([pd.DataFrame({"group": g, "days": days, "reordered_share": days / d,
                                     "low": days / (d + 50), "high": days / (d - 50),
                                     "at_risk": np.linspace(n, n / 2, len(days))})
                       for g, n, d in (("none", 3000, 200), ("open", 11, 500))],
                      ignore_index=True)
    for fig in (plots.reorder_curves_grid([("Ticket", curve, 0.3, "none")]),
                plots.reorder_curves(curve)):
        ax = fig.axes[0]
        lines = {line.get_label(): line for line in ax.get_lines()
                 if not line.get_label().startswith("_")}
        assert set(lines) == {"none", "open (n=11, too few to judge)"}
        assert lines["open (n=11, too few to judge)"].get_linestyle() == ":"
        assert lines["none"].get_linestyle() == "-"
    assert len(fig.axes[0].collections) == 1  # one band: none for the small group
    plt.close("all")


def test_the_experience_report_draws_the_repurchase_curves_once():
    # 04 drew the late-delivery curves in the grid and then again alone; the identical-image
    # check of the notebook tests cannot see a chart drawn twice at two sizes
    import json
    from pathlib import Path

    notebook = Path(__file__).parents[1] / "notebooks" / "04_experience.ipynb"
    code = "".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                   if c["cell_type"] == "code")
    assert code.count("plots.reorder_curves(") == 0  # the grid shows them, once
