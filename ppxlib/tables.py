"""Data frames wherever a table is expected.

Every public computation takes its tables through :func:`as_table` (or :func:`as_orders`,
:func:`as_tables`), so it accepts

* an ibis table: returned as is (it is taken to be clean, as :meth:`ppxlib.Dataset.validate`
  returns it);
* a pandas DataFrame, a polars DataFrame or LazyFrame, or a pyarrow Table: loaded into DuckDB
  and checked against the data contract exactly as ``ppxlib.open({"orders": frame}).validate()``
  checks it, so a frame that breaks the contract raises the same
  :class:`~ppxlib.contract.ContractError`, and rows that break a row rule are set aside. What
  was set aside is said in a :class:`DataQualityWarning` (the tally of
  :meth:`ppxlib.Dataset.validate` lists the rules with examples).

Column names may be the caller's own, as in lifetimes (``customer_id_col="CustomerID"``):
they are matched to the contract's for the checks and given back afterwards. Two things a
lifetimes transaction log lacks are supplied: without an ``order_id`` column each row is one
order (numbered in the order given), and a computation that uses no amounts does not need an
``amount`` column.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from ppxlib.contract import CONTRACT, ContractError, RuleContext, StructuralProblem, conform
from ppxlib.validation import (
    ADJUSTMENT_COLUMNS,
    EXCLUSION_COLUMNS,
    DataQuality,
    _check_one,
    validate_tables,
)

ACCEPTED = ("an ibis table, a pandas DataFrame, a polars DataFrame or LazyFrame, "
            "or a pyarrow Table")
#: Stands in for an amount column that a computation does not read (and is dropped after).
_NO_AMOUNT = "_ppx_no_amount"


class DataQualityWarning(UserWarning):
    """Rows of a data frame were set aside by the data contract (the warning counts them)."""


def kind_of(obj: Any) -> str | None:
    """Which accepted kind of table ``obj`` is: "ibis", "pandas", "polars", "arrow" or None.

    polars is recognised by its type's module, so it need not be installed.

    Examples
    --------
    >>> import pandas as pd
    >>> kind_of(pd.DataFrame()), kind_of([1, 2])
    ('pandas', None)
    """
    if isinstance(obj, ir.Table):
        return "ibis"
    if isinstance(obj, pd.DataFrame):
        return "pandas"
    if isinstance(obj, pa.Table):
        return "arrow"
    cls = type(obj)
    if cls.__module__.split(".")[0] == "polars" and cls.__name__ in ("DataFrame", "LazyFrame"):
        return "polars"
    return None


def as_orders(obj: Any, customer_id_col: str = "customer_id", datetime_col: str = "order_ts",
              monetary_value_col: str | None = "amount", datetime_format: str | None = None,
              ) -> ir.Table:
    """Orders as a clean ibis table, with the caller's column names.

    Parameters
    ----------
    obj
        An ibis table (returned as is, unless ``datetime_format`` has text to parse), or a
        pandas / polars / pyarrow frame (checked against the contract).
    customer_id_col, datetime_col : str
        The frame's names for ``customer_id`` and ``order_ts``.
    monetary_value_col : str or None
        The frame's name for ``amount``; None when the computation reads no amounts.
    datetime_format : str, optional
        ``strptime`` format of a text datetime column, e.g. ``"%Y%m%d"`` (CDNOW's dates).

    Returns
    -------
    ibis.Table

    Raises
    ------
    ppxlib.ContractError
        A frame that breaks the contract (a missing or unreadable column, no rows).
    TypeError
        ``obj`` is none of the accepted kinds.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"id": [7, 7], "date": ["19970101", "19970105"],
    ...                     "sales": [12.5, 3.0]})
    >>> t = as_orders(log, "id", "date", "sales", datetime_format="%Y%m%d")
    >>> sorted(t.columns), t.schema()["date"].is_timestamp()
    (['date', 'id', 'order_id', 'sales'], True)
    """
    columns = {customer_id_col: "customer_id", datetime_col: "order_ts"}
    if monetary_value_col is not None:
        columns[monetary_value_col] = "amount"
    parse = {datetime_col: datetime_format} if datetime_format else None
    return as_table(obj, "orders", columns=columns, parse=parse,
                    amount_used=monetary_value_col is not None, _stacklevel=4)


def as_table(obj: Any, name: str = "orders", *, columns: Mapping[str, str] | None = None,
             parse: Mapping[str, str] | None = None, amount_used: bool = True,
             _stacklevel: int = 3) -> ir.Table:
    """One contract table (``name``) as an ibis table; see the module for what is accepted.

    Parameters
    ----------
    obj
        An ibis table or a data frame.
    name : {"orders", "returns", "surveys", "tickets"}
        Which table of the contract it is.
    columns : mapping, optional
        The frame's column name -> the contract's, for columns named otherwise.
    parse : mapping, optional
        Column (the frame's name) -> ``strptime`` format for text timestamps.
    amount_used : bool
        False when the computation reads no amounts: an orders frame may then lack them.

    Examples
    --------
    >>> import pandas as pd
    >>> surveys = pd.DataFrame({"customer_id": ["a", "b"], "metric": ["nps", "nps"],
    ...                         "score": [9, 11], "response_ts": ["2024-01-02"] * 2})
    >>> import warnings; warnings.simplefilter("ignore")
    >>> as_table(surveys, "surveys").score.execute().tolist()  # 11 is outside NPS's 0-10
    [9.0]
    """
    if name not in CONTRACT:
        raise ValueError(f"unknown table {name!r}; expected one of {', '.join(CONTRACT)}")
    kind = kind_of(obj)
    if kind is None:
        raise TypeError(_not_a_table(name, obj))
    if kind == "ibis":
        return _parse_ibis(obj, parse or {})
    clean = _from_frames({name: obj}, {name: dict(columns or {})}, {name: dict(parse or {})},
                         amount_used, _stacklevel + 1)
    return clean[name]


def as_tables(**tables: Any) -> tuple[ir.Table | None, ...]:
    """Several contract tables at once (keyword = table name), in the order given.

    Frames are checked together, as :meth:`ppxlib.Dataset.validate` checks them (returns are
    matched to the valid orders); None stays None. Ibis tables and frames cannot be mixed in
    one call: they would live in different engines.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({"order_id": [1], "customer_id": ["a"], "amount": [5.0],
    ...                        "order_ts": pd.to_datetime(["2024-01-01"])})
    >>> o, r = as_tables(orders=orders, returns=None)
    >>> o.count().execute(), r is None
    (1, True)
    """
    given = {n: t for n, t in tables.items() if t is not None}
    for n, t in given.items():
        if n not in CONTRACT:
            raise ValueError(f"unknown table {n!r}; expected some of {', '.join(CONTRACT)}")
        if kind_of(t) is None:
            raise TypeError(_not_a_table(n, t))
    frames = {n: t for n, t in given.items() if kind_of(t) != "ibis"}
    if not frames:
        return tuple(tables.values())
    if len(frames) < len(given):
        ibis_names = sorted(set(given) - set(frames))
        raise TypeError(f"{', '.join(ibis_names)} given as ibis tables but "
                        f"{', '.join(sorted(frames))} as data frames: pass all as frames, or "
                        "all as tables of one dataset (ppxlib.open(...).validate())")
    clean = _from_frames(frames, {}, {}, True, 4)
    return tuple(clean.get(n) for n in tables)


# --------------------------------------------------------------------------- internals


def _not_a_table(name: str, obj: Any) -> str:
    cls = type(obj)
    return (f"{name} must be {ACCEPTED}; got {cls.__module__}.{cls.__qualname__} (files, "
            "folders and databases: ppxlib.open(source).validate() gives the tables)")


def _to_engine_input(obj: Any, kind: str, number_rows: bool = False) -> Any:
    """What DuckDB reads: a pandas frame or an Arrow table (zero-copy for numbers and times).

    ``number_rows`` adds ``order_id`` 1, 2, ... in the order given, to the frame rather than
    in the engine: a row number there would be a window over every row, and one whose order
    the engine does not promise.
    """
    if kind == "polars":
        if type(obj).__name__ == "LazyFrame":
            obj = obj.collect()
        obj, kind = obj.to_arrow(), "arrow"
    if kind == "pandas":
        from ppxlib.sources import _typed  # all-null object columns get a type

        obj = _typed(obj)
        # assign copies no column (copy on write): only the new one is made.
        return obj.assign(order_id=np.arange(1, len(obj) + 1)) if number_rows else obj
    if number_rows:
        obj = obj.append_column("order_id", pa.array(np.arange(1, obj.num_rows + 1)))
    return obj


#: Rows per Arrow batch that DuckDB is given: it scans batches in parallel, one chunk not.
_BATCH_ROWS = 1 << 17


def _load(con: Any, name: str, data: pd.DataFrame | pa.Table) -> ir.Table:
    """The frame as a DuckDB table, read where it lies when it can be.

    Numbers and times are read from the frame's own memory (no copy: a frame changed
    afterwards changes the table); a pandas frame with text (Python objects, converted at
    every read) is copied into DuckDB once.
    """
    if isinstance(data, pd.DataFrame):
        if any(dtype.kind not in "biufmM" for dtype in data.dtypes):  # text, categories
            return con.create_table(name, data)
    elif any(len(column.chunks) == 1 and len(column) > _BATCH_ROWS for column in data.columns):
        data = pa.Table.from_batches(data.to_batches(max_chunksize=_BATCH_ROWS), data.schema)
    con.con.register(name, data)
    return con.table(name)


def _column_names(obj: Any, kind: str) -> list[str]:
    if kind == "pandas":
        return [str(c) for c in obj.columns]
    if kind == "arrow":
        return list(obj.column_names)
    return list(obj.collect_schema().names() if type(obj).__name__ == "LazyFrame"
                else obj.columns)


def _find(table: ir.Table, wanted: str) -> str | None:
    """The table's column called ``wanted``; like the contract, ignoring case and spaces."""
    if wanted in table.columns:
        return wanted
    key = wanted.strip().lower()
    return next((c for c in table.columns if c.strip().lower() == key), None)


