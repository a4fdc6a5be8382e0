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

**Days are the shop's days.** Naive timestamps mean UTC (the data contract), so by default a
purchase day is a UTC day; with ``timezone="America/New_York"`` purchases are bucketed by the
shop's local day (daylight saving included), so two evening orders of one New York day count
once. Dates given as ``observation_end`` / ``calibration_end`` are local days then too.

As in lifetimes, ``orders`` may be a data frame (pandas, polars or pyarrow; it goes through
the data contract, see :mod:`ppxlib.tables`) with its own column names, text dates with a
``datetime_format`` (CDNOW's ``"%Y%m%d"``), and the observation end may be a ``pd.Period``
(its last day counts) or left out (the last order's period).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from ppxlib.engine import customer_frame, decimal_sum, stage
from ppxlib.tables import as_orders

FREQS = ("D", "W")
_PERIOD_DAYS = {"D": 1, "W": 7}


def _period_of(ts: ir.TimestampValue, freq: str) -> ir.DateValue:
    # A period is keyed by its first day: grouping by a date is cheaper than by a number.
    return ts.date() if freq == "D" else ts.truncate("W").date()


def _start_of(when: dt.date, freq: str) -> dt.date:
    return when if freq == "D" else when - dt.timedelta(days=when.weekday())


def _day(when, datetime_format: str | None, timezone: str | None) -> dt.date:
    """The (local) day a given end means: a Period's last day, text read with the format."""
    if isinstance(when, pd.Period):
        return when.end_time.date()
    if isinstance(when, str) and datetime_format:
        when = pd.to_datetime(when, format=datetime_format)
    when = pd.Timestamp(when)
    if when.tzinfo is not None:  # an instant: the day it falls on in the shop's zone
        when = when.tz_convert(timezone or "UTC")
    return when.date()


def _check_timezone(timezone: str | None) -> None:
    if timezone is None:
        return
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}; give an IANA name such as "
                         "'America/New_York' or 'Europe/Berlin'") from None


@ibis.udf.scalar.builtin(name="timezone")
def _duckdb_zoned(zone: str, ts: dt.datetime) -> ibis.dtype("timestamp('UTC')"):
    """DuckDB: a naive timestamp read as wall time in ``zone`` (here: UTC), as an instant."""


@ibis.udf.scalar.builtin(name="timezone")
def _duckdb_wall_time(zone: str, ts: ibis.dtype("timestamp('UTC')")) -> dt.datetime:
    """DuckDB: an instant as the wall time in ``zone``."""


@ibis.udf.scalar.builtin(name="from_utc_timestamp")
def _spark_wall_time(ts: dt.datetime, zone: str) -> dt.datetime:
    """Spark: a UTC timestamp as the wall time in ``zone``."""


def _local(ts: ir.TimestampValue, timezone: str | None, engine: str) -> ir.TimestampValue:
    """UTC timestamps (the contract's meaning of naive ones) as wall time in ``timezone``."""
    if timezone is None:
        return ts
    if engine == "duckdb":
        zoned = ts if ts.type().timezone is not None else _duckdb_zoned("UTC", ts)
        return _duckdb_wall_time(timezone, zoned)
    if engine == "pyspark":
        return _spark_wall_time(ts, timezone)
    raise NotImplementedError(f"timezone= is computed on DuckDB and Spark, not {engine}: "
                              "convert the timestamps to local time in the source instead")


