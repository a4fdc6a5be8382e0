"""Acquisition cohorts: who comes back k periods after their first order, and what they spend.

A customer's cohort is the period (week, month or quarter) of their first order. Period k of a
cohort is the k-th period after it (k = 0 is the acquisition period). Two retention modes:

* ``"returned"``: the share of the cohort that ordered in period k;
* ``"rolling"``: the share that ordered in period k *or later* (up to the observation end).

Cells the observation window has not reached are missing (NaN), never zero: period k of
cohort c is reached when the whole period c + k ends on or before ``observation_end``.

The heavy part (one pass over the orders to customer × period, then a join and a group-by)
runs in the engine; only cohort × period cells come back.
"""

from __future__ import annotations

import datetime as dt

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _
from statsmodels.stats.proportion import proportion_confint

from ppxlib.engine import customer_frame, decimal_sum, exact_sum, first_by
from ppxlib.periods import check_period, index_of, period_index, to_period
from ppxlib.tables import as_orders

MODES = ("returned", "rolling")
MISSING_GROUP = "(missing)"


def default_observation_end(orders: ir.Table, datetime_col: str = "order_ts") -> pd.Timestamp:
    """Midnight after the latest order: the data is taken to cover the latest order's day.

    ``orders`` may be an ibis table or a data frame (:mod:`ppxlib.tables`).
    """
    orders = as_orders(orders, datetime_col=datetime_col, monetary_value_col=None)
    latest = pd.Timestamp(orders[datetime_col].max().execute())
    if pd.isna(latest):
        raise ValueError("orders is empty: there is nothing to compute")
    return latest.normalize() + pd.Timedelta(days=1)


def wilson_interval(successes, trials, confidence: float = 0.95):
    """Wilson score interval for proportions (NaN where ``trials`` is 0).

    Examples
    --------
    >>> low, high = wilson_interval(5, 10)
    >>> round(float(low), 4), round(float(high), 4)
    (0.2366, 0.7634)
    """
    successes = np.asarray(successes, dtype=float)
    trials = np.asarray(trials, dtype=float)
    safe = np.where(trials > 0, trials, 1)
    low, high = proportion_confint(successes, safe, alpha=1 - confidence, method="wilson")
    low = np.where(trials > 0, low, np.nan)
    high = np.where(trials > 0, high, np.nan)
    return low, high


def _customer_periods(orders, period, observation_end, customer_id_col, datetime_col,
                      monetary_value_col, by):
    """Engine side: one row per customer and period with an order, plus the cohort."""
    o = orders.filter(orders[datetime_col] < observation_end)
    o = o.mutate(_period=period_index(o[datetime_col], period))
    # Revenue stays an exact decimal until the cells are summed: cheaper than a round trip
    # through doubles, and the same on every engine.
    per_period = o.group_by([customer_id_col, "_period"]).aggregate(
        _revenue=decimal_sum(_[monetary_value_col]))
    firsts = per_period.group_by(customer_id_col).aggregate(_cohort=_._period.min())
    if by:
        group = o.group_by(customer_id_col).aggregate(
            _group=first_by(o[by].cast("string"), o[datetime_col]))
        firsts = firsts.join(group, customer_id_col)
    joined = per_period.join(firsts, customer_id_col)
    return joined.mutate(_k=joined._period - joined._cohort)


