"""Delivery, returns, support, and experience -> repurchase on data with known effects."""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd
import pytest

import ppxlib
from ppxlib import experience as ex
from ppxlib.simulate import ShopParameters

from conftest import AS_OF, SAMPLE

END = dt.datetime(2026, 11, 1)


@pytest.fixture(scope="module")
def sample():
    return ppxlib.open(SAMPLE).validate(as_of=AS_OF)


@pytest.fixture(scope="module")
def first_experience(sample):
    return ex.first_order_experience(sample.orders, sample.returns, sample.tickets,
                                     sample.surveys, observation_end=END)


def test_late_delivery_effect_is_detected_and_recovered(sample, first_experience):
    result = ex.repurchase_by_experience(sample.orders, first_experience, "delivery", END,
                                         reference="on time")
    late = result["rates"].set_index("group").loc["late"]
    truth = ShopParameters().repurchase_difference(90)
    assert late.difference < 0                                  # right sign
    assert late.difference_high < 0                             # significant
    assert late.difference_low <= truth <= late.difference_high  # recovers the simulation
    assert result["logrank"]["p_value"] < 0.001


def test_each_label_is_one_object_so_millions_of_customers_stay_small(first_experience):
    # A label per row as its own str costs ~55 bytes a customer and column; shared, 8.
    for column in ("delivery", "returned", "ticket", "first_csat", "nps_group"):
        values = first_experience[column]
        assert first_experience[column].dtype == object
        assert len({id(v) for v in values}) == values.nunique(), column


def test_first_order_labels_by_hand():
    orders = pd.DataFrame({
        "order_id": [1, 2, 3, 4], "customer_id": ["a", "a", "b", "c"], "amount": [1.0] * 4,
        "order_ts": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-05", "2024-01-07"]),
        "promised_ts": pd.to_datetime(["2024-01-03", "2024-02-03", "2024-01-07", None]),
        "delivered_ts": pd.to_datetime(["2024-01-04", "2024-02-02", "2024-01-06", None]),
    })
    returns = pd.DataFrame({"order_id": [3], "return_ts": pd.to_datetime(["2024-01-20"])})
    tickets = pd.DataFrame({"ticket_id": ["t1", "t2"], "customer_id": ["a", "b"],
                            "order_id": [1, 3],
                            "opened_ts": pd.to_datetime(["2024-01-05", "2024-01-08"]),
                            "resolved_ts": pd.to_datetime(["2024-01-05 05:00", None])})
    surveys = pd.DataFrame({"customer_id": ["a", "b", "b"], "metric": ["csat", "nps", "nps"],
                            "order_id": [1, None, None], "score": [2.0, 9.0, 3.0],
                            "scale_min": [1.0, 0.0, 0.0], "scale_max": [5.0, 10.0, 10.0],
                            "response_ts": pd.to_datetime(["2024-01-06", "2024-02-01",
                                                           "2024-03-01"])})
    clean = ppxlib.open({"orders": orders, "returns": returns, "tickets": tickets,
                         "surveys": surveys}).validate(as_of=AS_OF)
    got = ex.first_order_experience(clean.orders, clean.returns, clean.tickets, clean.surveys)
    assert got.delivery.to_dict() == {"a": "late", "b": "on time", "c": "unknown"}
    assert got.returned.to_dict() == {"a": "kept", "b": "returned", "c": "kept"}
    assert got.ticket.to_dict() == {"a": "resolved fast", "b": "open", "c": "none"}
    assert got.first_csat.to_dict() == {"a": "low", "b": "no answer", "c": "no answer"}
    assert got.nps_group.to_dict() == {"a": "no answer", "b": "promoter", "c": "no answer"}


def test_the_first_order_is_the_earliest_and_then_the_smallest_id():
    orders = pd.DataFrame({
        "order_id": [7, 5, 6], "customer_id": ["d", "d", "d"], "amount": [1.0] * 3,
        "order_ts": pd.to_datetime(["2024-01-01 09:00", "2024-01-02 10:00",
                                    "2024-01-02 10:00"]),
        "promised_ts": pd.to_datetime(["2024-01-02", "2024-01-04", "2024-01-04"]),
        "delivered_ts": pd.to_datetime(["2024-01-03", "2024-01-05", "2024-01-03"]),
    })
    returns = pd.DataFrame({"order_id": [7], "return_ts": pd.to_datetime(["2024-01-09"])})
    clean = ppxlib.open({"orders": orders, "returns": returns}).validate(as_of=AS_OF)
    got = ex.first_order_experience(clean.orders, clean.returns, None, None).loc["d"]
    # order 7 is the earliest: late and returned, whatever the later tie between 5 and 6
    assert (got.delivery, got.returned) == ("late", "returned")
    # without order 7, orders 5 and 6 tie in time and the smaller id (5, late) is first
    clean = ppxlib.open({"orders": orders[orders.order_id != 7]}).validate(as_of=AS_OF)
    got = ex.first_order_experience(clean.orders, None, None, None).loc["d"]
    assert (got.delivery, got.returned) == ("late", "kept")


