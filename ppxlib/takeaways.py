"""One-sentence, plain-language takeaways computed from result frames.

Each report chart carries one of these under its title, so a reader who never opens Python
gets the point in words. Sentences are built from the numbers, never fixed prose.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportions_ztest

from ppxlib.plots import currency_prefix
from ppxlib.survey import holm

#: Groups with fewer observations are never named as standing out.
MIN_N = 30


def _pct(x: float, signed: bool = True) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:+.1%}" if signed else f"{x:.1%}"


def money(x: float, currency: str = "") -> str:
    """Format an amount with thousands separators: ``money(1234.5, "€") == '€1,234'``.

    The sign goes before the currency, and a code such as "EUR" gets a space; without a
    currency the amount is a plain number.

    Examples
    --------
    >>> money(-30.6, "€"), money(1234.5, "EUR"), money(1234.5)
    ('−€31', 'EUR 1,234', '1,234')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{'−' if x < 0 else ''}{currency_prefix(currency)}{abs(x):,.0f}"


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
    'In February 2024, 10 buyers placed 12 orders worth 600 (average order 50.00); \
the 365-day repeat purchase rate is 25.0% (-2.0 pp on January).'
    """
    k = kpis.set_index("kpi")
    prev = (month - 1).strftime("%B")
    rate_change = float(k.at["repeat_purchase_rate", "change"])
    change = "" if math.isnan(rate_change) else f" ({rate_change * 100:+.1f} pp on {prev})"
    aov = float(k.at["aov", "value"])
    aov_text = "n/a" if math.isnan(aov) else f"{currency_prefix(currency)}{aov:,.2f}"
    rate = float(k.at["repeat_purchase_rate", "value"])
    return (f"In {month.strftime('%B %Y')}, {int(k.at['customers', 'value']):,} buyers placed "
            f"{int(k.at['orders', 'value']):,} orders worth "
            f"{money(float(k.at['revenue', 'value']), currency)} (average order {aov_text}); "
            f"the 365-day repeat purchase rate is {_pct(rate, signed=False)}{change}.")


def _ci(low: float, high: float) -> str:
    return f"{low * 100:.1f}–{high:.1%}"


def cohort_retention(pooled: pd.DataFrame, unit: str = "month") -> str:
    """E.g. "Across cohorts, 14.8% (14.4–15.2%) order again in the month after acquisition..."

    Examples
    --------
    >>> p = pd.DataFrame({"period_number": [0, 1, 2], "rate": [1.0, 0.2, 0.1],
    ...                   "rate_low": [1.0, 0.18, 0.08], "rate_high": [1.0, 0.22, 0.12],
    ...                   "cohort_size": [100, 90, 80]})
    >>> cohort_retention(p)
    'Across cohorts, 20.0% (18.0–22.0%) order again in the month after acquisition; \
by month 2 it is 10.0%.'
    """
    later = pooled[pooled.period_number >= 1]
    if later.empty:
        return "No cohort is old enough yet to show whether customers come back."
    first = later.iloc[0]
    text = (f"Across cohorts, {first.rate:.1%} ({_ci(first.rate_low, first.rate_high)}) order "
            f"again in the {unit} after acquisition")
    for k in (12, 6, 3, 2):
        row = later[later.period_number == k]
        if k > 1 and len(row):
            text += f"; by {unit} {k} it is {row.rate.iloc[0]:.1%}"
            break
    return text + "."


def revenue_per_customer(retention: pd.DataFrame, currency: str = "", unit: str = "month",
                         horizon: int = 12) -> str:
    """E.g. "A customer brings on average 96 in their first 13 months, 1.6× ..."."""
    reached = retention[retention.reached]
    for k in (horizon, 6, 3, 1):
        at = reached[reached.period_number == k]
        if len(at):
            sizes = at.cohort_size.sum()
            value = (at.cumulative_revenue_per_customer * at.cohort_size).sum() / sizes
            first = reached[(reached.period_number == 0) & reached.cohort.isin(at.cohort)]
            base = (first.revenue.sum() / first.cohort_size.sum()) if len(first) else float("nan")
            ratio = value / base if base else float("nan")
            return (f"A customer brings on average {money(value, currency)} in their first "
                    f"{k + 1} {unit}s (acquisition {unit} included), {ratio:.1f}× what they "
                    f"spend in the acquisition {unit}.")
    return "No cohort has revenue to compare yet."


def period_metrics(metrics: pd.DataFrame, month: pd.Period, currency: str = "") -> str:
    """The month's share kept, retention and churn rates, and the lifespan they imply, in the
    glossary's words (:mod:`ppxlib.glossary`).

    Examples
    --------
    >>> m = pd.DataFrame({"month": [pd.Period("2024-02", "M")], "customers_start": [200],
    ...     "retention_rate_exact": [0.9], "won_back_rate": [0.02], "retention_rate": [0.92],
    ...     "churn_rate": [0.08], "churn_rate_12m": [0.05], "lifespan_months": [20.0],
    ...     "aov_window": [50.0], "frequency_per_month": [0.3], "simple_clv": [300.0]})
    >>> period_metrics(m, pd.Period("2024-02", "M"))[:61]
    'In February 2024, 90.0% of the 200 current customers at the s'
    """
    row = metrics.set_index("month").loc[month] if month in set(metrics.month) else None
    if row is None or math.isnan(row.retention_rate):
        return "There is not enough history yet to compute retention for this month."
    text = (f"In {month.strftime('%B %Y')}, {row.retention_rate_exact:.1%} of the "
            f"{row.customers_start:,.0f} current customers at the start of the month were still "
            f"current customers at its end (share kept); counting the {row.won_back_rate:.1%} "
            f"won back, the retention rate was {row.retention_rate:.1%} and the churn rate "
            f"{row.churn_rate:.1%}")
    if not math.isnan(row.lifespan_months):
        text += (f". Churn averaged {row.churn_rate_12m:.1%} a month over the 12 months to "
                 f"{month.strftime('%B %Y')}, a lifespan of {row.lifespan_months:.0f} months")
    if not math.isnan(row.simple_clv):
        text += (f"; at {money(row.aov_window, currency)} an order and "
                 f"{row.frequency_per_month:.2f} orders a month, a current customer is worth "
                 f"about {money(row.simple_clv, currency)} over that time (simple CLV)")
    return text + "."


def reorder(summary: pd.DataFrame, comparison: dict | None = None, by: str | None = None
            ) -> str:
    """E.g. "31.6% (30.3–32.9%) of customers place a second order within 90 days; ..."

    Without any repeat purchase yet, says so in words (no zero rate, no test). Whether the
    groups' curves differ is said in words; the test and its p-value belong in a note.

    Examples
    --------
    >>> s = pd.DataFrame({"customers": [100], "reordered": [60], "median_days": [120.0],
    ...                   "within_90": [0.4], "within_90_low": [0.3], "within_90_high": [0.5]})
    >>> reorder(s)
    '40.0% (30.0–50.0%) of customers place a second order within 90 days; half have \
reordered after 120 days.'
    >>> reorder(s.assign(reordered=0))
    'No customer has ordered a second time yet (100 customers so far).'
    """
    overall = summary.iloc[0]
    if int(overall.reordered) == 0 or (comparison or {}).get("reason"):
        return (f"No customer has ordered a second time yet ({int(overall.customers):,} "
                "customers so far).")
    horizon = next((h for h in (90, 30) if f"within_{h}" in summary
                    and not math.isnan(overall[f"within_{h}"])), None)
    if horizon is None:
        return "The data does not yet follow customers long enough to see second orders."
    share = overall[f"within_{horizon}"]
    low, high = overall[f"within_{horizon}_low"], overall[f"within_{horizon}_high"]
    text = (f"{share:.1%} ({_ci(low, high)}) of customers place a second order within "
            f"{horizon} days")
    if math.isnan(overall.median_days):
        text += "; fewer than half have reordered so far"
    else:
        text += f"; half have reordered after {overall.median_days:.0f} days"
    if comparison is not None and by and not math.isnan(comparison["p_value"]):
        verdict = "differ clearly" if comparison["p_value"] < 0.05 else "do not differ clearly"
        text += f". By {by.replace('_', ' ')}, the curves {verdict}"
    return text + "."


def lifecycle(loyalty: pd.DataFrame, month: pd.Period) -> str:
    """E.g. "In October 2026, 140 customers became less engaged, 57 of them lost; 31 came back..."
    """
    here = loyalty[loyalty.month == month]
    if here.empty:
        return "No lifecycle moves to report for this month."
    r = here.iloc[0]
    return (f"In {month.strftime('%B %Y')}, {r.less_loyal:,} customers became less engaged "
            f"({r.less_loyal - r.lost:,} started sleeping, {r.lost:,} were lost), "
            f"{r.came_back:,} were reactivated (came back after sleeping or being lost), and "
            f"{r.acquired:,} new customers were acquired.")


def rfm(segments: pd.DataFrame) -> str:
    """E.g. "Champions are 11% of customers and bring 38% of revenue; ..."""
    s = segments.set_index("segment")
    champions = s.loc["Champions"]
    risk = s.loc[["At Risk", "Can't Lose Them"]]
    return (f"Champions are {champions.customer_share:.0%} of customers and bring "
            f"{champions.revenue_share:.0%} of revenue; At Risk and Can't Lose Them hold "
            f"{risk.revenue_share.sum():.0%} of revenue from customers who have not ordered "
            f"for a long time.")


