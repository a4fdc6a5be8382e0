"""Figures for the reports. Every function takes already computed frames and returns a Figure.

Plotting never computes metrics: it only draws what :mod:`ppxlib.kpis` and the other
computation modules return. One palette and one style keep all reports consistent.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # reports render without a display; notebooks may switch to inline

import re  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

#: The workbook's colours: the primary series, a second series, the highlight, muted context.
PALETTE = {"primary": "#2f6690", "secondary": "#3a7d44", "highlight": "#d1495b",
           "muted": "#b8c4ce", "text": "#333333"}


#: Characters that are no text: C0/C1 controls (tab and newline kept), DEL, and the Unicode
#: bidirectional overrides and isolates, which can make a label read backwards.
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: The longest data label drawn, in characters (longer ones end in "…").
MAX_LABEL_CHARS = 40
#: The most groups a bar or dot chart draws (the largest ones), and lines a curve chart draws.
MAX_GROUPS = 30
MAX_LINES = 8


def plain_label(value: object, max_chars: int = MAX_LABEL_CHARS) -> str:
    r"""A value from the data as a chart label matplotlib draws as it is, never as mathtext.

    Control characters and bidi overrides are dropped, runs of white space become one space,
    and the label is cut at ``max_chars`` characters. Every ``$`` is escaped: two of them
    would otherwise start matplotlib's mathtext, which draws ``$\frac{a}{b}$`` as a fraction
    and fails on an unknown macro. Use it for every label that comes from data (tick labels,
    legend entries, annotations).

    Examples
    --------
    >>> print(plain_label(r"$\frac{a}{b}$"))
    \$\frac{a}{b}\$
    >>> plain_label("x" * 50)
    'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'
    """
    text = " ".join(INVISIBLE.sub("", str(value)).split())
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return text.replace("$", r"\$")


def _largest(data: pd.DataFrame, size: str | None, limit: int) -> tuple[pd.DataFrame, int]:
    """The ``limit`` rows with the largest ``size`` (kept in their order), and how many not.

    Without a size column the first ``limit`` rows are kept.
    """
    if len(data) <= limit:
        return data, 0
    if size is None:
        return data.head(limit), len(data) - limit
    largest = data[size].to_numpy().argsort(kind="stable")[::-1][:limit]
    return data.iloc[sorted(largest)], len(data) - limit


def _size_column(data: pd.DataFrame) -> str | None:
    return next((c for c in ("n", "customers", "orders", "delivered", "tickets")
                 if c in data.columns), None)


def _left_out(label: str, left_out: int, limit: int) -> str:
    """An axis label saying how many smaller groups a chart leaves out."""
    if not left_out:
        return label
    note = f"the {limit} largest groups; {left_out:,} smaller ones not drawn"
    return f"{label}\n({note})" if label else f"({note})"


def _capped_groups(curve: pd.DataFrame, size: str | None, limit: int = MAX_LINES
                   ) -> tuple[pd.DataFrame, int]:
    """A curve frame keeping its ``limit`` largest groups (by the largest ``size``)."""
    if "group" not in curve:
        return curve, 0
    sizes = (curve.groupby("group", sort=False)[size].max() if size
             else curve.groupby("group", sort=False).size())
    if len(sizes) <= limit:
        return curve, 0
    keep = sizes.sort_values(ascending=False, kind="stable").index[:limit]
    return curve[curve.group.isin(keep)], len(sizes) - limit


def _legend(ax, left_out: int, **kwargs) -> None:
    title = kwargs.pop("title", None)
    if left_out:
        more = f"{left_out:,} smaller groups not drawn"
        title = f"{title}; {more}" if title else more
    ax.legend(title=title, **kwargs)


#: The colours of the lines or groups of one chart, in order (the reference group first).
SERIES = [PALETTE["primary"], PALETTE["highlight"], PALETTE["secondary"], "#8c6bb1", "#e08214",
          "#737373", "#17becf", "#bcbd22"]
#: Tick steps a reader can count in: 1, 2, 2.5 and 5 times a power of ten.
ROUND_STEPS = [1, 2, 2.5, 5, 10]
#: For shares, 2.5 is left out: 2.5 % ticks read as "2 %" or "3 %" when rounded.
PERCENT_STEPS = [1, 2, 5, 10]


def use_style() -> None:
    """Apply the workbook's one theme: seaborn's white grid in the workbook's palette.

    Set once per report (:func:`ppxlib.notebook.setup` calls it); every chart below draws
    in it, with readable sizes, a light grid and no top or right spines.
    """
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette=SERIES, font_scale=1.0, rc={
        "figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (9, 4.2),
        "font.size": 10.5, "axes.titlesize": 12, "axes.titleweight": "bold",
        "axes.titlelocation": "left", "axes.labelsize": 10.5, "axes.labelcolor": PALETTE["text"],
        "axes.edgecolor": "#999999", "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.color": "#e5e5e5", "grid.linewidth": 0.8,
        "axes.axisbelow": True, "legend.frameon": False, "xtick.color": PALETTE["text"],
        "ytick.color": PALETTE["text"], "xtick.labelsize": 9.5, "ytick.labelsize": 9.5,
    })


def currency_prefix(symbol: str) -> str:
    """What goes before an amount: ``"€"`` as it is, a code such as ``"EUR"`` with a space.

    Examples
    --------
    >>> currency_prefix("€"), currency_prefix("EUR"), currency_prefix("")
    ('€', 'EUR ', '')
    """
    symbol = " ".join(INVISIBLE.sub("", symbol or "").split())[:8]
    return symbol + " " if symbol[-1:].isalpha() else symbol


def _round_ticks(ax, axis: str = "y", steps: list[float] = ROUND_STEPS) -> None:
    """Ticks at round steps (0, 5, 10, ... or 0, 2.5, 5, ...), never 2, 5, 8, 12."""
    getattr(ax, f"{axis}axis").set_major_locator(mticker.MaxNLocator(nbins=6, steps=steps))


def _currency(ax, axis: str = "y", symbol: str = "") -> None:
    """Amounts on an axis, with the currency and k/M/B, at round steps."""
    prefix = currency_prefix(symbol).replace("$", r"\$")  # a "$" never starts mathtext

    def fmt(x, _pos):
        sign = "−" if x < 0 else ""
        x = abs(x)
        for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if x >= div:
                return f"{sign}{prefix}{x / div:,.1f}{suffix}".replace(".0" + suffix, suffix)
        return f"{sign}{prefix}{x:,.0f}" if x >= 10 or x == int(x) else f"{sign}{prefix}{x:,.1f}"

    _round_ticks(ax, axis)
    getattr(ax, f"{axis}axis").set_major_formatter(mticker.FuncFormatter(fmt))


def _percent_text(value: float) -> str:
    """A share as the percentage it is, with as many decimals as it needs: 0.025 -> 2.5%."""
    text = f"{value * 100:.6f}".rstrip("0").rstrip(".")
    return ("0" if text in ("-0", "") else text.replace("-", "−")) + "%"


def monthly_orders_revenue(monthly: pd.DataFrame, month: pd.Period | None = None,
                           months: int = 24, currency: str = "") -> Figure:
    """Bars of orders and revenue per month (last ``months`` months), the report month highlighted.

    Parameters
    ----------
    monthly : pandas.DataFrame
        :func:`ppxlib.kpis.monthly_activity` output.
    month : Period, optional
        The report month; drawn in the highlight colour, later months are left out.
    months : int
        How many months to show.
    currency : str
        Currency symbol for the revenue axis.
    """
    frame = monthly if month is None else monthly[monthly["month"] <= month]
    frame = frame.tail(months)
    labels = [p.strftime("%b\n%Y") if p.month == 1 or i == 0 else p.strftime("%b")
              for i, p in enumerate(frame["month"])]
    colours = [PALETTE["highlight"] if p == month else PALETTE["primary"]
               for p in frame["month"]]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.2), sharex=True,
                                      gridspec_kw={"hspace": 0.25})
    x = range(len(frame))
    top.bar(x, frame["orders"], color=colours, width=0.75)
    top.set_ylabel("orders per month")
    _counts(top)
    top.set_title("Orders")
    bottom.bar(x, frame["revenue"], color=colours, width=0.75)
    bottom.set_ylabel(f"revenue per month{_in(currency)}")
    _currency(bottom, symbol=currency)
    bottom.set_title("Revenue")
    bottom.set_xticks(list(x))
    bottom.set_xticklabels(labels, fontsize=9)
    for ax in (top, bottom):
        ax.grid(axis="x", visible=False)
    fig.align_ylabels()
    return fig


def _in(currency: str) -> str:
    """An axis label's unit: " (€)", or nothing without a currency."""
    symbol = currency_prefix(currency).strip().replace("$", r"\$")
    return f" ({symbol})" if symbol else ""


