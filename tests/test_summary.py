"""rfm_summary means what lifetimes' summaries mean, computed in the engine."""

from __future__ import annotations

import warnings

import ibis
import numpy as np
import pandas as pd
import pytest
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

from ppxlib.datasets import cdnow_sample
from ppxlib.simulate import simulate_shop
from ppxlib.summary import rfm_summary


@pytest.fixture(scope="module")
def shop_orders():
    """Simulated orders with times of day, several customers ordering twice on one day."""
    orders = simulate_shop(customers=1500, seed=4, start="2024-01-01", end="2025-07-01").orders
    same_day = orders.sample(150, random_state=1).assign(
        order_ts=lambda d: d.order_ts + pd.Timedelta(hours=1), amount=lambda d: d.amount / 3)
    return pd.concat([orders, same_day], ignore_index=True)[
        ["customer_id", "order_ts", "amount"]]


def _lifetimes(orders, end, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return summary_data_from_transaction_data(
            orders, "customer_id", "order_ts", "amount", observation_period_end=end,
            **kw).sort_index()


@pytest.mark.parametrize(("freq", "multiplier"), [("D", 1), ("D", 7), ("W", 1)])
def test_identical_to_lifetimes_summary(shop_orders, freq, multiplier):
    ours = rfm_summary(ibis.memtable(shop_orders), "2025-06-30", freq=freq,
                       freq_multiplier=multiplier)
    theirs = _lifetimes(shop_orders, "2025-06-30", freq=freq, freq_multiplier=multiplier)
    assert list(ours.index) == list(theirs.index)
    for col in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[col].to_numpy(), theirs[col].to_numpy(), err_msg=col)
    np.testing.assert_allclose(ours.monetary_value, theirs.monetary_value, rtol=1e-9)


def test_orders_after_the_observation_end_are_ignored(shop_orders):
    ours = rfm_summary(ibis.memtable(shop_orders), "2024-12-31", freq_multiplier=7)
    theirs = _lifetimes(shop_orders, "2024-12-31", freq="D", freq_multiplier=7)
    pd.testing.assert_frame_equal(ours[["frequency", "recency", "T"]],
                                  theirs[["frequency", "recency", "T"]], check_names=False)


def test_calibration_and_holdout_match_lifetimes_except_its_holdout_spend(shop_orders):
    ours = rfm_summary(ibis.memtable(shop_orders), "2025-06-30", calibration_end="2024-12-31",
                       freq_multiplier=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = calibration_and_holdout_data(
            shop_orders, "customer_id", "order_ts", "2024-12-31", "2025-06-30", freq="D",
            freq_multiplier=7, monetary_value_col="amount").sort_index()
    # lifetimes cuts calibration and holdout at the raw timestamps 2024-12-31 00:00 and
    # 2025-06-30 00:00 but counts by day, so orders later on those days fall out. Compare
    # everyone else; the rest differ exactly by such orders.
    day = shop_orders.order_ts.dt.strftime("%Y-%m-%d")
    on_cut_day = set(shop_orders[day.isin(["2024-12-31", "2025-06-30"])].customer_id)
    extra = set(ours.index) - set(theirs.index)
    assert extra <= on_cut_day
    keep = sorted(set(theirs.index) - on_cut_day)
    ours, theirs = ours.loc[keep], theirs.loc[keep]
    for col in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[col], theirs[f"{col}_cal"], err_msg=col)
    np.testing.assert_allclose(ours.monetary_value, theirs.monetary_value_cal, rtol=1e-9)
    np.testing.assert_array_equal(ours.frequency_holdout, theirs.frequency_holdout)
    np.testing.assert_array_equal(ours.duration_holdout, theirs.duration_holdout)
    # lifetimes averages holdout spend per order, not per purchase day: they differ exactly
    # for customers with two orders on one holdout day.
    differ = ~np.isclose(ours.monetary_value_holdout, theirs.monetary_value_holdout)
    assert differ.any()


def test_holdout_spend_is_per_purchase_day_like_the_calibration_spend():
    orders = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a"],
        "order_ts": pd.to_datetime(["2024-01-01 09:00:00", "2024-01-05 09:00:00",
                                    "2024-02-10 09:00:00", "2024-02-10 18:00:00"]),
        "amount": [10.0, 20.0, 30.0, 10.0]})
    got = rfm_summary(ibis.memtable(orders), "2024-02-29", calibration_end="2024-01-31")
    row = got.loc["a"]
    assert row.frequency == 1 and row.monetary_value == 20.0
    assert row.frequency_holdout == 1            # one purchase day ...
    assert row.monetary_value_holdout == 40.0    # ... worth 40 (lifetimes says 20)
    assert row.duration_holdout == 29


def test_cdnow_published_repeat_transactions():
    cal = rfm_summary(ibis.memtable(cdnow_sample()), "1998-06-30",
                      calibration_end="1997-09-30", freq_multiplier=7)
    assert len(cal) == 2357
    assert cal.frequency.sum() == 2457 and cal.frequency_holdout.sum() == 1882
    assert cal.duration_holdout.iloc[0] == 39


def test_bad_arguments():
    orders = ibis.memtable(pd.DataFrame({"customer_id": ["a"], "amount": [1.0],
                                         "order_ts": pd.to_datetime(["2024-05-01"])}))
    with pytest.raises(ValueError, match="before the first order"):
        rfm_summary(orders, "2024-01-01")
    with pytest.raises(ValueError, match="freq must be"):
        rfm_summary(orders, "2024-06-01", freq="M")
    with pytest.raises(ValueError, match="must be before observation_end"):
        rfm_summary(orders, "2024-06-01", calibration_end="2024-07-01")