def cohort_retention(
    orders: ir.Table,
    period: str = "M",
    by: str | None = None,
    mode: str = "returned",
    observation_end: dt.datetime | str | None = None,
    customer_id_col: str = "customer_id",
    datetime_col: str = "order_ts",
    monetary_value_col: str = "amount",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Retention of acquisition cohorts, with Wilson intervals and revenue retention.

    Parameters
    ----------
    orders : ibis.Table
        Clean orders.
    period : {"M", "W", "Q"}
        Cohort and period length: month (default), ISO week, or quarter.
    by : str, optional
        Split cohorts by this column of each customer's first order (e.g. ``"channel"``).
    mode : {"returned", "rolling"}
        "returned in period k" or "returned in period k or later".
    observation_end : datetime, optional
        Exclusive end of the data; orders at or after it are ignored. Default: midnight after
        the latest order.
    customer_id_col, datetime_col, monetary_value_col : str
        Column names.
    confidence : float
        Level of the Wilson intervals.

    Returns
    -------
    pandas.DataFrame
        One row per cohort (× group) and period number k, including unreached cells:

        ``cohort`` (Period), ``group`` (only with ``by``), ``period_number`` (k),
        ``cohort_size``, ``customers`` (ordered in k, or in k or later for "rolling"),
        ``rate``, ``rate_low``, ``rate_high``, ``revenue`` (in period k),
        ``revenue_retention`` (revenue in k / revenue in period 0),
        ``cumulative_revenue_per_customer`` (revenue in periods 0..k / cohort size),
        ``reached`` (bool). Value columns are NaN where ``reached`` is False.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"], "amount": [10.0, 5.0, 20.0],
    ...     "order_ts": pd.to_datetime(["2024-01-03", "2024-02-10", "2024-01-20"])}))
    >>> r = cohort_retention(orders, observation_end="2024-03-01")
    >>> r.customers.tolist(), r.rate.tolist()
    ([2.0, 1.0], [1.0, 0.5])
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col)
    period = check_period(period)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if by is not None and by not in orders.columns:
        raise ValueError(f"orders has no column {by!r} to split cohorts by")
    end = (pd.Timestamp(observation_end) if observation_end is not None
           else default_observation_end(orders, datetime_col))
    last_reached = index_of(end, period) - 1  # the last period that ends by observation_end

    rows = _customer_periods(orders, period, end.to_pydatetime(), customer_id_col,
                             datetime_col, monetary_value_col, by)
    keys = ["_cohort"] + (["_group"] if by else [])
    cells = rows.group_by(keys + ["_k"]).aggregate(customers=_.count(),
                                                   revenue=exact_sum(_._revenue)).to_pandas()
    if mode == "rolling":
        last = rows.group_by([customer_id_col] + keys).aggregate(_kmax=_._k.max())
        reach = last.group_by(keys + ["_kmax"]).aggregate(n=_.count()).to_pandas()
    columns = ["cohort"] + (["group"] if by else []) + [
        "period_number", "cohort_size", "customers", "rate", "rate_low", "rate_high", "revenue",
        "revenue_retention", "cumulative_revenue_per_customer", "reached"]
    if cells.empty:
        return pd.DataFrame(columns=columns)
    if by:
        cells["_group"] = cells["_group"].fillna(MISSING_GROUP)
        if mode == "rolling":
            reach["_group"] = reach["_group"].fillna(MISSING_GROUP)

    # One grid row per cohort (x group) and period 0..horizon, built without a Python loop.
    heads = cells[keys].drop_duplicates().sort_values(keys).reset_index(drop=True)
    span = (last_reached - heads._cohort).clip(lower=0).astype(int) + 1
    grid = heads.loc[heads.index.repeat(span)].reset_index(drop=True)
    grid["_k"] = grid.groupby(keys, sort=False).cumcount()
    grid = grid.merge(cells, on=[*keys, "_k"], how="left")
    grid[["customers", "revenue"]] = grid[["customers", "revenue"]].fillna(0)
    size = grid.groupby(keys, sort=False).customers.transform("first")
    revenue0 = grid.groupby(keys, sort=False).revenue.transform("first")
    if mode == "rolling":
        counts = grid[keys + ["_k"]].merge(
            reach.rename(columns={"_kmax": "_k"}), on=[*keys, "_k"], how="left").n.fillna(0)
        reversed_ = counts[::-1].groupby([grid[k][::-1] for k in keys], sort=False).cumsum()
        grid["customers"] = reversed_[::-1].to_numpy()
    result = pd.DataFrame({
        "cohort": [to_period(c, period) for c in grid._cohort],
        "period_number": grid._k.astype(int),
        "cohort_size": size.astype(int),
        "customers": grid.customers.astype(float),
        "revenue": grid.revenue.astype(float),
    })
    if by:
        result.insert(1, "group", grid._group)
    result["rate"] = result.customers / result.cohort_size
    result["rate_low"], result["rate_high"] = wilson_interval(result.customers,
                                                              result.cohort_size, confidence)
    result["revenue_retention"] = (result.revenue / revenue0.where(revenue0 != 0)).to_numpy()
    result["cumulative_revenue_per_customer"] = (
        result.revenue.groupby([grid[k] for k in keys], sort=False).cumsum()
        / result.cohort_size)
    result["reached"] = (grid._cohort + grid._k <= last_reached).to_numpy()
    value_cols = ["customers", "rate", "rate_low", "rate_high", "revenue", "revenue_retention",
                  "cumulative_revenue_per_customer"]
    result.loc[~result.reached, value_cols] = np.nan
    result = result[result.reached | (result.period_number == 0)]
    return result[columns].reset_index(drop=True)


