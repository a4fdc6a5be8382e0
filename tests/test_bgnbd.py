"""The fast BG/NBD likelihood gives lifetimes' parameters, on published and simulated data."""

from __future__ import annotations

import warnings

import ibis
import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter

from ppxlib import bgnbd
from ppxlib.datasets import cdnow_sample
from ppxlib.simulate import simulate_shop
from ppxlib.summary import rfm_summary

from conftest import central_differences


def _lifetimes(summary):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BetaGeoFitter().fit(summary.frequency, summary.recency, summary["T"])


@pytest.fixture(scope="module")
def cdnow():
    return rfm_summary(ibis.memtable(cdnow_sample()), "1998-06-30",
                       calibration_end="1997-09-30", freq_multiplier=7)


def test_same_parameters_and_standard_errors_as_lifetimes_on_cdnow(cdnow):
    ours, theirs = bgnbd.fit(cdnow.frequency, cdnow.recency, cdnow["T"]), _lifetimes(cdnow)
    for name in ("r", "alpha", "a", "b"):
        assert ours.params_[name] == pytest.approx(theirs.params_[name], rel=1e-5), name
        assert ours.standard_errors_[name] == pytest.approx(theirs.standard_errors_[name],
                                                            rel=1e-3), name


def test_same_parameters_as_lifetimes_on_simulated_data_with_weights():
    shop = simulate_shop(customers=20_000, seed=8)
    summary = rfm_summary(ibis.memtable(shop.orders), "2026-10-31", freq_multiplier=7)
    rows = summary.groupby(["frequency", "recency", "T"]).size().rename("w").reset_index()
    ours = bgnbd.fit(rows.frequency, rows.recency, rows["T"], weights=rows.w)
    theirs = _lifetimes(summary)
    for name in ("r", "alpha", "a", "b"):
        assert ours.params_[name] == pytest.approx(theirs.params_[name], rel=1e-4), name


def test_gradient_is_exact(cdnow):
    scale = 10 / cdnow["T"].max()
    data = bgnbd._Data(cdnow.frequency.to_numpy(), cdnow.recency.to_numpy() * scale,
                       cdnow["T"].to_numpy() * scale, np.ones(len(cdnow)))
    point = np.log([0.4, 3.0, 0.6, 2.0])
    _, grad = bgnbd.negative_log_likelihood(point, data)
    numeric = central_differences(lambda p: bgnbd.negative_log_likelihood(p, data), point)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


def test_predictions_come_from_lifetimes(cdnow):
    ours, theirs = bgnbd.fit(cdnow.frequency, cdnow.recency, cdnow["T"]), _lifetimes(cdnow)
    np.testing.assert_allclose(
        ours.conditional_probability_alive(cdnow.frequency, cdnow.recency, cdnow["T"]),
        theirs.conditional_probability_alive(cdnow.frequency, cdnow.recency, cdnow["T"]),
        rtol=1e-4)


def test_expected_purchases_equal_lifetimes_for_every_customer_and_horizon(cdnow):
    fitted = bgnbd.fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    horizons = [0.5, 10, 39, 52, 260]
    ours = bgnbd.expected_purchases(fitted.params_, horizons, cdnow.frequency, cdnow.recency,
                                    cdnow["T"])
    assert ours.shape == (len(cdnow), len(horizons))
    for j, t in enumerate(horizons):
        theirs = fitted.conditional_expected_number_of_purchases_up_to_time(
            t, cdnow.frequency, cdnow.recency, cdnow["T"])
        np.testing.assert_allclose(ours[:, j], theirs, rtol=1e-13)


def test_expected_purchases_equal_lifetimes_where_the_series_overflows():
    from scipy.special import hyp2f1

    params = pd.Series({"r": 2.0, "alpha": 1.0, "a": 0.8, "b": 3.0})
    x, t_x, T = np.array([0.0, 1, 20, 150, 400]), np.array([0.0, 5, 80, 95, 99]), np.full(5, 100.0)
    horizons = [1.0, 50, 5000]
    # a customer with 400 repeat purchases, 5000 periods ahead: the plain series is infinite
    assert np.isinf(hyp2f1(2 + 400, 3 + 400, 0.8 + 3 + 400 - 1, 5000 / (1 + 100 + 5000)))
    ours = bgnbd.expected_purchases(params, horizons, x, t_x, T)
    theirs = BetaGeoFitter()
    theirs.params_ = params
    for j, t in enumerate(horizons):
        np.testing.assert_allclose(
            ours[:, j], theirs.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T),
            rtol=1e-13)
