"""Monthly KPIs against hand-computed values (see the small_orders fixture)."""

from __future__ import annotations

import datetime as dt
import math

import ibis
import pandas as pd
import pytest

from ppxlib.kpis import (
    headline_kpis,
    last_complete_month,
    monthly_activity,
    repeat_purchase_rate,
    to_month,
)


def test_monthly_activity_by_hand(small_orders):
    got = monthly_activity(ibis.memtable(small_orders))
    assert got.month.astype(str).tolist() == ["2024-01", "2024-02", "2024-03"]
    assert got.orders.tolist() == [3, 3, 2]
    assert got.customers.tolist() == [2, 2, 2]            # Jan a,e  Feb b,c  Mar a,d
    assert got.revenue.tolist() == [35.0, 80.0, 80.0]
    assert got.aov.round(4).tolist() == [11.6667, 26.6667, 40.0]
    assert got.new_customers.tolist() == [2, 2, 1]        # d is the only new one in March
    assert got.returning_customers.tolist() == [0, 0, 1]  # a came back in March


def test_repeat_purchase_rate_by_hand(small_orders):
    t = ibis.memtable(small_orders)
    whole = repeat_purchase_rate(t, dt.datetime(2024, 1, 1), dt.datetime(2024, 4, 1))
    assert whole == {"customers": 5, "repeat_customers": 2, "rate": 0.4}  # a and c
    feb = repeat_purchase_rate(t, dt.datetime(2024, 2, 1), dt.datetime(2024, 3, 1))
    assert feb["rate"] == 0.5                                            # c of b, c
    empty = repeat_purchase_rate(t, dt.datetime(2030, 1, 1), dt.datetime(2030, 2, 1))
    assert empty["customers"] == 0 and math.isnan(empty["rate"])


def test_headline_kpis_compare_with_the_previous_month(small_orders):
    k = headline_kpis(ibis.memtable(small_orders), "2024-03").set_index("kpi")
    assert k.loc["revenue", ["value", "previous"]].tolist() == [80.0, 80.0]
    assert k.at["revenue", "change_pct"] == 0.0
    assert k.loc["orders", ["value", "previous"]].tolist() == [2.0, 3.0]
    assert k.at["orders", "change_pct"] == pytest.approx(-1 / 3)
    # 365 days to Mar 31: a and c repeat of a, b, c, d, e; to Feb 29: a, c of a, b, c, e.
    assert k.loc["repeat_purchase_rate", ["value", "previous"]].tolist() == [0.4, 0.5]
    assert k.at["repeat_purchase_rate", "change"] == pytest.approx(-0.1)


def test_headline_kpis_for_a_month_without_orders(small_orders):
    k = headline_kpis(ibis.memtable(small_orders), "2024-05").set_index("kpi")
    assert k.at["orders", "value"] == 0 and math.isnan(k.at["aov", "value"])


def test_last_complete_month():
    def month_of(*stamps):
        return last_complete_month(ibis.memtable(pd.DataFrame({"order_ts": pd.to_datetime(
            list(stamps))})))

    assert str(month_of("2024-01-03 00:00:00", "2024-03-31 23:00:00")) == "2024-03"
    assert str(month_of("2024-01-03 00:00:00", "2024-03-30 00:00:00")) == "2024-02"


def test_to_month_rejects_garbage():
    assert str(to_month("2026-10")) == "2026-10"
    with pytest.raises(ValueError, match="YYYY-MM"):
        to_month("October")
