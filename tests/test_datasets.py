"""Shipped data sets: CDNOW from the lifetimes package, and the committed sample."""

from __future__ import annotations

import json

import pandas as pd

import ppxlib
from ppxlib.datasets import cdnow, cdnow_sample, sample_path
from ppxlib.simulate import INJECTED_DEFECTS

from conftest import AS_OF, SAMPLE


def test_cdnow_has_the_published_size():
    orders = cdnow()
    assert len(orders) == 69_659
    assert orders.customer_id.nunique() == 23_570
    assert orders.order_ts.min() == pd.Timestamp("1997-01-01")
    assert orders.order_ts.max() == pd.Timestamp("1998-06-30")


def test_cdnow_acquisition_cohorts():
    orders = cdnow()
    first = orders.groupby("customer_id").order_ts.min().dt.to_period("M").value_counts()
    assert first[pd.Period("1997-01", "M")] == 7_846
    assert first[pd.Period("1997-02", "M")] == 8_476
    assert first[pd.Period("1997-03", "M")] == 7_248


def test_cdnow_meets_the_contract():
    clean = ppxlib.open({"orders": cdnow()}).validate(as_of=AS_OF)
    assert clean.quality.rows_excluded == 0


def test_cdnow_sample_has_2357_customers():
    assert cdnow_sample().customer_id.nunique() == 2_357


def test_committed_sample_is_what_its_readme_says():
    assert sample_path() == SAMPLE
    truth = json.loads((SAMPLE / "truth.json").read_text())
    assert truth["customers"] == 5_000 and truth["seed"] == 42
    clean = ppxlib.open(SAMPLE).validate(as_of=AS_OF)
    found = {(r.table, r.rule): r.rows for r in clean.quality.exclusions.itertuples()}
    assert found == INJECTED_DEFECTS
    size = sum(p.stat().st_size for p in SAMPLE.iterdir())
    assert size < 5 * 2**20
    readme = (SAMPLE / "README.md").read_text()
    assert "ppx sample --customers 5000 --seed 42 --defects --out data/sample" in readme