def _percent(ax, axis: str = "y") -> None:
    """Shares on an axis as percentages at round steps, each label its exact value."""
    _round_ticks(ax, axis, PERCENT_STEPS)
    getattr(ax, f"{axis}axis").set_major_formatter(
        mticker.FuncFormatter(lambda v, _p: _percent_text(v)))


def _points_text(value: float) -> str:
    """A difference of shares in percentage points, signed: 0.05 -> "+5 pp", 0 -> "0"."""
    if abs(value) < 1e-12:
        return "0"
    return ("+" if value > 0 else "") + _percent_text(value)[:-1] + " pp"


def _from_zero(ax, axis: str = "y", top: float | None = None) -> None:
    """A rate axis from zero (a line chart of 63-68 % must not look like a collapse)."""
    if axis == "y":
        ax.set_ylim(bottom=0, top=top)
    else:
        ax.set_xlim(left=0, right=top)


def _counts(ax, axis: str = "y") -> None:
    """Counts with thousands separators at round steps."""
    _round_ticks(ax, axis)
    getattr(ax, f"{axis}axis").set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))


def _xerr(estimate, low, high) -> list:
    """Error-bar lengths that are never negative or missing (degenerate intervals draw none)."""
    return [(estimate - low).clip(lower=0).fillna(0), (high - estimate).clip(lower=0).fillna(0)]


