"""The data contract: which tables and columns the workbook understands, and the rules rows obey.

Two kinds of problem are kept apart:

* **Structural** problems (a missing required column, a column that cannot be read as the
  type it must have, an empty ``orders`` table) make the data unusable. They raise
  :class:`ContractError`, which lists every such problem with its table and column.
* **Row-level** problems (a duplicate order id, a negative amount, a date in the future, a
  score outside its scale, a cancelled order, ...) exclude the offending rows. Each rule's rows
  are counted and a few examples kept, so every report can show what was set aside and why.
* **Adjustments** keep the row but change or note one value, and are counted the same way: a
  delivery time after ``as_of`` means "not yet delivered" and is blanked, a ticket resolved
  after ``as_of`` is still open, an id with spaces around it is trimmed, an unknown ``status``
  is kept and listed. Nothing is changed without a line in the tally.

Everything here builds ibis expressions, so the checks run inside the engine where the data
lives; only counts and a handful of example rows come back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

Kind = Literal["id", "timestamp", "number", "text"]

#: Default survey scales when the data gives no ``scale_min`` / ``scale_max``.
DEFAULT_SCALES: dict[str, tuple[float, float]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
SURVEY_METRICS = tuple(DEFAULT_SCALES)

#: Timestamps outside [EARLIEST, LATEST) are placeholders or typos (``0001-01-01``, year 20025);
#: pandas cannot even hold dates before 1677, so they must not reach the reports.
EARLIEST = dt.datetime(1900, 1, 1)
LATEST = dt.datetime(2200, 1, 1)
#: The largest magnitude a number may have. Money is summed as DECIMAL(38, 9), which holds less
#: than 1e29; 1e15 per value leaves room for sums over billions of rows (and no real order or
#: score comes near it).
MAX_NUMBER = 1e15

#: ``status`` values (compared lower-case, spaces and hyphens as ``_``) meaning the order did
#: not happen: excluded from the clean orders, so from revenue and purchases.
CANCELLED_STATUSES = frozenset({
    "cancelled", "canceled", "cancellation", "refused", "rejected", "declined", "void",
    "voided", "failed", "payment_failed",
})
#: ``status`` values of orders that happened (placed, on their way, delivered, or returned
#: later: returns are the returns table's business). Any other value is kept and listed.
KEPT_STATUSES = frozenset({
    "placed", "new", "open", "pending", "paid", "confirmed", "processing", "packed",
    "shipped", "dispatched", "in_transit", "out_for_delivery", "delivered", "completed",
    "complete", "fulfilled", "closed", "returned", "partially_returned", "refunded",
    "partially_refunded",
})
#: Free-text columns: shown only as a short excerpt when a report is redacted.
FREE_TEXT = frozenset({"comment", "reason", "topic"})


@dataclass(frozen=True)
class Column:
    """One column of the contract."""

    name: str
    kind: Kind
    required: bool
    description: str


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract: its columns and the column that must be unique, if any."""

    name: str
    columns: tuple[Column, ...]
    key: str | None
    description: str
    required: bool = False

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name: str, kind: Kind, required: bool, description: str) -> Column:
    return Column(name, kind, required, description)


