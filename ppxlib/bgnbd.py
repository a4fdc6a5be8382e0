"""A fast BG/NBD likelihood with its analytic gradient (numpy + scipy).

lifetimes differentiates its likelihood with autograd, which at a million customers costs
most of the fit. This module evaluates the same log-likelihood (Fader, Hardie & Lee 2005,
eq. 6) and its exact gradient with vectorised numpy, and minimises it with L-BFGS-B in
log-parameters. ``tests/test_bgnbd.py`` checks that the parameters equal lifetimes' on the
same data. The result is handed back as a ``lifetimes.BetaGeoFitter`` so that every
prediction still comes from lifetimes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter
from scipy.optimize import minimize
from scipy.special import digamma, gammaln


class _Data:
    """Sufficient statistics with the special functions' arguments deduplicated.

    x, recency and T take few distinct values (whole purchase periods), so gammaln, digamma
    and log are evaluated on the distinct values only and gathered back.
    """

    def __init__(self, x, t_x, T, w):
        self.x_values, self.x_index = np.unique(x, return_inverse=True)
        self.tx_values, self.tx_index = np.unique(t_x, return_inverse=True)
        self.T_values, self.T_index = np.unique(T, return_inverse=True)
        self.x, self.w = x, w
        self.repeat = x > 0
        self.total = w.sum()


def negative_log_likelihood(log_params: np.ndarray, data: _Data) -> tuple[float, np.ndarray]:
    """Mean weighted negative log-likelihood and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    xv, xi = data.x_values, data.x_index
    x, w, repeat = data.x, data.w, data.repeat
    a1 = (gammaln(r + xv) - gammaln(r))[xi] + r * np.log(alpha)
    a2 = (gammaln(a + b) + gammaln(b + xv) - gammaln(b) - gammaln(a + b + xv))[xi]
    log_aT = np.log(alpha + data.T_values)[data.T_index]
    log_atx = np.log(alpha + data.tx_values)[data.tx_index]
    a3 = -(r + x) * log_aT
    log_bx1 = np.log(np.where(xv > 0, b + xv - 1, 1.0))[xi]
    a4 = np.where(repeat, np.log(a) - log_bx1 - (r + x) * log_atx, -np.inf)
    top = np.maximum(a3, a4)
    e3, e4 = np.exp(a3 - top), np.where(repeat, np.exp(a4 - top), 0.0)
    ll = a1 + a2 + top + np.log(e3 + e4)
    w3 = e3 / (e3 + e4)
    w4 = 1 - w3
    d_r = ((digamma(r + xv) - digamma(r))[xi] + np.log(alpha)
           - w3 * log_aT - w4 * np.where(repeat, log_atx, 0.0))
    inv_aT = (1 / (alpha + data.T_values))[data.T_index]
    inv_atx = (1 / (alpha + data.tx_values))[data.tx_index]
    d_alpha = r / alpha - (r + x) * (w3 * inv_aT + w4 * np.where(repeat, inv_atx, 0.0))
    d_a = (digamma(a + b) - digamma(a + b + xv))[xi] + w4 / a
    d_b = ((digamma(a + b) + digamma(b + xv) - digamma(b) - digamma(a + b + xv))[xi]
           - w4 * np.exp(-log_bx1))
    value = -float(w @ ll) / data.total
    grad = -np.array([(w @ d_r) * r, (w @ d_alpha) * alpha, (w @ d_a) * a,
                      (w @ d_b) * b]) / data.total
    return value, grad


def _hessian(f, x0: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Hessian of ``f`` (returning value, gradient) by forward differences of the exact
    gradient (accurate to about 1e-5 relative, plenty for standard errors)."""
    n = len(x0)
    g0 = f(x0)[1]
    h = np.zeros((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = step
        h[:, i] = (f(x0 + e)[1] - g0) / step
    return (h + h.T) / 2


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

    def f(p):
        # line searches may probe absurd parameters; non-finite values just send them back
        with np.errstate(all="ignore"):
            return negative_log_likelihood(p, data)

    result = minimize(f, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-8})
    # At a million customers the mean likelihood stops improving in the last digits before
    # the strict tests do; a vanishing gradient is convergence all the same.
    converged = result.success or np.max(np.abs(result.jac)) < 1e-6
    if not converged or not np.all(np.isfinite(result.x)):
        raise RuntimeError(f"BG/NBD likelihood did not converge: {result.message}")
    params = np.exp(result.x)
    hessian = _hessian(f, result.x)
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
    bgf._negative_log_likelihood_ = result.fun
    bgf._hessian_ = hessian  # of the mean likelihood in log-parameters, as lifetimes keeps it
    return bgf