def _dates(ax) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _empty(message: str) -> Figure:
    fig, ax = plt.subplots(figsize=(9, 1.2))
    ax.axis("off")
    ax.text(0.0, 0.5, message, fontsize=11, color=PALETTE["text"], va="center")
    return fig


def cohort_heatmap(matrix: pd.DataFrame, value_label: str = "share of cohort ordering",
                   percent: bool = True, max_cohorts: int = 18, max_periods: int = 12,
                   title: str = "Retention by acquisition cohort") -> Figure:
    """Heatmap of a cohort × period matrix (NaN = not reached yet, left blank).

    Parameters
    ----------
    matrix : pandas.DataFrame
        :func:`ppxlib.cohorts.cohort_matrix` output.
    """
    import numpy as np

    if matrix.empty or matrix.shape[1] < 2:
        return _empty("No cohort has reached its second period yet.")
    m = matrix.iloc[-max_cohorts:, : max_periods + 1]
    values = m.to_numpy(dtype=float)
    shown = values.copy()
    shown[:, 0] = np.nan  # period 0 is 100% by definition; colour the rest
    fig, ax = plt.subplots(figsize=(9.5, 0.32 * len(m) + 1.4))
    finite = shown[np.isfinite(shown)]
    vmax = float(np.nanpercentile(finite, 98)) if finite.size else 1.0
    image = ax.imshow(shown, aspect="auto", cmap="Blues", vmin=0, vmax=vmax or 1.0)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if np.isfinite(v):
                text = f"{v:.0%}" if percent else f"{v:,.0f}"
                dark = np.isfinite(shown[i, j]) and shown[i, j] > 0.6 * vmax
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if dark else PALETTE["text"])
    ax.set_xticks(range(m.shape[1]))
    ax.set_xticklabels([str(c) for c in m.columns])
    ax.set_yticks(range(len(m)))
    ax.set_yticklabels([str(p) for p in m.index], fontsize=9)
    ax.set_xlabel("periods since first order (0 = acquisition period)")
    ax.set_ylabel("cohort (first order)")
    ax.grid(False)
    ax.set_title(title)
    bar = fig.colorbar(image, ax=ax, fraction=0.025, pad=0.01)
    bar.set_label(value_label)
    if percent:
        _percent(bar.ax)
    return fig


def retention_curve(pooled: pd.DataFrame, unit: str = "month",
                    title: str | None = None) -> Figure:
    """Pooled retention by period number with its Wilson interval (period 0 left out)."""
    data = pooled[pooled.period_number >= 1]
    if data.empty:
        return _empty("No cohort is old enough to show retention yet.")
    title = title or f"Share of customers ordering, by {unit}s since their first order"
    fig, ax = plt.subplots(figsize=(9, 3.8))
    ax.fill_between(data.period_number, data.rate_low, data.rate_high,
                    color=PALETTE["primary"], alpha=0.2, lw=0, label="95% interval")
    ax.plot(data.period_number, data.rate, color=PALETTE["primary"], marker="o", ms=4,
            label="all cohorts pooled")
    ax.set_xlabel(f"{unit}s since first order")
    ax.set_ylabel("share of cohort ordering")
    _from_zero(ax)
    _percent(ax)
    ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True, steps=ROUND_STEPS))
    ax.legend(loc="upper right")
    ax.set_title(title)
    return fig