def _rename(name: str, table: ir.Table, columns: dict[str, str]) -> tuple[ir.Table, dict]:
    """Give the frame's columns their contract names; returns the table and the way back."""
    problems, renames, back = [], {}, {}
    for theirs, ours in columns.items():
        found = _find(table, theirs)
        if found is None:
            if theirs != ours:  # a contract name that is missing: the contract says so
                problems.append(StructuralProblem(
                    name, ours, f"column {theirs!r} (given for {ours}) is missing; found "
                    f"columns: {', '.join(table.columns) or 'none'}"))
            continue
        clash = _find(table, ours)
        if clash is not None and clash != found:
            raise ValueError(f"{name} has both {found!r} (given for {ours}) and {clash!r}; "
                             "drop or rename one")
        if found != ours:
            renames[ours] = found
        if theirs != ours:
            back[theirs] = ours
    if problems:
        raise ContractError(problems)
    return (table.rename(renames) if renames else table), back


def _parse(name: str, table: ir.Table, column: str, fmt: str) -> ir.Table:
    """Parse a text timestamp column with ``fmt`` the way the contract parses text.

    Values that do not parse become null and keep their text in the contract's hidden raw
    column, so that validation counts them as unparseable (and shows them as read); a column
    none of whose values parse is a wrong format, a :class:`ContractError`.
    """
    if column not in table.columns or not table[column].type().is_string():
        return table  # missing, or already a timestamp: the contract takes it from here
    raw = f"_ppx_raw_{column}"
    text = table[column]
    table = table.mutate(**{raw: text, column: _try_strptime(text.strip(), fmt)})
    counts = table.aggregate(given=table[raw].notnull().sum(),
                             parsed=table[column].notnull().sum()).to_pyarrow().to_pylist()[0]
    if counts["given"] and not counts["parsed"]:
        example = table.filter(table[raw].notnull()).select(raw).limit(1).execute().iloc[0, 0]
        raise ContractError([StructuralProblem(
            name, column, f"cannot be read as a timestamp in the format {fmt!r}: none of "
            f"{counts['given']:,} values parse (example: {example!r})")])
    return table


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(text: str, fmt: str) -> dt.datetime:  # DuckDB's own
    """Text to a timestamp by a strptime format; null where it does not parse."""


