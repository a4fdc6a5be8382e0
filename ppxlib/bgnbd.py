"""A fast BG/NBD likelihood with its analytic gradient (numpy + scipy).

lifetimes differentiates its likelihood with autograd, which at a million customers costs
most of the fit. This module evaluates the same log-likelihood (Fader, Hardie & Lee 2005,
eq. 6) and its exact gradient with vectorised numpy, and minimises it with L-BFGS-B in
log-parameters. Terms that depend on x or T alone are summed per distinct value, so only
the two-way mixture of each repeat buyer touches every row. ``tests/test_bgnbd.py`` checks
that the parameters equal lifetimes' on the same data. The result is handed back as a
``lifetimes.BetaGeoFitter`` so that every prediction still comes from lifetimes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter
from scipy.special import digamma, gammaln, hyp2f1

from ppxlib.likelihood import maximise


class _Data:
    """Sufficient statistics, arranged so that each likelihood evaluation touches every
    customer row only where it must.

    x, recency and T take few distinct values (whole purchase periods): special functions are
    evaluated on the distinct values only. Every term that depends on x alone or on T alone is
    summed through weighted counts per distinct value, computed once here; only the mixture of
    "still alive" and "dropped out after the last purchase" needs each repeat buyer's row.
    """

    def __init__(self, x, t_x, T, w):
        x, t_x, T, w = (np.asarray(v, dtype=float) for v in (x, t_x, T, w))
        self.x, self.w = x, w  # kept for callers (e.g. standard errors need only the total)
        self.total = w.sum()
        self.x_values, x_index = np.unique(x, return_inverse=True)
        self.T_values, T_index = np.unique(T, return_inverse=True)
        self.w_by_x = np.bincount(x_index, weights=w, minlength=len(self.x_values))
        self.w_by_T = np.bincount(T_index, weights=w, minlength=len(self.T_values))
        self.wx_by_T = np.bincount(T_index, weights=w * x, minlength=len(self.T_values))
        repeat = x > 0
        self.rep_x_index = x_index[repeat]
        self.rep_T_index = T_index[repeat]
        self.tx_values, self.rep_tx_index = np.unique(t_x[repeat], return_inverse=True)
        self.rep_x, self.rep_w = x[repeat], w[repeat]
        self.repeat_x_mask = self.x_values > 0


def negative_log_likelihood(log_params: np.ndarray, data: _Data) -> tuple[float, np.ndarray]:
    """Mean weighted negative log-likelihood and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    xv = data.x_values
    # per distinct x: log Gamma(r+x)/Gamma(r) + log B(a, b+x)/B(a, b), and digammas
    per_x = gammaln(r + xv) - gammaln(r) + gammaln(a + b) + gammaln(b + xv) - gammaln(b) \
        - gammaln(a + b + xv)
    dr_x = digamma(r + xv) - digamma(r)
    da_x = digamma(a + b) - digamma(a + b + xv)
    db_x = digamma(a + b) + digamma(b + xv) - digamma(b) - digamma(a + b + xv)
    bx1 = np.where(data.repeat_x_mask, b + xv - 1, 1.0)
    log_bx1 = np.log(bx1)
    # per distinct T
    log_aT = np.log(alpha + data.T_values)
    inv_aT = 1 / (alpha + data.T_values)
    # per distinct repeat recency
    log_atx = np.log(alpha + data.tx_values)
    inv_atx = 1 / (alpha + data.tx_values)

    W = data.total
    ll = (data.w_by_x @ per_x + W * r * np.log(alpha)
          - r * (data.w_by_T @ log_aT) - data.wx_by_T @ log_aT)
    g_r = data.w_by_x @ dr_x + W * np.log(alpha) - data.w_by_T @ log_aT
    g_alpha = W * r / alpha - r * (data.w_by_T @ inv_aT) - data.wx_by_T @ inv_aT
    g_a = data.w_by_x @ da_x
    g_b = data.w_by_x @ db_x

    # repeat buyers: log(exp(a3) + exp(a4)) = a3 + softplus(d), d = a4 - a3
    xi, Ti, ti = data.rep_x_index, data.rep_T_index, data.rep_tx_index
    rx = r + data.rep_x
    gap = log_atx[ti] - log_aT[Ti]
    d = (np.log(a) - log_bx1)[xi] - rx * gap
    e = np.exp(-np.abs(d))
    positive = d > 0
    softplus = np.where(positive, d, 0.0) + np.log1p(e)
    w4 = np.where(positive, 1.0, e) / (1 + e)  # P(dropped out right after the last purchase)
    ww4 = data.rep_w * w4
    ll += data.rep_w @ softplus
    g_r -= ww4 @ gap
    g_alpha -= (ww4 * rx) @ (inv_atx[ti] - inv_aT[Ti])
    sum_ww4 = ww4.sum()
    g_a += sum_ww4 / a
    g_b -= np.bincount(xi, weights=ww4, minlength=len(xv)) @ (1 / bx1)
    value = -ll / W
    grad = -np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b]) / W
    return float(value), grad


