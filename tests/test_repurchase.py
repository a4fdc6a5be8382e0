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
