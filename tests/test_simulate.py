"""The simulator produces data whose known truth the workbook's models can recover."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data

import ppxlib
from ppxlib.simulate import INJECTED_DEFECTS, ShopParameters, inject_defects, simulate_shop

from conftest import AS_OF


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(customers=20_000, seed=5)


def test_same_seed_same_tables_other_seed_other_tables():
    a, b = simulate_shop(customers=500, seed=1), simulate_shop(customers=500, seed=1)
    for name in a.tables():
        pd.testing.assert_frame_equal(a.tables()[name], b.tables()[name])
    c = simulate_shop(customers=500, seed=2)
    assert not a.orders.amount.equals(c.orders.amount)


def test_tables_meet_the_contract_without_exclusions(shop):
    clean = ppxlib.open(shop.tables()).validate(as_of=AS_OF)
    assert clean.quality.rows_excluded == 0
    assert all(clean.quality.tables.present)


def test_every_event_lies_inside_the_window(shop):
    end = pd.Timestamp(shop.end)
    assert shop.orders.order_ts.min() >= pd.Timestamp(shop.start)
    for frame, col in [(shop.orders, "order_ts"), (shop.orders, "delivered_ts"),
                       (shop.returns, "return_ts"), (shop.surveys, "response_ts"),
                       (shop.tickets, "opened_ts"), (shop.tickets, "resolved_ts")]:
        assert frame[col].max() < end, col
    assert shop.orders.customer_id.nunique() == 20_000


def test_late_share_is_as_stated(shop):
    delivered = shop.orders.dropna(subset=["delivered_ts"])
    late = (delivered.delivered_ts > delivered.promised_ts).mean()
    assert late == pytest.approx(shop.parameters.late_share, abs=0.01)


def test_late_first_delivery_lowers_repurchase(shop):
    o = shop.orders
    first = o.drop_duplicates("customer_id").set_index("customer_id")
    late = first.delivered_ts > first.promised_ts
    counts = o.groupby("customer_id").size()
    returned = counts.reindex(first.index) > 1
    assert returned[~late].mean() - returned[late].mean() > 0.05


def test_experience_moves_survey_scores(shop):
    o = shop.orders.assign(late=shop.orders.delivered_ts > shop.orders.promised_ts)
    csat = shop.surveys[shop.surveys.metric == "csat"].merge(o[["order_id", "late"]])
    means = csat.groupby("late").score.mean()
    assert means[False] - means[True] > 0.5
    assert shop.tickets.resolved_ts.isna().any() and shop.tickets.resolved_ts.notna().any()


def test_bgnbd_and_gamma_gamma_parameters_are_recovered():
    """100k customers, pure BG/NBD (no late-delivery drop-out): every parameter within 10%."""
    truth = ShopParameters(late_churn=0.0)
    shop = simulate_shop(customers=100_000, seed=11, parameters=truth)
    summary = summary_data_from_transaction_data(
        shop.orders, "customer_id", "order_ts", "amount",
        observation_period_end=pd.Timestamp(shop.end), freq="D", freq_multiplier=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = BetaGeoFitter().fit(summary.frequency, summary.recency, summary["T"])
        repeat = summary[summary.frequency > 0]
        gg = GammaGammaFitter().fit(repeat.frequency, repeat.monetary_value)
    for name in ("r", "alpha", "a", "b"):
        assert bg.params_[name] == pytest.approx(getattr(truth, name), rel=0.10), name
    assert gg.params_["p"] == pytest.approx(truth.p, rel=0.10)
    assert gg.params_["q"] == pytest.approx(truth.q, rel=0.10)
    assert gg.params_["v"] == pytest.approx(truth.gamma, rel=0.10)


def test_injected_defects_are_exactly_what_validation_excludes():
    shop = simulate_shop(customers=1_000, seed=3)
    clean = ppxlib.open(inject_defects(shop, seed=3)).validate(as_of=AS_OF)
    found = {(r.table, r.rule): r.rows for r in clean.quality.exclusions.itertuples()}
    assert found == INJECTED_DEFECTS
    # Copies and bad rows go, and so do the two genuine orders whose ids were reused.
    assert clean.orders.count().execute() == len(shop.orders) - 2


def test_survey_truth_is_what_the_generator_draws(shop):
    """The CSAT and NPS truths of ShopParameters match 20,000 simulated customers."""
    truth = shop.parameters
    o = shop.orders.assign(late=shop.orders.delivered_ts > shop.orders.promised_ts)
    answers = shop.surveys.merge(o[["order_id", "late"]], on="order_id")
    csat = answers[answers.metric == "csat"]
    satisfied = (csat.score >= 4).groupby(csat.late).agg(["mean", "size"])
    for late in (True, False):
        share, n = satisfied.loc[late]
        expected = truth.csat_satisfied_share(late=late)
        # within three standard errors (about 0.011 late, 0.004 on time)
        assert share == pytest.approx(expected, abs=3 * (expected * (1 - expected) / n) ** 0.5)
    assert truth.csat_late_difference() == pytest.approx(-0.40)
    nps = answers[answers.metric == "nps"]
    points = nps.groupby("late").score.apply(
        lambda s: 100 * ((s >= 9).mean() - (s <= 6).mean()))
    assert points[True] - points[False] == pytest.approx(truth.nps_late_difference(), abs=5)


# ------------------------------------------------------------------ stated confounders


def test_default_parameters_still_make_the_committed_sample_byte_for_byte(tmp_path):
    # the confounders are off by default and draw no random numbers: the sample (and every
    # seeded shop the tests use) is what it was before they existed, truth file included
    from ppxlib.cli import main

    from conftest import SAMPLE

    assert main(["sample", "--customers", "5000", "--seed", "42", "--defects", "--out",
                 str(tmp_path)]) in (0, None)
    for path in sorted(SAMPLE.glob("*.csv")) + [SAMPLE / "truth.json"]:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.fixture(scope="module")
def confounded():
    return simulate_shop(customers=60_000, seed=21, parameters=ShopParameters.confounded())


def _first_orders(shop):
    first = shop.orders.drop_duplicates("customer_id").set_index("customer_id")
    second = shop.orders[shop.orders.customer_id.duplicated()].drop_duplicates("customer_id")
    days = (second.set_index("customer_id").order_ts.reindex(first.index)
            - first.order_ts).dt.total_seconds() / 86_400
    followed = (pd.Timestamp(shop.end) - first.order_ts).dt.days >= 90
    return first.assign(late=first.delivered_ts > first.promised_ts, within=days <= 90,
                        followed=followed)


def test_confounders_do_what_they_state(confounded):
    first = _first_orders(confounded)
    by_region = first.groupby("region").agg(late=("late", "mean"), back=("within", "mean"))
    # late deliveries concentrate in east, and east customers come back less
    assert by_region.late.idxmax() == "east"
    assert by_region.back.idxmin() == "east"
    orders = confounded.orders
    returned = orders.order_id.isin(confounded.returns.order_id)
    rate = returned.groupby(orders.category).mean()
    spend = orders.groupby("category").amount.mean()
    assert rate.idxmax() == "electronics" and rate["electronics"] > 2 * rate.drop(
        "electronics").max()
    assert spend["electronics"] == pytest.approx(2.5 * spend.drop("electronics").mean(),
                                                 rel=0.05)


def test_the_stated_adjusted_difference_is_what_the_shop_shows(confounded):
    # within each region late and on-time customers are alike, so the average over regions
    # of the within-region differences is the adjusted difference the closed form states
    first = _first_orders(confounded)
    first = first[first.followed & first.delivered_ts.notna()]
    rates = first.groupby(["region", "late"]).within.agg(["mean", "size"])
    diffs = rates["mean"].xs(True, level="late") - rates["mean"].xs(False, level="late")
    var = (rates["mean"] * (1 - rates["mean"]) / rates["size"]).groupby("region").sum()
    se = float(np.sqrt(var.sum()) / len(diffs))
    truth = confounded.parameters.adjusted_repurchase_difference(90)
    assert diffs.mean() == pytest.approx(truth, abs=3 * se)
    # and the raw difference is not it: east's customers pull it down
    raw = first[first.late].within.mean() - first[~first.late].within.mean()
    assert raw < truth - 3 * se


def test_truth_states_confounders_only_when_they_are_on(confounded):
    assert "region_repeat_factor" not in simulate_shop(customers=50, seed=1).truth()[
        "parameters"]
    stated = confounded.truth()["parameters"]
    assert stated["region_repeat_factor"] == {"east": 0.5}
    assert stated["late_rate_factor"] == 0.7


def test_true_hazard_ratio_is_one_number_only_for_a_proportional_effect():
    assert ShopParameters.confounded().adjusted_late_hazard_ratio() == 0.7
    assert np.isnan(ShopParameters().adjusted_late_hazard_ratio())  # late_churn: time-varying
    with pytest.raises(ValueError, match="late_rate_factor"):
        simulate_shop(customers=50, seed=1, parameters=ShopParameters(late_rate_factor=1.5))
