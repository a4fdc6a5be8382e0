"""Lifecycle states at each month end, and how many customers moved between them.

At the end of month t every customer acquired by then is in exactly one state, by the days
since their last order ("ago", measured from the month end, the first instant of the next
month):

* ``lost``: last order more than ``lost_days`` ago;
* ``sleeping``: last order more than ``sleeping_days`` but at most ``lost_days`` ago;
* otherwise (at most ``sleeping_days`` ago) ``new`` if their first order is in month t,
  ``reactivated`` if they ordered in month t after being sleeping or lost at the end of
  month t-1, and ``active`` otherwise.

With thresholds of a month or more, everyone who ordered in month t is new, reactivated or
active at its end; with shorter ones an order early in the month can already have lapsed.
The words are defined once, for every report, in :mod:`ppxlib.glossary`.

"Ago" is measured from the month end (the first instant of the next month).

How it is computed: in the engine, orders are reduced to one row per customer and month with
an order; each such row determines the customer's states until their next ordering month as
at most four contiguous runs of months (own state, active, sleeping, lost). Counting runs per
month (a difference array) gives state counts; the run starts give the moves. Nothing per
customer × month is ever materialised.
"""

from __future__ import annotations

import math

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _

from ppxlib.engine import customer_frame
from ppxlib.periods import index_of, period_index, to_period
from ppxlib.tables import as_orders

STATES = ("new", "active", "reactivated", "sleeping", "lost")
#: Ordering used for "more / less loyal": higher is more engaged.
ENGAGEMENT = {"lost": 0, "sleeping": 1, "active": 2, "new": 2, "reactivated": 2}
NONE = "none"  # the "from" state of an acquisition


def check_thresholds(sleeping_days: float, lost_days: float, allow_equal: bool = False) -> None:
    """Raise ValueError unless ``0 < sleeping_days < lost_days`` (or ``<=`` if allowed)."""
    if not (sleeping_days > 0 and lost_days > 0):
        raise ValueError(f"thresholds must be positive, got sleeping_days={sleeping_days}, "
                         f"lost_days={lost_days}")
    if sleeping_days > lost_days or (sleeping_days == lost_days and not allow_equal):
        raise ValueError(f"sleeping_days ({sleeping_days}) must be shorter than lost_days "
                         f"({lost_days}): a customer sleeps before they are lost")


def interpurchase_days(orders: ir.Table, customer_id_col: str = "customer_id",
                       datetime_col: str = "order_ts") -> pd.DataFrame:
    """Histogram of days between a customer's consecutive order days.

    Returns
    -------
    pandas.DataFrame
        ``days`` (whole days, >= 1) and ``gaps`` (how many), sorted by ``days``.
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col=None)
    days = orders.select(cust=orders[customer_id_col], day=orders[datetime_col].date()).distinct()
    w = ibis.window(group_by=days.cust, order_by=days.day)
    gaps = days.mutate(prev=days.day.lag().over(w))
    gaps = gaps.filter(gaps.prev.notnull())
    gaps = gaps.mutate(days=gaps.day.delta(gaps.prev, unit="day"))
    hist = gaps.group_by("days").aggregate(gaps=_.count()).order_by("days").to_pandas()
    return hist.astype({"days": "int64", "gaps": "int64"})


def default_thresholds(orders: ir.Table, sleeping_quantile: float = 0.8,
                       lost_quantile: float = 0.95, customer_id_col: str = "customer_id",
                       datetime_col: str = "order_ts") -> dict:
    """Sleeping and lost thresholds from the data's own repurchase gaps.

    ``sleeping_days`` is the gap within which ``sleeping_quantile`` of repeat purchases
    happen (80% by default); ``lost_days`` the one for ``lost_quantile`` (95%). With no repeat
    purchases at all, 90 and 365 days are used.

    Returns
    -------
    dict
        ``sleeping_days``, ``lost_days``, ``gaps`` (repeat purchases seen), ``source``
        ("data" or "fallback") and ``explanation`` (a sentence for reports).
    """
    hist = interpurchase_days(orders, customer_id_col, datetime_col)
    if hist.gaps.sum() < 20:
        return {"sleeping_days": 90, "lost_days": 365, "gaps": int(hist.gaps.sum()),
                "source": "fallback",
                "explanation": "Too few repeat purchases to learn thresholds from the data: "
                               "sleeping after 90 days, lost after 365 days."}
    share = hist.gaps.cumsum() / hist.gaps.sum()
    sleeping = int(hist.days[share >= sleeping_quantile].iloc[0])
    lost = max(int(hist.days[share >= lost_quantile].iloc[0]), sleeping + 1)
    return {
        "sleeping_days": sleeping, "lost_days": lost, "gaps": int(hist.gaps.sum()),
        "source": "data",
        "explanation": (f"{sleeping_quantile:.0%} of repeat purchases come within {sleeping} "
                        f"days of the previous one and {lost_quantile:.0%} within {lost} days, "
                        f"so customers count as sleeping after {sleeping} days without an "
                        f"order and as lost after {lost}."),
    }


def thresholds(orders: ir.Table, sleeping_days: float | None = None,
               lost_days: float | None = None, customer_id_col: str = "customer_id",
               datetime_col: str = "order_ts") -> dict:
    """The sleeping and lost thresholds a report uses: as given, else learned from the data.

    Every report of a run calls this with the same arguments, so "sleeping" and "lost" (and
    the retention metrics' activity window, which is ``lost_days``) mean the same on every
    page. Pass the orders as they stood at the report month's end
    (:func:`ppxlib.pointintime.as_at`): the thresholds are then learned from that history only.

    Returns
    -------
    dict
        ``sleeping_days``, ``lost_days``, ``source`` ("data", "fallback" or "report") and
        ``explanation`` (a sentence for reports).

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({"customer_id": ["a"],
    ...                                      "order_ts": pd.to_datetime(["2024-01-10"])}))
    >>> thresholds(orders, 60, 200)["explanation"]
    'Thresholds set for this report: sleeping after 60 days without an order, lost after 200.'
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col=None)
    if sleeping_days is not None and lost_days is not None:
        check_thresholds(sleeping_days, lost_days)
        return {"sleeping_days": sleeping_days, "lost_days": lost_days, "source": "report",
                "explanation": f"Thresholds set for this report: sleeping after "
                               f"{sleeping_days:g} days without an order, lost after "
                               f"{lost_days:g}."}
    found = default_thresholds(orders, customer_id_col=customer_id_col,
                               datetime_col=datetime_col)
    if sleeping_days is None and lost_days is None:
        return found
    sleeping = sleeping_days if sleeping_days is not None else found["sleeping_days"]
    lost = lost_days if lost_days is not None else found["lost_days"]
    check_thresholds(sleeping, lost)
    return {"sleeping_days": sleeping, "lost_days": lost, "source": "report",
            "explanation": f"Sleeping after {sleeping:g} days without an order and lost after "
                           f"{lost:g} (one set for this report, the other learned from the "
                           f"data)."}


