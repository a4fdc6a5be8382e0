"""The same computations on local Spark give the same results as on DuckDB.

One SparkSession (local[2]) serves the module; it takes a few seconds to start. Without
pyspark or Java the module is skipped with one line saying why (``./tasks test-fast`` skips
it on purpose); with ``PPX_REQUIRE_SPARK=1`` (CI) that is an error instead.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

import ppxlib
from ppxlib import cohorts, kpis, lifecycle, repurchase, retention, rfm
from ppxlib.simulate import inject_defects, simulate_shop

from conftest import AS_OF, ROOT, java_problem

_missing = java_problem()
try:
    import pyspark  # noqa: F401
except ImportError:
    _missing = "pyspark is not installed (pip install -e '.[spark]')"
if _missing:
    if os.environ.get("PPX_REQUIRE_SPARK"):
        raise RuntimeError(f"PPX_REQUIRE_SPARK is set but Spark cannot run: {_missing}")
    pytest.skip(f"Spark tests skipped: {_missing}", allow_module_level=True)
pytestmark = pytest.mark.spark

COLUMNS = ["order_id", "customer_id", "order_ts", "amount", "channel"]


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    # Spark makes its warehouse folder in the working directory unless told otherwise.
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (SparkSession.builder.master("local[2]").appName("ppx-tests")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.warehouse.dir", str(warehouse))
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


@pytest.fixture(scope="module")
def whole_shop(spark):
    """Every table of a shop, on Spark and on DuckDB."""
    shop = simulate_shop(customers=400, seed=6, start="2024-01-01", end="2025-07-01")
    frames = {"orders": shop.orders, "returns": shop.returns, "surveys": shop.surveys,
              "tickets": shop.tickets}
    names = {}
    for name, frame in frames.items():
        spark.createDataFrame(frame).createOrReplaceTempView(f"shop_{name}")
        names[name] = f"shop_{name}"
    on_spark = ppxlib.open(spark, tables=names).validate(as_of=AS_OF)
    on_duckdb = ppxlib.open(frames).validate(as_of=AS_OF)
    return on_spark, on_duckdb


def test_customer_summary_is_identical(whole_shop):
    from ppxlib.summary import rfm_summary

    on_spark, on_duckdb = whole_shop
    # Weekly periods start on Mondays in both engines (their own week truncation).
    weeks = {"freq_multiplier": 7}
    for kwargs in (weeks, {**weeks, "calibration_end": "2025-01-31"}, {"freq": "W"},
                   {"freq": "W", "calibration_end": "2025-01-29"},
                   {"timezone": "America/New_York"}, {"freq": "W", "timezone": "Asia/Tokyo"}):
        a = rfm_summary(on_spark.orders, "2025-06-30", **kwargs)
        b = rfm_summary(on_duckdb.orders, "2025-06-30", **kwargs)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, check_index_type=False)


def test_lifecycle_states_are_identical(whole_shop):
    on_spark, on_duckdb = whole_shop
    a = lifecycle.customer_states(on_spark.orders, "2025-06", 60, 150)
    b = lifecycle.customer_states(on_duckdb.orders, "2025-06", 60, 150)
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index(), check_index_type=False)


@pytest.mark.parametrize("metric", ["csat", "nps", "ces"])
def test_survey_aggregations_are_identical(whole_shop, metric):
    from ppxlib import survey

    on_spark, on_duckdb = whole_shop
    for by in (None, ["touchpoint"]):
        _same(survey.score_counts(on_spark.surveys, metric, by),
              survey.score_counts(on_duckdb.surveys, metric, by))
    assert (survey.response_rate(on_spark.surveys, on_spark.orders, metric)
            == survey.response_rate(on_duckdb.surveys, on_duckdb.orders, metric))


def test_experience_aggregations_are_identical(whole_shop):
    from ppxlib import experience

    on_spark, on_duckdb = whole_shop
    end = "2025-07-01"
    _same(experience.delivery(on_spark.orders, by="region"),
          experience.delivery(on_duckdb.orders, by="region"))
    a = experience.first_order_experience(on_spark.orders, on_spark.returns, on_spark.tickets,
                                          on_spark.surveys, observation_end=end)
    b = experience.first_order_experience(on_duckdb.orders, on_duckdb.returns,
                                          on_duckdb.tickets, on_duckdb.surveys,
                                          observation_end=end)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_index_type=False)


def test_a_spark_url_with_table_paths_opens(spark, tmp_path):
    """``spark:local[2]`` reuses this process's session; tables may be given as paths."""
    shop = simulate_shop(customers=50, seed=2, start="2025-01-01", end="2025-03-01")
    shop.orders.to_parquet(tmp_path / "orders.parquet")
    ds = ppxlib.open("spark:local[2]", tables={"orders": str(tmp_path / "orders.parquet")})
    assert ds.backend.name == "pyspark" and ds.returns is None
    assert ds.orders.count().execute() == len(shop.orders)
    with pytest.raises(ValueError, match="no table 'nowhere' \\(given for returns\\)"):
        ppxlib.open("spark:local[2]", tables={"orders": str(tmp_path / "orders.parquet"),
                                              "returns": "nowhere"})


