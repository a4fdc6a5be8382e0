"""ppxlib.open: every accepted kind of source gives the same tables."""

from __future__ import annotations

import io
import os

import ibis
import pandas as pd
import pytest

import ppxlib
from ppxlib.kpis import headline_kpis, monthly_activity
from ppxlib.simulate import simulate_shop
from ppxlib.sources import mask_secrets

from conftest import AS_OF


@pytest.fixture(scope="module")
def shop():
    return simulate_shop(customers=300, seed=7, start="2024-01-01", end="2025-01-01")


def _kpis(dataset) -> pd.DataFrame:
    clean = dataset.validate(as_of=AS_OF)
    return headline_kpis(clean.orders, "2024-11")


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_folder_gives_the_same_kpis_as_frames(shop, tmp_path, fmt):
    shop.write(tmp_path, fmt=fmt)
    from_folder = _kpis(ppxlib.open(tmp_path))
    from_frames = _kpis(ppxlib.open(shop.tables()))
    pd.testing.assert_frame_equal(from_folder, from_frames)
    assert from_frames.set_index("kpi").at["orders", "value"] > 0


def test_folder_reads_every_contract_table_and_keeps_text_ids(tmp_path):
    pd.DataFrame({"order_id": ["007", "008"], "customer_id": ["0042", "0042"],
                  "order_ts": ["2024-01-01", "2024-01-02"], "amount": [1, 2]}).to_csv(
        tmp_path / "orders.csv", index=False)
    ds = ppxlib.open(tmp_path)
    assert ds.returns is None and ds.surveys is None and ds.tickets is None
    assert sorted(ds.orders.to_pandas().order_id) == ["007", "008"]


def _setting(dataset, name: str) -> str:
    return dataset.backend.raw_sql(f"SELECT current_setting('{name}')").fetchone()[0]


