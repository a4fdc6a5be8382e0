"""The same computations on local Spark give the same results as on DuckDB.

One SparkSession (local[2]) serves the module; it takes a few seconds to start.
"""

from __future__ import annotations

import pandas as pd
import pytest

import ppxlib
from ppxlib import cohorts, kpis, lifecycle, repurchase, retention, rfm
from ppxlib.simulate import inject_defects, simulate_shop

from conftest import AS_OF

pyspark = pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark

COLUMNS = ["order_id", "customer_id", "order_ts", "amount", "channel"]


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("ppx-tests")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "4")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def both(spark):
    """The same orders, with export defects, cleaned on Spark and on DuckDB."""
    shop = simulate_shop(customers=500, seed=3, start="2024-01-01", end="2025-07-01")
    orders = inject_defects(shop, seed=3)["orders"][COLUMNS]
    spark.createDataFrame(orders).createOrReplaceTempView("orders")
    on_spark = ppxlib.open(spark).validate(as_of=AS_OF)
    on_duckdb = ppxlib.open({"orders": orders}).validate(as_of=AS_OF)
    return on_spark, on_duckdb


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_dtype=False)


def test_spark_source_is_an_ibis_pyspark_backend(both):
    on_spark, _ = both
    assert on_spark.orders._find_backend().name == "pyspark"


def test_validation_excludes_the_same_rows(both):
    on_spark, on_duckdb = both
    _same(on_spark.quality.exclusions, on_duckdb.quality.exclusions)
    _same(on_spark.quality.tables, on_duckdb.quality.tables)


@pytest.mark.parametrize("compute", [
    pytest.param(lambda o: kpis.monthly_activity(o), id="monthly_activity"),
    pytest.param(lambda o: cohorts.cohort_retention(o, observation_end="2025-07-01",
                                                    by="channel"), id="cohorts"),
    pytest.param(lambda o: cohorts.cohort_retention(o, period="W", mode="rolling",
                                                    observation_end="2025-07-01"),
                 id="cohorts_weekly_rolling"),
    pytest.param(lambda o: retention.period_metrics(o, "2025-06", 120), id="period_metrics"),
    pytest.param(lambda o: lifecycle.lifecycle(o, "2025-06", 60, 150)[1], id="lifecycle"),
    pytest.param(lambda o: lifecycle.interpurchase_days(o), id="interpurchase"),
    pytest.param(lambda o: rfm.rfm_scores(o, "2025-07-01").sort_index().reset_index(),
                 id="rfm"),
    pytest.param(lambda o: repurchase.second_order_durations(o, "2025-07-01", by="channel"),
                 id="second_order"),
])
def test_same_results_as_duckdb(both, compute):
    on_spark, on_duckdb = both
    _same(compute(on_spark.orders), compute(on_duckdb.orders))
