"""Value at stake: affected customers x adjusted relative difference x expected value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ppxlib.stake import value_at_stake


def _differences(relative=-0.25, se=0.05):
    return pd.DataFrame([{"factor": "delivery", "level": "late", "reference": "on time",
                          "estimated": True, "relative": relative, "relative_se": se}])


def _customers():
    # October 2026: a, b late; c on time. d was late, but in September: not this month.
    return pd.DataFrame({
        "delivery": ["late", "late", "on time", "late"],
        "first_ts": pd.to_datetime(["2026-10-03 08:00", "2026-10-31 23:00", "2026-10-10 12:00",
                                    "2026-09-30 09:00"]),
    }, index=pd.Index(["a", "b", "c", "d"], name="customer_id"))


def _expected():
    return pd.DataFrame({"expected_purchases": [2.0, 1.0, 3.0, 5.0],
                         "expected_spend": [50.0, 100.0, 40.0, 10.0]},
                        index=pd.Index(["a", "b", "c", "d"], name="customer_id"))


def test_amount_by_hand():
    stake = value_at_stake(_differences(), _customers(), _expected(), "2026-10", seed=1)
    row = stake.iloc[0]
    assert row.customers == 2 and row.without_prediction == 0
    # (2 x 50 + 1 x 100) x -0.25
    assert row.amount == pytest.approx(-50.0)
    assert row.low < row.amount < row.high < 0
    assert "associated with about 50 less in repeat purchases" in row.sentence
    assert "had they been delivered on time" in row.sentence
    assert "cause" not in row.sentence


def test_month_is_explicit_and_bounds_the_affected_customers():
    stake = value_at_stake(_differences(), _customers(), _expected(), pd.Period("2026-09", "M"))
    assert stake.iloc[0].customers == 1
    assert stake.iloc[0].amount == pytest.approx(-0.25 * 50)


def test_interval_reflects_the_uncertain_difference():
    sure = value_at_stake(_differences(se=1e-9), _customers(), _expected(), "2026-10").iloc[0]
    unsure = value_at_stake(_differences(se=0.2), _customers(), _expected(), "2026-10").iloc[0]
    assert unsure.high - unsure.low > 5 * (sure.high - sure.low)
    assert unsure.low <= 0 <= unsure.high
    assert "not clearly associated" in unsure.sentence


def test_customers_without_a_prediction_are_counted_not_dropped_silently():
    expected = _expected().drop(index="b")
    row = value_at_stake(_differences(), _customers(), expected, "2026-10").iloc[0]
    assert row.customers == 2 and row.without_prediction == 1
    assert row.amount == pytest.approx(-25.0)


def test_levels_without_an_estimate_are_skipped_and_bad_expected_values_refused():
    differences = pd.concat([_differences(), _differences().assign(
        level="unknown", estimated=False, relative=np.nan)])
    stake = value_at_stake(differences, _customers(), _expected(), "2026-10")
    assert stake.level.tolist() == ["late"]
    with pytest.raises(ValueError, match="expected: no column expected_spend"):
        value_at_stake(differences, _customers(), _expected().drop(columns="expected_spend"),
                       "2026-10")


def test_with_the_adjusted_model_on_a_confounded_shop():
    # end to end: the adjusted relative difference of a confounded shop priced for a month
    import ppxlib
    from ppxlib import adjusted
    from ppxlib.simulate import ShopParameters, simulate_shop

    shop = simulate_shop(customers=20_000, seed=4, parameters=ShopParameters.confounded())
    clean = ppxlib.open(shop.tables()).validate(as_of="2026-11-23")
    end = pd.Timestamp("2026-11-01").to_pydatetime()
    frame = adjusted.customer_table(clean.orders, clean.returns, clean.tickets, clean.surveys,
                                    end)
    result = adjusted.fit_adjusted(frame, factors=["delivery", "returned"])
    expected = pd.DataFrame({"expected_purchases": 1.0, "expected_spend": 60.0},
                            index=frame.index)
    stake = value_at_stake(result.differences, frame, expected, "2026-10").set_index("level")
    late = frame[(frame.delivery == "late") & (frame.first_ts >= "2026-10-01")]
    relative = result.differences.set_index("level").relative["late"]
    assert stake.amount["late"] == pytest.approx(relative * 60.0 * len(late))
    assert stake.high["late"] < 0
