"""A month's report is true of that month: only what was known at the month's end counts."""

from __future__ import annotations

import datetime as dt
import json

import ibis
import pandas as pd
import pytest

import ppxlib
from ppxlib import experience
from ppxlib.pointintime import as_at, cut_table, month_end

from conftest import SAMPLE

END = dt.datetime(2025, 7, 1)  # the end of June 2025


def _orders() -> pd.DataFrame:
    return pd.DataFrame({
        "order_id": ["o1", "o2", "o3"],
        "customer_id": ["a", "b", "c"],
        "order_ts": pd.to_datetime(["2025-06-10", "2025-06-28", "2025-07-03"]),
        "amount": [10.0, 20.0, 30.0],
        "promised_ts": pd.to_datetime(["2025-06-14", "2025-07-02", "2025-07-06"]),
        "delivered_ts": pd.to_datetime(["2025-06-13", "2025-07-04", "2025-07-05"]),
    })


def test_a_delivery_after_the_month_end_is_not_yet_delivered():
    cut = cut_table("orders", ibis.memtable(_orders()), END).to_pandas()
    assert cut.order_id.tolist() == ["o1", "o2"]  # o3 was placed in July
    assert cut.delivered_ts.isna().tolist() == [False, True]
    assert cut.promised_ts.notna().all()  # the promise was known when the order was placed
    # so June's on-time rate is about the one delivery that had happened, not two
    june = experience.delivery(ibis.memtable(cut)).iloc[0]
    assert june.delivered == 1 and june.on_time_rate == 1.0
    everything = experience.delivery(ibis.memtable(_orders())).iloc[0]
    assert everything.delivered == 3  # what the report would have seen without the rule


def test_a_return_after_the_month_end_has_not_happened():
    returns = pd.DataFrame({"order_id": ["o1", "o2"],
                            "return_ts": pd.to_datetime(["2025-06-20", "2025-07-10"])})
    cut = cut_table("returns", ibis.memtable(returns), END).to_pandas()
    assert cut.order_id.tolist() == ["o1"]
    orders = cut_table("orders", ibis.memtable(_orders()), END)
    rates = experience.returns_by(orders, ibis.memtable(cut), "month")
    assert rates.returned.sum() == 1 and rates.orders.sum() == 2


def test_a_resolution_after_the_month_end_leaves_the_ticket_open():
    tickets = pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3"], "customer_id": ["a", "b", "c"],
        "opened_ts": pd.to_datetime(["2025-06-10 08:00", "2025-06-30 20:00", "2025-07-02 00:00"]),
        "resolved_ts": pd.to_datetime(["2025-06-10 12:00", "2025-07-01 02:00", "2025-07-03 00:00"]),
        "csat": [5.0, 2.0, 4.0]})
    cut = cut_table("tickets", ibis.memtable(tickets), END).to_pandas()
    assert cut.ticket_id.tolist() == ["t1", "t2"]
    assert cut.resolved_ts.isna().tolist() == [False, True]
    assert cut.csat.isna().tolist() == [False, True]  # given on resolution: not yet given
    durations = experience.resolution_durations(ibis.memtable(cut), END)
    assert durations.resolved.tolist() == [True, False]
    assert durations.hours.tolist() == [4.0, 4.0]  # t2 censored at the month end


def test_a_clean_dataset_cut_twice_is_the_same_and_keeps_its_quality_tally():
    clean = ppxlib.open({"orders": _orders()}).validate(as_of=dt.datetime(2026, 1, 1))
    once = as_at(clean, END)
    twice = as_at(once, END)
    assert once.quality is clean.quality
    assert once.returns is None
    pd.testing.assert_frame_equal(once.orders.to_pandas(), twice.orders.to_pandas())
    assert month_end("2025-06") == END


# ---------------------------------------------------------------- whole reports

#: Per table of the committed sample: the row's own time, and later-only timestamps.
_ROW_TIME = {"orders": "order_ts", "returns": "return_ts", "surveys": "response_ts",
             "tickets": "opened_ts"}
_LATER = {"orders": ["delivered_ts"], "tickets": ["resolved_ts"]}


def _cut_folder(source, target, end: pd.Timestamp) -> None:
    """The shop's files as they stood at ``end``, built without ppxlib: later rows dropped,
    later delivery and resolution times blanked. Unparseable times are kept as they are, so
    validation sets the same rows aside in both runs."""
    target.mkdir()
    for name, row_time in _ROW_TIME.items():
        frame = pd.read_csv(source / f"{name}.csv", dtype=str, keep_default_na=False)
        when = pd.to_datetime(frame[row_time], errors="coerce", format="mixed")
        frame = frame[~(when >= end)]
        for column in _LATER.get(name, []):
            later = pd.to_datetime(frame[column], errors="coerce", format="mixed") >= end
            frame.loc[later, column] = ""
        frame.to_csv(target / f"{name}.csv", index=False)


def _metrics(out, month: str) -> dict:
    manifest = json.loads((out / month / "manifest.json").read_text())
    failed = {n["name"]: n["error"] for n in manifest["notebooks"] if n["status"] != "ok"}
    assert not failed
    return {n["name"]: {k: v for k, v in n["metrics"].items() if k != "rows_excluded"}
            for n in manifest["notebooks"]}


def _assert_same(full: dict, cut: dict) -> None:
    assert full.keys() == cut.keys()
    for name in full:
        assert full[name].keys() == cut[name].keys(), name
        for key, value in full[name].items():
            if isinstance(value, float):
                assert cut[name][key] == pytest.approx(value, rel=1e-9, abs=1e-12), (name, key)
            else:
                assert cut[name][key] == value, (name, key)


@pytest.mark.notebook
def test_a_backdated_sample_report_equals_the_report_on_the_data_cut_at_its_month(tmp_path):
    from ppxlib.report import run_report

    month = "2025-06"
    _cut_folder(SAMPLE, tmp_path / "cut", pd.Timestamp(month_end(month)))
    as_of = "2026-11-23T00:00:00"
    run_report(SAMPLE, out=tmp_path / "full-out", month=month, as_of=as_of, progress=False)
    run_report(tmp_path / "cut", out=tmp_path / "cut-out", month=month, as_of=as_of,
               progress=False)
    full, cut = _metrics(tmp_path / "full-out", month), _metrics(tmp_path / "cut-out", month)
    assert len(full) == 6 and all(full.values())
    _assert_same(full, cut)


@pytest.mark.notebook
def test_a_backdated_cdnow_report_equals_the_report_on_the_data_cut_at_its_month(tmp_path):
    from ppxlib.datasets import cdnow_sample
    from ppxlib.report import run_report

    orders = cdnow_sample().drop(columns="quantity")
    month = "1997-09"
    end = pd.Timestamp(month_end(month))
    (tmp_path / "full").mkdir()
    (tmp_path / "cut").mkdir()
    orders.to_csv(tmp_path / "full" / "orders.csv", index=False)
    orders[orders.order_ts < end].to_csv(tmp_path / "cut" / "orders.csv", index=False)
    for name in ("full", "cut"):
        run_report(tmp_path / name, out=tmp_path / f"{name}-out", month=month,
                   as_of="1998-07-01T00:00:00", progress=False)
    full, cut = _metrics(tmp_path / "full-out", month), _metrics(tmp_path / "cut-out", month)
    _assert_same(full, cut)
