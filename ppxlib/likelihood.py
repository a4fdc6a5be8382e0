"""Maximum likelihood in log-parameters, shared by the fast model fits (:mod:`ppxlib.bgnbd`,
:mod:`ppxlib.gammagamma`).

Each model supplies its mean negative log-likelihood with the exact gradient; this module
minimises it with L-BFGS-B, decides whether it converged, and differentiates the gradient
once more for standard errors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


def maximise(objective: Objective, start: np.ndarray, model: str
             ) -> tuple[np.ndarray, float, np.ndarray]:
    """Minimise ``objective`` (value and gradient of a mean negative log-likelihood in
    log-parameters) from ``start``.

    Returns
    -------
    (log_params, value, hessian)
        The optimum, the objective there, and its Hessian (by differences of the gradient).

    Raises
    ------
    RuntimeError
        Naming ``model``, when the optimiser does not converge or ends on non-finite values.

    Examples
    --------
    >>> log_params, value, hessian = maximise(
    ...     lambda p: (float((p - 1) @ (p - 1)), 2 * (p - 1)), np.zeros(2), "a bowl")
    >>> log_params.round(6).tolist(), hessian.round(3).tolist()
    ([1.0, 1.0], [[2.0, 0.0], [0.0, 2.0]])
    """
    def guarded(p: np.ndarray) -> tuple[float, np.ndarray]:
        # line searches may probe absurd parameters; non-finite values just send them back
        with np.errstate(all="ignore"):
            return objective(p)

    result = minimize(guarded, np.asarray(start, dtype=float), jac=True, method="L-BFGS-B",
                      options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-8})
    # At a million customers the mean likelihood stops improving in the last digits before
    # the strict tests do; a vanishing gradient is convergence all the same.
    converged = result.success or np.max(np.abs(result.jac)) < 1e-6
    if not converged or not np.all(np.isfinite(result.x)):
        raise RuntimeError(f"{model} likelihood did not converge: {result.message}")
    return result.x, float(result.fun), hessian(guarded, result.x)


def hessian(objective: Objective, x0: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Hessian of ``objective`` (returning value, gradient) by forward differences of the
    exact gradient (accurate to about 1e-5 relative, plenty for standard errors)."""
    n = len(x0)
    g0 = objective(x0)[1]
    h = np.zeros((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = step
        h[:, i] = (objective(x0 + e)[1] - g0) / step
    return (h + h.T) / 2
