"""Headline business KPIs per calendar month, computed in the engine.

Definitions (DESIGN.md):

* **orders**, **customers** (distinct buyers), **revenue** (sum of ``amount``) in the month;
* **AOV** (average order value) = revenue / orders;
* **new customers**: buyers whose first order ever falls in the month; **returning customers**
  = customers - new customers;
* **repeat purchase rate** over a window = customers with at least 2 orders in the window /
  customers with at least 1 order in it. The headline uses the 365 days up to the month's end,
  which keeps it comparable from month to month.
"""

from __future__ import annotations

import datetime as dt
import re

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _

from ppxlib.engine import exact_sum
from ppxlib.tables import as_orders

MONTHLY_COLUMNS = ["month", "orders", "customers", "revenue", "aov", "new_customers",
                   "returning_customers"]


def to_month(month: str | pd.Period | dt.date) -> pd.Period:
    """Parse ``"YYYY-MM"`` (or a date, or a Period) into a monthly :class:`pandas.Period`.

    Examples
    --------
    >>> to_month("2026-10")
    Period('2026-10', 'M')
    """
    if isinstance(month, str) and not re.fullmatch(r"\d{4}-\d{2}", month.strip()):
        raise ValueError(f"month must look like YYYY-MM, got {month!r}")
    try:
        return pd.Period(month.strip() if isinstance(month, str) else month, freq="M")
    except (ValueError, TypeError) as err:
        raise ValueError(f"month must look like YYYY-MM, got {month!r}") from err


def month_bounds(month: str | pd.Period) -> tuple[dt.datetime, dt.datetime]:
    """``[start, end)`` of a calendar month as naive datetimes."""
    period = to_month(month)
    return period.start_time.to_pydatetime(), (period + 1).start_time.to_pydatetime()


def order_span(orders: ir.Table, datetime_col: str = "order_ts"
               ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and the latest order time (one query).

    ``orders`` may be an ibis table or a data frame (:mod:`ppxlib.tables`).

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> t = ibis.memtable(pd.DataFrame({"order_ts": pd.to_datetime(["2024-01-05",
    ...                                                             "2024-03-14"])}))
    >>> [str(ts.date()) for ts in order_span(t)]
    ['2024-01-05', '2024-03-14']
    """
    orders = as_orders(orders, datetime_col=datetime_col, monetary_value_col=None)
    bounds = orders.aggregate(first=orders[datetime_col].min(),
                              latest=orders[datetime_col].max())
    first, latest = (pd.Timestamp(v) for v in bounds.to_pyarrow().to_pylist()[0].values())
    if pd.isna(latest):
        raise ValueError("orders is empty: there is no month to report")
    return first, latest


def last_complete_month(orders: ir.Table, datetime_col: str = "order_ts",
                        span: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> pd.Period:
    """The last calendar month the data covers completely.

    It is the month of the latest order if that order falls on the month's last day, and the
    month before otherwise -- unless the data starts in the latest order's month: then there
    is no complete month, and that (partial) month is the only one with anything to show.
    ``span`` is :func:`order_span`'s result when the caller already has it.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> t = ibis.memtable(pd.DataFrame({"order_ts": pd.to_datetime(["2024-01-05",
    ...                                                             "2024-03-14"])}))
    >>> last_complete_month(t)
    Period('2024-02', 'M')
    """
    first, latest = span or order_span(orders, datetime_col)
    period = latest.to_period("M")
    if latest.normalize() == period.end_time.normalize() or first.to_period("M") == period:
        return period
    return period - 1


def monthly_activity(
    orders: ir.Table,
    customer_id_col: str = "customer_id",
    datetime_col: str = "order_ts",
    monetary_value_col: str = "amount",
) -> pd.DataFrame:
    """Orders, customers, revenue, AOV, new and returning customers per calendar month.

    Parameters
    ----------
    orders : ibis.Table or data frame
        Clean orders (see :meth:`ppxlib.Dataset.validate`), or a pandas / polars / pyarrow
        frame, checked against the data contract first (:mod:`ppxlib.tables`).
    customer_id_col, datetime_col, monetary_value_col : str
        Column names (lifetimes' keywords).

    Returns
    -------
    pandas.DataFrame
        One row per month that has orders, sorted, with columns ``month`` (Period),
        ``orders, customers, revenue, aov, new_customers, returning_customers``.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> t = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"], "amount": [10.0, 20.0, 30.0],
    ...     "order_ts": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-02-03"])}))
    >>> monthly_activity(t)[["orders", "customers", "new_customers"]].values.tolist()
    [[1, 1, 1], [2, 2, 1]]
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col)
    per_month = (
        orders.mutate(month_start=orders[datetime_col].truncate("M"))
        .group_by("month_start")
        .aggregate(
            orders=_.count(),
            customers=_[customer_id_col].nunique(),
            revenue=exact_sum(_[monetary_value_col]),
        )
    )
    firsts = orders.group_by(customer_id_col).aggregate(first_ts=orders[datetime_col].min())
    new = (
        firsts.mutate(month_start=firsts.first_ts.truncate("M"))
        .group_by("month_start")
        .aggregate(new_customers=_.count())
    )
    joined = per_month.left_join(new, "month_start").select(
        per_month.month_start, per_month.orders, per_month.customers, per_month.revenue,
        new_customers=new.new_customers.fill_null(0),
    )
    frame = joined.order_by("month_start").to_pandas()
    frame.insert(0, "month", pd.PeriodIndex(pd.to_datetime(frame.pop("month_start")), freq="M"))
    for col in ("orders", "customers", "new_customers"):
        frame[col] = frame[col].astype("int64")
    frame["revenue"] = frame["revenue"].astype(float)
    frame["aov"] = frame["revenue"] / frame["orders"]
    frame["returning_customers"] = frame["customers"] - frame["new_customers"]
    return frame[MONTHLY_COLUMNS].reset_index(drop=True)