def test_the_report_runner_on_spark_gives_duckdbs_numbers(tmp_path, monkeypatch):
    """``ppx report --source spark:local[2] --table orders=PATH``: the overview's headline
    numbers equal those of the same files read by DuckDB (the kernel starts its own Spark)."""
    from ppxlib.report import default_notebook_dir, run_report

    # The kernel runs in notebooks/: its Spark's warehouse folder goes to a temporary one.
    litter = default_notebook_dir() / "spark-warehouse"
    there_before = litter.exists()
    monkeypatch.setenv("PYSPARK_SUBMIT_ARGS", f"--conf spark.sql.warehouse.dir="
                                              f"{tmp_path / 'warehouse'} pyspark-shell")

    shop = simulate_shop(customers=200, seed=2, start="2025-01-01", end="2025-04-01")
    (tmp_path / "files").mkdir()
    shop.orders.to_parquet(tmp_path / "files" / "orders.parquet")
    overview = [default_notebook_dir() / "00_overview.ipynb"]
    common = {"notebooks": overview, "month": "2025-03", "as_of": AS_OF, "progress": False}
    on_spark = run_report("spark:local[2]", out=tmp_path / "spark", **common,
                          tables={"orders": str(tmp_path / "files" / "orders.parquet")})
    on_duckdb = run_report(tmp_path / "files", out=tmp_path / "duckdb", **common)
    assert on_spark.failed == [] and on_duckdb.failed == []
    assert on_spark.manifest["parameters"]["source"] == "spark:local[2]"
    assert on_spark.notebooks[0].metrics == on_duckdb.notebooks[0].metrics
    assert on_spark.notebooks[0].metrics["orders"] > 0
    assert there_before or not litter.exists(), f"the test left {litter.relative_to(ROOT)}"


# --------------------------------------------------------------------------- Spark Connect


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A Spark Connect server on localhost, started as the sbin script starts one.

    pip's pyspark has no ``sbin/start-connect-server.sh`` but ships the server's jar, so
    ``spark-submit --class ...SparkConnectServer spark-internal`` (what that script runs)
    starts it offline.
    """
    import signal
    import socket
    import subprocess
    import time
    from pathlib import Path

    if not _connect_client():
        pytest.skip("the Spark Connect client is not installed (pip install -e '.[spark]')")
    home = Path(pyspark.__file__).parent
    folder = tmp_path_factory.mktemp("connect")
    port = _free_port()
    command = [str(home / "bin" / "spark-submit"),
               "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
               "--master", "local[2]", "--conf", f"spark.connect.grpc.binding.port={port}",
               "--conf", "spark.sql.session.timeZone=UTC", "--conf", "spark.ui.enabled=false",
               "--conf", f"spark.sql.warehouse.dir={folder / 'warehouse'}", "spark-internal"]
    log = folder / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=folder,
                                  env={**os.environ, "SPARK_HOME": str(home)},
                                  start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                pytest.fail(f"the Spark Connect server exited: {log.read_text()[-2000:]}")
            try:
                socket.create_connection(("localhost", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"no Spark Connect server on port {port} after 180 s")
                time.sleep(1)
        yield f"sc://localhost:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def _connect_client() -> bool:
    try:
        import grpc  # noqa: F401  (pyspark[connect])
    except ImportError:
        if os.environ.get("PPX_REQUIRE_SPARK"):
            raise
        return False
    return True


def test_ppx_report_over_spark_connect_gives_duckdbs_metrics(connect_server, tmp_path):
    """``ppx report --source sc://localhost:PORT`` on the sample's orders as Parquet: the
    manifest's metrics equal those of the DuckDB run on the same file."""
    import json
    import subprocess
    import sys

    from ppxlib.datasets import sample_path
    from ppxlib.report import default_notebook_dir

    files = tmp_path / "files"
    files.mkdir()
    # Written by DuckDB: microsecond timestamps (Spark 4 refuses pandas' nanosecond ones).
    ppxlib.open(sample_path()).orders.to_parquet(files / "orders.parquet")
    common = ["--notebook", str(default_notebook_dir() / "00_overview.ipynb"),
              "--month", "2026-10", "--as-of", AS_OF.isoformat(), "--quiet"]

    def ppx_report(*args: str) -> None:  # its own process: this one has a classic session
        run = subprocess.run([sys.executable, "-m", "ppxlib.cli", "report", *args, *common],
                             capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stderr[-2000:]

    ppx_report("--source", connect_server, "--out", str(tmp_path / "sc"),
               "--table", f"orders={files / 'orders.parquet'}")
    ppx_report("--source", str(files), "--out", str(tmp_path / "duckdb"))
    on_connect, on_duckdb = (json.loads((tmp_path / run / "2026-10" / "manifest.json")
                                        .read_text()) for run in ("sc", "duckdb"))
    assert on_connect["parameters"]["source"] == connect_server
    metrics = [[nb["metrics"] for nb in m["notebooks"]] for m in (on_connect, on_duckdb)]
    assert metrics[0] == metrics[1] and metrics[0][0]["orders"] > 100  # orders in the month
