"""Figures for the reports. Every function takes already computed frames and returns a Figure.

Plotting never computes metrics: it only draws what :mod:`ppxlib.kpis` and the other
computation modules return. One palette and one style keep all reports consistent.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # reports render without a display; notebooks may switch to inline

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

#: The workbook's colours: the primary series, a second series, the highlight, muted context.
PALETTE = {"primary": "#2f6690", "secondary": "#3a7d44", "highlight": "#d1495b",
           "muted": "#b8c4ce", "text": "#333333"}


def use_style() -> None:
    """Apply the workbook's matplotlib style (readable sizes, light grid, no top/right spines)."""
    plt.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 100, "figure.figsize": (9, 4.2),
        "font.size": 10.5, "axes.titlesize": 12, "axes.titleweight": "bold",
        "axes.titlelocation": "left", "axes.labelsize": 10.5, "axes.labelcolor": PALETTE["text"],
        "axes.edgecolor": "#999999", "axes.spines.top": False, "axes.spines.right": False,
        "axes.grid": True, "grid.color": "#e5e5e5", "grid.linewidth": 0.8,
        "axes.axisbelow": True, "legend.frameon": False, "xtick.color": PALETTE["text"],
        "ytick.color": PALETTE["text"],
    })


def _currency(ax, axis: str = "y", symbol: str = "") -> None:
    def fmt(x, _pos):
        for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if abs(x) >= div:
                return f"{symbol}{x / div:,.1f}{suffix}".replace(".0" + suffix, suffix)
        return f"{symbol}{x:,.0f}"

    getattr(ax, f"{axis}axis").set_major_formatter(mticker.FuncFormatter(fmt))


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
    top.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
    top.set_title("Orders")
    bottom.bar(x, frame["revenue"], color=colours, width=0.75)
    bottom.set_ylabel(f"revenue per month{f' ({currency})' if currency else ''}")
    _currency(bottom, symbol=currency)
    bottom.set_title("Revenue")
    bottom.set_xticks(list(x))
    bottom.set_xticklabels(labels, fontsize=9)
    for ax in (top, bottom):
        ax.grid(axis="x", visible=False)
    fig.align_ylabels()
    return fig
