"""The month in one page: the comparisons behind "what changed", and the ranked findings.

:func:`month_changes` gathers this month's and last month's counts for the comparisons of
:mod:`ppxlib.changes` from tables as they stood at the month's end
(:func:`ppxlib.pointintime.as_at`). :func:`rank_findings` orders the briefing's sentences:
findings with an amount of money first, largest first, then the significant changes, then
the rest in a fixed order -- so the same month always reads the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ibis.expr.types as ir
import pandas as pd

from ppxlib import changes, experience, survey
from ppxlib.glossary import window
from ppxlib.tables import as_tables


def _bounds(period: pd.Period) -> tuple:
    return period.start_time.to_pydatetime(), (period + 1).start_time.to_pydatetime()


def _survey_counts(surveys: ir.Table, metric: str, period: pd.Period) -> pd.DataFrame:
    start, end = _bounds(period)
    here = surveys.filter((surveys.response_ts >= start) & (surveys.response_ts < end))
    return survey.score_counts(here, metric)


def _satisfied(counts: pd.DataFrame) -> tuple[int, int]:
    """(satisfied answers, answers): top two boxes of each answer's own scale."""
    if counts.empty:
        return 0, 0
    top = counts.score >= counts.scale_max - 1
    return int(counts.n[top].sum()), int(counts.n.sum())


def _nps_triplet(counts: pd.DataFrame) -> tuple[int, int, int]:
    if counts.empty:
        return 0, 0, 0
    return (int(counts.n.sum()), int(counts.n[counts.score >= 9].sum()),
            int(counts.n[counts.score <= 6].sum()))


def month_changes(orders: ir.Table, period: pd.Period, metrics: pd.DataFrame,
                  surveys: ir.Table | None = None, tickets: ir.Table | None = None
                  ) -> list[dict]:
    """This month against last month, for every comparison the data allows.

    Parameters
    ----------
    orders, surveys, tickets : ibis.Table
        Clean tables as they stood at the end of ``period``.
    metrics : pandas.DataFrame
        :func:`ppxlib.retention.period_metrics` up to ``period`` (customers kept, orders and
        new customers per month).

    Returns
    -------
    list of dict
        Comparisons for :func:`ppxlib.changes.significant_changes`.
    """
    orders, surveys, tickets = as_tables(orders=orders, surveys=surveys, tickets=tickets)
    before = period - 1
    rows = metrics.set_index("month")
    found: list[dict] = []
    if period in rows.index and before in rows.index:
        now, last = rows.loc[period], rows.loc[before]
        found.append(changes.share_change(
            "kept", "current customers kept", int(now.retained), int(now.customers_start),
            int(last.retained), int(last.customers_start)))
        found.append(changes.count_change("orders", "orders", int(now.orders),
                                          int(last.orders)))
        found.append(changes.count_change("new_customers", "new customers",
                                          int(now.new_customers), int(last.new_customers)))
    if {"promised_ts", "delivered_ts"} <= set(orders.columns):
        a, b = (experience.delivery_in(orders, *_bounds(p)) for p in (period, before))
        found.append(changes.share_change("on_time", "deliveries on time", a["on_time"],
                                          a["delivered"], b["on_time"], b["delivered"]))
    if surveys is not None:
        csat_now, csat_before = (_satisfied(_survey_counts(surveys, "csat", p))
                                 for p in (period, before))
        found.append(changes.share_change("csat", "satisfied answers (CSAT)", *csat_now,
                                          *csat_before))
        found.append(changes.nps_change(
            "nps", "NPS", _nps_triplet(_survey_counts(surveys, "nps", period)),
            _nps_triplet(_survey_counts(surveys, "nps", before))))
    if tickets is not None:
        a, b = (experience.tickets_in(tickets, orders, *_bounds(p)) for p in (period, before))
        found.append(changes.count_change(
            "tickets", "support tickets per 100 orders", a["tickets"], b["tickets"],
            a["orders"], b["orders"], higher_is_better=False, per=100))
    return found


