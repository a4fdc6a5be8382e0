"""The ``ppx`` command: ``ppx report``, ``ppx sample``, ``ppx validate``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def _report(args: argparse.Namespace) -> int:
    import duckdb

    from ppxlib.contract import ContractError
    from ppxlib.report import run_report
    from ppxlib.sources import out_of_memory_message

    try:
        result = run_report(
            args.source, out=args.out, month=args.month, label=args.label,
            notebooks=args.notebook or None, as_of=args.as_of, redact=args.redact,
            timeout=args.timeout, progress=not args.quiet, snapshot=not args.no_snapshot,
            workers=args.workers, tables=_tables(args.table),
        )
    except ContractError as err:
        print(f"ppx report: {err}", file=sys.stderr)
        return EXIT_INVALID
    except (FileNotFoundError, ValueError) as err:
        print(f"ppx report: {err}", file=sys.stderr)
        return EXIT_INVALID
    except duckdb.OutOfMemoryException as err:
        print(f"ppx report: {out_of_memory_message(str(err))}", file=sys.stderr)
        return EXIT_FAILED
    index = Path(args.out) / "index.html"
    print(f"{result.folder}  ({len(result.notebooks)} reports)\nindex: {index}")
    if result.failed:
        print(f"ppx report: failed: {', '.join(result.failed)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _tables(pairs: list[str] | None) -> dict[str, str] | None:
    """``["orders=shop.orders", ...]`` as a dict; a pair without ``=`` is an error."""
    if not pairs:
        return None
    bad = [p for p in pairs if "=" not in p]
    if bad:
        raise SystemExit(f"ppx report: --table takes NAME=TABLE_OR_PATH, got {bad[0]!r}")
    return dict(p.split("=", 1) for p in pairs)


def _sample(args: argparse.Namespace) -> int:
    from ppxlib.simulate import INJECTED_DEFECTS, inject_defects, simulate_shop

    shop = simulate_shop(customers=args.customers, seed=args.seed, start=args.start,
                         end=args.end)
    tables = inject_defects(shop, seed=args.seed) if args.defects else None
    written = shop.write(args.out, fmt=args.format, tables=tables)
    truth = shop.truth()
    if args.defects:
        truth["injected_defects"] = [{"table": t, "rule": r, "rows": n}
                                     for (t, r), n in INJECTED_DEFECTS.items()]
    (Path(args.out) / "truth.json").write_text(json.dumps(truth, indent=2))
    for path in written:
        print(path)
    print(f"{len(shop.orders):,} orders of {args.customers:,} customers; truth in "
          f"{Path(args.out) / 'truth.json'}")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    import duckdb

    import ppxlib
    from ppxlib.contract import ContractError
    from ppxlib.sources import out_of_memory_message

    try:
        clean = ppxlib.open(args.source).validate(as_of=args.as_of)
    except ContractError as err:
        print(f"ppx validate: {err}", file=sys.stderr)
        return EXIT_INVALID
    except (FileNotFoundError, ValueError, TypeError) as err:
        print(f"ppx validate: {err}", file=sys.stderr)
        return EXIT_INVALID
    except duckdb.OutOfMemoryException as err:
        print(f"ppx validate: {out_of_memory_message(str(err))}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(clean.quality.to_dict(), indent=2))
    else:
        print(clean.quality.to_text())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ppx", description="Post-purchase experience workbook: reports from shop data."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    rep = sub.add_parser("report", help="run every report notebook for a month, render HTML")
    rep.add_argument("--source", required=True,
                     help="folder of table files, .duckdb file, connection URL, Spark URL "
                          "(sc://host:15002, spark:local[2]), or env:VAR")
    rep.add_argument("--month", help="YYYY-MM (default: last complete month in the data)")
    rep.add_argument("--out", default="reports", help="output folder (default: reports)")
    rep.add_argument("--label", help="folder name for this run (default: the month)")
    rep.add_argument("--notebook", action="append", help="run only this notebook (repeatable)")
    rep.add_argument("--as-of", help="timestamps after this count as future (default: now)")
    rep.add_argument("--redact", action="store_true", help="hide customer ids and free text")
    rep.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    rep.add_argument("--quiet", action="store_true", help="no progress lines")
    rep.add_argument("--table", action="append", metavar="NAME=WHERE",
                     help="where a table lives when it is not under its own name: a table, "
                          "database.table or a path (repeatable; warehouses and Spark)")
    rep.add_argument("--workers", type=int,
                     help="notebooks run at once, each in its own kernel (default 2)")
    rep.add_argument("--no-snapshot", action="store_true",
                     help="let every notebook read and validate the source itself, instead of "
                          "a validated copy made once for the run (local sources only)")
    rep.set_defaults(func=_report)

    smp = sub.add_parser("sample", help="write a simulated shop with known truth")
    smp.add_argument("--customers", type=int, default=5000)
    smp.add_argument("--seed", type=int, default=42)
    smp.add_argument("--start", default="2023-11-01")
    smp.add_argument("--end", default="2026-11-01", help="exclusive end of the data")
    smp.add_argument("--format", choices=["csv", "csv.gz", "parquet"], default="csv")
    smp.add_argument("--defects", action="store_true",
                     help="add a few typical export defects for the data checks to catch")
    smp.add_argument("--out", required=True)
    smp.set_defaults(func=_sample)

    val = sub.add_parser("validate", help="check a source against the data contract")
    val.add_argument("source")
    val.add_argument("--as-of", help="timestamps after this count as future (default: now)")
    val.add_argument("--json", action="store_true", help="print the tally as JSON")
    val.set_defaults(func=_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