def p_alive(p_alive: pd.Series) -> str:
    """E.g. "The model puts 41% of customers at less than a 50% chance of still being active."
    """
    low = float((p_alive < 0.5).mean())
    return (f"The model gives {low:.0%} of customers less than an even chance of still being "
            f"active; the median customer is active with probability {p_alive.median():.0%}.")


def holdout(errors: dict, weeks: float) -> str:
    """How well the model predicted a period it did not see, in words.

    Examples
    --------
    >>> holdout({"expected_total": 1020.0, "actual_total": 1000.0, "aggregate_error": 0.02,
    ...          "mae": 0.52}, 26)
    'Fitted without the last 26 weeks, the model expected 1,020 repeat purchases in them; \
customers made 1,000 (2.0% more predicted than made; for a single customer it is off by \
0.52 purchases on average).'
    """
    error = errors["aggregate_error"]
    total = ("as many predicted as made" if abs(error) < 0.0005 else
             f"{abs(error):.1%} {'more' if error > 0 else 'fewer'} predicted than made")
    return (f"Fitted without the last {weeks:.0f} weeks, the model expected "
            f"{errors['expected_total']:,.0f} repeat purchases in them; customers made "
            f"{errors['actual_total']:,.0f} ({total}; for a single customer it is off by "
            f"{errors['mae']:.2f} purchases on average).")