CONTRACT: dict[str, TableSpec] = {
    "orders": TableSpec(
        "orders",
        (
            _c("order_id", "id", True, "unique order identifier"),
            _c("customer_id", "id", True, "customer identifier"),
            _c("order_ts", "timestamp", True, "when the order was placed (naive = UTC)"),
            _c("amount", "number", True, "order value, >= 0, in the shop's currency"),
            _c("channel", "text", False, "sales channel of the order"),
            _c("region", "text", False, "delivery region"),
            _c("category", "text", False, "main product category"),
            _c("discount", "number", False, "discount granted on the order"),
            _c("promised_ts", "timestamp", False, "promised delivery time"),
            _c("delivered_ts", "timestamp", False, "actual delivery time"),
            _c("status", "text", False, "order status"),
        ),
        key="order_id",
        description="one row per order",
        required=True,
    ),
    "returns": TableSpec(
        "returns",
        (
            _c("order_id", "id", True, "the returned order"),
            _c("return_ts", "timestamp", True, "when the return was registered"),
            _c("amount", "number", False, "refunded amount, >= 0"),
            _c("reason", "text", False, "return reason"),
        ),
        key=None,
        description="one row per return",
    ),
    "surveys": TableSpec(
        "surveys",
        (
            _c("customer_id", "id", True, "who answered"),
            _c("response_ts", "timestamp", True, "when they answered"),
            _c("metric", "text", True, "csat, nps or ces"),
            _c("score", "number", True, "the answer on the survey's scale"),
            _c("response_id", "id", False, "unique response identifier"),
            _c("order_id", "id", False, "the order the survey was about"),
            _c("scale_min", "number", False, "lowest possible score"),
            _c("scale_max", "number", False, "highest possible score"),
            _c("touchpoint", "text", False, "delivery, support, relationship, ..."),
            _c("comment", "text", False, "free text from the customer (untrusted)"),
        ),
        key="response_id",
        description="one row per survey answer",
    ),
    "tickets": TableSpec(
        "tickets",
        (
            _c("ticket_id", "id", True, "unique ticket identifier"),
            _c("customer_id", "id", True, "who contacted support"),
            _c("opened_ts", "timestamp", True, "when the ticket was opened"),
            _c("order_id", "id", False, "the order concerned"),
            _c("resolved_ts", "timestamp", False, "when it was resolved; empty = still open"),
            _c("channel", "text", False, "email, chat, phone, ..."),
            _c("topic", "text", False, "what it was about"),
            _c("csat", "number", False, "satisfaction with the support contact"),
        ),
        key="ticket_id",
        description="one row per support ticket",
    ),
}
TABLES = tuple(CONTRACT)


# --------------------------------------------------------------------------- structural


@dataclass(frozen=True)
class StructuralProblem:
    """A problem that makes a table unusable (not fixable by dropping rows)."""

    table: str
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{where}: {self.message}"


#: C0 and C1 control characters and DEL, and the bidirectional overrides and isolates that
#: reorder what a terminal or page shows (U+200E/F and U+061C marks included).
CONTROL_CHARACTERS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    r"""Control characters and bidi overrides written as escapes, e.g. for a terminal.

    Examples
    --------
    >>> escape_controls("a\x1b[31mb\u202ec")
    'a\\x1b[31mb\\u202ec'
    """
    def escape(match: re.Match) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return CONTROL_CHARACTERS.sub(escape, text)


class ContractError(ValueError):
    """Raised when data breaks the contract structurally; lists every problem found."""

    def __init__(self, problems: list[StructuralProblem]):
        self.problems = list(problems)
        # Messages quote column names and values from the data: printable only.
        lines = "\n".join(f"  - {escape_controls(str(p))}" for p in self.problems)
        super().__init__(f"the data does not meet the ppx data contract:\n{lines}")


def _raw_name(column: str) -> str:
    return f"_ppx_raw_{column}"


