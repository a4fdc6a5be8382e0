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

import ibis.expr.types as ir
import pandas as pd

from ppxlib.contract import (
    CONTRACT,
    ContractError,
    RuleContext,
    StructuralProblem,
    attach_references,
    conform,
    row_rules,
)

EXAMPLE_ROWS = 3


@dataclass
class DataQuality:
    """What validation read, excluded and kept.

    Attributes
    ----------
    tables : pandas.DataFrame
        One row per contract table: ``table, present, rows_read, rows_excluded, rows_kept``.
    exclusions : pandas.DataFrame
        One row per rule that excluded rows: ``table, rule, column, reason, rows, share``
        (``share`` of the table's rows read). A row breaking two rules counts under both.
    examples : dict
        ``(table, rule)`` -> a small frame of example rows as they were read.
    as_of : datetime
        The moment after which timestamps count as "in the future".
    """

    tables: pd.DataFrame
    exclusions: pd.DataFrame
    examples: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    as_of: dt.datetime | None = None

    @property
    def rows_excluded(self) -> int:
        return int(self.tables["rows_excluded"].sum())

    def to_dict(self) -> dict:
        """A JSON-serialisable summary (for manifests)."""
        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "tables": json.loads(self.tables.to_json(orient="records")),
            "exclusions": json.loads(self.exclusions.to_json(orient="records")),
        }

    def to_text(self) -> str:
        """A plain-text tally, as ``ppx validate`` prints it."""
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
                sample = self.examples.get((ex.table, ex.rule))
                if sample is not None and len(sample):
                    first = sample.iloc[0].to_dict()
                    text = ", ".join(f"{k}={_short(v)}" for k, v in first.items())
                    lines.append(f"             e.g. {text}")
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML section (all values escaped) listing every exclusion with examples."""
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
            items = []
            for ex in self.exclusions.itertuples():
                sample = self.examples.get((ex.table, ex.rule))
                example_html = ""
                if sample is not None and len(sample):
                    example_html = _frame_html(sample)
                items.append(
                    f"<li><b>{html.escape(ex.table)}</b>: {_rows(ex.rows)} "
                    f"({ex.share:.2%}) &mdash; {html.escape(ex.reason)} "
                    f"<code>{html.escape(ex.rule)}</code>{example_html}</li>"
                )
            parts.append("<ul>" + "".join(items) + "</ul>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def _short(value: object, limit: int = 40) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _frame_html(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_short(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (f'<table class="ppx-examples"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def unreadable(table: str, err: Exception) -> StructuralProblem | None:
    """The structural problem behind an engine's refusal to read a file, if it is one.

    A file in another encoding than UTF-8, or a CSV whose rows do not fit its header, is not a
    handful of bad rows: nothing after the first bad line can be trusted, so it stops the run
    with the line the engine names. Returns None for errors that are not about reading input.
    """
    text = str(err)
    if type(err).__name__ != "InvalidInputException":
        return None
    if "Error when sniffing file" in text:
        return StructuralProblem(table, None, (
            "the file cannot be read as CSV: its lines do not share one layout (rows with "
            "more or fewer fields than the header, or unbalanced quotes)"))
    if "CSV Error" not in text:
        return None
    line = re.search(r"CSV Error on Line: (\d+)", text)
    where = f" (line {line.group(1)})" if line else ""
    original = re.search(r"Original Line: (.*)", text)
    example = f"; the line reads {original.group(1)[:120]!r}" if original else ""
    if "not utf-8 encoded" in text:
        path = re.search(r"file = (.+)", text)
        found = _first_non_utf8_line(path.group(1).strip()) if path else None
        if found:
            where, example = f" (line {found[0]})", f"; the line reads {found[1]!r}"
        message = (f"the file is not UTF-8 text{where}{example}. Save it as UTF-8, for "
                   f"example `iconv -f cp1251 -t utf-8 {table}.csv > {table}.utf8.csv`")
    else:
        reason = text.split("\n")[2].strip() if text.count("\n") >= 2 else text
        message = f"the file cannot be read as CSV{where}: {reason}{example}"
    return StructuralProblem(table, None, message)


def _first_non_utf8_line(path: str) -> tuple[int, str] | None:
    """Line number and text (bad bytes shown as �) of a file's first line that is not UTF-8."""
    import gzip

    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            for number, line in enumerate(handle, 1):
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
        raise ContractError([problem]) from err


def _hidden(column: str) -> bool:
    return column.startswith("_ppx_")


def _keys_unique(table: ir.Table, key: str) -> bool:
    """Whether every row has a key, and no two rows the same one."""
    counts = table.aggregate(rows=table.count(), keys=table[key].nunique())
    row = counts.to_pyarrow().to_pylist()[0]
    return row["rows"] == row["keys"]


