"""Survey scores with honest uncertainty: CSAT, NPS and CES, overall and by group.

* **CSAT**: top-box share (scores at or above ``cut``) with a Wilson interval, and the mean
  with a t interval. Default cut: the top two boxes (4-5 on 1-5, 6-7 on 1-7, 9-10 on 1-10).
* **NPS**: % promoters (9-10) - % detractors (0-6) on the 0-10 scale, in points (-100..100).
  Interval: adjusted Wald (add 3 to n and 3/4 to the promoter and detractor counts; variance
  ``p_P + p_D - (p_P - p_D)**2``), centred on the adjusted estimate.
* **CES**: direction is data. With ``higher_is_better`` (CES 2.0, "the company made it easy")
  the "easy" share is the top boxes; otherwise (CES 1.0, "how much effort") the bottom boxes.

Scores on different scales are never pooled: :func:`score_counts` keeps ``scale_min`` and
``scale_max`` as keys and the group functions refuse a mixture.
"""

from __future__ import annotations

import math

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from ppxlib.cohorts import wilson_interval
from ppxlib.contract import DEFAULT_SCALES
from ppxlib.tables import as_table, as_tables

MIN_N = 30


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _scores(scores) -> np.ndarray:
    values = np.asarray(pd.Series(scores).dropna(), dtype=float)
    return values


def default_cut(scale_min: float, scale_max: float) -> float:
    """The lowest score of the top two boxes: 4 on 1-5, 6 on 1-7, 9 on 1-10 (and 0-10)."""
    return float(scale_max - 1)


