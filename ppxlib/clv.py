"""Customer lifetime value: BG/NBD purchases × Gamma-Gamma spend, fitted with lifetimes.

:func:`fit_clv` takes an :func:`ppxlib.summary.rfm_summary` frame and returns a fitted
:class:`CLVModel`. What it adds to calling lifetimes directly:

* **explicit time unit**: ``time_unit_days`` says how many days one unit of the summary's
  ``recency`` / ``T`` is (7 for ``freq_multiplier=7``); every horizon is given in days or
  months (30.4375 days) and converted, so a model fitted in days and one fitted in weeks give
  the same CLV for the same horizon (lifetimes' own ``customer_lifetime_value`` counts a
  month as 30 days for daily data but 4.345 weeks for weekly data);
* identical (frequency, recency, T) rows **collapsed with weights** (same likelihood, far
  fewer rows), and both likelihoods maximised with their analytic gradients
  (:mod:`ppxlib.bgnbd`, :mod:`ppxlib.gammagamma`; equal parameters to lifetimes' autograd
  fits, tested);
* **data-driven starting values** and a **rescue** sequence when the optimiser fails (the
  default start, then a tiny penalizer); if all fail, :class:`CLVFitError` says what happened
  and what to try. Parameters are never NaN;
* parameters with **standard errors**, the BG/NBD **log-likelihood** in the data's units, and
  a check of Gamma-Gamma's assumption that spend and frequency are independent.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifetimes import (
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)
from lifetimes.utils import ConvergenceError
from scipy import stats

from ppxlib import bgnbd, gammagamma

DAYS_PER_MONTH = 30.4375
BGNBD_PARAMS = ("r", "alpha", "a", "b")
GG_PARAMS = ("p", "q", "gamma")


class CLVFitError(RuntimeError):
    """The purchase or spend model could not be fitted; the message says why and what to try."""


@dataclass
class CLVModel:
    """A fitted BG/NBD + Gamma-Gamma model. Fitted attributes end in ``_``.

    Attributes
    ----------
    time_unit_days : float
        Days per unit of the summary's recency and T (and of ``alpha``).
    purchase_model_ : str
        "BG/NBD", "MBG/NBD" or "Pareto/NBD": which model predicts purchases and drop-out.
    bgf_ : lifetimes fitter
        The fitted purchase model (``BetaGeoFitter``, ``ModifiedBetaGeoFitter`` or
        ``ParetoNBDFitter``; the name is kept from when it was always BG/NBD).
    ggf_ : lifetimes.GammaGammaFitter or None
        None when the spend model was not fitted (no repeat buyers with positive spend).
    params_ : pandas.Series
        The purchase model's (r, alpha, a, b; Pareto/NBD: r, alpha, s, beta), then p, q,
        gamma.
    standard_errors_ : pandas.Series
        Same index as ``params_``.
    log_likelihood_ : float
        BG/NBD log-likelihood of the data in its own time unit (NaN for the other models).
    spend_check_ : dict
        ``correlation`` (Pearson, frequency vs mean spend of repeat buyers), ``p_value``,
        ``customers``, ``ok`` (False when |correlation| >= 0.3 with p < 0.05).
    notes_ : list of str
        What the fit had to do (rescues, excluded customers, warnings), in plain words.
    """

    time_unit_days: float
    bgf_: BetaGeoFitter
    ggf_: GammaGammaFitter | None
    params_: pd.Series
    standard_errors_: pd.Series
    log_likelihood_: float
    spend_check_: dict
    customers_: int
    notes_: list[str] = field(default_factory=list)
    purchase_model_: str = "BG/NBD"

    # ------------------------------------------------------------------ predictions
    def _units(self, days: float) -> float:
        return days / self.time_unit_days

    def expected_purchases(self, summary: pd.DataFrame, days: float) -> pd.Series:
        """Expected repeat purchases of each customer in the next ``days`` days (lifetimes'
        formula, evaluated per distinct (frequency, T): :func:`ppxlib.bgnbd.expected_purchases`).
        """
        if self.purchase_model_ != "BG/NBD":
            pair, cumulative = _lifetimes_expectations(self.bgf_, [self._units(days)],
                                                       summary)
            return pd.Series(cumulative[pair, 0], index=summary.index,
                             name="expected_purchases")
        value = bgnbd.expected_purchases(self.bgf_.params_, self._units(days),
                                         summary.frequency, summary.recency, summary["T"])
        return pd.Series(value[:, 0], index=summary.index, name="expected_purchases")

    def p_alive(self, summary: pd.DataFrame) -> pd.Series:
        """Probability that each customer is still active (has not dropped out)."""
        return pd.Series(self.bgf_.conditional_probability_alive(
            summary.frequency, summary.recency, summary["T"]), index=summary.index,
            name="p_alive")

    def expected_spend(self, summary: pd.DataFrame) -> pd.Series:
        """Expected spend per future purchase (Gamma-Gamma; population mean without repeats)."""
        if self.ggf_ is None:
            raise CLVFitError("the spend model was not fitted: " + "; ".join(self.notes_))
        value = self.ggf_.conditional_expected_average_profit(
            summary.frequency, summary.monetary_value.clip(lower=0))
        return pd.Series(np.asarray(value, dtype=float), index=summary.index,
                         name="expected_spend")

    def clv(self, summary: pd.DataFrame, months: int = 12,
            monthly_discount_rate: float = 0.01) -> pd.Series:
        """Discounted value of each customer's purchases over the next ``months`` months.

        Month m's expected purchases (BG/NBD, months of 30.4375 days) times the expected
        spend (Gamma-Gamma), divided by ``(1 + monthly_discount_rate) ** m``.
        """
        spend = self.expected_spend(summary).to_numpy()
        _total, discounted = self._monthly(summary, months, monthly_discount_rate)
        return pd.Series(spend * discounted, index=summary.index, name="clv")

    def _monthly(self, summary: pd.DataFrame, months: int, monthly_discount_rate: float
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Each customer's expected purchases over ``months``, and the same with month m's
        purchases divided by ``(1 + rate) ** m`` -- from one evaluation of the BG/NBD
        expectation at every month end."""
        if months < 1:
            raise ValueError(f"months must be at least 1, got {months}")
        month = np.arange(1, months + 1)
        if self.purchase_model_ != "BG/NBD":
            pair, cumulative = _lifetimes_expectations(
                self.bgf_, self._units(month * DAYS_PER_MONTH), summary)
            in_month = np.diff(cumulative, axis=1, prepend=0.0)
            discounted = in_month @ (1 + monthly_discount_rate) ** -month.astype(float)
            return cumulative[pair, -1], discounted[pair]
        pair, cumulative, denominator = bgnbd.expected_purchase_parts(
            self.bgf_.params_, self._units(month * DAYS_PER_MONTH), summary.frequency,
            summary.recency, summary["T"])
        # the sum over months is taken per (frequency, T) pair, before expanding to customers
        in_month = np.diff(cumulative, axis=1, prepend=0.0)
        discounted = in_month @ (1 + monthly_discount_rate) ** -month.astype(float)
        return cumulative[pair, -1] / denominator, discounted[pair] / denominator

    def predict(self, summary: pd.DataFrame, months: int = 12,
                monthly_discount_rate: float = 0.01) -> pd.DataFrame:
        """All predictions per customer.

        Returns
        -------
        pandas.DataFrame
            ``p_alive, expected_purchases`` (over ``months``), ``expected_spend, clv``.
        """
        purchases, discounted = self._monthly(summary, months, monthly_discount_rate)
        frame = pd.DataFrame({"p_alive": self.p_alive(summary),
                              "expected_purchases": purchases}, index=summary.index)
        if self.ggf_ is not None:
            spend = self.expected_spend(summary)
            frame["expected_spend"] = spend
            frame["clv"] = spend.to_numpy() * discounted
        return frame