def conform(name: str, table: ir.Table) -> tuple[ir.Table, list[StructuralProblem]]:
    """Cast a table's known columns to the contract's types.

    Returns the conformed table and the structural problems found. Column names are matched
    case-insensitively and surrounding spaces ignored. Text columns that hold timestamps or
    numbers are parsed; values that fail to parse become null and keep their raw text in a
    hidden column so that validation can count them. Unknown columns pass through untouched.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> t = ibis.memtable(pd.DataFrame({"order_id": [1], "customer_id": ["a"],
    ...                                 "order_ts": ["2024-01-02"], "amount": ["9.5"]}))
    >>> conformed, problems = conform("orders", t)
    >>> str(conformed.schema()["amount"]), problems
    ('float64', [])
    """
    spec = CONTRACT[name]
    problems: list[StructuralProblem] = duplicate_columns(name, table.columns)
    if problems:  # which copy is the real one cannot be guessed
        return table, problems

    lookup = {c.strip().lower(): c for c in table.columns}
    renames = {
        col.name: lookup[col.name]
        for col in spec.columns
        if col.name in lookup and lookup[col.name] != col.name
    }
    if renames:
        table = table.rename(renames)

    for col in spec.required_columns:
        if col not in table.columns:
            problems.append(
                StructuralProblem(
                    name,
                    col,
                    f"required column is missing ({spec.column(col).kind}: "
                    f"{spec.column(col).description}); found columns: "
                    f"{', '.join(table.columns) or 'none'}",
                )
            )

    casts: dict[str, ir.Value] = {}
    raws: dict[str, ir.Value] = {}
    for col in spec.columns:
        if col.name not in table.columns:
            continue
        value = table[col.name]
        dtype = value.type()
        if col.kind == "id":
            if dtype.is_floating():  # integer ids read with missing values become floats
                casts[col.name] = _whole_id(value)
                raws[_raw_name(col.name)] = value
            elif dtype.is_string():
                # " C1" is C1, and an id of only spaces is no id; the flag lets the tally
                # say how many ids were trimmed.
                casts[col.name], raws[_padded_name(col.name)] = _trimmed_id(value)
            elif not dtype.is_integer():
                casts[col.name] = value.cast("string")
        elif col.kind == "text":
            if not dtype.is_string():
                value = value.cast("string")
                casts[col.name] = value
            if (name, col.name) == ("surveys", "metric"):
                casts[col.name] = value.strip().lower()
        elif col.kind == "number":
            if dtype.is_string():
                casts[col.name] = _parse_number(value)
                raws[_raw_name(col.name)] = value
            elif dtype.is_numeric() and not dtype.is_boolean() or dtype.is_null():
                casts[col.name] = value.cast("float64")
            else:
                problems.append(
                    StructuralProblem(name, col.name, f"expected a number, found {dtype}")
                )
        elif col.kind == "timestamp":
            if dtype.is_timestamp():
                if dtype.timezone is not None or dtype.scale not in (None, 6):
                    casts[col.name] = value.cast("timestamp")
            elif dtype.is_date():
                casts[col.name] = value.cast("timestamp")
            elif dtype.is_string():
                casts[col.name] = value.strip().try_cast("timestamp")
                raws[_raw_name(col.name)] = value
            elif dtype.is_null():
                casts[col.name] = value.cast("timestamp")
            else:
                problems.append(
                    StructuralProblem(name, col.name, f"expected a timestamp, found {dtype}")
                )
    if casts or raws:
        table = table.mutate(**raws, **casts)

    # A text column none of whose values parse is a wrong column, not a few bad rows.
    parsed = [r for r in raws if r.startswith("_ppx_raw_")
              and spec.column(r.removeprefix("_ppx_raw_")).kind in ("number", "timestamp")]
    if parsed and not problems:
        checks = {}
        for raw in parsed:
            col = raw.removeprefix("_ppx_raw_")
            checks[f"{col}__given"] = table[raw].notnull().sum()
            checks[f"{col}__parsed"] = table[col].notnull().sum()
        counts = table.aggregate(**checks).to_pyarrow().to_pylist()[0]
        for raw in parsed:
            col = raw.removeprefix("_ppx_raw_")
            given, parsed = counts[f"{col}__given"] or 0, counts[f"{col}__parsed"] or 0
            if given and not parsed:
                example = table.filter(table[raw].notnull()).select(raw).limit(1)
                value = example.to_pyarrow().column(0)[0].as_py()
                kind = spec.column(col).kind
                problems.append(
                    StructuralProblem(
                        name,
                        col,
                        f"cannot be read as a {kind}: none of {given} values parse "
                        f"(example: {value!r})",
                    )
                )
    return table, problems


def duplicate_columns(name: str, columns: list[str]) -> list[StructuralProblem]:
    """Contract columns given more than once (``amount`` beside `` AMOUNT ``).

    Examples
    --------
    >>> [str(p) for p in duplicate_columns("orders", ["order_id", "amount", " AMOUNT "])]
    ["orders.amount: the column appears 2 times ('amount', ' AMOUNT '); keep one"]
    """
    known = {c.name for c in CONTRACT[name].columns}
    seen: dict[str, list[str]] = {}
    for column in columns:
        seen.setdefault(column.strip().lower(), []).append(column)
    return [
        StructuralProblem(name, key, f"the column appears {len(given)} times "
                                     f"({', '.join(map(repr, given))}); keep one")
        for key, given in seen.items() if key in known and len(given) > 1
    ]


