"""Data frames anywhere a table is expected: the same answers from every kind of input."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from lifetimes.utils import summary_data_from_transaction_data

import ppxlib
from ppxlib import (
    adjusted,
    briefing,
    clv,
    cohorts,
    experience,
    incidents,
    kpis,
    lifecycle,
    pointintime,
    repurchase,
    retention,
    rfm,
    survey,
)
from ppxlib.datasets import cdnow_sample
from ppxlib.simulate import simulate_shop
from ppxlib.summary import rfm_summary
from ppxlib.tables import DataQualityWarning, as_orders, as_table, as_tables

from conftest import AS_OF, ROOT

pl = pytest.importorskip("polars")

KINDS = ["ibis", "pandas", "polars", "polars_lazy", "arrow"]


def _as(kind: str, frame: pd.DataFrame):
    if kind == "ibis":  # orders as ppxlib.open(...).validate() gives them
        return ppxlib.open({"orders": frame}).validate(as_of=AS_OF).orders
    return {"pandas": lambda f: f, "polars": pl.from_pandas, "arrow": pa.Table.from_pandas,
            "polars_lazy": lambda f: pl.from_pandas(f).lazy()}[kind](frame)


_CDNOW_ORDERS = cdnow_sample()[["order_id", "customer_id", "order_ts", "amount"]]


@pytest.fixture(scope="module")
def cdnow():
    return _CDNOW_ORDERS


@pytest.fixture(scope="module")
def clean(cdnow):
    return ppxlib.open({"orders": cdnow}).validate(as_of=AS_OF).orders


COMPUTATIONS = {
    "rfm_summary": lambda o: rfm_summary(o, "1998-06-30", freq_multiplier=7),
    "rfm_summary_holdout": lambda o: rfm_summary(o, "1998-06-30", "1997-09-30",
                                                 freq_multiplier=7),
    "cohort_retention": lambda o: cohorts.cohort_retention(o, observation_end="1998-07-01"),
    "period_metrics": lambda o: retention.period_metrics(o, "1998-06", 120),
    "lifecycle": lambda o: lifecycle.lifecycle(o, "1998-06", 60, 150)[1],
    "rfm_scores": lambda o: rfm.rfm_scores(o, "1998-07-01"),
    "second_order_durations": lambda o: repurchase.second_order_durations(o, "1998-07-01"),
    "default_observation_end": lambda o: pd.DataFrame(
        {"end": [cohorts.default_observation_end(o)]}),
    "first_order_attributes": lambda o: cohorts.first_order_attributes(o, ["channel"]),
    "window_metrics": lambda o: pd.DataFrame([retention.window_metrics(
        o, dt.datetime(1997, 3, 1), dt.datetime(1998, 3, 1))]),
    "interpurchase_days": lambda o: lifecycle.interpurchase_days(o),
    "default_thresholds": lambda o: pd.DataFrame([lifecycle.default_thresholds(o)]),
    "thresholds": lambda o: pd.DataFrame([lifecycle.thresholds(o, sleeping_days=45)]),
    "lifecycle_runs": lambda o: lifecycle.lifecycle_runs(o, "1998-06", 60, 150).to_pandas(
        ).sort_values(["cust", "start"]).reset_index(drop=True),
    "customer_states": lambda o: lifecycle.customer_states(o, "1998-06", 60, 150).to_frame(),
    "order_span": lambda o: pd.DataFrame([kpis.order_span(o)]),
    "last_complete_month": lambda o: pd.DataFrame({"month": [kpis.last_complete_month(o)]}),
    "monthly_activity": lambda o: kpis.monthly_activity(o),
    "repeat_purchase_rate": lambda o: pd.DataFrame([kpis.repeat_purchase_rate(
        o, dt.datetime(1997, 3, 1), dt.datetime(1998, 3, 1))]),
    "headline_kpis": lambda o: kpis.headline_kpis(o, "1998-05"),
    "cut_table": lambda o: pointintime.cut_table("orders", o, dt.datetime(1997, 6, 1))
        .to_pandas().sort_values("order_id").reset_index(drop=True),
}


@pytest.fixture(scope="module")
def cdnow_model(clean):
    summary = rfm_summary(clean, "1997-09-30", freq_multiplier=7)
    return clv.fit_clv(summary, time_unit_days=7, fit_spend=False)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", [*COMPUTATIONS, "tracking"])
def test_every_kind_of_frame_gives_the_ibis_tables_answer_on_cdnow(cdnow, clean, cdnow_model,
                                                                   kind, name):
    def compute(orders):
        if name == "tracking":
            return clv.tracking(orders, cdnow_model, "1997-09-30", "1998-06-30")
        return COMPUTATIONS[name](orders)

    expected = compute(clean)
    assert len(expected) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)  # CDNOW's orders are clean
        got = compute(_as(kind, cdnow))
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_the_frames_answers_are_the_numbers_they_should_be(cdnow):
    """Not only equal to the ibis table's: a few CDNOW numbers, counted by hand in pandas."""
    frame = _as("polars", cdnow)
    monthly = kpis.monthly_activity(frame).set_index("month")
    january = cdnow[cdnow.order_ts.dt.to_period("M") == "1997-01"]
    assert monthly.loc[pd.Period("1997-01", "M"), "orders"] == len(january)
    assert monthly.loc[pd.Period("1997-01", "M"), "customers"] == january.customer_id.nunique()
    first, latest = kpis.order_span(pd.DataFrame(cdnow))
    assert (first, latest) == (cdnow.order_ts.min(), cdnow.order_ts.max())
    window = cdnow[(cdnow.order_ts >= "1997-03-01") & (cdnow.order_ts < "1998-03-01")]
    per = window.groupby("customer_id").size()
    rate = kpis.repeat_purchase_rate(pa.Table.from_pandas(cdnow), dt.datetime(1997, 3, 1),
                                     dt.datetime(1998, 3, 1))
    assert (rate["customers"], rate["repeat_customers"]) == (len(per), int((per >= 2).sum()))


