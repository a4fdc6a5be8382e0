"""Survey scores with honest uncertainty: CSAT, NPS and CES, overall and by group.

* **CSAT**: top-box share (scores at or above ``cut``) with a Wilson interval, and the mean
  with a t interval. Default cut: the top two boxes (4-5 on 1-5, 6-7 on 1-7, 9-10 on 1-10).
* **NPS**: % promoters (9-10) - % detractors (0-6) on the 0-10 scale, in points (-100..100).
  Interval: adjusted Wald (add 3 to n and 3/4 to the promoter and detractor counts; variance
  ``p_P + p_D - (p_P - p_D)**2``), centred on the adjusted estimate, clipped to [-100, 100]
  and, where the shrunk centre leaves the observed score outside it (one answer at 95 %, a
  few answers at lower confidence), widened to reach the score: the interval always holds
  the estimate it is drawn around. No answers: NaN score and interval.
* **CES**: direction is data. With ``higher_is_better`` (CES 2.0, "the company made it easy")
  the "easy" share is the top boxes; otherwise (CES 1.0, "how much effort") the bottom boxes.

Scores on different scales are never pooled: :func:`score_counts` keeps ``scale_min`` and
``scale_max`` as keys and the group functions refuse a mixture. A score off its scale is an
error (:class:`ValueError` naming the values), never counted.

Differences between two groups: top-box shares by Newcombe's hybrid score interval (from the
two Wilson intervals), NPS by the adjusted-Wald variances of both groups (each with 3 added to
n and 3/4 to its promoters and detractors). :func:`scores_by_order_experience` breaks the
scores down by what happened to the order an answer is about (late delivery, return, support
ticket), as known at a month's end; :func:`breakdown` and :func:`rank_breakdowns` order any
set of breakdowns by the size of their clearest difference.
"""

from __future__ import annotations

import math

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from ppxlib.cohorts import wilson_interval
from ppxlib.contract import DEFAULT_SCALES
from ppxlib.experience import _attach
from ppxlib.tables import as_table, as_tables

MIN_N = 30