#: What ids are trimmed of (what ibis' strip removes).
WHITESPACE = " \t\n\r\x0b\x0c"


def _trimmed_id(value: ir.StringValue) -> tuple[ir.StringValue, ir.BooleanValue]:
    """A text id without surrounding whitespace (null if nothing is left), and whether it had
    any. Trimming runs only on ids that start or end with whitespace: trimming every id of
    10M orders would cost seconds, looking at the first and last character almost nothing."""
    edge = value.ascii_str().isin([ord(c) for c in WHITESPACE])
    for char in WHITESPACE:
        edge = edge | value.endswith(char)
    trimmed = ibis.cases((edge, value.strip().nullif("")), else_=value.nullif(""))
    padded = ibis.cases((edge, value.strip() != ""), else_=False)
    return trimmed, padded


def _padded_name(column: str) -> str:
    return f"_ppx_padded_{column}"


def _whole_id(value: ir.FloatingValue) -> ir.IntegerValue:
    """A float id as an integer when it is one; 123.4, NaN and inf become null (not rounded).

    Floats hold every integer below 2**53 exactly; beyond that an id is already lost.
    """
    whole = value.notnull() & ~value.isnan() & ~value.isinf() & (value.abs() < 2.0**53)
    whole = whole & (value == value.floor())
    return ibis.cases((whole, value.cast("int64")), else_=ibis.null("int64"))


def _parse_number(text: ir.StringValue) -> ir.FloatingValue:
    """Text to a number; a decimal comma followed by one or two digits counts too.

    ``"10,5"`` and ``"10,50"`` are read as 10.5 (spreadsheets in much of Europe write them so),
    but ``"1,200"`` stays unreadable: it may mean 1.2 or 1200, and guessing would be silent.
    Currency symbols and thousands separators are not stripped, for the same reason.
    """
    text = text.strip()
    decimal_comma = text.re_search(r"^[+-]?[0-9]+,[0-9]{1,2}$")
    return ibis.cases(
        (decimal_comma, text.replace(",", ".").try_cast("float64")),
        else_=text.try_cast("float64"),
    )


# --------------------------------------------------------------------------- row rules


@dataclass(frozen=True)
class RuleContext:
    """What row rules may refer to besides the table itself."""

    as_of: object  # a datetime: rows dated after it are "in the future"
    orders: ir.Table | None = None  # the clean orders, for references from other tables


@dataclass(frozen=True)
class RowRule:
    """A row-level rule: rows for which ``violated`` is true are excluded and counted."""

    table: str
    name: str
    column: str
    reason: str
    violated: Callable[[ir.Table, RuleContext], ir.BooleanValue]
    #: The rule compares rows that share the table's key, so it cannot fire when every row
    #: has a key of its own (and validation then skips its window over the whole table).
    between_rows_of_a_key: bool = False
    #: ``"exclude"`` the row; ``"blank"``: keep the row, set ``column`` to null; ``"note"``:
    #: keep the row as it is and list it (blanks and notes are counted among kept rows).
    action: Literal["exclude", "blank", "note"] = "exclude"


def _blank(raw: ir.Value) -> ir.BooleanValue:
    """No value given: null, only whitespace, or (a float id read from Parquet) NaN."""
    if raw.type().is_floating():
        return raw.isnull() | raw.isnan()
    return raw.isnull() | (raw.strip() == "")


def _missing(col: str) -> Callable[[ir.Table, RuleContext], ir.BooleanValue]:
    raw = _raw_name(col)

    def violated(t: ir.Table, ctx: RuleContext) -> ir.BooleanValue:
        if raw in t.columns:  # a value that failed to parse is "unparseable", not "missing"
            return t[col].isnull() & _blank(t[raw])
        return t[col].isnull()

    return violated