def _parse_ibis(table: ir.Table, parse: Mapping[str, str]) -> ir.Table:
    # A caller's own table is clean by assumption; only text dates it names are parsed.
    mutations = {c: table[c].as_timestamp(fmt) for c, fmt in parse.items()
                 if table[c].type().is_string()}
    return table.mutate(**mutations) if mutations else table


def _from_frames(frames: dict[str, Any], columns: dict[str, dict[str, str]],
                 parse: dict[str, dict[str, str]], amount_used: bool, stacklevel: int
                 ) -> dict[str, ir.Table]:
    """Load frames into one DuckDB connection, check them against the contract, and return
    the clean tables under the caller's column names."""
    from ppxlib.sources import connect_duckdb

    con = connect_duckdb()
    raw, back, numbered = {}, {}, frozenset()
    for name, obj in frames.items():
        kind = kind_of(obj)
        number_rows = name == "orders" and _lacks(obj, kind, "order_id",
                                                  columns.get(name, {}))
        if number_rows:  # one row, one order: ids of ppx's making are unique
            numbered = frozenset({"orders"})
        table = _load(con, name, _to_engine_input(obj, kind, number_rows))
        table, back[name] = _rename(name, table, columns.get(name, {}))
        for theirs, fmt in parse.get(name, {}).items():
            ours = back[name].get(theirs, theirs)
            table = _parse(name, table, _find(table, ours) or ours, fmt)
        if name == "orders":
            table = _supply(table, amount_used)
        raw[name] = table

    # Examples of what was set aside are for ppxlib.open(...).validate(), which the warning
    # points to; a frame is in memory, so only checks comparing rows are worth a cached copy.
    if "orders" in raw:
        clean, quality = validate_tables(raw, examples=0, cache="windows",
                                         unique_keys=numbered)
    else:
        clean, quality = _validate_alone(raw)
    _warn_exclusions(quality, stacklevel + 1)

    out = {}
    for name in frames:
        table = clean[name]
        if _NO_AMOUNT in table.columns:
            table = table.drop("amount", _NO_AMOUNT)
        out[name] = table.rename(back[name]) if back[name] else table
    return out


