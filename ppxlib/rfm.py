"""RFM scores and the standard 11-segment map, with a post-purchase action per segment.

Per customer, at the observation end: **recency** (days since the last order), **frequency**
(number of orders) and **monetary** (total spend). Each becomes a score from 1 to 5:

* R from the lifecycle thresholds when they are given (the reports always give them): R = 1
  for lost customers (no order for more than ``lost_days``), R = 2 for sleeping ones (more
  than ``sleeping_days``), and R = 3, 4, 5 for the least, middle and most recent third of the
  others. So a segment never contradicts a lifecycle state: every "Loyal", "Champions",
  "New" or "About to Sleep" customer is a current, non-sleeping customer, every
  "Hibernating" one is sleeping and every "Lost" or "Can't Lose Them" one is lost.
  Without thresholds, R is by quintiles like M;
* M by quintiles: ``score = 1 + (number of the 20/40/60/80 % quantiles the value
  exceeds)``;
* F = 1 for one-order customers, and 2-5 by the quartiles of repeat buyers' order counts.
  In e-commerce one-time buyers are often 40-70 % of customers, so plain quintiles would
  give them several different scores or leave scores empty; this keeps every score in use.

Equal values always get the same score.

Segments are assigned by :data:`SEGMENT_RULES`, checked in order, the first match winning;
every one of the 125 (R, F, M) combinations matches exactly one first rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _

from ppxlib.cohorts import default_observation_end
from ppxlib.engine import customer_frame, exact_sum
from ppxlib.tables import as_orders

Rule = Callable[[int, int, int], bool]

#: (segment, rule on R, F, M scores, suggested post-purchase action) in order of precedence.
SEGMENT_RULES: list[tuple[str, Rule, str]] = [
    ("Champions", lambda r, f, m: r >= 4 and f >= 4 and m >= 4,
     "Invite to the referral programme and early access; ask for a review."),
    ("Loyal", lambda r, f, m: r >= 3 and f >= 3,
     "Reward through the loyalty programme; cross-sell in the order confirmation."),
    ("Can't Lose Them", lambda r, f, m: r == 1 and (f >= 4 or m >= 4),
     "Contact personally with a strong win-back offer; find out what went wrong."),
    ("At Risk", lambda r, f, m: r <= 2 and (f >= 3 or m >= 3),
     "Send a personal win-back email; check their last delivery, return and ticket."),
    ("New", lambda r, f, m: r == 5 and f == 1,
     "Thank-you email, onboarding tips and a cross-sell after delivery."),
    ("Promising", lambda r, f, m: r == 4 and f == 1,
     "Ask for feedback after delivery and offer an incentive for a second order."),
    ("Potential Loyalist", lambda r, f, m: r >= 4 and f == 2,
     "Offer loyalty membership and personalised recommendations after delivery."),
    ("Need Attention", lambda r, f, m: r == 3 and (f == 2 or m >= 3),
     "Time-limited offer based on past purchases; check their delivery and support record."),
    ("About to Sleep", lambda r, f, m: r == 3,
     "Remind with popular products and ask in a short survey what would bring them back."),
    ("Hibernating", lambda r, f, m: r == 2,
     "Low-cost reminders of relevant products; keep out of expensive campaigns."),
    ("Lost", lambda r, f, m: r == 1,
     "One cheap win-back attempt, then stop spending on them."),
]
SEGMENTS = [name for name, _rule, _action in SEGMENT_RULES]
ACTIONS = {name: action for name, _rule, action in SEGMENT_RULES}


def segment_of(r: int, f: int, m: int) -> str:
    """The segment of one (R, F, M) score triple.

    Examples
    --------
    >>> segment_of(5, 5, 5), segment_of(5, 1, 1), segment_of(1, 5, 2), segment_of(1, 1, 1)
    ('Champions', 'New', "Can't Lose Them", 'Lost')
    """
    for name, rule, _action in SEGMENT_RULES:
        if rule(r, f, m):
            return name
    raise ValueError(f"no segment for scores R={r} F={f} M={m}")  # pragma: no cover


#: Every score combination mapped once, for vectorised lookup.
SEGMENT_MAP = pd.Series({(r, f, m): segment_of(r, f, m) for r in range(1, 6)
                         for f in range(1, 6) for m in range(1, 6)})


def quantile_score(values: pd.Series, bins: int = 5, reverse: bool = False) -> pd.Series:
    """Scores 1..bins: 1 + how many of the bins' inner quantiles a value exceeds.

    Ties share a score; ``reverse`` scores the lowest values highest.

    Examples
    --------
    >>> quantile_score(pd.Series([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).tolist()
    [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    >>> quantile_score(pd.Series([3.0, 1.0, 2.0]), bins=3, reverse=True).tolist()
    [1, 3, 2]
    """
    x = values.to_numpy(dtype=float) * (-1 if reverse else 1)
    cuts = np.quantile(x, np.arange(1, bins) / bins)
    score = 1 + (x[:, None] > cuts[None, :]).sum(axis=1)
    return pd.Series(score.astype("int64"), index=values.index)


def recency_score(recency_days: pd.Series, sleeping_days: float, lost_days: float
                  ) -> pd.Series:
    """R: 1 lost, 2 sleeping, and 3-5 by thirds of recency among the others (5 = most recent).

    Examples
    --------
    >>> recency_score(pd.Series([1, 5, 9, 20, 30, 300, 900]), 60, 365).tolist()
    [5, 5, 4, 3, 3, 2, 1]
    """
    score = pd.Series(1, index=recency_days.index, dtype="int64")
    score[recency_days <= lost_days] = 2
    current = recency_days[recency_days <= sleeping_days]
    if len(current):
        score[current.index] = 2 + quantile_score(current, bins=3, reverse=True)
    return score


def frequency_score(frequency: pd.Series) -> pd.Series:
    """F: 1 for one-order customers, 2-5 by quartiles among repeat buyers.

    Examples
    --------
    >>> frequency_score(pd.Series([1, 1, 1, 2, 2, 3, 4, 6, 9])).tolist()
    [1, 1, 1, 2, 2, 3, 4, 5, 5]
    """
    score = pd.Series(1, index=frequency.index, dtype="int64")
    repeat = frequency[frequency > 1]
    if len(repeat):
        score[repeat.index] = 1 + quantile_score(repeat, bins=4)
    return score


def rfm_scores(
    orders: ir.Table,
    observation_end: dt.datetime | str | None = None,
    customer_id_col: str = "customer_id",
    datetime_col: str = "order_ts",
    monetary_value_col: str = "amount",
    sleeping_days: float | None = None,
    lost_days: float | None = None,
) -> pd.DataFrame:
    """Recency, frequency and monetary value per customer, their scores and segment.

    ``sleeping_days`` and ``lost_days`` (the lifecycle thresholds) make R agree with the
    lifecycle states (module documentation); without them R is by quintiles.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id: ``recency_days, frequency, monetary, aov, R, F, M, segment``.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "customer_id": list("aabcdeffff"), "amount": [10.0] * 10,
    ...     "order_ts": pd.to_datetime(["2024-01-01", "2024-06-01", "2024-06-20", "2024-02-01",
    ...                                 "2024-03-01", "2024-06-25", "2024-01-05", "2024-03-05",
    ...                                 "2024-05-05", "2024-06-28"])}))
    >>> scores = rfm_scores(orders, "2024-07-01")
    >>> scores.loc["f", ["R", "F", "M"]].astype(int).tolist(), scores.loc["f", "segment"]
    ([5, 5, 5], 'Champions')
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col)
    end = (pd.Timestamp(observation_end) if observation_end is not None
           else default_observation_end(orders, datetime_col))
    o = orders.filter(orders[datetime_col] < end.to_pydatetime())
    per = o.group_by(customer_id=o[customer_id_col]).aggregate(
        last_ts=_[datetime_col].max(), frequency=_.count(),
        monetary=exact_sum(_[monetary_value_col]))
    frame = customer_frame(per)
    frame["recency_days"] = (end - frame.pop("last_ts")).dt.total_seconds() / 86_400
    frame["frequency"] = frame.frequency.astype("int64")
    frame["aov"] = frame.monetary / frame.frequency
    if sleeping_days is not None and lost_days is not None:
        frame["R"] = recency_score(frame.recency_days, sleeping_days, lost_days)
    else:
        frame["R"] = quantile_score(frame.recency_days, reverse=True)
    frame["F"] = frequency_score(frame.frequency)
    frame["M"] = quantile_score(frame.monetary)
    keys = list(zip(frame.R, frame.F, frame.M, strict=True))
    frame["segment"] = SEGMENT_MAP.reindex(keys).to_numpy()
    return frame[["recency_days", "frequency", "monetary", "aov", "R", "F", "M", "segment"]]