def _per_period(orders, freq, cust, ts_col, amount_col, timezone=None):
    engine = orders._find_backend(use_default=True).name if timezone else ""
    local = _local(orders[ts_col], timezone, engine)
    o = orders.mutate(_cust=orders[cust], _p=_period_of(local, freq))
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
    orders,
    observation_end: dt.datetime | str | pd.Period | None = None,
    calibration_end: dt.datetime | str | pd.Period | None = None,
    freq: str = "D",
    freq_multiplier: float = 1,
    customer_id_col: str = "customer_id",
    datetime_col: str = "order_ts",
    monetary_value_col: str | None = "amount",
    datetime_format: str | None = None,
    timezone: str | None = None,
) -> pd.DataFrame:
    """Frequency, recency, T and monetary value per customer (lifetimes' meaning).

    Parameters
    ----------
    orders : ibis.Table or data frame
        Clean orders (an ibis table), or a pandas / polars / pyarrow frame, which is checked
        against the data contract first (:mod:`ppxlib.tables`).
    observation_end : datetime, str or Period, optional
        The last day (period) of the study, inclusive, as in lifetimes; a Period counts up
        to its last day. Default: the period of the last order.
    calibration_end : datetime, str or Period, optional
        End (inclusive) of the calibration periods; adds the holdout columns.
    freq : {"D", "W"}
        Purchase period: day or ISO week (Monday to Sunday, as pandas' "W").
    freq_multiplier : float
        Divide durations by this: ``freq="D", freq_multiplier=7`` measures in weeks.
    customer_id_col, datetime_col : str
        Column names.
    monetary_value_col : str or None
        Spend column; None leaves out the monetary columns.
    datetime_format : str, optional
        ``strptime`` format of text dates, in the column and in the ends given as text
        (CDNOW's ``"%Y%m%d"``).
    timezone : str, optional
        The shop's time zone (``"America/New_York"``): purchases are bucketed by its local
        days. Default: UTC days (naive timestamps mean UTC).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (sorted; the index is named ``customer_id_col``):
        ``frequency, recency, T, monetary_value`` and, with
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

    A transaction log as lifetimes reads it (CDNOW's dates, no order ids):

    >>> log = pd.DataFrame({"id": [1, 1, 2], "date": ["19970101", "19970108", "19970102"],
    ...                     "sales": [9.0, 11.0, 4.0]})
    >>> rfm_summary(log, pd.Period("1997-01", "M"), customer_id_col="id", datetime_col="date",
    ...             monetary_value_col="sales", datetime_format="%Y%m%d").values.tolist()
    [[1.0, 7.0, 30.0, 11.0], [0.0, 0.0, 29.0, 0.0]]
    """
    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col,
                       datetime_format)
    if freq not in FREQS:
        raise ValueError(f"freq must be 'D' (days) or 'W' (weeks), got {freq!r}")
    if not freq_multiplier or freq_multiplier <= 0:
        raise ValueError(f"freq_multiplier must be positive, got {freq_multiplier}")
    _check_timezone(timezone)
    monetary = monetary_value_col is not None
    periods = _per_period(orders, freq, customer_id_col, datetime_col, monetary_value_col,
                          timezone)
    if observation_end is None:  # lifetimes' default: the last order's period
        observation_end = periods.aggregate(last=periods._p.max()).execute()["last"].iloc[0]
    end = _start_of(_day(observation_end, datetime_format, timezone), freq)
    # Kept in the engine before the per-customer aggregate: both aggregates in one query
    # hold their hash tables at once, which at five million customers is more than DuckDB's
    # 1 GB cap (each alone fits, and spills). The calibration and holdout halves share it.
    periods = stage(periods.filter(periods._p <= end))

    if calibration_end is None:
        summary = _summarise(periods, end, freq, freq_multiplier, monetary)
        frame = _to_frame(summary, customer_id_col)
        _check_not_empty(frame, _day(observation_end, datetime_format, timezone))
        return frame

    cal = _start_of(_day(calibration_end, datetime_format, timezone), freq)
    if cal >= end:
        raise ValueError(f"calibration_end ({_day(calibration_end, datetime_format, timezone)})"
                         " must be before observation_end "
                         f"({_day(observation_end, datetime_format, timezone)})")
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
    frame = _to_frame(joined.select(**select), customer_id_col)
    frame["duration_holdout"] = (end - cal).days / _PERIOD_DAYS[freq] / freq_multiplier
    _check_not_empty(frame, _day(calibration_end, datetime_format, timezone))
    return frame


def _to_frame(expr: ir.Table, customer_id_col: str) -> pd.DataFrame:
    """Customer-sized result to pandas, sorted by the engine (sorting 1M string ids in pandas
    costs more than the whole query); the index is named as the caller's column, as in
    lifetimes."""
    frame = customer_frame(expr)
    frame.index.name = customer_id_col
    return frame


def _check_not_empty(frame: pd.DataFrame, end: dt.date) -> None:
    if frame.empty:
        raise ValueError(f"no customer has a purchase on or before {end}: "
                         "the observation (or calibration) end is before the first order")
