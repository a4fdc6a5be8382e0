"""Apply the data contract: conform types, exclude rule-breaking rows, and keep the tally.

:func:`validate_tables` is what :meth:`ppxlib.sources.Dataset.validate` runs. It returns the
clean tables (still ibis expressions, cached in the engine) and a :class:`DataQuality` record
that every report shows in its data-quality section.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from ppxlib.contract import (
    CONTRACT,
    CONTROL_CHARACTERS,
    FREE_TEXT,
    ContractError,
    RuleContext,
    StructuralProblem,
    attach_references,
    conform,
    escape_controls,
    row_rules,
)

EXAMPLE_ROWS = 3
EXCLUSION_COLUMNS = ["table", "rule", "column", "reason", "rows", "share"]
#: Adjustments also say what was done: "blanked" (a value set to null) or "kept" (listed only).
ADJUSTMENT_COLUMNS = [*EXCLUSION_COLUMNS, "action"]
#: Columns examples may show besides the contract's: ppx's own (where a skipped line was).
OWN_EXAMPLE_COLUMNS = ("line", "bytes")
#: DuckDB reads no CSV line longer than this (bytes, line end included).
MAX_LINE_BYTES = 2_000_000
#: Redacted free text keeps this many characters.
EXCERPT = 20

_CONTROL = CONTROL_CHARACTERS


@dataclass
class DataQuality:
    """What validation read, excluded, adjusted and kept.

    Attributes
    ----------
    tables : pandas.DataFrame
        One row per contract table: ``table, present, rows_read, rows_excluded, rows_kept``.
    exclusions : pandas.DataFrame
        One row per rule that excluded rows: ``table, rule, column, reason, rows, share``
        (``share`` of the table's rows read). A row breaking two rules counts under both.
    examples : dict
        ``(table, rule)`` -> a small frame of example rows as they were read (contract
        columns only: other columns may hold anything).
    as_of : datetime
        The moment after which timestamps count as "in the future" (naive UTC).
    adjustments : pandas.DataFrame
        Rules that kept their rows but blanked a value or listed them: the columns of
        ``exclusions`` plus ``action`` ("blanked" or "kept"); ``rows`` counts kept rows only.
    """

    tables: pd.DataFrame
    exclusions: pd.DataFrame
    examples: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    as_of: dt.datetime | None = None
    adjustments: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        if self.adjustments is None:
            self.adjustments = pd.DataFrame(columns=ADJUSTMENT_COLUMNS)

    @property
    def rows_excluded(self) -> int:
        return int(self.tables["rows_excluded"].sum())

    def to_dict(self) -> dict:
        """A JSON-serialisable summary (for manifests)."""
        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "tables": json.loads(self.tables.to_json(orient="records")),
            "exclusions": json.loads(self.exclusions.to_json(orient="records")),
            "adjustments": json.loads(self.adjustments.to_json(orient="records")),
        }

    def to_text(self, redact: bool = False) -> str:
        """A plain-text tally, as ``ppx validate`` prints it.

        Control characters and bidi overrides in data values are written as escapes
        (``\\x1b``), so data cannot move the cursor, recolour or reorder the terminal.
        With ``redact``, example ids are pseudonyms and free text a short excerpt.
        """
        lines = []
        for row in self.tables.itertuples():
            if not row.present:
                lines.append(f"{row.table:<8} not provided")
                continue
            lines.append(
                f"{row.table:<8} {row.rows_read:>10,} rows read, {row.rows_excluded:>8,} "
                f"excluded, {row.rows_kept:>10,} kept"
            )
            for ex in self.exclusions[self.exclusions.table == row.table].itertuples():
                lines.append(f"           - {_rows(ex.rows)}: {ex.reason} [{ex.rule}]")
                lines.extend(self._example_line(ex.table, ex.rule, redact))
            for ad in self.adjustments[self.adjustments.table == row.table].itertuples():
                lines.append(f"           ~ {_rows(ad.rows)} {_done(ad)}: {ad.reason} "
                             f"[{ad.rule}]")
                lines.extend(self._example_line(ad.table, ad.rule, redact))
        return "\n".join(lines)

    def _example_line(self, table: str, rule: str, redact: bool) -> list[str]:
        sample = self.shown_example(table, rule, redact)
        if sample is None or not len(sample):
            return []
        first = sample.iloc[0].to_dict()
        text = ", ".join(f"{k}={terminal_safe(_short(v))}" for k, v in first.items())
        return [f"             e.g. {text}"]

    def shown_example(self, table: str, rule: str, redact: bool = False
                      ) -> pd.DataFrame | None:
        """The example rows of a rule as reports show them: contract columns only, and with
        ``redact`` ids as pseudonyms (:func:`ppxlib.notebook.pseudonym`) and free text cut
        to an excerpt."""
        sample = self.examples.get((table, rule))
        if sample is None:
            return None
        return shown_values(sample, table, redact)

    def to_html(self, redact: bool = False) -> str:
        """An HTML section listing every exclusion and adjustment with examples.

        Values are HTML-escaped, with control characters and bidi overrides removed; with
        ``redact``, example ids are pseudonyms and free text a short excerpt.
        """
        parts = ['<div class="ppx-quality">']
        rows = []
        for row in self.tables.itertuples():
            if row.present:
                cells = (row.table, f"{row.rows_read:,}", f"{row.rows_excluded:,}",
                         f"{row.rows_kept:,}")
            else:
                cells = (row.table, "not provided", "", "")
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        parts.append(
            "<table><thead><tr><th>table</th><th>rows read</th><th>excluded</th>"
            "<th>kept</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        )
        if self.exclusions.empty:
            parts.append("<p>No rows were excluded.</p>")
        else:
            parts.append("<ul>" + "".join(
                self._item_html(ex, f"{_rows(ex.rows)} ({ex.share:.2%})", redact)
                for ex in self.exclusions.itertuples()) + "</ul>")
        if not self.adjustments.empty:
            parts.append("<p>Kept, with a value blanked or noted:</p>")
            parts.append("<ul>" + "".join(
                self._item_html(ad, f"{_rows(ad.rows)} {_done(ad)}", redact)
                for ad in self.adjustments.itertuples()) + "</ul>")
        parts.append("</div>")
        return "".join(parts)

    def _item_html(self, item, count: str, redact: bool) -> str:
        sample = self.shown_example(item.table, item.rule, redact)
        example_html = _frame_html(sample) if sample is not None and len(sample) else ""
        return (f"<li><b>{html.escape(item.table)}</b>: {html.escape(count)} &mdash; "
                f"{html.escape(item.reason)} <code>{html.escape(item.rule)}</code>"
                f"{example_html}</li>")

    def _repr_html_(self) -> str:
        return self.to_html()


def terminal_safe(text: str) -> str:
    r"""Control characters and bidi overrides written as escapes, for a terminal.

    Examples
    --------
    >>> terminal_safe("a\x1b[31mb\u202ec")
    'a\\x1b[31mb\\u202ec'
    """
    return escape_controls(text)


def strip_controls(text: str) -> str:
    r"""Control characters and bidi overrides removed (for HTML, which escapes the rest).

    Examples
    --------
    >>> strip_controls("evil\u202egnp.exe\x00")
    'evilgnp.exe'
    """
    return _CONTROL.sub("", text)


def shown_values(sample: pd.DataFrame, table: str, redact: bool) -> pd.DataFrame:
    """Example rows as shown: contract columns of ``table`` only (never extra columns,
    which can hold anything); with ``redact``, ids pseudonymised and free text cut short."""
    known = [c.name for c in CONTRACT[table].columns]
    keep = [c for c in sample.columns if c in known or c in OWN_EXAMPLE_COLUMNS]
    shown = sample[keep].astype(object)
    if not redact:
        return shown
    from ppxlib.notebook import pseudonym  # the report's pseudonyms, so ids match them

    ids = {c.name for spec in CONTRACT.values() for c in spec.columns if c.kind == "id"}
    for column in keep:
        if column in ids:  # 123.0 (an integer id beside a null) is the report's 123
            shown[column] = [v if _absent(v) else pseudonym(_whole(v)) for v in shown[column]]
        elif column in FREE_TEXT:
            shown[column] = [v if _absent(v) else _excerpt(str(v)) for v in shown[column]]
    return shown


def _whole(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _absent(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


def _done(adjustment) -> str:
    """What an adjustment did, e.g. "kept, delivered_ts blanked" or "kept, listed"."""
    if adjustment.action == "blanked":
        return f"kept, {adjustment.column} blanked"
    return "kept, listed"


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def _short(value: object, limit: int = 40) -> str:
    if _absent(value):
        return "—"
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _frame_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(strip_controls(_short(v)))}</td>" for v in row)
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (f'<table class="ppx-examples"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


@dataclass(frozen=True)
class LongLines(StructuralProblem):
    """Lines of a CSV file longer than a reader accepts: ``(line, bytes)`` of each."""

    path: str = ""
    lines: tuple[tuple[int, int], ...] = ()


class LongLinesError(ContractError):
    """A CSV file has lines too long to be read; :mod:`ppxlib.sources` may leave them out."""

    def __init__(self, problem: LongLines):
        super().__init__([problem])
        self.table, self.path, self.lines = problem.table, problem.path, list(problem.lines)


#: The first bytes of files that are not text, by what they are.
MAGIC = {b"\x1f\x8b": "gzip-compressed", b"PK\x03\x04": "a zip archive (an Excel workbook?)",
         b"PAR1": "a Parquet file", b"BZh": "bzip2-compressed",
         b"\x28\xb5\x2f\xfd": "zstd-compressed", b"\xfd7zXZ": "xz-compressed"}


def file_kind(head: bytes) -> str | None:
    r"""What a file is by its first bytes, when it is not plain text.

    Examples
    --------
    >>> file_kind(b"\x1f\x8b\x08\x00"), file_kind(b"order_id,amount")
    ('gzip-compressed', None)
    """
    return next((kind for magic, kind in MAGIC.items() if head.startswith(magic)), None)


def unreadable(table: str, err: Exception) -> StructuralProblem | None:
    """The structural problem behind an engine's refusal to read a file, if it is one.

    A file in another encoding than UTF-8, or a CSV whose rows do not fit its header, is not a
    handful of bad rows: nothing after the first bad line can be trusted, so it stops the run
    with the line the engine names (or, where the engine names the wrong one, the line found
    by reading the file). Returns None for errors that are not about reading input.
    """
    text = str(err)
    if type(err).__name__ not in ("InvalidInputException", "IOException"):
        return None
    if "No magic bytes found" in text or "is not a Parquet file" in text:
        path = re.search(r"file '([^']+)'", text)
        name = Path(path.group(1)).name if path else f"{table}.parquet"
        kind = _kind_of(path.group(1)) if path else None
        return StructuralProblem(table, None, f"the file {name} is not a Parquet file"
                                 + (f" (it is {kind})" if kind else " (it looks like text: "
                                    "a CSV file? then name it .csv)"))
    path_match = (re.search(r'Error when sniffing file "([^"]+)"', text)
                  or re.search(r"file = (.+)", text))
    path = path_match.group(1).strip() if path_match else None
    kind = _kind_of(path) if path and not path.endswith(".gz") else None
    if kind:
        return StructuralProblem(table, None, compressed_message(Path(path).name, kind))
    if "Error when sniffing file" in text:
        endings = _line_endings(path) if path else None
        if endings and endings[0] and endings[1]:
            crlf, lf, first_lf = endings
            return StructuralProblem(table, None, (
                f"the file mixes line endings: {crlf:,} lines end in CRLF (Windows) and "
                f"{lf:,} in LF (Unix), the first LF one is line {first_lf}. Save it with one "
                f"kind, e.g. `dos2unix {Path(path).name}`"))
        return StructuralProblem(table, None, (
            "the file cannot be read as CSV: its lines do not share one layout (rows with "
            "more or fewer fields than the header, or unbalanced quotes)"))
    if "CSV Error" not in text:
        return None
    line = re.search(r"CSV Error on Line: (\d+)", text)
    where = f" (line {line.group(1)})" if line else ""
    original = re.search(r"Original Line: (.*)", text)
    example = f"; the line reads {original.group(1)[:120]!r}" if original else ""
    if "Maximum line size" in text:
        long = _long_lines(path) if path else []
        if not long:  # no single line is that long: a quote left open runs over many lines
            return StructuralProblem(table, None, (
                f"the file cannot be read as CSV: a row runs over more than "
                f"{MAX_LINE_BYTES:,} bytes, though no line is that long (a quote left open?)"))
        first, size = long[0]
        more = f" ({len(long):,} such lines)" if len(long) > 1 else ""
        return LongLines(table, None, (
            f"line {first} of {Path(path).name} is {size:,} bytes long, more than the "
            f"{MAX_LINE_BYTES:,} a line may have{more}"), path=path, lines=tuple(long))
    if "not utf-8 encoded" in text:
        found = _first_non_utf8_line(path) if path else None
        if found:
            where, example = f" (line {found[0]})", f"; the line reads {found[1]!r}"
        message = (f"the file is not UTF-8 text{where}{example}. Save it as UTF-8, for "
                   f"example `iconv -f cp1251 -t utf-8 {table}.csv > {table}.utf8.csv`")
    else:
        reason = text.split("\n")[2].strip() if text.count("\n") >= 2 else text
        message = f"the file cannot be read as CSV{where}: {reason}{example}"
    return StructuralProblem(table, None, message)


def compressed_message(name: str, kind: str) -> str:
    """What to say about a "CSV" that is not text."""
    if kind == "gzip-compressed":
        return (f"the file {name} is gzip-compressed: name it {name}.gz (ppx reads .csv.gz), "
                f"or decompress it (`gunzip -c {name} > plain.csv`)")
    if kind == "a Parquet file":
        stem = name.split(".")[0]
        return f"the file {name} is a Parquet file, not CSV: name it {stem}.parquet"
    return f"the file {name} is {kind}, not CSV text: export the table as CSV (UTF-8)"


def _kind_of(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return file_kind(handle.read(8))
    except OSError:
        return None


def _lines(path: str) -> Iterator[bytes]:
    import gzip

    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as handle:
        yield from handle


def _line_endings(path: str) -> tuple[int, int, int | None] | None:
    """Lines ending in CRLF, lines ending in a bare LF, and the first of the latter."""
    crlf = lf = 0
    first_lf = None
    try:
        for number, line in enumerate(_lines(path), 1):
            if line.endswith(b"\r\n"):
                crlf += 1
            elif line.endswith(b"\n"):
                lf += 1
                first_lf = first_lf or number
    except OSError:
        return None
    return crlf, lf, first_lf


def _long_lines(path: str) -> list[tuple[int, int]]:
    """``(line, bytes)`` of every line too long for the CSV reader (line end not counted)."""
    found = []
    try:
        for number, line in enumerate(_lines(path), 1):
            size = len(line.rstrip(b"\r\n"))
            if size >= MAX_LINE_BYTES - 2:  # DuckDB counts the line end; keep a margin
                found.append((number, size))
    except OSError:
        return found
    return found


def _first_non_utf8_line(path: str) -> tuple[int, str] | None:
    """Line number and text (bad bytes shown as �) of a file's first line that is not UTF-8."""
    try:
        for number, line in enumerate(_lines(path), 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number, line.decode("utf-8", errors="replace").rstrip("\r\n")[:120]
    except OSError:
        return None
    return None


@contextmanager
def reading(table: str) -> Iterator[None]:
    """Turn an engine's "cannot read this file" error into a :class:`ContractError`."""
    try:
        yield
    except Exception as err:
        problem = unreadable(table, err)
        if problem is None:
            raise
        if isinstance(problem, LongLines):
            raise LongLinesError(problem) from err
        raise ContractError([problem]) from err


def _hidden(column: str) -> bool:
    return column.startswith("_ppx_")


def _keys_unique(table: ir.Table, key: str) -> bool:
    """Whether every row has a key, and no two rows the same one."""
    counts = table.aggregate(rows=table.count(), keys=table[key].nunique())
    row = counts.to_pyarrow().to_pylist()[0]
    return row["rows"] == row["keys"]


def _check_one(
    name: str, table: ir.Table, ctx: RuleContext, examples: int, cache: bool | str,
    keys_unique: bool = False,
) -> tuple[ir.Table, dict, list[dict], list[dict], dict]:
    table = attach_references(name, table, ctx)
    rules = row_rules(name, table.columns)
    if any(rule.between_rows_of_a_key for rule in rules) and (
            keys_unique or _keys_unique(table, CONTRACT[name].key)):
        # The usual case. Copies and conflicts need windows over every row (two thirds of
        # validating 10M orders); one count shows there can be none.
        rules = [rule for rule in rules if not rule.between_rows_of_a_key]
    if cache == "windows":
        # Only rules that compare rows (windows over the whole table) are worth a copy of
        # the table; the others are a few comparisons per row, cheaper to run again.
        cache = any(rule.between_rows_of_a_key or rule.name == "duplicate_row"
                    for rule in rules)
    flags = {f"_ppx_flag_{i}": rule.violated(table, ctx).fill_null(False)
             for i, rule in enumerate(rules)}
    flagged = table.mutate(**flags) if flags else table
    any_flag = None
    for flag, rule in zip(flags, rules, strict=True):
        if rule.action == "exclude":
            any_flag = flagged[flag] if any_flag is None else any_flag | flagged[flag]
    if any_flag is None:
        any_flag = ibis.literal(False)
    flagged = flagged.mutate(_ppx_excluded=any_flag)
    if cache:  # the rules (window functions over the whole table) then run once, not thrice
        flagged = flagged.cache()

    kept = ~flagged._ppx_excluded
    counts = flagged.aggregate(
        _ppx_rows=flagged.count(),
        _ppx_excluded=flagged._ppx_excluded.sum(),
        # Blanks and notes count the rows that stay: what the clean table carries.
        **{flag: (flagged[flag] if rule.action == "exclude" else flagged[flag] & kept).sum()
           for flag, rule in zip(flags, rules, strict=True)},
    ).to_pyarrow().to_pylist()[0]
    rows_read = int(counts["_ppx_rows"])
    excluded = int(counts["_ppx_excluded"] or 0)

    visible = [c for c in table.columns if not _hidden(c)]
    known = {c.name for c in CONTRACT[name].columns}
    shown = [c for c in visible if c in known]  # extra columns may hold anything: never shown
    # Examples show values as they were read, before parsing turned bad text into nulls.
    as_read = {c: (f"_ppx_raw_{c}" if f"_ppx_raw_{c}" in table.columns else c) for c in shown}
    exclusions, adjustments, samples = [], [], {}
    for i, rule in enumerate(rules):
        n = int(counts[f"_ppx_flag_{i}"] or 0)
        if not n:
            continue
        item = {"table": name, "rule": rule.name, "column": rule.column, "reason": rule.reason,
                "rows": n, "share": n / rows_read if rows_read else 0.0}
        if rule.action == "exclude":
            exclusions.append(item)
        else:
            adjustments.append({**item, "action": "blanked" if rule.action == "blank"
                                else "kept"})
        if examples:
            hits = flagged.filter(flagged[f"_ppx_flag_{i}"])
            if rule.action != "exclude":
                hits = hits.filter(~hits._ppx_excluded)
            sample = hits.select(**{c: _as_text(hits[src]) for c, src in as_read.items()})
            order = [rule.column] if rule.column in shown else []
            sample = sample.order_by(order + [c for c in shown if c not in order])
            samples[(name, rule.name)] = sample.limit(examples).to_pandas()

    clean = flagged.filter(kept)
    blanked: dict[str, ir.BooleanValue] = {}
    for flag, rule in zip(flags, rules, strict=True):
        if rule.action == "blank":
            previous = blanked.get(rule.column)
            blanked[rule.column] = clean[flag] if previous is None else previous | clean[flag]
    if blanked:
        clean = clean.mutate(**{
            column: ibis.cases((cond, ibis.null(clean[column].type())), else_=clean[column])
            for column, cond in blanked.items()})
    clean = clean.select(visible)
    tally = {"table": name, "present": True, "rows_read": rows_read,
             "rows_excluded": excluded, "rows_kept": rows_read - excluded}
    return clean, tally, exclusions, adjustments, samples


def _as_text(value: ir.Value) -> ir.Value:
    # Timestamps as text: one before 1677 or at "infinity" cannot become a pandas Timestamp.
    return value.cast("string") if value.type().is_timestamp() else value


def utc_naive(as_of: dt.datetime | str | None) -> dt.datetime | None:
    """``as_of`` as naive UTC, the way the engine compares timestamps.

    Examples
    --------
    >>> utc_naive("2026-11-01T06:00+02:00")
    datetime.datetime(2026, 11, 1, 4, 0)
    """
    if isinstance(as_of, str):
        as_of = dt.datetime.fromisoformat(as_of.strip())
    if isinstance(as_of, dt.datetime) and as_of.tzinfo is not None:
        as_of = as_of.astimezone(dt.UTC).replace(tzinfo=None)
    return as_of


def _skipped_lines(name: str, lines: list[tuple[int, int]], tally: dict, examples: int
                   ) -> tuple[dict, dict]:
    """Count lines a reader had to leave out (:mod:`ppxlib.sources`) as excluded rows."""
    n = len(lines)
    tally = {**tally, "rows_read": tally["rows_read"] + n,
             "rows_excluded": tally["rows_excluded"] + n}
    item = {"table": name, "rule": "line_too_long", "column": None,
            "reason": f"the line is longer than {MAX_LINE_BYTES:,} bytes, more than a row "
                      "may hold (left out when the file was read)",
            "rows": n, "share": n / tally["rows_read"]}
    sample = pd.DataFrame(lines[:examples], columns=["line", "bytes"])
    return tally, {"item": item, "sample": sample}


def validate_tables(
    tables: dict[str, ir.Table | None],
    as_of: dt.datetime | str | None = None,
    examples: int = EXAMPLE_ROWS,
    cache: bool | str = True,
    skipped: dict[str, list[tuple[int, int]]] | None = None,
    unique_keys: frozenset[str] = frozenset(),
) -> tuple[dict[str, ir.Table | None], DataQuality]:
    """Conform and check every table against the contract.

    Parameters
    ----------
    tables : dict
        Contract table name -> ibis table, or None when the table was not provided.
    as_of : datetime or str, optional
        Timestamps after this moment are "in the future". Defaults to now (UTC); one with a
        time zone is converted to UTC.
    examples : int
        How many example rows to keep per rule.
    cache : bool or "windows"
        Cache the clean tables in the engine, so later queries do not re-run the checks;
        ``"windows"``: only those whose checks compare rows (copies, conflicting keys), for
        tables that are in the engine's memory already (data frames).
    skipped : dict, optional
        Table -> ``(line, bytes)`` of lines the reader left out (too long to be a row); they
        count as read and excluded.
    unique_keys : frozenset of str
        Tables whose key ppx made itself, one per row (a transaction log without order ids):
        their keys are unique, so the rules between rows of a key are not checked.

    Returns
    -------
    (clean_tables, quality)
        Clean tables with contract types (same keys as ``tables``) and the tally.

    Raises
    ------
    ContractError
        On structural problems: missing required columns, unreadable columns, no orders.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "order_id": [1, 1, 2], "customer_id": ["a", "a", "b"],
    ...     "order_ts": pd.to_datetime(["2024-01-01"] * 3), "amount": [5.0, 5.0, -1.0]}))
    >>> clean, quality = validate_tables({"orders": orders})
    >>> quality.exclusions[["rule", "rows"]].values.tolist()
    [['duplicate_row', 1], ['negative_amount', 1]]
    """
    as_of = utc_naive(as_of)
    if as_of is None:
        as_of = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    skipped = skipped or {}

    conformed: dict[str, ir.Table] = {}
    problems: list[StructuralProblem] = []
    for name in CONTRACT:
        table = tables.get(name)
        if table is None:
            if CONTRACT[name].required:
                problems.append(StructuralProblem(name, None, "required table is missing"))
            continue
        with reading(name):
            conformed[name], found = conform(name, table)
        problems.extend(found)
    if problems:
        raise ContractError(problems)

    clean: dict[str, ir.Table | None] = {}
    tallies, exclusions, adjustments, samples = [], [], [], {}
    ctx = RuleContext(as_of=as_of)
    for name in CONTRACT:
        if name not in conformed:
            clean[name] = None
            tallies.append({"table": name, "present": False, "rows_read": 0,
                            "rows_excluded": 0, "rows_kept": 0})
            continue
        with reading(name):
            table, tally, excl, adj, smp = _check_one(name, conformed[name], ctx, examples,
                                                      cache, name in unique_keys)
        if skipped.get(name):
            tally, extra = _skipped_lines(name, skipped[name], tally, examples)
            excl = [extra["item"], *excl]
            if examples:
                smp[(name, "line_too_long")] = extra["sample"]
        if name == "orders" and tally["rows_read"] == 0:
            raise ContractError([StructuralProblem("orders", None, "the table has no rows")])
        clean[name] = table
        if name == "orders":
            ctx = RuleContext(as_of=as_of, orders=table)
        tallies.append(tally)
        exclusions.extend(excl)
        adjustments.extend(adj)
        samples.update(smp)

    quality = DataQuality(
        tables=pd.DataFrame(tallies),
        exclusions=pd.DataFrame(exclusions, columns=EXCLUSION_COLUMNS),
        examples=samples,
        as_of=as_of,
        adjustments=pd.DataFrame(adjustments, columns=ADJUSTMENT_COLUMNS),
    )
    return clean, quality