def rfm_segments(scores: pd.DataFrame) -> pd.DataFrame:
    """Per segment: size, share, revenue share, mean AOV, recency and the suggested action.

    Returns
    -------
    pandas.DataFrame
        One row per segment in :data:`SEGMENTS` order (empty segments kept with 0):
        ``segment, customers, customer_share, revenue, revenue_share, mean_aov,
        median_recency_days, orders_per_customer, action``.
    """
    total_revenue = scores.monetary.sum()
    grouped = scores.groupby("segment").agg(
        customers=("frequency", "size"), revenue=("monetary", "sum"),
        orders=("frequency", "sum"), median_recency_days=("recency_days", "median"))
    grouped = grouped.reindex(SEGMENTS).fillna({"customers": 0, "revenue": 0.0, "orders": 0})
    grouped["customers"] = grouped.customers.astype("int64")
    grouped["customer_share"] = grouped.customers / max(len(scores), 1)
    grouped["revenue_share"] = grouped.revenue / total_revenue if total_revenue else np.nan
    grouped["mean_aov"] = grouped.revenue / grouped.orders.where(grouped.orders > 0)
    grouped["orders_per_customer"] = grouped.orders / grouped.customers.where(
        grouped.customers > 0)
    grouped["action"] = [ACTIONS[s] for s in grouped.index]
    grouped = grouped.rename_axis("segment").reset_index()
    return grouped[["segment", "customers", "customer_share", "revenue", "revenue_share",
                    "mean_aov", "median_recency_days", "orders_per_customer", "action"]]