def _mean_interval(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    n = len(values)
    if n == 0:
        return (math.nan,) * 3
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def csat(scores, scale_min: float = 1, scale_max: float = 5, cut: float | None = None,
         confidence: float = 0.95) -> dict:
    """CSAT: top-box share with a Wilson interval, and the mean.

    Examples
    --------
    >>> r = csat([5, 4, 4, 3, 1], scale_min=1, scale_max=5)
    >>> r["n"], r["score"], round(r["low"], 4), round(r["high"], 4)
    (5, 0.6, 0.2307, 0.8824)
    """
    values = _scores(scores)
    cut = default_cut(scale_min, scale_max) if cut is None else cut
    n, top = len(values), int((values >= cut).sum())
    low, high = wilson_interval([top], [n], confidence)
    mean, mean_low, mean_high = _mean_interval(values, confidence)
    return {"metric": "csat", "n": n, "score": top / n if n else math.nan,
            "low": float(low[0]), "high": float(high[0]), "cut": cut, "mean": mean,
            "mean_low": mean_low, "mean_high": mean_high, "scale": f"{scale_min:g}-{scale_max:g}"}


def nps(scores, confidence: float = 0.95) -> dict:
    """Net Promoter Score on 0-10, in points, with the adjusted-Wald interval.

    Examples
    --------
    >>> r = nps([10] * 5 + [8] * 3 + [3] * 2)
    >>> r["score"], r["promoters"], r["detractors"]
    (30.0, 0.5, 0.2)
    """
    values = _scores(scores)
    n = len(values)
    promoters, detractors = int((values >= 9).sum()), int((values <= 6).sum())
    passives = n - promoters - detractors
    adj_n = n + 3
    p_p, p_d = (promoters + 0.75) / adj_n, (detractors + 0.75) / adj_n
    centre = p_p - p_d
    half = _z(confidence) * math.sqrt((p_p + p_d - centre**2) / adj_n)
    share = (lambda k: k / n) if n else (lambda k: math.nan)
    return {"metric": "nps", "n": n,
            "score": 100 * (promoters - detractors) / n if n else math.nan,
            "low": 100 * (centre - half), "high": 100 * (centre + half),
            "promoters": share(promoters), "passives": share(passives),
            "detractors": share(detractors), "scale": "0-10"}


def ces(scores, scale_min: float = 1, scale_max: float = 7, higher_is_better: bool = True,
        cut: float | None = None, confidence: float = 0.95) -> dict:
    """Customer Effort Score: mean with a t interval and the "easy" share (Wilson).

    ``higher_is_better`` (CES 2.0) counts scores >= ``cut`` as easy (default: 4-5 on a 1-5
    scale, 5-7 on 1-7, 8-10 on 1-10); otherwise scores <= ``cut`` (default: the bottom two).

    Examples
    --------
    >>> ces([7, 6, 5, 2], higher_is_better=True)["score"]
    0.75
    >>> ces([1, 2, 4, 5], scale_min=1, scale_max=5, higher_is_better=False)["score"]
    0.5
    """
    values = _scores(scores)
    if cut is None:
        span = scale_max - scale_min
        cut = (scale_max - (2 if span >= 6 else 1)) if higher_is_better else scale_min + 1
    easy = int((values >= cut).sum()) if higher_is_better else int((values <= cut).sum())
    n = len(values)
    low, high = wilson_interval([easy], [n], confidence)
    mean, mean_low, mean_high = _mean_interval(values, confidence)
    return {"metric": "ces", "n": n, "score": easy / n if n else math.nan,
            "low": float(low[0]), "high": float(high[0]), "cut": cut,
            "higher_is_better": higher_is_better, "mean": mean, "mean_low": mean_low,
            "mean_high": mean_high, "scale": f"{scale_min:g}-{scale_max:g}"}


def score_counts(surveys: ir.Table, metric: str, by: list[str] | None = None) -> pd.DataFrame:
    """Engine side: responses per (group, scale, score) for one metric.

    Returns
    -------
    pandas.DataFrame
        ``[*by], scale_min, scale_max, score, n``. Missing scale columns take the metric's
        default scale (see :data:`ppxlib.contract.DEFAULT_SCALES`).
    """
    surveys = as_table(surveys, "surveys")
    by = list(by or [])
    low, high = DEFAULT_SCALES[metric]
    t = surveys.filter(surveys.metric == metric)
    t = t.mutate(
        scale_min=t.scale_min.fill_null(low) if "scale_min" in t.columns else low,
        scale_max=t.scale_max.fill_null(high) if "scale_max" in t.columns else high)
    counts = t.group_by([*by, "scale_min", "scale_max", "score"]).aggregate(n=_.count())
    frame = counts.to_pandas()
    for col in by:
        frame[col] = frame[col].fillna("(missing)").astype(str)
    return frame.sort_values([*by, "scale_min", "scale_max", "score"]).reset_index(drop=True)


def _expand(counts: pd.DataFrame) -> np.ndarray:
    return np.repeat(counts.score.to_numpy(dtype=float), counts.n.to_numpy(dtype=int))


def summarise(counts: pd.DataFrame, metric: str, by: str | None = None,
              min_n: int = MIN_N, higher_is_better: bool = True, cut: float | None = None,
              confidence: float = 0.95) -> pd.DataFrame:
    """The metric per group (one row per group and scale) with intervals, flags and tests.

    Each group is tested against all other responses on the same scale: a two-proportion
    z-test on the headline share (CSAT top boxes, CES "easy") or a z-test on the NPS
    difference; ``p_adjusted`` is Holm-adjusted across groups. ``p_value_ordinal`` adds a
    Mann-Whitney test on the whole score distribution. Groups below ``min_n`` are kept and
    flagged, and never marked significant.

    Returns
    -------
    pandas.DataFrame
        ``[by], scale, n, score, low, high, ...metric extras..., small_n, p_value,
        p_adjusted, significant`` (tests only with ``by``).
    """
    rows = []
    keys = ([by] if by else []) + ["scale_min", "scale_max"]
    for key, part in counts.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        lo, hi = key[-2], key[-1]
        values = _expand(part)
        if metric == "nps":
            result = nps(values, confidence)
        elif metric == "csat":
            result = csat(values, lo, hi, cut, confidence)
        else:
            result = ces(values, lo, hi, higher_is_better, cut, confidence)
        if by:
            result = {by: key[0], **result}
        result["small_n"] = result["n"] < min_n
        rows.append(result)
    frame = pd.DataFrame(rows)
    if by and len(frame) > 1:
        frame = _test_groups(frame, counts, metric, by, higher_is_better, cut)
    return frame


def _in_box(values: np.ndarray, cut: float, top: bool) -> int:
    return int((values >= cut).sum() if top else (values <= cut).sum())


def _test_groups(frame, counts, metric, by, higher_is_better, cut) -> pd.DataFrame:
    p_values, ordinal = [], []
    for row in frame.itertuples():
        lo, hi = (float(x) for x in row.scale.split("-"))
        same = counts[(counts.scale_min == lo) & (counts.scale_max == hi)]
        mine = _expand(same[same[by] == getattr(row, by)])
        rest = _expand(same[same[by] != getattr(row, by)])
        if len(mine) == 0 or len(rest) == 0:
            p_values.append(math.nan)
            ordinal.append(math.nan)
            continue
        if metric == "nps":
            a, b = nps(mine), nps(rest)
            var = lambda r, n: (r["promoters"] + r["detractors"]  # noqa: E731
                                - (r["promoters"] - r["detractors"]) ** 2) / n
            se = math.sqrt(var(a, len(mine)) + var(b, len(rest)))
            diff = (a["score"] - b["score"]) / 100
            p_values.append(float(2 * stats.norm.sf(abs(diff / se))) if se > 0 else math.nan)
        else:
            # the headline is a share (top boxes, or "easy"): compare two proportions
            top = metric == "csat" or higher_is_better
            counts_ = np.array([_in_box(mine, row.cut, top), _in_box(rest, row.cut, top)])
            sizes = np.array([len(mine), len(rest)])
            if 0 < counts_.sum() < sizes.sum():
                p_values.append(float(proportions_ztest(counts_, sizes)[1]))
            else:
                p_values.append(1.0)
        ordinal.append(float(stats.mannwhitneyu(mine, rest, alternative="two-sided").pvalue))
    frame["p_value"] = p_values
    frame["p_value_ordinal"] = ordinal  # Mann-Whitney on the whole score distribution
    valid = frame.p_value.notna()
    frame["p_adjusted"] = np.nan
    if valid.any():
        frame.loc[valid, "p_adjusted"] = multipletests(frame.p_value[valid], method="holm")[1]
    # A handful of answers can look extreme by chance: small groups are shown, never claimed.
    frame["significant"] = (frame.p_adjusted < 0.05) & ~frame.small_n
    return frame


def response_rate(surveys: ir.Table, orders: ir.Table, metric: str) -> dict:
    """Responses per order and the share of customers who answered at least once."""
    surveys, orders = as_tables(surveys=surveys, orders=orders)
    responses = surveys.filter(surveys.metric == metric)
    got = responses.aggregate(n=_.count(), customers=_.customer_id.nunique()).execute()
    orders_n = int(orders.count().execute())
    customers = int(orders.customer_id.nunique().execute())
    n, responders = int(got.n.iloc[0]), int(got.customers.iloc[0])
    return {"metric": metric, "responses": n, "per_100_orders": 100 * n / orders_n
            if orders_n else math.nan, "responding_customers": responders,
            "customer_share": responders / customers if customers else math.nan}


def verbatims(surveys: ir.Table, limit: int = 20, max_chars: int = 280,
              since: object | None = None) -> pd.DataFrame:
    """The most recent comments of detractors (NPS 0-6) and unhappy CSAT answers (bottom two).

    Text is cut to ``max_chars`` (with an ellipsis); it still has to be escaped when shown,
    which :func:`ppxlib.notebook.table_html` does.

    Returns
    -------
    pandas.DataFrame
        ``response_ts, customer_id, metric, score, touchpoint, comment``, newest first.
    """
    surveys = as_table(surveys, "surveys")
    if "comment" not in surveys.columns:
        return pd.DataFrame(columns=["response_ts", "customer_id", "metric", "score",
                                     "touchpoint", "comment"])
    t = surveys.filter(surveys.comment.notnull() & (surveys.comment.strip() != ""))
    if since is not None:
        t = t.filter(t.response_ts >= since)
    low_csat = t.score <= (t.scale_min.fill_null(1) + 1 if "scale_min" in t.columns else 2)
    t = t.filter(((t.metric == "nps") & (t.score <= 6)) | ((t.metric == "csat") & low_csat))
    touchpoint = t.touchpoint if "touchpoint" in t.columns else ibis.literal("")
    frame = (t.select("response_ts", "customer_id", "metric", "score", touchpoint=touchpoint,
                      comment=t.comment)
             # a total order: the same comments every run, even at equal timestamps
             .order_by([ibis.desc("response_ts"), "customer_id", "metric", "score", "comment"])
             .limit(limit).to_pandas())
    frame["comment"] = [c if len(c) <= max_chars else c[: max_chars - 1] + "…"
                        for c in frame.comment.astype(str)]
    return frame
