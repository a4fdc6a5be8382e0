"""Takeaway sentences: a group is named only when it stands out; windows said in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ppxlib import takeaways
from ppxlib.takeaways import returns_by_group, standouts, survey_groups

from conftest import AS_OF, SAMPLE

WINDOW = "the 12 months to October 2026"


def _returns(returned, orders):
    t = pd.DataFrame({"category": [f"c{i}" for i in range(len(orders))], "orders": orders,
                      "returned": returned})
    t["return_rate"] = t.returned / t.orders
    t["low"], t["high"] = t.return_rate - 0.01, t.return_rate + 0.01
    return t


def test_the_highest_group_is_not_named_when_it_sits_inside_the_noise():
    # issue 15: "home most often (9.3 %)" was picked from five overlapping categories
    t = _returns([79, 84, 93, 88, 81], [1000] * 5)
    assert standouts(t, "category", "return_rate", "orders", successes="returned").empty
    text = returns_by_group(t, "category", "orders placed up to the end of October 2026")
    assert "no category stands out" in text and "c2" not in text
    assert "orders placed up to the end of October 2026" in text


def test_a_group_is_named_when_its_test_against_the_pooled_others_survives_holm():
    t = _returns([79, 84, 160, 88, 81], [1000] * 5)
    found = standouts(t, "category", "return_rate", "orders", successes="returned")
    assert found.category.tolist() == ["c2"] and found.direction.tolist() == ["higher"]
    assert found.rest.iloc[0] == pytest.approx((79 + 84 + 88 + 81) / 4000)
    # by hand: the two-proportion z-test of c2 against the others, times 5 (Holm's first)
    p, rest = 0.160, 332 / 4000
    pooled = 492 / 5000
    z = (p - rest) / np.sqrt(pooled * (1 - pooled) * (1 / 1000 + 1 / 4000))
    from scipy import stats
    assert found.p_adjusted.iloc[0] == pytest.approx(min(1, 5 * 2 * stats.norm.sf(z)))
    assert "clearly returned c2 more often (16.0%" in returns_by_group(
        t, "category", "orders placed up to the end of October 2026")


def test_a_small_group_is_never_named_however_extreme():
    t = _returns([80, 85, 20], [1000, 1000, 25])
    found = standouts(t, "category", "return_rate", "orders", successes="returned")
    assert "c2" not in set(found.category)


def test_on_the_sample_no_category_stands_out_for_returns():
    """The simulator has no category effect on returns: the takeaway must not pick one."""
    import ppxlib
    from ppxlib.experience import returns_by

    clean = ppxlib.open(SAMPLE).validate(as_of=AS_OF)
    table = returns_by(clean.orders, clean.returns, "category")
    assert table.return_rate.max() - table.return_rate.min() > 0.01  # a "winner" to resist
    text = returns_by_group(table, "category", "orders placed up to the end of October 2026")
    assert "no category stands out" in text and "most often" not in text


def test_no_orders_and_no_returns_are_said_in_words_not_as_a_zero_rate():
    window = "orders placed up to the end of June 2025"
    assert returns_by_group(_returns([0, 0], [10, 5]), "category", window) == (
        "No returns recorded for the 15 orders placed up to the end of June 2025.")
    assert returns_by_group(_returns([0], [0]), "category", window).startswith("There are no")


def _scores(groups, scores, n, p_adjusted):
    return pd.DataFrame({"channel": groups, "score": scores, "n": n,
                         "low": [s - 0.05 for s in scores], "high": [s + 0.05 for s in scores],
                         "p_adjusted": p_adjusted, "scale": "1-5"})


def test_survey_groups_name_only_groups_the_holm_test_marks():
    # a group of three answers at 0% is too small to judge: not the range's end either
    quiet = _scores(["app", "web", "shop", "tiny"], [0.71, 0.74, 0.80, 0.0],
                    [300, 300, 300, 3], [0.40, 0.90, 0.08, 1.0])
    text = survey_groups(quiet, "csat", "channel", WINDOW)
    assert text == ("In the 12 months to October 2026, CSAT does not differ clearly between "
                    "groups by channel (from 71% to 80%).")
    loud = _scores(["app", "web", "shop"], [0.60, 0.74, 0.80], [300, 300, 300],
                   [0.001, 0.90, 0.20])
    text = survey_groups(loud, "csat", "channel", WINDOW)
    assert "stands out for app (60%" in text and "lower than the other" in text
    assert "shop" not in text  # the highest, but not clear


def test_survey_groups_never_name_a_small_group():
    t = _scores(["app", "web"], [0.2, 0.8], [10, 500], [0.001, 0.001])
    text = survey_groups(t, "csat", "channel", WINDOW)
    assert "app" not in text  # 10 answers: never named
    assert "stands out for web (80%" in text  # large, and clear against the rest


def test_survey_lead_and_single_groups_from_breakdowns():
    from ppxlib.survey import breakdown, rank_breakdowns

    def counts(groups, by):
        rows = [(g, 1.0, 5.0, float(s), n) for g, c in groups.items() for s, n in c.items()]
        return pd.DataFrame(rows, columns=[by, "scale_min", "scale_max", "score", "n"])

    late = breakdown(counts({"late": {5: 37, 1: 63}, "on time": {5: 80, 1: 20}}, "delivery"),
                     "csat", "delivery", reference="on time")
    kept = breakdown(counts({"returned": {5: 70, 1: 30}, "not returned": {5: 74, 1: 26}},
                            "returned"), "csat", "returned", reference="not returned")
    one = breakdown(counts({"relationship": {5: 50, 1: 50}}, "touchpoint"), "nps",
                    "touchpoint")
    ranked = rank_breakdowns([kept, one, late])
    lead = takeaways.survey_lead(ranked, WINDOW)
    assert lead.startswith("The clearest difference: in the 12 months to October 2026, CSAT "
                           "after a late delivery was 37% satisfied (100 answers) against 80% "
                           "after an on-time one (100 answers): 43 points lower (")
    few = breakdown(counts({"late": {5: 1, 1: 13}, "on time": {5: 80, 1: 20}}, "delivery"),
                    "csat", "delivery", reference="on time")
    assert takeaways.survey_difference(few, WINDOW).endswith(
        "(100 answers): too few answers to judge.")
    unclear = takeaways.survey_difference(kept, WINDOW)
    assert "not a clear difference" in unclear and "about one that was kept" in unclear
    assert takeaways.single_groups(ranked, WINDOW).endswith(
        "NPS by touchpoint (all relationship).")
    assert takeaways.survey_lead([kept, one], WINDOW) == (
        "In the 12 months to October 2026, no breakdown of the survey scores shows a clear "
        "difference between groups.")
    assert takeaways.single_groups([late], WINDOW) is None


def test_survey_scores_name_their_window():
    scores = pd.DataFrame({"metric": ["nps"], "score": [21.0], "low": [17.0], "high": [26.0],
                           "n": [1472], "scale": ["0-10"]})
    assert takeaways.survey_scores(scores, WINDOW) == (
        "In the 12 months to October 2026: NPS +21 (+17 to +26, 1,472 answers).")


def test_reorder_without_any_second_order_says_so_in_words():
    # issue 17: a shop where nobody ordered twice
    summary = pd.DataFrame({"customers": [40], "reordered": [0], "median_days": [np.nan],
                            "within_90": [0.0], "within_90_low": [0.0],
                            "within_90_high": [0.05]})
    comparison = {"test_statistic": np.nan, "p_value": np.nan, "degrees_of_freedom": 1,
                  "groups": 2, "reason": "no customer has ordered a second time yet"}
    text = takeaways.reorder(summary, comparison, "channel")
    assert text == "No customer has ordered a second time yet (40 customers so far)."
    assert "0.0%" not in text and "nan" not in text


def test_reorder_says_whether_curves_differ_without_the_test_or_its_p_value():
    summary = pd.DataFrame({"customers": [100], "reordered": [60], "median_days": [120.0],
                            "within_90": [0.4], "within_90_low": [0.3],
                            "within_90_high": [0.5]})
    text = takeaways.reorder(summary, {"p_value": 0.001, "reason": None}, "channel")
    assert text.endswith("By channel, the curves differ clearly.")
    assert "log-rank" not in text and "p =" not in text


# --- plain words and the currency (issue 16) ------------------------------------------------

METHOD_WORDS = ("BG/NBD", "Pareto", "Gamma", "Wilson", "log-rank", "Holm", "Newcombe",
                "p =", "mean absolute error", " × ", " ÷ ", "(E", "n = ")


def _plain(text: str) -> None:
    assert not [w for w in METHOD_WORDS if w in text], text


def test_model_takeaways_say_it_in_words_without_model_names_or_formulas():
    compared = pd.DataFrame({"model": ["BG/NBD", "MBG/NBD", "Pareto/NBD"],
                             "mae": [0.80, 0.79, 0.70], "customers": [2000] * 3})
    worse = takeaways.model_comparison(compared, 26, "MBG/NBD")
    assert "off by 0.70 against 0.79 purchases per customer" in worse
    same = takeaways.model_comparison(compared.assign(mae=[0.80, 0.70, 0.71]), 26, "MBG/NBD")
    assert same.startswith("The model this report uses predicts the 26 held-back weeks")
    held = takeaways.holdout({"expected_total": 980.0, "actual_total": 1000.0,
                              "aggregate_error": -0.02, "mae": 0.52}, 26)
    assert "2.0% fewer predicted than made" in held and "off by 0.52 purchases" in held
    metrics = pd.DataFrame({"month": [pd.Period("2024-02", "M")], "customers_start": [200],
                            "retention_rate_exact": [0.9], "won_back_rate": [0.02],
                            "retention_rate": [0.92], "churn_rate": [0.08],
                            "churn_rate_12m": [0.05], "lifespan_months": [20.0],
                            "aov_window": [50.0], "frequency_per_month": [0.3],
                            "simple_clv": [300.0]})
    month = takeaways.period_metrics(metrics, pd.Period("2024-02", "M"), "€")
    assert "at €50 an order and 0.30 orders a month, a current customer is worth about €300" in (
        month)
    simple = takeaways.simple_vs_model(300.0, 200.0, 20.0, "€", 0.05, pd.Period("2024-02", "M"))
    for text in (worse, same, held, month, simple):
        _plain(text)


def test_every_amount_in_a_takeaway_carries_the_currency():
    monthly = pd.DataFrame({"month": pd.period_range("2026-09", periods=2, freq="M"),
                            "revenue": [27_323.0, 32_262.0], "orders": [478, 535]})
    assert "was €32,262 from 535 orders" in takeaways.monthly_revenue(
        monthly, pd.Period("2026-10", "M"), "€")
    k = pd.DataFrame({"kpi": ["customers", "orders", "revenue", "aov", "repeat_purchase_rate"],
                      "value": [469, 535, 32_262.0, 60.3, 0.452], "change": [0, 0, 0, 0, 0.01]})
    text = takeaways.headline(k, pd.Period("2026-10", "M"), "EUR")
    assert "worth EUR 32,262 (average order EUR 60.30)" in text
    assert takeaways.money(-30.6, "€") == "−€31" and takeaways.money(1234.5) == "1,234"
