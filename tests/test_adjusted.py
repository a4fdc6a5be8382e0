"""Adjusted comparisons recover the simulator's stated truth, where raw ones are fooled."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import ppxlib
from ppxlib import adjusted
from ppxlib.simulate import ShopParameters, simulate_shop

from conftest import AS_OF, SAMPLE

END = dt.datetime(2026, 11, 1)


def _table(shop):
    clean = ppxlib.open(shop.tables()).validate(as_of=AS_OF)
    return adjusted.customer_table(clean.orders, clean.returns, clean.tickets, clean.surveys,
                                   END)


@pytest.fixture(scope="module")
def confounded():
    """100k customers, late deliveries in east whose customers come back less (about 20 s)."""
    shop = simulate_shop(customers=100_000, seed=11, parameters=ShopParameters.confounded())
    return shop.parameters, adjusted.fit_adjusted(_table(shop))


@pytest.fixture(scope="module")
def unconfounded():
    clean = ppxlib.open(SAMPLE).validate(as_of=AS_OF)
    frame = adjusted.customer_table(clean.orders, clean.returns, clean.tickets, clean.surveys,
                                    END)
    return frame, adjusted.fit_adjusted(frame)


def _row(table, factor, level):
    return table[(table.factor == factor) & (table.level == level)].iloc[0]


def test_raw_late_difference_is_biased_but_the_adjusted_ones_cover_the_truth(confounded):
    truth, result = confounded
    d = _row(result.differences, "delivery", "late")
    true_difference = truth.adjusted_repurchase_difference(90)
    # east's customers come back less anyway and get most late deliveries: the raw gap
    # is wider than the truth, beyond its own interval
    assert not d.unadjusted_low <= true_difference <= d.unadjusted_high
    assert d.unadjusted_high < true_difference
    assert d.low <= true_difference <= d.high
    hr = _row(result.hazard_ratios, "delivery", "late")
    assert hr.low <= truth.adjusted_late_hazard_ratio() <= hr.high
    assert hr.proportional  # the simulated effect is proportional: the check must not fail it
    assert "30% more slowly" in hr.sentence


def test_a_return_adjusted_for_the_late_delivery_behind_it_changes_nothing(confounded):
    _truth, result = confounded
    hr = _row(result.hazard_ratios, "returned", "returned")
    assert hr.low <= 1.0 <= hr.high  # returns have no effect in the simulator
    assert "no clear difference" in hr.sentence


def test_unconfounded_sample_adjusted_and_raw_agree(unconfounded):
    _frame, result = unconfounded
    d = _row(result.differences, "delivery", "late")
    assert d.unadjusted_low <= d.difference <= d.unadjusted_high
    assert d.low <= d.unadjusted <= d.high
    assert d.high < 0  # and both see the stated drop-out after a late delivery


def test_a_ratio_that_changes_with_time_is_not_shown_as_one_number():
    # the default shop's late delivery removes a quarter of customers at once: their hazard
    # ratio against on-time customers falls from 0.75 towards 0.4 over the years
    result = adjusted.fit_adjusted(_table(simulate_shop(customers=20_000, seed=11)))
    hr = _row(result.hazard_ratios, "delivery", "late")
    assert not hr.proportional and hr.ph_p < 0.01
    assert "changes with time" in hr.sentence and "%" not in hr.sentence


def test_stratified_curves_show_the_late_customers_coming_back_less(unconfounded):
    frame, _result = unconfounded
    curves = adjusted.stratified_curves(frame, "delivery", max_days=180)
    at = curves[curves.days == 180].set_index("group").reordered_share
    assert at["late"] < at["on time"]
    for _group, curve in curves.groupby("group"):
        assert curve.reordered_share.is_monotonic_increasing
        assert curve.reordered_share.iloc[0] == 0


def test_logit_fit_equals_statsmodels():
    rng = np.random.default_rng(3)
    x = np.column_stack([np.ones(200), rng.normal(size=200), rng.integers(0, 2, 200)])
    trials = rng.integers(1, 6, 200).astype(float)
    successes = rng.binomial(trials.astype(int), 1 / (1 + np.exp(-(x @ [-0.3, 0.8, 0.5]))))
    beta, cov = adjusted.logit_fit(x, successes.astype(float), trials)
    glm = sm.GLM(np.column_stack([successes, trials - successes]), x,
                 family=sm.families.Binomial()).fit()
    np.testing.assert_allclose(beta, glm.params, rtol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), glm.bse, rtol=1e-6)


def test_standardised_difference_by_hand():
    # one binary factor, no covariates: the standardised shares are the two groups' shares
    frame = _tiny(late_back=(30, 100), on_time_back=(50, 100))
    result = adjusted.fit_adjusted(frame, factors=["delivery"])
    d = _row(result.differences, "delivery", "late")
    assert d.rate == pytest.approx(0.3, abs=1e-9)
    assert d.reference_rate == pytest.approx(0.5, abs=1e-9)
    assert d.difference == pytest.approx(-0.2, abs=1e-9)
    # the delta-method interval of a difference of two independent shares
    se = np.sqrt(0.3 * 0.7 / 100 + 0.5 * 0.5 / 100)
    assert d.se == pytest.approx(se, rel=1e-6)
    assert d.relative == pytest.approx(-0.4, abs=1e-9)


def _tiny(late_back, on_time_back, ticket=None):
    """Customers followed 200 days, ``(reordered within 90 days, customers)`` per delivery."""
    rows = []
    for level, (back, n) in (("late", late_back), ("on time", on_time_back)):
        for i in range(n):
            rows.append({"delivery": level, "days": 10.0 + i if i < back else 200.0,
                         "reordered": i < back})
    frame = pd.DataFrame(rows)
    frame.index = [f"c{i}" for i in range(len(frame))]
    frame["returned"] = "kept"
    frame["ticket"] = ticket if ticket is not None else "none"
    frame["first_csat"] = "no answer"
    frame["nps_group"] = "no answer"
    frame["amount"] = 50.0
    frame["channel"] = "web"
    frame["quarter"] = "2025-Q1"
    frame["first_ts"] = pd.Timestamp("2025-01-15")
    frame["followed_days"] = 200.0
    return frame


def test_bad_input_is_left_out_with_a_sentence_never_a_traceback():
    frame = _tiny(late_back=(40, 100), on_time_back=(60, 100))
    result = adjusted.fit_adjusted(frame)
    notes = " ".join(result.notes)
    # one-level factors and single-valued covariates are left out, and said so
    assert "returned is left out: every first order has the same value ('kept')" in notes
    assert "Not adjusted for channel" in notes
    assert "Not adjusted for the first order's value" in notes
    assert set(result.hazard_ratios.factor) == {"delivery"}
    # an open ticket that never comes back: separated, no infinite ratio shown as a number
    frame = _tiny(late_back=(40, 100), on_time_back=(60, 100))
    frame.iloc[:10, frame.columns.get_loc("ticket")] = "open"
    frame.iloc[:10, frame.columns.get_loc("reordered")] = False
    frame.iloc[:10, frame.columns.get_loc("days")] = 200.0
    result = adjusted.fit_adjusted(frame)
    assert any("none of these 10 customers ordered again" in n for n in result.notes)
    assert np.isfinite(result.hazard_ratios.hazard_ratio.dropna()).all()
    assert not (result.differences.level == "open").any() or not _row(
        result.differences, "ticket", "open").estimated


def test_fewer_than_fifty_reorders_make_no_model():
    frame = _tiny(late_back=(20, 100), on_time_back=(20, 100))
    result = adjusted.fit_adjusted(frame)
    assert result.hazard_ratios.empty and result.differences.empty
    assert any("at least 50 are needed" in n for n in result.notes)


def test_hazard_sentences():
    s = adjusted._hazard_sentence
    assert s("delivery", "late", 0.7, 0.6, 0.8) == (
        "Customers with a late first delivery reorder about 30% more slowly than comparable "
        "customers delivered on time.")
    assert "no clear difference" in s("delivery", "late", 0.9, 0.7, 1.1)
    assert "2.5 times as fast" in s("ticket", "resolved fast", 2.5, 2.0, 3.0)
    assert "20% faster" in s("ticket", "resolved fast", 1.2, 1.1, 1.3)


def test_nothing_after_the_end_is_used():
    end = dt.datetime(2026, 3, 1)
    orders = pd.DataFrame({
        "order_id": [1, 2, 3, 4], "customer_id": ["a", "b", "c", "a"],
        "order_ts": pd.to_datetime(["2026-02-20", "2026-02-26", "2026-02-10", "2026-03-05"]),
        "amount": [10.0, 20.0, 30.0, 40.0],
        "promised_ts": pd.to_datetime(["2026-02-25", "2026-03-03", "2026-02-13", "2026-03-08"]),
        # a and b: delivered after the end -> not yet delivered, unknown; c: on time
        "delivered_ts": pd.to_datetime(["2026-03-02", "2026-03-02", "2026-02-12", "2026-03-07"]),
    })
    returns = pd.DataFrame({"order_id": [3], "return_ts": pd.to_datetime(["2026-03-04"]),
                            "amount": [30.0]})
    tickets = pd.DataFrame({"ticket_id": ["t1"], "customer_id": ["c"], "order_id": [3],
                            "opened_ts": pd.to_datetime(["2026-02-14"]),
                            "resolved_ts": pd.to_datetime(["2026-03-10"])})
    surveys = pd.DataFrame({"response_id": [1], "customer_id": ["c"], "order_id": [3],
                            "response_ts": pd.to_datetime(["2026-03-02"]), "metric": ["csat"],
                            "score": [1.0], "scale_min": [1.0], "scale_max": [5.0]})
    o, r, t, s = (ibis.memtable(f) for f in (orders, returns, tickets, surveys))
    frame = adjusted.customer_table(o, r, t, s, end)
    assert frame.delivery.to_dict() == {"a": "unknown", "b": "unknown", "c": "on time"}
    assert frame.returned["c"] == "kept"  # returned after the end
    assert frame.ticket["c"] == "open"  # resolved after the end
    assert frame.first_csat["c"] == "no answer"  # answered after the end
    assert not frame.reordered["a"]  # the second order is after the end
    assert frame.followed_days["c"] == pytest.approx(19.0)


def test_recent_customers_count_only_once_followed_for_the_whole_horizon():
    # 50 late customers acquired 10 days before the end, all back on day 5: counting them
    # because they reordered (and not their recent peers who did not yet) would flatter
    frame = _tiny(late_back=(30, 100), on_time_back=(50, 100))
    recent = frame[frame.delivery == "late"].iloc[:50].copy()
    recent.index = [f"r{i}" for i in range(50)]
    recent = recent.assign(days=5.0, reordered=True, followed_days=10.0)
    result = adjusted.fit_adjusted(pd.concat([frame, recent]), factors=["delivery"])
    d = _row(result.differences, "delivery", "late")
    assert d.followed == 100 and d.rate == pytest.approx(0.3, abs=1e-9)


def test_a_missing_reference_level_is_replaced_by_the_most_common_and_said():
    frame = _tiny(late_back=(40, 100), on_time_back=(60, 150))
    frame["delivery"] = frame.delivery.replace({"on time": "unknown"})
    result = adjusted.fit_adjusted(frame, factors=["delivery"])
    assert any("compared with the most common, 'unknown'" in n for n in result.notes)
    assert _row(result.differences, "delivery", "late").reference == "unknown"


def test_big_shops_are_fitted_on_a_stated_random_share():
    frame = _tiny(late_back=(60, 150), on_time_back=(90, 150))
    result = adjusted.fit_adjusted(frame, factors=["delivery"], max_cox_customers=200,
                                   max_followed_customers=250)
    notes = " ".join(result.notes)
    assert "fitted on a random 200 of the 300 customers" in notes
    assert "compared on a random 250 of the 300 customers" in notes
    assert _row(result.differences, "delivery", "late").followed < 150
    assert result.customers == 300  # the counts shown are the shop's, not the sample's


def test_a_first_order_experience_already_computed_gives_the_same_table():
    from ppxlib.experience import first_order_experience

    shop = simulate_shop(customers=1500, seed=4, start="2024-01-01", end="2025-07-01")
    clean = ppxlib.open(shop.tables()).validate(as_of=dt.datetime(2025, 7, 1))
    end = dt.datetime(2025, 7, 1)
    tables = (clean.orders, clean.returns, clean.tickets, clean.surveys)
    first = first_order_experience(*tables, observation_end=end)
    pd.testing.assert_frame_equal(adjusted.customer_table(*tables, end, experience=first),
                                  adjusted.customer_table(*tables, end))


def test_text_columns_share_one_object_per_label():
    # quarter is built row by row from the first order's date; shared, a customer costs a
    # pointer per column instead of a string (a GB at five million customers)
    frame = _table(simulate_shop(customers=2_000, seed=5))
    for column in ("quarter", *(c for c in adjusted.COVARIATES if c in frame)):
        assert len({id(v) for v in frame[column]}) == frame[column].nunique(), column
    assert frame.quarter.str.fullmatch(r"\d{4}-Q[1-4]").all()
