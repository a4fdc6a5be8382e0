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


# --------------------------------------------------------------------------- lifetimes' forms


def _new_york(*local: str) -> pd.DataFrame:
    ts = pd.to_datetime(list(local)).tz_localize("America/New_York")
    return pd.DataFrame({"order_id": range(1, len(ts) + 1), "customer_id": "a",
                         "order_ts": ts, "amount": 10.0})


def test_timezone_buckets_purchases_by_the_shops_local_day():
    # 18:00 and 21:00 in New York on 5 March are 23:00 on the 5th and 02:00 on the 6th in UTC.
    orders = _new_york("2024-03-01 12:00", "2024-03-05 18:00", "2024-03-05 21:00")
    by_utc = rfm_summary(orders, "2024-03-10")
    local = rfm_summary(orders, "2024-03-10", timezone="America/New_York")
    assert by_utc.frequency.item() == 2          # two UTC days after the first
    assert local.frequency.item() == 1           # one New York day
    assert local.monetary_value.item() == 20.0   # ... worth both orders
    assert local.recency.item() == 4 and local["T"].item() == 9


def test_timezone_follows_daylight_saving():
    # In July New York is UTC-4: 00:30 on 2 July (04:30 UTC) is a day after 23:00 on 1 July
    # (03:00 UTC on the 2nd). A fixed UTC-5 offset would put both on 1 July.
    orders = _new_york("2024-07-01 23:00", "2024-07-02 00:30")
    local = rfm_summary(orders, "2024-07-10", timezone="America/New_York")
    assert local.frequency.item() == 1 and local.recency.item() == 1 and local["T"].item() == 9
    assert rfm_summary(orders, "2024-07-10").frequency.item() == 0  # one UTC day


def test_timezone_on_naive_timestamps_reads_them_as_utc():
    orders = ibis.memtable(pd.DataFrame({
        "customer_id": ["a", "a"], "amount": [1.0, 2.0],
        "order_ts": pd.to_datetime(["2024-03-05 23:00", "2024-03-06 02:00"])}))
    assert rfm_summary(orders, "2024-03-10").frequency.item() == 1
    assert rfm_summary(orders, "2024-03-10", timezone="America/New_York").frequency.item() == 0
    with pytest.raises(ValueError, match="unknown time zone 'New York'"):
        rfm_summary(orders, "2024-03-10", timezone="New York")


def test_a_period_observation_end_counts_to_its_last_day(shop_orders):
    orders = ibis.memtable(shop_orders)
    pd.testing.assert_frame_equal(rfm_summary(orders, pd.Period("2025-06", "M")),
                                  rfm_summary(orders, "2025-06-30"))
    pd.testing.assert_frame_equal(
        rfm_summary(orders, pd.Period("2025-06-30", "D"), pd.Period("2024-12", "M")),
        rfm_summary(orders, "2025-06-30", "2024-12-31"))


def test_observation_end_defaults_to_the_last_orders_period_as_in_lifetimes(shop_orders):
    last = shop_orders.order_ts.max()
    ours = rfm_summary(ibis.memtable(shop_orders), freq="W")
    theirs = _lifetimes(shop_orders, None, freq="W")
    np.testing.assert_array_equal(ours["T"], theirs["T"])
    pd.testing.assert_frame_equal(ours, rfm_summary(ibis.memtable(shop_orders), last, freq="W"))


def test_text_ends_are_read_with_the_datetime_format():
    log = pd.DataFrame({"id": [1, 1], "date": ["19970101", "19970201"], "sales": [1.0, 2.0]})
    got = rfm_summary(log, "19970228", "19970131", customer_id_col="id", datetime_col="date",
                      monetary_value_col="sales", datetime_format="%Y%m%d")
    assert got[["frequency", "T", "frequency_holdout", "duration_holdout"]].values.tolist() == [
        [0.0, 30.0, 1.0, 28.0]]


def test_mid_week_calibration_end_with_weeks_counts_by_week():
    """A known difference from lifetimes, pinned: with freq="W" a calibration end on a
    Tuesday takes that whole week into calibration (lifetimes cuts at the timestamp)."""
    cdnow = cdnow_sample()
    ours = rfm_summary(ibis.memtable(cdnow), "1998-06-30", "1997-09-30", freq="W")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = calibration_and_holdout_data(cdnow, "customer_id", "order_ts", "1997-09-30",
                                              "1998-06-30", freq="W",
                                              monetary_value_col="amount")
    later_that_week = cdnow.order_ts.between("1997-10-01", "1997-10-05 23:59")
    assert later_that_week.sum() == 36
    assert ours.frequency.sum() == 2248 and theirs.frequency_cal.sum() == 2216