def _lifetimes_expectations(fitter, times, summary: pd.DataFrame
                            ) -> tuple[np.ndarray, np.ndarray]:
    """lifetimes' conditional expected purchases at each of ``times``, evaluated once per
    distinct (frequency, recency, T): ``(row of each customer, rows × times)``."""
    keys = summary[["frequency", "recency", "T"]]
    pair, unique = pd.MultiIndex.from_frame(keys).factorize()
    unique = pd.DataFrame(list(unique), columns=["frequency", "recency", "T"])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cumulative = np.column_stack([np.asarray(
            fitter.conditional_expected_number_of_purchases_up_to_time(
                t, unique.frequency, unique.recency, unique["T"]), dtype=float)
            for t in times])
    return pair, cumulative


def _collapse(summary: pd.DataFrame) -> pd.DataFrame:
    keys = ["frequency", "recency", "T"]
    # first-appearance order: deterministic for a summary sorted by customer, and no sort
    return summary[keys].groupby(keys, sort=False).size().rename("weight").reset_index()


def _start(rows: pd.DataFrame, scale: float) -> np.ndarray:
    """Log-parameters to start from, in lifetimes' scaled time, from simple moments."""
    w = rows.weight.to_numpy(dtype=float)
    rate = np.average(rows.frequency / np.maximum(rows["T"], 1e-9), weights=w)
    r0 = 1.0
    alpha0 = r0 / max(rate, 1e-6)
    repeaters = np.average(rows.frequency > 0, weights=w)
    a0, b0 = 1.0, max(1.0, 1.0 / max(1 - repeaters, 0.05))
    return np.log([r0, alpha0 * scale, a0, b0])


def _fit_bgnbd(rows: pd.DataFrame, notes: list[str]) -> BetaGeoFitter:
    args = (rows.frequency, rows.recency, rows["T"])
    scale = 10.0 / rows["T"].max()
    try:  # the same likelihood with an analytic gradient: several times faster at scale
        return bgnbd.fit(*args, weights=rows.weight, initial_log_params=_start(rows, scale))
    except (RuntimeError, FloatingPointError, np.linalg.LinAlgError) as err:
        notes.append(f"The fast BG/NBD fit failed ({err}); lifetimes' own optimiser was used.")
    attempts = [("data-driven start", 0.0, _start(rows, scale)),
                ("lifetimes' default start", 0.0, None),
                ("a tiny penalizer (1e-6)", 1e-6, _start(rows, scale)),
                ("a small penalizer (1e-3)", 1e-3, None)]
    bgf, label, penalizer, errors = _first_fit(
        lambda penalizer: BetaGeoFitter(penalizer_coef=penalizer), attempts, rows)
    if bgf is not None:
        if errors:
            notes.append(f"BG/NBD fitted from {label} after: {'; '.join(errors)}.")
        if penalizer:
            notes.append(f"BG/NBD needed a penalizer of {penalizer:g}; parameters are "
                         "shrunk slightly towards zero.")
        return bgf
    raise CLVFitError(
        "the BG/NBD model did not converge (" + "; ".join(errors) + "). Check that the "
        "summary has repeat purchases and varied recency; try another time unit "
        "(freq_multiplier), a longer observation period, or fit_clv(..., penalizer=0.01).")


def _first_fit(make, attempts: list[tuple], rows: pd.DataFrame):
    """Fit ``make(penalizer)`` with each ``(label, penalizer, start)`` of ``attempts`` in turn.

    Returns the first fitter whose fit converged to finite parameters, its label and
    penalizer, and what went wrong with the attempts before it (``None, None, None, errors``
    when every attempt failed).
    """
    errors: list[str] = []
    for label, penalizer, start in attempts:
        fitter = make(penalizer)
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                fitter.fit(rows.frequency, rows.recency, rows["T"], weights=rows.weight,
                           initial_params=start, verbose=False)
        except (ConvergenceError, ValueError, FloatingPointError, np.linalg.LinAlgError) as err:
            errors.append(f"{label}: {type(err).__name__}")
            continue
        if np.all(np.isfinite(fitter.params_.to_numpy())):
            return fitter, label, penalizer, errors
        errors.append(f"{label}: non-finite parameters")
    return None, None, None, errors


