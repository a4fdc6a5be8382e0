"""What could be known at an instant: the one point-in-time rule every report obeys.

A report for month M is true of M: it is computed from the data **as it stood at M's end**
(the first instant of the next month). :func:`as_at` applies the rule once, to every table,
and every notebook computes from its result, so no function needs its own "up to the end"
filter to be right (many still take the end explicitly, for windows inside the month):

==========  ======================================  =========================================
table       rows kept                               timestamps not yet reached at the end
==========  ======================================  =========================================
orders      ``order_ts`` before the end             ``delivered_ts`` -> missing: *not yet
                                                    delivered* (the promise was known when
                                                    the order was placed, so it stays)
returns     ``return_ts`` before the end            -- (a later return has not happened)
surveys     ``response_ts`` before the end          --
tickets     ``opened_ts`` before the end            ``resolved_ts`` -> missing: still *open*
                                                    (and its ``csat``, given on resolution)
==========  ======================================  =========================================

Re-running an old month on newer data therefore gives the numbers it gave then; learned
settings (lifecycle thresholds, model parameters) are learned from these tables only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd

from ppxlib.sources import CleanDataset
from ppxlib.tables import as_table

#: Per table: the column whose time decides whether the row existed, and the columns whose
#: value is only known once their own timestamp (the first of the pair) has passed.
RULES: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "orders": ("order_ts", {"delivered_ts": ("delivered_ts",)}),
    "returns": ("return_ts", {}),
    "surveys": ("response_ts", {}),
    "tickets": ("opened_ts", {"resolved_ts": ("resolved_ts", "csat")}),
}


def month_end(month: str | pd.Period) -> dt.datetime:
    """The end of a month: the first instant of the next one (naive UTC).

    Examples
    --------
    >>> month_end("2025-06")
    datetime.datetime(2025, 7, 1, 0, 0)
    """
    return (pd.Period(month, "M") + 1).start_time.to_pydatetime()


def cut_table(name: str, table: ir.Table, end: dt.datetime) -> ir.Table:
    """One table as it stood at ``end`` (see the module's rules); ``table`` may be an ibis
    table or a data frame (:mod:`ppxlib.tables`).

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "order_id": ["a", "b"], "order_ts": pd.to_datetime(["2025-06-28", "2025-07-02"]),
    ...     "delivered_ts": pd.to_datetime(["2025-07-03", "2025-07-05"])}))
    >>> cut = cut_table("orders", orders, dt.datetime(2025, 7, 1)).to_pandas()
    >>> cut.order_id.tolist(), cut.delivered_ts.isna().tolist()
    (['a'], [True])
    """
    table = as_table(table, name)
    row_time, later = RULES[name]
    kept = table.filter(table[row_time] < end)
    blanked = {}
    for stamp, columns in later.items():
        if stamp not in kept.columns:
            continue
        reached = kept[stamp] < end
        for column in columns:
            if column in kept.columns:
                blanked[column] = ibis.ifelse(reached, kept[column],
                                              ibis.null(kept[column].type()))
    return kept.mutate(**blanked) if blanked else kept


def as_at(clean: CleanDataset, end: dt.datetime | pd.Timestamp) -> CleanDataset:
    """The clean tables as they stood at ``end``: the data a report for the month before saw.

    The data-quality tally is kept as it is (it describes the source as read). Results that
    :func:`ppxlib.shared.once` shares between notebooks are keyed by the cut too.

    Examples
    --------
    >>> import ppxlib
    >>> clean = ppxlib.open("data/sample").validate()              # doctest: +SKIP
    >>> june = as_at(clean, month_end("2025-06"))                    # doctest: +SKIP
    """
    end = pd.Timestamp(end).to_pydatetime()
    tables = {name: (cut_table(name, clean.table(name), end)
                     if clean.table(name) is not None else None) for name in RULES}
    snapshot = f"{clean.snapshot}@{end.isoformat()}" if clean.snapshot else None
    return dataclasses.replace(clean, **tables, snapshot=snapshot)
