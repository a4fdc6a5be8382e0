"""Cohort retention: hand-computed cells, modes, periods, splits and unreached cells."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from ppxlib.cohorts import cohort_matrix, cohort_retention, pooled_retention, wilson_interval
from ppxlib.datasets import cdnow


@pytest.fixture
def orders(small_orders):
    """small_orders plus f, who orders in January and again in March (skipping February)."""
    extra = pd.DataFrame({"order_id": [9, 10], "customer_id": ["f", "f"],
                          "order_ts": pd.to_datetime(["2024-01-15", "2024-03-15"]),
                          "amount": [7.0, 3.0]})
    frame = pd.concat([small_orders, extra], ignore_index=True)
    frame["channel"] = frame.customer_id.map({"a": "web", "b": "app", "c": "web", "d": "app",
                                              "e": "web", "f": None})
    return ibis.memtable(frame)


def _cells(frame, cohort, column="customers"):
    part = frame[frame.cohort == pd.Period(cohort, "M")].set_index("period_number")
    return part[column].tolist()


def test_returned_mode_by_hand(orders):
    r = cohort_retention(orders, observation_end="2024-04-01")
    # January cohort a, e, f: a returns in Jan (same month) and Mar; f returns in Mar.
    assert _cells(r, "2024-01") == [3, 0, 2]
    assert _cells(r, "2024-01", "rate") == [1.0, 0.0, pytest.approx(2 / 3)]
    # February cohort b, c: nobody orders in March.  March cohort: d only.
    assert _cells(r, "2024-02") == [2, 0]
    assert _cells(r, "2024-03") == [1]
    assert r.cohort_size.tolist() == [3, 3, 3, 2, 2, 1]


def test_rolling_mode_counts_period_k_or_later(orders):
    r = cohort_retention(orders, mode="rolling", observation_end="2024-04-01")
    # a and f order again in March, so both count as retained in period 1 "or later".
    assert _cells(r, "2024-01") == [3, 2, 2]


def test_revenue_retention_and_cumulative_revenue(orders):
    r = cohort_retention(orders, observation_end="2024-04-01")
    # January revenue: a 10 + 20, e 5, f 7 = 42; March: a 30 + f 3 = 33.
    assert _cells(r, "2024-01", "revenue") == [42.0, 0.0, 33.0]
    assert _cells(r, "2024-01", "revenue_retention") == [1.0, 0.0, pytest.approx(33 / 42)]
    assert _cells(r, "2024-01", "cumulative_revenue_per_customer") == [14.0, 14.0, 25.0]


def test_unreached_cells_are_missing_not_zero(orders):
    # The data reaches March 30, but March is not over: it is not a reached period.
    r = cohort_retention(orders, observation_end="2024-03-31")
    assert _cells(r, "2024-01") == [3, 0]
    march = r[r.cohort == pd.Period("2024-03", "M")]
    assert not march.reached.iloc[0] and np.isnan(march.customers.iloc[0])
    m = cohort_matrix(cohort_retention(orders, observation_end="2024-04-01"))
    assert np.isnan(m.loc[pd.Period("2024-03", "M"), 1])
    assert m.loc[pd.Period("2024-02", "M"), 1] == 0.0


def test_wilson_intervals_are_the_textbook_ones(orders):
    r = cohort_retention(orders, observation_end="2024-04-01")
    jan2 = r[(r.cohort == pd.Period("2024-01", "M")) & (r.period_number == 2)].iloc[0]
    z = 1.959963984540054
    p, n = 2 / 3, 3
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert jan2.rate_low == pytest.approx(centre - half)
    assert jan2.rate_high == pytest.approx(centre + half)
    low, high = wilson_interval([0], [0])
    assert np.isnan(low[0]) and np.isnan(high[0])


def test_split_by_first_order_column(orders):
    r = cohort_retention(orders, by="channel", observation_end="2024-04-01")
    jan = r[r.cohort == pd.Period("2024-01", "M")]
    sizes = jan.groupby("group").cohort_size.first().to_dict()
    assert sizes == {"(missing)": 1, "web": 2}  # f has no channel; a and e are web


def test_weeks_and_quarters(orders):
    q = cohort_retention(orders, period="Q", observation_end="2024-07-01")
    assert q.cohort.astype(str).tolist() == ["2024Q1", "2024Q1"]
    assert q.customers.tolist() == [6.0, 0.0]
    w = cohort_retention(orders, period="W", observation_end="2024-01-22")
    first = w[w.cohort == pd.Period("2024-01-01/2024-01-07", "W")]
    # a orders Jan 5 (week 0) and Jan 20 (week 2, Monday Jan 15 - Sunday Jan 21).
    assert first.customers.tolist() == [1.0, 0.0, 1.0]


def test_pooled_retention_weights_cohorts_by_size(orders):
    r = cohort_retention(orders, observation_end="2024-04-01")
    pooled = pooled_retention(r).set_index("period_number")
    assert pooled.loc[1, "cohort_size"] == 5  # January (3) and February (2) reached month 1
    assert pooled.loc[1, "rate"] == 0.0
    assert pooled.loc[2, "rate"] == pytest.approx(2 / 3)


def test_bad_arguments_are_clear_errors(orders):
    with pytest.raises(ValueError, match="period must be one of"):
        cohort_retention(orders, period="D")
    with pytest.raises(ValueError, match="mode must be one of"):
        cohort_retention(orders, mode="cumulative")
    with pytest.raises(ValueError, match="no column 'segment'"):
        cohort_retention(orders, by="segment")


def test_cdnow_acquisition_cohorts():
    r = cohort_retention(ibis.memtable(cdnow()), observation_end="1998-07-01")
    sizes = r.groupby("cohort").cohort_size.first()
    assert sizes.astype(int).to_dict() == {pd.Period("1997-01", "M"): 7846,
                                           pd.Period("1997-02", "M"): 8476,
                                           pd.Period("1997-03", "M"): 7248}
    jan = r[r.cohort == pd.Period("1997-01", "M")]
    assert len(jan) == 18 and jan.reached.all()  # January 1997 to June 1998
