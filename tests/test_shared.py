"""Results shared between the notebooks of one report run: computed once, identical, scoped."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

import ppxlib
from ppxlib import rfm, shared
from ppxlib.shared import SHARED_ENV, once
from ppxlib.snapshot import write_snapshot

from conftest import AS_OF

CALLS: list[str] = []


def counted_scores(orders, end, weight=1):
    """rfm_scores that records each real computation."""
    CALLS.append("scores")
    return rfm.rfm_scores(orders, end)


def counted_rows(table, end, weight=1):
    CALLS.append("rows")
    return int(table.count().execute())


def failing(orders):
    CALLS.append("failing")
    raise ValueError("cannot")


@pytest.fixture
def snapshot(shop_folder, tmp_path):
    dataset = ppxlib.open(shop_folder)
    return write_snapshot(dataset, dataset.validate(as_of=AS_OF), tmp_path / "snapshot")


def kernel(folder):
    """What a fresh notebook kernel sees: the snapshot opened anew, no results in memory."""
    shared._RESULTS.clear()
    return ppxlib.open(folder).validate()


@pytest.fixture(autouse=True)
def fresh_calls():
    CALLS.clear()
    yield
    shared._RESULTS.clear()


END = pd.Timestamp("2025-04-01")


def test_within_a_run_the_second_notebook_loads_what_the_first_computed(snapshot, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv(SHARED_ENV, str(tmp_path / "shared"))
    clean = kernel(snapshot)
    first = once(clean, counted_scores, clean.orders, END)
    clean = kernel(snapshot)
    second = once(clean, counted_scores, clean.orders, END.to_pydatetime())  # same instant
    assert CALLS == ["scores"]
    pd.testing.assert_frame_equal(first, second)
    assert len(second) > 50


def test_the_same_call_written_differently_is_shared_and_different_calls_are_not(
        snapshot, tmp_path, monkeypatch):
    monkeypatch.setenv(SHARED_ENV, str(tmp_path / "shared"))
    clean = kernel(snapshot)
    orders = once(clean, counted_rows, clean.orders, END)
    assert once(clean, counted_rows, clean.orders, end=END, weight=1) == orders  # the default
    assert CALLS == ["rows"]
    once(clean, counted_rows, clean.orders, END, weight=2)
    once(clean, counted_rows, clean.orders, END + pd.Timedelta(days=1))
    returns = once(clean, counted_rows, clean.returns, END)  # another table of the snapshot
    assert CALLS == ["rows"] * 4
    assert returns != orders


def test_a_result_computed_from_a_shared_result_is_shared(snapshot, tmp_path, monkeypatch):
    monkeypatch.setenv(SHARED_ENV, str(tmp_path / "shared"))
    clean = kernel(snapshot)
    scores = once(clean, counted_scores, clean.orders, END)
    once(clean, rfm.rfm_segments, scores)
    clean = kernel(snapshot)
    scores = once(clean, counted_scores, clean.orders, END)
    segments = once(clean, rfm.rfm_segments, scores)
    assert CALLS == ["scores"]
    pd.testing.assert_frame_equal(segments, rfm.rfm_segments(scores))


def test_arguments_without_a_stable_identity_are_never_shared(snapshot, tmp_path,
                                                               monkeypatch):
    monkeypatch.setenv(SHARED_ENV, str(tmp_path / "shared"))
    clean = kernel(snapshot)
    scores = rfm.rfm_scores(clean.orders, END)  # built here, not by once()
    once(clean, rfm.rfm_segments, scores)
    assert not list((tmp_path / "shared").glob("*.pickle"))
    frame = clean.orders.to_pandas()
    frame["amount"] = 0.0
    import ibis

    once(clean, counted_scores, ibis.memtable(frame), END)
    once(clean, counted_scores, ibis.memtable(frame), END)
    assert CALLS == ["scores", "scores"]


def test_outside_a_report_run_or_without_a_snapshot_nothing_is_shared(snapshot, shop_folder,
                                                                      tmp_path, monkeypatch):
    clean = kernel(snapshot)
    monkeypatch.delenv(SHARED_ENV, raising=False)
    once(clean, counted_scores, clean.orders, END)
    once(clean, counted_scores, clean.orders, END)
    monkeypatch.setenv(SHARED_ENV, str(tmp_path / "shared"))
    live = ppxlib.open(shop_folder).validate(as_of=AS_OF)  # the files themselves may change
    once(live, counted_scores, live.orders, END)
    once(live, counted_scores, live.orders, END)
    assert CALLS == ["scores"] * 4


def test_a_failure_is_not_stored(snapshot, tmp_path, monkeypatch):
    monkeypatch.setenv(SHARED_ENV, str(tmp_path / "shared"))
    clean = kernel(snapshot)
    for _ in range(2):
        with pytest.raises(ValueError, match="cannot"):
            once(clean, failing, clean.orders)
    assert CALLS == ["failing", "failing"]


def slow_scores(orders, end):
    CALLS.append("slow")
    time.sleep(0.5)
    return rfm.rfm_scores(orders, end)


def test_a_notebook_asking_while_another_computes_waits_for_its_result(snapshot, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv(SHARED_ENV, str(tmp_path / "shared"))
    clean = kernel(snapshot)
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        once(clean, slow_scores, clean.orders, END))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert CALLS == ["slow"]
    assert len(results) == 3
    for r in results[1:]:
        pd.testing.assert_frame_equal(r, results[0])
