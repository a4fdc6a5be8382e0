"""ppxlib.open: every accepted kind of source gives the same tables."""

from __future__ import annotations

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