def cumulative_revenue(retention: pd.DataFrame, cohorts: int = 12, currency: str = "",
                       unit: str = "month") -> Figure:
    """Cumulative revenue per acquired customer by cohort (the latest ``cohorts``)."""
    import matplotlib as mpl

    reached = retention[retention.reached]
    if reached.empty or reached.period_number.max() < 1:
        return _empty("No cohort has reached its second period yet.")
    keep = sorted(reached.cohort.unique())[-cohorts:]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    cmap = mpl.colormaps["viridis"]  # ordered: older cohorts dark, newer ones light
    for i, cohort in enumerate(keep):
        part = reached[reached.cohort == cohort]
        colour = cmap(0.85 * i / max(len(keep) - 1, 1))
        ax.plot(part.period_number, part.cumulative_revenue_per_customer, color=colour,
                lw=1.6, marker="o", ms=2.5, label=plain_label(cohort))
    ax.set_xlabel(f"{unit}s since first order")
    ax.set_ylabel(f"revenue per acquired customer{_in(currency)}")
    _currency(ax, symbol=currency)
    _from_zero(ax)
    ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True, steps=ROUND_STEPS))
    # every line named: one legend entry per cohort, beside the chart
    ax.legend(title="first order in", loc="upper left", bbox_to_anchor=(1.01, 1.0),
              fontsize=8.5, title_fontsize=9, ncol=1 if len(keep) <= 14 else 2)
    ax.set_title("Cumulative revenue per acquired customer")
    fig.tight_layout()
    return fig


def period_metrics_panel(metrics: pd.DataFrame, months: int = 24, currency: str = "") -> Figure:
    """Four small charts: retention (both versions), repeat rate, AOV, purchase frequency."""
    data = metrics.dropna(subset=["retention_rate"]).tail(months)
    if data.empty:
        return _empty("Not enough history for period metrics yet.")
    x = [p.to_timestamp() for p in data.month]
    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    (a, b), (c, d) = axes
    a.plot(x, data.retention_rate, color=PALETTE["primary"],
           label="retention rate (won back count as kept)")
    a.plot(x, data.retention_rate_exact, color=PALETTE["secondary"], ls="--",
           label="share kept (start customers only)")
    a.set_title("Monthly retention")
    a.legend(loc="lower left", fontsize=8.5)
    _from_zero(a, top=1)
    _percent(a)
    b.plot(x, data.repeat_purchase_rate, color=PALETTE["primary"])
    b.set_title("Repeat purchase rate (365 days)")
    _from_zero(b)
    _percent(b)
    c.plot(x, data.aov, color=PALETTE["primary"])
    c.set_title(f"Average order value{_in(currency)}")
    _from_zero(c)
    _currency(c, symbol=currency)
    d.plot(x, data.purchase_frequency, color=PALETTE["primary"])
    d.set_title("Orders per buyer in the month")
    _from_zero(d)
    _round_ticks(d)
    for ax in axes.flat:
        _dates(ax)
    fig.tight_layout()
    return fig


def reorder_curves(curve: pd.DataFrame, horizon_days: int = 365,
                   title: str = "Share of customers who have placed a second order",
                   colours: dict[str, str] | None = None, min_n: int = 30) -> Figure:
    """Share reordered by days since the first order (Kaplan-Meier), with 95% bands.

    ``colours`` maps group names to colours (e.g. the worse experience in the highlight).
    The 30-, 90- and 180-day marks are labelled on the chart; every curve is in the legend.
    Groups of fewer than ``min_n`` customers are drawn thin and dotted, without a band.
    """
    fig, ax = plt.subplots(figsize=(9, 3.8))
    curve, left_out = _capped_groups(curve, "at_risk" if "at_risk" in curve else None)
    groups = curve.groupby("group", sort=True) if "group" in curve else [(None, curve)]
    chosen = colours
    for i, (group, part) in enumerate(groups):
        part = part[part.days <= horizon_days]
        colour = (chosen or {}).get(group, SERIES[i % len(SERIES)])
        style = {} if group is None else _curve_style(curve, group, min_n)
        ax.step(part.days, part.reordered_share, where="post", color=colour, **style)
        if "ls" not in style:  # a band around a handful of customers is mostly noise
            ax.fill_between(part.days, part.low, part.high, step="post", color=colour,
                            alpha=0.15, lw=0)
    _day_marks(ax, horizon_days)
    ax.set_xlim(0, horizon_days)
    _from_zero(ax)
    ax.set_xlabel("days since first order")
    ax.set_ylabel("share reordered")
    _percent(ax)
    if "group" in curve:
        _legend(ax, left_out, loc="lower right")
    ax.set_title(title)
    return fig


def _curve_style(curve: pd.DataFrame, group, min_n: int) -> dict:
    """A curve's label and line: thin and dotted, and said, for a group below ``min_n``.

    The group's size is its most customers at risk (those at the curve's start).
    """
    label = plain_label(group)
    if "at_risk" not in curve:
        return {"label": label}
    size = int(curve.loc[curve.group == group, "at_risk"].max())
    if size >= min_n:
        return {"label": label}
    return {"label": f"{label} (n={size:,}, too few to judge)", "ls": ":", "lw": 1.2,
            "alpha": 0.8}


