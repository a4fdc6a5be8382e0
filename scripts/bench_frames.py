"""rfm_summary on a pandas frame against lifetimes, measured alternately in one process.

    python scripts/bench_frames.py                    # 2M orders, 7 rounds
    python scripts/bench_frames.py --orders 500000 --rounds 3
    python scripts/bench_frames.py --profile          # + where rfm_summary's time goes

A lifetimes user's call, timed as they would time it: a pandas DataFrame of orders with
integer customer ids (``customer_id`` int64, ``order_ts`` datetime64, ``amount`` float64;
about 10 orders per customer over two years, drawn with numpy from a fixed seed) goes to

* ``ppxlib.rfm_summary(frame, end)``: the frame is checked against the data contract
  (:mod:`ppxlib.tables`), summarised in DuckDB, and comes back as a pandas frame;
* ``lifetimes.utils.summary_data_from_transaction_data(frame, ..., observation_period_end=end)``.

Both take the same frame, in the same process, one after the other, ``--rounds`` times (this
machine's speed drifts by 10-50 % over minutes, so each round's ratio compares neighbours);
the first call of each is a warm-up and not counted. The two answers are checked equal once
(frequency, recency, T, monetary value). Printed: each round's times, and the median of the
per-round ratios lifetimes / ppx, of wall-clock and of CPU time (the work done; on a machine
whose cores other processes keep busy the wall-clock ratio tends to it), and the load average.
Issue #19's target is a wall-clock ratio of at least 4 at 2M orders.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # after PYTHONPATH: another copy of ppxlib can be measured

END = "2026-10-31"


def orders_frame(orders: int, seed: int = 0) -> pd.DataFrame:
    """``orders`` orders of ``orders // 10`` customers with integer ids, 2024-11 to 2026-10.

    Examples
    --------
    >>> f = orders_frame(1000)
    >>> f.dtypes.astype(str).tolist(), f.customer_id.nunique() <= 100
    (['int64', 'datetime64[us]', 'float64'], True)
    """
    rng = np.random.default_rng(seed)
    customers = max(orders // 10, 1)
    start = np.datetime64("2024-11-01T00:00:00", "s")
    span = int((np.datetime64("2026-11-01T00:00:00", "s") - start).astype(np.int64))
    # Customers differ in how often they buy, as in a shop: ids are drawn with skewed weights.
    weights = rng.gamma(0.8, size=customers)
    ids = rng.choice(customers, size=orders, p=weights / weights.sum()) + 1_000_000
    seconds = rng.integers(0, span, size=orders)
    return pd.DataFrame({
        "customer_id": ids.astype("int64"),
        "order_ts": (start + seconds.astype("timedelta64[s]")).astype("datetime64[us]"),
        "amount": np.round(rng.lognormal(3.5, 0.8, size=orders), 2),
    })


def run_ppx(frame: pd.DataFrame) -> pd.DataFrame:
    from ppxlib.summary import rfm_summary

    return rfm_summary(frame, END)


def run_lifetimes(frame: pd.DataFrame) -> pd.DataFrame:
    from lifetimes.utils import summary_data_from_transaction_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes' pandas deprecation warnings
        return summary_data_from_transaction_data(
            frame, "customer_id", "order_ts", "amount", observation_period_end=END, freq="D")


def timed(function, frame) -> tuple[float, float]:
    """Wall-clock seconds, and CPU seconds of the process (every DuckDB thread counted)."""
    started, cpu = time.perf_counter(), time.process_time()
    function(frame)
    return time.perf_counter() - started, time.process_time() - cpu


def check_equal(frame: pd.DataFrame) -> None:
    ours, theirs = run_ppx(frame), run_lifetimes(frame).sort_index()
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    np.testing.assert_array_equal(ours.index.to_numpy(), theirs.index.to_numpy())
    for col in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[col].to_numpy(), theirs[col].to_numpy(), col)
    np.testing.assert_allclose(ours.monetary_value, theirs.monetary_value, rtol=1e-9)


def profile(frame: pd.DataFrame) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(run_ppx, frame)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=2_000_000, help="default: 2,000,000")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default: 7)")
    parser.add_argument("--profile", action="store_true", help="profile one rfm_summary call")
    args = parser.parse_args(argv)

    frame = orders_frame(args.orders)
    print(f"{len(frame):,} orders, {frame.customer_id.nunique():,} customers (integer ids)")
    check_equal(frame)  # also the warm-up of both
    print("answers equal: frequency, recency, T, monetary_value")
    ratios, cpu_ratios = [], []
    for i in range(args.rounds):
        # Alternate who goes first, so that neither always runs on a warmer cache.
        if i % 2:
            t_life, t_ppx = timed(run_lifetimes, frame), timed(run_ppx, frame)
        else:
            t_ppx, t_life = timed(run_ppx, frame), timed(run_lifetimes, frame)
        ratios.append(t_life[0] / t_ppx[0])
        cpu_ratios.append(t_life[1] / t_ppx[1])
        print(f"round {i + 1}: ppx {t_ppx[0]:.3f} s (CPU {t_ppx[1]:.3f} s), lifetimes "
              f"{t_life[0]:.3f} s (CPU {t_life[1]:.3f} s), ratio {ratios[-1]:.2f}")
    # The CPU ratio is the ratio of work done: what the wall-clock ratio tends to when other
    # processes keep the cores busy (DuckDB's threads then gain little over one).
    print(f"median ratio lifetimes / ppx: {statistics.median(ratios):.2f} "
          f"(target >= 4) over {args.rounds} rounds; CPU time ratio "
          f"{statistics.median(cpu_ratios):.2f}; load average {os.getloadavg()[0]:.1f}")
    if args.profile:
        profile(frame)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
