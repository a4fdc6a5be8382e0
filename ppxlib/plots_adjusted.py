"""Figures of the adjusted experience comparison (:mod:`ppxlib.adjusted`).

Kept apart from :mod:`ppxlib.plots` (same palette and style); like it, plotting never
computes: every function draws a frame :mod:`ppxlib.adjusted` or :mod:`ppxlib.incidents`
returned.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ppxlib.plots import PALETTE, _empty, _label_rows


def hazard_ratio_forest(table: pd.DataFrame) -> Figure:
    """Hazard ratios with their intervals on a log scale, one row per factor level.

    Only rows with ``estimated`` and ``proportional`` true are drawn (the others have no one
    ratio to show); ``label`` names each row. Below 1 (red): they reorder more slowly than
    comparable customers of the reference; above 1 (green): sooner; grey: no clear
    difference.
    """
    data = table[table.estimated.astype(bool) & table.proportional.astype(bool)].iloc[::-1]
    if data.empty:
        return _empty("No hazard ratio to show.")
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(data) + 1.4))
    y = np.arange(len(data))
    colours = [PALETTE["highlight"] if h < 1 else PALETTE["secondary"] if lo > 1
               else PALETTE["muted"] for lo, h in zip(data.low, data.high, strict=True)]
    ax.hlines(y, data.low, data.high, color=PALETTE["muted"], lw=3)
    ax.scatter(data.hazard_ratio, y, c=colours, s=45, zorder=3)
    ax.axvline(1, color=PALETTE["text"], lw=0.8)
    ax.set_xscale("log")
    ticks = [t for t in (0.25, 0.5, 0.7, 1, 1.5, 2, 4)
             if data.low.min() / 1.2 <= t <= data.high.max() * 1.2] or [1]
    ax.xaxis.set_major_locator(mticker.FixedLocator(ticks))
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: f"{v:g}x"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    _label_rows(ax, list(data.label), "pace of reordering against comparable customers "
                "(1x = the same; 95% interval)", "How soon customers reorder, adjusted")
    return fig
