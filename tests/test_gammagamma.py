"""The fast Gamma-Gamma fit gives lifetimes' parameters, on published and simulated data."""

from __future__ import annotations

import warnings

import ibis
import numpy as np
import pytest
from lifetimes import GammaGammaFitter

from ppxlib import gammagamma
from ppxlib.datasets import cdnow_sample
from ppxlib.simulate import ShopParameters, simulate_shop
from ppxlib.summary import rfm_summary

from conftest import central_differences


def _repeat_buyers(summary):
    return summary[(summary.frequency > 0) & (summary.monetary_value > 0)]


def _lifetimes(frequency, spend, weights=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GammaGammaFitter().fit(frequency, spend, weights=weights)


@pytest.fixture(scope="module")
def cdnow():
    return _repeat_buyers(rfm_summary(ibis.memtable(cdnow_sample()), "1998-06-30",
                                      calibration_end="1997-09-30", freq_multiplier=7))


def test_same_parameters_and_standard_errors_as_lifetimes_on_cdnow(cdnow):
    ours = gammagamma.fit(cdnow.frequency, cdnow.monetary_value)
    theirs = _lifetimes(cdnow.frequency, cdnow.monetary_value)
    for name in ("p", "q", "v"):
        assert ours.params_[name] == pytest.approx(theirs.params_[name], rel=1e-5), name
        assert ours.standard_errors_[name] == pytest.approx(theirs.standard_errors_[name],
                                                            rel=1e-4), name
    # and the published values (Fader, Hardie & Lee: p = 6.25, q = 3.74, gamma = 15.44)
    assert ours.params_.round(2).tolist() == [6.25, 3.74, 15.44]


def test_same_parameters_as_lifetimes_on_simulated_data_with_weights():
    truth = ShopParameters(p=4.0, q=3.0, gamma=30.0)
    shop = simulate_shop(customers=20_000, seed=3, parameters=truth)
    buyers = _repeat_buyers(rfm_summary(ibis.memtable(shop.orders), "2026-10-31"))
    rows = buyers.groupby(["frequency", "monetary_value"]).size().rename("w").reset_index()
    ours = gammagamma.fit(rows.frequency, rows.monetary_value, weights=rows.w)
    theirs = _lifetimes(buyers.frequency, buyers.monetary_value)
    for name in ("p", "q", "v"):
        assert ours.params_[name] == pytest.approx(theirs.params_[name], rel=1e-4), name


def test_likelihood_and_gradient_equal_lifetimes_and_finite_differences(cdnow):
    data = gammagamma._Data(cdnow.frequency, cdnow.monetary_value, np.ones(len(cdnow)))
    point = np.log([3.0, 2.0, 10.0])
    value, grad = gammagamma.negative_log_likelihood(point, data)
    theirs = GammaGammaFitter._negative_log_likelihood(
        point, cdnow.frequency.to_numpy(), cdnow.monetary_value.to_numpy(),
        np.ones(len(cdnow)), 0.0)
    assert value == pytest.approx(theirs, rel=1e-12)
    numeric = central_differences(lambda p: gammagamma.negative_log_likelihood(p, data), point)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


def test_predictions_come_from_lifetimes(cdnow):
    ours = gammagamma.fit(cdnow.frequency, cdnow.monetary_value)
    theirs = _lifetimes(cdnow.frequency, cdnow.monetary_value)
    np.testing.assert_allclose(
        ours.conditional_expected_average_profit(cdnow.frequency, cdnow.monetary_value),
        theirs.conditional_expected_average_profit(cdnow.frequency, cdnow.monetary_value),
        rtol=1e-5)


@pytest.mark.parametrize("frequency, spend", [([0, 1], [5.0, 6.0]), ([1, 2], [5.0, 0.0]),
                                              ([], [])])
def test_input_without_positive_repeat_spend_is_refused(frequency, spend):
    with pytest.raises(ValueError, match="repeat buyers"):
        gammagamma.fit(frequency, spend)
