"""CLV models: the published CDNOW fit, recovery of simulated truth, units, rescue, bad input."""

from __future__ import annotations

import importlib.util
import warnings

import ibis
import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter

from ppxlib.clv import (
    CLVFitError,
    bootstrap,
    compare_models,
    fit_clv,
    holdout_by_frequency,
    holdout_errors,
    tracking,
)
from ppxlib.datasets import cdnow_sample
from ppxlib.simulate import ShopParameters, simulate_shop
from ppxlib.summary import rfm_summary


@pytest.fixture(scope="module")
def cdnow_calibration():
    return rfm_summary(ibis.memtable(cdnow_sample()), "1998-06-30",
                       calibration_end="1997-09-30", freq_multiplier=7)


@pytest.fixture(scope="module")
def cdnow_model(cdnow_calibration):
    return fit_clv(cdnow_calibration, time_unit_days=7)


def test_cdnow_bgnbd_matches_the_published_fit(cdnow_model):
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert cdnow_model.params_[name] == pytest.approx(value, rel=0.005), name
    assert cdnow_model.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    assert (cdnow_model.standard_errors_ > 0).all()


def test_cdnow_gamma_gamma_matches_the_published_fit(cdnow_model):
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert cdnow_model.params_[name] == pytest.approx(value, rel=0.01), name
    assert cdnow_model.spend_check_["customers"] == 946
    assert cdnow_model.spend_check_["ok"]


def test_cdnow_holdout_table_matches_the_published_expectations(cdnow_model,
                                                                cdnow_calibration):
    table = holdout_by_frequency(cdnow_model, cdnow_calibration).set_index("frequency")
    for x, expected in {"0": 0.225, "1": 0.523, "2": 1.044}.items():
        assert round(table.at[x, "expected"], 2) == round(expected, 2), x
    assert table.customers.sum() == 2357
    assert table.at["0", "actual"] == pytest.approx(
        cdnow_calibration.frequency_holdout[cdnow_calibration.frequency == 0].mean())
    errors = holdout_errors(cdnow_model, cdnow_calibration)
    assert errors["actual_total"] == 1882
    assert errors["expected_total"] == pytest.approx(1653, abs=5)
    assert 0 < errors["correlation"] < 1 and errors["mae"] > 0


def test_collapsing_rows_gives_lifetimes_plain_fit(cdnow_calibration, cdnow_model):
    plain = BetaGeoFitter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain.fit(cdnow_calibration.frequency, cdnow_calibration.recency,
                  cdnow_calibration["T"])
    for name in ("r", "alpha", "a", "b"):
        assert cdnow_model.params_[name] == pytest.approx(plain.params_[name], rel=1e-4)