def test_a_lifetimes_transaction_log_gives_lifetimes_summary():
    """CDNOW as lifetimes users have it: their column names, YYYYMMDD text, no order ids."""
    sample = cdnow_sample()
    log = pd.DataFrame({"id": sample.customer_id, "date": sample.order_ts.dt.strftime("%Y%m%d"),
                        "sales": sample.amount})
    ours = rfm_summary(log, "19970930", customer_id_col="id", datetime_col="date",
                       monetary_value_col="sales", datetime_format="%Y%m%d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = summary_data_from_transaction_data(
            log, "id", "date", "sales", datetime_format="%Y%m%d",
            observation_period_end="19970930").sort_index()
    assert ours.index.name == theirs.index.name == "id" and len(ours) == len(theirs) > 1000
    for col in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[col], theirs[col], err_msg=col)
    np.testing.assert_allclose(ours.monetary_value, theirs.monetary_value, rtol=1e-9)


def test_the_callers_column_names_come_back(cdnow):
    log = cdnow.rename(columns={"customer_id": "CustomerID", "order_ts": "when",
                                "amount": "sales"})
    t = as_orders(log, "CustomerID", "when", "sales")
    assert {"CustomerID", "when", "sales"} <= set(t.columns)
    assert not {"customer_id", "order_ts", "amount"} & set(t.columns)
    scores = rfm.rfm_scores(log, "1998-07-01", customer_id_col="CustomerID",
                            datetime_col="when", monetary_value_col="sales")
    pd.testing.assert_frame_equal(scores, rfm.rfm_scores(cdnow, "1998-07-01"))


@pytest.mark.parametrize(("break_it", "problem"), [
    (lambda f: f.drop(columns=["customer_id"]), "orders.customer_id: required column is missing"),
    (lambda f: f.assign(amount="n/a"), "orders.amount: cannot be read as a number"),
    (lambda f: f.head(0), "orders: the table has no rows"),
])
def test_a_frame_that_breaks_the_contract_gets_the_same_error_as_open(cdnow, break_it, problem):
    broken = break_it(cdnow)
    with pytest.raises(ppxlib.ContractError) as from_open:
        ppxlib.open({"orders": broken}).validate()
    with pytest.raises(ppxlib.ContractError) as from_frame:
        rfm_summary(_as("polars", broken), "1998-06-30")
    assert str(from_frame.value) == str(from_open.value)
    assert problem in str(from_frame.value)


def test_a_column_named_by_the_caller_must_exist(cdnow):
    with pytest.raises(ppxlib.ContractError, match=r"column 'cust' \(given for customer_id\) "
                                                   r"is missing; found columns: order_id"):
        rfm_summary(cdnow, "1998-06-30", customer_id_col="cust")
    with pytest.raises(ValueError, match=r"has both 'when' \(given for order_ts\) and "
                                         r"'order_ts'; drop or rename one"):
        as_orders(cdnow.assign(when=cdnow.order_ts), datetime_col="when")


