"""The post-purchase experience and what it does to repurchase.

Operational views:

* **delivery**: on-time rate (delivered by the promised time) and days late, by any column;
* **returns**: return rate of orders and days from order to return, by any column;
* **support**: time to resolution with open tickets censored (Kaplan-Meier): median, p90 and
  the share resolved within a target, by channel or topic; tickets per 100 orders.

Experience -> repurchase: each customer's **first order** is labelled by its experience
(late or on time, returned or not, its ticket resolved fast / slow / never opened, the
CSAT given to it, the customer's first NPS answer). For each label, the time to the second
order is compared (Kaplan-Meier, log-rank) and the 90-day repurchase rate of customers
followed for 90 days is compared with a Newcombe interval for the difference. These are
associations in observational data, not causes.
"""

from __future__ import annotations

import datetime as dt
import math

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _
from statsmodels.stats.proportion import confint_proportions_2indep

from ppxlib.cohorts import wilson_interval
from ppxlib.engine import customer_frame, exact_sum, first_by, labels, stage
from ppxlib.repurchase import compare_groups, second_order_durations
from ppxlib.survival import at_times, every, first_time_at_or_below, kaplan_meier
from ppxlib.tables import as_table, as_tables

HOURS = 3600.0


def _ids(left, right):
    """Ids compared across tables that may store them as different types."""
    if left.type() != right.type():
        return left.cast("string"), right.cast("string")
    return left, right


def _attach(facts: ir.Table, key: str, table: ir.Table, **aggregates: ir.Scalar) -> ir.Table:
    """``facts`` with ``aggregates`` of ``table`` per ``key`` (an id both have), left-joined."""
    ours, theirs = _ids(facts[key], table[key])
    per = table.group_by(_key=theirs).aggregate(**aggregates)
    return facts.mutate(_key=ours).left_join(per, "_key").drop("_key", "_key_right")


def delivery(orders: ir.Table, by: str | None = None, end: dt.datetime | None = None
             ) -> pd.DataFrame:
    """On-time rate (Wilson interval) and days late among delivered orders, per group.

    Returns
    -------
    pandas.DataFrame
        ``[by], delivered, on_time, on_time_rate, low, high, mean_days_late`` (mean over late
        orders).
    """
    orders = as_table(orders)
    if not {"promised_ts", "delivered_ts"} <= set(orders.columns):
        raise ValueError("orders has no promised_ts and delivered_ts: no delivery data")
    o = orders.filter(orders.promised_ts.notnull() & orders.delivered_ts.notnull())
    if end is not None:
        o = o.filter(o.order_ts < end)
    late_days = o.delivered_ts.delta(o.promised_ts, unit="second") / 86_400
    o = o.mutate(_late=o.delivered_ts > o.promised_ts, _days=late_days)
    keys = [by] if by else []
    agg = o.group_by(keys).aggregate(
        delivered=_.count(), late=_._late.sum(),
        late_days=exact_sum(_._days, where=_._late)) if keys else o.aggregate(
        delivered=_.count(), late=_._late.sum(), late_days=exact_sum(_._days, where=_._late))
    frame = agg.to_pandas()
    if by:
        frame[by] = frame[by].fillna("(missing)").astype(str)
        frame = frame.sort_values(by)
    frame["on_time"] = frame.delivered - frame.late
    frame["on_time_rate"] = frame.on_time / frame.delivered
    frame["low"], frame["high"] = wilson_interval(frame.on_time, frame.delivered)
    frame["mean_days_late"] = frame.late_days / frame.late.where(frame.late > 0)
    return frame[([by] if by else []) + ["delivered", "on_time", "on_time_rate", "low", "high",
                                         "mean_days_late"]].reset_index(drop=True)


