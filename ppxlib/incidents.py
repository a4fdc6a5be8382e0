"""Recurring incidents: the ticket topic or return reason that is suddenly more common.

"Fix the process when several customers complain about the same thing": a topic whose share
of this month's tickets (or a reason's share of this month's returns) is clearly above its
share of the six months before is flagged. "Clearly" is a one-sided Fisher exact test of the
month's count against the trailing months', with Holm's correction over all topics (so
that, with ten topics, one of them does not look unusual by chance alone), and at least a
few cases (``min_count``) so that two tickets instead of none is not an incident.

Everything is as known at the end of the month, which every function takes explicitly:
rows at or after it are not read. Missing topics are their own group, "(not given)".
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis import _
from scipy import stats

from ppxlib.kpis import to_month
from ppxlib.survey import holm as holm_adjust
from ppxlib.tables import as_table

NOT_GIVEN = "(not given)"
COLUMNS = ["topic", "count", "share", "trailing_count", "trailing_share", "ratio", "p_value",
           "p_holm", "flagged"]


def monthly_counts(table: ir.Table, column: str, ts_column: str, month, months: int = 7
                   ) -> pd.DataFrame:
    """Rows per month and ``column`` value, for the ``months`` months ending with ``month``.

    Returns
    -------
    pandas.DataFrame
        ``month`` (text, YYYY-MM), ``topic``, ``count``, ``share`` (of the month's rows);
        months without rows are absent.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable(pd.DataFrame({"topic": ["a", "b", "a"], "ts": pd.to_datetime(
    ...     ["2026-01-05", "2026-02-01", "2026-03-01"])}))
    >>> monthly_counts(t, "topic", "ts", "2026-02", months=2)[["month", "topic", "count"]
    ...                                                      ].values.tolist()
    [['2026-01', 'a', 1], ['2026-02', 'b', 1]]
    """
    period = to_month(month)
    start = (period - (months - 1)).start_time.to_pydatetime()
    end = (period + 1).start_time.to_pydatetime()
    if column not in table.columns:
        raise ValueError(f"the table has no column {column!r} (columns: {table.columns})")
    ts = table[ts_column]
    t = table.filter((ts >= ibis.literal(start, "timestamp"))
                     & (ts < ibis.literal(end, "timestamp")))
    counts = t.group_by(month=t[ts_column].truncate("M"),
                        topic=t[column].cast("string").fill_null(NOT_GIVEN)).aggregate(
        count=_.count()).to_pandas()
    if counts.empty:
        return pd.DataFrame(columns=["month", "topic", "count", "share"])
    counts["month"] = pd.to_datetime(counts.month).dt.strftime("%Y-%m")
    counts["count"] = counts["count"].astype("int64")
    counts["share"] = counts["count"] / counts.groupby("month")["count"].transform("sum")
    return counts.sort_values(["month", "count", "topic"], ascending=[True, False, True]
                              ).reset_index(drop=True)


def recurring(table: ir.Table, column: str, ts_column: str, month, trailing_months: int = 6,
              alpha: float = 0.05, min_count: int = 5) -> pd.DataFrame:
    """Each topic's share this month against its trailing share, flagged when clearly above.

    Parameters
    ----------
    table : ibis Table
        Tickets (``topic``, ``opened_ts``) or returns (``reason``, ``return_ts``).
    column, ts_column : str
        The topic and the time it happened.
    month : pandas.Period or str
        The month to judge; only rows before its end are read.
    trailing_months : int
        The months before it that give the usual share.
    alpha : float
        Family-wise error over the topics (Holm).
    min_count : int
        A topic needs at least this many cases in the month to be flagged.

    Returns
    -------
    pandas.DataFrame
        One row per topic seen in the month or the trailing months, most common this month
        first: ``topic, count, share, trailing_count, trailing_share, ratio`` (share over
        trailing share), ``p_value`` (one-sided Fisher), ``p_holm``, ``flagged``.

    Examples
    --------
    >>> flags = recurring(clean.tickets, "topic", "opened_ts", "2026-10")  # doctest: +SKIP
    >>> flags[flags.flagged].topic.tolist()  # doctest: +SKIP
    ['delivery']
    """
    period = to_month(month)
    counts = monthly_counts(table, column, ts_column, period, trailing_months + 1)
    this = counts[counts.month == str(period)].set_index("topic")["count"]
    before = counts[counts.month != str(period)].groupby("topic")["count"].sum()
    topics = sorted(set(this.index) | set(before.index))
    if not topics:
        return pd.DataFrame(columns=COLUMNS)
    k = this.reindex(topics, fill_value=0).astype(int)
    m = before.reindex(topics, fill_value=0).astype(int)
    n, big_n = int(k.sum()), int(m.sum())
    p = []
    for topic in topics:
        if n == 0 or big_n == 0:
            p.append(np.nan)  # no month or no history: nothing to compare
            continue
        table_2x2 = [[k[topic], n - k[topic]], [m[topic], big_n - m[topic]]]
        p.append(stats.fisher_exact(table_2x2, alternative="greater")[1])
    p = np.array(p, dtype=float)
    holm = np.full(len(p), np.nan)
    tested = np.isfinite(p)
    if tested.any():
        holm[tested] = holm_adjust(p[tested])
    share = k / n if n else k * np.nan
    trailing = m / big_n if big_n else m * np.nan
    out = pd.DataFrame({"topic": topics, "count": k.to_numpy(), "share": share.to_numpy(),
                        "trailing_count": m.to_numpy(), "trailing_share": trailing.to_numpy(),
                        "p_value": p, "p_holm": holm})
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = out.share / out.trailing_share
    out["flagged"] = ((out.p_holm < alpha) & (out["count"] >= min_count)
                      & (out.share > out.trailing_share)).to_numpy(dtype=bool)
    return out[COLUMNS].sort_values(["count", "topic"], ascending=[False, True]
                                    ).reset_index(drop=True)


def ticket_topics(tickets: ir.Table, month, **options) -> pd.DataFrame:
    """:func:`recurring` ticket topics (by the time each ticket was opened).

    ``tickets`` may be an ibis table or a data frame (:mod:`ppxlib.tables`).
    """
    return recurring(as_table(tickets, "tickets"), "topic", "opened_ts", month, **options)


def return_reasons(returns: ir.Table, month, **options) -> pd.DataFrame:
    """:func:`recurring` return reasons (by the time each return was booked).

    ``returns`` may be an ibis table or a data frame (:mod:`ppxlib.tables`).
    """
    return recurring(as_table(returns, "returns"), "reason", "return_ts", month, **options)


def incident_sentences(flags: pd.DataFrame, what: str) -> list[str]:
    """One sentence per flagged topic, for the report and the summary page.

    Examples
    --------
    >>> flags = pd.DataFrame({"topic": ["delivery"], "count": [40], "share": [0.4],
    ...                       "trailing_share": [0.2], "flagged": [True]})
    >>> incident_sentences(flags, "tickets")
    ["'delivery' is 40% of this month's tickets (40), against 20% in the six months before."]
    """
    return [f"{r.topic!r} is {r.share:.0%} of this month's {what} ({r.count:,}), against "
            f"{r.trailing_share:.0%} in the six months before."
            for r in flags[flags.flagged].itertuples()]
