"""Time to second order: censoring, Kaplan-Meier summaries and group comparison."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from ppxlib.repurchase import (
    compare_groups,
    reorder_curve,
    reorder_summary,
    second_order_durations,
)
from ppxlib.simulate import ShopParameters, simulate_shop


def test_durations_by_hand(small_orders):
    d = second_order_durations(ibis.memtable(small_orders), observation_end="2024-04-01")
    got = d.set_index("customer_id")
    # a: Jan 5 09:00 -> Jan 20 18:30; c: Feb 10 -> Feb 11; b, d, e never reordered.
    assert got.loc["a", "days"] == pytest.approx(15 + 9.5 / 24)
    assert got.loc["c", "days"] == pytest.approx(1.0)
    assert got.loc["b", "days"] == pytest.approx(60.0)  # Feb 1 -> Apr 1, censored
    assert got.reordered.to_dict() == {"a": True, "b": False, "c": True, "d": False,
                                       "e": False}


def test_two_orders_at_the_first_instant_are_one_first_order_grouped_by_the_smaller_value():
    orders = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "c"],
        "channel": ["web", "app", "web", None, "web", "shop"],
        "order_ts": pd.to_datetime(["2024-01-05 10:00", "2024-01-05 10:00", "2024-01-07 10:00",
                                    "2024-01-06 00:00", "2024-01-06 12:00",
                                    "2024-01-08 00:00"])})
    d = second_order_durations(ibis.memtable(orders), "2024-01-10", by="channel")
    got = d.set_index("customer_id")
    # a: the two orders at 10:00 are its first instant (not a reorder); the next is 2 days on.
    assert got.days.tolist() == pytest.approx([2.0, 0.5, 2.0])
    assert got.reordered.tolist() == [True, True, False]
    # ties go to the smaller value, as engine.first_by; a first order without one is "(missing)"
    assert got.group.tolist() == ["app", "(missing)", "shop"]
    by_month = second_order_durations(ibis.memtable(orders), "2024-01-10", by="cohort")
    assert set(by_month.group) == {"2024-01"}


def test_orders_after_the_observation_end_are_not_seen(small_orders):
    d = second_order_durations(ibis.memtable(small_orders), observation_end="2024-03-01")
    assert "d" not in set(d.customer_id)  # first order in March: not yet a customer
    assert d.set_index("customer_id").reordered.sum() == 2  # a (Jan 20) and c


def test_censoring_is_kaplan_meier_not_a_plain_share():
    # One customer censored at day 2 leaves two at risk: S(5) = 1/2, S(8) = 0.
    d = pd.DataFrame({"days": [2.0, 5.0, 8.0], "reordered": [False, True, True]})
    s = reorder_summary(d, horizons=(6, 8))
    assert s.within_6[0] == pytest.approx(0.5)  # a plain share would say 1/3
    assert s.within_8[0] == pytest.approx(1.0)
    assert s.median_days[0] == 5.0
    curve = reorder_curve(d)
    assert curve.set_index("days").reordered_share.loc[5.0] == pytest.approx(0.5)
    assert (curve.low <= curve.reordered_share + 1e-12).all()
    assert (curve.reordered_share <= curve.high + 1e-12).all()


def test_median_not_reached_is_nan():
    d = pd.DataFrame({"days": [5.0, 50.0, 50.0, 50.0], "reordered": [True, False, False,
                                                                     False]})
    assert np.isnan(reorder_summary(d).median_days[0])


def test_log_rank_detects_late_first_delivery():
    shop = simulate_shop(customers=3000, seed=12,
                         parameters=ShopParameters(late_share=0.3, late_churn=0.5))
    orders = shop.orders.copy()
    first = orders.sort_values("order_ts").drop_duplicates("customer_id")
    late = first.delivered_ts > first.promised_ts
    orders["first_late"] = orders.customer_id.map(
        dict(zip(first.customer_id, np.where(late, "late", "on time"), strict=True)))
    d = second_order_durations(ibis.memtable(orders), observation_end=shop.end, by="first_late")
    result = compare_groups(d)
    assert result["p_value"] < 0.001 and result["groups"] == 2
    s = reorder_summary(d).set_index("group")
    assert s.loc["on time", "within_180"] > s.loc["late", "within_180"]


def test_same_process_gives_no_significant_difference():
    shop = simulate_shop(customers=2000, seed=13)
    d = second_order_durations(ibis.memtable(shop.orders), observation_end=shop.end,
                               by="region")
    assert compare_groups(d)["p_value"] > 0.001  # region only moves lateness a little


def test_comparison_needs_two_groups(small_orders):
    d = second_order_durations(ibis.memtable(small_orders), observation_end="2024-04-01")
    with pytest.raises(ValueError, match="at least two groups"):
        compare_groups(d)


def test_horizons_beyond_the_follow_up_are_unknown_not_extrapolated():
    d = pd.DataFrame({"days": [5.0, 20.0, 25.0], "reordered": [True, False, False]})
    s = reorder_summary(d, horizons=(10, 90))
    assert s.within_10[0] == pytest.approx(1 / 3)
    assert np.isnan(s.within_90[0]) and np.isnan(s.within_90_low[0])


@pytest.mark.parametrize("groups", [2, 4])
def test_log_rank_equals_lifelines(groups):
    from lifelines.statistics import multivariate_logrank_test

    rng = np.random.default_rng(groups)
    n = 3000
    group = rng.integers(0, groups, n)
    # whole days give many ties; a shorter follow-up for some groups gives more censoring
    days = np.ceil(rng.exponential(40 + 15 * group)).astype(float)
    follow_up = rng.uniform(20, 200, n)
    d = pd.DataFrame({"days": np.minimum(days, follow_up.round()),
                      "reordered": days <= follow_up.round(),
                      "group": [f"g{g}" for g in group]})
    ours = compare_groups(d)
    theirs = multivariate_logrank_test(d.days, d.group, d.reordered)
    assert ours["test_statistic"] == pytest.approx(theirs.test_statistic, rel=1e-10)
    assert ours["p_value"] == pytest.approx(theirs.p_value, rel=1e-8, abs=1e-300)
    assert ours["degrees_of_freedom"] == groups - 1


def test_a_shop_where_nobody_ordered_twice_gets_a_reason_not_a_singular_matrix():
    # issue 17: every customer censored, so the log-rank covariance is all zeros
    orders = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                           "channel": ["web", "app", "web", "app"],
                           "order_ts": pd.to_datetime(["2024-01-01", "2024-01-02",
                                                       "2024-01-05", "2024-01-09"])})
    d = second_order_durations(ibis.memtable(orders), "2024-02-01", by="channel")
    assert not d.reordered.any()
    result = compare_groups(d)
    assert np.isnan(result["test_statistic"]) and np.isnan(result["p_value"])
    assert result["reason"] == "no customer has ordered a second time yet"
    assert result["groups"] == 2 and result["degrees_of_freedom"] == 1


def test_a_group_nobody_is_left_in_at_any_reorder_equals_lifelines():
    from lifelines.statistics import multivariate_logrank_test

    # group c is censored before the first reorder: a zero row in the covariance, which
    # lifelines' pseudo-inverse handles and a plain solve called singular
    d = pd.DataFrame({"days": [5.0, 6, 8, 9, 7, 10, 1, 2],
                      "reordered": [True, True, False, True, True, False, False, False],
                      "group": list("aabbaacc")})
    ours = compare_groups(d)
    theirs = multivariate_logrank_test(d.days, d.group, d.reordered)
    assert ours["reason"] is None
    assert ours["test_statistic"] == pytest.approx(theirs.test_statistic, rel=1e-10)
    assert ours["p_value"] == pytest.approx(theirs.p_value, rel=1e-8)


def _lifelines_curve_and_summary(days, reordered, horizons):
    """The curve and summary as lifelines computes them, for the equality tests below."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    kmf = KaplanMeierFitter(alpha=0.05).fit(days, event_observed=reordered)
    survival = kmf.survival_function_.iloc[:, 0]
    bounds = kmf.confidence_interval_survival_function_
    curve = pd.DataFrame({"days": survival.index.to_numpy(dtype=float),
                          "reordered_share": 1 - survival.to_numpy(),
                          "low": 1 - bounds.iloc[:, 1].to_numpy(),
                          "high": 1 - bounds.iloc[:, 0].to_numpy(),
                          "at_risk": kmf.event_table.at_risk.reindex(survival.index).to_numpy()})
    median_ci = median_survival_times(bounds)
    summary = {"median_days": kmf.median_survival_time_,
               "median_low": median_ci.iloc[0, 0], "median_high": median_ci.iloc[0, 1]}
    for h in horizons:
        summary[f"within_{h}"] = 1 - kmf.survival_function_at_times(h).iloc[0]
        summary[f"within_{h}_low"] = 1 - bounds.iloc[:, 1].asof(h)
        summary[f"within_{h}_high"] = 1 - bounds.iloc[:, 0].asof(h)
    summary = {k: (np.nan if np.isinf(v) else float(v)) for k, v in summary.items()}
    return curve, summary