def _lacks(obj: Any, kind: str, wanted: str, columns: Mapping[str, str]) -> bool:
    """Whether a frame has no column for ``wanted`` (found as :func:`_find` finds it, or
    named for it in ``columns``)."""
    if wanted in columns.values():
        return False
    key = wanted.strip().lower()
    return not any(c.strip().lower() == key for c in _column_names(obj, kind))


def _supply(orders: ir.Table, amount_used: bool) -> ir.Table:
    """What a lifetimes-style transaction log lacks besides order ids: amounts nobody reads."""
    extra = {}
    if not amount_used and _find(orders, "amount") is None:
        extra["amount"] = ibis.literal(0.0)
        extra[_NO_AMOUNT] = ibis.literal(True)
    return orders.mutate(**extra) if extra else orders


def _validate_alone(tables: dict[str, ir.Table]) -> tuple[dict[str, ir.Table], DataQuality]:
    """Validation of tables given without orders (the rules that need orders cannot apply)."""
    as_of = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    conformed, problems = {}, []
    for name, table in tables.items():
        conformed[name], found = conform(name, table)
        problems.extend(found)
    if problems:
        raise ContractError(problems)
    clean, tallies, exclusions, adjustments = {}, [], [], []
    for name, table in conformed.items():
        clean[name], tally, excluded, adjusted, _ = _check_one(
            name, table, RuleContext(as_of=as_of), examples=0, cache="windows")
        tallies.append(tally)
        exclusions.extend(excluded)
        adjustments.extend(adjusted)
    quality = DataQuality(tables=pd.DataFrame(tallies),
                          exclusions=pd.DataFrame(exclusions, columns=EXCLUSION_COLUMNS),
                          as_of=as_of,
                          adjustments=pd.DataFrame(adjustments, columns=ADJUSTMENT_COLUMNS))
    return clean, quality


def _warn_exclusions(quality: DataQuality, stacklevel: int) -> None:
    adjustments = quality.adjustments
    for row in quality.tables.itertuples():
        if not row.present:
            continue
        said = []
        if row.rows_excluded:
            rules = quality.exclusions[quality.exclusions.table == row.table]
            because = ", ".join(f"{r.rule} {r.rows:,}" for r in rules.itertuples())
            said.append(f"{row.rows_excluded:,} of {row.rows_read:,} rows set aside by the "
                        f"data contract ({because})")
        kept = adjustments[adjustments.table == row.table]
        if len(kept):  # rows kept with a value blanked (or listed): said too
            said.append("rows kept but adjusted (" + ", ".join(
                f"{r.rule} {r.rows:,}: {r.action}" for r in kept.itertuples()) + ")")
        if said:
            warnings.warn(
                f"{row.table}: {'; '.join(said)}; ppxlib.open({{{row.table!r}: frame}})"
                ".validate().quality lists them with examples", DataQualityWarning,
                stacklevel=stacklevel)
