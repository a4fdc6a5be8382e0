"""The ``ppx`` command: ``ppx report``, ``ppx sample``, ``ppx validate``."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
EXIT_INTERRUPTED = 130  # what shells report for a command ended by Ctrl-C (128 + SIGINT)
#: Set to see the Python traceback of an unexpected error instead of its one-line message.
DEBUG_ENV = "PPX_DEBUG"
#: What a terminal would act on rather than show: C0/C1 controls (ANSI escapes start with
#: ESC), DEL, and bidi overrides that reorder the rest of the line.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: object, newlines: bool = False) -> str:
    r"""Text that came from data or arguments, made safe to print on a terminal.

    Control characters (ANSI escapes, NUL, carriage returns, bidi overrides) are shown as
    escapes such as ``\x1b`` instead of being acted on. Newlines are kept only when
    ``newlines`` (the multi-line tally of ``ppx validate``); else they are escaped too.

    Examples
    --------
    >>> print(terminal_text("red\x1b[31m\x00\nnext"))
    red\x1b[31m\x00\nnext
    """
    def escape(match: re.Match) -> str:
        char = match.group()
        return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"

    text = str(text)
    if newlines:
        return "\n".join(_UNPRINTABLE.sub(escape, line) for line in text.split("\n"))
    return _UNPRINTABLE.sub(escape, text.replace("\n", "\\n"))


def _say(command: str, message: object, newlines: bool = False) -> None:
    print(f"ppx {command}: {terminal_text(message, newlines)}", file=sys.stderr, flush=True)


def _failure(command: str, err: BaseException) -> int:
    """Print a failure as one line (a contract error: its list of problems); the exit code.

    2 for bad input (the source, an argument), 1 for the environment (memory, disk, a
    database that cannot be reached, a missing driver), 130 for Ctrl-C.
    """
    import duckdb

    from ppxlib.contract import ContractError
    from ppxlib.sources import mask_secrets, out_of_memory_message

    def first_line(error: BaseException) -> str:
        lines = str(error).strip().splitlines()
        return mask_secrets(lines[0] if lines else type(error).__name__)

    if isinstance(err, KeyboardInterrupt):
        _say(command, "interrupted: nothing was replaced (reports already in place are as "
                      "they were)")
        return EXIT_INTERRUPTED
    if isinstance(err, ContractError):
        _say(command, mask_secrets(str(err)), newlines=True)
        return EXIT_INVALID
    if isinstance(err, duckdb.OutOfMemoryException):
        _say(command, out_of_memory_message(str(err)))
        return EXIT_FAILED
    if isinstance(err, FileNotFoundError | ValueError | TypeError):
        _say(command, first_line(err))
        return EXIT_INVALID
    if isinstance(err, duckdb.IOException) and "not a valid DuckDB database" in str(err):
        _say(command, f"the source is not a DuckDB database: {first_line(err)}")
        return EXIT_INVALID
    if isinstance(err, duckdb.InvalidInputException | duckdb.ConversionException):
        _say(command, f"the source cannot be read: {first_line(err)}")
        return EXIT_INVALID
    if isinstance(err, ImportError):
        _say(command, f"a driver is missing: {first_line(err)}")
        return EXIT_FAILED
    # DB-API drivers (psycopg, snowflake, ...) name a refused or lost connection this way
    refused = type(err).__name__ in ("OperationalError", "InterfaceError")
    if isinstance(err, duckdb.IOException | ConnectionError) or refused:
        _say(command, f"cannot reach the source: {first_line(err)}")
        return EXIT_FAILED
    if isinstance(err, OSError):
        _say(command, f"{first_line(err)} (nothing was replaced: reports already in place are "
                      "as they were)")
        return EXIT_FAILED
    if os.environ.get(DEBUG_ENV):
        raise err
    _say(command, f"unexpected error: {type(err).__name__}: {first_line(err)} "
                  f"(set {DEBUG_ENV}=1 for the traceback)")
    return EXIT_FAILED


def _report(args: argparse.Namespace) -> int:
    from ppxlib.report import run_report

    try:
        result = run_report(
            args.source, out=args.out, month=args.month, label=args.label,
            notebooks=args.notebook or None, as_of=args.as_of, redact=args.redact,
            timeout=args.timeout, progress=not args.quiet, snapshot=not args.no_snapshot,
            workers=args.workers, tables=_tables(args.table), params=_params(args.param),
        )
    except (Exception, KeyboardInterrupt) as err:
        return _failure("report", err)
    index = Path(args.out) / "index.html"
    count = len(result.notebooks)
    print(terminal_text(f"{result.folder}  ({count} report{'' if count == 1 else 's'})"))
    print(terminal_text(f"index: {index}"))
    if result.failed:
        _say("report", f"failed: {', '.join(result.failed)}")
        return EXIT_FAILED
    return EXIT_OK


def _tables(pairs: list[str] | None) -> dict[str, str] | None:
    """``["orders=shop.orders", ...]`` as a dict; a pair without ``=`` is an error."""
    if not pairs:
        return None
    bad = [p for p in pairs if "=" not in p]
    if bad:
        raise ValueError(f"--table takes NAME=TABLE_OR_PATH, got {bad[0]!r}")
    return dict(p.split("=", 1) for p in pairs)


def _params(pairs: list[str] | None) -> dict[str, str] | None:
    """``["currency=€", "horizon_months=24"]`` as a dict of texts (typed by the runner).

    Examples
    --------
    >>> _params(["currency=€", "note=a=b"])
    {'currency': '€', 'note': 'a=b'}
    """
    if not pairs:
        return None
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ValueError(f"--param takes NAME=VALUE (e.g. --param currency=€), got {pair!r}")
        if name in found and found[name] != value:
            raise ValueError(f"--param {name} is given twice ({found[name]!r} and {value!r}): "
                             "give it once")
        found[name] = value
    return found


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
    import ppxlib
    from ppxlib.report import no_orders_left

    try:
        clean = ppxlib.open(args.source).validate(as_of=args.as_of)
    except (Exception, KeyboardInterrupt) as err:
        return _failure("validate", err)
    if args.json:  # json.dumps escapes control characters itself
        print(json.dumps(clean.quality.to_dict(), indent=2))
    else:
        print(terminal_text(clean.quality.to_text(), newlines=True))
    problem = no_orders_left(clean.quality)
    if problem:
        _say("validate", problem)
        return EXIT_INVALID
    return EXIT_OK


#: Each command's help ends with these command lines (argparse epilogs, shown as written).
EXAMPLES = {
    "ppx": """\
Examples:
  ppx sample --out data/shop                       # a simulated shop to try ppx on
  ppx validate data/shop                           # what the data checks would exclude
  ppx report --source data/shop --out reports      # every report for the last month

'ppx COMMAND --help' lists a command's options.""",
    "report": """\
Examples:
  ppx report --source data/sample --out reports/sample
  ppx report --source shop.duckdb --month 2026-10 --notebook 04_experience
  ppx report --source env:SHOP_DB_URL --redact --label 2026-10-shared
  ppx report --source sc://spark-host:15002 --table orders=shop.orders""",
    "sample": """\
Examples:
  ppx sample --out data/shop
  ppx sample --customers 100000 --seed 7 --format parquet --out data/big
  ppx sample --defects --out data/messy""",
    "validate": """\
Examples:
  ppx validate data/sample
  ppx validate shop.duckdb --as-of 2026-11-01 --json""",
}