@pytest.mark.parametrize("case", ["ties and censoring", "exact times", "all reordered",
                                  "none reordered", "day zero", "one customer"])
def test_curve_and_summary_equal_lifelines(case):
    rng = np.random.default_rng(7)
    n = 2000
    days = rng.exponential(60, n)
    reordered = rng.random(n) < 0.6
    if case == "ties and censoring":
        days = np.ceil(days)  # whole days: many customers leave at the same time
    elif case == "all reordered":
        reordered[:] = True
    elif case == "none reordered":
        reordered[:] = False
    elif case == "day zero":
        days = np.floor(days / 10)  # some second orders on the first day: days == 0
    elif case == "one customer":
        days, reordered = days[:1], np.array([True])
    horizons = (1, 30, 90)
    d = pd.DataFrame({"days": days, "reordered": reordered})
    theirs_curve, theirs = _lifelines_curve_and_summary(days, reordered, horizons)
    pd.testing.assert_frame_equal(reorder_curve(d), theirs_curve, check_dtype=False,
                                  rtol=1e-12, atol=1e-14)
    ours = reorder_summary(d, horizons=horizons).iloc[0]
    follow_up = days.max()
    for key, value in theirs.items():
        horizon = int(key.split("_")[1]) if key.startswith("within") else 0
        expected = np.nan if horizon > follow_up else value  # not extrapolated, as above
        assert ours[key] == pytest.approx(expected, rel=1e-12, abs=1e-14, nan_ok=True), key


def test_a_curve_read_every_quarter_day_keeps_the_values_of_the_steps():
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"days": rng.exponential(30, 500), "reordered": rng.random(500) < 0.7})
    full = reorder_curve(d)
    coarse = reorder_curve(d, step_days=0.25)
    assert coarse.days.iloc[1] == 0.25 and coarse.days.iloc[-1] >= d.days.max()
    # each grid point shows the step in force there
    in_force = full.set_index("days").reordered_share.reindex(coarse.days, method="ffill")
    np.testing.assert_array_equal(coarse.reordered_share, in_force.to_numpy())
    assert (coarse.at_risk == [(d.days >= t).sum() for t in coarse.days]).all()