def test_when_the_fast_fit_fails_lifetimes_own_optimiser_reaches_the_same_fit(
        cdnow_calibration, cdnow_model, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no convergence")

    monkeypatch.setattr("ppxlib.clv.bgnbd.fit", broken)
    rescued = fit_clv(cdnow_calibration, time_unit_days=7)
    assert any("lifetimes' own optimiser was used" in note for note in rescued.notes_)
    for name in ("r", "alpha", "a", "b"):
        assert rescued.params_[name] == pytest.approx(cdnow_model.params_[name], rel=1e-4)


def test_a_model_that_fails_every_attempt_names_each_attempt(cdnow_calibration, monkeypatch):
    from lifetimes.fitters import ConvergenceError

    def fast(*args, **kwargs):
        raise RuntimeError("no convergence")

    def broken(*args, **kwargs):
        raise ConvergenceError("no convergence")

    monkeypatch.setattr("ppxlib.clv.bgnbd.fit", fast)
    monkeypatch.setattr(BetaGeoFitter, "fit", broken)
    with pytest.raises(CLVFitError, match=r"did not converge \(data-driven start: "
                                          r"ConvergenceError; .*a small penalizer \(1e-3\)"):
        fit_clv(cdnow_calibration, time_unit_days=7)


@pytest.mark.skipif(importlib.util.find_spec("pymc_marketing") is None,
                    reason="pymc-marketing (the bench extra) is not installed")
def test_pymc_marketing_map_with_flat_priors_gives_fit_clv_bgnbd(cdnow_calibration):
    """The benchmark's peer fits the same model: with flat priors its MAP is the maximum
    likelihood that fit_clv finds (the bench compares their times, so they must agree)."""
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import BetaGeoModel

    ppx = fit_clv(cdnow_calibration, time_unit_days=7, fit_spend=False,
                  purchase_model="BG/NBD").params_
    data = cdnow_calibration[["frequency", "recency", "T"]].reset_index()
    flat = {name: Prior("HalfFlat") for name in ("r", "alpha", "a", "b")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = BetaGeoModel(model_config=flat).fit(data=data, method="map",
                                                    progressbar=False)
    for name in ("r", "alpha", "a", "b"):
        found = float(idata.posterior[name].values.squeeze())
        assert found == pytest.approx(ppx[name], rel=1e-3), name


@pytest.fixture(scope="module")
def simulated():
    truth = ShopParameters(late_churn=0.0)
    shop = simulate_shop(customers=100_000, seed=11, parameters=truth)
    orders = ibis.memtable(shop.orders[["customer_id", "order_ts", "amount"]])
    return truth, orders


def test_parameters_of_simulated_data_are_recovered(simulated):
    truth, orders = simulated
    summary = rfm_summary(orders, "2026-10-31", freq_multiplier=7)
    model = fit_clv(summary, time_unit_days=7)
    for name in ("r", "alpha", "a", "b", "p", "q", "gamma"):
        assert model.params_[name] == pytest.approx(getattr(truth, name), rel=0.10), name


def test_days_or_weeks_give_the_same_clv(simulated):
    _, orders = simulated
    small = orders.filter(orders.customer_id < "C010000")
    in_days = rfm_summary(small, "2026-10-31")
    in_weeks = rfm_summary(small, "2026-10-31", freq_multiplier=7)
    by_day = fit_clv(in_days, time_unit_days=1)
    by_week = fit_clv(in_weeks, time_unit_days=7)
    assert by_day.params_["alpha"] == pytest.approx(7 * by_week.params_["alpha"], rel=1e-3)
    clv_days = by_day.clv(in_days, months=12, monthly_discount_rate=0.01)
    clv_weeks = by_week.clv(in_weeks, months=12, monthly_discount_rate=0.01)
    np.testing.assert_allclose(clv_days, clv_weeks, rtol=2e-3)
    purchases = by_day.expected_purchases(in_days, 90).sum()
    assert purchases == pytest.approx(by_week.expected_purchases(in_weeks, 90).sum(), rel=1e-3)


def test_clv_is_discounted_monthly_value(cdnow_model, cdnow_calibration):
    one = cdnow_calibration.iloc[:50]
    undiscounted = cdnow_model.clv(one, months=6, monthly_discount_rate=0.0)
    expected = cdnow_model.expected_purchases(one, 6 * 30.4375) * cdnow_model.expected_spend(one)
    np.testing.assert_allclose(undiscounted, expected, rtol=1e-9)
    assert (cdnow_model.clv(one, 6, 0.05) < undiscounted + 1e-12).all()
    predictions = cdnow_model.predict(one, months=6)
    assert list(predictions.columns) == ["p_alive", "expected_purchases", "expected_spend", "clv"]
    assert predictions.p_alive.between(0, 1).all()


def test_clv_equals_lifetimes_predictions_discounted_month_by_month(cdnow_model,
                                                                   cdnow_calibration):
    bgf, ggf, weeks = cdnow_model.bgf_, cdnow_model.ggf_, 30.4375 / 7
    s = cdnow_calibration
    spend = ggf.conditional_expected_average_profit(s.frequency, s.monetary_value).to_numpy()
    expected, previous = np.zeros(len(s)), np.zeros(len(s))
    for m in range(1, 13):
        cumulative = bgf.conditional_expected_number_of_purchases_up_to_time(
            m * weeks, s.frequency, s.recency, s["T"]).to_numpy()
        expected += spend * (cumulative - previous) / 1.02**m
        previous = cumulative
    np.testing.assert_allclose(cdnow_model.clv(s, 12, 0.02), expected, rtol=1e-10)


def test_a_shop_where_almost_nobody_drops_out_still_converges():
    truth = ShopParameters(r=0.9, alpha=10.0, a=0.02, b=60.0, late_churn=0.0)
    shop = simulate_shop(customers=20_000, seed=2, parameters=truth)
    summary = rfm_summary(ibis.memtable(shop.orders), "2026-10-31", freq_multiplier=7)
    model = fit_clv(summary, time_unit_days=7)
    assert np.isfinite(model.params_.to_numpy()).all()
    assert model.params_["r"] == pytest.approx(0.9, rel=0.15)


def test_bootstrap_intervals_cover_the_estimate(cdnow_model, cdnow_calibration):
    segments = pd.Series(np.where(cdnow_calibration.frequency > 0, "repeat", "one-time"),
                         index=cdnow_calibration.index)
    result = bootstrap(cdnow_calibration, cdnow_model, months=12, draws=15, segments=segments)
    total = result["total"].iloc[0]
    assert total.low < total.estimate < total.high
    assert set(result["clv"].index) == {"repeat", "one-time"}
    assert (result["clv"].low < result["clv"].high).all()
    assert result["draws"].draws.iloc[0] >= 12


@pytest.fixture(scope="module")
def cdnow_refit_intervals(cdnow_model, cdnow_calibration):
    return bootstrap(cdnow_calibration, cdnow_model, months=12, draws=80, method="refit")


@pytest.mark.parametrize("shortcut", [{"method": "normal"},
                                      {"method": "refit", "sample_size": 800},
                                      {"method": "normal", "sample_size": 800}])
def test_large_data_shortcuts_give_the_bootstraps_intervals(cdnow_model, cdnow_calibration,
                                                            cdnow_refit_intervals, shortcut):
    """Drawing parameters from the fit's normal, and predicting for a sample of customers,
    reproduce the refit bootstrap's intervals on CDNOW (within 4% of the estimate)."""
    got = bootstrap(cdnow_calibration, cdnow_model, months=12, draws=80, seed=1, **shortcut)
    assert got["draws"].method.iloc[0] == shortcut["method"]
    for table in ("total", "clv"):
        want, have = cdnow_refit_intervals[table], got[table]
        estimate = want.estimate.to_numpy()
        assert have.estimate.to_numpy() == pytest.approx(estimate, rel=1e-12)
        for bound in ("low", "high"):
            assert np.abs(have[bound].to_numpy() - want[bound].to_numpy()) < 0.04 * estimate


def test_auto_bootstrap_switches_to_normal_draws_above_the_refit_limit(cdnow_model,
                                                                        cdnow_calibration):
    result = bootstrap(cdnow_calibration, cdnow_model, draws=3, refit_limit=1000)
    assert result["draws"].method.iloc[0] == "normal"
    with pytest.raises(ValueError, match="method must be"):
        bootstrap(cdnow_calibration, cdnow_model, draws=3, method="jackknife")


@pytest.mark.parametrize(("orders", "message"), [
    (pd.DataFrame({"customer_id": ["a", "b", "c"], "amount": [1.0, 2.0, 3.0],
                   "order_ts": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])}),
     "no customer has a repeat purchase"),
    (pd.DataFrame({"customer_id": ["a", "a"], "amount": [1.0, 2.0],
                   "order_ts": pd.to_datetime(["2024-01-01", "2024-02-01"])}),
     "too few to fit"),
])
def test_unfittable_summaries_say_why(orders, message):
    summary = rfm_summary(ibis.memtable(orders), "2024-06-30")
    with pytest.raises(CLVFitError, match=message):
        fit_clv(summary)