def _command(sub, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=summary, description=description,
                          epilog=EXAMPLES[name],
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    """The ``ppx`` argument parser: every option's help states its default or "required".

    Examples
    --------
    >>> build_parser().parse_args(["validate", "data/sample"]).source
    'data/sample'
    """
    parser = argparse.ArgumentParser(
        prog="ppx", description="Post-purchase experience workbook: reports from shop data.",
        epilog=EXAMPLES["ppx"], formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rep = _command(sub, "report", "run every report notebook for a month, render HTML",
                   "Validate the source once, run the report notebooks for one month with\n"
                   "papermill, and render them as HTML under --out with an index page.")
    rep.add_argument("--source", required=True,
                     help="required: folder of table files, .duckdb file, connection URL, "
                          "Spark URL (sc://host:15002, spark:local[2]), or env:VAR")
    rep.add_argument("--month", metavar="YYYY-MM",
                     help="the month to report (default: the last complete month in the data)")
    rep.add_argument("--out", default="reports",
                     help="output folder (default: %(default)s)")
    rep.add_argument("--label", help="folder name for this run (default: the month)")
    rep.add_argument("--notebook", action="append", metavar="NAME_OR_PATH",
                     help="run only this report: a name such as 04_experience (from the "
                          "notebooks/ folder) or a path to an .ipynb file; repeatable "
                          "(default: every report)")
    rep.add_argument("--as-of", metavar="WHEN",
                     help="timestamps after this count as future (default: now)")
    rep.add_argument("--redact", action="store_true",
                     help="replace customer ids by pseudonyms and cut free text to excerpts "
                          "(default: off)")
    rep.add_argument("--timeout", type=int, default=600, metavar="SECONDS",
                     help="seconds a single cell may run (default: %(default)s)")
    rep.add_argument("--quiet", action="store_true",
                     help="no progress lines on stderr (default: off: one line per report, "
                          "and what a long report is computing every 10 s)")
    rep.add_argument("--table", action="append", metavar="NAME=WHERE",
                     help="where a table lives when it is not under its own name: a table, "
                          "database.table or a path; repeatable, for warehouses and Spark "
                          "(default: each table under its own name)")
    rep.add_argument("--param", action="append", metavar="NAME=VALUE",
                     help="a notebook parameter, e.g. currency=€ or horizon_months=24; "
                          "repeatable, checked against the notebooks' parameters (default: "
                          "the notebooks' own values)")
    rep.add_argument("--workers", type=int, metavar="N",
                     help="reports run at once, each in its own kernel (default: 2, or 1 on a "
                          "one-core machine)")
    rep.add_argument("--no-snapshot", action="store_true",
                     help="let every notebook read and validate the source itself, instead of "
                          "a validated copy made once for the run; local sources only "
                          "(default: off)")
    rep.set_defaults(func=_report)

    smp = _command(sub, "sample", "write a simulated shop with known truth",
                   "Write a simulated shop (orders, returns, surveys, tickets) and the\n"
                   "parameters it was drawn from (truth.json) into --out.")
    smp.add_argument("--customers", type=int, default=5000, metavar="N",
                     help="customers to simulate (default: %(default)s)")
    smp.add_argument("--seed", type=int, default=42,
                     help="random seed; the same seed gives the same shop (default: "
                          "%(default)s)")
    smp.add_argument("--start", default="2023-11-01", metavar="DATE",
                     help="first day of the data (default: %(default)s)")
    smp.add_argument("--end", default="2026-11-01", metavar="DATE",
                     help="exclusive end of the data (default: %(default)s)")
    smp.add_argument("--format", choices=["csv", "csv.gz", "parquet"], default="csv",
                     help="file format of the tables (default: %(default)s)")
    smp.add_argument("--defects", action="store_true",
                     help="add a few typical export defects for the data checks to catch "
                          "(default: off)")
    smp.add_argument("--out", required=True, metavar="FOLDER",
                     help="required: the folder to write the tables into")
    smp.set_defaults(func=_sample)

    val = _command(sub, "validate", "check a source against the data contract",
                   "Check a source against the data contract and print the tally of what\n"
                   "would be excluded; exit 2 if the source cannot be used.")
    val.add_argument("source", help="required: folder of table files, .duckdb file, "
                                    "connection URL, Spark URL or env:VAR")
    val.add_argument("--as-of", metavar="WHEN",
                     help="timestamps after this count as future (default: now)")
    val.add_argument("--json", action="store_true",
                     help="print the tally as JSON (default: off: as text)")
    val.set_defaults(func=_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