def test_delivery_on_time_rate_by_hand():
    orders = ibis.memtable(pd.DataFrame({
        "order_id": [1, 2, 3], "region": ["n", "n", "s"],
        "order_ts": pd.to_datetime(["2024-01-01"] * 3),
        "promised_ts": pd.to_datetime(["2024-01-05"] * 3),
        "delivered_ts": pd.to_datetime(["2024-01-04", "2024-01-07", "2024-01-05"])}))
    table = ex.delivery(orders, "region").set_index("region")
    assert table.on_time_rate.to_dict() == {"n": 0.5, "s": 1.0}
    assert table.loc["n", "mean_days_late"] == 2.0
    hist = ex.days_late_histogram(orders)
    assert hist.set_index("days").orders.to_dict() == {-1: 1, 0: 1, 2: 1}


def test_open_tickets_are_censored_in_resolution_times():
    tickets = ibis.memtable(pd.DataFrame({
        "ticket_id": ["a", "b", "c"], "customer_id": ["x"] * 3,
        "opened_ts": pd.to_datetime(["2024-01-01 00:00"] * 3),
        "resolved_ts": pd.to_datetime(["2024-01-01 02:00", "2024-01-01 10:00", None])}))
    durations = ex.resolution_durations(tickets, dt.datetime(2024, 1, 1, 6))
    assert durations.resolved.tolist() == [True, False, False]  # b resolves after the end
    assert durations.hours.tolist() == [2.0, 6.0, 6.0]
    curve = ex.resolution_curve(durations)
    assert curve.set_index("hours").resolved_share.loc[2.0] == pytest.approx(1 / 3)
    summary = ex.resolution_summary(durations, target_hours=3).iloc[0]
    assert summary.within_target == pytest.approx(1 / 3)
    assert summary.open == 2


def test_returns_and_reasons(sample):
    by_category = ex.returns_by(sample.orders, sample.returns, "category")
    assert by_category.returned.sum() == sample.returns.count().execute()
    reasons = ex.return_reasons(sample.returns)
    assert reasons.share.sum() == pytest.approx(1.0) and "late delivery" in set(reasons.reason)


def test_support_is_slower_by_email_in_the_sample(sample):
    summary = ex.resolution_summary(ex.resolution_durations(sample.tickets, END, "channel"))
    medians = summary.set_index("group").median_hours
    assert medians["chat"] < medians["phone"] < medians["email"]  # simulated 4h, 8h, 30h


def _results(clean) -> dict[str, pd.DataFrame]:
    from ppxlib import survey

    return {
        "nps": survey.summarise(survey.score_counts(clean.surveys, "nps"), "nps"),
        "csat": survey.summarise(survey.score_counts(clean.surveys, "csat", ["touchpoint"]),
                                 "csat", by="touchpoint"),
        "delivery": ex.delivery(clean.orders, "region", end=END),
        "returns": ex.returns_by(clean.orders, clean.returns, "category"),
    }


def test_same_results_from_a_folder_and_from_frames(sample):
    frames = {}
    for name in ("orders", "returns", "surveys", "tickets"):
        frame = pd.read_csv(SAMPLE / f"{name}.csv")
        for col in [c for c in frame.columns if c.endswith("_ts")]:
            frame[col] = pd.to_datetime(frame[col])
        frames[name] = frame
    from_frames = ppxlib.open(frames).validate(as_of=AS_OF)
    expected, got = _results(sample), _results(from_frames)
    for key in expected:
        pd.testing.assert_frame_equal(got[key], expected[key], check_dtype=False)


def test_windowed_rates_count_only_their_window_and_what_was_known_at_its_end():
    import numpy as np

    from ppxlib.experience import delivery_in, returns_in, tickets_in

    orders = ibis.memtable(pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4"],
        "order_ts": pd.to_datetime(["2025-05-20", "2025-06-02", "2025-06-10", "2025-06-28"]),
        "promised_ts": pd.to_datetime(["2025-05-25", "2025-06-05", "2025-06-14",
                                       "2025-06-29"]),
        "delivered_ts": pd.to_datetime(["2025-05-24", "2025-06-04", "2025-06-16", None])}))
    june, july = dt.datetime(2025, 6, 1), dt.datetime(2025, 7, 1)
    got = delivery_in(orders, june, july)
    # o1 was delivered in May; o2 on time, o3 late; o4 promised June 29, not yet delivered
    assert (got["delivered"], got["on_time"], got["overdue"]) == (2, 1, 1)
    assert got["low"] < 0.5 < got["high"]
    returns = ibis.memtable(pd.DataFrame({
        "order_id": ["o2", "o2", "o3"],
        "return_ts": pd.to_datetime(["2025-06-20", "2025-06-21", "2025-07-03"])}))
    r = returns_in(orders, returns, june, july)
    assert (r["orders"], r["returned"]) == (3, 1)  # o3's return comes after the month
    empty = returns_in(orders, returns, dt.datetime(2025, 8, 1), dt.datetime(2025, 9, 1))
    assert empty["orders"] == 0 and np.isnan(empty["rate"])  # no orders: no rate, not zero
    tickets = ibis.memtable(pd.DataFrame({
        "opened_ts": pd.to_datetime(["2025-06-03 00:00", "2025-06-30 23:00", "2025-07-01 00:00"])}))
    assert tickets_in(tickets, orders, june, july) == {"tickets": 2, "orders": 3,
                                                       "per_100_orders": 200 / 3}