def model_comparison(table: pd.DataFrame, weeks: float, used: str = "BG/NBD") -> str:
    """How the purchase model this report uses predicted the held-back weeks against the others.

    In words: the models' names and errors are in the table under it and in the section's
    "How this is computed" note.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["BG/NBD", "MBG/NBD", "Pareto/NBD"],
    ...                   "mae": [0.80, 0.79, 0.70], "customers": [2000] * 3})
    >>> model_comparison(t, 26, "MBG/NBD")[:73]
    'Over the 26 held-back weeks, another model predicted customers’ purchases'
    """
    scored = table.dropna(subset=["mae"])
    if used not in set(scored.model) or len(scored) < 2:
        return "Too few of the models could be fitted to compare them."
    ours = float(scored.loc[scored.model == used, "mae"].iloc[0])
    best = scored.loc[scored.mae.idxmin()]
    if best.model == used or best.mae >= 0.98 * ours:
        return (f"The model this report uses predicts the {weeks:.0f} held-back weeks about as "
                f"well as the alternatives or better (off by {ours:.2f} purchases per customer "
                "on average).")
    return (f"Over the {weeks:.0f} held-back weeks, another model predicted customers’ "
            f"purchases better than the one this report uses (off by {best.mae:.2f} against "
            f"{ours:.2f} purchases per customer, on {int(best.customers):,} customers); worth "
            "a look if the difference persists from month to month.")


