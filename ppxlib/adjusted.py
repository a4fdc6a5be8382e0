"""Which first-order experiences go with customers coming back, adjusted for who they are.

The raw comparison of :func:`ppxlib.experience.repurchase_by_experience` mixes an experience
with the customers who had it: if late deliveries fall mostly on a region whose customers buy
less often anyway, "late delivery" takes the blame for the region. Here every customer's
first-order experience enters one model together with who they are:

* **factors** (each against its better level): delivery late / unknown against on time,
  returned against kept, a ticket resolved fast / slowly / still open against none, a low
  CSAT or none against a high one, the first NPS answer against promoters. Missing data is
  its own level ("unknown", "no answer"), never a dropped customer;
* **adjusted for** the first order's channel, region and category, its value (log of one
  plus the amount) and the acquisition quarter.

Two models answer two questions:

* **how much sooner or later** they reorder: a Cox proportional-hazards model (lifelines'
  ``CoxPHFitter``) of the days to the second order, one baseline per acquisition quarter
  (strata), so cohorts followed for different lengths need not share one. Identical rows
  (whole days, value in 5 % steps) are collapsed into one with a case weight; lifelines'
  plain variance is right for such whole-number weights (a weight of 2 is two identical
  customers), the robust one is for sampling weights. Whether each factor's ratio is the
  same at every time (proportional hazards) is tested on the scaled Schoenfeld residuals of
  a refit on a sample; where it is not, the factor's curves (a model stratified by it) are
  shown instead of one ratio;
* **how many more or fewer come back within 90 days**: a logistic regression (statsmodels)
  of reordering within the horizon among customers followed that long, with the same
  factors and covariates, read as *standardised* shares -- every followed customer given
  the level, then the reference, predictions averaged -- with a delta-method interval.
  This difference needs no proportional hazards, and it is what
  :func:`ppxlib.stake.value_at_stake` prices.

A big shop's models are fitted on stated random shares (200,000 customers for the Cox model,
whose lifelines fit grows with the rows and barely collapses: whole days times every
combination of who they are; 400,000 followed customers for the logistic one): at 1M
customers the Cox fit takes about 4-8 s on the project's 2-core machine, all of it on 1M
rows 25 s.

Each factor's estimate is for customers alike in the others too: a late delivery that also
brought a low CSAT shows partly under CSAT. Everything is as known at the observation end
(:func:`point_in_time`), and these are associations in observational data, not causes.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

from ppxlib.engine import customer_frame, first_by, labels
from ppxlib.experience import first_order_experience
from ppxlib.pointintime import cut_table
from ppxlib.repurchase import second_order_durations
from ppxlib.survey import holm
from ppxlib.tables import as_table, as_tables

#: factor column -> (reference level, what the reference customers had, in words)
FACTORS: dict[str, tuple[str, str]] = {
    "delivery": ("on time", "delivered on time"),
    "returned": ("kept", "who kept their first order"),
    "ticket": ("none", "without a support ticket"),
    "first_csat": ("high", "who rated their first order high"),
    "nps_group": ("promoter", "who are promoters"),
}
#: (factor, level) -> what those customers had, in words
LEVEL_WORDS: dict[tuple[str, str], str] = {
    ("delivery", "late"): "a late first delivery",
    ("delivery", "unknown"): "no delivery dates for their first order",
    ("returned", "returned"): "a returned first order",
    ("ticket", "resolved fast"): "a support ticket on their first order resolved fast",
    ("ticket", "resolved slowly"): "a support ticket on their first order resolved slowly",
    ("ticket", "open"): "a support ticket on their first order still open",
    ("first_csat", "low"): "a low CSAT for their first order",
    ("first_csat", "no answer"): "no CSAT answer for their first order",
    ("nps_group", "passive"): "a first NPS answer as passives",
    ("nps_group", "detractor"): "a first NPS answer as detractors",
    ("nps_group", "no answer"): "no NPS answer",
}
#: the first order's attributes adjusted for (when the orders have them)
COVARIATES = ("channel", "region", "category")
#: what each adjustment is, in words
COVARIATE_WORDS = {"channel": "the first order's channel", "region": "its region",
                   "category": "its category", "log_value": "the first order's value",
                   "quarter": "the quarter the customer was acquired"}
MIN_EVENTS = 50
#: a log ratio beyond this is a level the data separates, not an estimate
MAX_LOG_RATIO = 8.0
DIFFERENCE_COLUMNS = ["factor", "level", "reference", "followed", "rate", "reference_rate",
                      "difference", "low", "high", "se", "relative", "relative_se",
                      "unadjusted", "unadjusted_low", "unadjusted_high", "estimated",
                      "sentence"]
VALUE_STEP = 0.05  # log(1 + value) rounded to this: 5 % steps, so identical rows collapse


def point_in_time(orders: ir.Table, returns: ir.Table | None, tickets: ir.Table | None,
                  surveys: ir.Table | None, end: dt.datetime) -> tuple:
    """The tables as they stood at ``end``, by the project's one rule
    (:func:`ppxlib.pointintime.cut_table`): nothing at or after it.

    Orders, returns, answers and tickets before ``end`` only; a delivery after it has not
    happened yet (its first order's delivery is "unknown"), and a ticket resolved after it is
    still open. Tables already cut (:func:`ppxlib.pointintime.as_at`) come back the same.

    Returns
    -------
    tuple
        ``(orders, returns, tickets, surveys)``, each None where the input was.
    """
    end = pd.Timestamp(end).to_pydatetime()
    orders, returns, tickets, surveys = as_tables(orders=orders, returns=returns,
                                                  tickets=tickets, surveys=surveys)
    tables = (("orders", orders), ("returns", returns), ("tickets", tickets),
              ("surveys", surveys))
    return tuple(None if table is None else cut_table(name, table, end)
                 for name, table in tables)


def first_order_covariates(orders: ir.Table, end: dt.datetime) -> pd.DataFrame:
    """Per customer: the first order's time, amount and channel, region and category.

    The first order is the earliest before ``end``, ties broken by the order id (as
    :func:`ppxlib.experience.first_order_experience` picks it). Columns the orders do not
    have are left out.
    """
    orders = as_table(orders)
    o = orders.filter(orders.order_ts < ibis.literal(pd.Timestamp(end).to_pydatetime(),
                                                      "timestamp"))
    earliest = o.group_by("customer_id").aggregate(_first_ts=o.order_ts.min())
    o = o.join(earliest, "customer_id")
    o = o.filter(o.order_ts == o._first_ts)
    attributes = {"amount": o.amount.cast("float64")}
    for column in COVARIATES:
        if column in o.columns:
            attributes[column] = o[column].cast("string")
    firsts = o.group_by("customer_id").aggregate(
        first_ts=o._first_ts.min(), _first=first_by(ibis.struct(attributes), o.order_ts,
                                                    o.order_id))
    firsts = firsts.select("customer_id", "first_ts",
                           *(firsts._first[c].name(c) for c in attributes))
    return customer_frame(firsts)


def customer_table(orders: ir.Table, returns: ir.Table | None, tickets: ir.Table | None,
                   surveys: ir.Table | None, observation_end: dt.datetime,
                   fast_ticket_hours: float = 24.0,
                   durations: pd.DataFrame | None = None,
                   experience: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per customer: the first order's experience, who they are, time to reorder.

    Parameters
    ----------
    observation_end : datetime
        The month end: only what was known before it is used (:func:`point_in_time`).
    durations : pandas.DataFrame, optional
        :func:`ppxlib.repurchase.second_order_durations` of the same orders and end (the
        report computes it once for several pages).
    experience : pandas.DataFrame, optional
        :func:`ppxlib.experience.first_order_experience` of the same tables and end, with
        the same ``fast_ticket_hours``, if already computed (the experience report has it).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id: the :data:`FACTORS` columns, ``first_ts``, ``amount``, the
        :data:`COVARIATES` the orders have (missing values as ``"(missing)"``), ``quarter``
        (of the first order, text), ``days`` (float) and ``reordered``, ``followed_days``
        (from the first order to the end).

    Examples
    --------
    >>> frame = customer_table(clean.orders, clean.returns, clean.tickets,  # doctest: +SKIP
    ...                        clean.surveys, end)
    """
    end = pd.Timestamp(observation_end).to_pydatetime()
    o, r, t, s = point_in_time(orders, returns, tickets, surveys, end)
    if experience is None:
        experience = first_order_experience(o, r, t, s, fast_ticket_hours,
                                            observation_end=end)
    covariates = first_order_covariates(o, end)
    if durations is None:
        durations = second_order_durations(o, end)
    reorder = durations[["customer_id", "days", "reordered"]].set_index("customer_id")
    frame = experience.join(covariates, how="inner").join(reorder, how="inner")
    for column in COVARIATES:
        if column in frame:
            frame[column] = labels(frame[column].fillna("(missing)").astype(str))
    first = pd.to_datetime(frame.first_ts)
    frame["quarter"] = labels(first.dt.year.astype(str) + "-Q" + first.dt.quarter.astype(str))
    frame["followed_days"] = (pd.Timestamp(end) - first).dt.total_seconds() / 86_400
    return frame


# --------------------------------------------------------------------------- the fit


@dataclass
class AdjustedResult:
    """What :func:`fit_adjusted` found.

    Attributes
    ----------
    hazard_ratios : pandas.DataFrame
        One row per factor level against its reference: ``factor, level, reference,
        customers, reorders, hazard_ratio, low, high, p_value, ph_p`` (Holm-adjusted p of the
        proportional-hazards test), ``proportional`` (False: the ratio changes with time and
        is not shown as one number), ``estimated`` (False: left out, ratio NaN) and
        ``sentence`` (in words, for a manager).
    differences : pandas.DataFrame
        One row per factor level: ``factor, level, reference, followed`` (customers followed
        for the horizon with that level), ``rate`` and ``reference_rate`` (standardised),
        ``difference, low, high, se``, ``relative, relative_se`` (difference / reference
        rate), the raw ``unadjusted, unadjusted_low, unadjusted_high`` (Newcombe),
        ``estimated`` and ``sentence``.
    notes : list of str
        Everything left out or changed, and why, in plain words.
    customers, reorders : int
        Customers in the time-to-reorder model and their second orders.
    fit_rows : int
        Rows the Cox model was fitted on after collapsing identical ones.
    covariates : list of str
        What the models adjusted for (:data:`COVARIATE_WORDS` says each in words).
    """

    hazard_ratios: pd.DataFrame
    differences: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    customers: int = 0
    reorders: int = 0
    fit_rows: int = 0
    covariates: list[str] = field(default_factory=list)
    horizon_days: int = 90
    confidence: float = 0.95


def adjusted_for(result: AdjustedResult) -> str:
    """What the models adjusted for, in words ("the first order's channel, its region, ...").

    Examples
    --------
    >>> adjusted_for(AdjustedResult(pd.DataFrame(), pd.DataFrame(),
    ...                             covariates=["channel", "log_value"]))
    "the first order's channel and the first order's value"
    """
    words = [COVARIATE_WORDS.get(c, c) for c in result.covariates]
    if len(words) < 2:
        return words[0] if words else "nothing"
    return ", ".join(words[:-1]) + " and " + words[-1]


def _words(factor: str, level: str) -> str:
    return LEVEL_WORDS.get((factor, level), f"{factor} {level!r}")


def _screen(frame: pd.DataFrame, factors: list[str], min_customers: int, notes: list[str]
            ) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """Factors and covariates a model can estimate: (frame, factor -> reference, covariates).

    A factor or covariate with one value is left out; a factor whose usual reference is
    absent is compared with its most common level; rare covariate values (fewer than
    ``min_customers``) are pooled as "(other)". Each change is said in ``notes``.
    """
    frame = frame.copy()
    references = {}
    for factor in factors:
        if factor not in frame:
            notes.append(f"{factor} is left out: the data has no such column.")
            continue
        counts = frame[factor].value_counts()
        if len(counts) < 2:
            notes.append(f"{factor} is left out: every first order has the same value "
                         f"({counts.index[0]!r}), so there is nothing to compare.")
            continue
        reference = FACTORS.get(factor, (None, ""))[0]
        if reference not in counts.index:
            reference = str(counts.index[0])
            notes.append(f"{factor}: no first order is {FACTORS[factor][0]!r}, so the "
                         f"others are compared with the most common, {reference!r}.")
        references[factor] = reference
    covariates = []
    for column in (*COVARIATES, "quarter"):
        if column not in frame:
            continue
        counts = frame[column].value_counts()
        rare = counts.index[counts < min_customers]
        if len(rare) and column != "quarter" and len(counts) - len(rare) >= 1:
            frame.loc[frame[column].isin(rare), column] = "(other)"
            notes.append(f"{column}: {len(rare)} values with fewer than {min_customers} "
                         f"customers each are pooled as '(other)'.")
        if frame[column].nunique() < 2:
            notes.append(f"Not adjusted for {column}: every customer has the same "
                         f"({frame[column].iloc[0]!r}).")
            continue
        covariates.append(column)
    frame["log_value"] = (np.round(np.log1p(frame.amount.clip(lower=0).astype(float))
                                   / VALUE_STEP) * VALUE_STEP)
    if frame.log_value.nunique() < 2:
        notes.append("Not adjusted for the first order's value: every first order has the "
                     "same amount.")
    else:
        covariates.append("log_value")
    return frame, references, covariates


def _separated_levels(frame: pd.DataFrame, references: dict[str, str], outcome: pd.Series,
                      notes: list[str], what: str, both: bool) -> pd.Series:
    """Customers to keep: levels where ``outcome`` never happens (or, with ``both``, always
    happens) make an infinite ratio; their customers are left out, said in ``notes``."""
    keep = pd.Series(True, index=frame.index)
    for factor, reference in references.items():
        by_level = outcome.groupby(frame[factor]).agg(["sum", "size"])
        for level, row in by_level.iterrows():
            if level == reference:
                continue
            if row["sum"] == 0 or (both and row["sum"] == row["size"]):
                happened = "none" if row["sum"] == 0 else "all"
                keep &= frame[factor] != level
                notes.append(f"{_words(factor, level).capitalize()}: {happened} of these "
                             f"{int(row['size']):,} customers {what}, so no finite comparison "
                             f"exists; they are left out of that model.")
    return keep


def _dummies(frame: pd.DataFrame, references: dict[str, str], covariates: list[str],
             with_quarter: bool) -> pd.DataFrame:
    """0/1 columns ``factor=level`` (reference left out) and the covariates' dummies."""
    parts = {}
    for factor, reference in references.items():
        for level in sorted(set(frame[factor]) - {reference}):
            parts[f"{factor}={level}"] = (frame[factor] == level).astype(np.int8)
    for column in covariates:
        if column == "log_value":
            parts["log_value"] = frame.log_value
            continue
        if column == "quarter" and not with_quarter:
            continue
        values = frame[column]
        base = values.value_counts().index[0]  # the most common: the sharpest comparison
        for level in sorted(set(values) - {base}):
            parts[f"{column}={level}"] = (values == level).astype(np.int8)
    return pd.DataFrame(parts, index=frame.index)


def _collapse(rows: pd.DataFrame) -> pd.DataFrame:
    """Identical rows as one with a ``weight`` column (their count)."""
    keys = list(rows.columns)
    return rows.groupby(keys, sort=False, observed=True).size().rename("weight").reset_index()


def _hazard_sentence(factor: str, level: str, hr: float, low: float, high: float) -> str:
    who = _words(factor, level)
    them = FACTORS[factor][1] if factor in FACTORS else "in the reference group"
    if low <= 1 <= high:
        return (f"Customers with {who} reorder about as soon as comparable customers {them}: "
                f"no clear difference.")
    if hr < 1:
        return (f"Customers with {who} reorder about {1 - hr:.0%} more slowly than "
                f"comparable customers {them}.")
    pace = f"{hr:.1f} times as fast as" if hr >= 2 else f"{hr - 1:.0%} faster than"
    return f"Customers with {who} reorder about {pace} comparable customers {them}."


def _cox(frame, references, covariates, confidence, notes, max_customers=None, seed=0):
    """The stratified Cox fit on collapsed rows: (fitter or None, design columns, rows)."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    if max_customers is not None and len(frame) > max_customers:
        # lifelines' fit grows with the rows, and few rows collapse (whole days times every
        # combination of who they are); a random share keeps a big shop's fit in seconds
        notes.append(f"The time-to-reorder model is fitted on a random {max_customers:,} of "
                     f"the {len(frame):,} customers (enough for ratios to within a few per "
                     f"cent).")
        picked = np.sort(np.random.default_rng(seed).choice(len(frame), max_customers,
                                                            replace=False))
        frame = frame.iloc[picked]  # positions, not pandas' sample: a million rows in a blink
    design = _dummies(frame, references, covariates, with_quarter=False)
    design["T"] = np.ceil(frame.days.to_numpy())  # whole days: ties, and rows that collapse
    design["E"] = frame.reordered.astype(np.int8).to_numpy()
    strata = ["quarter"] if "quarter" in covariates else None
    if strata:
        design["quarter"] = frame.quarter.to_numpy()
    rows = _collapse(design)
    cph = CoxPHFitter(alpha=1 - confidence)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph.fit(rows, "T", "E", weights_col="weight", strata=strata)
    except (ConvergenceError, np.linalg.LinAlgError, ValueError) as err:
        notes.append(f"The time-to-reorder model could not be fitted ({str(err)[:120]}); "
                     f"no hazard ratios are shown.")
        return None, design, rows
    return cph, design, rows


def _ph_test(frame, references, covariates, cph_columns, sample, seed, notes):  # noqa: ARG001
    """Holm-adjusted p of the proportional-hazards test per design column (NaN: untested).

    lifelines' test reads unweighted residuals, so it runs on a refit to a random sample of
    customers, uncollapsed; a fixed sample size also keeps a huge shop from flagging a
    departure too small to matter, and lifelines' residuals cost time growing with the
    square of the reorders (about a second for ten thousand customers).
    """
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    part = frame if len(frame) <= sample else frame.sample(sample, random_state=seed)
    # quarters as columns, not strata: lifelines' residuals of a stratified fit come back in
    # the strata's order while the test reads the times in the data's, which hides failures
    design = _dummies(part, references, covariates, with_quarter=True)
    design = design.loc[:, design.nunique() > 1]
    design["T"] = np.ceil(part.days.to_numpy())
    design["E"] = part.reordered.to_numpy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = CoxPHFitter().fit(design, "T", "E")
            test = proportional_hazard_test(fitted, design, time_transform="rank")
    except Exception as err:  # noqa: BLE001 - a failed check is reported, never raised
        notes.append(f"The check that each ratio holds over time could not run "
                     f"({type(err).__name__}); ratios are shown unchecked.")
        return pd.Series(np.nan, index=cph_columns)
    p = test.summary["p"].astype(float)  # by term (the summary is sorted, p_value is not)
    factor_terms = [c for c in p.index if c.split("=")[0] in references]
    adjusted = pd.Series(np.nan, index=cph_columns)
    if factor_terms:
        adjusted[factor_terms] = holm(p[factor_terms].to_numpy())
    return adjusted


def _hazard_table(frame, references, cph, ph, ph_alpha, notes) -> pd.DataFrame:
    rows = []
    summary = cph.summary if cph is not None else None
    for factor, reference in references.items():
        for level in sorted(set(frame[factor]) - {reference}):
            term = f"{factor}={level}"
            part = frame[frame[factor] == level]
            row = {"factor": factor, "level": level, "reference": reference,
                   "customers": len(part), "reorders": int(part.reordered.sum()),
                   "hazard_ratio": math.nan, "low": math.nan, "high": math.nan,
                   "p_value": math.nan, "ph_p": float(ph.get(term, math.nan)),
                   "proportional": True, "estimated": False}
            if summary is None or term not in summary.index:
                row["sentence"] = (f"No ratio for customers with {_words(factor, level)}: "
                                   f"they are left out of the model (see the notes).")
                rows.append(row)
                continue
            s = summary.loc[term]
            coef, se = float(s["coef"]), float(s["se(coef)"])
            if not (np.isfinite(coef) and np.isfinite(se)) or abs(coef) > MAX_LOG_RATIO:
                notes.append(f"Customers with {_words(factor, level)}: the model cannot "
                             f"separate them from the others, so no ratio is shown.")
                row["sentence"] = (f"No ratio for customers with {_words(factor, level)}: "
                                   f"the data cannot pin it down.")
                rows.append(row)
                continue
            lo_col = [c for c in s.index if c.startswith("exp(coef) lower")][0]
            hi_col = [c for c in s.index if c.startswith("exp(coef) upper")][0]
            row.update(hazard_ratio=math.exp(coef), low=float(s[lo_col]), high=float(s[hi_col]),
                       p_value=float(s["p"]), estimated=True)
            row["proportional"] = not (row["ph_p"] < ph_alpha)
            if row["proportional"]:
                row["sentence"] = _hazard_sentence(factor, level, row["hazard_ratio"],
                                                   row["low"], row["high"])
            else:
                row["sentence"] = (f"How much sooner or later customers with "
                                   f"{_words(factor, level)} reorder changes with time, so one "
                                   f"ratio would mislead; the curves show it.")
            rows.append(row)
    return pd.DataFrame(rows, columns=["factor", "level", "reference", "customers", "reorders",
                                       "hazard_ratio", "low", "high", "p_value", "ph_p",
                                       "proportional", "estimated", "sentence"])


def _logistic(frame, references, covariates, horizon_days, confidence, notes,
              max_customers=None, seed=0) -> pd.DataFrame:
    """Standardised ``horizon_days`` reorder shares per factor level (logistic model)."""
    # followed for the whole horizon, whether they reordered or not: counting recent
    # customers only when they reordered would favour whatever recent customers had
    followed = frame[frame.followed_days >= horizon_days]
    if max_customers is not None and len(followed) > max_customers:
        notes.append(f"Who comes back within {horizon_days} days is compared on a random "
                     f"{max_customers:,} of the {len(followed):,} customers followed that "
                     f"long (enough for differences to within a fraction of a point).")
        picked = np.sort(np.random.default_rng(seed).choice(len(followed), max_customers,
                                                            replace=False))
        followed = followed.iloc[picked]
    within = followed.reordered & (followed.days <= horizon_days)
    keep = _separated_levels(followed, references, within, notes,
                             f"reordered within {horizon_days} days", both=True)
    followed, within = followed[keep], within[keep]
    columns = DIFFERENCE_COLUMNS
    if within.sum() < MIN_EVENTS or (~within).sum() < MIN_EVENTS:
        notes.append(f"Only {int(within.sum()):,} of {len(within):,} customers followed for "
                     f"{horizon_days} days reordered within them (at least {MIN_EVENTS} "
                     f"reorders and {MIN_EVENTS} without are needed): no adjusted "
                     f"{horizon_days}-day differences.")
        return pd.DataFrame(columns=columns)
    design = _dummies(followed, references, covariates, with_quarter=True)
    design = design.loc[:, design.nunique() > 1]
    grouped = design.assign(_y=within.astype(np.int64).to_numpy()).groupby(
        list(design.columns), sort=False, observed=True)._y.agg(["sum", "size"]).reset_index()
    x = grouped[list(design.columns)].astype(float)
    x.insert(0, "const", 1.0)
    try:
        beta, cov = logit_fit(x.to_numpy(), grouped["sum"].to_numpy(float),
                              grouped["size"].to_numpy(float))
    except (np.linalg.LinAlgError, ValueError) as err:
        notes.append(f"The {horizon_days}-day model could not be fitted ({str(err)[:120]}); "
                     f"no adjusted differences are shown.")
        return pd.DataFrame(columns=columns)
    params = pd.Series(beta, index=x.columns)
    weights = grouped["size"].to_numpy(dtype=float)
    xs = x.to_numpy(dtype=float)
    eta = xs @ beta
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    rows = []
    for factor, reference in references.items():
        terms = [c for c in x.columns if c.split("=")[0] == factor]
        for level in sorted(set(followed[factor]) - {reference}):
            term = f"{factor}={level}"
            row = {"factor": factor, "level": level, "reference": reference,
                   "followed": int((followed[factor] == level).sum()), "estimated": False}
            raw = _raw_difference(within, followed[factor], level, reference, confidence)
            row.update(raw)
            if term not in x.columns or abs(params[term]) > MAX_LOG_RATIO:
                row["sentence"] = (f"No {horizon_days}-day difference for customers with "
                                   f"{_words(factor, level)} (see the notes).")
                rows.append(row)
                continue
            p1, g1 = _standardised(x, terms, term, beta, weights, eta, xs)
            p0, g0 = _standardised(x, terms, None, beta, weights, eta, xs)
            d, g = p1 - p0, g1 - g0
            se = float(np.sqrt(g @ cov @ g))
            rel = d / p0
            g_rel = (g * p0 - d * g0) / p0 ** 2
            row.update(rate=p1, reference_rate=p0, difference=d, low=d - z * se,
                       high=d + z * se, se=se, relative=rel,
                       relative_se=float(np.sqrt(g_rel @ cov @ g_rel)), estimated=True)
            row["sentence"] = _difference_sentence(factor, level, row, horizon_days)
            rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def logit_fit(x: np.ndarray, successes: np.ndarray, trials: np.ndarray,
              max_iter: int = 50, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Binomial logistic regression of ``successes`` out of ``trials`` per row of ``x``.

    Newton's method on the normal equations: the same estimates and covariance as
    statsmodels' ``GLM(..., Binomial())`` (the tests hold them equal), without its
    least-squares solve per step, which on a busy machine costs seconds per hundred
    thousand rows. Rows are covariate patterns with their counts.

    Returns
    -------
    (beta, covariance)

    Raises
    ------
    ValueError
        When the estimates run away (separation) or the steps do not settle.

    Examples
    --------
    >>> x = np.column_stack([np.ones(2), [0.0, 1.0]])
    >>> beta, _ = logit_fit(x, np.array([1.0, 3.0]), np.array([4.0, 4.0]))
    >>> np.round(beta, 4).tolist()  # log odds 1:3, then 3:1
    [-1.0986, 2.1972]
    """
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        p = 1 / (1 + np.exp(-(x @ beta)))
        w = trials * p * (1 - p)
        hessian = (x * w[:, None]).T @ x
        step = np.linalg.solve(hessian, x.T @ (successes - trials * p))
        beta = beta + step
        if not np.isfinite(beta).all() or np.abs(beta).max() > 50:
            raise ValueError("the estimates run away: some group is perfectly separated")
        if np.abs(step).max() < tol:
            break
    else:
        raise ValueError(f"no convergence in {max_iter} steps")
    p = 1 / (1 + np.exp(-(x @ beta)))
    hessian = (x * (trials * p * (1 - p))[:, None]).T @ x
    return beta, np.linalg.inv(hessian)


def _standardised(x: pd.DataFrame, terms: list[str], term: str | None, beta: np.ndarray,
                  weights: np.ndarray, eta: np.ndarray | None = None, xs: np.ndarray | None = None
                  ) -> tuple[float, np.ndarray]:
    """Mean predicted share with every row given ``term``'s level (None: the reference), and
    its gradient in the coefficients.

    The rows' linear predictor ``eta`` has the factor's own terms swapped rather than the
    design copied: a million-row design is copied once, not twice per level.
    """
    xs = x.to_numpy(dtype=float) if xs is None else xs
    eta = xs @ beta if eta is None else eta
    cols = [x.columns.get_loc(t) for t in terms]
    swapped = eta - xs[:, cols] @ beta[cols]
    if term is not None:
        swapped = swapped + beta[x.columns.get_loc(term)]
    p = 1 / (1 + np.exp(-swapped))
    share = float(np.average(p, weights=weights))
    v = weights * p * (1 - p) / weights.sum()
    gradient = v @ xs
    gradient[cols] = 0.0  # the factor's columns are set, not the rows' own values
    if term is not None:
        gradient[x.columns.get_loc(term)] = v.sum()
    return share, gradient


def _raw_difference(within, levels, level, reference, confidence) -> dict:
    a, b = within[levels == level], within[levels == reference]
    if not len(a) or not len(b):
        return {"unadjusted": math.nan, "unadjusted_low": math.nan, "unadjusted_high": math.nan}
    low, high = confint_proportions_2indep(int(a.sum()), len(a), int(b.sum()), len(b),
                                           method="newcomb", alpha=1 - confidence)
    return {"unadjusted": a.mean() - b.mean(), "unadjusted_low": float(low),
            "unadjusted_high": float(high)}


def _difference_sentence(factor, level, row, horizon_days) -> str:
    who, them = _words(factor, level), FACTORS.get(factor, ("", "in the reference group"))[1]
    d, low, high = row["difference"], row["low"], row["high"]
    span = f"(95%: {100 * low:+.1f} to {100 * high:+.1f} points)"
    if low <= 0 <= high:
        return (f"Among comparable customers, those with {who} come back within "
                f"{horizon_days} days about as often as those {them} {span}.")
    more = "fewer" if d < 0 else "more"
    return (f"Among comparable customers, {abs(100 * d):.1f} in 100 {more} of those with {who} "
            f"come back within {horizon_days} days than of those {them} {span}.")


def fit_cox(frame: pd.DataFrame, factors: list[str] | None = None, confidence: float = 0.95,
            min_customers: int = 30, max_customers: int | None = 200_000, seed: int = 0):
    """Only the Cox model of :func:`fit_adjusted` (screened the same way), for timing it.

    Returns
    -------
    (lifelines.CoxPHFitter or None, list of str)
        The fitted model (None when there is nothing to fit) and the notes.
    """
    notes: list[str] = []
    frame, references, covariates = _screen(frame, list(FACTORS) if factors is None
                                            else factors, min_customers, notes)
    if frame.reordered.sum() < MIN_EVENTS or not references:
        return None, notes
    keep = _separated_levels(frame, references, frame.reordered, notes, "ordered again",
                             both=False)
    cph, _design, _rows = _cox(frame[keep], references, covariates, confidence, notes,
                               max_customers, seed)
    return cph, notes


def fit_adjusted(frame: pd.DataFrame, factors: list[str] | None = None,
                 horizon_days: int = 90, confidence: float = 0.95, min_customers: int = 30,
                 ph_sample: int = 10_000, ph_alpha: float = 0.01, seed: int = 0,
                 max_cox_customers: int | None = 200_000,
                 max_followed_customers: int | None = 400_000) -> AdjustedResult:
    """Adjusted hazard ratios and ``horizon_days`` repurchase differences per experience.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`customer_table` output.
    factors : list of str, optional
        Experience columns to estimate (default: every :data:`FACTORS` column).
    horizon_days : int
        Of the repurchase difference.
    confidence : float
        Of every interval.
    min_customers : int
        Covariate values with fewer customers are pooled as "(other)".
    ph_sample : int
        Customers (at most) the proportional-hazards check refits on.
    ph_alpha : float
        A factor level whose Holm-adjusted check p is below this gets curves, not a ratio.
    seed : int
        Of the samples.
    max_cox_customers : int or None
        The Cox model is fitted on a random sample of this many customers when there are
        more (its fit time grows with the rows); None fits on all.
    max_followed_customers : int or None
        Likewise for the ``horizon_days`` model, of the customers followed that long.

    Returns
    -------
    AdjustedResult
        Bad input never raises: a factor with one level, a covariate with one value, fewer
        than :data:`MIN_EVENTS` reorders or a level that separates perfectly are left out,
        each with a sentence in ``notes``.

    Examples
    --------
    >>> result = fit_adjusted(customer_table(clean.orders, clean.returns,  # doctest: +SKIP
    ...                       clean.tickets, clean.surveys, end))
    >>> result.hazard_ratios[["factor", "level", "hazard_ratio", "sentence"]]  # doctest: +SKIP
    """
    notes: list[str] = []
    factors = list(FACTORS) if factors is None else factors
    frame, references, covariates = _screen(frame, factors, min_customers, notes)
    empty = AdjustedResult(_hazard_table(frame, {}, None, pd.Series(dtype=float), ph_alpha,
                                         notes), pd.DataFrame(columns=DIFFERENCE_COLUMNS),
                           notes, len(frame), int(frame.reordered.sum()), 0, covariates,
                           horizon_days, confidence)
    if frame.reordered.sum() < MIN_EVENTS:
        notes.append(f"Only {int(frame.reordered.sum()):,} of {len(frame):,} customers have "
                     f"ordered a second time; at least {MIN_EVENTS} are needed to compare "
                     f"experiences fairly, so no adjusted comparison is made.")
        return empty
    if not references:
        notes.append("No experience has two or more groups to compare.")
        return empty
    keep = _separated_levels(frame, references, frame.reordered, notes,
                             "ordered again", both=False)
    cox_frame = frame[keep]
    cph, _design, rows = _cox(cox_frame, references, covariates, confidence, notes,
                              max_cox_customers, seed)
    ph = (_ph_test(cox_frame, references, covariates, list(cph.params_.index), ph_sample,
                   seed, notes) if cph is not None else pd.Series(dtype=float))
    hazards = _hazard_table(cox_frame, references, cph, ph, ph_alpha, notes)
    differences = _logistic(frame, references, covariates, horizon_days, confidence, notes,
                            max_followed_customers, seed)
    return AdjustedResult(hazards, differences, notes, len(cox_frame),
                          int(cox_frame.reordered.sum()), len(rows), covariates, horizon_days,
                          confidence)


def stratified_curves(frame: pd.DataFrame, factor: str, max_days: int = 365,
                      sample: int = 200_000, seed: int = 0) -> pd.DataFrame:
    """Share reordered by day, per level of ``factor``, for customers alike in the rest.

    For a factor whose ratio changes with time: a Cox model stratified by it (one baseline
    curve per level) and adjusted for the other factors and covariates, each level's curve
    read at the average customer. Fitted on at most ``sample`` customers.

    Returns
    -------
    pandas.DataFrame
        ``group, days, reordered_share``.
    """
    from lifelines import CoxPHFitter

    notes: list[str] = []
    part = frame if len(frame) <= sample else frame.sample(sample, random_state=seed)
    others = [f for f in FACTORS if f != factor and f in part]
    part, references, covariates = _screen(part, others, 30, notes)
    design = _dummies(part, references, covariates, with_quarter=True)
    design = design.loc[:, design.nunique() > 1]
    design["T"] = np.ceil(part.days.to_numpy())
    design["E"] = part.reordered.astype(np.int8).to_numpy()
    design["_group"] = part[factor].to_numpy()
    rows = _collapse(design)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph = CoxPHFitter().fit(rows, "T", "E", weights_col="weight", strata=["_group"])
    base = cph.baseline_survival_
    grid = np.arange(0, max_days + 1)
    frames = []
    for group in base.columns:
        s = base[group]
        times, survival = np.r_[0.0, s.index.to_numpy(float)], np.r_[1.0, s.to_numpy()]
        values = survival[np.searchsorted(times, grid, side="right") - 1]  # the step in force
        key = group[0] if isinstance(group, tuple) else group
        frames.append(pd.DataFrame({"group": key, "days": grid, "reordered_share": 1 - values}))
    return pd.concat(frames, ignore_index=True)