def _unparseable(col: str) -> Callable[[ir.Table, RuleContext], ir.BooleanValue]:
    raw = _raw_name(col)
    return lambda t, ctx: ~_blank(t[raw]) & t[col].isnull()


def _future(col: str) -> Callable[[ir.Table, RuleContext], ir.BooleanValue]:
    return lambda t, ctx: t[col] > ibis.literal(ctx.as_of, type="timestamp")


def _implausible_time(col: str) -> Callable[[ir.Table, RuleContext], ir.BooleanValue]:
    return lambda t, ctx: ((t[col] < ibis.literal(EARLIEST, type="timestamp"))
                           | (t[col] >= ibis.literal(LATEST, type="timestamp")))


def _not_finite(col: str) -> Callable[[ir.Table, RuleContext], ir.BooleanValue]:
    # isnan/isinf spelt out: engines disagree on how NaN compares (DuckDB: above everything).
    return lambda t, ctx: t[col].notnull() & (
        t[col].isnan() | t[col].isinf() | (t[col].abs() > MAX_NUMBER))


def _padded(col: str) -> Callable[[ir.Table, RuleContext], ir.BooleanValue]:
    return lambda t, ctx: t[_padded_name(col)] & t[col].notnull()


def normal_status(status: ir.StringValue) -> ir.StringValue:
    """``" In Transit"`` -> ``"in_transit"``: how ``status`` values are compared."""
    # Plain replaces, not a regex: this runs on every order.
    return status.strip().lower().replace(" ", "_").replace("-", "_")


def _cancelled(t: ir.Table, ctx: RuleContext) -> ir.BooleanValue:
    # Values already written as ppx writes them skip the normalising (seconds at 10M rows).
    return ibis.cases((t.status.isin(sorted(KEPT_STATUSES)), False),
                      else_=normal_status(t.status).isin(sorted(CANCELLED_STATUSES)))


def _unknown_status(t: ir.Table, ctx: RuleContext) -> ir.BooleanValue:
    known = sorted(CANCELLED_STATUSES | KEPT_STATUSES)
    status = normal_status(t.status)
    return ibis.cases((t.status.isin(known), False),
                      else_=(status != "") & ~status.isin(known))


def _delivered_before_order(t: ir.Table, ctx: RuleContext) -> ir.BooleanValue:
    # By calendar day: a delivery given as a date only (2025-01-02) is not before an order
    # placed at 10:00 that day.
    return t.delivered_ts < t.order_ts.truncate("D")


def _discount_above_amount(t: ir.Table, ctx: RuleContext) -> ir.BooleanValue:
    # A negative amount and a NaN discount have rules of their own (and DuckDB ranks NaN
    # above every number).
    return (t.amount >= 0) & ~t.discount.isnan() & (t.discount > t.amount)


def _negative(col: str) -> Callable[[ir.Table, RuleContext], ir.BooleanValue]:
    return lambda t, ctx: t[col] < 0


def _exact_copy(t: ir.Table, ctx: RuleContext) -> ir.BooleanValue:
    # row_number counts from 0: every copy after the first is flagged.
    cols = [c for c in t.columns if not c.startswith("_ppx_")]
    return ibis.row_number().over(group_by=[t[c] for c in cols]) > 0


def _conflicting_key(key: str) -> Callable[[ir.Table, RuleContext], ir.BooleanValue]:
    def violated(t: ir.Table, ctx: RuleContext) -> ir.BooleanValue:
        cols = [c for c in t.columns if not c.startswith("_ppx_")]
        versions = t[key].count().over(group_by=t[key])
        copies = t[key].count().over(group_by=[t[c] for c in cols])
        return t[key].notnull() & (versions > copies)

    return violated


def _survey_scale(t: ir.Table) -> tuple[ir.NumericValue, ir.NumericValue]:
    metric = t.metric.lower().strip()
    low = metric.cases(*((m, lo) for m, (lo, _) in DEFAULT_SCALES.items()), else_=None)
    high = metric.cases(*((m, hi) for m, (_, hi) in DEFAULT_SCALES.items()), else_=None)
    if "scale_min" in t.columns:
        low = t.scale_min.fill_null(low)
    if "scale_max" in t.columns:
        high = t.scale_max.fill_null(high)
    return low, high