def fit(frequency, recency, T, weights=None, initial_log_params=None) -> BetaGeoFitter:
    """Fit BG/NBD by maximum likelihood; returns a lifetimes ``BetaGeoFitter`` with
    ``params_``, ``standard_errors_`` and ``data`` set, ready for its prediction methods.

    Raises
    ------
    RuntimeError
        If the optimiser does not converge or ends on non-finite parameters.
    """
    x = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    t = np.asarray(T, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    scale = 10.0 / t.max()  # the same rescaling of time lifetimes uses, for conditioning
    xs, ts = t_x * scale, t * scale
    start = (np.log([1.0, 1.0, 1.0, 1.0]) if initial_log_params is None
             else np.asarray(initial_log_params, dtype=float))

    data = _Data(x, xs, ts, w)

    log_params, value, hessian = maximise(lambda p: negative_log_likelihood(p, data), start,
                                          "BG/NBD")
    params = np.exp(log_params)
    variance = (params**2) * np.linalg.inv(hessian) / w.sum()
    params[1] /= scale
    variance[1, :] /= scale
    variance[:, 1] /= scale
    names = ["r", "alpha", "a", "b"]
    bgf = BetaGeoFitter()
    bgf.params_ = pd.Series(params, index=names)
    bgf.variance_matrix_ = pd.DataFrame(variance, index=names, columns=names)
    bgf.standard_errors_ = pd.Series(np.sqrt(np.abs(np.diag(variance))), index=names)
    bgf.data = pd.DataFrame({"frequency": x, "recency": t_x, "T": t, "weights": w})
    bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time
    bgf._negative_log_likelihood_ = value
    bgf._hessian_ = hessian  # of the mean likelihood in log-parameters, as lifetimes keeps it
    return bgf


def expected_purchases(params: pd.Series, horizons, frequency, recency, T) -> np.ndarray:
    """Expected repeat purchases in the next ``t`` time units, for several horizons at once.

    The same formula (Fader, Hardie & Lee 2005, eq. 10) and the same evaluation as lifetimes'
    ``BetaGeoFitter.conditional_expected_number_of_purchases_up_to_time``, arranged for
    speed: the Gauss hypergeometric part depends only on (frequency, T), which take few
    distinct pairs, so it is evaluated once per pair and horizon instead of once per customer;
    recency enters only through a cheap per-customer factor. ``tests/test_bgnbd.py`` checks
    equality with lifetimes.

    Parameters
    ----------
    params : pandas.Series
        ``r, alpha, a, b`` in the summary's time unit.
    horizons : float or array
        Horizons in the summary's time unit.
    frequency, recency, T : arrays
        The customer summary.

    Returns
    -------
    numpy.ndarray
        Shape (customers, horizons).

    Examples
    --------
    >>> params = pd.Series({"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4})
    >>> expected_purchases(params, [10, 20], [2, 0], [30.4, 0], [38.9, 38.9]).round(3)
    array([[0.356, 0.678],
           [0.054, 0.104]])
    """
    pair, numerator, denominator = expected_purchase_parts(params, horizons, frequency,
                                                           recency, T)
    return numerator[pair] / denominator[:, None]


def expected_purchase_parts(params: pd.Series, horizons, frequency, recency, T
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`expected_purchases` before its last step: ``(pair, numerator, denominator)``
    such that the expectation is ``numerator[pair] / denominator[:, None]``.

    ``numerator`` has one row per distinct (frequency, T) pair and one column per horizon;
    sums over horizons (a discounted CLV) can be taken on it before expanding to customers.
    """
    r, alpha, a, b = (float(params[k]) for k in ("r", "alpha", "a", "b"))
    x = np.asarray(frequency, dtype=float)
    t_x = np.asarray(recency, dtype=float)
    T = np.asarray(T, dtype=float)
    t = np.atleast_1d(np.asarray(horizons, dtype=float))
    pair, pairs = pd.factorize(x + 1j * T)  # distinct (frequency, T)
    xp, Tp = pairs.real[:, None], pairs.imag[:, None]
    _a, _b, _c = r + xp, b + xp, a + b + xp - 1
    _z = t / (alpha + Tp + t)
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_hyp = np.log(hyp2f1(_a, _b, _c, _z))
        # where the series overflows, lifetimes switches to Euler's transformation (only
        # there: each hyp2f1 is most of the cost)
        over = np.isinf(ln_hyp)
        if over.any():
            a_, b_, c_, z_ = (v[over] for v in np.broadcast_arrays(_a, _b, _c, _z))
            ln_hyp[over] = (np.log(hyp2f1(c_ - a_, c_ - b_, c_, z_))
                            + (c_ - a_ - b_) * np.log(1 - z_))
    numerator = ((a + b + xp - 1) / (a - 1)
                 * (1 - np.exp(ln_hyp + (r + xp) * np.log((alpha + Tp) / (alpha + t + Tp)))))
    denominator = 1 + (x > 0) * (a / (b + x - 1)) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    return pair, numerator, denominator
