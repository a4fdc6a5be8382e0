from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
#: A fixed "now" so that tests do not depend on the day they run.
AS_OF = dt.datetime(2026, 11, 23)


def java_problem() -> str | None:
    """Why Spark could not start its JVM here (as pyspark looks for Java), or None."""
    home = os.environ.get("JAVA_HOME")
    if home:
        if not os.access(Path(home) / "bin" / "java", os.X_OK):
            return f"JAVA_HOME={home} has no bin/java; Spark needs Java 17"
        return None
    if shutil.which("java") is None:
        return "no java on PATH and JAVA_HOME is not set; Spark needs Java 17"
    return None


@pytest.fixture
def small_orders() -> pd.DataFrame:
    """Five customers over three months, hand-checkable.

    a: Jan 5 (10), Jan 20 (20), Mar 3 (30)   -> repeat buyer
    b: Feb 1 (40)                             -> one order
    c: Feb 10 (15), Feb 11 (25)               -> two orders in one month
    d: Mar 30 (50)                            -> new in March
    e: Jan 31 (5)                             -> one order
    """
    rows = [
        (1, "a", "2024-01-05 09:00", 10.0),
        (2, "a", "2024-01-20 18:30", 20.0),
        (3, "e", "2024-01-31 23:59", 5.0),
        (4, "b", "2024-02-01 00:00", 40.0),
        (5, "c", "2024-02-10 12:00", 15.0),
        (6, "c", "2024-02-11 12:00", 25.0),
        (7, "a", "2024-03-03 08:00", 30.0),
        (8, "d", "2024-03-30 10:00", 50.0),
    ]
    frame = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_ts", "amount"])
    frame["order_ts"] = pd.to_datetime(frame["order_ts"])
    return frame


@pytest.fixture
def shop_folder(tmp_path) -> Path:
    """A simulated shop of 100 customers, January to March 2025, as CSV files."""
    from ppxlib.simulate import simulate_shop

    shop = simulate_shop(customers=100, seed=8, start="2025-01-01", end="2025-04-01")
    shop.write(tmp_path / "shop")
    return tmp_path / "shop"


def central_differences(objective, point, step: float = 1e-6):
    """The gradient of ``objective`` (returning value, gradient) by central differences of
    its value: what an analytic gradient is checked against."""
    return [(objective(point + e)[0] - objective(point - e)[0]) / (2 * step)
            for e in np.eye(len(point)) * step]