def _score_outside_scale(t: ir.Table, ctx: RuleContext) -> ir.BooleanValue:
    low, high = _survey_scale(t)
    # NaN and inf have a rule of their own (and engines disagree on how NaN compares).
    finite = t.score.notnull() & ~t.score.isnan() & ~t.score.isinf()
    return finite & ((t.score < low) | (t.score > high))


def _unknown_metric(t: ir.Table, ctx: RuleContext) -> ir.BooleanValue:
    return t.metric.notnull() & ~t.metric.lower().strip().isin(SURVEY_METRICS)


def _unknown_order(t: ir.Table, ctx: RuleContext) -> ir.BooleanValue:
    return t[ORDER_TS_REF].isnull()


def _return_before_order(t: ir.Table, ctx: RuleContext) -> ir.BooleanValue:
    return t.return_ts < t[ORDER_TS_REF]


def _before(late: str, early: str) -> Callable[[ir.Table, RuleContext], ir.BooleanValue]:
    return lambda t, ctx: t[late] < t[early]


#: Hidden column that :func:`attach_references` adds to returns: the returned order's order_ts.
ORDER_TS_REF = "_ppx_order_ts"


def attach_references(table: str, t: ir.Table, ctx: RuleContext) -> ir.Table:
    """Add the hidden columns that cross-table rules need (returns get their order's time)."""
    if table != "returns" or ctx.orders is None:
        return t
    ids, ref = t.order_id, ctx.orders.order_id
    orders = ctx.orders
    if ids.type() != ref.type():
        t = t.mutate(_ppx_order_key=ids.cast("string"))
        orders = orders.mutate(order_id=ref.cast("string"))
    else:
        t = t.mutate(_ppx_order_key=ids)
    placed = orders.select(_ppx_order_key=orders.order_id, **{ORDER_TS_REF: orders.order_ts})
    joined = t.left_join(placed, "_ppx_order_key")
    return joined.drop(*[c for c in joined.columns if c.startswith("_ppx_order_key")])


