"""Per-customer purchase summaries for the CLV models, computed in the engine.

:func:`rfm_summary` means exactly what ``lifetimes.utils.summary_data_from_transaction_data``
and ``calibration_and_holdout_data`` mean, so its output feeds ``lifetimes`` fitters:

* purchases are bucketed into periods of ``freq`` ("D" days, or "W" ISO weeks) and amounts in
  the same period summed; only periods up to and including the one that contains
  ``observation_end`` count;
* ``frequency`` = purchase periods - 1 (repeat purchases), ``recency`` = last - first period,
  ``T`` = observation period - first period, both divided by ``freq_multiplier`` (so
  ``freq="D", freq_multiplier=7`` counts purchase days and measures time in weeks, as the
  BG/NBD paper does);
* ``monetary_value`` = mean spend per repeat period (0 without repeats).

With ``calibration_end`` the summary covers the calibration periods and three holdout
columns are added for the periods after it: ``frequency_holdout`` (purchase periods),
``monetary_value_holdout`` and ``duration_holdout``.

**A lifetimes defect, corrected here:** lifetimes' ``calibration_and_holdout_data`` averages
``monetary_value_holdout`` over individual *transactions*, while ``monetary_value`` and
``frequency_holdout`` are per *period*; two orders on one day count once in the frequency
but twice in the average. Here the holdout spend is the mean per holdout purchase period,
consistent with the calibration columns. lifetimes also cuts calibration and holdout at raw
timestamps (midnight of the given days) while counting by period, so orders later on those
two days are dropped from one side; here both cuts are by period, as in its plain summary.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from ppxlib.engine import customer_frame, decimal_sum

FREQS = ("D", "W")
_PERIOD_DAYS = {"D": 1, "W": 7}


def _period_of(ts: ir.TimestampValue, freq: str) -> ir.DateValue:
    # A period is keyed by its first day: grouping by a date is cheaper than by a number.
    return ts.date() if freq == "D" else ts.truncate("W").date()


def _start_of(when: pd.Timestamp, freq: str) -> dt.date:
    day = pd.Timestamp(when).date()
    return day if freq == "D" else day - dt.timedelta(days=day.weekday())


def _per_period(orders, freq, cust, ts_col, amount_col):
    o = orders.mutate(_cust=orders[cust], _p=_period_of(orders[ts_col], freq))
    spend = {"_spend": decimal_sum(_[amount_col])} if amount_col else {}
    return o.group_by(["_cust", "_p"]).aggregate(**spend)


def _summarise(periods: ir.Table, end: dt.date, freq: str, multiplier: float, monetary: bool):
    aggs = {"_first": _._p.min(), "_last": _._p.max(), "_n": _.count()}
    if monetary:
        aggs["_total"] = _._spend.sum()
        aggs["_first_spend"] = _._spend.argmin(_._p)
    per = periods.group_by("_cust").aggregate(**aggs)
    unit = _PERIOD_DAYS[freq] * multiplier

    def periods_between(later, earlier):
        return later.delta(earlier, unit="day").cast("float64") / unit

    cols = {
        "customer_id": per._cust,
        "frequency": (per._n - 1).cast("float64"),
        "recency": periods_between(per._last, per._first),
        "T": periods_between(ibis.date(end), per._first),
    }
    if monetary:
        repeat = per._n - 1
        repeat_spend = (per._total - per._first_spend).cast("float64")
        cols["monetary_value"] = ibis.ifelse(repeat > 0, repeat_spend / repeat.cast("float64"),
                                             0.0)
    return per.select(**cols)


def rfm_summary(
    orders: ir.Table,
    observation_end: dt.datetime | str,
    calibration_end: dt.datetime | str | None = None,
    freq: str = "D",
    freq_multiplier: float = 1,
    customer_id_col: str = "customer_id",
    datetime_col: str = "order_ts",
    monetary_value_col: str | None = "amount",
) -> pd.DataFrame:
    """Frequency, recency, T and monetary value per customer (lifetimes' meaning).

    Parameters
    ----------
    orders : ibis.Table
        Clean orders.
    observation_end : datetime or str
        The last day (period) of the study, inclusive, as in lifetimes.
    calibration_end : datetime or str, optional
        End (inclusive) of the calibration periods; adds the holdout columns.
    freq : {"D", "W"}
        Purchase period: day or ISO week (Monday to Sunday, as pandas' "W").
    freq_multiplier : float
        Divide durations by this: ``freq="D", freq_multiplier=7`` measures in weeks.
    customer_id_col, datetime_col : str
        Column names.
    monetary_value_col : str or None
        Spend column; None leaves out the monetary columns.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (sorted): ``frequency, recency, T, monetary_value`` and, with
        ``calibration_end``, ``frequency_holdout, monetary_value_holdout, duration_holdout``.
        Only customers with a first purchase by the (calibration) end appear.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"], "amount": [10.0, 5.0, 7.0, 3.0],
    ...     "order_ts": pd.to_datetime(["2024-01-01 10:00", "2024-01-08 09:00",
    ...                                 "2024-01-08 17:00", "2024-01-05 12:00"])}))
    >>> rfm_summary(orders, "2024-01-15").values.tolist()
    [[1.0, 7.0, 14.0, 12.0], [0.0, 0.0, 10.0, 0.0]]
    """
    if freq not in FREQS:
        raise ValueError(f"freq must be 'D' (days) or 'W' (weeks), got {freq!r}")
    if not freq_multiplier or freq_multiplier <= 0:
        raise ValueError(f"freq_multiplier must be positive, got {freq_multiplier}")
    end = _start_of(observation_end, freq)
    monetary = monetary_value_col is not None
    periods = _per_period(orders, freq, customer_id_col, datetime_col, monetary_value_col)
    periods = periods.filter(periods._p <= end)

    if calibration_end is None:
        summary = _summarise(periods, end, freq, freq_multiplier, monetary)
        frame = _to_frame(summary)
        _check_not_empty(frame, observation_end)
        return frame

    cal = _start_of(calibration_end, freq)
    if cal >= end:
        raise ValueError(f"calibration_end ({pd.Timestamp(calibration_end).date()}) must be "
                         f"before observation_end ({pd.Timestamp(observation_end).date()})")
    calibration = _summarise(periods.filter(periods._p <= cal), cal, freq, freq_multiplier,
                             monetary)
    hold = periods.filter(periods._p > cal)
    hold_aggs = {"frequency_holdout": _.count().cast("float64")}
    if monetary:
        hold_aggs["monetary_value_holdout"] = _._spend.sum().cast("float64") / _._spend.count()
    holdout = hold.group_by("_cust").aggregate(**hold_aggs)
    joined = calibration.left_join(holdout, calibration.customer_id == holdout._cust)
    cols = [c for c in calibration.columns]
    select = {c: joined[c] for c in cols}
    select["frequency_holdout"] = joined.frequency_holdout.fill_null(0.0)
    if monetary:
        select["monetary_value_holdout"] = joined.monetary_value_holdout.fill_null(0.0)
    frame = _to_frame(joined.select(**select))
    frame["duration_holdout"] = (end - cal).days / _PERIOD_DAYS[freq] / freq_multiplier
    _check_not_empty(frame, calibration_end)
    return frame


def _to_frame(expr: ir.Table) -> pd.DataFrame:
    """Customer-sized result to pandas, sorted by the engine (sorting 1M string ids in pandas
    costs more than the whole query)."""
    return customer_frame(expr)


def _check_not_empty(frame: pd.DataFrame, end) -> None:
    if frame.empty:
        raise ValueError(f"no customer has a purchase on or before {pd.Timestamp(end).date()}: "
                         "the observation (or calibration) end is before the first order")