def delivery_in(orders: ir.Table, start: dt.datetime, end: dt.datetime) -> dict:
    """On-time delivery of the orders delivered in ``[start, end)``, and the orders still
    undelivered at ``end`` although their promised time had passed.

    Pass orders as they stood at ``end`` (:func:`ppxlib.pointintime.as_at`): a delivery after
    it has not happened yet.

    Returns
    -------
    dict
        ``delivered``, ``on_time``, ``rate`` (NaN without deliveries), ``low``, ``high``
        (95% Wilson) and ``overdue`` (promised before ``end``, ordered before it, not
        delivered by it).

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> o = ibis.memtable(pd.DataFrame({
    ...     "order_ts": pd.to_datetime(["2025-06-01", "2025-06-02", "2025-06-20"]),
    ...     "promised_ts": pd.to_datetime(["2025-06-04", "2025-06-05", "2025-06-24"]),
    ...     "delivered_ts": pd.to_datetime(["2025-06-03", "2025-06-09", None])}))
    >>> got = delivery_in(o, dt.datetime(2025, 6, 1), dt.datetime(2025, 7, 1))
    >>> got["delivered"], got["on_time"], got["overdue"]
    (2, 1, 1)
    """
    orders = as_table(orders)
    o = orders.filter(orders.promised_ts.notnull() & (orders.order_ts < end))
    here = (o.delivered_ts >= start) & (o.delivered_ts < end)
    got = o.aggregate(
        delivered=here.sum(),
        on_time=(here & (o.delivered_ts <= o.promised_ts)).sum(),
        overdue=((o.delivered_ts.isnull() | (o.delivered_ts >= end))
                 & (o.promised_ts < end)).sum(),
    ).to_pyarrow().to_pylist()[0]
    delivered, on_time = int(got["delivered"] or 0), int(got["on_time"] or 0)
    low, high = wilson_interval(np.array([on_time]), np.array([delivered]))
    return {"delivered": delivered, "on_time": on_time,
            "rate": on_time / delivered if delivered else math.nan,
            "low": float(low[0]) if delivered else math.nan,
            "high": float(high[0]) if delivered else math.nan,
            "overdue": int(got["overdue"] or 0)}


def returns_in(orders: ir.Table, returns: ir.Table, start: dt.datetime, end: dt.datetime
               ) -> dict:
    """Of the orders placed in ``[start, end)``, how many had been returned by ``end``.

    Orders near ``end`` have had little time to come back, so a month's own rate is lower
    than it will be; the reports show it beside the 12 months to the month.

    Returns
    -------
    dict
        ``orders``, ``returned``, ``rate`` (NaN without orders), ``low``, ``high`` (95%
        Wilson).
    """
    orders, returns = as_tables(orders=orders, returns=returns)
    o = orders.filter((orders.order_ts >= start) & (orders.order_ts < end))
    ids, ref = _ids(returns.order_id, o.order_id)
    r = returns.filter(returns.return_ts < end).select(_key=ids).distinct()
    j = o.mutate(_key=ref).left_join(r.mutate(_hit=ibis.literal(True)), "_key")
    got = j.aggregate(orders=_.count(), returned=_._hit.notnull().sum()).to_pyarrow(
        ).to_pylist()[0]
    n, k = int(got["orders"] or 0), int(got["returned"] or 0)
    low, high = wilson_interval(np.array([k]), np.array([n]))
    return {"orders": n, "returned": k, "rate": k / n if n else math.nan,
            "low": float(low[0]) if n else math.nan, "high": float(high[0]) if n else math.nan}


def tickets_in(tickets: ir.Table, orders: ir.Table, start: dt.datetime, end: dt.datetime
               ) -> dict:
    """Support tickets opened in ``[start, end)`` per 100 orders placed in it.

    Returns
    -------
    dict
        ``tickets``, ``orders``, ``per_100_orders`` (NaN without orders).
    """
    tickets, orders = as_tables(tickets=tickets, orders=orders)
    n_tickets = int(tickets.filter((tickets.opened_ts >= start) & (tickets.opened_ts < end))
                    .count().execute())
    n_orders = int(orders.filter((orders.order_ts >= start) & (orders.order_ts < end))
                   .count().execute())
    return {"tickets": n_tickets, "orders": n_orders,
            "per_100_orders": 100 * n_tickets / n_orders if n_orders else math.nan}


