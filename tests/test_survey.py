"""CSAT, NPS and CES: hand-computed scores and intervals, groups, tests and scales."""

from __future__ import annotations

import datetime as dt
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


# --- the functions at their edges (issue 15, section 5) -----------------------------------

def test_nps_interval_is_clipped_to_the_scale():
    # unclipped, 200 promoters give [96.5, 100.6]
    top, bottom = nps([10] * 200), nps([0] * 200)
    assert top["score"] == 100.0 and top["high"] == 100.0
    assert top["low"] == pytest.approx(100 * (200.75 / 203 - 0.75 / 203 - Z * math.sqrt(
        (201.5 / 203 - (200 / 203) ** 2) / 203)))
    assert bottom["score"] == -100.0 and bottom["low"] == -100.0 and bottom["high"] < -95


def test_nps_of_no_answers_is_nan_like_csat_and_ces():
    for result in (nps([]), csat([]), ces([])):
        assert result["n"] == 0
        assert math.isnan(result["score"]) and math.isnan(result["low"])
        assert math.isnan(result["high"])


@pytest.mark.parametrize("scores", [[10], [0], [8], [10, 10], [10, 0], [10, 8], [0, 0],
                                    [10] * 5, [0] * 5, [10, 10, 10, 10, 3], [9, 8, 7, 2, 1]])
def test_nps_interval_holds_its_score_at_one_two_and_five_answers(scores):
    r = nps(scores)
    assert -100 <= r["low"] <= r["score"] <= r["high"] <= 100


def test_nps_interval_at_one_answer_reaches_the_score():
    # adjusted Wald alone: one promoter gives centre 25 and [-48.5, 98.5], below the score 100
    r = nps([10])
    assert r["score"] == 100.0 and r["high"] == 100.0
    assert r["low"] == pytest.approx(100 * (0.25 - Z * 0.375))
    # at 80 % the shrunk interval of two detractors, [-82.1, 2.1], misses -100 likewise
    assert nps([0, 0], confidence=0.8)["low"] == -100.0