def test_all_orders_on_one_day():
    orders = pd.DataFrame({"customer_id": ["a", "a", "b"], "amount": [1.0, 2.0, 3.0],
                           "order_ts": pd.to_datetime(["2024-01-01 09:00:00",
                                                       "2024-01-01 17:00:00",
                                                       "2024-01-01 12:00:00"])})
    summary = rfm_summary(ibis.memtable(orders), "2024-01-01")
    with pytest.raises(CLVFitError, match="no customer has a repeat purchase"):
        fit_clv(summary)


def test_zero_spend_is_left_out_of_gamma_gamma_with_a_note(cdnow_calibration):
    summary = cdnow_calibration.copy()
    repeaters = summary.index[summary.frequency > 0][:5]
    summary.loc[repeaters, "monetary_value"] = 0.0
    model = fit_clv(summary, time_unit_days=7)
    assert model.spend_check_["customers"] == 941
    assert any("zero or negative mean spend" in note for note in model.notes_)


def test_correlated_spend_and_frequency_is_flagged(cdnow_calibration):
    summary = cdnow_calibration.copy()
    summary["monetary_value"] = np.where(summary.frequency > 0, 10 + 5 * summary.frequency, 0)
    with pytest.warns(UserWarning, match="correlated"):
        model = fit_clv(summary, time_unit_days=7)
    assert not model.spend_check_["ok"]