def _check_one(
    name: str, table: ir.Table, ctx: RuleContext, examples: int, cache: bool
) -> tuple[ir.Table, dict, list[dict], dict]:
    table = attach_references(name, table, ctx)
    rules = row_rules(name, table.columns)
    if any(rule.between_rows_of_a_key for rule in rules) and _keys_unique(table,
                                                                         CONTRACT[name].key):
        # The usual case. Copies and conflicts need windows over every row (two thirds of
        # validating 10M orders); one count shows there can be none.
        rules = [rule for rule in rules if not rule.between_rows_of_a_key]
    flags = {f"_ppx_flag_{i}": rule.violated(table, ctx).fill_null(False)
             for i, rule in enumerate(rules)}
    flagged = table.mutate(**flags) if flags else table
    any_flag = None
    for flag in flags:
        any_flag = flagged[flag] if any_flag is None else any_flag | flagged[flag]
    if any_flag is None:
        any_flag = flagged[flagged.columns[0]].isnull() & False
    flagged = flagged.mutate(_ppx_excluded=any_flag)
    if cache:  # the rules (window functions over the whole table) then run once, not thrice
        flagged = flagged.cache()

    counts = flagged.aggregate(
        _ppx_rows=flagged.count(),
        _ppx_excluded=flagged._ppx_excluded.sum(),
        **{flag: flagged[flag].sum() for flag in flags},
    ).to_pyarrow().to_pylist()[0]
    rows_read = int(counts["_ppx_rows"])
    excluded = int(counts["_ppx_excluded"] or 0)

    visible = [c for c in table.columns if not _hidden(c)]
    # Examples show values as they were read, before parsing turned bad text into nulls.
    as_read = {c: (f"_ppx_raw_{c}" if f"_ppx_raw_{c}" in table.columns else c) for c in visible}
    exclusions, samples = [], {}
    for i, rule in enumerate(rules):
        n = int(counts[f"_ppx_flag_{i}"] or 0)
        if not n:
            continue
        exclusions.append(
            {"table": name, "rule": rule.name, "column": rule.column, "reason": rule.reason,
             "rows": n, "share": n / rows_read if rows_read else 0.0}
        )
        if examples:
            hits = flagged.filter(flagged[f"_ppx_flag_{i}"])
            sample = hits.select(**{c: hits[src] for c, src in as_read.items()})
            order = [rule.column] if rule.column in visible else []
            sample = sample.order_by(order + [c for c in visible if c not in order])
            samples[(name, rule.name)] = sample.limit(examples).to_pandas()

    clean = flagged.filter(~flagged._ppx_excluded).select(visible)
    tally = {"table": name, "present": True, "rows_read": rows_read,
             "rows_excluded": excluded, "rows_kept": rows_read - excluded}
    return clean, tally, exclusions, samples


def validate_tables(
    tables: dict[str, ir.Table | None],
    as_of: dt.datetime | None = None,
    examples: int = EXAMPLE_ROWS,
    cache: bool = True,
) -> tuple[dict[str, ir.Table | None], DataQuality]:
    """Conform and check every table against the contract.

    Parameters
    ----------
    tables : dict
        Contract table name -> ibis table, or None when the table was not provided.
    as_of : datetime, optional
        Timestamps after this moment are "in the future". Defaults to now (UTC).
    examples : int
        How many example rows to keep per rule.
    cache : bool
        Cache the clean tables in the engine, so later queries do not re-run the checks.

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
    if as_of is None:
        as_of = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)

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
    tallies, exclusions, samples = [], [], {}
    ctx = RuleContext(as_of=as_of)
    for name in CONTRACT:
        if name not in conformed:
            clean[name] = None
            tallies.append({"table": name, "present": False, "rows_read": 0,
                            "rows_excluded": 0, "rows_kept": 0})
            continue
        with reading(name):
            table, tally, excl, smp = _check_one(name, conformed[name], ctx, examples, cache)
        if name == "orders" and tally["rows_read"] == 0:
            raise ContractError([StructuralProblem("orders", None, "the table has no rows")])
        clean[name] = table
        if name == "orders":
            ctx = RuleContext(as_of=as_of, orders=table)
        tallies.append(tally)
        exclusions.extend(excl)
        samples.update(smp)

    quality = DataQuality(
        tables=pd.DataFrame(tallies),
        exclusions=pd.DataFrame(
            exclusions, columns=["table", "rule", "column", "reason", "rows", "share"]
        ),
        examples=samples,
        as_of=as_of,
    )
    return clean, quality
