"""What changed since last month, beyond noise: month-on-month tests with a Holm correction.

A monthly report invites reading every up and down as news. The briefing lists a change only
when a test says it is unlikely to be noise *after* correcting for the number of things
compared (Holm's step-down method over all the month's comparisons):

* **shares** (customers kept, deliveries on time, satisfied answers): two independent
  proportions, score test (:func:`statsmodels.stats.proportion.test_proportions_2indep`),
  the difference with Newcombe's interval;
* **counts** (orders, new customers) and **rates per order** (tickets per 100 orders): the
  ratio of two Poisson rates (:func:`statsmodels.stats.rates.test_poisson_2indep`);
* **NPS**: the difference of two adjusted-Wald scores (:func:`ppxlib.survey.nps_difference`),
  tested with the same variance.

Each comparison is a dict built by :func:`share_change`, :func:`count_change` or
:func:`nps_change`; :func:`significant_changes` adjusts and flags them. Everything here works
on counts the notebooks already have: it reads no table.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import test_proportions_2indep as two_shares_test
from statsmodels.stats.rates import test_poisson_2indep as two_rates_test

from ppxlib.survey import _nps_adjusted, holm, share_difference

COLUMNS = ["change", "label", "unit", "now", "before", "difference", "low", "high", "p_value",
           "higher_is_better"]


def share_change(change: str, label: str, k_now: int, n_now: int, k_before: int,
                 n_before: int, higher_is_better: bool = True) -> dict:
    """A share this month against last month's (fractions; difference in points of share).

    Examples
    --------
    >>> c = share_change("on_time", "deliveries on time", 900, 1000, 800, 1000)
    >>> round(c["difference"], 3), c["p_value"] < 0.001
    (0.1, True)
    """
    row = {"change": change, "label": label, "unit": "share", "higher_is_better":
           higher_is_better, "now": k_now / n_now if n_now else math.nan,
           "before": k_before / n_before if n_before else math.nan}
    if not n_now or not n_before:
        return {**row, "difference": math.nan, "low": math.nan, "high": math.nan,
                "p_value": math.nan}
    interval = share_difference(k_now, n_now, k_before, n_before)
    if k_now in (0, n_now) and k_before in (0, n_before) and k_now / n_now == k_before / n_before:
        p_value = 1.0  # both all or nothing alike: nothing to test
    else:
        p_value = float(two_shares_test(k_now, n_now, k_before, n_before,
                                                method="score").pvalue)
    return {**row, **interval, "p_value": p_value}


def count_change(change: str, label: str, now: float, before: float,
                 exposure_now: float = 1.0, exposure_before: float = 1.0,
                 higher_is_better: bool = True, per: float = 1.0) -> dict:
    """A count (or a count per unit of exposure, times ``per``) against last month's.

    The interval is for the difference of the rates, from the exact interval of their ratio.

    Examples
    --------
    >>> c = count_change("tickets", "tickets per 100 orders", 150, 100, 1000, 1000,
    ...                  higher_is_better=False, per=100)
    >>> c["now"], c["before"], c["p_value"] < 0.01
    (15.0, 10.0, True)
    """
    row = {"change": change, "label": label, "unit": "rate" if per != 1 or exposure_now != 1
           else "count", "higher_is_better": higher_is_better,
           "now": per * now / exposure_now if exposure_now else math.nan,
           "before": per * before / exposure_before if exposure_before else math.nan}
    if not exposure_now or not exposure_before or now + before == 0:
        return {**row, "difference": math.nan, "low": math.nan, "high": math.nan,
                "p_value": math.nan}
    test = two_rates_test(now, exposure_now, before, exposure_before, method="score")
    # exact interval of the ratio, conditional on the total (a binomial share)
    total = now + before
    low_share, high_share = stats.binomtest(int(now), int(total)).proportion_ci(
        method="exact")
    ratio = exposure_before / exposure_now
    low_ratio = low_share / (1 - low_share) * ratio if low_share < 1 else math.inf
    high_ratio = high_share / (1 - high_share) * ratio if high_share < 1 else math.inf
    return {**row, "difference": row["now"] - row["before"],
            "low": row["before"] * (low_ratio - 1), "high": row["before"] * (high_ratio - 1),
            "p_value": float(test.pvalue)}


def nps_change(change: str, label: str, now: tuple[int, int, int],
               before: tuple[int, int, int]) -> dict:
    """NPS (points) this month against last month's; counts are (answers, promoters,
    detractors).

    Examples
    --------
    >>> c = nps_change("nps", "NPS", (200, 120, 30), (200, 80, 60))
    >>> c["difference"], c["p_value"] < 0.001
    (35.0, True)
    """
    from ppxlib.survey import _nps_difference

    row = {"change": change, "label": label, "unit": "points", "higher_is_better": True,
           "now": 100 * (now[1] - now[2]) / now[0] if now[0] else math.nan,
           "before": 100 * (before[1] - before[2]) / before[0] if before[0] else math.nan}
    interval = _nps_difference(now, before, 0.95)
    if not now[0] or not before[0]:
        return {**row, **interval, "p_value": math.nan}
    (centre_a, var_a), (centre_b, var_b) = _nps_adjusted(*now), _nps_adjusted(*before)
    z = (centre_a - centre_b) / math.sqrt(var_a + var_b) if var_a + var_b > 0 else 0.0
    return {**row, **interval, "p_value": float(2 * stats.norm.sf(abs(z)))}


def significant_changes(changes: list[dict], alpha: float = 0.05) -> pd.DataFrame:
    """All comparisons with Holm-adjusted p-values; ``significant`` where the adjusted p-value
    is below ``alpha``; ``better`` says whether the change is good news.

    Comparisons that could not be made (no data in one of the months) are kept with NaN and
    are never significant; they do not count in the correction.

    Examples
    --------
    >>> rows = [share_change("a", "a", 900, 1000, 800, 1000),
    ...         share_change("b", "b", 51, 100, 50, 100)]
    >>> significant_changes(rows).significant.tolist()
    [True, False]
    """
    frame = pd.DataFrame(changes, columns=COLUMNS)
    frame["p_holm"] = np.nan
    tested = frame.p_value.notna()
    if tested.any():
        frame.loc[tested, "p_holm"] = holm(frame.loc[tested, "p_value"].to_numpy())
    frame["significant"] = frame.p_holm < alpha
    frame["better"] = np.where(frame.higher_is_better, frame.difference > 0,
                               frame.difference < 0)
    return frame
