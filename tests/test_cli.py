"""The ppx command line: validate, sample, report."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

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


def _one_line(err: str) -> str:
    """The single line a failing command printed (no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("label", ["../../v", "..", ".", "", "/abs/dir", "a/b", "a\\b",
                                   ".run-1", " x", "x\x1b[2J", "index.html"])
def test_a_label_is_one_plain_folder_name(shop_folder, tmp_path, capsys, label):
    keep = tmp_path / "v" / "keep"
    keep.mkdir(parents=True)
    out = tmp_path / "a" / "b" / "out"
    code = main(["report", "--source", str(shop_folder), "--out", str(out), "--label", label,
                 "--quiet"])
    assert code == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("ppx report: --label must be one plain folder name")
    assert "\x1b" not in line
    assert keep.is_dir() and not out.exists()


def test_out_must_be_a_folder_of_its_own(shop_folder, tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    a_file = tmp_path / "report.txt"
    a_file.write_text("not a folder")
    for out, says in (("/", "root of the file system"), (str(home), "home folder"),
                      (str(shop_folder), "inside the source folder"),
                      (str(shop_folder / "reports"), "inside the source folder"),
                      (str(a_file), "is a file")):
        assert main(["report", "--source", str(shop_folder), "--out", out, "--quiet"]) == 2
        assert says in _one_line(capsys.readouterr().err), out
    assert a_file.read_text() == "not a folder" and list(home.iterdir()) == []
    assert sorted(p.name for p in shop_folder.iterdir()) == [
        "orders.csv", "returns.csv", "surveys.csv", "tickets.csv"]


def test_a_month_folder_ppx_did_not_make_is_never_replaced(shop_folder, tmp_path, capsys):
    budget = tmp_path / "out" / "2025-03" / "budget.xlsx"
    budget.parent.mkdir(parents=True)
    budget.write_bytes(b"numbers")
    code = main(["report", "--source", str(shop_folder), "--out", str(tmp_path / "out"),
                 "--month", "2025-03", "--quiet"])
    assert code == 2
    line = _one_line(capsys.readouterr().err)
    assert f"{budget.parent} exists and ppx did not make it" in line
    assert budget.read_bytes() == b"numbers"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["2025-03"]


def test_table_is_refused_for_a_folder_source(shop_folder, tmp_path, capsys):
    code = main(["report", "--source", str(shop_folder), "--out", str(tmp_path / "out"),
                 "--table", "orders=sales", "--quiet"])
    assert code == 2
    assert "the tables of a folder are its files" in _one_line(capsys.readouterr().err)


def test_validate_escapes_control_characters_from_the_data(shop_folder, capsys):
    orders = pd.read_csv(shop_folder / "orders.csv")
    orders.loc[1, "amount"] = -5  # excluded: shown as an example row
    orders["customer_id"] = orders["customer_id"].astype(str)
    orders.loc[1, "customer_id"] = "evil\x1b[2J\x07\u202e"
    orders.to_csv(shop_folder / "orders.csv", index=False)
    assert main(["validate", str(shop_folder), "--as-of", "2026-01-01"]) == 0
    out = capsys.readouterr().out
    assert "1 row: amount is negative" in out
    assert "evil\\x1b[2J\\x07\\u202e" in out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out


def test_validate_exits_2_when_every_order_is_excluded(shop_folder, capsys):
    orders = pd.read_csv(shop_folder / "orders.csv")
    orders["amount"] = -1.0
    orders.to_csv(shop_folder / "orders.csv", index=False)
    assert main(["validate", str(shop_folder), "--as-of", "2026-01-01"]) == 2
    captured = capsys.readouterr()
    assert "amount is negative" in captured.out
    line = _one_line(captured.err)
    assert line.startswith(f"ppx validate: every order was excluded ({len(orders):,} of "
                           f"{len(orders):,} rows read)")


def test_a_file_that_is_no_database_is_bad_input(tmp_path, capsys):
    fake = tmp_path / "shop.duckdb"
    fake.write_text("order_id,amount\n1,2\n")
    assert main(["validate", str(fake)]) == 2
    assert "not a DuckDB database" in _one_line(capsys.readouterr().err)
    out = tmp_path / "out"
    assert main(["report", "--source", str(fake), "--out", str(out), "--quiet"]) == 2
    assert "not a DuckDB database" in _one_line(capsys.readouterr().err)


def test_a_database_that_refuses_the_connection_is_an_environment_error(tmp_path, capsys):
    import duckdb

    path = tmp_path / "shop.duckdb"
    duckdb.connect(str(path)).execute("CREATE TABLE orders AS SELECT 1 AS order_id").close()
    holder = subprocess.Popen(  # another process holds the write lock
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); "
                               "print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["report", "--source", str(path), "--out", str(tmp_path / "o"),
                     "--quiet"]) == 1
        assert "cannot reach the source" in _one_line(capsys.readouterr().err)
    finally:
        holder.kill()
        holder.wait()
    # a warehouse URL: without its driver, or with nothing listening on the port
    assert main(["validate", "postgres://ann:hunter2@localhost:1/shop"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert "hunter2" not in line


def test_an_unexpected_error_is_one_line_unless_debugging(monkeypatch, tmp_path, capsys):
    import ppxlib.report

    def broken(*args, **kwargs):
        raise RuntimeError("something odd\nsecond line")

    monkeypatch.setattr(ppxlib.report, "run_report", broken)
    args = ["report", "--source", str(tmp_path), "--out", str(tmp_path / "o")]
    assert main(args) == 1
    assert _one_line(capsys.readouterr().err) == (
        "ppx report: unexpected error: RuntimeError: something odd (set PPX_DEBUG=1 for the "
        "traceback)")
    monkeypatch.setenv("PPX_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(args)


def test_terminal_text_escapes_what_a_terminal_would_act_on():
    from ppxlib.cli import terminal_text

    assert terminal_text("a\x1b[31mb\x00c\rd\x9be\u202ef") == (
        "a\\x1b[31mb\\x00c\\x0dd\\x9be\\u202ef")
    assert terminal_text("one\ntwo") == "one\\ntwo"
    assert terminal_text("one\ntwo\x1b", newlines=True) == "one\ntwo\\x1b"


def test_a_driver_refusing_the_connection_is_an_environment_error(monkeypatch, tmp_path,
                                                                  capsys):
    import ppxlib.report

    class OperationalError(Exception):  # what DB-API drivers raise for a refused connection
        pass

    def refused(*args, **kwargs):
        raise OperationalError('connection to server at "localhost", port 1 failed: '
                               "Connection refused\n\tIs the server running?")

    monkeypatch.setattr(ppxlib.report, "run_report", refused)
    assert main(["report", "--source", "postgres://localhost:1/x", "--out",
                 str(tmp_path / "o")]) == 1
    assert _one_line(capsys.readouterr().err) == (
        'ppx report: cannot reach the source: connection to server at "localhost", port 1 '
        "failed: Connection refused")


@pytest.mark.parametrize(("given", "notebooks", "says"), [
    ("horizn_months=24", [], "--param horizn_months: no report has a parameter 'horizn_months'"),
    ("horizon_months=two", [], "--param horizon_months=two: horizon_months takes a whole "
                               "number (the default in 00_briefing is 12)"),
    ("horizon_months=24.5", [], "horizon_months takes a whole number"),
    ("monthly_discount_rate=a lot", [], "monthly_discount_rate takes a number"),
    ("ces_higher_is_better=maybe", [], "ces_higher_is_better takes True or False"),
    ("currency", [], "--param takes NAME=VALUE"),
    ("month=2026-10", [], "--param month: ppx report sets month itself (use --month)"),
    ("redact=True", [], "(use --redact)"),
    # a parameter of a report that is not run is unknown for this run
    ("horizon_months=24", ["00_overview"], "no report has a parameter 'horizon_months'"),
])
def test_a_wrong_param_is_one_line_naming_it_and_listing_the_valid_ones(
        shop_folder, tmp_path, capsys, given, notebooks, says):
    from ppxlib.report import default_notebook_dir

    out = tmp_path / "out"
    chosen = [a for n in notebooks for a in ("--notebook", str(default_notebook_dir() /
                                                                f"{n}.ipynb"))]
    code = main(["report", "--source", str(shop_folder), "--out", str(out), "--param", given,
                 "--quiet", *chosen])
    assert code == 2
    line = _one_line(capsys.readouterr().err)
    assert says in line, line
    if "NAME=VALUE" not in says:
        valid = line.split("valid parameters: ")[1].split(", ")
        assert "currency" in valid and "sleeping_days" in valid
        assert ("horizon_months" in valid) == (not notebooks)
        assert not {"metrics_path", "month", "source", "redact"} & set(valid)  # ppx sets those
    assert not out.exists()  # refused before any report was touched


def _commands():
    import argparse

    from ppxlib.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, sub.choices


def test_every_option_says_its_default_or_that_it_is_required():
    import argparse

    _parser, commands = _commands()
    assert set(commands) == {"report", "sample", "validate"}
    for name, command in commands.items():
        page = " ".join(command.format_help().split())  # unwrapped
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            what = f"ppx {name} {action.option_strings or action.dest}"
            assert action.help and action.help.strip(), what
            text = action.help.lower()
            assert "default" in text or "required" in text, what
            assert ("required" in text) == (action.required or not action.option_strings), what
            if action.default not in (None, False):  # the value itself is shown
                assert f"(default: {action.default})" in page, what


def test_every_help_ends_with_example_command_lines():
    parser, commands = _commands()
    for name, command in [("ppx", parser), *commands.items()]:
        page = command.format_help()
        examples = page.split("Examples:\n", 1)[1].splitlines()
        lines = [line.split("#")[0].strip() for line in examples if line.startswith("  ppx")]
        assert 2 <= len(lines) <= 4, name
        for line in lines:  # each example parses, with the command it illustrates
            args = parser.parse_args(line.split()[1:])
            assert name == "ppx" or args.command == name, line
    top = parser.format_help()
    assert all(f"    {c}" in top for c in commands)  # the commands, with their summaries


def test_help_does_not_import_the_data_stack():
    """``ppx --help`` stays quick: no pandas, ibis, DuckDB, numpy or pyarrow behind it."""
    code = ("import sys, ppxlib.cli; ppxlib.cli.build_parser().format_help(); "
            "print(sorted(m for m in ('pandas','ibis','duckdb','numpy','pyarrow') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_the_public_names_still_import_from_the_package():
    code = ("import ppxlib; from ppxlib import open, ContractError, CONTRACT; "
            "from ppxlib.contract import ContractError as C; "
            "assert ContractError is C and callable(open) and 'orders' in CONTRACT; "
            "assert all(getattr(ppxlib, n) is not None for n in ppxlib.__all__); "
            "print(sorted(ppxlib.__all__))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == str(sorted([
        "CONTRACT", "CleanDataset", "ContractError", "Dataset", "open", "__version__",
        "cohort_retention", "period_metrics", "rfm_scores", "rfm_summary", "fit_clv", "nps",
        "csat", "ces"]))


@pytest.mark.parametrize("given", ["04_experiance", "04_experiance.ipynb", "nope/04.ipynb"])
def test_an_unknown_report_name_is_one_line_listing_the_reports(shop_folder, tmp_path, capsys,
                                                                given):
    from ppxlib.report import default_notebook_dir

    names = sorted(p.stem for p in default_notebook_dir().glob("[0-9]*.ipynb"))
    assert {"00_overview", "04_experience"} <= set(names)
    out = tmp_path / "out"
    code = main(["report", "--source", str(shop_folder), "--out", str(out),
                 "--notebook", "00_overview", "--notebook", given])
    assert code == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"ppx report: --notebook {given}: no such report")
    assert line.endswith(f"reports: {', '.join(names)}")
    assert not out.exists()  # refused before the source was read or anything written
