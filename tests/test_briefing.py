"""The briefing: what changed (only beyond noise), findings ranked by money then by place."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

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


def test_the_late_delivery_cost_covers_the_value_the_simulators_truth_implies():
    """On the sample: the month's late-delivery cost, as the briefing computes it, covers
    the truth -- the same customers' expected repeat spend × the true relative drop."""
    import ppxlib
    from ppxlib import adjusted, clv, stake
    from ppxlib.pointintime import as_at, month_end
    from ppxlib.simulate import ShopParameters
    from ppxlib.summary import rfm_summary

    from conftest import AS_OF, SAMPLE

    clean = as_at(ppxlib.open(SAMPLE).validate(as_of=AS_OF), month_end("2026-10"))
    end = month_end("2026-10")
    last_day = pd.Timestamp("2026-10-31")
    summary = rfm_summary(clean.orders, last_day, freq_multiplier=7)
    model = clv.fit_clv(summary, time_unit_days=7, purchase_model="MBG/NBD")
    predictions = model.predict(summary, 12, 0.01)
    customers = adjusted.customer_table(clean.orders, clean.returns, clean.tickets,
                                        clean.surveys, end)
    fitted = adjusted.fit_adjusted(customers)
    costs = stake.value_at_stake(fitted.differences, customers, predictions, "2026-10")
    late = costs.set_index(["factor", "level"]).loc[("delivery", "late")]
    # before a repeat purchase nobody drops out, so a late first delivery's only effect is
    # the customers it removes at once: the true relative drop in coming back is late_churn
    truth_relative = ShopParameters().repurchase_difference(90) / (
        1 - (ShopParameters().alpha / (ShopParameters().alpha + 90 / 7)) ** ShopParameters().r)
    assert truth_relative == pytest.approx(-ShopParameters().late_churn)
    first = pd.to_datetime(customers.first_ts)
    affected = customers.index[(first >= pd.Timestamp("2026-10-01")) & (first < end)
                               & (customers.delivery == "late")]
    value = (predictions.expected_purchases * predictions.expected_spend).reindex(affected)
    truth = truth_relative * float(value.sum())
    assert late.customers == len(affected) > 5
    assert late.low <= truth <= late.high, (late.low, truth, late.high)
