"""The seeds' period metrics against their definitions, computed the slow way."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from ppxlib.retention import period_metrics, window_metrics
from ppxlib.simulate import simulate_shop

W = 120  # a short activity window makes lost and reactivated customers common


@pytest.fixture(scope="module")
def orders():
    shop = simulate_shop(customers=700, seed=33, start="2024-01-01", end="2025-07-01")
    return shop.orders[["order_id", "customer_id", "order_ts", "amount"]]


@pytest.fixture(scope="module")
def metrics(orders):
    return period_metrics(ibis.memtable(orders), "2025-06", activity_window_days=W)


def _customers_at(orders: pd.DataFrame, instant: pd.Timestamp, days: int = W) -> set:
    window = orders[(orders.order_ts >= instant - pd.Timedelta(days=days))
                    & (orders.order_ts < instant)]
    return set(window.customer_id)


@pytest.mark.parametrize("window", [7, 30, 45, 90, W, 365])
def test_counts_match_the_definitions_for_any_window(orders, window):
    # windows shorter than a month included: an order early in a month can lapse by its end
    metrics = period_metrics(ibis.memtable(orders), "2025-06", activity_window_days=window)
    firsts = orders.groupby("customer_id").order_ts.min().dt.to_period("M")
    for row in metrics.itertuples():
        s_set = _customers_at(orders, row.month.start_time, window)
        e_set = _customers_at(orders, (row.month + 1).start_time, window)
        new = set(firsts[firsts == row.month].index)
        assert row.customers_start == len(s_set), row.month
        assert row.customers_end == len(e_set), row.month
        assert row.new_customers == len(new), row.month
        assert row.lost == len(s_set - e_set), row.month
        assert row.won_back == len(e_set - s_set - new), row.month
        end = (row.month + 1).start_time
        window_orders = orders[(orders.order_ts >= end - pd.Timedelta(days=window))
                               & (orders.order_ts < end)]
        assert row.orders_window == len(window_orders)
        assert row.revenue_window == pytest.approx(window_orders.amount.sum())
        # the repeat rate's year is fixed, whatever the activity window
        year = orders[(orders.order_ts >= end - pd.Timedelta(days=365))
                      & (orders.order_ts < end)].groupby("customer_id").size()
        assert row.repeat_customers == int((year >= 2).sum()), row.month
        assert row.repeat_purchase_rate == pytest.approx((year >= 2).mean()), row.month


def test_the_two_retention_rates_differ_by_the_won_back(metrics):
    m = metrics[metrics.customers_start > 0]
    assert (m.won_back > 0).any()  # the difference is real on this data
    np.testing.assert_allclose(m.retention_rate - m.retention_rate_exact, m.won_back_rate)
    np.testing.assert_array_equal(m.customers_end,
                                  m.customers_start - m.lost + m.new_customers + m.won_back)
    np.testing.assert_allclose(m.churn_rate, 1 - m.retention_rate)


def test_first_month_has_no_rates(metrics):
    first = metrics.iloc[0]
    assert first.customers_start == 0 and np.isnan(first.retention_rate)


def test_simple_clv_is_the_product_of_its_stated_factors(metrics):
    last = metrics.iloc[-1]
    churn = metrics.churn_rate.iloc[-12:].mean()  # the churn shown, over the last 12 months
    assert last.churn_rate_12m == pytest.approx(churn)
    assert last.lifespan_months == pytest.approx(1 / churn)
    assert last.frequency_per_month == pytest.approx(
        last.orders_window / last.customers_end / (W / 30.4375))
    assert last.simple_clv == pytest.approx(
        last.aov_window * last.frequency_per_month * last.lifespan_months)


def test_window_metrics_by_hand(small_orders):
    got = window_metrics(ibis.memtable(small_orders), dt.datetime(2024, 1, 1),
                         dt.datetime(2024, 3, 1))
    # Jan-Feb: a (2 orders, 30), b (40), c (2 orders, 40), e (5): 6 orders, 115 revenue.
    assert got == {"customers": 4, "orders": 6, "revenue": 115.0, "aov": 115 / 6,
                   "purchase_frequency": 1.5, "repeat_customers": 2,
                   "repeat_purchase_rate": 0.5}


def test_window_must_be_positive(orders):
    with pytest.raises(ValueError, match="at least 1"):
        period_metrics(ibis.memtable(orders), "2025-06", activity_window_days=0)


def test_the_overviews_monthly_activity_gives_the_same_metrics(orders):
    from ppxlib.kpis import monthly_activity

    table = ibis.memtable(orders)
    # the overview's covers every month, later ones included; they are not used
    monthly = monthly_activity(table)
    assert monthly.month.max() > pd.Period("2025-05", "M")
    shared = period_metrics(table, "2025-05", activity_window_days=W, monthly=monthly)
    pd.testing.assert_frame_equal(shared, period_metrics(table, "2025-05",
                                                         activity_window_days=W))
    assert shared.month.iloc[-1] == pd.Period("2025-05", "M")


def test_lifecycle_and_retention_counts_agree_when_the_window_is_the_lost_threshold(orders):
    """One word, one number: the reports' "lost" and "current customers" on either page."""
    from ppxlib.lifecycle import lifecycle, loyalty_moves, migration_matrix

    table = ibis.memtable(orders)
    metrics = period_metrics(table, "2025-06", activity_window_days=W).set_index("month")
    states, moves = lifecycle(table, "2025-06", sleeping_days=50, lost_days=W)
    states = states.set_index("month")
    loyalty = loyalty_moves(moves).set_index("month")
    for month in metrics.index[1:]:
        current = states.loc[month, ["new", "active", "reactivated", "sleeping"]].sum()
        assert metrics.loc[month, "customers_end"] == current, month
        assert metrics.loc[month, "lost"] == loyalty.loc[month, "lost"], month
        assert metrics.loc[month, "new_customers"] == loyalty.loc[month, "acquired"], month
        matrix = migration_matrix(moves, month)
        assert metrics.loc[month, "won_back"] == matrix.loc["lost"].drop("lost").sum(), month
    assert metrics.lost.sum() > 0 and metrics.won_back.sum() > 0


def test_a_shop_without_repeat_purchases_has_no_repeat_customers():
    orders = pd.DataFrame({"customer_id": ["a", "b"], "amount": [10.0, 20.0],
                           "order_ts": pd.to_datetime(["2024-01-05", "2024-02-09"])})
    metrics = period_metrics(ibis.memtable(orders), "2024-03", activity_window_days=90)
    assert metrics.repeat_customers.tolist() == [0, 0, 0]
    assert metrics.repeat_purchase_rate.tolist() == [0.0, 0.0, 0.0]