def at_risk(risk: dict, shown: int, currency: str = "") -> str:
    """What the at-risk table holds, how it is ranked and how many rows it shows.

    Examples
    --------
    >>> t = pd.DataFrame({"value_at_risk": [50.0, 30.0]})
    >>> at_risk({"table": t, "candidates": 2, "already_lost": 7}, 25, "€")[:58]
    '2 current customers are more likely gone than active, with'
    """
    table = risk["table"]
    lost = (f" {risk['already_lost']:,} more are already past the lost threshold and are left "
            "to the win-back segments." if risk["already_lost"] else "")
    if table.empty:
        return "No current customer is more likely gone than active." + lost
    return (f"{risk['candidates']:,} current customers are more likely gone than active, with "
            f"{money(table.value_at_risk.sum(), currency)} of past spend at risk (what each has "
            f"spent, weighted by the chance they have stopped buying); the table shows the "
            f"{min(shown, risk['candidates']):,} with the most at risk.{lost}")


def clv_concentration(curve: pd.DataFrame, clv: pd.Series, months: int,
                      currency: str = "") -> str:
    """E.g. "The top 10% of customers hold 57% of predicted 12-month value..."."""
    top = float(curve.loc[curve.customer_share.round(2) == 0.10, "value_share"].iloc[0])
    return (f"The top 10% of customers hold {top:.0%} of the value predicted for the next "
            f"{months} months; the average customer is worth {money(clv.mean(), currency)}.")


def simple_vs_model(simple: float, model_same_horizon: float, lifespan_months: float,
                    currency: str = "", churn_12m: float | None = None,
                    month: pd.Period | None = None) -> str:
    """Compare the seeds' three-factor CLV with the model's over the same horizon, naming the
    churn the lifespan comes from (the same number the retention report shows).

    Examples
    --------
    >>> simple_vs_model(300.0, 200.0, 20.0, "€", 0.05, pd.Period("2024-02", "M"))[:102]
    'Simple CLV is €300 per current customer: a lifespan of 20 months (from the 5.0% monthly \
churn averaged'
    """
    if math.isnan(simple) or math.isnan(model_same_horizon):
        return "There is not enough history to compare the simple and the model CLV."
    ratio = simple / model_same_horizon if model_same_horizon else float("nan")
    source = ""
    if churn_12m is not None and month is not None:
        source = (f" (from the {churn_12m:.1%} monthly churn averaged over the 12 months to "
                  f"{month.strftime('%B %Y')})")
    return (f"Simple CLV is {money(simple, currency)} per current customer: a lifespan of "
            f"{lifespan_months:.0f} months{source}; the model, over the same "
            f"{lifespan_months:.0f} months without discounting, says "
            f"{money(model_same_horizon, currency)} ({ratio:.1f}× apart).")


