"""One-sentence, plain-language takeaways computed from result frames.

Each report chart carries one of these under its title, so a reader who never opens Python
gets the point in words. Sentences are built from the numbers, never fixed prose.
"""

from __future__ import annotations

import math

import pandas as pd


def _pct(x: float, signed: bool = True) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:+.1%}" if signed else f"{x:.1%}"


def money(x: float, currency: str = "") -> str:
    """Format an amount with thousands separators: ``money(1234.5, "€") == '€1,234'``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{currency}{x:,.0f}"


def monthly_revenue(monthly: pd.DataFrame, month: pd.Period, currency: str = "") -> str:
    """E.g. "Revenue in October 2026 was 41,200 from 700 orders, +6.0% on September and ...".

    Examples
    --------
    >>> m = pd.DataFrame({"month": pd.period_range("2024-01", periods=2, freq="M"),
    ...                   "revenue": [100.0, 110.0], "orders": [2, 2]})
    >>> monthly_revenue(m, pd.Period("2024-02", "M"))
    'Revenue in February 2024 was 110 from 2 orders, +10.0% on January.'
    """
    by = monthly.set_index("month")
    if month not in by.index:
        return f"There were no orders in {month.strftime('%B %Y')}."
    value = float(by.at[month, "revenue"])
    orders = int(by.at[month, "orders"])
    text = (f"Revenue in {month.strftime('%B %Y')} was {money(value, currency)} "
            f"from {orders:,} orders")
    prev = month - 1
    if prev in by.index and by.at[prev, "revenue"]:
        change = value / float(by.at[prev, "revenue"]) - 1
        if abs(change) < 0.005:
            text += f", level with {prev.strftime('%B')}"
        else:
            text += f", {_pct(change)} on {prev.strftime('%B')}"
    year_ago = month - 12
    if year_ago in by.index and by.at[year_ago, "revenue"]:
        change = value / float(by.at[year_ago, "revenue"]) - 1
        text += f" and {_pct(change)} against {year_ago.strftime('%B %Y')}"
    return text + "."


def data_quality(quality) -> str:
    """E.g. "All 13,350 orders passed the checks." or "42 of 13,392 rows (0.3%) were set aside"."""
    tables = quality.tables[quality.tables.present]
    read = int(tables.rows_read.sum())
    excluded = int(tables.rows_excluded.sum())
    if not excluded:
        return f"All {read:,} rows passed the data checks; nothing was set aside."
    worst = quality.exclusions.sort_values("rows", ascending=False, kind="stable").iloc[0]
    checks = len(quality.exclusions)
    return (f"{excluded:,} of {read:,} rows ({excluded / read:.1%}) were set aside by "
            f"{checks} check{'s' if checks != 1 else ''}; the largest group is in "
            f"{worst.table} ({worst.rows:,} rows): {worst.reason}.")


def headline(kpis: pd.DataFrame, month: pd.Period, currency: str = "") -> str:
    """E.g. "In October 2026, 1,020 customers placed 1,100 orders worth 66,000 (AOV 60.00); ..."

    Examples
    --------
    >>> k = pd.DataFrame({"kpi": ["customers", "orders", "revenue", "aov",
    ...                           "repeat_purchase_rate"],
    ...                   "value": [10, 12, 600.0, 50.0, 0.25],
    ...                   "change": [0, 0, 0, 0, -0.02]})
    >>> headline(k, pd.Period("2024-02", "M"))
    'In February 2024, 10 customers placed 12 orders worth 600 (average order 50.00); \
the 365-day repeat purchase rate is 25.0% (-2.0 pp on January).'
    """
    k = kpis.set_index("kpi")
    prev = (month - 1).strftime("%B")
    rate_change = float(k.at["repeat_purchase_rate", "change"])
    change = "" if math.isnan(rate_change) else f" ({rate_change * 100:+.1f} pp on {prev})"
    aov = float(k.at["aov", "value"])
    aov_text = "n/a" if math.isnan(aov) else f"{currency}{aov:,.2f}"
    rate = float(k.at["repeat_purchase_rate", "value"])
    return (f"In {month.strftime('%B %Y')}, {int(k.at['customers', 'value']):,} customers placed "
            f"{int(k.at['orders', 'value']):,} orders worth "
            f"{money(float(k.at['revenue', 'value']), currency)} (average order {aov_text}); "
            f"the 365-day repeat purchase rate is {_pct(rate, signed=False)}{change}.")
