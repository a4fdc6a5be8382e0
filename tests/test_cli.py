"""The ppx command line: validate, sample, report."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd

from ppxlib.cli import main


def test_validate_exits_nonzero_naming_the_missing_column(shop_folder, capsys):
    orders = pd.read_csv(shop_folder / "orders.csv").drop(columns="amount")
    orders.to_csv(shop_folder / "orders.csv", index=False)
    assert main(["validate", str(shop_folder)]) == 2
    err = capsys.readouterr().err
    assert "orders.amount" in err and "required column is missing" in err


def test_validate_prints_the_tally_and_exits_zero_on_row_problems(shop_folder, capsys):
    orders = pd.read_csv(shop_folder / "orders.csv")
    orders.loc[1, "amount"] = -5
    pd.concat([orders, orders.head(1)]).to_csv(shop_folder / "orders.csv", index=False)
    assert main(["validate", str(shop_folder), "--as-of", "2026-01-01"]) == 0
    out = capsys.readouterr().out
    assert "1 row: amount is negative [negative_amount]" in out
    assert "1 row: exact copy of an earlier row (one copy kept) [duplicate_row]" in out
    assert main(["validate", str(shop_folder), "--as-of", "2026-01-01", "--json"]) == 0
    tally = json.loads(capsys.readouterr().out)
    assert {e["rule"] for e in tally["exclusions"]} == {"negative_amount", "duplicate_row"}


def test_validate_a_missing_source(capsys, tmp_path):
    assert main(["validate", str(tmp_path / "nope")]) == 2
    assert "source not found" in capsys.readouterr().err


def test_validate_out_of_duckdb_memory_says_how_to_raise_the_cap(shop_folder, capsys,
                                                                  monkeypatch):
    monkeypatch.setenv("PPX_DUCKDB_MEMORY_LIMIT", "10MB")
    assert main(["validate", str(shop_folder), "--as-of", "2026-01-01"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ppx validate: DuckDB ran out of memory (Out of Memory Error")
    assert "PPX_DUCKDB_MEMORY_LIMIT=8GB" in err


def test_sample_writes_tables_and_truth(tmp_path, capsys):
    assert main(["sample", "--customers", "50", "--seed", "3", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"orders.csv", "returns.csv", "surveys.csv",
                                                    "tickets.csv", "truth.json"}
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["seed"] == 3 and truth["parameters"]["r"] == 0.55


def test_report_exits_nonzero_on_a_structurally_broken_source(shop_folder, tmp_path, capsys):
    orders = pd.read_csv(shop_folder / "orders.csv").drop(columns="order_ts")
    orders.to_csv(shop_folder / "orders.csv", index=False)
    code = main(["report", "--source", str(shop_folder), "--out", str(tmp_path / "r")])
    assert code == 2
    assert "orders.order_ts" in capsys.readouterr().err


def test_report_rejects_a_malformed_month(shop_folder, tmp_path, capsys):
    code = main(["report", "--source", str(shop_folder), "--month", "March",
                 "--out", str(tmp_path / "r")])
    assert code == 2 and "YYYY-MM" in capsys.readouterr().err


def test_ppx_is_installed_as_a_command():
    done = subprocess.run([sys.executable, "-m", "ppxlib.cli", "--help"], capture_output=True,
                          text=True, check=True)
    assert "report" in done.stdout and "validate" in done.stdout and "sample" in done.stdout