#: Parameter names of each purchase model, as :attr:`CLVModel.params_` lists them.
PURCHASE_PARAMS = {"BG/NBD": BGNBD_PARAMS, "MBG/NBD": BGNBD_PARAMS,
                   "Pareto/NBD": ("r", "alpha", "s", "beta")}


def _fit_other(rows: pd.DataFrame, name: str, notes: list[str]):
    """MBG/NBD or Pareto/NBD with lifetimes' own fitters (on the collapsed rows)."""
    # lifetimes would start Pareto/NBD from random parameters: start from ones instead
    start = None if name == "MBG/NBD" else np.ones(4)
    make = ModifiedBetaGeoFitter if name == "MBG/NBD" else ParetoNBDFitter
    fitter, _, penalizer, errors = _first_fit(
        lambda penalizer: make(penalizer_coef=penalizer),
        [(f"penalizer {penalizer:g}", penalizer, start) for penalizer in (0.0, 1e-6, 1e-3)],
        rows)
    if fitter is not None:
        if penalizer:
            notes.append(f"{name} needed a penalizer of {penalizer:g}.")
        if getattr(fitter, "_hessian_", None) is None:
            fitter._hessian_ = _numerical_hessian(fitter, rows)
        # a simulator closure lifetimes attaches: it cannot be pickled, and the reports
        # share fitted models between notebooks as pickles
        vars(fitter).pop("generate_new_data", None)
        return fitter
    raise CLVFitError(f"the {name} model did not converge (" + "; ".join(errors) + ").")