def test_tracking_counts_repeat_days_by_week_and_expects_from_each_first_day(cdnow_model):
    orders = ibis.memtable(pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "b", "c", "c"],
        "order_ts": pd.to_datetime([
            "2024-01-01 09:00", "2024-01-03 10:00", "2024-01-10 11:00",  # a: 2 repeat days
            "2024-01-02 08:00", "2024-01-02 18:00",  # b: same day twice is one purchase day
            "2024-01-20 12:00",
            "2024-01-15 09:00", "2024-01-16 09:00"]),  # c: first after calibration: left out
    }))
    track = tracking(orders, cdnow_model, "2024-01-14", "2024-01-21")
    assert track.week_start.dt.strftime("%m-%d").tolist() == ["01-01", "01-08", "01-15"]
    assert track.actual.tolist() == [1.0, 1.0, 1.0]
    assert track.actual_cumulative.tolist() == [1.0, 2.0, 3.0]
    assert track.holdout.tolist() == [False, False, True]
    # the expectation: one customer born on Jan 1 and one on Jan 2, ages in weeks at each
    # week's end (the last week ends with the observation day)
    bgf = cdnow_model.bgf_
    ends = [7, 14, 21]  # days after Jan 1 (Jan 22 is the day after the observation end)
    expected = [float(bgf.expected_number_of_purchases_up_to_time(d / 7)
                      + bgf.expected_number_of_purchases_up_to_time((d - 1) / 7)) for d in ends]
    np.testing.assert_allclose(track.expected_cumulative, expected, rtol=1e-12)
    np.testing.assert_allclose(track.expected.sum(), expected[-1], rtol=1e-12)


def test_compared_models_reach_their_published_cdnow_fits(cdnow_calibration):
    table = compare_models(cdnow_calibration).set_index("model")
    assert list(table.index) == ["BG/NBD", "MBG/NBD", "Pareto/NBD"]
    published = {
        "BG/NBD": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},  # Fader et al. 2005
        "MBG/NBD": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},  # Batislam et al.
        "Pareto/NBD": {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67},  # Fader 2005
    }
    for model, values in published.items():
        for name, value in values.items():
            assert table.parameters[model][name] == pytest.approx(value, rel=5e-3), (model, name)
    assert (table.note == "").all()
    assert (table.customers == len(cdnow_calibration)).all()
    assert (table.actual_total == cdnow_calibration.frequency_holdout.sum()).all()


def test_the_bgnbd_row_scores_like_holdout_errors(cdnow_calibration, cdnow_model):
    row = compare_models(cdnow_calibration).set_index("model").loc["BG/NBD"]
    errors = holdout_errors(cdnow_model, cdnow_calibration)
    for key in ("mae", "correlation", "expected_total", "aggregate_error"):
        assert row[key] == pytest.approx(errors[key], rel=1e-5), key


def test_model_comparison_samples_large_summaries_reproducibly(cdnow_calibration):
    first = compare_models(cdnow_calibration, sample_size=800, seed=3)
    again = compare_models(cdnow_calibration, sample_size=800, seed=3)
    assert (first.customers == 800).all()
    pd.testing.assert_frame_equal(first.drop(columns="parameters"),
                                  again.drop(columns="parameters"))
    assert first.mae.tolist() != compare_models(cdnow_calibration).mae.tolist()


def test_model_comparison_needs_a_holdout(cdnow_model):
    summary = rfm_summary(ibis.memtable(cdnow_sample()), "1998-06-30", freq_multiplier=7)
    with pytest.raises(ValueError, match="calibration_end"):
        compare_models(summary)


@pytest.mark.parametrize("predict", ["clv", "predict"])
def test_a_horizon_shorter_than_a_month_is_refused(cdnow_model, cdnow_calibration, predict):
    with pytest.raises(ValueError, match="months must be at least 1"):
        getattr(cdnow_model, predict)(cdnow_calibration, months=0)