def days_late_histogram(orders: ir.Table) -> pd.DataFrame:
    """Delivered orders by whole days late (negative = early), for the delay distribution."""
    orders = as_table(orders)
    o = orders.filter(orders.promised_ts.notnull() & orders.delivered_ts.notnull())
    days = (o.delivered_ts.delta(o.promised_ts, unit="second") / 86_400).ceil()
    frame = o.mutate(days=days).group_by("days").aggregate(orders=_.count()).to_pandas()
    return frame.astype({"days": "int64"}).sort_values("days").reset_index(drop=True)


def returns_by(orders: ir.Table, returns: ir.Table, by: str) -> pd.DataFrame:
    """Return rate of orders (Wilson interval) and median days to return, per group.

    ``by`` is an orders column, or ``"month"`` for the order month.
    """
    orders, returns = as_tables(orders=orders, returns=returns)
    ids, ref = _ids(returns.order_id, orders.order_id)
    o = orders.mutate(_key=ref, _group=(orders.order_ts.truncate("M").cast("string")
                                        if by == "month" else orders[by].cast("string")))
    r = returns.select(_key=ids, return_ts=returns.return_ts).group_by("_key").aggregate(
        return_ts=_.return_ts.min())
    j = o.left_join(r, "_key")
    j = j.mutate(_returned=j.return_ts.notnull(),
                 _days=j.return_ts.delta(j.order_ts, unit="second") / 86_400)
    frame = j.group_by("_group").aggregate(
        orders=_.count(), returned=_._returned.sum(),
        median_days=_._days.approx_median()).to_pandas()
    frame = frame.rename(columns={"_group": by})
    frame[by] = frame[by].fillna("(missing)").astype(str)
    if by == "month":
        frame[by] = frame[by].str[:7]
    frame["return_rate"] = frame.returned / frame.orders
    frame["low"], frame["high"] = wilson_interval(frame.returned, frame.orders)
    return frame.sort_values(by).reset_index(drop=True)[
        [by, "orders", "returned", "return_rate", "low", "high", "median_days"]]


def return_reasons(returns: ir.Table) -> pd.DataFrame:
    """Returns per stated reason, most frequent first."""
    returns = as_table(returns, "returns")
    if "reason" not in returns.columns:
        return pd.DataFrame(columns=["reason", "returns", "share"])
    frame = returns.group_by(reason=returns.reason.fill_null("(not given)")).aggregate(
        returns=_.count()).to_pandas()
    frame["share"] = frame.returns / frame.returns.sum()
    return frame.sort_values(["returns", "reason"], ascending=[False, True]).reset_index(
        drop=True)


def resolution_durations(tickets: ir.Table, observation_end: dt.datetime,
                         by: str | None = None) -> pd.DataFrame:
    """Hours to resolution per ticket; open tickets censored at ``observation_end``."""
    tickets = as_table(tickets, "tickets")
    t = tickets.filter(tickets.opened_ts < observation_end)
    has_resolved = "resolved_ts" in t.columns
    resolved = (t.resolved_ts if has_resolved else ibis.null("timestamp"))
    closed = resolved.notnull() & (resolved < observation_end)
    stop = ibis.ifelse(closed, resolved, ibis.literal(observation_end, "timestamp"))
    cols = {"hours": stop.delta(t.opened_ts, unit="second") / HOURS, "resolved": closed}
    if by:
        cols["group"] = t[by].cast("string").fill_null("(missing)")
    return t.select(**cols).to_pandas()


def resolution_curve(durations: pd.DataFrame, step_hours: float | None = None
                     ) -> pd.DataFrame:
    """Kaplan-Meier share of tickets resolved by hours since opening (open ones censored).

    Parameters
    ----------
    step_hours : float, optional
        Read the curve every ``step_hours`` hours instead of at each distinct duration
        (fewer points for a chart, the same values; :func:`ppxlib.survival.at_times`).

    Returns
    -------
    pandas.DataFrame
        ``group`` ("all" without groups), ``hours``, ``resolved_share``.
    """
    frames = []
    for group, _part, km in _resolution_fits(durations):
        if step_hours is not None:
            km = every(km, step_hours)
        frames.append(pd.DataFrame({"group": group or "all", "hours": km.time,
                                    "resolved_share": 1 - km.survival}))
    return pd.concat(frames, ignore_index=True)