def standouts(table: pd.DataFrame, by: str, value: str = "score", n: str = "n",
              successes: str | None = None, min_n: int = MIN_N, alpha: float = 0.05
              ) -> pd.DataFrame:
    """Which group stands out, if any: the groups that differ clearly from all the others.

    A group is named only if a test of it against the pooled other groups, Holm-corrected
    across the groups, is below ``alpha``, and it has at least ``min_n`` observations: with
    five categories one is always highest, and its own interval overlapping the rest means
    it is not known to be higher. With ``successes`` (a count column, ``n`` the trials) the
    test is the two-proportion z-test computed here; without, the table's ``p_adjusted``
    (:func:`ppxlib.survey.summarise`, the same rule) is used. Groups on different scales
    (a ``scale`` column) are compared only within their scale.

    Returns
    -------
    pandas.DataFrame
        The rows that stand out, with ``rest`` (the pooled value of the other groups: the
        ``n``-weighted mean of ``value``), ``direction`` ("higher" or "lower") and
        ``p_adjusted``; empty when no group stands out.

    Examples
    --------
    >>> t = pd.DataFrame({"category": list("abcde"), "orders": [1000] * 5,
    ...                   "returned": [80, 85, 130, 90, 88]})
    >>> t["rate"] = t.returned / t.orders
    >>> s = standouts(t, "category", "rate", "orders", successes="returned")
    >>> s[["category", "direction"]].values.tolist(), round(float(s.rest.iloc[0]), 4)
    ([['c', 'higher']], 0.0858)
    """
    frame = table.reset_index(drop=True).copy()
    scale = frame["scale"] if "scale" in frame else pd.Series("", index=frame.index)
    weight = frame[n].astype(float)
    total_n = weight.groupby(scale).transform("sum")
    total = (frame[value] * weight).groupby(scale).transform("sum")
    others = total_n - weight
    frame["rest"] = ((total - frame[value] * weight) / others.where(others > 0)).astype(float)
    if successes is not None:
        k = frame[successes].astype(float)
        rest_k = k.groupby(scale).transform("sum") - k
        p = [float(proportions_ztest([a, b], [m, r])[1]) if m and r and 0 < a + b < m + r
             else (1.0 if m and r else math.nan)
             for a, b, m, r in zip(k, rest_k, weight, others, strict=True)]
        frame["p_adjusted"] = np.nan
        valid = ~np.isnan(p)
        if valid.any():
            frame.loc[valid, "p_adjusted"] = holm(np.asarray(p)[valid])
    elif "p_adjusted" not in frame:
        frame["p_adjusted"] = np.nan  # one group, or nothing tested: nothing stands out
    frame["direction"] = np.where(frame[value] > frame.rest, "higher", "lower")
    clear = (frame.p_adjusted < alpha) & (frame[n] >= min_n) & frame.rest.notna()
    return frame[clear].reset_index(drop=True)


def _score(metric: str, value: float) -> str:
    return f"{value:+.0f}" if metric == "nps" else f"{value:.0%}"


def _interval(metric: str, low: float, high: float) -> str:
    if metric == "nps":
        return f"{low:+.0f} to {high:+.0f}"
    return f"{low * 100:.0f}–{high:.0%}"


def survey_scores(scores: pd.DataFrame, window: str) -> str:
    """E.g. "In the 12 months to October 2026: NPS +21 (17 to 26, n = 1,472); CSAT ..."."""
    parts = []
    for r in scores.itertuples():
        if r.metric == "nps":
            parts.append(f"NPS {r.score:+.0f} ({r.low:+.0f} to {r.high:+.0f}, "
                         f"{r.n:,} answers)")
        else:
            label = "CSAT" if r.metric == "csat" else "CES"
            what = "satisfied" if r.metric == "csat" else "found it easy"
            parts.append(f"{label} {r.score:.0%} {what} ({r.low:.0%}–{r.high:.0%}, "
                         f"{r.n:,} answers on a {r.scale} scale)")
    return f"In {window}: " + "; ".join(parts) + "."


def survey_groups(table: pd.DataFrame, metric: str, by: str, window: str,
                  name: str | None = None, min_n: int = MIN_N) -> str:
    """Name the groups that stand out from the rest (:func:`standouts`), or say none does.

    Examples
    --------
    >>> t = pd.DataFrame({"channel": ["app", "web"], "n": [200, 200], "score": [0.8, 0.5],
    ...                   "low": [0.74, 0.43], "high": [0.85, 0.57],
    ...                   "p_adjusted": [1e-9, 1e-9]})
    >>> survey_groups(t, "csat", "channel", "the 12 months to October 2026")
    'In the 12 months to October 2026, CSAT is clearly lowest for web (50%, 43–57%) and \
highest for app (80%, 74–85%).'
    """
    label, name = metric.upper(), name or by.replace("_", " ")
    found = standouts(table, by, min_n=min_n)
    if found.empty:
        # the range of the groups large enough to judge: a group of three can read -100
        judged = table[table.n >= min_n].score.dropna()
        spread = (f" (from {_score(metric, judged.min())} to {_score(metric, judged.max())})"
                  if len(judged) > 1 else f" (fewer than {min_n} answers in most groups)")
        return f"In {window}, {label} does not differ clearly between groups by {name}{spread}."
    found = found.sort_values("score")

    def named(r) -> str:
        return f"{r[by]} ({_score(metric, r.score)}, {_interval(metric, r.low, r.high)})"

    worst, top = found.iloc[0], found.iloc[-1]
    if len(found) == 1:
        return (f"In {window}, {label} stands out for {named(top)}: {top.direction} than "
                f"the other groups by {name} ({_score(metric, top.rest)}).")
    return (f"In {window}, {label} is clearly lowest for {named(worst)} and highest for "
            f"{named(top)}.")


