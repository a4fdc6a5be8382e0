"""What the post-purchase problems of one month are worth: the value at stake.

For each first-order experience (a late delivery, a return, a slow ticket, ...) and the
customers whose first order in the report month had it:

    value at stake = sum over those customers of
                     expected repeat purchases over the horizon
                     x the adjusted relative difference in coming back
                     x expected spend per purchase

The relative difference is :func:`ppxlib.adjusted.fit_adjusted`'s standardised 90-day
difference divided by the reference group's standardised share (``relative``): customers
with a late first delivery come back, say, 26 % less often than comparable customers
delivered on time, so their expected repeat purchases are taken to be 26 % lower than had
their delivery been on time. Expected purchases and spend come from the CLV model
(``CLVModel.predict(summary, months)``: ``expected_purchases`` and ``expected_spend``).

The interval is a bootstrap: the month's affected customers are resampled, and the relative
difference is drawn from its sampling distribution (normal, its delta-method standard
error), together. The amount is *associated with* the experience in observational data;
it is not proof that fixing the experience would earn it.

The one-page briefing (``00_briefing``) prices the month's problems with
:func:`value_at_stake`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ppxlib.adjusted import FACTORS, _words
from ppxlib.kpis import to_month
from ppxlib.takeaways import money

COLUMNS = ["factor", "level", "reference", "customers", "without_prediction", "relative",
           "amount", "low", "high", "sentence"]


def value_at_stake(differences: pd.DataFrame, customers: pd.DataFrame, expected: pd.DataFrame,
                   month, months: int = 12, draws: int = 1_000, confidence: float = 0.95,
                   seed: int = 0, currency: str = "") -> pd.DataFrame:
    """Repeat sales associated with each first-order experience of the month's new customers.

    Parameters
    ----------
    differences : pandas.DataFrame
        ``AdjustedResult.differences`` (:func:`ppxlib.adjusted.fit_adjusted`).
    customers : pandas.DataFrame
        :func:`ppxlib.adjusted.customer_table` for the same month end: the experience
        columns and ``first_ts``, indexed by customer.
    expected : pandas.DataFrame
        Indexed by customer: ``expected_purchases`` (repeat purchases over ``months``) and
        ``expected_spend`` (per purchase), as ``CLVModel.predict(summary, months)`` returns.
    month : pandas.Period or str
        The report month (``"2026-10"``): its new customers are the ones affected.
    months : int
        The horizon of ``expected_purchases``, for the sentences.
    draws : int
        Bootstrap draws.
    confidence : float
        Of the interval.
    seed : int
        Of the bootstrap.
    currency : str
        Symbol for the sentences.

    Returns
    -------
    pandas.DataFrame
        One row per factor level with an estimated difference: ``factor, level, reference,
        customers`` (the month's new customers with it), ``without_prediction`` (of them, how
        many the CLV model gave no prediction: left out of the amount and counted here),
        ``relative``, ``amount`` (negative: repeat sales not made), ``low, high`` and
        ``sentence``. Levels with no affected customer have amount 0.

    Examples
    --------
    >>> expected = clv.predict(summary, 12)  # doctest: +SKIP
    >>> stake = value_at_stake(result.differences, frame, expected, "2026-10")  # doctest: +SKIP
    """
    missing = {"expected_purchases", "expected_spend"} - set(expected.columns)
    if missing:
        raise ValueError(f"expected: no column {', '.join(sorted(missing))} "
                         f"({len(expected):,} rows; columns {list(expected.columns)})")
    period = to_month(month)
    start, end = period.start_time, (period + 1).start_time
    first = pd.to_datetime(customers.first_ts)
    new = customers[(first >= start) & (first < end)]
    value = (expected.expected_purchases * expected.expected_spend).astype(float)
    rng = np.random.default_rng(seed)
    tail = (1 - confidence) / 2
    rows = []
    for d in differences.itertuples():
        if not d.estimated or not np.isfinite(d.relative):
            continue
        affected = new.index[new[d.factor] == d.level] if d.factor in new else new.index[:0]
        values = value.reindex(affected)
        known = values.dropna().to_numpy()
        amount = float(d.relative * known.sum())
        if len(known):
            # customers resampled and the relative difference drawn, in each draw together
            totals = rng.multinomial(len(known), np.full(len(known), 1 / len(known)),
                                     size=draws) @ known
            relatives = rng.normal(d.relative, d.relative_se, size=draws)
            low, high = np.quantile(relatives * totals, [tail, 1 - tail])
        else:
            low = high = 0.0
        row = {"factor": d.factor, "level": d.level, "reference": d.reference,
               "customers": len(affected), "without_prediction": int(values.isna().sum()),
               "relative": float(d.relative), "amount": amount, "low": float(low),
               "high": float(high)}
        row["sentence"] = stake_sentence(row, period, months, currency)
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _money(x: float, currency: str) -> str:
    return money(abs(x), currency)  # the sentence says "less" or "more": no sign


def stake_sentence(row: dict, month: pd.Period, months: int = 12, currency: str = "") -> str:
    """The value at stake of one row, in a manager's words ("associated with", not "causes").

    Examples
    --------
    >>> row = {"factor": "delivery", "level": "late", "customers": 120, "amount": -3400.0,
    ...        "low": -5000.0, "high": -1900.0}
    >>> stake_sentence(row, pd.Period("2026-10", "M"))  # doctest: +NORMALIZE_WHITESPACE
    'The 120 new customers of October 2026 with a late first delivery are associated with
    about 3,400 less in repeat purchases over the next 12 months than had they been
    delivered on time (95%: 1,900 to 5,000 less).'
    """
    who = _words(row["factor"], row["level"])
    them = FACTORS.get(row["factor"], ("", ""))[1]
    if them.startswith("who are "):
        had = "had they been " + them[len("who are "):]
    elif them.startswith("who "):
        had = "had they " + them[len("who "):]
    else:
        had = f"had they been {them}"
    if row["customers"] == 0:
        return f"No new customer of {month.strftime('%B %Y')} had {who}."
    amount, low, high = row["amount"], row["low"], row["high"]
    if low <= 0 <= high or math.isclose(amount, 0.0, abs_tol=0.5):
        return (f"The {row['customers']:,} new customers of {month.strftime('%B %Y')} with {who}"
                f" are not clearly associated with more or fewer repeat purchases than comparable "
                f"customers {them}.")
    word = "less" if amount < 0 else "more"
    near, far = sorted([abs(low), abs(high)])
    return (f"The {row['customers']:,} new customers of {month.strftime('%B %Y')} with {who} "
            f"are associated with about {_money(amount, currency)} {word} in repeat purchases "
            f"over the next {months} months than {had} "
            f"(95%: {_money(near, currency)} to {_money(far, currency)} {word}).")
