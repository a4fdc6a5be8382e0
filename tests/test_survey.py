"""CSAT, NPS and CES: hand-computed scores and intervals, groups, tests and scales."""

from __future__ import annotations

import math

import ibis
import numpy as np
import pandas as pd
import pytest

from ppxlib.survey import ces, csat, nps, score_counts, summarise

Z = 1.959963984540054


def test_nps_by_hand_with_the_adjusted_wald_interval():
    # 40 promoters, 35 passives, 25 detractors of 100: NPS = 40 - 25 = 15.
    scores = [10] * 25 + [9] * 15 + [8] * 20 + [7] * 15 + [5] * 10 + [0] * 15
    r = nps(scores)
    assert (r["n"], r["score"]) == (100, 15.0)
    assert (r["promoters"], r["passives"], r["detractors"]) == (0.40, 0.35, 0.25)
    n = 103
    p_p, p_d = 40.75 / n, 25.75 / n
    half = Z * math.sqrt((p_p + p_d - (p_p - p_d) ** 2) / n)
    assert r["low"] == pytest.approx(100 * (p_p - p_d - half), abs=1e-4)
    assert r["high"] == pytest.approx(100 * (p_p - p_d + half), abs=1e-4)
    # worked out on paper: centre 0.145631, variance 0.624420 / 103, half-width 0.152604
    assert round(r["low"], 2) == -0.70 and round(r["high"], 2) == 29.82


def test_csat_top_two_box_and_mean():
    r = csat([5, 5, 4, 3, 2, 1, 4, 5], scale_min=1, scale_max=5)
    assert r["score"] == 5 / 8 and r["cut"] == 4
    assert r["mean"] == pytest.approx(29 / 8)
    p, n = 5 / 8, 8
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n * n))
    assert (r["low"], r["high"]) == (pytest.approx(centre - half), pytest.approx(centre + half))
    assert csat([7, 6, 5], scale_min=1, scale_max=7)["score"] == pytest.approx(2 / 3)
    assert csat([10, 9, 8, 1], scale_min=1, scale_max=10)["cut"] == 9


def test_ces_direction_is_data():
    assert ces([7, 6, 5, 4, 1], scale_min=1, scale_max=7, higher_is_better=True)["score"] == 0.6
    effort = ces([1, 2, 3, 5, 5], scale_min=1, scale_max=5, higher_is_better=False)
    assert effort["score"] == 0.4 and effort["cut"] == 2


def test_empty_scores_give_nan_not_errors():
    assert math.isnan(nps([])["score"]) and nps([])["n"] == 0
    assert math.isnan(csat([])["score"])


def _surveys(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "metric", "score", "scale_max",
                                        "touchpoint"])
    frame["response_ts"] = pd.Timestamp("2024-01-01")
    frame["scale_min"] = np.where(frame.metric == "nps", 0.0, 1.0)
    return ibis.memtable(frame)


def test_mixed_scales_are_never_pooled():
    t = _surveys([("a", "csat", 5, 5, "x"), ("b", "csat", 4, 5, "x"),
                  ("c", "csat", 7, 7, "x"), ("d", "csat", 2, 7, "x")])
    table = summarise(score_counts(t, "csat"), "csat")
    assert sorted(table.scale) == ["1-5", "1-7"]
    assert table.set_index("scale").score.to_dict() == {"1-5": 1.0, "1-7": 0.5}


def test_groups_are_tested_with_holm_correction_and_small_groups_flagged():
    rng = np.random.default_rng(0)
    rows = [("c", "csat", int(s), 5, "delivery") for s in rng.choice([4, 5], 200)]
    rows += [("c", "csat", int(s), 5, "support") for s in rng.choice([1, 2, 3], 200)]
    rows += [("c", "csat", 5, 5, "app")] * 5
    table = summarise(score_counts(_surveys(rows), "csat", ["touchpoint"]), "csat",
                      by="touchpoint").set_index("touchpoint")
    assert table.loc["app", "small_n"] and not table.loc["delivery", "small_n"]
    assert table.loc["support", "significant"] and table.loc["delivery", "significant"]
    assert (table.p_adjusted >= table.p_value).all()


def test_nps_groups_use_a_z_test_on_the_difference():
    rows = [("c", "nps", 10, 10, "a")] * 60 + [("c", "nps", 2, 10, "a")] * 40
    rows += [("c", "nps", 10, 10, "b")] * 30 + [("c", "nps", 2, 10, "b")] * 70
    table = summarise(score_counts(_surveys(rows), "nps", ["touchpoint"]), "nps",
                      by="touchpoint").set_index("touchpoint")
    assert table.loc["a", "score"] == 20.0 and table.loc["b", "score"] == -40.0
    assert table.loc["a", "p_value"] < 0.001


def test_csat_groups_compare_top_box_shares_with_a_two_proportion_test():
    from statsmodels.stats.proportion import proportions_ztest

    rows = [("c", "csat", 5, 5, "a")] * 40 + [("c", "csat", 2, 5, "a")] * 10
    rows += [("c", "csat", 4, 5, "b")] * 30 + [("c", "csat", 1, 5, "b")] * 30
    table = summarise(score_counts(_surveys(rows), "csat", ["touchpoint"]), "csat",
                      by="touchpoint").set_index("touchpoint")
    expected = proportions_ztest([40, 30], [50, 60])[1]
    assert table.loc["a", "p_value"] == pytest.approx(expected)
    assert table.loc["a", "p_value_ordinal"] < 1