def _month_after(ts: ir.TimestampValue, days: float) -> ir.IntegerValue:
    """Month number of ``ts + days``: the first month whose end is more than ``days`` away."""
    return period_index(ts + ibis.interval(seconds=int(round(days * 86400))), "M")


def lifecycle_runs(orders: ir.Table, month: str | pd.Period, sleeping_days: float,
                   lost_days: float, customer_id_col: str = "customer_id",
                   datetime_col: str = "order_ts") -> ir.Table:
    """Engine expression: runs of months a customer spends in one state, up to ``month``.

    Columns: ``cust, state, start, end, from_state`` (month numbers, inclusive; ``from_state``
    is the state at the end of month ``start - 1``, "none" before acquisition).
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col=None)
    check_thresholds(sleeping_days, lost_days, allow_equal=True)
    last = index_of(pd.Period(month, "M"), "M")
    end_ts = to_period(last + 1, "M").start_time.to_pydatetime()
    o = orders.filter(orders[datetime_col] < end_ts)
    rows = (o.mutate(cust=o[customer_id_col], m=period_index(o[datetime_col], "M"))
            .group_by(["cust", "m"]).aggregate(last_ts=_[datetime_col].max()))
    w = ibis.window(group_by=rows.cust, order_by=rows.m)
    rows = rows.mutate(prev_m=rows.m.lag().over(w), prev_ts=rows.last_ts.lag().over(w),
                       next_m=rows.m.lead().over(w))
    # First month whose end sees the customer sleeping / lost, counted from this row's last
    # order -- possibly its own month, when a threshold is shorter than what is left of it.
    rows = rows.mutate(
        t_s=_month_after(rows.last_ts, sleeping_days),
        t_l=_month_after(rows.last_ts, lost_days),
        prev_t_s=_month_after(rows.prev_ts, sleeping_days),
        prev_t_l=_month_after(rows.prev_ts, lost_days),
        stop=ibis.least(rows.next_m.fill_null(last + 1) - 1, last),
    )
    rows = rows.mutate(
        own=ibis.cases(
            (rows.prev_m.isnull(), "new"),
            (rows.prev_t_s <= rows.m - 1, "reactivated"),
            else_="active",
        ),
    )
    # The state at the end of the previous month: a run of the previous row, or its own state.
    rows = rows.mutate(prev_own=rows.own.lag().over(w))
    rows = rows.mutate(
        from_own=ibis.cases(
            (rows.prev_m.isnull(), NONE),
            (rows.m - 1 >= rows.prev_t_l, "lost"),
            (rows.m - 1 >= rows.prev_t_s, "sleeping"),
            (rows.prev_m == rows.m - 1, rows.prev_own),
            else_="active",
        ),
    )
    sleeps = ibis.greatest(rows.t_s, rows.m)  # first month of the sleeping run
    lost_from = ibis.greatest(rows.t_l, rows.m)
    has_active = rows.t_s > rows.m + 1
    has_sleeping = lost_from > sleeps
    runs = [
        rows.filter(rows.t_s > rows.m).select(  # still within the sleeping threshold
            "cust", state=rows.own, start=rows.m, end=rows.m, from_state=rows.from_own),
        rows.select("cust", state=ibis.literal("active"), start=rows.m + 1,
                    end=ibis.least(rows.t_s - 1, rows.stop), from_state=rows.own),
        rows.select("cust", state=ibis.literal("sleeping"), start=sleeps,
                    end=ibis.least(lost_from - 1, rows.stop),
                    from_state=ibis.cases((sleeps == rows.m, rows.from_own),
                                          (has_active, "active"), else_=rows.own)),
        rows.select("cust", state=ibis.literal("lost"), start=lost_from, end=rows.stop,
                    from_state=ibis.cases((lost_from == rows.m, rows.from_own),
                                          (has_sleeping, "sleeping"), (has_active, "active"),
                                          else_=rows.own)),
    ]
    # Arithmetic on the 32-bit month numbers widens some of them; a union needs one type.
    union = ibis.union(*(run.cast({"start": "int32", "end": "int32"}) for run in runs))
    return union.filter(union.start <= union.end)


def lifecycle(orders: ir.Table, month: str | pd.Period, sleeping_days: float | None = None,
              lost_days: float | None = None, customer_id_col: str = "customer_id",
              datetime_col: str = "order_ts") -> tuple[pd.DataFrame, pd.DataFrame]:
    """State counts per month end and moves between consecutive month ends.

    Parameters
    ----------
    orders : ibis.Table
        Clean orders.
    month : str or Period
        The last month to compute (``"YYYY-MM"``); later orders are ignored.
    sleeping_days, lost_days : float, optional
        Thresholds; default from :func:`default_thresholds`.

    Returns
    -------
    (states, moves) : tuple of pandas.DataFrame
        ``states``: one row per month with a column per state (customer counts) and ``total``.
        ``moves``: one row per month, from-state and to-state with ``customers`` (> 0 only),
        stays included; ``from_state`` "none" marks acquisitions.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "a"],
    ...     "order_ts": pd.to_datetime(["2024-01-10", "2024-06-05"])}))
    >>> states, moves = lifecycle(orders, "2024-06", sleeping_days=60, lost_days=120)
    >>> states.set_index("month").idxmax(axis=1).astype(str).tolist()
    ['new', 'active', 'sleeping', 'sleeping', 'lost', 'reactivated']
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col=None)
    if sleeping_days is None or lost_days is None:
        found = default_thresholds(orders, customer_id_col=customer_id_col,
                                   datetime_col=datetime_col)
        sleeping_days = sleeping_days if sleeping_days is not None else found["sleeping_days"]
        lost_days = lost_days if lost_days is not None else found["lost_days"]
    check_thresholds(sleeping_days, lost_days)
    runs = lifecycle_runs(orders, month, sleeping_days, lost_days, customer_id_col,
                          datetime_col)
    return _counts(runs, month)