def change_sentence(row, period: pd.Period, currency: str = "") -> str:
    """One significant change in words, e.g. "Deliveries on time rose from 84.0% in September
    to 90.1% in October 2026 (+6.1 points, 95% interval +3.0 to +9.2)."

    Examples
    --------
    >>> row = pd.Series({"label": "deliveries on time", "unit": "share", "now": 0.9,
    ...                  "before": 0.8, "difference": 0.1, "low": 0.05, "high": 0.15})
    >>> change_sentence(row, pd.Period("2026-10", "M"))[:44]
    'Deliveries on time rose from 80.0% in Septem'
    """
    verb = "rose" if row.difference > 0 else "fell"

    def value(x: float) -> str:
        if row.unit == "share":
            return f"{x:.1%}"
        if row.unit == "points":
            return f"{x:+.0f}"
        return f"{x:,.1f}" if row.unit == "rate" else f"{x:,.0f}"

    def step(x: float) -> str:
        if row.unit == "share":
            return f"{100 * x:+.1f} points"
        return f"{x:+,.1f}" if row.unit in ("rate", "points") else f"{x:+,.0f}"

    label = row.label[0].upper() + row.label[1:]
    return (f"{label} {verb} from {value(row.before)} in {(period - 1).strftime('%B')} to "
            f"{value(row.now)} in {window(period)} ({step(row.difference)}, 95% interval "
            f"{step(row.low)} to {step(row.high)}).")


#: The post-purchase problems the briefing prices, as (factor, level) of
#: :func:`ppxlib.adjusted.fit_adjusted`, with their words.
PROBLEMS = {
    ("delivery", "late"): "a late first delivery",
    ("returned", "returned"): "a returned first order",
    ("ticket", "resolved slowly"): "a slowly resolved ticket on the first order",
    ("ticket", "open"): "a ticket on the first order still open",
    ("nps_group", "detractor"): "a detractor NPS answer",
    ("first_csat", "low"): "a low CSAT for the first order",
}


def problem_costs(costs: pd.DataFrame, period: pd.Period) -> tuple[pd.DataFrame, list[str]]:
    """The rows of :func:`ppxlib.stake.value_at_stake` that are post-purchase problems, with
    their words, and one line for each problem that could not be priced this month.

    Examples
    --------
    >>> costs = pd.DataFrame({"factor": ["delivery", "ticket"], "level": ["late", "fast"],
    ...                       "customers": [12, 3], "amount": [-300.0, 10.0]})
    >>> shown, lines = problem_costs(costs, pd.Period("2026-10", "M"))
    >>> shown.problem.tolist(), len(lines)
    (['a late first delivery'], 5)
    >>> len(problem_costs(costs.head(0), pd.Period("2026-10", "M"))[1])  # nothing to price
    6
    """
    keys = list(zip(costs.factor, costs.level, strict=True))
    shown = costs[pd.Series([k in PROBLEMS for k in keys], index=costs.index,
                            dtype=bool)].copy()
    shown["problem"] = [PROBLEMS[k] for k in zip(shown.factor, shown.level, strict=True)]
    priced = {k for k, n in zip(zip(shown.factor, shown.level, strict=True), shown.customers,
                                strict=True) if n > 0}
    lines = [f"Not priced: no new customer of {window(period)} had {words}, or too few "
             f"customers had it to compare." for k, words in PROBLEMS.items() if k not in priced]
    return shown[shown.customers > 0].sort_values("amount").reset_index(drop=True), lines


@dataclass
class Finding:
    """One sentence of the briefing, where it is shown in full, and what ranks it."""

    text: str
    link: str
    amount: float = math.nan  # money the finding is about (ranks first, largest first)
    order: int = 100  # fixed place among findings without an amount

    def as_dict(self) -> dict:
        return {"text": self.text, "link": self.link, "amount": self.amount,
                "order": self.order}


def rank_findings(findings: list[Finding], limit: int = 8) -> pd.DataFrame:
    """Findings with money first (largest amount first), then by their fixed order; at most
    ``limit``.

    Examples
    --------
    >>> f = [Finding("b", "#b", order=2), Finding("a", "#a", amount=10.0),
    ...      Finding("c", "#c", amount=50.0), Finding("d", "#d", order=1)]
    >>> rank_findings(f).text.tolist()
    ['c', 'a', 'd', 'b']
    """
    frame = pd.DataFrame([f.as_dict() for f in findings],
                         columns=["text", "link", "amount", "order"])
    if frame.empty:
        return frame
    frame["has_amount"] = frame.amount.notna()
    frame["by_amount"] = -frame.amount.abs().fillna(0)
    frame = frame.sort_values(["has_amount", "by_amount", "order"],
                              ascending=[False, True, True], kind="stable")
    return frame.head(limit).drop(columns=["has_amount", "by_amount"]).reset_index(drop=True)