#: How the groups of the order-experience breakdowns read in a sentence.
ORDER_PHRASES = {
    ("delivery", "late"): "after a late delivery",
    ("delivery", "on time"): "after an on-time one",
    ("returned", "returned"): "about an order that was returned",
    ("returned", "not returned"): "about one that was kept",
    ("ticket", "ticket"): "about an order with a support ticket",
    ("ticket", "no ticket"): "about one without",
}


def _scored(metric: str, value: float) -> str:
    """A score with what it counts: "37% satisfied", "73% easy", "-49"."""
    what = {"csat": " satisfied", "ces": " easy"}.get(metric, "")
    return f"{_score(metric, value)}{what}"


def survey_difference(found: dict, window: str, name: str | None = None) -> str:
    """One sentence for a :func:`ppxlib.survey.breakdown`: its clearest difference, or none.

    Examples
    --------
    >>> lead = {"delivery": "late", "versus": "on time", "n": 186, "n_versus": 1243,
    ...         "score": 0.37, "versus_score": 0.80, "difference": -0.43, "low": -0.50,
    ...         "high": -0.35, "clear": True}
    >>> survey_difference({"metric": "csat", "by": "delivery", "reference": "on time",
    ...                    "table": None, "lead": lead, "clear": True, "groups": 2},
    ...                   "the 12 months to October 2026")
    'In the 12 months to October 2026, CSAT after a late delivery was 37% satisfied \
(186 answers) against 80% after an on-time one (1,243 answers): 43 points lower (35 to 50).'
    """
    metric, by, lead = found["metric"], found["by"], found["lead"]
    if found["reference"] is None:
        return survey_groups(found["table"], metric, by, window, name)
    label = metric.upper()
    if lead is None:
        return f"In {window}, there are no {label} answers to compare by {name or by}."
    mine = ORDER_PHRASES.get((by, lead[by]), f"for {lead[by]}")
    theirs = ORDER_PHRASES.get((by, lead["versus"]), f"for {lead['versus']}")
    scale = 1 if metric == "nps" else 100
    diff, low, high = (lead[k] * scale for k in ("difference", "low", "high"))
    text = (f"In {window}, {label} {mine} was {_scored(metric, lead['score'])} "
            f"({lead['n']:,} answers) against {_score(metric, lead['versus_score'])} {theirs} "
            f"({lead['n_versus']:,} answers)")
    if lead["clear"]:
        near, far = sorted((abs(low), abs(high)))
        return (text + f": {abs(diff):.0f} points {'lower' if diff < 0 else 'higher'} "
                f"({near:.0f} to {far:.0f}).")
    if lead.get("small_n"):
        return text + ": too few answers to judge."
    return text + f", not a clear difference ({low:+.0f} to {high:+.0f} points)."


def survey_lead(ranked: list[dict], window: str, names: dict | None = None) -> str:
    """The sentence that opens the breakdowns: the largest clear difference, or that none is.

    ``ranked`` is :func:`ppxlib.survey.rank_breakdowns` output; ``names`` maps a breakdown's
    column to its words ("rfm_segment" -> "RFM segment").
    """
    names = names or {}
    lead = next((b for b in ranked if b["clear"] and b["groups"] > 1), None)
    if lead is None:
        return (f"In {window}, no breakdown of the survey scores shows a clear difference "
                "between groups.")
    text = survey_difference(lead, window, names.get(lead["by"]))
    return "The clearest difference: i" + text[1:]


