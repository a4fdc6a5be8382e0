"""The seeds' period metrics, month by month.

A customer **counts as a customer** at an instant ``d`` if they ordered in the activity window
``[d - W, d)`` (``W`` = ``activity_window_days``). The reports use the lifecycle's lost
threshold for ``W``, so that a customer is exactly someone not (yet) lost, and "lost" means
the same here as in the lifecycle (:mod:`ppxlib.glossary`). For month t, with its start ``s``
and end ``e`` (the first instant of the next month):

==========================  ==================================================================
``customers_start`` (S)     customers at ``s``
``customers_end`` (E)       customers at ``e``
``new_customers`` (N)       first order ever in month t
``lost``                    customers at ``s`` who are not customers at ``e``
``won_back``                customers at ``e`` who are neither new nor customers at ``s``
                            (they came back in month t after a gap longer than W)
``retention_rate``          ``(E - N) / S`` -- the seeds' formula
``retention_rate_exact``    ``(S - lost) / S`` -- the share of S still customers at ``e``
                            ("kept"); the two differ by ``won_back_rate = won_back / S``
``churn_rate``              ``1 - retention_rate`` (the seeds' ``100 - retention``);
                            ``churn_rate_exact`` = ``lost / S`` ("share lost")
``churn_rate_12m``          the mean of ``churn_rate`` over the 12 months to t
``orders``, ``buyers``,     in month t; ``aov = revenue / orders``,
``revenue``, ``aov``        ``purchase_frequency = orders / buyers``
``repeat_purchase_rate``    of the customers who ordered in the 365 days to ``e``, the share
                            who ordered at least twice in them (a fixed year, whatever W)
``aov_window``,             over ``[e - W, e)``: revenue / orders, and orders per customer per
``frequency_per_month``     month (orders / E / (W / 30.44))
``lifespan_months``         ``1 / churn_rate_12m`` (NaN unless that churn is positive)
``simple_clv``              ``aov_window × frequency_per_month × lifespan_months``
==========================  ==================================================================

Everyone acquired in month t who still counts at its end is in E, so
``E = S - lost + N + won_back`` whenever W is a month or more; with a shorter window an order
early in the month can lapse by its end, and such customers are in N but not in E.

Rates are fractions (0.25 = 25 %). Counts come from the lifecycle runs of
:mod:`ppxlib.lifecycle` with both thresholds equal to W, so nothing per customer × month is
built; the repeat rate uses the same interval counting on orders and pairs of consecutive
orders.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _

from ppxlib.engine import exact_sum
from ppxlib.glossary import REPEAT_DAYS
from ppxlib.kpis import monthly_activity
from ppxlib.lifecycle import NONE, _counts, _month_after, lifecycle_runs
from ppxlib.periods import index_of, period_index, to_period
from ppxlib.tables import as_orders

DAYS_PER_MONTH = 30.4375
LIFESPAN_MONTHS = 12  # churn months averaged for the lifespan
REPEAT_WINDOW_DAYS = REPEAT_DAYS  # the repeat purchase rate's year (ppxlib.glossary)


def _window_buyers(orders: ir.Table, last: int, window_days: int, customer_id_col: str,
                   datetime_col: str) -> pd.DataFrame:
    """Per month end: customers with at least one (``buyers``) and at least two (``repeat``)
    orders in the ``window_days`` before it.

    A customer has k orders in the window ending at ``e`` while their k-th latest order before
    ``e`` is within the window: each order (paired with the one before it, for k = 2) covers
    the month ends from its own month to the one before the next order's month, or before the
    window runs out -- one interval per order, counted with a difference array.
    """
    end = to_period(last + 1, "M").start_time.to_pydatetime()
    o = orders.filter(orders[datetime_col] < end)
    o = o.select(cust=o[customer_id_col], ts=o[datetime_col])
    w = ibis.window(group_by=o.cust, order_by=o.ts)
    o = o.mutate(prev_ts=o.ts.lag().over(w), next_ts=o.ts.lead().over(w))
    first = period_index(o.ts, "M")
    until_next = period_index(o.next_ts, "M").fill_null(last + 1) - 1
    runs = o.select(
        start=first,
        buyer_end=ibis.least(until_next, _month_after(o.ts, window_days) - 1, last),
        # (LEAST skips a missing value: a first order must not count as a repeat by itself)
        repeat_end=ibis.ifelse(
            o.prev_ts.isnull(), ibis.null("int64"),
            ibis.least(until_next, _month_after(o.prev_ts, window_days) - 1, last)
            .cast("int64")))
    # one pass over the orders; the rest is arithmetic on this small table
    compact = runs.group_by(["start", "buyer_end", "repeat_end"]).aggregate(
        n=_.count()).to_pandas()
    index = np.arange(int(compact.start.min()) if len(compact) else last, last + 2)
    counts = {}
    for kind in ("buyer", "repeat"):
        ends = pd.to_numeric(compact[f"{kind}_end"])  # all missing without repeats: object
        runs_here = compact.assign(**{f"{kind}_end": ends})[ends.notna()
                                                            & (compact.start <= ends)]
        starts = runs_here.groupby("start").n.sum().reindex(index, fill_value=0)
        stops = runs_here.groupby(f"{kind}_end").n.sum()
        stops.index = stops.index.astype("int64")
        delta = starts - stops.reindex(index - 1, fill_value=0).to_numpy()
        counts["buyers" if kind == "buyer" else "repeat"] = delta.cumsum().loc[:last]
    return pd.DataFrame(counts)


def _window_totals(orders: ir.Table, months: np.ndarray, window_days: int,
                   datetime_col: str, monetary_value_col: str) -> pd.DataFrame:
    """Orders and revenue in ``[end - W, end)`` for each month end, from daily totals."""
    daily = (orders.group_by(day=orders[datetime_col].date())
             .aggregate(orders=_.count(), revenue=exact_sum(_[monetary_value_col]))
             .order_by("day").to_pandas())
    daily["day"] = pd.to_datetime(daily["day"])
    cum = daily.set_index("day")[["orders", "revenue"]].cumsum()
    rows = []
    for m in months:
        end = to_period(m + 1, "M").start_time
        start = end - pd.Timedelta(days=window_days)
        upto = cum[cum.index < end]
        before = cum[cum.index < start]
        total = upto.iloc[-1] if len(upto) else pd.Series({"orders": 0, "revenue": 0.0})
        base = before.iloc[-1] if len(before) else pd.Series({"orders": 0, "revenue": 0.0})
        rows.append((m, total.orders - base.orders, total.revenue - base.revenue))
    return pd.DataFrame(rows, columns=["m", "orders_window", "revenue_window"])


def period_metrics(
    orders: ir.Table,
    month: str | pd.Period,
    activity_window_days: int = 365,
    customer_id_col: str = "customer_id",
    datetime_col: str = "order_ts",
    monetary_value_col: str = "amount",
    monthly: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The seeds' retention, churn, repeat purchase, AOV, frequency and simple CLV per month.

    Parameters
    ----------
    orders : ibis.Table
        Clean orders.
    month : str or Period
        The last month (``"YYYY-MM"``); later orders are ignored.
    activity_window_days : int
        Who counts as a customer: ordered within this many days (default 365).
    monthly : pandas.DataFrame, optional
        :func:`ppxlib.kpis.monthly_activity` of the same orders, if already computed (the
        overview report has it); its months after ``month`` are not used.

    Returns
    -------
    pandas.DataFrame
        One row per month from the first order's month to ``month``; columns as in the
        module documentation. Rates are NaN where their denominator is 0.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "b", "a", "c"], "amount": [10.0, 20.0, 30.0, 40.0],
    ...     "order_ts": pd.to_datetime(["2024-01-05", "2024-01-09", "2024-02-03",
    ...                                 "2024-02-20"])}))
    >>> m = period_metrics(orders, "2024-02", activity_window_days=30).set_index("month")
    >>> cols = ["customers_start", "customers_end", "new_customers", "lost"]
    >>> m.loc["2024-02", cols].astype(int).tolist()
    [2, 2, 1, 1]
    >>> float(m.loc["2024-02", "retention_rate"])
    0.5
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col)
    window = int(activity_window_days)
    if window < 1:
        raise ValueError(f"activity_window_days must be at least 1, got {activity_window_days}")
    period = pd.Period(month, "M")
    last = index_of(period, "M")
    end = (period + 1).start_time.to_pydatetime()
    runs = lifecycle_runs(orders, period, window, window, customer_id_col, datetime_col)
    states, moves = _counts(runs, period)
    columns = ["month", "customers_start", "customers_end", "new_customers", "lost",
               "won_back", "retained", "retention_rate", "retention_rate_exact",
               "won_back_rate", "churn_rate", "churn_rate_exact", "churn_rate_12m", "orders",
               "buyers", "revenue", "aov", "purchase_frequency", "repeat_customers",
               "repeat_purchase_rate", "orders_window", "revenue_window", "aov_window",
               "frequency_per_month", "lifespan_months", "simple_clv"]
    if states.empty:
        return pd.DataFrame(columns=columns)

    frame = pd.DataFrame({"month": states.month})
    # both thresholds are W, so nobody sleeps: a customer is new, active or reactivated
    active = states[["new", "active", "reactivated"]].sum(axis=1).to_numpy()
    frame["customers_end"] = active
    frame["customers_start"] = np.concatenate([[0], active[:-1]])
    acquired = moves[moves.from_state == NONE].groupby("month").customers.sum()
    frame["new_customers"] = acquired.reindex(frame.month, fill_value=0).to_numpy()
    frame["won_back"] = states["reactivated"].to_numpy()
    into_lost = moves[(moves.to_state == "lost") & ~moves.from_state.isin(["lost", NONE])]
    lost = into_lost.groupby("month").customers.sum()
    frame["lost"] = lost.reindex(frame.month, fill_value=0).to_numpy()
    frame["retained"] = frame.customers_start - frame.lost
    start = frame.customers_start.where(frame.customers_start > 0)
    frame["retention_rate"] = (frame.customers_end - frame.new_customers) / start
    frame["retention_rate_exact"] = frame.retained / start
    frame["won_back_rate"] = frame.won_back / start
    frame["churn_rate"] = 1 - frame.retention_rate
    frame["churn_rate_exact"] = frame.lost / start
    frame["churn_rate_12m"] = frame.churn_rate.rolling(LIFESPAN_MONTHS, min_periods=1).mean()

    if monthly is None:
        monthly = monthly_activity(orders.filter(orders[datetime_col] < end), customer_id_col,
                                   datetime_col, monetary_value_col)
    activity = monthly[monthly.month <= period].set_index("month")
    activity = activity.reindex(frame.month)
    frame["orders"] = activity.orders.fillna(0).astype("int64").to_numpy()
    frame["buyers"] = activity.customers.fillna(0).astype("int64").to_numpy()
    frame["revenue"] = activity.revenue.fillna(0.0).to_numpy()
    frame["aov"] = frame.revenue / frame.orders.where(frame.orders > 0)
    frame["purchase_frequency"] = frame.orders / frame.buyers.where(frame.buyers > 0)

    months = np.array([index_of(p, "M") for p in frame.month])
    year = _window_buyers(orders, last, REPEAT_WINDOW_DAYS, customer_id_col, datetime_col)
    year = year.reindex(months, fill_value=0)
    frame["repeat_customers"] = year.repeat.astype("int64").to_numpy()
    frame["repeat_purchase_rate"] = frame.repeat_customers / year.buyers.where(
        year.buyers > 0).to_numpy()

    totals = _window_totals(orders.filter(orders[datetime_col] < end), months, window,
                            datetime_col, monetary_value_col)
    frame["orders_window"] = totals.orders_window.astype("int64").to_numpy()
    frame["revenue_window"] = totals.revenue_window.astype(float).to_numpy()
    frame["aov_window"] = frame.revenue_window / frame.orders_window.where(
        frame.orders_window > 0)
    customers = frame.customers_end.where(frame.customers_end > 0)
    frame["frequency_per_month"] = frame.orders_window / customers / (window / DAYS_PER_MONTH)
    churn = frame.churn_rate_12m
    frame["lifespan_months"] = 1 / churn.where(churn > 0)
    frame["simple_clv"] = frame.aov_window * frame.frequency_per_month * frame.lifespan_months
    return frame[columns].reset_index(drop=True)


def window_metrics(orders: ir.Table, start: dt.datetime, end: dt.datetime,
                   customer_id_col: str = "customer_id", datetime_col: str = "order_ts",
                   monetary_value_col: str = "amount") -> dict:
    """Customers, orders, revenue, AOV, purchase frequency and repeat rate in ``[start, end)``.

    Examples
    --------
    >>> import datetime as dt, ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"], "amount": [10.0, 30.0, 20.0],
    ...     "order_ts": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-02-03"])}))
    >>> w = window_metrics(orders, dt.datetime(2024, 1, 1), dt.datetime(2024, 3, 1))
    >>> w["aov"], w["purchase_frequency"], w["repeat_purchase_rate"]
    (20.0, 1.5, 0.5)
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col)
    o = orders.filter((orders[datetime_col] >= start) & (orders[datetime_col] < end))
    per_customer = o.group_by(customer_id_col).aggregate(n=_.count(),
                                                         spend=exact_sum(_[monetary_value_col]))
    got = per_customer.aggregate(customers=_.count(), orders=_.n.sum(), revenue=exact_sum(_.spend),
                                 repeat=(_.n >= 2).sum()).to_pyarrow().to_pylist()[0]
    customers = int(got["customers"] or 0)
    n_orders = int(got["orders"] or 0)
    revenue = float(got["revenue"] or 0.0)
    repeat = int(got["repeat"] or 0)
    return {
        "customers": customers, "orders": n_orders, "revenue": revenue,
        "aov": revenue / n_orders if n_orders else float("nan"),
        "purchase_frequency": n_orders / customers if customers else float("nan"),
        "repeat_customers": repeat,
        "repeat_purchase_rate": repeat / customers if customers else float("nan"),
    }