@pytest.mark.parametrize("call, message", [
    (lambda: nps([11, -1, 10]), "nps: 2 of 3 scores are outside the 0-10 scale: -1, 11"),
    (lambda: csat([6, 6, 1], 1, 5), "csat: 2 of 3 scores are outside the 1-5 scale: 6"),
    (lambda: ces([0, 8, 3, 7], 1, 7), "ces: 2 of 4 scores are outside the 1-7 scale: 0, 8"),
    (lambda: csat([10, 4], 1, 5), "csat: 1 of 2 scores are outside the 1-5 scale: 10"),
])
def test_off_scale_scores_are_an_error_naming_them(call, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        call()


# --- differences between two groups -------------------------------------------------------

def test_share_difference_is_newcombes_interval_by_hand():
    # Newcombe (1998) method 10 from the two Wilson intervals, worked out step by step
    from ppxlib.cohorts import wilson_interval
    from ppxlib.survey import share_difference

    (l1,), (u1,) = wilson_interval([40], [50])
    (l2,), (u2,) = wilson_interval([30], [60])
    p1, p2 = 0.8, 0.5
    low = p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    d = share_difference(40, 50, 30, 60)
    assert d["difference"] == pytest.approx(0.3)
    assert (d["low"], d["high"]) == (pytest.approx(low), pytest.approx(high))
    assert math.isnan(share_difference(0, 0, 3, 5)["low"])


def test_nps_difference_from_the_adjusted_wald_variances_by_hand():
    from ppxlib.survey import nps_difference

    # a: 60 promoters, 40 detractors (NPS +20); b: 30 and 70 (NPS -40)
    d = nps_difference([10] * 60 + [2] * 40, [10] * 30 + [2] * 70)
    pa, da, pb, db = 60.75 / 103, 40.75 / 103, 30.75 / 103, 70.75 / 103
    var = (pa + da - (pa - da) ** 2) / 103 + (pb + db - (pb - db) ** 2) / 103
    centre = (pa - da) - (pb - db)
    assert d["difference"] == pytest.approx(60.0)
    assert d["low"] == pytest.approx(100 * (centre - Z * math.sqrt(var)))
    assert d["high"] == pytest.approx(100 * (centre + Z * math.sqrt(var)))
    # the interval holds the observed difference and stays inside [-200, 200]
    tiny = nps_difference([10], [0])
    assert tiny["difference"] == 200.0 and tiny["high"] == 200.0


def _counts(groups: dict[str, dict[int, int]], scale=(1.0, 5.0), by="g") -> pd.DataFrame:
    rows = [(g, *scale, float(score), n) for g, scores in groups.items()
            for score, n in scores.items()]
    return pd.DataFrame(rows, columns=[by, "scale_min", "scale_max", "score", "n"])


def test_a_planned_breakdown_is_clear_when_its_interval_excludes_zero():
    from ppxlib.survey import breakdown

    clear = breakdown(_counts({"late": {5: 40, 1: 60}, "on time": {5: 80, 1: 20}}), "csat",
                      "g", reference="on time")
    assert clear["clear"] and clear["lead"]["g"] == "late"
    assert clear["lead"]["difference"] == pytest.approx(-0.4) and clear["size"] == 0.4
    unclear = breakdown(_counts({"late": {5: 45, 1: 55}, "on time": {5: 50, 1: 50}}), "csat",
                        "g", reference="on time")
    assert not unclear["clear"] and unclear["size"] == pytest.approx(0.05)
    # too few answers on one side: never clear, however large
    small = breakdown(_counts({"late": {1: 5}, "on time": {5: 80, 1: 20}}), "csat", "g",
                      reference="on time")
    assert small["lead"]["excludes_zero"] and not small["clear"]


def test_an_exploratory_breakdown_is_clear_only_after_holm():
    from ppxlib.survey import breakdown

    rng = np.random.default_rng(1)
    months = {f"m{i:02d}": {5: int(k), 1: 60 - int(k)} for i, k in
              enumerate(rng.binomial(60, 0.7, 12))}
    noise = breakdown(_counts(months), "csat", "g")
    assert not noise["clear"]
    months["m99"] = {5: 20, 1: 40}
    found = breakdown(_counts(months), "csat", "g")
    assert found["clear"] and found["lead"]["g"] == "m99" and found["lead"]["versus"] == "the rest"
    assert found["table"].set_index("g").loc["m99", "significant"]


def test_nps_sizes_rank_on_half_their_points():
    from ppxlib.survey import breakdown, rank_breakdowns

    nps_b = breakdown(_counts({"a": {10: 60, 0: 40}, "b": {10: 30, 0: 70}}, (0.0, 10.0)),
                      "nps", "g", reference="b")
    csat_b = breakdown(_counts({"a": {5: 70, 1: 30}, "b": {5: 30, 1: 70}}), "csat", "g",
                       reference="b")
    single = breakdown(_counts({"a": {5: 70, 1: 30}}), "csat", "g")
    assert nps_b["size"] == pytest.approx(60 / 200) and csat_b["size"] == pytest.approx(0.4)
    assert single["groups"] == 1 and single["lead"] is None and not single["clear"]
    ranked = rank_breakdowns([single, nps_b, csat_b])
    assert [b["metric"] for b in ranked] == ["csat", "nps", "csat"] and ranked[-1] is single


# --- scores by the experience of the order, point in time ---------------------------------

END = pd.Timestamp("2024-03-01")


def _shop():
    """Five orders placed in February, each with one CSAT answer.

    1 on time, kept; 2 late (delivered after its promise); 3 not delivered by the month end
    though promised before it (late already); 4 delivered after the month end, promised
    after it too (unknown at the month end); 5 on time, returned in February, with a ticket.
    Order 6 is placed after the month end; answer 7 has no order.
    """
    ts = pd.to_datetime
    orders = pd.DataFrame({
        "order_id": list("123456"), "customer_id": list("abcdef"),
        "order_ts": ts(["2024-02-01", "2024-02-02", "2024-02-20", "2024-02-27",
                        "2024-02-03", "2024-03-02"]),
        "promised_ts": ts(["2024-02-04", "2024-02-05", "2024-02-24", "2024-03-03",
                           "2024-02-06", "2024-03-05"]),
        "delivered_ts": ts(["2024-02-03", "2024-02-08", "2024-03-04", "2024-03-02",
                            "2024-02-05", "2024-03-04"]),
        "amount": 10.0})
    surveys = pd.DataFrame({
        "customer_id": list("abcdefg"), "metric": "csat",
        "order_id": [*"123456", None],
        "score": [5.0, 1.0, 2.0, 4.0, 5.0, 1.0, 3.0],
        "response_ts": ts(["2024-02-04", "2024-02-09", "2024-02-25", "2024-02-28",
                           "2024-02-06", "2024-03-06", "2024-02-10"])})
    returns = pd.DataFrame({"order_id": ["5", "1"], "return_ts": ts(["2024-02-20",
                                                                  "2024-03-10"])})
    tickets = pd.DataFrame({"ticket_id": ["t1", "t2"], "customer_id": ["e", "a"],
                            "order_id": ["5", "1"],
                            "opened_ts": ts(["2024-02-07", "2024-03-02"])})
    return orders, surveys, returns, tickets


def _experience(orders, surveys, returns, tickets, end=END):
    from ppxlib.survey import order_experience_counts

    tables = [ibis.memtable(t) if t is not None else None
              for t in (orders, surveys, returns, tickets)]
    counts = order_experience_counts(tables[1], tables[0], end.to_pydatetime(), tables[2],
                                     tables[3])
    return counts.set_index("score")


def test_the_order_experience_is_what_was_known_at_the_month_end():
    counts = _experience(*_shop())
    # answer 6 (after the month end) is not there; answer 7 is counted, unmatched
    assert counts.n.sum() == 6 and not counts.loc[3.0, "matched"]
    by_order = counts[counts.matched].reset_index().sort_values(["score", "returned"])
    assert by_order[["score", "delivery", "returned", "ticket", "n"]].values.tolist() == [
        [1.0, "late", "not returned", "no ticket", 1],         # order 2
        [2.0, "late", "not returned", "no ticket", 1],         # order 3: overdue at the end
        [4.0, "unknown", "not returned", "no ticket", 1],      # order 4: not due yet
        [5.0, "on time", "not returned", "no ticket", 1],      # order 1: return, ticket later
        [5.0, "on time", "returned", "ticket", 1],             # order 5
    ]


def test_the_same_month_from_data_cut_at_its_end_gives_the_same_counts():
    orders, surveys, returns, tickets = _shop()
    full = _experience(orders, surveys, returns, tickets)
    # the data as it stood at the month end: later rows gone, later deliveries blank
    cut_orders = orders[orders.order_ts < END].assign(
        delivered_ts=orders.delivered_ts.where(orders.delivered_ts < END))
    cut = _experience(cut_orders, surveys[surveys.response_ts < END],
                      returns[returns.return_ts < END], tickets[tickets.opened_ts < END])
    pd.testing.assert_frame_equal(full, cut)


def test_without_returns_or_tickets_tables_their_factors_are_left_out():
    from ppxlib.survey import scores_by_order_experience

    orders, surveys, _, _ = _shop()
    r = scores_by_order_experience(ibis.memtable(surveys), ibis.memtable(orders),
                                   END.to_pydatetime(), min_n=1)
    assert [b["by"] for b in r["breakdowns"]] == ["delivery"]
    assert r["answers"].iloc[0].to_dict() == {"metric": "csat", "answers": 6,
                                              "about_a_known_order": 5,
                                              "unknown_delivery": 1}
    late = r["differences"].iloc[0]
    # late: scores 1 and 2 (none satisfied); on time: 5 and 5
    assert (late.group, late.versus, late.n, late.n_versus) == ("late", "on time", 2, 2)
    assert late.difference == -1.0
    assert set(r["scores"].group) == {"late", "on time", "unknown"}


def test_on_the_sample_the_late_delivery_csat_gap_covers_the_simulators_truth():
    """Issue 15: "CSAT after a late delivery is 37 % satisfied (n = 186) against 80 % after
    an on-time one (n = 1,243)"; the simulator draws 40 % and 80 %."""
    import ppxlib
    from ppxlib.simulate import ShopParameters
    from ppxlib.survey import scores_by_order_experience

    from conftest import AS_OF, SAMPLE

    clean = ppxlib.open(SAMPLE).validate(as_of=AS_OF)
    truth = ShopParameters()
    end, start = dt.datetime(2026, 11, 1), dt.datetime(2025, 11, 1)  # the 12 months to October
    r = scores_by_order_experience(clean.surveys, clean.orders, end, clean.returns,
                                   clean.tickets, start=start)
    diff = r["differences"].set_index(["metric", "factor"])
    late = diff.loc[("csat", "delivery")]
    assert (late.n, late.n_versus) == (186, 1243)
    assert round(late.score, 2) == 0.37 and round(late.versus_score, 2) == 0.80
    assert late.low < truth.csat_late_difference() < late.high
    assert late.high < -0.3 and late.clear  # a large, clear gap
    nps_late = diff.loc[("nps", "delivery")]
    assert nps_late.low < truth.nps_late_difference() < nps_late.high
    ranked = survey_rank(r["breakdowns"])
    assert (ranked[0]["metric"], ranked[0]["by"]) == ("csat", "delivery")


def survey_rank(breakdowns):
    from ppxlib.survey import rank_breakdowns

    return rank_breakdowns(breakdowns)


def test_holm_equals_statsmodels():
    from statsmodels.stats.multitest import multipletests

    from ppxlib.survey import holm

    rng = np.random.default_rng(3)
    for p in (rng.uniform(0, 0.2, 12), np.array([0.5]), np.array([0.01, 0.01, 0.2, 0.04])):
        assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])
