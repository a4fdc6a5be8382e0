"""Time from a customer's first order to their second, as a survival curve.

Each customer contributes the days from their first order to their next order on a later
instant; customers who have not reordered are censored at the observation end (they may
still come back). The curves are Kaplan-Meier estimates (:mod:`ppxlib.survival`); groups are
compared with lifelines' multivariate log-rank test, computed here in one sort (equal to
lifelines', tested) instead of lifelines' table joins. The per-customer durations are
computed in the engine; only one row per customer comes back.
"""

from __future__ import annotations

import datetime as dt

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _
from scipy import stats

from ppxlib.cohorts import MISSING_GROUP, default_observation_end
from ppxlib.engine import customer_frame, labels
from ppxlib.survival import at_times, every, first_time_at_or_below, kaplan_meier
from ppxlib.tables import as_orders

HORIZONS = (30, 90, 180)
#: Why :func:`compare_groups` has nothing to test in a shop without repeat purchases.
NO_SECOND_ORDER = "no customer has ordered a second time yet"
SECONDS_PER_DAY = 86_400.0


def second_order_durations(
    orders: ir.Table,
    observation_end: dt.datetime | str | None = None,
    by: str | None = None,
    customer_id_col: str = "customer_id",
    datetime_col: str = "order_ts",
) -> pd.DataFrame:
    """Days from each customer's first order to their second, or to the observation end.

    Parameters
    ----------
    by : str, optional
        A column of the first order to group by (``"channel"``), or ``"cohort"`` for the
        first order's month.

    Returns
    -------
    pandas.DataFrame
        One row per customer: ``customer_id``, ``days`` (float), ``reordered`` (bool; False =
        censored) and ``group`` when ``by`` is given.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"],
    ...     "order_ts": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-21"])}))
    >>> d = second_order_durations(orders, observation_end="2024-01-31")
    >>> d.sort_values("customer_id")[["days", "reordered"]].values.tolist()
    [[10.0, True], [10.0, False]]
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col=None)
    end = (pd.Timestamp(observation_end) if observation_end is not None
           else default_observation_end(orders, datetime_col))
    o = orders.filter(orders[datetime_col] < end.to_pydatetime())
    o = o.mutate(_cust=o[customer_id_col], _ts=o[datetime_col])
    if by not in (None, "cohort") and by not in orders.columns:
        raise ValueError(f"orders has no column {by!r} to group by")
    # Each order meets its customer's first instant once; one aggregate then finds the next
    # instant and the first order's attribute (smallest value among orders at that instant,
    # as engine.first_by breaks ties), cheaper than an arg-min over structs.
    firsts = o.group_by("_cust").aggregate(first_ts=_._ts.min())
    o = o.join(firsts, "_cust")
    aggregates = {"first_ts": o.first_ts.min(), "second_ts": o._ts.min(where=o._ts > o.first_ts)}
    if by == "cohort":
        aggregates["group"] = o.first_ts.min().truncate("M")
    elif by is not None:
        aggregates["group"] = o[by].cast("string").min(where=o._ts == o.first_ts)
    joined = o.group_by("_cust").aggregate(**aggregates)
    columns = {"customer_id": joined._cust, "first_ts": joined.first_ts,
               "second_ts": joined.second_ts}
    if by is not None:
        columns["group"] = joined.group
    frame = customer_frame(joined.select(**columns)).reset_index()
    stop = frame.second_ts.fillna(end)
    frame["days"] = (stop - frame.first_ts).dt.total_seconds() / SECONDS_PER_DAY
    frame["reordered"] = frame.second_ts.notna()
    out = ["customer_id", "days", "reordered"]
    if by is not None:
        if by == "cohort":
            frame["group"] = labels(pd.to_datetime(frame["group"]).dt.to_period("M").astype(str))
        frame["group"] = frame["group"].fillna(MISSING_GROUP).astype(str)
        out.append("group")
    return frame[out].reset_index(drop=True)


def reorder_curve(durations: pd.DataFrame, confidence: float = 0.95,
                  step_days: float | None = None) -> pd.DataFrame:
    """Share of customers who have reordered by each day (1 - Kaplan-Meier survival).

    Parameters
    ----------
    step_days : float, optional
        Read the curve every ``step_days`` days (0, step, 2 step, ... to the longest
        follow-up) instead of at each distinct duration: a chart of a million customers
        needs a few thousand points, not a million (:func:`ppxlib.survival.at_times`).

    Returns
    -------
    pandas.DataFrame
        ``group`` (when present), ``days``, ``reordered_share``, ``low``, ``high``,
        ``at_risk``.

    Examples
    --------
    >>> d = pd.DataFrame({"days": [2.0, 5.0, 8.0], "reordered": [False, True, True]})
    >>> reorder_curve(d).reordered_share.tolist()
    [0.0, 0.0, 0.5, 1.0]
    """
    frames = []
    groups = durations.groupby("group", sort=True) if "group" in durations else [(None,
                                                                                    durations)]
    for group, part in groups:
        km = kaplan_meier(part.days.to_numpy(), part.reordered.to_numpy(), confidence)
        if step_days is not None:
            km = every(km, step_days)
        frame = pd.DataFrame({
            "days": km.time,
            "reordered_share": 1 - km.survival,
            "low": 1 - km.high,
            "high": 1 - km.low,
            "at_risk": km.at_risk,
        })
        if group is not None:
            frame.insert(0, "group", group)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def reorder_summary(durations: pd.DataFrame, horizons: tuple[int, ...] = HORIZONS,
                    confidence: float = 0.95) -> pd.DataFrame:
    """Median days to the second order and the share reordering within each horizon.

    Returns
    -------
    pandas.DataFrame
        One row per group (or one row): ``customers``, ``reordered``, ``median_days`` (NaN
        when fewer than half have reordered: "not reached"), ``median_low``,
        ``median_high`` and for each horizon h ``within_h``, ``within_h_low``,
        ``within_h_high`` (NaN when no customer has been followed for h days).

    Examples
    --------
    >>> d = pd.DataFrame({"days": [5.0, 10.0, 40.0, 100.0], "reordered": [True, True, True,
    ...                                                                   False]})
    >>> s = reorder_summary(d, horizons=(30,))
    >>> float(s.within_30[0]), float(s.median_days[0])
    (0.5, 10.0)
    """
    rows = []
    groups = durations.groupby("group", sort=True) if "group" in durations else [(None,
                                                                                    durations)]
    for group, part in groups:
        km = kaplan_meier(part.days.to_numpy(), part.reordered.to_numpy(), confidence)
        row = {"customers": len(part), "reordered": int(part.reordered.sum())}
        if group is not None:
            row = {"group": group, **row}
        row["median_days"] = first_time_at_or_below(km, 0.5)
        # the median's interval: where each bound of the curve crosses one half
        row["median_low"] = first_time_at_or_below(km, 0.5, "low")
        row["median_high"] = first_time_at_or_below(km, 0.5, "high")
        follow_up = float(part.days.max()) if len(part) else 0.0
        for h in horizons:
            if h > follow_up:  # beyond the longest follow-up: unknown, not extrapolated
                row[f"within_{h}"] = row[f"within_{h}_low"] = row[f"within_{h}_high"] = np.nan
                continue
            at = at_times(km, [h]).iloc[0]  # the step in force at day h
            row[f"within_{h}"] = 1 - float(at.survival)
            row[f"within_{h}_low"] = 1 - float(at.high)
            row[f"within_{h}_high"] = 1 - float(at.low)
        rows.append(row)
    return pd.DataFrame(rows)


def compare_groups(durations: pd.DataFrame) -> dict:
    """Log-rank test that the groups' time-to-reorder curves are the same.

    The statistic is lifelines' ``multivariate_logrank_test`` (equal to it, tested),
    computed here with one sort and per-group counts, so that comparing a million customers'
    curves takes a fraction of a second instead of lifelines' table joins.

    Returns
    -------
    dict
        ``test_statistic``, ``p_value``, ``degrees_of_freedom``, ``groups`` and ``reason``:
        None, or why there is nothing to test. When no customer has ordered a second time
        yet (no event at all) the curves are all flat at zero: the statistic and p-value are
        NaN and ``reason`` says so, rather than a singular matrix.

    Examples
    --------
    >>> d = pd.DataFrame({"days": [5.0, 3, 9, 8, 7, 4, 4, 3, 2, 5, 6, 7],
    ...                   "reordered": [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0],
    ...                   "group": list("aaaabbbbbccc")})
    >>> round(compare_groups(d)["test_statistic"], 4)
    1.08
    >>> compare_groups(d.assign(reordered=0))["reason"]
    'no customer has ordered a second time yet'
    """
    if "group" not in durations or durations.group.nunique() < 2:
        raise ValueError("need durations with at least two groups to compare")
    groups = int(durations.group.nunique())
    if not durations.reordered.astype(bool).any():
        return {"test_statistic": np.nan, "p_value": np.nan, "degrees_of_freedom": groups - 1,
                "groups": groups, "reason": NO_SECOND_ORDER}
    statistic, dof = _logrank(durations.days.to_numpy(dtype=float),
                              durations.group.to_numpy(),
                              durations.reordered.to_numpy(dtype=bool))
    return {"test_statistic": statistic, "p_value": float(stats.chi2.sf(statistic, dof)),
            "degrees_of_freedom": dof, "groups": groups, "reason": None}


def _logrank(days: np.ndarray, groups: np.ndarray, events: np.ndarray) -> tuple[float, int]:
    """Multivariate log-rank statistic and its degrees of freedom.

    At each distinct time i: d_ij events and n_ij at risk in group j; the statistic compares
    observed with expected events, Z_j = sum_i (d_ij - n_ij d_i / n_i), through the
    hypergeometric covariance V (the last group is dropped: the rows of V sum to zero).
    """
    time, time_index = np.unique(days, return_inverse=True)
    group_index = pd.factorize(groups, sort=True)[0]
    n_groups, n_times = group_index.max() + 1, len(time)
    cell = group_index * n_times + time_index
    size = n_groups * n_times
    leaving = np.bincount(cell, minlength=size).reshape(n_groups, n_times).astype(float)
    observed = np.bincount(cell, weights=events, minlength=size).reshape(n_groups, n_times)
    # at risk at time i: everyone whose time is i or later
    at_risk = leaving[:, ::-1].cumsum(axis=1)[:, ::-1]
    d = observed.sum(axis=0)
    n = at_risk.sum(axis=0)
    keep = d > 0
    d, n, at_risk, observed = d[keep], n[keep], at_risk[:, keep], observed[:, keep]
    share = at_risk / n
    z = (observed - share * d).sum(axis=1)
    factor = d * (n - d) / np.where(n > 1, n - 1, 1.0)
    v = np.diag((factor * share).sum(axis=1)) - (factor * share) @ share.T
    dof = int(n_groups - 1)
    # the pseudo-inverse, as lifelines: a group with nobody left at any event time gives V a
    # zero row, which a plain solve rejects as a singular matrix
    statistic = float(z[:dof] @ np.linalg.pinv(v[:dof, :dof]) @ z[:dof])
    return statistic, dof