def test_rows_set_aside_by_the_contract_are_said_not_dropped_silently(cdnow):
    bad = pd.concat([cdnow, cdnow.head(3).assign(order_id=[-1, -2, -3], amount=-5.0)])
    with pytest.warns(DataQualityWarning, match=r"orders: 3 of 6,922 rows set aside by the "
                                                r"data contract \(negative_amount 3\)"):
        got = rfm.rfm_scores(bad, "1998-07-01")
    pd.testing.assert_frame_equal(got, rfm.rfm_scores(cdnow, "1998-07-01"))


def test_without_order_ids_each_row_is_an_order():
    log = pd.DataFrame({"customer_id": ["a", "a", "b"], "amount": [5.0, 5.0, 1.0],
                        "order_ts": pd.to_datetime(["2024-01-01"] * 3)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # two equal rows are two orders, not a duplicate
        scores = rfm.rfm_scores(log, "2024-02-01")
    assert scores.frequency.to_dict() == {"a": 2, "b": 1}


def test_computations_without_amounts_need_no_amount_column():
    log = pd.DataFrame({"customer_id": ["a", "a", "b"],
                        "order_ts": pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-21"])})
    d = repurchase.second_order_durations(log, "2024-01-31")
    assert d.days.tolist() == [10.0, 10.0]
    summary = rfm_summary(log, "2024-01-31", monetary_value_col=None)
    assert list(summary.columns) == ["frequency", "recency", "T"]
    with pytest.raises(ppxlib.ContractError, match="orders.amount: required column"):
        rfm_summary(log, "2024-01-31")


def test_text_dates_in_a_format_are_parsed_and_bad_ones_counted():
    log = pd.DataFrame({"customer_id": [1, 1, 2], "amount": [1.0, 2.0, 3.0],
                        "date": ["19970101", "1997-01-08", "19970102"]})
    with pytest.warns(DataQualityWarning, match=r"1 of 3 rows .*unparseable_order_ts 1"):
        t = as_orders(log, datetime_col="date", datetime_format="%Y%m%d")
    assert sorted(t.date.execute().dt.strftime("%Y-%m-%d")) == ["1997-01-01", "1997-01-02"]
    with pytest.raises(ppxlib.ContractError, match=r"orders.order_ts: cannot be read as a "
                                                   r"timestamp in the format '%d/%m/%Y': none "
                                                   r"of 3 values parse \(example: '"):
        as_orders(log, datetime_col="date", datetime_format="%d/%m/%Y")


@pytest.mark.parametrize("thing", [[1, 2], {"orders": 1}, np.zeros((2, 2)), "orders.csv"])
def test_anything_else_is_a_type_error_naming_the_accepted_types(thing):
    accepted = ("an ibis table, a pandas DataFrame, a polars DataFrame or LazyFrame, or a "
                "pyarrow Table")
    with pytest.raises(TypeError, match=f"orders must be {accepted}; got "):
        rfm_summary(thing, "2024-01-31")
    with pytest.raises(TypeError, match=f"surveys must be {accepted}"):
        survey.score_counts(thing, "nps")
    june = dt.datetime(2024, 6, 1), dt.datetime(2024, 7, 1)
    for call in (lambda: kpis.monthly_activity(thing), lambda: lifecycle.thresholds(thing, 9, 99),
                 lambda: experience.delivery_in(thing, *june),
                 lambda: cohorts.default_observation_end(thing)):
        with pytest.raises(TypeError, match=f"orders must be {accepted}; got "):
            call()
    with pytest.raises(TypeError, match=f"tickets must be {accepted}; got "):
        incidents.ticket_topics(thing, "2024-06")


def test_ibis_tables_and_frames_are_not_mixed(clean, cdnow):
    with pytest.raises(TypeError, match="orders given as ibis tables but returns as data "
                                        "frames"):
        as_tables(orders=clean, returns=pd.DataFrame({"order_id": [1]}))


def test_polars_is_imported_only_when_a_polars_frame_is_given():
    code = "import sys, ppxlib.tables, ppxlib.summary; print('polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- other tables


@pytest.fixture(scope="module")
def shop():
    shop = simulate_shop(customers=300, seed=5, start="2024-01-01", end="2025-01-01")
    return {"orders": shop.orders, "returns": shop.returns, "surveys": shop.surveys,
            "tickets": shop.tickets}


@pytest.fixture(scope="module")
def shop_clean(shop):
    return ppxlib.open(shop).validate()


END = dt.datetime(2024, 12, 1)
SHOP_COMPUTATIONS = {
    "score_counts": lambda t: survey.score_counts(t["surveys"], "nps", ["touchpoint"]),
    "verbatims": lambda t: survey.verbatims(t["surveys"]),
    "response_rate": lambda t: pd.DataFrame([survey.response_rate(t["surveys"], t["orders"],
                                                                  "csat")]),
    "delivery": lambda t: experience.delivery(t["orders"], by="region"),
    "days_late": lambda t: experience.days_late_histogram(t["orders"]),
    "returns_by": lambda t: experience.returns_by(t["orders"], t["returns"], "channel"),
    "return_reasons": lambda t: experience.return_reasons(t["returns"]),
    "resolution": lambda t: experience.resolution_durations(t["tickets"], "2025-01-01"),
    "first_order_experience": lambda t: experience.first_order_experience(
        t["orders"], t["returns"], t["tickets"], t["surveys"]),
    "first_order_covariates": lambda t: adjusted.first_order_covariates(t["orders"], END),
    "customer_table": lambda t: adjusted.customer_table(
        t["orders"], t["returns"], t["tickets"], t["surveys"], END),
    "point_in_time": lambda t: pd.DataFrame({"rows": [
        table.count().execute() for table in adjusted.point_in_time(
            t["orders"], t["returns"], t["tickets"], t["surveys"], dt.datetime(2024, 9, 1))]}),
    "delivery_in": lambda t: pd.DataFrame([experience.delivery_in(
        t["orders"], dt.datetime(2024, 6, 1), dt.datetime(2024, 7, 1))]),
    "returns_in": lambda t: pd.DataFrame([experience.returns_in(
        t["orders"], t["returns"], dt.datetime(2024, 6, 1), dt.datetime(2024, 7, 1))]),
    "tickets_in": lambda t: pd.DataFrame([experience.tickets_in(
        t["tickets"], t["orders"], dt.datetime(2024, 6, 1), dt.datetime(2024, 7, 1))]),
    "repurchase_by_experience": lambda t: experience.repurchase_by_experience(
        t["orders"], experience.first_order_experience(t["orders"], t["returns"], t["tickets"],
                                                       t["surveys"], observation_end=END),
        "delivery", END, reference="on time")["rates"],
    "order_experience_counts": lambda t: survey.order_experience_counts(
        t["surveys"], t["orders"], END, t["returns"], t["tickets"]),
    "scores_by_order_experience": lambda t: survey.scores_by_order_experience(
        t["surveys"], t["orders"], END, t["returns"], t["tickets"], min_n=5)["scores"],
    "month_changes": lambda t: pd.DataFrame(briefing.month_changes(
        t["orders"], pd.Period("2024-11", "M"), _SHOP_METRICS[0], t["surveys"], t["tickets"])),
    "ticket_topics": lambda t: incidents.ticket_topics(t["tickets"], "2024-11"),
    "incident_return_reasons": lambda t: incidents.return_reasons(t["returns"], "2024-11"),
}
_SHOP_METRICS: list[pd.DataFrame] = []  # period_metrics of the clean shop, made once


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "ibis"])  # ibis: the reference
@pytest.mark.parametrize("name", list(SHOP_COMPUTATIONS))
def test_survey_and_experience_functions_take_frames(shop, shop_clean, name, kind):
    if not _SHOP_METRICS:
        _SHOP_METRICS.append(retention.period_metrics(shop_clean.orders, "2024-11", 120))
    compute = SHOP_COMPUTATIONS[name]
    expected = compute({n: shop_clean.table(n) for n in shop})
    assert len(expected) > 0
    got = compute({n: _as(kind, f) for n, f in shop.items()})
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_a_survey_frame_alone_goes_through_the_contract():
    answers = pd.DataFrame({"customer_id": ["a", "b", "c"], "metric": ["NPS ", "nps", "nps"],
                            "score": [10, 3, 11], "response_ts": ["2024-01-02"] * 3})
    with pytest.warns(DataQualityWarning, match="surveys: 1 of 3 rows .*score_outside_scale 1"):
        t = as_table(answers, "surveys")
    assert sorted(t.score.execute()) == [3.0, 10.0]


def test_values_the_contract_blanks_are_said_too():
    orders = pd.DataFrame({"order_id": [1, 2], "customer_id": ["a", "b"], "amount": [1.0, 2.0],
                           "order_ts": pd.to_datetime(["2024-01-05", "2024-01-06"]),
                           "promised_ts": pd.to_datetime(["2024-01-08", "2024-01-09"]),
                           "delivered_ts": pd.to_datetime(["2024-01-01", "2024-01-07"])})
    with pytest.warns(DataQualityWarning, match=r"orders: rows kept but adjusted \(\w+ 1: "
                                                r"blanked\)"):
        t = as_table(orders)
    assert t.delivered_ts.isnull().sum().execute() == 1 and t.count().execute() == 2