def _counts(runs: ir.Table, month: str | pd.Period) -> tuple[pd.DataFrame, pd.DataFrame]:
    last = index_of(pd.Period(month, "M"), "M")
    # One pass over the runs (a window over every order): the three tallies below are
    # sums of this small table, not three more queries.
    compact = runs.group_by(["state", "start", "end", "from_state"]).aggregate(
        n=_.count()).to_pandas()
    starts = compact.groupby(["state", "start"], as_index=False).n.sum()
    ends = compact.groupby(["state", "end"], as_index=False).n.sum()
    moves = compact.groupby(["start", "from_state", "state"], as_index=False).n.sum().rename(
        columns={"n": "customers"})
    if starts.empty:
        empty_states = pd.DataFrame(columns=["month", *STATES, "total"])
        return empty_states, pd.DataFrame(columns=["month", "from_state", "to_state",
                                                   "customers"])
    first = int(starts.start.min())
    months = np.arange(first, last + 1)
    counts = {}
    for state in STATES:
        delta = pd.Series(0, index=np.arange(first, last + 2), dtype="int64")
        s = starts[starts.state == state].groupby("start").n.sum()
        e = ends[ends.state == state].groupby("end").n.sum()
        delta = delta.add(s.reindex(delta.index, fill_value=0), fill_value=0)
        delta = delta.sub(e.reindex(delta.index - 1, fill_value=0).to_numpy(), fill_value=0)
        counts[state] = delta.cumsum().reindex(months).astype("int64").to_numpy()
    states = pd.DataFrame({"month": [to_period(m, "M") for m in months], **counts})
    states["total"] = states[list(STATES)].sum(axis=1)

    # Moves: run starts are the changes; stays are what remains in the state.
    moves = moves[moves.start <= last]
    changes = moves[moves.from_state != moves.state]
    rows = []
    for m in months:
        here = changes[changes.start == m]
        for row in here.itertuples():
            rows.append((m, row.from_state, row.state, int(row.customers)))
        if m == first:
            continue
        before = states.loc[states.month == to_period(m - 1, "M"), list(STATES)].iloc[0]
        for state in STATES:
            left = int(here[here.from_state == state].customers.sum())
            stay = int(before[state]) - left
            if stay:
                rows.append((m, state, state, stay))
    moves = pd.DataFrame(rows, columns=["month", "from_state", "to_state", "customers"])
    moves["month"] = [to_period(m, "M") for m in moves.month]
    order = {s: i for i, s in enumerate((NONE, *STATES))}
    moves = moves.sort_values(["month", "from_state", "to_state"],
                              key=lambda c: c.map(order) if c.name != "month" else c)
    return states, moves.reset_index(drop=True)