def _resolution_fits(durations: pd.DataFrame):
    """(group or None, rows, Kaplan-Meier table) per group of resolution durations."""
    groups = durations.groupby("group", sort=True) if "group" in durations else [(None,
                                                                                    durations)]
    for group, part in groups:
        yield group, part, kaplan_meier(part.hours.clip(lower=0), part.resolved)


def resolution_summary(durations: pd.DataFrame, target_hours: float = 24.0) -> pd.DataFrame:
    """Kaplan-Meier median and p90 hours to resolution and the share resolved within target.

    Returns
    -------
    pandas.DataFrame
        ``[group], tickets, open, median_hours, p90_hours, within_target`` (NaN when the
        curve does not reach that point).
    """
    rows = []
    for group, part, km in _resolution_fits(durations):
        # a share q resolved is the unresolved share (survival) at 1 - q
        row = {"tickets": len(part), "open": int((~part.resolved).sum()),
               "median_hours": first_time_at_or_below(km, 1 - 0.5),
               "p90_hours": first_time_at_or_below(km, 1 - 0.9),
               "within_target": 1 - float(at_times(km, [target_hours]).survival.iloc[0])}
        rows.append({"group": group, **row} if group is not None else row)
    return pd.DataFrame(rows)


def first_order_experience(orders: ir.Table, returns: ir.Table | None,
                           tickets: ir.Table | None, surveys: ir.Table | None,
                           fast_ticket_hours: float = 24.0,
                           observation_end: dt.datetime | None = None) -> pd.DataFrame:
    """Per customer: the experience of their first order, as group labels.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id: ``delivery`` (on time / late / unknown), ``returned``
        (returned / kept), ``ticket`` (none / resolved fast / resolved slowly / open),
        ``first_csat`` (low / high / no answer; low = bottom two boxes), ``nps_group``
        (promoter / passive / detractor / no answer; the customer's first NPS answer).
    """
    orders, returns, tickets, surveys = as_tables(
        orders=orders, returns=returns, tickets=tickets, surveys=surveys)
    o = orders if observation_end is None else orders.filter(orders.order_ts < observation_end)
    # Only the orders at each customer's first instant can be the first order: finding them
    # by the earliest time and a join is cheaper than comparing every order as a struct.
    earliest = o.group_by("customer_id").aggregate(_first_ts=o.order_ts.min())
    o = o.join(earliest, "customer_id")
    o = o.filter(o.order_ts == o._first_ts)
    # Every attribute from the same first order (ties in time broken by the order id), all
    # picked by one comparison per order rather than one per attribute.
    attributes = {"order_id": o.order_id}
    for column in ("promised_ts", "delivered_ts"):
        attributes[column] = o[column] if column in o.columns else ibis.null("timestamp")
    firsts = o.group_by("customer_id").aggregate(
        _first=first_by(ibis.struct(attributes), o.order_ts, o.order_id))
    # staged: with the joins below in the same query, five million customers overflow
    # DuckDB's 1 GB cap, while each half fits
    firsts = stage(firsts.select("customer_id", *(firsts._first[c].name(c) for c in attributes)))
    # Everything is joined onto the first orders in the engine; one row per customer returns.
    facts = firsts
    if returns is not None:
        facts = _attach(facts, "order_id", returns, _returned=_.count() > 0)
    if tickets is not None and "order_id" in tickets.columns:
        t = tickets.filter(tickets.order_id.notnull())
        resolved = t.resolved_ts if "resolved_ts" in t.columns else ibis.null("timestamp")
        facts = _attach(facts, "order_id", t,
                        _ticket_hours=(resolved.delta(t.opened_ts, unit="second") / HOURS).max(),
                        _ticket_open=resolved.isnull().any())
    if surveys is not None and "order_id" in surveys.columns:
        c = surveys.filter((surveys.metric == "csat") & surveys.order_id.notnull())
        top = (c.scale_max if "scale_max" in c.columns else ibis.literal(5.0)).fill_null(5.0)
        facts = _attach(facts, "order_id", c,
                        _csat_low=(c.score <= top - 3).any())  # the bottom two boxes
    if surveys is not None:
        n = surveys.filter(surveys.metric == "nps")
        facts = _attach(facts, "customer_id", n, _nps=first_by(n.score, n.response_ts))
    # the order id has done its work: a million of them would only slow the way back
    facts = facts.drop("order_id")
    frame = customer_frame(facts)

    def column(name: str) -> pd.Series:
        return frame[name] if name in frame else pd.Series(np.nan, index=frame.index)

    out = pd.DataFrame(index=frame.index)
    known = frame.delivered_ts.notna() & frame.promised_ts.notna()
    late = frame.delivered_ts > frame.promised_ts
    out["delivery"] = labels(np.where(~known, "unknown", np.where(late, "late", "on time")))
    returned = column("_returned").astype("boolean").fillna(False).to_numpy(dtype=bool)
    out["returned"] = labels(np.where(returned, "returned", "kept"))
    hours = column("_ticket_hours")
    is_open = column("_ticket_open").astype("boolean").fillna(False).to_numpy(dtype=bool)
    out["ticket"] = labels(np.where(is_open, "open", np.where(
        hours.isna(), "none", np.where(hours <= fast_ticket_hours, "resolved fast",
                                       "resolved slowly"))))
    low = column("_csat_low").astype("boolean")
    out["first_csat"] = labels(np.where(low.isna(), "no answer",
                                        np.where(low.fillna(False), "low", "high")))
    score = column("_nps")
    out["nps_group"] = labels(np.where(score.isna(), "no answer", np.where(
        score >= 9, "promoter", np.where(score >= 7, "passive", "detractor"))))
    return out