def single_groups(found: list[dict], window: str, names: dict | None = None) -> str | None:
    """One sentence for the breakdowns with nothing to compare (one group), or None.

    Examples
    --------
    >>> t = pd.DataFrame({"touchpoint": ["relationship"]})
    >>> single_groups([{"metric": "nps", "by": "touchpoint", "groups": 1, "table": t}],
    ...               "the 12 months to October 2026")
    'Not broken down, as all their answers in the 12 months to October 2026 fall in one \
group: NPS by touchpoint (all relationship).'
    """
    names = names or {}
    single = [b for b in found if b["groups"] == 1]
    if not single:
        return None
    def only(b: dict) -> str:
        group = b["table"][b["by"]].iloc[0]
        return "all " + ORDER_PHRASES.get((b["by"], group), str(group))

    parts = [f"{b['metric'].upper()} by {names.get(b['by'], b['by'].replace('_', ' '))} "
             f"({only(b)})" for b in single]
    return (f"Not broken down, as all their answers in {window} fall in one group: "
            + ", ".join(parts) + ".")


def returns_by_group(table: pd.DataFrame, by: str, window: str, min_n: int = MIN_N) -> str:
    """The return rate and the group that stands out (:func:`standouts`), if any.

    ``table`` is :func:`ppxlib.experience.returns_by` output; ``window`` says which orders
    ("orders placed up to the end of October 2026").

    Examples
    --------
    >>> t = pd.DataFrame({"category": ["a", "b", "c"], "orders": [1000] * 3,
    ...                   "returned": [80, 86, 93]})
    >>> t["return_rate"] = t.returned / t.orders
    >>> t["low"], t["high"] = t.return_rate - 0.02, t.return_rate + 0.02
    >>> returns_by_group(t, "category", "orders placed up to the end of October 2026")
    '8.6% of orders placed up to the end of October 2026 were returned by then; no category \
stands out (each from 8.0% to 9.3%, within chance of the others).'
    """
    orders, returned = int(table.orders.sum()), int(table.returned.sum())
    if not orders:
        return f"There are no {window}."
    if not returned:
        return f"No returns recorded for the {orders:,} {window}."
    text = f"{returned / orders:.1%} of {window} were returned by then"
    found = standouts(table, by, "return_rate", "orders", successes="returned", min_n=min_n)
    if found.empty:
        judged = table[table.orders >= min_n].return_rate
        if len(judged) < 2:
            return text + f"; too few orders per {by} to compare them."
        return (text + f"; no {by} stands out (each from {judged.min():.1%} to "
                f"{judged.max():.1%}, within chance of the others).")
    parts = [f"{r[by]} {'more' if r['direction'] == 'higher' else 'less'} often "
             f"({r['return_rate']:.1%}, {_ci(r['low'], r['high'])}, against {r['rest']:.1%} "
             f"for the "
             f"other {by} groups)" for r in found.sort_values("return_rate",
                                                               ascending=False
                                                               ).to_dict("records")]
    return text + "; clearly returned " + "; ".join(parts) + "."


def experience_effects(effects: pd.DataFrame) -> str:
    """The strongest clear association between first-order experience and coming back."""
    clear = effects[(effects.difference_high < 0) | (effects.difference_low > 0)]
    if clear.empty:
        return ("No first-order experience is clearly associated with a different 90-day "
                "repurchase rate.")
    worst = clear.sort_values("difference").iloc[0]
    return (f"Customers whose first order had a {worst.label.split(' (')[0]} were "
            f"{abs(worst.difference) * 100:.1f} points "
            f"{'less' if worst.difference < 0 else 'more'} likely to order again within 90 "
            f"days ({worst.difference_low * 100:+.1f} to {worst.difference_high * 100:+.1f}); "
            f"{len(clear)} of {len(effects)} comparisons show a clear association.")
