"""Kaplan-Meier curves: equal to lifelines', by hand, and read at chosen times."""

from __future__ import annotations

import numpy as np
import pytest

from ppxlib.survival import at_times, kaplan_meier


@pytest.mark.parametrize("confidence", [0.95, 0.8])
def test_the_table_equals_lifelines_fit(confidence):
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(11)
    durations = np.ceil(rng.weibull(0.8, 5000) * 20)  # whole units: many ties
    observed = rng.random(5000) < 0.5
    kmf = KaplanMeierFitter(alpha=1 - confidence).fit(durations, event_observed=observed)
    km = kaplan_meier(durations, observed, confidence)
    np.testing.assert_array_equal(km.time, kmf.survival_function_.index)
    np.testing.assert_allclose(km.survival, kmf.survival_function_.iloc[:, 0], rtol=1e-12)
    bounds = kmf.confidence_interval_survival_function_
    np.testing.assert_allclose(km.low, bounds.iloc[:, 0], rtol=1e-12)
    np.testing.assert_allclose(km.high, bounds.iloc[:, 1], rtol=1e-12)
    np.testing.assert_array_equal(km.at_risk, kmf.event_table.at_risk)


def test_kaplan_meier_by_hand():
    # 4 customers: reorders at days 1 and 3, censored at 2 and 4.
    km = kaplan_meier(np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, False, True, False]))
    assert km.time.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert km.at_risk.tolist() == [4, 4, 3, 2, 1]
    # S = 1 * (1 - 1/4) * (1 - 1/2): the customer censored at day 2 is not counted at day 3
    assert km.survival.tolist() == pytest.approx([1.0, 0.75, 0.75, 0.375, 0.375])
    # Greenwood variance sum at day 3: 1/(4*3) + 1/(2*1)
    z, log_s = 1.959963984540054, np.log(0.375)
    low = np.exp(-np.exp(np.log(-log_s) - z * np.sqrt(1 / 12 + 1 / 2) / log_s))
    assert km.low[3] == pytest.approx(low)
    assert (km.low <= km.survival).all() and (km.survival <= km.high).all()
    with pytest.raises(ValueError, match="not negative"):
        kaplan_meier(np.array([-1.0]), np.array([True]))


def test_at_times_reads_the_step_in_force_and_who_is_still_followed():
    km = kaplan_meier(np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, False, True, False]))
    read = at_times(km, np.array([0.0, 0.5, 1.0, 2.5, 3.0, 10.0]))
    assert read.time.tolist() == [0.0, 0.5, 1.0, 2.5, 3.0, 10.0]
    assert read.survival.tolist() == pytest.approx([1.0, 1.0, 0.75, 0.75, 0.375, 0.375])
    assert read.at_risk.tolist() == [4, 4, 4, 2, 2, 0]
    assert read.low.tolist() == km.low.iloc[[0, 0, 1, 2, 3, 4]].tolist()


def test_no_durations_is_an_error_not_an_empty_curve():
    with pytest.raises(ValueError, match="no durations"):
        kaplan_meier(np.array([]), np.array([], dtype=bool))
