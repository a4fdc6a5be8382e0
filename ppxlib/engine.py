"""Bringing engine results back to pandas.

Only results bounded by customers, periods or groups come back. Customer-sized ones are
streamed out in batches and sorted by pyarrow: sorting a million string ids in pandas costs
more than the query that produced them, and sorting them in the engine holds them all in its
memory cap.
"""

from __future__ import annotations

import warnings

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd


def customer_frame(expr: ir.Table, key: str = "customer_id") -> pd.DataFrame:
    """Execute ``expr`` and return it indexed by ``key``, sorted by ``key``.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"customer_id": ["b", "a"], "n": [2, 1]})
    >>> customer_frame(t).n.tolist()
    [1, 2]
    """
    # Streamed out in batches and sorted here: an ORDER BY would make the engine hold the
    # whole customer-sized result inside its memory cap (at 5M customers, over DuckDB's 1 GB
    # per connection), while batches leave it only the query's own, spillable, state.
    # pyarrow sorts strings by their bytes, as DuckDB and Spark do.
    with warnings.catch_warnings():  # ibis streams with DuckDB's deprecated fetch_record_batch
        warnings.simplefilter("ignore", DeprecationWarning)
        table = expr.to_pyarrow_batches(chunk_size=1_000_000).read_all().sort_by(key)
    # Ids are unique, so pyarrow's de-duplication of strings would only cost time (most of
    # the conversion for a million ids); building the index apart avoids set_index's copy.
    index = pd.Index(table.column(key).to_pandas(deduplicate_objects=False), name=key)
    frame = table.drop_columns([key]).to_pandas()
    frame.index = index
    return frame


def stage(expr: ir.Table) -> ir.Table:
    """``expr`` computed now and kept in the engine, for the rest of a long query to build on.

    One query that finds each customer's first order and then joins returns, tickets and
    answers onto it makes the engine hold every join's and aggregate's state at once: at five
    million customers that is more than DuckDB's 1 GB cap, though each step alone fits (and
    spills). Staging the customer-sized intermediate splits the query in two: a DuckDB
    temporary table, which spills too, dropped when the last expression built on it goes.
    Other engines (Spark) plan and spill their own stages, so there ``expr`` is returned as
    it is.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"c": ["a", "a", "b"], "n": [1, 2, 3]})
    >>> per = stage(t.group_by("c").aggregate(n=t.n.sum()))
    >>> int(per.n.sum().execute())
    6
    """
    return expr.cache() if expr._find_backend(use_default=True).name == "duckdb" else expr


def labels(values) -> np.ndarray:
    """Text labels as an object array in which equal labels are one ``str`` object.

    Labels made row by row (``np.where`` over strings, ``astype(str)``, string
    concatenation) give every row its own ``str``: some 55 bytes each, so five label columns
    of five million customers hold over a GB. Sharing one object per distinct label keeps a
    row at the 8 bytes of its pointer; values and dtype (object) are unchanged, missing
    values stay missing.

    Examples
    --------
    >>> import numpy as np
    >>> shared = labels(np.where([True, False, True], "late", "on time"))
    >>> shared.tolist(), shared[0] is shared[2]
    (['late', 'on time', 'late'], True)
    >>> labels([None, None]).tolist()
    [nan, nan]
    """
    codes, names = pd.factorize(pd.Series(values, copy=False))
    # code -1 is a missing value: it picks the extra NaN at the end
    return np.append(names.to_numpy(dtype=object), np.nan)[codes]


def exact_sum(value: ir.NumericColumn, where: ir.BooleanValue | None = None) -> ir.FloatingScalar:
    """Sum of a money (or any decimal) column that does not depend on the order of addition.

    Floating-point addition is not associative, and a parallel engine adds rows in whatever
    order its threads finish, so a plain ``SUM`` over doubles can change in the last digits
    from one run to the next (and a report's numbers with it). Summing as ``DECIMAL(38, 9)``
    is exact, hence the same every time and on every engine; values are rounded to nine
    decimals first, far below any currency's smallest unit.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"amount": [0.1, 0.2, 0.3]})
    >>> t.aggregate(total=exact_sum(t.amount)).execute().total.tolist()
    [0.6]
    """
    return decimal_sum(value, where=where).cast("float64")


def decimal_sum(value: ir.NumericColumn, where: ir.BooleanValue | None = None
                ) -> ir.DecimalScalar:
    """:func:`exact_sum` left as ``DECIMAL(38, 9)``, for sums that are summed again.

    Summing its results again keeps them exact, without a round trip through doubles.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"c": ["a", "a", "b"], "amount": [0.1, 0.2, 0.3]})
    >>> per = t.group_by("c").aggregate(s=decimal_sum(t.amount))
    >>> float(per.aggregate(total=per.s.sum()).execute().total[0])
    0.6
    """
    return value.cast(dt.Decimal(38, 9)).sum(where=where)


def first_by(value: ir.Column, *keys: ir.Column) -> ir.Scalar:
    """``value`` on the row with the smallest ``keys``, compared in order.

    An aggregate "value of the earliest row" is only repeatable when ties are broken: two
    orders of one customer placed in the same second would otherwise give whichever the
    engine's threads met first. Give the timestamp and then a tie-breaker (the order id); the
    value itself is always the last key.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"c": ["a", "a"], "ts": [1, 1], "channel": ["web", "app"]})
    >>> t.group_by("c").aggregate(pick=first_by(t.channel, t.ts)).execute().pick.tolist()
    ['app']
    """
    order = {f"k{i}": key for i, key in enumerate((*keys, value))}
    return value.argmin(ibis.struct(order))