def test_duckdb_memory_is_capped_and_spills_to_a_private_folder(shop, tmp_path, monkeypatch):
    shop.write(tmp_path, fmt="parquet")
    monkeypatch.delenv("PPX_DUCKDB_MEMORY_LIMIT", raising=False)
    folder = ppxlib.open(tmp_path)
    assert _setting(folder, "memory_limit") == "953.6 MiB"  # 1GB, as DuckDB prints it
    assert _setting(folder, "temp_directory").endswith(f"ppx-duckdb-{os.getpid()}")
    assert _setting(ppxlib.open(shop.tables()), "memory_limit") == "953.6 MiB"

    monkeypatch.setenv("PPX_DUCKDB_MEMORY_LIMIT", "3GB")
    assert _setting(ppxlib.open(tmp_path), "memory_limit") == "2.7 GiB"

    monkeypatch.setenv("PPX_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError, match="PPX_DUCKDB_MEMORY_LIMIT='lots' is not a size"):
        ppxlib.open(tmp_path)


def test_duckdb_threads_follow_the_environment(shop, monkeypatch):
    monkeypatch.setenv("PPX_DUCKDB_THREADS", "1")
    assert _setting(ppxlib.open(shop.tables()), "threads") == 1
    monkeypatch.delenv("PPX_DUCKDB_THREADS")
    assert _setting(ppxlib.open(shop.tables()), "threads") == os.cpu_count()
    monkeypatch.setenv("PPX_DUCKDB_THREADS", "0")
    with pytest.raises(ValueError, match="PPX_DUCKDB_THREADS='0' is not a whole number"):
        ppxlib.open(shop.tables())


def test_folder_without_orders_is_a_clear_error(tmp_path):
    (tmp_path / "returns.csv").write_text("order_id,return_ts\n1,2024-01-01\n")
    with pytest.raises(FileNotFoundError, match="no orders table"):
        ppxlib.open(tmp_path)


def test_two_files_for_one_table_is_ambiguous(tmp_path, shop):
    shop.write(tmp_path, fmt="csv")
    shop.orders.to_parquet(tmp_path / "orders.parquet")
    with pytest.raises(ValueError, match="several files for table 'orders'"):
        ppxlib.open(tmp_path)


def test_duckdb_file_backend_and_url_give_the_same_kpis(shop, tmp_path):
    path = tmp_path / "shop.duckdb"
    con = ibis.duckdb.connect(str(path))
    for name, frame in shop.tables().items():
        con.create_table(name, frame)
    con.disconnect()
    expected = _kpis(ppxlib.open(shop.tables()))
    pd.testing.assert_frame_equal(_kpis(ppxlib.open(path)), expected)
    pd.testing.assert_frame_equal(_kpis(ppxlib.open(f"duckdb://{path}")), expected)
    backend = ibis.duckdb.connect(str(path), read_only=True)
    pd.testing.assert_frame_equal(_kpis(ppxlib.open(backend)), expected)


def test_backend_with_other_table_names(shop):
    con = ibis.duckdb.connect()
    con.create_table("shop_orders", shop.orders)
    ds = ppxlib.open(con, tables={"orders": "shop_orders"})
    assert ds.orders.count().execute() == len(shop.orders)


def test_env_source_reads_the_variable(shop, tmp_path, monkeypatch):
    shop.write(tmp_path)
    monkeypatch.setenv("SHOP_SOURCE", str(tmp_path))
    assert ppxlib.open("env:SHOP_SOURCE").orders.count().execute() == len(shop.orders)
    monkeypatch.delenv("SHOP_SOURCE")
    with pytest.raises(ValueError, match=r"\$SHOP_SOURCE, which is not set"):
        ppxlib.open("env:SHOP_SOURCE")


def test_unknown_frame_names_and_missing_sources_are_errors(shop):
    with pytest.raises(ValueError, match="unknown table name"):
        ppxlib.open({"orders": shop.orders, "order_lines": shop.orders})
    with pytest.raises(ValueError, match="no 'orders' frame"):
        ppxlib.open({"returns": shop.returns})
    with pytest.raises(FileNotFoundError, match="source not found"):
        ppxlib.open("/nonexistent/folder")
    with pytest.raises(TypeError):
        ppxlib.open(42)


def test_validate_is_computed_once_per_as_of(shop):
    ds = ppxlib.open(shop.tables())
    assert ds.validate(as_of=AS_OF) is ds.validate(as_of=AS_OF)


def test_mask_secrets_hides_passwords_and_tokens():
    assert mask_secrets("postgres://ann:s3cret@db/shop") == "postgres://ann:***@db/shop"
    assert "abc" not in mask_secrets("snowflake://u@acct/db?password=abc&warehouse=w")
    assert (mask_secrets("duckdb://x.db?secret_token=h2&threads=1")
            == "duckdb://x.db?secret_token=***&threads=1")
    assert mask_secrets("data/sample") == "data/sample"


def test_monthly_activity_is_identical_across_sources(shop, tmp_path):
    shop.write(tmp_path, fmt="parquet")
    a = monthly_activity(ppxlib.open(tmp_path).validate(as_of=AS_OF).orders)
    b = monthly_activity(ppxlib.open(shop.tables()).validate(as_of=AS_OF).orders)
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- issue 17

ORDERS_CSV = "order_id,customer_id,order_ts,amount\n1,a,2025-01-02,10.5\n2,b,2025-01-03,20\n"


def test_a_parquet_file_below_a_folder_named_like_a_column_keeps_its_values(tmp_path):
    source = tmp_path / "amount=0" / "region=HUNTER2"
    source.mkdir(parents=True)
    pd.read_csv(io.StringIO(ORDERS_CSV)).to_parquet(source / "orders.parquet")
    clean = ppxlib.open(source).validate(as_of=AS_OF)
    orders = clean.orders.to_pandas()
    assert sorted(orders.amount) == [10.5, 20.0]
    assert "region" not in orders.columns


def test_a_table_path_given_to_a_backend_is_not_hive_partitioned(tmp_path):
    folder = tmp_path / "amount=0"
    folder.mkdir()
    (folder / "orders.csv").write_text(ORDERS_CSV)
    ds = ppxlib.open(ibis.duckdb.connect(), tables={"orders": str(folder / "orders.csv")})
    assert sorted(ds.orders.to_pandas().amount) == [10.5, 20.0]


def test_a_partition_key_also_inside_the_files_is_structural(tmp_path):
    part = tmp_path / "orders" / "amount=0"
    part.mkdir(parents=True)
    pd.read_csv(io.StringIO(ORDERS_CSV)).to_parquet(part / "part-0.parquet")
    from ppxlib.contract import ContractError

    with pytest.raises(ContractError) as err:
        ppxlib.open(tmp_path)
    assert "orders.amount: given both as a column in the files and as folder names" in str(
        err.value)


def _unreadable(monkeypatch, path):
    import builtins

    real = builtins.open

    def refuse(file, *args, **kwargs):
        if os.fspath(file) == os.fspath(path):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refuse)