def repeat_purchase_rate(
    orders: ir.Table,
    start: dt.datetime,
    end: dt.datetime,
    customer_id_col: str = "customer_id",
    datetime_col: str = "order_ts",
) -> dict[str, float | int]:
    """Share of the window's buyers who ordered at least twice in ``[start, end)``.

    Returns
    -------
    dict
        ``customers`` (with >= 1 order), ``repeat_customers`` (>= 2) and ``rate``
        (NaN when the window has no customers).

    Examples
    --------
    >>> import datetime as dt, ibis, pandas as pd
    >>> t = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"],
    ...     "order_ts": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-02-03"])}))
    >>> repeat_purchase_rate(t, dt.datetime(2024, 1, 1), dt.datetime(2024, 3, 1))["rate"]
    0.5
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col=None)
    window = orders.filter((orders[datetime_col] >= start) & (orders[datetime_col] < end))
    per_customer = window.group_by(customer_id_col).aggregate(n=_.count())
    result = per_customer.aggregate(
        customers=_.count(), repeat_customers=(_.n >= 2).sum()
    ).to_pyarrow().to_pylist()[0]
    customers = int(result["customers"] or 0)
    repeat = int(result["repeat_customers"] or 0)
    return {"customers": customers, "repeat_customers": repeat,
            "rate": repeat / customers if customers else float("nan")}


KPI_LABELS = {
    "customers": ("Buyers (ordered in the month)", "count"),
    "new_customers": ("New customers", "count"),
    "orders": ("Orders", "count"),
    "revenue": ("Revenue", "currency"),
    "aov": ("Average order value", "currency"),
    "repeat_purchase_rate": ("Repeat purchase rate (365 days)", "share"),
}


def headline_kpis(
    orders: ir.Table,
    month: str | pd.Period,
    monthly: pd.DataFrame | None = None,
    repeat_window_days: int = 365,
) -> pd.DataFrame:
    """The month's headline KPIs beside the previous month's.

    Parameters
    ----------
    orders : ibis.Table or data frame
        Clean orders, or a frame (:mod:`ppxlib.tables`).
    month : str or Period
        The report month, ``"YYYY-MM"``.
    monthly : pandas.DataFrame, optional
        :func:`monthly_activity` output, if already computed.
    repeat_window_days : int
        Window ending at each month's end for the repeat purchase rate.

    Returns
    -------
    pandas.DataFrame
        One row per KPI: ``kpi, label, unit, value, previous, change, change_pct``.
        ``change_pct`` is NaN when the previous value is 0 or missing; for shares,
        ``change`` is in percentage points (as a fraction).

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> t = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"], "amount": [10.0, 20.0, 30.0], "order_id": [1, 2, 3],
    ...     "order_ts": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-02-03"])}))
    >>> k = headline_kpis(t, "2024-02").set_index("kpi")
    >>> [float(v) for v in k.loc["revenue", ["value", "previous"]]]
    [50.0, 10.0]
    """
    period = to_month(month)
    orders = as_orders(orders)  # once: both queries below read it
    monthly = monthly_activity(orders) if monthly is None else monthly
    by_month = monthly.set_index("month")
    rows = []
    for kpi, (label, unit) in KPI_LABELS.items():
        values = []
        for p in (period, period - 1):
            if kpi == "repeat_purchase_rate":
                end = (p + 1).start_time.to_pydatetime()
                start = end - dt.timedelta(days=repeat_window_days)
                values.append(repeat_purchase_rate(orders, start, end)["rate"])
            elif p in by_month.index:
                values.append(float(by_month.at[p, kpi]))
            else:
                values.append(0.0 if unit != "currency" or kpi == "revenue" else np.nan)
        value, previous = values
        change = value - previous
        change_pct = change / previous if previous and not np.isnan(previous) else np.nan
        rows.append({"kpi": kpi, "label": label, "unit": unit, "value": value,
                     "previous": previous, "change": change, "change_pct": change_pct})
    return pd.DataFrame(rows)
