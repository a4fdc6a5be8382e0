"""The briefing: what changed (only beyond noise), findings ranked by money then by place."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from ppxlib import briefing, changes
from ppxlib.retention import period_metrics


def _shop(late_in_october: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for month, late_share in (("2026-09", 0.1), ("2026-10", late_in_october)):
        start = pd.Timestamp(f"{month}-01")
        for i in range(600):
            ts = start + pd.Timedelta(hours=int(rng.integers(0, 24 * 25)))
            late = rng.random() < late_share
            rows.append((f"{month}-{i}", f"c{month}{i % 400}", ts, 20.0,
                         ts + pd.Timedelta(days=3),
                         ts + pd.Timedelta(days=5 if late else 2)))
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "order_ts", "amount",
                                       "promised_ts", "delivered_ts"])


def _changes(frame: pd.DataFrame) -> pd.DataFrame:
    orders = ibis.memtable(frame)
    metrics = period_metrics(orders, "2026-10", activity_window_days=90)
    rows = briefing.month_changes(orders, pd.Period("2026-10", "M"), metrics)
    return changes.significant_changes(rows).set_index("change")


def test_a_real_drop_in_punctuality_is_reported_and_steady_months_are_not():
    worse = _changes(_shop(late_in_october=0.3))
    assert worse.loc["on_time", "significant"] and not worse.loc["on_time", "better"]
    assert worse.loc["on_time", "now"] < worse.loc["on_time", "before"]
    steady = _changes(_shop(late_in_october=0.1, seed=1))
    assert not steady.loc["on_time", "significant"]
    sentence = briefing.change_sentence(worse.loc["on_time"], pd.Period("2026-10", "M"))
    assert sentence.startswith("Deliveries on time fell from") and "95% interval" in sentence


def test_findings_with_money_lead_then_the_fixed_order():
    found = [briefing.Finding("orders", "#o", order=3),
             briefing.Finding("late deliveries cost", "#l", amount=-1200.0),
             briefing.Finding("returns cost", "#r", amount=-300.0),
             briefing.Finding("churn", "#c", order=1)]
    assert briefing.rank_findings(found, limit=3).text.tolist() == [
        "late deliveries cost", "returns cost", "churn"]