def migration_matrix(moves: pd.DataFrame, month: str | pd.Period) -> pd.DataFrame:
    """From-state × to-state counts for the move into ``month`` (rows: end of previous month).

    Examples
    --------
    >>> moves = pd.DataFrame({"month": [pd.Period("2024-02", "M")] * 2,
    ...                       "from_state": ["none", "new"], "to_state": ["new", "active"],
    ...                       "customers": [3, 5]})
    >>> migration_matrix(moves, "2024-02").loc["new", "active"]
    np.int64(5)
    """
    period = pd.Period(month, "M")
    here = moves[moves.month == period]
    matrix = here.pivot_table(index="from_state", columns="to_state", values="customers",
                              aggfunc="sum", fill_value=0)
    return matrix.reindex(index=[NONE, *STATES], columns=list(STATES), fill_value=0).astype(
        "int64")


def loyalty_moves(moves: pd.DataFrame) -> pd.DataFrame:
    """The seeds' questions per month: how many became more or less loyal, were lost, came back.

    Returns
    -------
    pandas.DataFrame
        ``month, acquired, more_loyal, less_loyal, lost, came_back`` where *more loyal* is a
        move up the ladder lost < sleeping < active, *less loyal* a move down, *lost* the
        moves into "lost" (a subset of less loyal) and *came back* the reactivations.
    """
    rows = []
    for month, here in moves.groupby("month", sort=True):
        up = down = lost = back = acquired = 0
        for row in here.itertuples():
            if row.from_state == NONE:
                acquired += row.customers
                continue
            step = ENGAGEMENT[row.to_state] - ENGAGEMENT[row.from_state]
            up += row.customers if step > 0 else 0
            down += row.customers if step < 0 else 0
            lost += row.customers if row.to_state == "lost" and row.from_state != "lost" else 0
            back += row.customers if row.to_state == "reactivated" else 0
        rows.append((month, acquired, up, down, lost, back))
    return pd.DataFrame(rows, columns=["month", "acquired", "more_loyal", "less_loyal", "lost",
                                       "came_back"])


def months_between(days: float) -> float:
    """Days as months (30.44 days each), for sentences."""
    return days / 30.4375 if days and not math.isnan(days) else float("nan")


def customer_states(orders: ir.Table, month: str | pd.Period, sleeping_days: float,
                    lost_days: float, customer_id_col: str = "customer_id",
                    datetime_col: str = "order_ts") -> pd.Series:
    """Each customer's lifecycle state at the end of ``month`` (one row per customer).

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "b"], "order_ts": pd.to_datetime(["2024-01-10", "2024-06-05"])}))
    >>> customer_states(orders, "2024-06", 60, 120).to_dict()
    {'a': 'lost', 'b': 'new'}
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col=None)
    check_thresholds(sleeping_days, lost_days)
    last = index_of(pd.Period(month, "M"), "M")
    runs = lifecycle_runs(orders, month, sleeping_days, lost_days, customer_id_col,
                          datetime_col)
    now = runs.filter((runs.start <= last) & (runs.end >= last)).select("cust", "state")
    frame = customer_frame(now, "cust")
    return frame.state.rename("state").rename_axis("customer_id")