def _numerical_hessian(fitter, rows: pd.DataFrame, step: float = 1e-4) -> np.ndarray:
    """Hessian of the mean negative log-likelihood in the log-parameters, by central
    differences (lifetimes' Pareto/NBD fitter keeps none; the parameter draws need one)."""
    names = list(fitter.params_.index)
    centre = np.log(fitter.params_.to_numpy(dtype=float))
    f, r, t = (rows[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    w = rows.weight.to_numpy(dtype=float)

    def nll(log_params: np.ndarray) -> float:  # Pareto/NBD's takes the parameters, summed
        with np.errstate(all="ignore"):
            total = fitter._negative_log_likelihood(np.exp(log_params), f, r, t, w, 0.0)
        return float(total) / len(w)

    k = len(names)
    hessian = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.eye(k)[i] * step, np.eye(k)[j] * step
            value = (nll(centre + ei + ej) - nll(centre + ei - ej) - nll(centre - ei + ej)
                     + nll(centre - ei - ej)) / (4 * step * step)
            hessian[i, j] = hessian[j, i] = value
    return hessian


def _fit_spend(summary: pd.DataFrame, notes: list[str]):
    repeat = summary[summary.frequency > 0]
    bad = int((repeat.monetary_value <= 0).sum())
    if bad:
        notes.append(f"{bad:,} repeat buyers with zero or negative mean spend are left out of "
                     "the spend model (Gamma-Gamma needs positive spend).")
    repeat = repeat[repeat.monetary_value > 0]
    if len(repeat) < 10:
        notes.append(f"Only {len(repeat)} repeat buyers with positive spend: too few to fit "
                     "the spend model, so no CLV in money.")
        return None, {"correlation": float("nan"), "p_value": float("nan"),
                      "customers": len(repeat), "ok": False}
    corr, p_value = stats.pearsonr(repeat.frequency, repeat.monetary_value)
    check = {"correlation": float(corr), "p_value": float(p_value), "customers": len(repeat),
             "ok": not (abs(corr) >= 0.3 and p_value < 0.05)}
    if not check["ok"]:
        notes.append(f"Spend and purchase frequency are correlated (r = {corr:.2f}): "
                     "Gamma-Gamma assumes they are independent, so CLV in money is less "
                     "reliable.")
        warnings.warn(notes[-1], stacklevel=3)
    try:  # the same likelihood with an analytic gradient: several times faster at scale
        return gammagamma.fit(repeat.frequency, repeat.monetary_value), check
    except (RuntimeError, FloatingPointError, np.linalg.LinAlgError) as err:
        notes.append(f"The fast Gamma-Gamma fit failed ({err}); lifetimes' own optimiser was "
                     "used.")
    errors = []
    for penalizer in (0.0, 1e-6, 1e-3):
        ggf = GammaGammaFitter(penalizer_coef=penalizer)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ggf.fit(repeat.frequency, repeat.monetary_value, verbose=False)
        except (ConvergenceError, ValueError, np.linalg.LinAlgError) as err:
            errors.append(f"penalizer {penalizer:g}: {type(err).__name__}")
            continue
        if np.all(np.isfinite(ggf.params_.to_numpy())):
            if penalizer:
                notes.append(f"Gamma-Gamma needed a penalizer of {penalizer:g}.")
            return ggf, check
        errors.append(f"penalizer {penalizer:g}: non-finite parameters")
    raise CLVFitError("the Gamma-Gamma spend model did not converge (" + "; ".join(errors)
                      + "). Check for extreme order values.")


def _check_summary(summary: pd.DataFrame) -> None:
    missing = [c for c in ("frequency", "recency", "T", "monetary_value")
               if c not in summary.columns]
    if missing:
        raise ValueError(f"summary lacks {', '.join(missing)}: use ppxlib.rfm_summary")
    if len(summary) < 2:
        raise CLVFitError(f"{len(summary)} customer(s): too few to fit a purchase model.")
    if not (summary.frequency > 0).any():
        raise CLVFitError("no customer has a repeat purchase, so nothing can be learned about "
                          "how often customers buy or drop out. Use a longer observation "
                          "period.")
    if not (summary.recency > 0).any() or not (summary["T"] > 0).any():
        raise CLVFitError("all purchases fall in one period (recency and T are all zero): "
                          "use a finer time unit or a later observation end.")


def bgnbd_log_likelihood(bgf: BetaGeoFitter, rows: pd.DataFrame) -> float:
    """Total BG/NBD log-likelihood at the fitted parameters, in the data's own time unit."""
    weights = rows.weight.to_numpy(dtype=float) if "weight" in rows else np.ones(len(rows))
    data = bgnbd._Data(rows.frequency.to_numpy(dtype=float), rows.recency.to_numpy(dtype=float),
                       rows["T"].to_numpy(dtype=float), weights)
    mean, _grad = bgnbd.negative_log_likelihood(
        np.log(bgf.params_[list(BGNBD_PARAMS)].to_numpy()), data)
    return float(-mean * weights.sum())


def fit_clv(summary: pd.DataFrame, time_unit_days: float = 1.0, fit_spend: bool = True,
            purchase_model: str = "BG/NBD") -> CLVModel:
    """Fit a purchase model (BG/NBD by default) and Gamma-Gamma (spend) to a customer summary.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`ppxlib.rfm_summary` output (``frequency, recency, T, monetary_value``).
    time_unit_days : float
        Days per unit of ``recency`` and ``T``: 1 for ``freq="D"``, 7 for
        ``freq_multiplier=7`` or ``freq="W"``.
    fit_spend : bool
        Also fit Gamma-Gamma (needed for CLV in money).
    purchase_model : {"BG/NBD", "MBG/NBD", "Pareto/NBD"}
        Which model predicts purchases and drop-out. BG/NBD cannot let a customer without a
        repeat purchase drop out (their P(alive) is 1); MBG/NBD and Pareto/NBD can.
        :func:`choose_purchase_model` picks one from held-back weeks, as the reports do.

    Returns
    -------
    CLVModel

    Raises
    ------
    CLVFitError
        Too few customers, no repeat purchases, all purchases on one day, or an optimiser
        that fails from every start; the message says what to try.

    Examples
    --------
    >>> from ppxlib.simulate import simulate_shop
    >>> import ibis
    >>> from ppxlib.summary import rfm_summary
    >>> shop = simulate_shop(customers=2000, seed=1)
    >>> summary = rfm_summary(ibis.memtable(shop.orders), "2026-10-31", freq_multiplier=7)
    >>> model = fit_clv(summary, time_unit_days=7)
    >>> sorted(model.params_.index)
    ['a', 'alpha', 'b', 'gamma', 'p', 'q', 'r']
    """
    _check_summary(summary)
    if time_unit_days <= 0:
        raise ValueError(f"time_unit_days must be positive, got {time_unit_days}")
    if purchase_model not in PURCHASE_PARAMS:
        raise ValueError(f"purchase_model must be one of {', '.join(PURCHASE_PARAMS)}, got "
                         f"{purchase_model!r}")
    notes: list[str] = []
    rows = _collapse(summary)
    names = list(PURCHASE_PARAMS[purchase_model])
    if purchase_model == "BG/NBD":
        bgf = _fit_bgnbd(rows, notes)
        errors = bgf.standard_errors_[names].copy()
        log_likelihood = bgnbd_log_likelihood(bgf, rows)
    else:
        bgf = _fit_other(rows, purchase_model, notes)
        covariance = np.linalg.pinv(bgf._hessian_) / rows.weight.sum()
        errors = pd.Series(bgf.params_[names].to_numpy() * np.sqrt(np.abs(np.diag(
            covariance))), index=names)
        # lifetimes' minimum: the mean over weights (MBG/NBD), or the sum over the mean weight
        # (Pareto/NBD), in its scaled time
        # lifetimes keeps these likelihoods in its own rescaled time: not comparable to
        # BG/NBD's in the data's units, so none is reported rather than a misleading one
        log_likelihood = math.nan
    params = bgf.params_[names].copy()
    ggf, check = (None, {"correlation": float("nan"), "p_value": float("nan"),
                         "customers": 0, "ok": False})
    if fit_spend:
        ggf, check = _fit_spend(summary, notes)
        if ggf is not None:
            gg = ggf.params_.rename({"v": "gamma"})
            params = pd.concat([params, gg[list(GG_PARAMS)]])
            errors = pd.concat([errors, ggf.standard_errors_.rename({"v": "gamma"})[
                list(GG_PARAMS)]])
    return CLVModel(time_unit_days=float(time_unit_days), bgf_=bgf, ggf_=ggf, params_=params,
                    standard_errors_=errors, log_likelihood_=log_likelihood,
                    spend_check_=check, customers_=len(summary), notes_=notes,
                    purchase_model_=purchase_model)


def holdout_by_frequency(model: CLVModel, calibration: pd.DataFrame, cap: int = 7
                         ) -> pd.DataFrame:
    """Actual vs expected holdout purchases by number of calibration repeat purchases.

    Parameters
    ----------
    calibration : pandas.DataFrame
        :func:`ppxlib.rfm_summary` output with ``calibration_end`` (holdout columns).
    cap : int
        Frequencies from ``cap`` up are pooled into one "cap+" row.

    Returns
    -------
    pandas.DataFrame
        ``frequency`` (label), ``customers``, ``actual``, ``expected`` (mean holdout
        purchases per customer).
    """
    days = calibration.duration_holdout.iloc[0] * model.time_unit_days
    expected = model.expected_purchases(calibration, days)
    group = calibration.frequency.clip(upper=cap).astype(int)
    table = pd.DataFrame({"group": group, "actual": calibration.frequency_holdout,
                          "expected": expected}).groupby("group").agg(
        customers=("actual", "size"), actual=("actual", "mean"),
        expected=("expected", "mean")).reset_index()
    table["frequency"] = [f"{g}+" if g == cap else str(g) for g in table.group]
    return table[["frequency", "customers", "actual", "expected"]]


def holdout_errors(model: CLVModel, calibration: pd.DataFrame) -> dict:
    """Customer-level MAE, correlation and aggregate error of holdout predictions."""
    days = calibration.duration_holdout.iloc[0] * model.time_unit_days
    expected = model.expected_purchases(calibration, days).to_numpy()
    return _errors(expected, calibration.frequency_holdout.to_numpy(dtype=float))


def _errors(expected: np.ndarray, actual: np.ndarray) -> dict:
    total_actual = float(actual.sum())
    return {
        "customers": len(actual),
        "mae": float(np.mean(np.abs(expected - actual))),
        "correlation": float(np.corrcoef(expected, actual)[0, 1]) if len(actual) > 1
        else float("nan"),
        "actual_total": total_actual,
        "expected_total": float(expected.sum()),
        "aggregate_error": float(expected.sum() / total_actual - 1) if total_actual
        else float("nan"),
    }


#: Purchase models :func:`compare_models` fits, by name.
COMPARED_MODELS = ("BG/NBD", "MBG/NBD", "Pareto/NBD")


def compare_models(calibration: pd.DataFrame, sample_size: int = 20_000, seed: int = 0
                   ) -> pd.DataFrame:
    """BG/NBD beside MBG/NBD and Pareto/NBD, each fitted to the calibration period and scored
    on the held-back one.

    MBG/NBD (Batislam et al. 2007) lets customers without repeat purchases drop out too;
    Pareto/NBD (Schmittlein et al. 1987) lets drop-out happen at any time rather than only
    after a purchase. All three are lifetimes' fitters (BG/NBD through :mod:`ppxlib.bgnbd`,
    the same parameters) on the same collapsed rows. The models are compared on what they
    are used for -- predicting each customer's held-back purchases -- not on their
    likelihoods, which lifetimes reports in different time scalings.

    Parameters
    ----------
    calibration : pandas.DataFrame
        :func:`ppxlib.rfm_summary` output with ``calibration_end`` (holdout columns).
    sample_size : int
        Above this many customers, a random sample of this size (``seed``) is used: the
        Pareto/NBD likelihood is costly, and the comparison needs no more.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``model``, ``parameters`` (dict; None when the fit failed),
        ``customers``, ``mae``, ``correlation``, ``expected_total``, ``actual_total``,
        ``aggregate_error`` (as :func:`holdout_errors`) and ``note`` (why a fit failed).

    Examples
    --------
    >>> compare_models(calibration)[["model", "mae", "aggregate_error"]]  # doctest: +SKIP
    """
    if "frequency_holdout" not in calibration:
        raise ValueError("compare_models needs a calibration/holdout summary: "
                         "rfm_summary(..., calibration_end=...)")
    sample = calibration
    if len(calibration) > sample_size:
        sample = calibration.sample(n=sample_size, random_state=seed).sort_index()
    rows = _collapse(sample)
    duration = float(sample.duration_holdout.iloc[0])
    actual = sample.frequency_holdout.to_numpy(dtype=float)
    results = []
    for name in COMPARED_MODELS:
        row = {"model": name, "parameters": None, "customers": len(sample), "note": ""}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if name == "BG/NBD":
                    fitter = bgnbd.fit(rows.frequency, rows.recency, rows["T"],
                                       weights=rows.weight)
                elif name == "Pareto/NBD":  # lifetimes would start from random parameters
                    fitter = ParetoNBDFitter().fit(rows.frequency, rows.recency, rows["T"],
                                                   weights=rows.weight,
                                                   initial_params=np.ones(4))
                else:
                    fitter = ModifiedBetaGeoFitter().fit(rows.frequency, rows.recency,
                                                         rows["T"], weights=rows.weight)
                expected = np.asarray(
                    fitter.conditional_expected_number_of_purchases_up_to_time(
                        duration, sample.frequency, sample.recency, sample["T"]), dtype=float)
        except (ConvergenceError, RuntimeError, ValueError, FloatingPointError,
                np.linalg.LinAlgError) as err:
            row["note"] = f"did not converge ({type(err).__name__})"
            results.append(row)
            continue
        if not np.all(np.isfinite(expected)):
            row["note"] = "non-finite predictions"
            results.append(row)
            continue
        row["parameters"] = {k: float(v) for k, v in fitter.params_.items()}
        row.update(_errors(expected, actual))
        results.append(row)
    columns = ["model", "parameters", "customers", "mae", "correlation", "expected_total",
               "actual_total", "aggregate_error", "note"]
    return pd.DataFrame(results).reindex(columns=columns)


#: The purchase models that let a customer without a repeat purchase drop out.
DROP_OUT_MODELS = ("MBG/NBD", "Pareto/NBD")


def choose_purchase_model(compared: pd.DataFrame, weeks: float | None = None) -> dict:
    """The purchase model the reports use for P(alive) and CLV, and why, in words.

    BG/NBD lets customers drop out only right after a purchase, so it gives every customer
    without a repeat purchase P(alive) = 1, however long ago they bought: on a shop where most
    customers buy once, it calls the long-gone "alive". Of the models that let them drop out
    (:data:`DROP_OUT_MODELS`), the one that predicted the held-back weeks best in
    :func:`compare_models` is used; Pareto/NBD, which costs far more to fit, must beat
    MBG/NBD's mean error by more than 1 %. If neither could be fitted, BG/NBD is used and the
    reason says so.

    Returns
    -------
    dict
        ``model`` (a ``purchase_model`` for :func:`fit_clv`) and ``reason`` (a sentence).

    Examples
    --------
    >>> compared = pd.DataFrame({"model": ["BG/NBD", "MBG/NBD", "Pareto/NBD"],
    ...                          "mae": [0.52, 0.51, 0.53]})
    >>> choose_purchase_model(compared, 26)["model"]
    'MBG/NBD'
    """
    mae = compared.set_index("model").mae.astype(float)
    fitted = {name: mae[name] for name in DROP_OUT_MODELS
              if name in mae and np.isfinite(mae[name])}
    held = f"the {weeks:g} held-back weeks" if weeks else "the held-back weeks"
    if not fitted:
        return {"model": "BG/NBD",
                "reason": "Neither model that lets one-time buyers drop out could be fitted, "
                          "so BG/NBD is used: customers who bought only once all count as "
                          "still active."}
    choice = "MBG/NBD" if "MBG/NBD" in fitted else "Pareto/NBD"
    if "Pareto/NBD" in fitted and "MBG/NBD" in fitted and \
            fitted["Pareto/NBD"] < 0.99 * fitted["MBG/NBD"]:
        choice = "Pareto/NBD"
    others = [f"{name} {mae[name]:.3f}" for name in mae.index
              if name != choice and np.isfinite(mae[name])]
    return {"model": choice,
            "reason": f"Purchases and drop-out are predicted with {choice}: unlike BG/NBD it "
                      f"lets a customer who bought once stop buying, and of the models that "
                      f"do, it predicted {held} best (mean error {fitted[choice]:.3f} "
                      f"purchases per customer; " + ", ".join(others) + ")."}


def bootstrap(summary: pd.DataFrame, model: CLVModel, months: int = 12,
              monthly_discount_rate: float = 0.01, draws: int = 100,
              segments: pd.Series | dict[str, pd.Series] | None = None, seed: int = 0,
              confidence: float = 0.95, method: str = "auto", refit_limit: int = 200_000,
              sample_size: int = 50_000) -> dict[str, pd.DataFrame]:
    """Intervals for total expected purchases and mean CLV from the models' uncertainty.

    Two ways to draw plausible parameters, ``method``:

    * ``"refit"``: resample customers with replacement (a multinomial weight each) and refit
      both models from the fitted parameters -- the bootstrap proper.
    * ``"normal"``: draw the log-parameters from the fit's asymptotic normal distribution
      (the inverse Hessian of the likelihood; Krinsky & Robb). With hundreds of thousands of
      customers the likelihood is all but exactly normal, and no refit is needed.
    * ``"auto"`` (default): ``"refit"`` up to ``refit_limit`` customers, ``"normal"`` above.

    Each draw predicts every customer's purchases and CLV over ``months`` -- or, above
    ``sample_size`` customers, those of a fixed random sample, and moves the full estimate by
    the sample's ratio to its own estimate (a parameter draw shifts all customers' predictions
    nearly in proportion), so a draw costs the same at any size.

    ``segments`` is one customer -> group Series, or a dict of several groupings
    (``{"channel": ..., "cohort": ...}``), all computed from the same draws.

    Returns
    -------
    dict
        ``"total"``: one row (``estimate, low, high``) for total expected purchases;
        ``"clv"``: mean CLV ``estimate, low, high`` indexed by (grouping, group), or by
        group for a single Series ("all" without segments);
        ``"draws"``: one row, ``draws`` (successful draws) and ``method`` used.

    Examples
    --------
    >>> boot = bootstrap(summary, model, draws=40, segments=rfm.segment)  # doctest: +SKIP
    >>> boot["total"]                                                       # doctest: +SKIP
    """
    if method == "auto":
        # refits are BG/NBD's fast fit; the other purchase models draw from their fit
        method = ("refit" if len(summary) <= refit_limit and model.purchase_model_ == "BG/NBD"
                  else "normal")
    if method not in ("refit", "normal"):
        raise ValueError(f"method must be 'auto', 'refit' or 'normal', got {method!r}")
    rng = np.random.default_rng(seed)
    n = len(summary)
    single = not isinstance(segments, dict)
    groupings = {"segment": segments} if single else dict(segments)
    if single and segments is None:
        groupings = {"segment": pd.Series("all", index=summary.index)}
    groupings = {k: v.reindex(summary.index).fillna("(none)").astype(str)
                 for k, v in groupings.items()}

    base = model.predict(summary, months, monthly_discount_rate)
    estimate_total = float(base.expected_purchases.sum())
    estimate_clv = _group_means(base.clv, groupings) if "clv" in base else None
    # the customers each draw predicts for, and the full estimate's ratio to theirs
    sample = summary if n <= sample_size else summary.iloc[
        np.sort(rng.choice(n, sample_size, replace=False))]
    sample_total = float(base.expected_purchases.loc[sample.index].sum())
    by_group = _group_means_of(sample.index, groupings)  # every draw: the same customers
    sample_clv = by_group(base.clv.loc[sample.index]) if estimate_clv is not None else None

    models = (_refits(summary, model, draws, rng) if method == "refit"
              else _normal_draws(model, draws, rng))
    totals, clvs = [], []
    for drawn in models:
        predicted = drawn.predict(sample, months, monthly_discount_rate)
        totals.append(estimate_total * float(predicted.expected_purchases.sum()) / sample_total)
        if "clv" in predicted and estimate_clv is not None:
            clvs.append(estimate_clv * by_group(predicted.clv) / sample_clv)
    if not totals:
        raise CLVFitError("no bootstrap draw could be refitted")
    alpha = (1 - confidence) / 2
    total = pd.DataFrame({"estimate": [estimate_total],
                          "low": [float(np.quantile(totals, alpha))],
                          "high": [float(np.quantile(totals, 1 - alpha))]})
    result = {"total": total, "draws": pd.DataFrame({"draws": [len(totals)],
                                                     "method": [method]})}
    if clvs and estimate_clv is not None:
        stacked = pd.concat(clvs, axis=1)
        table = pd.DataFrame({"estimate": estimate_clv,
                              "low": stacked.quantile(alpha, axis=1),
                              "high": stacked.quantile(1 - alpha, axis=1)})
        result["clv"] = table.droplevel("grouping") if single else table
    return result


def _group_means(values: pd.Series, groupings: dict[str, pd.Series]) -> pd.Series:
    """Mean of ``values`` per group of each grouping, indexed by (grouping, group)."""
    return _group_means_of(values.index, groupings)(values)


def _group_means_of(index: pd.Index, groupings: dict[str, pd.Series]):
    """A function computing :func:`_group_means` for values on ``index``; the groups are
    located once, so that many draws cost one weighted count each."""
    located = []
    for name, groups in groupings.items():
        codes, labels = pd.factorize(groups.reindex(index), sort=True)
        counts = np.bincount(codes, minlength=len(labels))
        located.append((name, codes, labels, counts))
    keys = pd.MultiIndex.from_tuples([(name, label) for name, _c, labels, _n in located
                                      for label in labels], names=["grouping", "group"])

    def means(values: pd.Series) -> pd.Series:
        v = values.to_numpy(dtype=float)
        parts = [np.bincount(codes, weights=v, minlength=len(labels)) / counts
                 for _name, codes, labels, counts in located]
        return pd.Series(np.concatenate(parts), index=keys)

    return means


def _refits(summary: pd.DataFrame, model: CLVModel, draws: int,
            rng: np.random.Generator) -> Iterator[CLVModel]:
    """Models refitted on customers resampled with replacement (failed refits are skipped)."""
    keys = ["frequency", "recency", "T"]
    n = len(summary)
    fitted = model.bgf_.params_[list(BGNBD_PARAMS)].to_numpy()
    for _draw in range(draws):
        weights = rng.multinomial(n, np.full(n, 1.0 / n))
        drawn = summary.assign(weight=weights)
        drawn = drawn[drawn.weight > 0]
        rows = drawn.groupby(keys, sort=True).weight.sum().reset_index()
        try:
            # start from the fitted parameters, in the fitter's scaled time
            start = np.log(fitted * [1, 10.0 / rows["T"].max(), 1, 1])
            bgf = bgnbd.fit(rows.frequency, rows.recency, rows["T"], weights=rows.weight,
                            initial_log_params=start)
        except (RuntimeError, FloatingPointError, ValueError, np.linalg.LinAlgError):
            continue
        if model.purchase_model_ != "BG/NBD":
            raise ValueError("refits are for BG/NBD; use method='normal'")
        refit = CLVModel(model.time_unit_days, bgf, None, bgf.params_, bgf.params_ * np.nan,
                         math.nan, model.spend_check_, model.customers_)
        if model.ggf_ is not None:
            spend = drawn[(drawn.frequency > 0) & (drawn.monetary_value > 0)]
            ggf = GammaGammaFitter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ggf.fit(spend.frequency, spend.monetary_value, weights=spend.weight,
                            initial_params=np.log(model.ggf_.params_.to_numpy()),
                            verbose=False)
            except (ConvergenceError, ValueError, np.linalg.LinAlgError):
                continue
            refit.ggf_ = ggf
        yield refit


def _normal_draws(model: CLVModel, draws: int, rng: np.random.Generator) -> Iterator[CLVModel]:
    """Models whose log-parameters are drawn from the fit's asymptotic normal distribution."""

    def draw(fitter, names: list[str]) -> pd.Series:
        centre = np.log(fitter.params_[names].to_numpy())
        covariance = np.linalg.inv(fitter._hessian_) / fitter.data["weights"].sum()
        covariance = (covariance + covariance.T) / 2
        return pd.Series(np.exp(rng.multivariate_normal(centre, covariance)), index=names)

    kind = {"BG/NBD": BetaGeoFitter, "MBG/NBD": ModifiedBetaGeoFitter,
            "Pareto/NBD": ParetoNBDFitter}[model.purchase_model_]
    for _draw in range(draws):
        bgf = kind()
        bgf.params_ = draw(model.bgf_, list(PURCHASE_PARAMS[model.purchase_model_]))
        drawn = CLVModel(model.time_unit_days, bgf, None, bgf.params_, bgf.params_ * np.nan,
                         math.nan, model.spend_check_, model.customers_,
                         purchase_model_=model.purchase_model_)
        if model.ggf_ is not None:
            ggf = GammaGammaFitter()
            ggf.params_ = draw(model.ggf_, ["p", "q", "v"])
            drawn.ggf_ = ggf
        yield drawn


def at_risk(scores: pd.DataFrame, p_alive: pd.Series, lost_days: float,
            threshold: float = 0.5) -> dict:
    """Current customers more likely gone than active, ranked by the value at risk.

    The value at risk of a customer is what they have spent so far times the chance that they
    have stopped buying, ``monetary × (1 − P(alive))``: the spend a win-back would protect,
    if the past is a guide. Customers already past the lost threshold are not ranked (they are
    counted apart: contacting them is a win-back campaign, not a save).

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`ppxlib.rfm.rfm_scores` output (``recency_days, frequency, monetary, segment``).
    p_alive : pandas.Series
        P(alive) per customer (:meth:`CLVModel.p_alive`).
    lost_days : float
        The lifecycle's lost threshold.
    threshold : float
        Customers with P(alive) below this are "more likely gone than active".

    Returns
    -------
    dict
        ``table``: ``customer_id`` (index), ``orders, total_spend, days_since_last_order,
        p_alive, value_at_risk, segment``, highest value at risk first (ties by id);
        ``candidates`` (rows in the table), ``already_lost`` (customers past the lost
        threshold with P(alive) below ``threshold``, not in the table).

    Examples
    --------
    >>> scores = pd.DataFrame({"recency_days": [10, 200, 900], "frequency": [3, 2, 5],
    ...                        "monetary": [300.0, 100.0, 900.0], "segment": ["x", "y", "z"]},
    ...                       index=["a", "b", "c"])
    >>> got = at_risk(scores, pd.Series([0.4, 0.2, 0.1], index=["a", "b", "c"]), 365)
    >>> got["table"].index.tolist(), got["already_lost"]
    (['a', 'b'], 1)
    """
    alive = p_alive.reindex(scores.index)
    likely_gone = alive < threshold
    lost = scores.recency_days > lost_days
    chosen = scores[likely_gone & ~lost]
    table = pd.DataFrame({
        "orders": chosen.frequency,
        "total_spend": chosen.monetary,
        "days_since_last_order": chosen.recency_days,
        "p_alive": alive[chosen.index],
        "value_at_risk": chosen.monetary * (1 - alive[chosen.index]),
        "segment": chosen.segment,
    })
    table = table.rename_axis("customer_id").reset_index().sort_values(
        ["value_at_risk", "customer_id"], ascending=[False, True], kind="stable")
    return {"table": table.set_index("customer_id"), "candidates": len(table),
            "already_lost": int((likely_gone & lost).sum())}


def p_alive_matrix(model: CLVModel, summary: pd.DataFrame, max_frequency: int = 20,
                   recency_bins: int = 12) -> pd.DataFrame:
    """P(alive) on a grid of repeat purchases × recency, for a customer of the median age.

    Rows are repeat purchases 0..``max_frequency``; columns recency (in the model's time unit)
    from 0 to the median T. Reads: a customer who bought x times, last at recency t, is alive
    with this probability.
    """
    age = float(summary["T"].median())
    frequencies = np.arange(0, max_frequency + 1)
    recencies = np.linspace(0, age, recency_bins + 1)
    x, t = np.meshgrid(frequencies, recencies, indexing="ij")
    grid = np.asarray(model.bgf_.conditional_probability_alive(
        x.ravel(), t.ravel(), np.full(x.size, age)), dtype=float).reshape(x.shape)
    grid[(x == 0) & (t > 0)] = np.nan  # no repeat purchase means recency 0
    return pd.DataFrame(grid, index=pd.Index(frequencies, name="repeat purchases"),
                        columns=pd.Index(np.round(recencies, 1), name="recency"))


def concentration(values: pd.Series) -> pd.DataFrame:
    """Share of the total held by the top customers (Lorenz-style) and the top-decile share.

    Returns
    -------
    pandas.DataFrame
        ``customer_share`` (top x of customers by value) and ``value_share`` (their share of
        the total), from 0 to 1 in 100 steps.
    """
    ordered = np.sort(values.to_numpy(dtype=float))[::-1]
    total = ordered.sum()
    shares = np.linspace(0, 1, 101)
    counts = np.ceil(shares * len(ordered)).astype(int)
    cumulative = np.concatenate([[0.0], np.cumsum(ordered)])
    value_share = cumulative[counts] / total if total > 0 else np.full(len(shares), np.nan)
    return pd.DataFrame({"customer_share": shares, "value_share": value_share})


def tracking(orders, model: CLVModel, calibration_end, observation_end,
             customer_id_col: str = "customer_id", datetime_col: str = "order_ts"
             ) -> pd.DataFrame:
    """Weekly actual vs expected repeat purchases (the BG/NBD tracking chart).

    Repeat purchases are purchase days after a customer's first, of customers whose first
    purchase is on or before ``calibration_end``. The expectation sums, over those
    customers, the model's expected repeat purchases since their first purchase.

    Returns
    -------
    pandas.DataFrame
        ``week_start``, ``actual``, ``expected``, ``actual_cumulative``,
        ``expected_cumulative``, ``holdout`` (bool: week after the calibration end).
    """
    from ibis import _

    from ppxlib.tables import as_orders

    orders = as_orders(orders, customer_id_col, datetime_col, monetary_value_col=None)
    cal = pd.Timestamp(calibration_end).normalize()
    end = pd.Timestamp(observation_end).normalize()
    days = orders.select(cust=orders[customer_id_col], day=orders[datetime_col].date())
    days = days.filter(days.day <= end.date()).distinct()
    firsts = days.group_by("cust").aggregate(first=_.day.min())
    firsts = firsts.filter(firsts.first <= cal.date())
    joined = days.join(firsts, "cust")
    # one pass: per day, the customers whose first purchase day it is and the repeat days
    per_day = joined.group_by("day").aggregate(
        n=(joined.day == joined.first).sum(), actual=(joined.day > joined.first).sum()
    ).to_pandas()
    per_day["day"] = pd.to_datetime(per_day["day"])
    births = per_day.loc[per_day.n > 0, ["day", "n"]].rename(columns={"day": "first"})
    daily = per_day[["day", "actual"]]
    start = pd.Timestamp(births["first"].min())
    weeks = pd.date_range(start, end, freq="7D")
    actual = [daily[(daily.day >= w) & (daily.day < w + pd.Timedelta(days=7))].actual.sum()
              for w in weeks]
    expected_cum = []
    for w in weeks:
        t = min(w + pd.Timedelta(days=7), end + pd.Timedelta(days=1))
        age = ((t - births["first"]).dt.days / model.time_unit_days).clip(lower=0)
        expected_cum.append(float((births.n * model.bgf_.expected_number_of_purchases_up_to_time(
            age)).sum()))
    frame = pd.DataFrame({"week_start": weeks, "actual": np.asarray(actual, dtype=float),
                          "expected_cumulative": expected_cum})
    frame["expected"] = frame.expected_cumulative.diff().fillna(frame.expected_cumulative)
    frame["actual_cumulative"] = frame.actual.cumsum()
    frame["holdout"] = frame.week_start > cal
    return frame[["week_start", "actual", "expected", "actual_cumulative",
                  "expected_cumulative", "holdout"]]