def _day_marks(ax, horizon_days: float, marks: tuple[int, ...] = (30, 90, 180),
               unit: str = "days") -> None:
    """Dotted verticals at the marks, each labelled at the top (a line the legend omits)."""
    for h in marks:
        if h <= horizon_days:
            ax.axvline(h, color=PALETTE["muted"], lw=0.8, ls=":")
            ax.text(h, 1.0, f" {h} {unit}", transform=ax.get_xaxis_transform(), fontsize=8,
                    color="#777777", va="top", ha="left")


STATE_COLOURS = {"new": "#9ecae1", "active": "#2f6690", "reactivated": "#3a7d44",
                 "sleeping": "#f4a259", "lost": "#d9d9d9"}


def lifecycle_areas(states: pd.DataFrame, months: int = 24) -> Figure:
    """Stacked areas of customers by lifecycle state at each month end."""
    data = states.tail(months)
    if data.empty:
        return _empty("No customers yet.")
    x = [p.to_timestamp() for p in data.month]
    order = ["lost", "sleeping", "active", "reactivated", "new"]
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.stackplot(x, *[data[s] for s in order], labels=order,
                 colors=[STATE_COLOURS[s] for s in order], alpha=0.95)
    ax.set_ylabel("customers at month end")
    _counts(ax)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="upper left", ncol=5, fontsize=9)
    ax.set_title("Customers by lifecycle state")
    ax.margins(x=0)
    return fig


def p_alive_histogram(p_alive: pd.Series) -> Figure:
    """Distribution of customers' probability of still being active."""
    fig, ax = plt.subplots(figsize=(9, 3.4))
    ax.hist(p_alive.to_numpy(), bins=[i / 20 for i in range(21)], color=PALETTE["primary"],
            edgecolor="white")
    ax.set_xlabel("chance the customer is still active")
    ax.set_ylabel("customers")
    _percent(ax, axis="x")
    _counts(ax)
    ax.set_title("How likely customers are to still be active")
    return fig


def p_alive_heatmap(matrix: pd.DataFrame, unit: str = "weeks") -> Figure:
    """The chance of still being active by repeat purchases (rows) and recency (columns)."""
    import numpy as np

    values = matrix.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(matrix) + 1.6))
    image = ax.imshow(values, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, origin="lower")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                dark = values[i, j] < 0.2 or values[i, j] > 0.85  # the ends of the colours
                ax.text(j, i, f"{values[i, j]:.0%}", ha="center", va="center", fontsize=7.5,
                        color="white" if dark else PALETTE["text"])
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_xticklabels([f"{c:.0f}" for c in matrix.columns])  # whole weeks, not 6.6, 13.2
    ax.set_yticks(range(len(matrix)))
    ax.set_yticklabels([str(i) for i in matrix.index], fontsize=8)
    ax.set_xlabel(f"recency: {unit} from first to last purchase")
    ax.set_ylabel("repeat purchases")
    ax.grid(False)
    bar = fig.colorbar(image, ax=ax, fraction=0.025, pad=0.01)
    bar.set_label("chance still active")
    _percent(bar.ax)
    ax.set_title("Chance still active by purchase history (customer of median age)")
    return fig


def whole_weeks(track: pd.DataFrame, observation_end=None) -> pd.DataFrame:
    """The weeks of a tracking frame that end by ``observation_end`` (its last day, inclusive).

    A week cut by the end of the data holds only its first days: drawn as a week, it reads
    as a collapse in purchases. Without ``observation_end`` every week is kept.

    Examples
    --------
    >>> t = pd.DataFrame({"week_start": pd.date_range("2026-10-01", periods=3, freq="7D")})
    >>> len(whole_weeks(t, "2026-10-20")), len(whole_weeks(t, "2026-10-21"))
    (2, 3)
    """
    if observation_end is None or track.empty:
        return track
    last = pd.Timestamp(observation_end).normalize() + pd.Timedelta(days=1)
    return track[track.week_start + pd.Timedelta(days=7) <= last]


def tracking_chart(track: pd.DataFrame, observation_end=None) -> Figure:
    """Weekly and cumulative repeat purchases, actual vs model, the held-back weeks shaded.

    ``observation_end`` (the data's last day) leaves a last, partial week out of the weekly
    panel (:func:`whole_weeks`) and says so; the cumulative panel keeps every day.
    """
    fig, (weekly, cumulative) = plt.subplots(1, 2, figsize=(10, 3.6))
    cut = track.week_start[track.holdout].min() if track.holdout.any() else None
    whole = whole_weeks(track, observation_end)
    partial = len(track) - len(whole)
    weekly_title = "Repeat purchases per week" + (
        "\n(the last, partial week is left out)" if partial else "")
    for ax, frame, actual, expected, title in (
            (weekly, whole, "actual", "expected", weekly_title),
            (cumulative, track, "actual_cumulative", "expected_cumulative",
             "Repeat purchases, cumulative")):
        ax.plot(frame.week_start, frame[actual], color=PALETTE["text"], lw=1.3,
                label="actual")
        ax.plot(frame.week_start, frame[expected], color=PALETTE["highlight"], lw=1.6,
                ls="--", label="model")
        if cut is not None:
            ax.axvspan(cut, frame.week_start.max(), color=PALETTE["muted"], alpha=0.2, lw=0,
                       label="weeks the model did not see")
        ax.set_title(title, fontsize=11)
        _from_zero(ax)
        _counts(ax)
        _dates(ax)
        ax.legend(loc="upper left", fontsize=8.5)
    fig.tight_layout()
    return fig


