"""Month-on-month changes: tests against statsmodels, Holm by hand, noise stays quiet."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from ppxlib.changes import count_change, nps_change, share_change, significant_changes


def test_a_share_change_is_the_score_test_with_newcombes_interval():
    from statsmodels.stats.proportion import (
        confint_proportions_2indep,
        test_proportions_2indep,
    )

    got = share_change("kept", "customers kept", 930, 1000, 900, 1000)
    assert got["difference"] == pytest.approx(0.03)
    assert got["p_value"] == pytest.approx(
        test_proportions_2indep(930, 1000, 900, 1000, method="score").pvalue)
    low, high = confint_proportions_2indep(930, 1000, 900, 1000, method="newcomb")
    assert (got["low"], got["high"]) == pytest.approx((low, high))
    assert got["low"] < 0.03 < got["high"]


def test_the_rate_interval_holds_the_difference_and_agrees_with_the_test():
    big = count_change("tickets", "tickets per 100 orders", 150, 100, 1000, 1000, per=100)
    assert big["difference"] == pytest.approx(5.0)
    assert 0 < big["low"] < 5 < big["high"] and big["p_value"] < 0.01
    same = count_change("orders", "orders", 500, 500)
    assert same["difference"] == 0 and same["low"] < 0 < same["high"]
    assert same["p_value"] == pytest.approx(1.0)


def test_nps_change_tests_what_its_interval_shows():
    clear = nps_change("nps", "NPS", (400, 220, 60), (400, 160, 100))
    assert clear["difference"] == pytest.approx(25.0)  # +40 against +15
    assert clear["low"] > 0 and clear["p_value"] < 0.05
    unclear = nps_change("nps", "NPS", (40, 20, 8), (40, 18, 9))
    assert unclear["low"] < 0 < unclear["high"] and unclear["p_value"] > 0.05


def test_holm_adjusts_over_every_comparison_and_missing_months_stay_out():
    rows = [share_change("a", "a", 560, 1000, 500, 1000),     # p ~ 0.007
            share_change("b", "b", 540, 1000, 500, 1000),     # p ~ 0.07
            share_change("c", "c", 10, 0, 5, 100),            # no answers this month
            count_change("d", "d", 1200, 1000)]               # p ~ 1e-5
    table = significant_changes(rows)
    raw = table.p_value.to_numpy()
    expected = multipletests(raw[[0, 1, 3]], method="holm")[1]
    np.testing.assert_allclose(table.p_holm.to_numpy()[[0, 1, 3]], expected)
    assert math.isnan(table.p_holm.iloc[2]) and not table.significant.iloc[2]
    assert table.significant.tolist() == [True, False, False, True]


def test_noise_is_not_reported_as_change():
    rng = np.random.default_rng(3)
    flagged = 0
    for _ in range(50):  # 50 months of 8 comparisons each, no true change anywhere
        rows = []
        for i in range(8):
            n = 2000
            rows.append(share_change(str(i), str(i), rng.binomial(n, 0.3), n,
                                     rng.binomial(n, 0.3), n))
        flagged += int(significant_changes(rows).significant.any())
    assert flagged <= 6  # Holm keeps the chance of any false alarm near 5% a month