#: The order experiences :func:`scores_by_order_experience` breaks scores down by:
#: factor -> (the group compared, the reference it is compared with).
ORDER_FACTORS: dict[str, tuple[str, str]] = {
    "delivery": ("late", "on time"),
    "returned": ("returned", "not returned"),
    "ticket": ("ticket", "no ticket"),
}


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _scores(scores, low: float, high: float, metric: str) -> np.ndarray:
    """The answers as floats (missing ones dropped); off-scale scores are an error."""
    values = np.asarray(pd.Series(scores, dtype=float).dropna(), dtype=float)
    off = values[(values < low) | (values > high)]
    if len(off):
        shown = ", ".join(f"{v:g}" for v in sorted(set(off.tolist()))[:5])
        raise ValueError(f"{metric}: {len(off):,} of {len(values):,} scores are outside the "
                         f"{low:g}-{high:g} scale: {shown}")
    return values


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of p-values (as statsmodels' ``multipletests``, "holm").

    Written out because statsmodels runs a full garbage collection on every call, about a
    third of a second in a report's kernel, and a report adjusts over a dozen breakdowns.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


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
    >>> csat([6, 6, 1], 1, 5)
    Traceback (most recent call last):
    ...
    ValueError: csat: 2 of 3 scores are outside the 1-5 scale: 6
    """
    values = _scores(scores, scale_min, scale_max, "csat")
    cut = default_cut(scale_min, scale_max) if cut is None else cut
    n, top = len(values), int((values >= cut).sum())
    low, high = wilson_interval([top], [n], confidence)
    mean, mean_low, mean_high = _mean_interval(values, confidence)
    return {"metric": "csat", "n": n, "score": top / n if n else math.nan,
            "low": float(low[0]), "high": float(high[0]), "cut": cut, "mean": mean,
            "mean_low": mean_low, "mean_high": mean_high, "scale": f"{scale_min:g}-{scale_max:g}"}


def _nps_counts(values: np.ndarray) -> tuple[int, int, int]:
    """(answers, promoters, detractors)."""
    return len(values), int((values >= 9).sum()), int((values <= 6).sum())


def _nps_adjusted(n: int, promoters: int, detractors: int) -> tuple[float, float]:
    """Adjusted-Wald centre (a share, -1..1) and the variance of that centre."""
    adj_n = n + 3
    p_p, p_d = (promoters + 0.75) / adj_n, (detractors + 0.75) / adj_n
    centre = p_p - p_d
    return centre, (p_p + p_d - centre**2) / adj_n


def _holding(estimate: float, low: float, high: float, bound: float) -> tuple[float, float]:
    """An interval clipped to [-bound, bound] and widened, if need be, to hold the estimate."""
    low, high = max(low, -bound), min(high, bound)
    return float(min(low, estimate)), float(max(high, estimate))


def nps(scores, confidence: float = 0.95) -> dict:
    """Net Promoter Score on 0-10, in points, with the adjusted-Wald interval.

    The interval is clipped to [-100, 100] and always holds the score (see the module notes);
    with no answers the score and its interval are NaN.

    Examples
    --------
    >>> r = nps([10] * 5 + [8] * 3 + [3] * 2)
    >>> r["score"], r["promoters"], r["detractors"]
    (30.0, 0.5, 0.2)
    >>> r = nps([10] * 200)
    >>> r["score"], r["high"]
    (100.0, 100.0)
    """
    values = _scores(scores, 0, 10, "nps")
    n, promoters, detractors = _nps_counts(values)
    passives = n - promoters - detractors
    share = (lambda k: k / n) if n else (lambda k: math.nan)
    score, low, high = math.nan, math.nan, math.nan
    if n:
        score = 100 * (promoters - detractors) / n
        centre, variance = _nps_adjusted(n, promoters, detractors)
        half = _z(confidence) * math.sqrt(variance)
        low, high = _holding(score, 100 * (centre - half), 100 * (centre + half), 100)
    return {"metric": "nps", "n": n, "score": score, "low": low, "high": high,
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
    values = _scores(scores, scale_min, scale_max, "ces")
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
        frame.loc[valid, "p_adjusted"] = holm(frame.p_value[valid])
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


def _shares(values: np.ndarray, metric: str, cut: float, higher_is_better: bool) -> int:
    """Answers in the headline box: CSAT top boxes, CES "easy" (top or bottom boxes)."""
    return _in_box(values, cut, metric == "csat" or higher_is_better)


def nps_difference(scores_a, scores_b, confidence: float = 0.95) -> dict:
    """NPS of ``a`` minus NPS of ``b``, in points, with an adjusted-Wald interval.

    Each group gets its own adjusted-Wald centre and variance (3 added to n, 3/4 to its
    promoters and detractors, as for one NPS); the interval is the difference of the centres
    plus or minus z times the root of the summed variances, clipped to [-200, 200] and held
    to contain the observed difference. NaN when a group has no answers.

    Examples
    --------
    >>> d = nps_difference([10] * 60 + [2] * 40, [10] * 30 + [2] * 70)
    >>> d["difference"], round(d["low"], 1), round(d["high"], 1)
    (60.0, 32.5, 84.0)
    """
    a, b = _scores(scores_a, 0, 10, "nps"), _scores(scores_b, 0, 10, "nps")
    return _nps_difference(_nps_counts(a), _nps_counts(b), confidence)


def _nps_difference(a: tuple[int, int, int], b: tuple[int, int, int],
                    confidence: float) -> dict:
    if not a[0] or not b[0]:
        return {"difference": math.nan, "low": math.nan, "high": math.nan}
    difference = 100 * (a[1] - a[2]) / a[0] - 100 * (b[1] - b[2]) / b[0]
    (centre_a, var_a), (centre_b, var_b) = _nps_adjusted(*a), _nps_adjusted(*b)
    half = _z(confidence) * math.sqrt(var_a + var_b)
    centre = centre_a - centre_b
    low, high = _holding(difference, 100 * (centre - half), 100 * (centre + half), 200)
    return {"difference": difference, "low": low, "high": high}


def share_difference(successes_a: int, n_a: int, successes_b: int, n_b: int,
                     confidence: float = 0.95) -> dict:
    """Share of ``a`` minus share of ``b`` with Newcombe's hybrid score interval.

    The interval combines the two Wilson intervals (Newcombe 1998, method 10), so it stays
    inside [-1, 1] and behaves at shares near 0 or 1. NaN when a group has no answers.

    Examples
    --------
    >>> d = share_difference(40, 50, 30, 60)
    >>> round(d["difference"], 2), round(d["low"], 3), round(d["high"], 3)
    (0.3, 0.121, 0.451)
    """
    if not n_a or not n_b:
        return {"difference": math.nan, "low": math.nan, "high": math.nan}
    low, high = confint_proportions_2indep(successes_a, n_a, successes_b, n_b,
                                           method="newcomb", alpha=1 - confidence)
    return {"difference": successes_a / n_a - successes_b / n_b, "low": float(low),
            "high": float(high)}


def group_differences(counts: pd.DataFrame, metric: str, by: str,
                      reference: str | None = None, min_n: int = MIN_N,
                      higher_is_better: bool = True, cut: float | None = None,
                      confidence: float = 0.95) -> pd.DataFrame:
    """Each group's score minus that of ``reference`` (or of all other answers), with an interval.

    Only answers on the same scale are compared. CSAT and CES compare their headline shares
    (:func:`share_difference`, Newcombe), NPS its points (:func:`nps_difference`, adjusted
    Wald).

    Returns
    -------
    pandas.DataFrame
        ``[by], scale, versus`` (the reference, or "the rest"), ``n, n_versus, score,
        versus_score, difference, low, high, small_n`` (either side below ``min_n``),
        ``excludes_zero`` (the interval lies on one side of zero). Differences of shares
        are shares (0.1 = 10 points), of NPS points.

    Examples
    --------
    >>> counts = pd.DataFrame({"g": ["a", "a", "b", "b"], "scale_min": 1.0,
    ...                        "scale_max": 5.0, "score": [5, 1] * 2, "n": [8, 2, 5, 5]})
    >>> d = group_differences(counts, "csat", "g", reference="b")
    >>> d[["g", "versus", "score", "versus_score", "difference"]].values.tolist()
    [['a', 'b', 0.8, 0.5, 0.30000000000000004]]
    """
    rows = []
    for (lo, hi), same in counts.groupby(["scale_min", "scale_max"], sort=True):
        groups = sorted(same[by].unique())
        if reference is not None and reference not in groups:
            continue
        for group in groups:
            if group == reference:
                continue
            mine = _expand(same[same[by] == group])
            other = _expand(same[same[by] == reference] if reference is not None
                            else same[same[by] != group])
            if not len(other):
                continue
            row = {by: group, "scale": f"{lo:g}-{hi:g}",
                   "versus": reference if reference is not None else "the rest",
                   "n": len(mine), "n_versus": len(other)}
            if metric == "nps":
                row["score"], row["versus_score"] = nps(mine)["score"], nps(other)["score"]
                row.update(_nps_difference(_nps_counts(mine), _nps_counts(other), confidence))
            else:
                box = default_cut(lo, hi) if cut is None and metric == "csat" else cut
                if box is None:  # CES: the same default as ces()
                    box = ces([], lo, hi, higher_is_better)["cut"]
                k_a = _shares(mine, metric, box, higher_is_better)
                k_b = _shares(other, metric, box, higher_is_better)
                row["score"], row["versus_score"] = k_a / len(mine), k_b / len(other)
                row.update(share_difference(k_a, len(mine), k_b, len(other), confidence))
            rows.append(row)
    frame = pd.DataFrame(rows, columns=[by, "scale", "versus", "n", "n_versus", "score",
                                        "versus_score", "difference", "low", "high"])
    frame["small_n"] = (frame.n < min_n) | (frame.n_versus < min_n)
    frame["excludes_zero"] = (frame.low > 0) | (frame.high < 0)
    return frame


def breakdown(counts: pd.DataFrame, metric: str, by: str, reference: str | None = None,
              min_n: int = MIN_N, higher_is_better: bool = True, cut: float | None = None,
              confidence: float = 0.95) -> dict:
    """One breakdown of a score by a column: the groups, their differences, the clearest one.

    Two kinds of breakdown, judged differently on purpose:

    * with a ``reference`` (a planned comparison, "late against on time"): the difference is
      clear when its 95 % interval excludes zero and both sides have ``min_n`` answers;
    * without (exploring: months, segments, channels): each group is compared with all
      other answers and is clear only when the Holm-corrected test of :func:`summarise` says
      so (``significant``), since with many groups one looks extreme by chance.

    Returns
    -------
    dict
        ``metric, by, reference, groups`` (distinct groups), ``table`` (:func:`summarise`),
        ``differences`` (:func:`group_differences`, with ``clear``), ``lead`` (the row of
        the largest clear difference, else of the largest difference; None without any),
        ``clear`` (bool) and ``size``: the lead difference as a share of the score's range
        (shares span 1, NPS 200 points), so that breakdowns of different scores rank
        together.

    Examples
    --------
    >>> counts = pd.DataFrame({"g": ["a", "a", "b", "b"], "scale_min": 1.0,
    ...                        "scale_max": 5.0, "score": [5, 1] * 2, "n": [80, 20, 50, 50]})
    >>> b = breakdown(counts, "csat", "g", reference="b")
    >>> b["clear"], round(b["size"], 2), b["lead"]["g"]
    (True, 0.3, 'a')
    """
    table = summarise(counts, metric, by=by, min_n=min_n, higher_is_better=higher_is_better,
                      cut=cut, confidence=confidence)
    differences = group_differences(counts, metric, by, reference, min_n, higher_is_better,
                                    cut, confidence)
    if reference is not None:
        differences["clear"] = differences.excludes_zero & ~differences.small_n
    elif "significant" in table:
        significant = table[table.significant][[by, "scale"]].assign(clear=True)
        differences = differences.merge(significant, on=[by, "scale"], how="left")
        differences["clear"] = differences.clear.astype("boolean").fillna(False).astype(bool)
    else:
        differences["clear"] = False
    span = 200.0 if metric == "nps" else 1.0
    differences["size"] = differences.difference.abs() / span
    lead = None
    if differences.difference.notna().any():
        pool = differences[differences.clear] if differences.clear.any() else differences
        lead = pool.loc[pool["size"].idxmax()].to_dict()
    return {"metric": metric, "by": by, "reference": reference,
            "groups": int(table[by].nunique()) if len(table) else 0, "table": table,
            "differences": differences, "lead": lead,
            "clear": bool(lead is not None and lead["clear"]),
            "size": float(lead["size"]) if lead is not None else 0.0}


def rank_breakdowns(breakdowns: list[dict]) -> list[dict]:
    """Breakdowns in reading order: clear differences first, the largest leading; then the
    unclear ones by size; breakdowns of a single group (nothing to compare) last.

    Examples
    --------
    >>> found = [{"groups": 1, "clear": False, "size": 0.0},
    ...          {"groups": 2, "clear": False, "size": 0.5},
    ...          {"groups": 3, "clear": True, "size": 0.1},
    ...          {"groups": 2, "clear": True, "size": 0.4}]
    >>> [(b["clear"], b["size"]) for b in rank_breakdowns(found)]
    [(True, 0.4), (True, 0.1), (False, 0.5), (False, 0.0)]
    """
    return sorted(breakdowns, key=lambda b: (b["groups"] < 2, not b["clear"], -b["size"]))


def order_experience_counts(surveys: ir.Table, orders: ir.Table, end: object,
                            returns: ir.Table | None = None, tickets: ir.Table | None = None,
                            start: object | None = None) -> pd.DataFrame:
    """Engine side: answers per score and the experience of the order each answer is about.

    Point in time at ``end`` (exclusive): only answers given before ``end`` (and at or after
    ``start``) and orders placed before it count; what happened to the order is what was
    known at ``end``:

    * ``delivery``: "on time" (delivered before ``end``, by its promised time), "late"
      (delivered after the promise, or still not delivered at ``end`` when the promise had
      passed: late whatever happens next) or "unknown" (no promise, or not delivered yet
      with the promise still ahead);
    * ``returned``: "returned" if a return was recorded before ``end``, else "not returned";
    * ``ticket``: "ticket" if a support ticket on the order was opened before ``end``, else
      "no ticket".

    Answers without an ``order_id``, or about an order not in ``orders`` before ``end``,
    are kept with ``matched`` False, so that they are counted, not lost.

    Returns
    -------
    pandas.DataFrame
        ``metric, scale_min, scale_max, matched, delivery, returned, ticket, score, n``: one
        row per combination, so as many rows as groups and scores, not answers.
    """
    surveys, orders, returns, tickets = as_tables(surveys=surveys, orders=orders,
                                                  returns=returns, tickets=tickets)
    t = surveys.filter(surveys.response_ts < end)
    if start is not None:
        t = t.filter(t.response_ts >= start)
    metric = t.metric
    low = metric.cases(*((m, lo) for m, (lo, _) in DEFAULT_SCALES.items()), else_=None)
    high = metric.cases(*((m, hi) for m, (_, hi) in DEFAULT_SCALES.items()), else_=None)
    order_id = t.order_id if "order_id" in t.columns else ibis.null("string")
    answers = t.select(
        metric=metric, score=t.score, order_id=order_id,
        scale_min=t.scale_min.fill_null(low) if "scale_min" in t.columns else low,
        scale_max=t.scale_max.fill_null(high) if "scale_max" in t.columns else high)
    o = orders.filter(orders.order_ts < end)
    o = o.mutate(**{f"_{c}": o[c] if c in o.columns else ibis.null("timestamp")
                    for c in ("promised_ts", "delivered_ts")})
    if "order_id" in t.columns:
        answers = _attach(answers, "order_id", o, _orders=_.count(),
                          _promised=_._promised_ts.min(), _delivered=_._delivered_ts.min())
    else:
        answers = answers.mutate(_orders=ibis.null("int64"), _promised=ibis.null("timestamp"),
                                 _delivered=ibis.null("timestamp"))
    answers = answers.mutate(_returns=ibis.null("int64"), _tickets=ibis.null("int64"))
    if returns is not None and "order_id" in t.columns:
        r = returns.filter(returns.return_ts < end)
        answers = _attach(answers.drop("_returns"), "order_id", r, _returns=_.count())
    if tickets is not None and "order_id" in t.columns and "order_id" in tickets.columns:
        k = tickets.filter((tickets.opened_ts < end) & tickets.order_id.notnull())
        answers = _attach(answers.drop("_tickets"), "order_id", k, _tickets=_.count())
    end_ts = ibis.literal(pd.Timestamp(end).to_pydatetime(), "timestamp")
    # a delivery after the month end has not happened yet at the month end
    delivered = ibis.ifelse(answers._delivered < end_ts, answers._delivered,
                            ibis.null("timestamp"))
    promised = answers._promised
    known = delivered.notnull() & promised.notnull()
    delivery = ibis.cases(
        (known & (delivered > promised), "late"),
        (known, "on time"),
        # not delivered at the month end though promised before it: late already
        (delivered.isnull() & promised.notnull() & (promised < end_ts), "late"),
        else_="unknown")
    answers = answers.mutate(
        matched=answers._orders.notnull(), delivery=delivery,
        returned=ibis.ifelse(answers._returns.notnull(), "returned", "not returned"),
        ticket=ibis.ifelse(answers._tickets.notnull(), "ticket", "no ticket"))
    keys = ["metric", "scale_min", "scale_max", "matched", "delivery", "returned", "ticket",
            "score"]
    frame = answers.group_by(keys).aggregate(n=_.count()).to_pandas()
    return frame.sort_values(keys).reset_index(drop=True)


def scores_by_order_experience(surveys: ir.Table, orders: ir.Table, end: object,
                               returns: ir.Table | None = None,
                               tickets: ir.Table | None = None, start: object | None = None,
                               min_n: int = MIN_N, higher_is_better: bool = True,
                               confidence: float = 0.95) -> dict:
    """CSAT, NPS and CES by the experience of the order each answer is about, at ``end``.

    For each score and each factor of :data:`ORDER_FACTORS` (late against on-time delivery,
    returned against not, a support ticket against none), a :func:`breakdown` with the
    difference and its 95 % interval. The joins run in the engine and are point-in-time
    correct at ``end`` (:func:`order_experience_counts`); only counts per group and score
    come back. Without a returns (tickets) table the returned (ticket) factor is left out.

    Returns
    -------
    dict
        ``breakdowns`` (list of :func:`breakdown` dicts, with ``by`` the factor),
        ``scores`` (per metric, factor and group: the :func:`summarise` rows, "unknown"
        deliveries included), ``differences`` (per metric and factor, group minus reference)
        and ``answers`` (per metric: answers, about a known order, of unknown delivery).

    Examples
    --------
    >>> import ibis
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "order_id": ["1", "2"], "customer_id": ["a", "b"],
    ...     "order_ts": pd.to_datetime(["2024-01-01", "2024-01-02"]),
    ...     "promised_ts": pd.to_datetime(["2024-01-04", "2024-01-05"]),
    ...     "delivered_ts": pd.to_datetime(["2024-01-03", "2024-01-09"])}))
    >>> surveys = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "b"], "order_id": ["1", "2"], "metric": "csat",
    ...     "score": [5.0, 2.0], "response_ts": pd.to_datetime(["2024-01-05", "2024-01-10"])}))
    >>> r = scores_by_order_experience(surveys, orders, end="2024-02-01", min_n=1)
    >>> r["differences"][["metric", "factor", "group", "difference"]].values.tolist()
    [['csat', 'delivery', 'late', -1.0]]
    """
    surveys, orders, returns, tickets = as_tables(surveys=surveys, orders=orders,
                                                  returns=returns, tickets=tickets)
    counts = order_experience_counts(surveys, orders, end, returns, tickets, start)
    matched = counts[counts.matched]
    has_order = "order_id" in surveys.columns
    available = {"delivery": has_order,
                 "returned": has_order and returns is not None,
                 "ticket": has_order and tickets is not None and "order_id" in tickets.columns}
    found, scores, differences = [], [], []
    for metric in sorted(matched.metric.unique()):
        mine = matched[matched.metric == metric]
        for factor, (group, reference) in ORDER_FACTORS.items():
            if not available[factor]:
                continue
            per = mine.groupby([factor, "scale_min", "scale_max", "score"], as_index=False).n.sum()
            # "unknown" deliveries are shown in the scores, never compared
            if factor == "delivery" and (per.delivery == "unknown").any():
                scores.append(summarise(per[per.delivery == "unknown"], metric, by=factor,
                                        min_n=min_n, higher_is_better=higher_is_better,
                                        confidence=confidence)
                              .rename(columns={factor: "group"})
                              .assign(metric=metric, factor=factor))
            per = per[per[factor].isin([group, reference])]
            if per.empty:
                continue
            b = breakdown(per, metric, factor, reference, min_n, higher_is_better,
                          confidence=confidence)
            found.append(b)
            scores.append(b["table"].rename(columns={factor: "group"})
                          .assign(metric=metric, factor=factor))
            differences.append(b["differences"].rename(columns={factor: "group"})
                               .assign(metric=metric, factor=factor))
    answers = counts.groupby("metric").apply(lambda c: pd.Series({
        "answers": int(c.n.sum()), "about_a_known_order": int(c.n[c.matched].sum()),
        "unknown_delivery": int(c.n[c.matched & (c.delivery == "unknown")].sum())}),
        include_groups=False).reset_index() if len(counts) else pd.DataFrame(
        columns=["metric", "answers", "about_a_known_order", "unknown_delivery"])

    def _frame(parts: list[pd.DataFrame], first: list[str]) -> pd.DataFrame:
        if not parts:
            return pd.DataFrame(columns=first)
        # a group tested against nobody has all-NaN test columns: keep them numeric
        parts = [part.astype({c: float for c in part.columns
                              if part[c].isna().all() and part[c].dtype == object})
                 for part in parts]
        frame = pd.concat(parts, ignore_index=True)
        return frame[first + [c for c in frame.columns if c not in first]]

    return {"breakdowns": found,
            "scores": _frame(scores, ["metric", "factor", "group"]),
            "differences": _frame(differences, ["metric", "factor", "group"]),
            "answers": answers}