def test_an_unreadable_optional_file_is_a_one_line_error(tmp_path, monkeypatch):
    from ppxlib.contract import ContractError

    (tmp_path / "orders.csv").write_text(ORDERS_CSV)
    (tmp_path / "returns.csv").write_text("order_id,return_ts\n1,2025-01-09\n")
    _unreadable(monkeypatch, tmp_path / "returns.csv")  # tests may run as root: chmod is moot
    with pytest.raises(ContractError, match="returns: the file returns.csv cannot be read: "
                                            "permission denied"):
        ppxlib.open(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_file_without_read_permission_is_a_one_line_error(tmp_path):
    from ppxlib.contract import ContractError

    (tmp_path / "orders.csv").write_text(ORDERS_CSV)
    (tmp_path / "returns.csv").write_text("order_id,return_ts\n1,2025-01-09\n")
    (tmp_path / "returns.csv").chmod(0)
    with pytest.raises(ContractError, match="permission denied"):
        ppxlib.open(tmp_path)


def test_an_over_long_line_in_orders_names_its_real_line_and_size(tmp_path):
    from ppxlib.contract import ContractError

    long = "3,c,2025-01-04," + "9" * 2_100_000
    (tmp_path / "orders.csv").write_text(ORDERS_CSV + long + "\n4,d,2025-01-05,1\n")
    with pytest.raises(ContractError) as err:
        ppxlib.open(tmp_path).validate(as_of=AS_OF)
    assert f"line 4 of orders.csv is {len(long):,} bytes long, more than the 2,000,000" in str(
        err.value)


def test_an_over_long_line_found_only_when_validating_costs_one_row(tmp_path):
    # Far below the rows the engine samples when it opens the file, so it is found later.
    (tmp_path / "orders.csv").write_text(ORDERS_CSV)
    rows = [f"c{i},2025-01-05,nps,{i % 11},ok" for i in range(30_000)]
    rows.insert(25_000, "b,2025-01-05,nps,1," + "x" * 2_100_000)
    (tmp_path / "surveys.csv").write_text(
        "customer_id,response_ts,metric,score,comment\n" + "\n".join(rows) + "\n")
    clean = ppxlib.open(tmp_path).validate(as_of=AS_OF)
    ex = clean.quality.exclusions.set_index("rule")
    assert ex.at["line_too_long", "rows"] == 1
    assert clean.quality.examples[("surveys", "line_too_long")].line.tolist() == [25_002]
    assert clean.surveys.count().execute() == 30_000


def test_a_snapshot_keeps_the_adjustments(tmp_path):
    from ppxlib.snapshot import read_snapshot, write_snapshot

    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "orders.csv").write_text(
        "order_id,customer_id,order_ts,amount,status\n1, a,2025-01-02,10,on hold\n")
    ds = ppxlib.open(tmp_path / "shop")
    clean = ds.validate(as_of=AS_OF)
    write_snapshot(ds, clean, tmp_path / "snap")
    again = read_snapshot(tmp_path / "snap").validate()
    pd.testing.assert_frame_equal(again.quality.adjustments, clean.quality.adjustments)
    assert set(again.quality.adjustments.rule) == {"unknown_status", "padded_customer_id"}
