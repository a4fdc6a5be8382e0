"""Lifecycle states and moves: hand-computed cases and a brute-force reference."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from ppxlib.lifecycle import (
    STATES,
    check_thresholds,
    default_thresholds,
    interpurchase_days,
    lifecycle,
    loyalty_moves,
    migration_matrix,
)
from ppxlib.simulate import simulate_shop


def brute_force_states(orders: pd.DataFrame, months: pd.PeriodIndex, sleeping: float,
                       lost: float) -> pd.DataFrame:
    """State of every customer at every month end, straight from the definitions."""
    rows = []
    for cust, own in orders.groupby("customer_id"):
        ts = own.order_ts.sort_values()
        first = ts.iloc[0].to_period("M")
        previous = None
        for month in months:
            if month < first:
                continue
            end = (month + 1).start_time
            before = ts[ts < end]
            in_month = before[before >= month.start_time]
            recency = (end - before.iloc[-1]) / pd.Timedelta(days=1)
            if recency > lost:
                state = "lost"
            elif recency > sleeping:
                state = "sleeping"
            elif month == first:
                state = "new"
            elif len(in_month):
                state = "reactivated" if previous in ("sleeping", "lost") else "active"
            else:
                state = "active"
            rows.append((month, cust, state))
            previous = state
    return pd.DataFrame(rows, columns=["month", "customer_id", "state"])


@pytest.fixture(scope="module")
def shop_orders():
    shop = simulate_shop(customers=600, seed=21, start="2024-01-01", end="2025-07-01")
    return shop.orders[["order_id", "customer_id", "order_ts", "amount"]]


def test_hand_case_with_new_active_sleeping_lost_and_reactivated():
    orders = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "c", "c"],
        "order_ts": pd.to_datetime(["2024-01-10", "2024-02-20", "2024-07-01",   # a
                                    "2024-03-31",                                # b
                                    "2024-01-05", "2024-01-25"]),                # c
    })
    states, moves = lifecycle(ibis.memtable(orders), "2024-07", sleeping_days=45, lost_days=100)
    s = states.set_index(states.month.astype(str))
    # a: new Jan, active Feb; Mar end is 40 days after Feb 20 -> active; Apr end 70 -> sleeping;
    #    May end 101 -> lost; Jun end 131 -> lost; Jul ordered after lost -> reactivated.
    # b: new Mar; Apr end 30 days -> active; May 61 -> sleeping; Jun 91 -> sleeping;
    #    Jul end (Aug 1) 123 -> lost.   c: new Jan, then censored: Feb end 35 -> active,
    #    Mar end 66 -> sleeping, Apr end 97 -> sleeping, May end 127 -> lost.
    assert s.loc["2024-01", ["new", "active"]].tolist() == [2, 0]
    assert s.loc["2024-02", ["active", "sleeping"]].tolist() == [2, 0]
    assert s.loc["2024-03", ["new", "active", "sleeping"]].tolist() == [1, 1, 1]
    assert s.loc["2024-04", ["active", "sleeping"]].tolist() == [1, 2]
    assert s.loc["2024-05", ["sleeping", "lost"]].tolist() == [1, 2]
    assert s.loc["2024-07", ["reactivated", "lost"]].tolist() == [1, 2]
    assert s.total.tolist() == [2, 2, 3, 3, 3, 3, 3]
    july = migration_matrix(moves, "2024-07")
    assert july.loc["lost", "reactivated"] == 1 and july.loc["sleeping", "lost"] == 1
    assert july.loc["lost", "lost"] == 1
    loyalty = loyalty_moves(moves).set_index(loyalty_moves(moves).month.astype(str))
    assert loyalty.loc["2024-07", ["came_back", "lost", "more_loyal", "less_loyal"]].tolist() \
        == [1, 1, 1, 1]
    assert loyalty.loc["2024-03", "acquired"] == 1


@pytest.mark.parametrize(("sleeping", "lost"), [(75, 200), (10, 25), (20, 45), (45, 50)])
def test_states_match_the_brute_force_reference(shop_orders, sleeping, lost):
    # thresholds shorter than a month included: an order early in a month can lapse by its end
    states, moves = lifecycle(ibis.memtable(shop_orders), "2025-06", sleeping_days=sleeping,
                              lost_days=lost)
    months = pd.period_range("2024-01", "2025-06", freq="M")
    reference = brute_force_states(shop_orders, months, sleeping, lost)
    expected = reference.pivot_table(index="month", columns="state", values="customer_id",
                                     aggfunc="count", fill_value=0)
    expected = expected.reindex(columns=list(STATES), fill_value=0)
    got = states.set_index("month")[list(STATES)]
    pd.testing.assert_frame_equal(got, expected, check_names=False, check_dtype=False)

    # Moves into every month equal the brute-force transitions.
    wide = reference.pivot(index="customer_id", columns="month", values="state")
    for month in months[1:]:
        pair = wide[[month - 1, month]].dropna(subset=[month])
        pair = pair.fillna({month - 1: "none"})
        expected_moves = pair.groupby([month - 1, month]).size()
        matrix = migration_matrix(moves, month)
        for (src, dst), n in expected_moves.items():
            assert matrix.loc[src, dst] == n, (month, src, dst)
        assert matrix.to_numpy().sum() == len(pair)


def test_default_thresholds_come_from_repurchase_gaps(shop_orders):
    hist = interpurchase_days(ibis.memtable(shop_orders))
    found = default_thresholds(ibis.memtable(shop_orders))
    share = hist.gaps.cumsum() / hist.gaps.sum()
    assert share[hist.days < found["sleeping_days"]].max() < 0.8 <= share[
        hist.days == found["sleeping_days"]].iloc[0]
    assert found["lost_days"] > found["sleeping_days"] and found["source"] == "data"
    assert str(found["sleeping_days"]) in found["explanation"]


def test_interpurchase_days_by_hand():
    orders = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b"],
                           "order_ts": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 18:00",
                                                       "2024-01-11 09:00", "2024-02-01 00:00",
                                                       "2024-03-02 00:00"])})
    hist = interpurchase_days(ibis.memtable(orders))
    assert hist.values.tolist() == [[10, 1], [30, 1]]  # same-day orders are one purchase day


def test_thresholds_in_the_wrong_order_are_refused():
    with pytest.raises(ValueError, match="must be shorter than lost_days"):
        check_thresholds(200, 100)
    orders = ibis.memtable(pd.DataFrame({"customer_id": ["a"],
                                         "order_ts": pd.to_datetime(["2024-01-01"])}))
    with pytest.raises(ValueError, match="must be shorter"):
        lifecycle(orders, "2024-03", sleeping_days=90, lost_days=90)
    with pytest.raises(ValueError, match="positive"):
        lifecycle(orders, "2024-03", sleeping_days=-1, lost_days=90)


def test_too_few_repeat_purchases_fall_back_to_stated_defaults():
    orders = ibis.memtable(pd.DataFrame({"customer_id": ["a", "b"],
                                         "order_ts": pd.to_datetime(["2024-01-01",
                                                                     "2024-01-02"])}))
    found = default_thresholds(orders)
    assert (found["sleeping_days"], found["lost_days"], found["source"]) == (90, 365,
                                                                             "fallback")
