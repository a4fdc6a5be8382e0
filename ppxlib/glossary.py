"""The workbook's words, each defined once: every computation and every sentence uses these.

A report's words must mean one number. The definitions below are the ones the computations
implement (the module named with each term) and the ones every report renders in its
"Definitions" section (:func:`definitions_html`), with the thresholds that report used.

The lifecycle thresholds (days without an order after which a customer is *sleeping* and
*lost*, :func:`ppxlib.lifecycle.default_thresholds`) are learned from the repurchase gaps in
the data up to the report month's end. The same *lost* threshold is the activity window of
the retention metrics, so that "lost" and "current customer" mean the same on every page.

Where two variants of one idea are both shown -- the seeds' retention ``(E - N) / S`` and the
share of start customers kept ``(S - lost) / S`` -- they have two names, and the definition of
each says how they differ.
"""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """One defined word: the ``label`` pages show, its ``definition`` (may name
    ``{sleeping_days}``, ``{lost_days}`` and ``{repeat_days}``) and the module that computes it.
    """

    label: str
    definition: str
    computed_in: str


#: Every defined term, by key, in the order the Definitions section lists them.
TERMS: dict[str, Term] = {
    "customer": Term(
        "customer",
        "Anyone with at least one order (among the orders the data checks kept) placed "
        "before the moment in question. \"Customers acquired to date\" counts them all.",
        "ppxlib.lifecycle"),
    "buyer": Term(
        "buyer",
        "A customer who placed an order in the period named, for example \"buyers in "
        "October 2026\".",
        "ppxlib.kpis"),
    "current_customer": Term(
        "current customer",
        "A customer who is not lost: their last order is at most {lost_days} days before the "
        "moment in question. Retention and churn count current customers at the start (S) "
        "and end (E) of the month.",
        "ppxlib.retention"),
    "new": Term(
        "new customer",
        "A customer whose first order falls in the month (N).",
        "ppxlib.lifecycle"),
    "active": Term(
        "active",
        "At a month end: last order at most {sleeping_days} days ago, and neither new nor "
        "reactivated in that month.",
        "ppxlib.lifecycle"),
    "sleeping": Term(
        "sleeping",
        "At a month end: last order more than {sleeping_days} but at most {lost_days} days "
        "ago. A sleeping customer is still a current customer.",
        "ppxlib.lifecycle"),
    "lost": Term(
        "lost",
        "At a month end: last order more than {lost_days} days ago. \"Lost in October\" "
        "counts the current customers at the start of October who were lost at its end.",
        "ppxlib.lifecycle"),
    "reactivated": Term(
        "reactivated",
        "Ordered in the month after being sleeping or lost at the end of the month before.",
        "ppxlib.lifecycle"),
    "won_back": Term(
        "won back",
        "Ordered in the month after being lost at the end of the month before: the part of "
        "the reactivated customers who had stopped being current customers.",
        "ppxlib.retention"),
    "retention": Term(
        "retention rate",
        "(E − N) / S: current customers at the month's end, less the new ones, over current "
        "customers at its start (the seeds' formula). Customers won back count as retained, "
        "so it is the share kept plus the won-back rate.",
        "ppxlib.retention"),
    "kept": Term(
        "share kept",
        "(S − lost) / S: the share of the current customers at the month's start who are "
        "still current customers at its end. Unlike the retention rate it does not count "
        "customers won back.",
        "ppxlib.retention"),
    "churn": Term(
        "churn rate",
        "100 % − retention rate: the customers lost, net of those won back, as a share of S.",
        "ppxlib.retention"),
    "lifespan": Term(
        "lifespan",
        "1 ÷ the churn rate averaged over the 12 months to the report month, in months: how "
        "long a customer stays on average if that churn continues.",
        "ppxlib.retention"),
    "repeat_rate": Term(
        "repeat purchase rate",
        "Of the customers who ordered in the {repeat_days} days to the month's end, the share "
        "who ordered at least twice in them.",
        "ppxlib.retention"),
    "p_alive": Term(
        "chance still active",
        "The purchase model's probability that a customer has not quietly stopped buying, "
        "from how often and how recently they bought.",
        "ppxlib.clv"),
}

#: The repeat purchase rate's window in days (one year, whatever the activity window).
REPEAT_DAYS = 365


def label(key: str) -> str:
    """The word a page shows for a term.

    Examples
    --------
    >>> label("kept")
    'share kept'
    """
    return TERMS[key].label


def define(key: str, sleeping_days: float | None = None, lost_days: float | None = None
           ) -> str:
    """A term's definition with the report's thresholds filled in.

    Examples
    --------
    >>> define("lost", sleeping_days=120, lost_days=300)[:52]
    'At a month end: last order more than 300 days ago. "'
    """
    values = {"sleeping_days": _days(sleeping_days), "lost_days": _days(lost_days),
              "repeat_days": REPEAT_DAYS}
    return TERMS[key].definition.format(**values)


def _days(value: float | None) -> str:
    return "N" if value is None else f"{value:,.0f}"


def definitions_html(keys: list[str] | None = None, sleeping_days: float | None = None,
                     lost_days: float | None = None) -> str:
    """The "Definitions" section of a report (escaped HTML, anchor ``#definitions``).

    Examples
    --------
    >>> "<dt>lost</dt>" in definitions_html(["lost"], 120, 300)
    True
    """
    keys = list(TERMS) if keys is None else keys
    items = "".join(f"<dt>{html.escape(label(k))}</dt>"
                    f"<dd>{html.escape(define(k, sleeping_days, lost_days))}</dd>"
                    for k in keys)
    return (f'<section id="definitions" class="ppx-definitions"><h2>Definitions</h2>'
            f"<dl>{items}</dl></section>")


def window(month, months: int = 1) -> str:
    """A report window in words: the month, or the ``months`` months to it.

    Examples
    --------
    >>> import pandas as pd
    >>> window(pd.Period("2026-10", "M")), window(pd.Period("2026-10", "M"), 12)
    ('October 2026', 'the 12 months to October 2026')
    """
    name = month.strftime("%B %Y")
    return name if months == 1 else f"the {months} months to {name}"


#: The sentence each report's first screen carries, pointing at its Definitions section.
SEE_DEFINITIONS = ('Words such as "lost", "churn" and "current customer" are defined once '
                   'for every report, in the Definitions at the end of this page.')