def row_rules(table: str, columns: list[str]) -> list[RowRule]:
    """The row rules that apply to ``table`` given the columns it has, in reporting order.

    Examples
    --------
    >>> [r.name for r in row_rules("returns", ["order_id", "return_ts"])]
    ['missing_order_id', 'missing_return_ts', 'duplicate_row', 'future_return_ts', \
'implausible_return_ts']
    """
    spec = CONTRACT[table]
    rules: list[RowRule] = []
    for col in spec.columns:
        if col.name in columns and _raw_name(col.name) in columns:
            if col.kind == "id":
                rules.append(RowRule(
                    table, f"fractional_{col.name}", col.name,
                    f"{col.name} is not a whole number below 2**53 (e.g. 123.4): ids are "
                    "not rounded",
                    _unparseable(col.name)))
            else:
                rules.append(RowRule(
                    table, f"unparseable_{col.name}", col.name,
                    f"{col.name} cannot be read as a {col.kind}", _unparseable(col.name)))
    for col in spec.required_columns:
        if col in columns:
            empty = "is empty or only spaces" if spec.column(col).kind == "id" else "is empty"
            rules.append(RowRule(table, f"missing_{col}", col, f"{col} {empty}", _missing(col)))
    if spec.key and spec.key in columns:
        rules.append(
            RowRule(
                table,
                "duplicate_row",
                spec.key,
                "exact copy of an earlier row (one copy kept)",
                _exact_copy,
                between_rows_of_a_key=True,
            )
        )
        rules.append(
            RowRule(
                table,
                f"conflicting_{spec.key}",
                spec.key,
                f"{spec.key} used by rows with different contents (all versions excluded)",
                _conflicting_key(spec.key),
                between_rows_of_a_key=True,
            )
        )
    else:  # no key (returns, surveys without response_id): copies are still copies
        rules.append(RowRule(table, "duplicate_row", spec.columns[0].name,
                             "exact copy of an earlier row (one copy kept)", _exact_copy))
    for col in spec.columns:
        if col.name not in columns:
            continue
        if col.kind == "timestamp":
            rules.extend(_timestamp_rules(table, col))
        if col.kind == "number":
            rules.append(RowRule(
                table, f"not_finite_{col.name}", col.name,
                f"{col.name} is not a finite number up to {MAX_NUMBER:.0e} "
                "(nan, inf or too large to add up)", _not_finite(col.name)))
        if col.kind == "number" and col.name in ("amount", "discount"):
            rules.append(
                RowRule(
                    table, f"negative_{col.name}", col.name, f"{col.name} is negative",
                    _negative(col.name),
                )
            )
    if table == "orders" and "discount" in columns:
        rules.append(RowRule(table, "discount_above_amount", "discount",
                             "discount is larger than the amount (one of them is wrong)",
                             _discount_above_amount))
    if table == "orders" and "delivered_ts" in columns:
        rules.append(RowRule(table, "delivered_before_order", "delivered_ts",
                             "delivered_ts is on a day before the order was placed",
                             _delivered_before_order, action="blank"))
    if table == "orders" and "status" in columns:
        rules.append(RowRule(table, "cancelled_order", "status",
                             "status says the order was cancelled ("
                             + ", ".join(sorted(CANCELLED_STATUSES)) + "): not a purchase",
                             _cancelled))
        rules.append(RowRule(table, "unknown_status", "status",
                             "status is not one ppx knows (the order counts as a purchase)",
                             _unknown_status, action="note"))
    for col in spec.columns:
        if col.kind == "id" and col.name in columns and _padded_name(col.name) in columns:
            rules.append(RowRule(table, f"padded_{col.name}", col.name,
                                 f"{col.name} had spaces around it; they were removed "
                                 "(' C1' is read as 'C1')", _padded(col.name), action="note"))
    if table == "surveys":
        rules.append(
            RowRule(table, "unknown_metric", "metric",
                    f"metric is not one of {', '.join(SURVEY_METRICS)}", _unknown_metric)
        )
        rules.append(
            RowRule(table, "score_outside_scale", "score",
                    "score outside the survey's scale (scale_min..scale_max, or the default "
                    + ", ".join(f"{m} {lo:g}-{hi:g}" for m, (lo, hi) in DEFAULT_SCALES.items())
                    + ")",
                    _score_outside_scale)
        )
    if table == "tickets" and "resolved_ts" in columns:
        rules.append(
            RowRule(table, "resolved_before_opened", "resolved_ts",
                    "resolved_ts is before opened_ts", _before("resolved_ts", "opened_ts"))
        )
    if table == "returns" and ORDER_TS_REF in columns:
        rules.append(
            RowRule(table, "unknown_order", "order_id",
                    "order_id not found among the valid orders", _unknown_order)
        )
        rules.append(
            RowRule(table, "return_before_order", "return_ts",
                    "return_ts is before the order was placed", _return_before_order)
        )
    return rules


#: Optional timestamps after ``as_of`` that mean "not yet": blanked, the row kept.
NOT_YET = {"delivered_ts": "not yet delivered", "resolved_ts": "the ticket is still open"}


def _timestamp_rules(table: str, col: Column) -> list[RowRule]:
    """Future and implausible times: a required (event) time excludes the row; an optional
    one is blanked (or, for ``promised_ts``, may lie in the future)."""
    implausible = (f"{col.name} is before {EARLIEST:%Y} or after {LATEST.year - 1} "
                   "(a placeholder or a typo)")
    if col.required:
        return [
            RowRule(table, f"future_{col.name}", col.name, f"{col.name} is in the future",
                    _future(col.name)),
            RowRule(table, f"implausible_{col.name}", col.name, implausible,
                    _implausible_time(col.name)),
        ]
    rules = []
    if col.name in NOT_YET:
        rules.append(RowRule(
            table, f"future_{col.name}", col.name,
            f"{col.name} is after the as-of time: {NOT_YET[col.name]}",
            _future(col.name), action="blank"))
    rules.append(RowRule(table, f"implausible_{col.name}", col.name,
                         implausible, _implausible_time(col.name),
                         action="blank"))
    return rules