@pytest.mark.parametrize("name", ["MBG/NBD", "Pareto/NBD"])
def test_drop_out_models_equal_lifetimes_and_let_one_time_buyers_drop_out(cdnow_calibration,
                                                                          name):
    from lifetimes import ModifiedBetaGeoFitter, ParetoNBDFitter

    model = fit_clv(cdnow_calibration, time_unit_days=7, purchase_model=name)
    s = cdnow_calibration
    plain = (ModifiedBetaGeoFitter() if name == "MBG/NBD" else ParetoNBDFitter())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain.fit(s.frequency, s.recency, s["T"],
                  initial_params=None if name == "MBG/NBD" else np.ones(4))
    for key, value in plain.params_.items():
        assert model.params_[key] == pytest.approx(value, rel=2e-3), key
    # predictions are lifetimes' formulas, evaluated once per distinct customer history
    weeks = 52
    expected = plain.conditional_expected_number_of_purchases_up_to_time(
        weeks, s.frequency, s.recency, s["T"])
    np.testing.assert_allclose(model.expected_purchases(s, weeks * 7), expected, rtol=5e-3)
    alive = model.p_alive(s)
    one_timers = alive[s.frequency == 0]
    assert one_timers.max() < 1 and one_timers.min() < 0.5  # BG/NBD would say 1 for all
    assert model.standard_errors_.notna().all()
    assert model.purchase_model_ == name


def test_the_drop_out_model_that_predicts_best_is_chosen():
    from ppxlib.clv import choose_purchase_model

    def table(bg, mbg, pareto):
        return pd.DataFrame({"model": ["BG/NBD", "MBG/NBD", "Pareto/NBD"],
                             "mae": [bg, mbg, pareto]})

    assert choose_purchase_model(table(0.40, 0.52, 0.519))["model"] == "MBG/NBD"  # < 1 % better
    assert choose_purchase_model(table(0.40, 0.52, 0.50))["model"] == "Pareto/NBD"
    assert choose_purchase_model(table(0.40, np.nan, 0.60))["model"] == "Pareto/NBD"
    fallback = choose_purchase_model(table(0.40, np.nan, np.nan))
    assert fallback["model"] == "BG/NBD" and "still active" in fallback["reason"]
    assert "26 held-back weeks" in choose_purchase_model(table(0.4, 0.5, 0.6), 26)["reason"]


def test_sample_churn_model_ranks_lost_customers_below_champions():
    """On the sample report's month, customers in the lost segments are less likely alive."""
    import ppxlib
    from ppxlib import lifecycle, rfm
    from ppxlib.pointintime import as_at, month_end

    from conftest import AS_OF, SAMPLE

    clean = as_at(ppxlib.open(SAMPLE).validate(as_of=AS_OF), month_end("2026-10"))
    last_day = pd.Timestamp("2026-10-31")
    summary = rfm_summary(clean.orders, last_day, freq_multiplier=7)
    calibration = rfm_summary(clean.orders, last_day,
                              calibration_end=last_day - pd.Timedelta(weeks=26),
                              freq_multiplier=7)
    from ppxlib.clv import choose_purchase_model

    choice = choose_purchase_model(compare_models(calibration), 26)
    assert choice["model"] in ("MBG/NBD", "Pareto/NBD")
    model = fit_clv(summary, time_unit_days=7, purchase_model=choice["model"])
    found = lifecycle.thresholds(clean.orders)
    scores = rfm.rfm_scores(clean.orders, month_end("2026-10"),
                            sleeping_days=found["sleeping_days"], lost_days=found["lost_days"])
    mean = model.p_alive(summary).groupby(scores.segment.reindex(summary.index)).mean()
    assert max(mean["Lost"], mean["Hibernating"]) < min(mean["Champions"], mean["Loyal"])


def test_fitted_drop_out_models_can_be_shared_between_notebooks(cdnow_calibration):
    import pickle

    model = fit_clv(cdnow_calibration, time_unit_days=7, purchase_model="MBG/NBD")
    copy = pickle.loads(pickle.dumps(model))
    pd.testing.assert_series_equal(copy.p_alive(cdnow_calibration),
                                   model.p_alive(cdnow_calibration))