def holdout_bars(table: pd.DataFrame) -> Figure:
    """Mean holdout purchases by calibration repeat purchases: actual vs model."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(9, 3.4))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table.actual, width=0.4, color=PALETTE["text"], label="actual")
    ax.bar(x + 0.2, table.expected, width=0.4, color=PALETTE["highlight"], label="model")
    ax.set_xticks(x)
    ax.set_xticklabels(table.frequency)
    ax.set_xlabel("repeat purchases before the held-back weeks")
    ax.set_ylabel("purchases per customer\nin the held-back weeks")
    _round_ticks(ax)
    ax.legend(loc="upper left")
    ax.set_title("Purchases in the held-back weeks: actual vs model")
    return fig


def clv_distribution(clv: pd.Series, curve: pd.DataFrame, currency: str = "") -> Figure:
    """CLV histogram (clipped at the 99th percentile) and the share held by top customers."""
    import numpy as np

    fig, (hist, lorenz) = plt.subplots(1, 2, figsize=(10, 3.6),
                                       gridspec_kw={"width_ratios": [3, 2]})
    cap = float(np.percentile(clv, 99)) if len(clv) else 1.0
    hist.hist(clv.clip(upper=cap), bins=40, color=PALETTE["primary"], edgecolor="white")
    hist.set_xlabel(f"predicted value per customer{_in(currency)} "
                    "(top 1% drawn at the edge)")
    hist.set_ylabel("customers")
    _currency(hist, axis="x", symbol=currency)
    _counts(hist)
    hist.set_title("Predicted customer value")
    lorenz.plot(curve.customer_share, curve.value_share, color=PALETTE["primary"])
    lorenz.plot([0, 1], [0, 1], color=PALETTE["muted"], ls=":")
    lorenz.set_xlabel("top customers by predicted value")
    lorenz.set_ylabel("share of total predicted value")
    _percent(lorenz, axis="x")
    _percent(lorenz)
    lorenz.set_title("How concentrated the value is")
    fig.tight_layout()
    return fig


def clv_by_group(table: pd.DataFrame, title: str, currency: str = "") -> Figure:
    """Mean CLV per group with its bootstrap interval (``estimate, low, high``)."""
    data, left_out = _largest(table, _size_column(table), MAX_GROUPS)
    data = data.sort_values("estimate")
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(data) + 1.2))
    y = range(len(data))
    ax.barh(list(y), data.estimate, color=PALETTE["primary"], height=0.6)
    ax.errorbar(data.estimate, list(y), xerr=_xerr(data.estimate, data.low, data.high),
                fmt="none", ecolor=PALETTE["text"], capsize=3, lw=1)
    ax.set_yticks(list(y))
    ax.set_yticklabels([plain_label(i) for i in data.index])
    ax.set_xlabel(_left_out(f"mean predicted value per customer{_in(currency)}, "
                            "95% interval", left_out, MAX_GROUPS))
    _currency(ax, axis="x", symbol=currency)
    ax.grid(axis="y", visible=False)
    ax.set_title(title)
    return fig


def score_by_group(table: pd.DataFrame, by: str, title: str, percent: bool = True,
                   xlabel: str = "", sort: bool = True) -> Figure:
    """A score per group with its 95% interval; groups too small to judge drawn apart.

    Groups marked ``small_n`` are drawn hollow and do not set the axis: the axis spans the
    judged groups' intervals (shares from zero), and a small group's point outside it is
    drawn at the edge as an arrow with its value in its label, so a group of one answer at
    -100 cannot squeeze the others into a corner. ``sort=False`` keeps the table's order
    (top to bottom), e.g. for months.
    """
    import numpy as np

    data, left_out = _largest(table, _size_column(table), MAX_GROUPS)
    data = data.sort_values("score") if sort else data.iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(data) + 1.3))
    y = np.arange(len(data))
    small = (data.small_n.fillna(False).to_numpy(bool) if "small_n" in data
             else np.zeros(len(data), bool))
    lo, hi = _judged_range(data, ~small, percent)
    # NPS intervals are centred on the adjusted estimate, so the score may sit near an end
    for rows, colour in ((~small, PALETTE["muted"]), (small, "#e3e7eb")):
        part = data[rows]
        ax.errorbar(part.score.clip(lo, hi), y[rows],
                    xerr=np.vstack([e.to_numpy(float) for e in _xerr(
                        part.score.clip(lo, hi), part.low.clip(lo, hi), part.high.clip(lo, hi))]),
                    fmt="none", ecolor=colour, elinewidth=3)
    labels = []
    for yi, g, n, score, is_small in zip(y, data[by], data.n, data.score, small, strict=True):
        label = f"{plain_label(g)} (n={n:,})"
        if is_small and not lo <= score <= hi:
            marker, shown = ("<", lo) if score < lo else (">", hi)
            value = _percent_text(score) if percent else f"{score:+.0f}".replace("-", "−")
            label = f"{plain_label(g)} (n={n:,}; {value}, off the scale)"
        else:
            marker, shown = "o", score
        ax.plot(shown, yi, marker, ms=7, color=PALETTE["primary"], clip_on=False,
                mfc="white" if is_small else PALETTE["primary"])
        labels.append(label)
    ax.set_xlim(lo, hi)
    if percent:
        _percent(ax, axis="x")
    else:
        _round_ticks(ax, "x")
        if lo < 0 < hi:
            ax.axvline(0, color=PALETTE["text"], lw=0.6)
    if small.any():
        xlabel = (f"{xlabel}\n" if xlabel else "") + (
            "hollow: too few answers to judge; they do not set the scale")
    _label_rows(ax, labels, _left_out(xlabel, left_out, MAX_GROUPS), title)
    return fig


def _judged_range(data: pd.DataFrame, judged, percent: bool) -> tuple[float, float]:
    """The axis range of a dot chart: the judged groups' intervals, with a margin.

    Shares start at zero and end at most at 100 %; without judged groups all are used.
    """
    import numpy as np

    rows = data[judged] if judged.any() else data
    values = np.concatenate([rows[c].to_numpy(float) for c in ("score", "low", "high")
                             if c in rows])
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    pad = 0.08 * (hi - lo) if hi > lo else (0.05 if percent else 5.0)
    if percent:
        return 0.0, min(1.0, hi + pad) if hi + pad > 0 else 1.0
    return lo - pad, hi + pad


def _label_rows(ax, labels: list[str], xlabel: str, title: str) -> None:
    """Finish a chart with one horizontal row per group (rows at y = 0, 1, ...)."""
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    ax.set_title(title)


def resolution_curves(curve: pd.DataFrame, max_hours: float = 168) -> Figure:
    """Share of tickets resolved by hours since opening, per group.

    ``curve`` is :func:`ppxlib.experience.resolution_curve` output.
    """
    fig, ax = plt.subplots(figsize=(9, 3.6))
    colours = SERIES
    curve, left_out = _capped_groups(curve, None)  # no counts: the groups read longest
    for i, (group, part) in enumerate(curve.groupby("group", sort=True)):
        part = part[part.hours <= max_hours]
        ax.step(part.hours, part.resolved_share, where="post", color=colours[i % len(colours)],
                label=plain_label(group))
    _day_marks(ax, max_hours, (24,), "hours")
    ax.set_xlim(0, max_hours)
    ax.xaxis.set_major_locator(mticker.MultipleLocator(24))  # days, in hours
    ax.set_xlabel("hours since the ticket was opened")
    ax.set_ylabel("share resolved")
    _from_zero(ax, top=1.02)
    _percent(ax)
    _legend(ax, left_out, loc="lower right")
    ax.set_title("Time to resolution")
    return fig


def rate_bars(table: pd.DataFrame, by: str, rate: str, title: str, xlabel: str) -> Figure:
    """Horizontal bars of a rate per group with 95% intervals (columns low, high).

    Bars start at zero; groups marked ``small_n`` are drawn hollow (too few to judge).
    """
    import numpy as np

    data, left_out = _largest(table, _size_column(table), MAX_GROUPS)
    data = data.sort_values(rate)
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(data) + 1.3))
    y = list(range(len(data)))
    small = (data.small_n.fillna(False).to_numpy(bool) if "small_n" in data
             else np.zeros(len(data), bool))
    ax.barh(y, data[rate], height=0.6, edgecolor=PALETTE["primary"], linewidth=1.2,
            color=[("white" if s else PALETTE["primary"]) for s in small])
    ax.errorbar(data[rate], y, xerr=_xerr(data[rate], data.low, data.high),
                fmt="none", ecolor=PALETTE["text"], capsize=3, lw=1)
    _from_zero(ax, "x", top=min(1.0, float(np.nanmax(data.high.to_numpy(float))) * 1.05
                                if data.high.notna().any() else 1.0))
    _percent(ax, axis="x")
    if small.any():
        xlabel = (f"{xlabel}\n" if xlabel else "") + "hollow: too few to judge"
    _label_rows(ax, [plain_label(v) for v in data[by]], _left_out(xlabel, left_out, MAX_GROUPS),
                title)
    return fig


def difference_forest(table: pd.DataFrame, horizon_days: int = 90) -> Figure:
    """Difference in the repurchase rate of each experience group vs its reference, with CIs."""
    data, left_out = _largest(table, None, MAX_GROUPS)
    data = data.iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(data) + 1.4))
    y = list(range(len(data)))
    colours = [PALETTE["highlight"] if h < 0 else PALETTE["secondary"] if lo > 0
               else PALETTE["muted"] for lo, h in zip(data.difference_low,
                                                      data.difference_high, strict=True)]
    ax.errorbar(data.difference, y, xerr=_xerr(data.difference, data.difference_low,
                                               data.difference_high),
                fmt="none", ecolor=PALETTE["muted"], elinewidth=3)
    ax.scatter(data.difference, y, c=colours, s=45, zorder=3)
    ax.axvline(0, color=PALETTE["text"], lw=0.8)
    _round_ticks(ax, "x", PERCENT_STEPS)
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: _points_text(v)))
    _label_rows(ax, [plain_label(v, 2 * MAX_LABEL_CHARS) for v in data.label],
                _left_out(f"difference in the share reordering within {horizon_days} days "
                          "(percentage points, 95% interval)", left_out, MAX_GROUPS),
                "Who comes back less: first-order experience vs repurchase")
    return fig


def delay_histogram(days: pd.DataFrame) -> Figure:
    """Delivered orders by days late (negative = early); late days in the highlight colour."""
    data = days[(days.days >= -7) & (days.days <= 14)]
    fig, ax = plt.subplots(figsize=(9, 3.2))
    colours = [PALETTE["highlight"] if d > 0 else PALETTE["primary"] for d in data.days]
    ax.bar(data.days, data.orders, color=colours, width=0.8)
    ax.set_xlabel("days after the promised date (negative = early; cut at -7 and +14)")
    ax.set_ylabel("orders")
    _counts(ax)
    ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.set_title("Delivery compared with the promised date")
    return fig


def reorder_curves_grid(panels: list[tuple[str, pd.DataFrame, float | None, str]],
                        horizon_days: int = 365, min_n: int = 30) -> Figure:
    """Small multiples of time-to-second-order curves, one panel per experience factor.

    ``panels`` holds (title, :func:`ppxlib.repurchase.reorder_curve` frame, p-value of the
    test that the curves are the same, reference group). A panel's title says in words
    whether its curves differ clearly (p below 0.05); the test and p-value belong in the
    section's "How this is computed" note. The reference group is drawn in the primary
    colour, the others in the highlight and further colours, the same way in every panel.
    Groups of fewer than ``min_n`` customers are drawn thin and dotted, and their legend
    entry says they are too few to judge.
    """
    import math

    cols = 2
    rows = math.ceil(len(panels) / cols) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(10, 3.1 * rows), squeeze=False,
                             sharey=True)
    others = [PALETTE["highlight"], PALETTE["secondary"], "#8c6bb1", "#e08214"]
    for ax, (title, curve, p_value, reference) in zip(axes.flat, panels, strict=False):
        curve, left_out = _capped_groups(curve, "at_risk" if "at_risk" in curve else None)
        groups = sorted(curve.group.unique(), key=lambda g: (g != reference, str(g)))
        for i, group in enumerate(groups):
            part = curve[(curve.group == group) & (curve.days <= horizon_days)]
            colour = PALETTE["primary"] if group == reference else others[(i - 1) % 4]
            ax.step(part.days, part.reordered_share, where="post", color=colour,
                    **_curve_style(curve, group, min_n))
        suffix = ("" if p_value is None or p_value != p_value
                  else ": differ clearly" if p_value < 0.05 else ": no clear difference")
        ax.set_title(plain_label(title, 2 * MAX_LABEL_CHARS) + suffix, fontsize=10.5)
        ax.set_xlim(0, horizon_days)
        ax.xaxis.set_major_locator(mticker.MultipleLocator(90 if horizon_days > 200 else 30))
        _from_zero(ax)
        _percent(ax)
        _legend(ax, left_out, loc="upper left", fontsize=8.5)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("days since first order")
    for ax in axes[:, 0]:
        ax.set_ylabel("share reordered")
    fig.tight_layout()
    return fig