def repurchase_by_experience(orders: ir.Table, experience: pd.DataFrame, column: str,
                             observation_end: dt.datetime, reference: str,
                             horizon_days: int = 90, confidence: float = 0.95,
                             durations: pd.DataFrame | None = None) -> dict:
    """Time to second order and the ``horizon_days`` repurchase rate by one experience label.

    ``durations``, :func:`ppxlib.repurchase.second_order_durations` of the same orders and
    observation end, saves reading every order again when several labels are compared.

    Returns
    -------
    dict
        ``durations`` (for :func:`ppxlib.repurchase.reorder_curve`), ``logrank`` (dict),
        ``rates`` (per group: customers followed for the horizon, reordered, rate, Wilson
        interval, difference to ``reference`` with a Newcombe interval).
    """
    orders = as_table(orders)
    if durations is None:
        durations = second_order_durations(orders, observation_end)
    durations = durations[["customer_id", "days", "reordered"]].set_index("customer_id").join(
        experience[[column]].rename(columns={column: "group"}), how="inner").reset_index()
    durations = durations[durations.group != "unknown"]
    logrank = compare_groups(durations) if durations.group.nunique() > 1 else None
    followed = durations[(durations.days >= horizon_days) | durations.reordered]
    within = followed.reordered & (followed.days <= horizon_days)
    rates = followed.assign(within=within).groupby("group").agg(
        customers=("within", "size"), reordered=("within", "sum")).reset_index()
    rates["rate"] = rates.reordered / rates.customers
    rates["low"], rates["high"] = wilson_interval(rates.reordered, rates.customers, confidence)
    ref = rates[rates.group == reference]
    diffs, lows, highs = [], [], []
    for row in rates.itertuples():
        if row.group == reference or ref.empty:
            diffs.append(0.0 if row.group == reference else math.nan)
            lows.append(math.nan)
            highs.append(math.nan)
            continue
        r = ref.iloc[0]
        low, high = confint_proportions_2indep(row.reordered, row.customers, r.reordered,
                                               r.customers, method="newcomb",
                                               alpha=1 - confidence)
        diffs.append(row.rate - r.rate)
        lows.append(float(low))
        highs.append(float(high))
    rates["difference"], rates["difference_low"], rates["difference_high"] = diffs, lows, highs
    return {"durations": durations.drop(columns="customer_id"), "logrank": logrank,
            "rates": rates, "reference": reference, "horizon_days": horizon_days}