def cohort_matrix(retention: pd.DataFrame, value: str = "rate", group: str | None = None
                  ) -> pd.DataFrame:
    """Pivot :func:`cohort_retention` output to cohorts × period numbers (NaN = not reached).

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"], "amount": [10.0, 5.0, 20.0],
    ...     "order_ts": pd.to_datetime(["2024-01-03", "2024-02-10", "2024-02-20"])}))
    >>> cohort_matrix(cohort_retention(orders, observation_end="2024-03-01")).to_numpy().tolist()
    [[1.0, 1.0], [1.0, nan]]
    """
    frame = retention if group is None else retention[retention["group"] == group]
    return frame.pivot(index="cohort", columns="period_number", values=value)


def pooled_retention(retention: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Retention by period number pooled over every cohort (and group) that reached it.

    Returns
    -------
    pandas.DataFrame
        ``period_number, cohorts, cohort_size, customers, rate, rate_low, rate_high`` where
        ``cohort_size`` sums the sizes of the cohorts that reached the period.

    Examples
    --------
    >>> frame = pd.DataFrame({"period_number": [0, 1, 0], "cohort_size": [10, 10, 30],
    ...                       "customers": [10, 4, 30], "reached": [True, True, True]})
    >>> pooled_retention(frame)[["period_number", "cohort_size", "rate"]].values.tolist()
    [[0.0, 40.0, 1.0], [1.0, 10.0, 0.4]]
    """
    reached = retention[retention["reached"]]
    pooled = reached.groupby("period_number").agg(
        cohorts=("customers", "size"), cohort_size=("cohort_size", "sum"),
        customers=("customers", "sum")).reset_index()
    pooled["rate"] = pooled.customers / pooled.cohort_size
    pooled["rate_low"], pooled["rate_high"] = wilson_interval(pooled.customers,
                                                              pooled.cohort_size, confidence)
    return pooled


def first_order_attributes(orders: ir.Table, columns: list[str],
                           customer_id_col: str = "customer_id",
                           datetime_col: str = "order_ts") -> pd.DataFrame:
    """Per customer: the acquisition month (``cohort``) and ``columns`` of their first order.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "a"], "channel": ["app", "web"],
    ...     "order_ts": pd.to_datetime(["2024-03-05", "2024-01-20"])}))
    >>> first_order_attributes(orders, ["channel"]).loc["a"].astype(str).tolist()
    ['2024-01', 'web']
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col=None)
    present = [c for c in columns if c in orders.columns]
    aggs = {"first_ts": orders[datetime_col].min()}
    for c in present:
        aggs[c] = first_by(orders[c].cast("string"), orders[datetime_col])
    frame = customer_frame(orders.group_by(customer_id=orders[customer_id_col]).aggregate(**aggs))
    frame.insert(0, "cohort", pd.to_datetime(frame.pop("first_ts")).dt.to_period("M"))
    for c in present:
        frame[c] = frame[c].fillna(MISSING_GROUP)
    return frame
