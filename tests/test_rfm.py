"""RFM scores, the 11-segment map and the per-segment table."""

from __future__ import annotations

import itertools

import ibis
import pandas as pd
import pytest

from ppxlib.rfm import (
    ACTIONS,
    SEGMENT_MAP,
    SEGMENTS,
    frequency_score,
    quantile_score,
    rfm_scores,
    rfm_segments,
    segment_of,
)
from ppxlib.simulate import simulate_shop


def test_the_map_has_eleven_segments_and_covers_every_score():
    assert len(SEGMENTS) == 11
    assert set(SEGMENT_MAP) == set(SEGMENTS)  # every segment is reachable
    assert len(SEGMENT_MAP) == 125
    assert all(ACTIONS[s] for s in SEGMENTS)


@pytest.mark.parametrize(("scores", "segment"), [
    ((5, 5, 5), "Champions"), ((4, 4, 4), "Champions"), ((5, 4, 1), "Loyal"),
    ((3, 3, 1), "Loyal"), ((1, 5, 1), "Can't Lose Them"), ((1, 1, 5), "Can't Lose Them"),
    ((2, 5, 5), "At Risk"), ((1, 3, 1), "At Risk"), ((5, 1, 5), "New"),
    ((4, 1, 1), "Promising"), ((4, 2, 2), "Potential Loyalist"),
    ((3, 2, 1), "Need Attention"), ((3, 1, 3), "Need Attention"),
    ((3, 1, 2), "About to Sleep"), ((2, 2, 2), "Hibernating"), ((1, 2, 2), "Lost"),
])
def test_precedence(scores, segment):
    assert segment_of(*scores) == segment


def test_precedence_is_first_match():
    # Champions also satisfy Loyal's rule; the earlier rule wins.
    for r, f, m in itertools.product(range(4, 6), repeat=3):
        assert segment_of(r, f, m) == "Champions"


def test_scores_share_ties_and_reverse_recency():
    assert quantile_score(pd.Series([3.0, 3.0, 3.0, 1.0, 9.0])).tolist() == [2, 2, 2, 1, 5]
    assert quantile_score(pd.Series([10.0, 1.0, 5.0, 7.0, 2.0]), reverse=True).tolist() == [
        1, 5, 3, 2, 4]
    assert frequency_score(pd.Series([1, 1, 2, 3, 4, 10])).tolist() == [1, 1, 2, 3, 4, 5]


def test_rfm_scores_by_hand(small_orders):
    scores = rfm_scores(ibis.memtable(small_orders), observation_end="2024-04-01")
    assert scores.loc["a", ["frequency", "monetary"]].tolist() == [3, 60.0]
    assert scores.loc["d", "recency_days"] == pytest.approx(1 + 14 / 24)  # Mar 30 10:00
    assert scores.loc["d", "R"] == 5 and scores.loc["e", "R"] == 1
    assert scores.loc["a", "F"] == 5 and scores.loc["b", "F"] == 1
    assert scores.loc["a", "aov"] == 20.0


def test_segment_table_on_simulated_data():
    shop = simulate_shop(customers=2000, seed=17)
    scores = rfm_scores(ibis.memtable(shop.orders), observation_end=shop.end)
    table = rfm_segments(scores)
    assert table.segment.tolist() == SEGMENTS
    assert table.customers.sum() == 2000
    assert table.revenue_share.sum() == pytest.approx(1.0)
    assert (table.customers > 0).all()  # every segment occurs in a realistic shop
    champions = table.set_index("segment").loc["Champions"]
    assert champions.revenue_share > champions.customer_share  # they spend above their share


def test_segments_never_contradict_the_lifecycle_states():
    from ppxlib.lifecycle import customer_states

    shop = simulate_shop(customers=800, seed=5, start="2024-01-01", end="2025-07-01")
    orders = ibis.memtable(shop.orders[["order_id", "customer_id", "order_ts", "amount"]])
    scores = rfm_scores(orders, "2025-07-01", sleeping_days=60, lost_days=200)
    states = customer_states(orders, "2025-06", 60, 200).reindex(scores.index)
    current = {"new", "active", "reactivated"}
    expected = {"Champions": current, "Loyal": current, "New": current, "Promising": current,
                "Potential Loyalist": current, "Need Attention": current,
                "About to Sleep": current, "Hibernating": {"sleeping"}, "Lost": {"lost"},
                "Can't Lose Them": {"lost"}, "At Risk": {"sleeping", "lost"}}
    for segment, allowed in expected.items():
        here = set(states[scores.segment == segment])
        assert here <= allowed, (segment, here)
    assert set(scores.segment) >= {"Champions", "Hibernating", "Lost"}  # the check has teeth
