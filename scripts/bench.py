"""Benchmark ppx against the reference implementations, measured in the same run.

    ./tasks bench                       # 1M customers (~10M orders), 3 runs per case
    ./tasks bench --customers 200000    # a quicker, smaller run
    ./tasks bench --scale               # how cost grows: 1M, 10M, 50M orders (bench/scale.md)

Data: a simulated shop written once as Parquet under ``bench/data/`` (reused afterwards).
Every case runs in a fresh process, so its peak memory is its own (max RSS, or for the report
the sampled resident memory of the whole process tree, kernels included); its imports and
connections are set up before the clock starts. The cases run in ``--runs`` rounds, each
round running every case once, so that a case and its reference are measured minutes apart
(this machine's speed drifts by 10-50 % over minutes); times are medians over the rounds, and
each comparison is the median of its per-round ratios.
Results: a Markdown table on stdout and in ``bench/results.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import platform
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OBSERVATION_END = "2026-11-01"


def make_data(folder: Path, customers: int, seed: int) -> Path:
    """Write the simulated orders as Parquet unless they are already there."""
    path = folder / f"orders-{customers}-{seed}.parquet"
    if path.exists():
        return path
    from ppxlib.simulate import ShopParameters, simulate_shop

    print(f"simulating {customers:,} customers ...", file=sys.stderr, flush=True)
    # More frequent buyers than the sample shop: about ten orders per customer.
    truth = ShopParameters(r=1.0, alpha=3.2, a=0.5, b=8.0)
    shop = simulate_shop(customers=customers, seed=seed, parameters=truth)
    folder.mkdir(parents=True, exist_ok=True)
    columns = ["order_id", "customer_id", "order_ts", "amount", "channel"]
    shop.orders[columns].to_parquet(path, index=False, row_group_size=1_000_000)
    return path


# --------------------------------------------------------------------------- cases
# Each case is (setup, run): setup (imports, connections) is not timed, run is.


# ppx's cases read the file through the DuckDB connection ppx itself opens (memory capped,
# see ppxlib.sources.connect_duckdb); the floors use DuckDB as it comes.


def _ppx_orders(path: str):
    import ppxlib.cohorts  # noqa: F401 - import cost is not what we measure
    from ppxlib.sources import connect_duckdb

    return connect_duckdb().read_parquet(path)


def _ppx_orders_summary(path: str):
    import ppxlib.summary  # noqa: F401 - only what rfm_summary needs
    from ppxlib.sources import connect_duckdb

    return connect_duckdb().read_parquet(path)


def cohorts_ppx(orders) -> None:
    from ppxlib.cohorts import cohort_retention

    cohort_retention(orders, observation_end=OBSERVATION_END)


def _duckdb(path: str):
    import duckdb

    return duckdb.connect(), path


def cohorts_floor(state) -> None:
    con, path = state
    con.sql(f"""select count(*) from (
        select customer_id, date_trunc('month', order_ts) as month
        from read_parquet('{path}') group by 1, 2)""").fetchall()


def _pandas(path: str):
    import pandas  # noqa: F401

    return path


def cohorts_pandas(path: str) -> None:
    import pandas as pd

    df = pd.read_parquet(path, columns=["customer_id", "order_ts", "amount"])
    month = df.order_ts.dt.year * 12 + df.order_ts.dt.month - 1
    cm = (pd.DataFrame({"c": df.customer_id, "m": month, "a": df.amount})
          .groupby(["c", "m"], as_index=False).a.sum())
    cm["cohort"] = cm.groupby("c").m.transform("min")
    cm["k"] = cm.m - cm.cohort
    cm.groupby(["cohort", "k"]).agg(customers=("c", "size"), revenue=("a", "sum"))


def _lifetimes_input(path: str):
    import lifetimes.utils  # noqa: F401
    import pandas as pd

    return pd.read_parquet(path, columns=["customer_id", "order_ts", "amount"])


def summary_lifetimes(orders) -> None:
    from lifetimes.utils import summary_data_from_transaction_data

    summary_data_from_transaction_data(orders, "customer_id", "order_ts", "amount",
                                       observation_period_end="2026-10-31", freq="D")


def summary_ppx(orders) -> None:
    from ppxlib.summary import rfm_summary

    rfm_summary(orders, "2026-10-31")


def summary_floor(state) -> None:
    con, path = state
    con.sql(f"""select count(*) from (
        select customer_id, cast(order_ts as date) as day
        from read_parquet('{path}') group by 1, 2)""").fetchall()


def _summary_frame(path: str):
    import warnings

    import ibis
    import lifetimes  # noqa: F401 - import costs are not what we measure

    import ppxlib.clv  # noqa: F401
    from ppxlib.summary import rfm_summary

    warnings.simplefilter("ignore")
    orders = ibis.duckdb.connect().read_parquet(path)
    return rfm_summary(orders, "2026-10-31", freq_multiplier=7)


def fit_ppx(summary) -> None:
    from ppxlib.clv import fit_clv

    fit_clv(summary, time_unit_days=7, fit_spend=False)


def fit_lifetimes(summary) -> None:
    from lifetimes import BetaGeoFitter

    try:
        BetaGeoFitter().fit(summary.frequency, summary.recency, summary["T"])
    except Exception as err:  # lifetimes' default start can fail; its time still counts
        print(f"    lifetimes plain fit failed: {type(err).__name__}", file=sys.stderr)


def _no_dropout_summary(path: str):
    """An edge case: 1M customers of whom almost nobody drops out."""
    import warnings

    import ibis
    import lifetimes  # noqa: F401

    import ppxlib.clv  # noqa: F401
    from ppxlib.simulate import ShopParameters, simulate_shop
    from ppxlib.summary import rfm_summary

    warnings.simplefilter("ignore")
    truth = ShopParameters(r=0.9, alpha=10.0, a=0.02, b=60.0, late_churn=0.0)
    shop = simulate_shop(customers=1_000_000, seed=5, parameters=truth)
    orders = ibis.duckdb.connect().create_table("o", shop.orders[["customer_id", "order_ts",
                                                                  "amount"]])
    return rfm_summary(orders, "2026-10-31", freq_multiplier=7)


def fit_ppx_checked(summary) -> None:
    import numpy as np

    from ppxlib.clv import fit_clv

    model = fit_clv(summary, time_unit_days=7, fit_spend=False)
    assert np.isfinite(model.params_.to_numpy()).all()


#: Customers simulated at a time when writing a large shop: one chunk's pandas tables fit in
#: a few GB, and each chunk is appended to the Parquet files as it is made.
CHUNK_CUSTOMERS = 1_000_000


def write_shop(folder: Path, customers: int, seed: int) -> Path:
    """The whole simulated shop (all four tables) as Parquet under ``folder``, made once.

    Shops larger than :data:`CHUNK_CUSTOMERS` are simulated in chunks of that many customers
    with seeds ``seed * 1000 + k``, their ids made unique by the chunk number, and appended
    row group by row group: the same process for any size, in bounded memory.
    """
    if (folder / "orders.parquet").exists():
        return folder
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ppxlib.simulate import ShopParameters, simulate_shop

    # More frequent buyers than the sample shop: about ten orders per customer.
    truth = ShopParameters(r=1.0, alpha=3.2, a=0.5, b=8.0)
    work = folder.with_name(folder.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    writers: dict[str, pq.ParquetWriter] = {}
    chunks = -(-customers // CHUNK_CUSTOMERS)
    for k in range(chunks):
        size = min(CHUNK_CUSTOMERS, customers - k * CHUNK_CUSTOMERS)
        print(f"simulating customers {k * CHUNK_CUSTOMERS:,}-{k * CHUNK_CUSTOMERS + size:,} "
              f"of {customers:,} ...", file=sys.stderr, flush=True)
        shop = simulate_shop(customers=size, seed=seed if chunks == 1 else seed * 1000 + k,
                             parameters=truth)
        for name, frame in shop.tables().items():
            if chunks > 1:  # ids unique across chunks; chunk 0 keeps the one-chunk ids
                frame = frame.copy()
                for column in ("customer_id", "ticket_id"):
                    if column in frame and k:
                        frame[column] = f"{k}-" + frame[column].astype(str)
                for column in ("order_id", "response_id"):
                    if column in frame:
                        frame[column] = frame[column] + k * 10**9
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if name not in writers:
                writers[name] = pq.ParquetWriter(work / f"{name}.parquet", table.schema)
            writers[name].write_table(table.cast(writers[name].schema), row_group_size=1_000_000)
        del shop
    for writer in writers.values():
        writer.close()
    shutil.rmtree(folder, ignore_errors=True)
    work.rename(folder)
    return folder


def _shop_folder(path: str) -> Path:
    """The whole simulated shop (all four tables) beside the orders file, written once."""
    orders = Path(path)
    customers, seed = (int(x) for x in orders.stem.split("-")[1:3])
    folder = write_shop(orders.parent / orders.stem.replace("orders-", "shop-"), customers,
                        seed)
    import ppxlib.report  # noqa: F401 - import cost is not what we measure

    return folder


def _fail_if_failed(result) -> None:
    """A report with failed pages is not a time to report: the case fails instead."""
    if result.failed:
        failed = [(n.name, n.error) for n in result.notebooks if n.error]
        raise RuntimeError(f"failed: {failed}")


def report_ppx(folder: Path) -> None:
    import tempfile

    from ppxlib.report import run_report

    with tempfile.TemporaryDirectory() as out:
        result = run_report(folder, out=out, month="2026-10", as_of="2026-11-01T00:00:00",
                            progress=False)
        _fail_if_failed(result)


def _sample_folder(path: str) -> Path:  # noqa: ARG001 - the committed sample, whatever size
    """The committed sample shop (5,000 customers): the report set a reader gets first."""
    import ppxlib.report  # noqa: F401 - import cost is not what we measure

    return Path(__file__).resolve().parent.parent / "data" / "sample"


def report_sample(folder: Path) -> None:
    import tempfile

    from ppxlib.report import run_report

    with tempfile.TemporaryDirectory() as out:  # landing page, briefing and five reports
        result = run_report(folder, out=out, month="2026-10", as_of="2026-11-23T00:00:00",
                            progress=False)
        _fail_if_failed(result)


def _experience_frame(path: str):
    """The customer-sized frame the adjusted comparison fits on, from the whole shop."""
    import warnings

    import ppxlib
    from ppxlib import adjusted

    warnings.simplefilter("ignore")
    clean = ppxlib.open(str(_shop_folder(path))).validate(as_of="2026-11-01T00:00:00")
    return adjusted.customer_table(clean.orders, clean.returns, clean.tickets, clean.surveys,
                                   dt.datetime(2026, 11, 1))


def cox_ppx(frame) -> None:
    from ppxlib import adjusted

    fitted, notes = adjusted.fit_cox(frame)
    assert fitted is not None, notes


def adjusted_ppx(frame) -> None:
    from ppxlib import adjusted

    adjusted.fit_adjusted(frame)


def _scale_orders(folder: str):
    """The scale case's orders, read through ppx's own capped DuckDB connection."""
    return _ppx_orders(str(Path(folder) / "orders.parquet"))


def _scale_shop(folder: str) -> Path:
    import ppxlib.report  # noqa: F401 - import cost is not what we measure

    return Path(folder)


#: The scale case (``--scale``): each stage at each size, on the whole simulated shop.
SCALE_STAGES = {
    "rfm_summary": "scale: rfm_summary (ppx, DuckDB)",
    "cohort matrix": "scale: cohort matrix (ppx, DuckDB)",
    "ppx report": "scale: ppx report, all notebooks, one month",
}
SCALE_CUSTOMERS = (100_000, 1_000_000, 5_000_000)
#: Time per order of the whole report at the largest size against the middle one.
SCALE_TARGET = 1.2
SCALE_MEMORY_MIB = 24 * 1024  # this machine


# pymc-marketing, the Bayesian peer (the optional bench extra: pip install -e ".[dev,bench]").
# Without it these cases are skipped; see _available.
PYMC_MARKETING_CASES = ("rfm_summary (pymc-marketing)",
                        "BG/NBD fit (pymc-marketing, MAP, flat priors)")


def _pymc_marketing_input(path: str):
    import pymc_marketing.clv.utils  # noqa: F401

    return _lifetimes_input(path)  # the very frame lifetimes gets


def summary_pymc_marketing(orders) -> None:
    from pymc_marketing.clv.utils import rfm_summary

    rfm_summary(orders, "customer_id", "order_ts", "amount",
                observation_period_end="2026-10-31", time_unit="D")


def _pymc_marketing_fit_input(path: str):
    """The weekly summary fit_ppx gets, as pymc-marketing wants it (customer_id a column),
    flat priors on the four BG/NBD parameters (so that MAP is the maximum-likelihood fit),
    and ppx's parameters to compare with (fitted here, untimed)."""
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import BetaGeoModel  # noqa: F401

    from ppxlib.clv import fit_clv

    summary = _summary_frame(path)
    data = summary[["frequency", "recency", "T"]].reset_index()
    # HalfFlat: uniform on (0, inf); find_MAP maximises without the log transform's Jacobian,
    # so the mode is the likelihood's.
    flat = {name: Prior("HalfFlat") for name in ("r", "alpha", "a", "b")}
    ppx = fit_clv(summary, time_unit_days=7, fit_spend=False).params_
    return data, flat, ppx


def fit_pymc_marketing(state) -> None:
    from pymc_marketing.clv import BetaGeoModel

    data, flat, ppx = state
    idata = BetaGeoModel(model_config=flat).fit(data=data, method="map", progressbar=False)
    found = {name: float(idata.posterior[name].values.squeeze()) for name in ppx.index
             if name in ("r", "alpha", "a", "b")}
    worst = max(abs(found[n] / ppx[n] - 1) for n in found)
    print("    pymc-marketing MAP: " + ", ".join(f"{n}={v:.6g}" for n, v in found.items())
          + "; ppx fit_clv: " + ", ".join(f"{n}={ppx[n]:.6g}" for n in found)
          + f"; largest relative difference {worst:.1e}", file=sys.stderr)


def _available(cases: list[str]) -> list[str]:
    """``cases`` without those whose optional peer is not installed (said in one line)."""
    import importlib.util

    if importlib.util.find_spec("pymc_marketing") is not None:
        return cases
    skipped = [case for case in cases if case in PYMC_MARKETING_CASES]
    if skipped:
        print(f"skipping {len(skipped)} pymc-marketing case(s): pymc_marketing is not "
              "installed (./tasks bench installs it: the bench extra)", file=sys.stderr)
    return [case for case in cases if case not in skipped]


CASES: dict[str, tuple[Callable[[str], Any], Callable[[Any], None]]] = {
    "rfm_summary (ppx, DuckDB)": (_ppx_orders_summary, summary_ppx),
    "GROUP BY customer, day (DuckDB floor)": (_duckdb, summary_floor),
    "summary_data_from_transaction_data (lifetimes)": (_lifetimes_input, summary_lifetimes),
    "BG/NBD fit (ppx fit_clv)": (_summary_frame, fit_ppx),
    "BG/NBD fit (lifetimes plain)": (_summary_frame, fit_lifetimes),
    "BG/NBD fit, almost no drop-out (ppx)": (_no_dropout_summary, fit_ppx_checked),
    "BG/NBD fit, almost no drop-out (lifetimes plain)": (_no_dropout_summary, fit_lifetimes),
    "cohort matrix (ppx, DuckDB)": (_ppx_orders, cohorts_ppx),
    "GROUP BY customer, month (DuckDB floor)": (_duckdb, cohorts_floor),
    "cohort matrix (plain pandas, from Parquet)": (_pandas, cohorts_pandas),
    "ppx report, all notebooks, one month": (_shop_folder, report_ppx),
    "ppx report, sample shop (landing page, briefing, five reports)": (_sample_folder,
                                                                        report_sample),
    "adjusted Cox fit (ppx, lifelines)": (_experience_frame, cox_ppx),
    "adjusted comparison, Cox + 90-day model + check (ppx)": (_experience_frame, adjusted_ppx),
    SCALE_STAGES["rfm_summary"]: (_scale_orders, summary_ppx),
    SCALE_STAGES["cohort matrix"]: (_scale_orders, cohorts_ppx),
    SCALE_STAGES["ppx report"]: (_scale_shop, report_ppx),
    "rfm_summary (pymc-marketing)": (_pymc_marketing_input, summary_pymc_marketing),
    "BG/NBD fit (pymc-marketing, MAP, flat priors)": (_pymc_marketing_fit_input,
                                                      fit_pymc_marketing),
}
#: (case, reference, what the issue asks) - reported as time ratios case / reference.
COMPARISONS = [
    ("rfm_summary (ppx, DuckDB)", "summary_data_from_transaction_data (lifetimes)",
     "<= 1/7 (memory <= 0.5)"),
    ("rfm_summary (ppx, DuckDB)", "GROUP BY customer, day (DuckDB floor)", "<= 2"),
    ("BG/NBD fit (ppx fit_clv)", "BG/NBD fit (lifetimes plain)", "<= 1/5"),
    ("cohort matrix (ppx, DuckDB)", "GROUP BY customer, month (DuckDB floor)", "<= 1.5"),
    ("cohort matrix (ppx, DuckDB)", "cohort matrix (plain pandas, from Parquet)", "<= 0.5"),
    ("rfm_summary (ppx, DuckDB)", "rfm_summary (pymc-marketing)", "peer: none"),
    ("BG/NBD fit (ppx fit_clv)", "BG/NBD fit (pymc-marketing, MAP, flat priors)", "peer: none"),
]
#: Absolute targets: case -> (seconds, MiB).
LIMITS = {"ppx report, all notebooks, one month": (120, 4096),
          "ppx report, sample shop (landing page, briefing, five reports)": (30, 4096),
          "adjusted Cox fit (ppx, lifelines)": (15, 4096)}


def _tree_rss_mib(root: int) -> float:
    """Resident memory of a process and all its descendants (kernels included), from /proc."""
    parents, rss = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            parents[pid], rss[pid] = int(fields[1]), int(fields[21])
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        tree.update(children)
        frontier = children
    return sum(rss.get(p, 0) for p in tree) * resource.getpagesize() / 2**20


def _child(case: str, path: str, queue: mp.Queue) -> None:
    import os
    import threading

    setup, run = CASES[case]
    state = setup(path)
    peak, done = [0.0], threading.Event()

    def sample() -> None:  # the whole process tree: notebooks run in child kernels
        while not done.wait(0.2):
            peak[0] = max(peak[0], _tree_rss_mib(os.getpid()))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    run(state)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((elapsed, max(own, peak[0])))


def measure_once(case: str, path: str) -> tuple[float, float]:
    """(seconds, peak MiB) of one run of ``case`` in a fresh process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(case, path, queue))
    proc.start()
    while True:  # a case that dies (say, out of memory) must not leave the bench waiting
        try:
            elapsed, peak = queue.get(timeout=5)
            break
        except Exception:  # queue.Empty
            if not proc.is_alive():
                raise RuntimeError(
                    f"{case}: failed (exit code {proc.exitcode}); see above") from None
    proc.join()
    return elapsed, peak


def summarise(case: str, samples: list[tuple[float, float]]) -> dict:
    times = [t for t, _ in samples]
    return {"case": case, "times": times, "median_s": statistics.median(times),
            "min_s": min(times), "peak_mib": max(p for _, p in samples)}


def paired_ratio(case: dict, reference: dict) -> float:
    """Median over rounds of case time / reference time: each pair ran minutes apart, so a
    slow spell on a shared machine moves both."""
    return statistics.median([a / b for a, b in zip(case["times"], reference["times"],
                                                    strict=True)])


def _make_data_in_child(folder: Path, customers: int, seed: int) -> Path:
    """Simulate in a separate process, so that this one stays small (children inherit its
    peak memory figure)."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(make_data, (folder, customers, seed))


def growth(seconds: dict[int, float], a: int, b: int) -> float:
    """How time grows from ``a`` to ``b`` orders: the exponent k in time ~ orders**k.

    Examples
    --------
    >>> round(growth({10: 2.0, 50: 10.0}, 10, 50), 3)  # five times the orders, five times
    1.0
    """
    import math

    return math.log(seconds[b] / seconds[a]) / math.log(b / a)


def _write_shop_in_child(folder: Path, customers: int, seed: int) -> Path:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(write_shop, (folder, customers, seed))


def run_scale(data: Path, customers: list[int], seed: int, runs: int) -> str:
    """Each scale stage at each shop size; a Markdown report, with ``bench/scale.png``."""
    import pyarrow.parquet as pq

    rows: list[dict] = []
    for n in customers:
        folder = _write_shop_in_child(data / f"shop-{n}-{seed}", n, seed)
        orders = pq.ParquetFile(folder / "orders.parquet").metadata.num_rows
        for stage, case in SCALE_STAGES.items():
            samples = []
            try:
                for round_number in range(1, runs + 1):
                    print(f"scale {n:,} customers, round {round_number}/{runs}: {stage} ...",
                          file=sys.stderr, flush=True)
                    samples.append(measure_once(case, str(folder)))
            except RuntimeError as err:  # recorded as failed; the other points still run
                print(f"    {err}", file=sys.stderr, flush=True)
                rows.append({"stage": stage, "customers": n, "orders": orders,
                             "seconds": None, "peak_mib": None})
                continue
            r = summarise(case, samples)
            print(f"    {r['median_s']:.1f} s, {r['peak_mib']:.0f} MiB", file=sys.stderr,
                  flush=True)
            rows.append({"stage": stage, "customers": n, "orders": orders,
                         "seconds": r["median_s"], "peak_mib": r["peak_mib"]})
    _plot_scale(rows, ROOT / "bench" / "scale.png")

    lines = ["| stage | customers | orders | seconds | µs per order | peak MiB |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["seconds"] is None:
            lines.append(f"| {r['stage']} | {r['customers']:,} | {r['orders']:,} | failed | | |")
            continue
        lines.append(f"| {r['stage']} | {r['customers']:,} | {r['orders']:,} | "
                     f"{r['seconds']:.1f} | {r['seconds'] / r['orders'] * 1e6:.2f} | "
                     f"{r['peak_mib']:.0f} |")
    lines += growth_lines(rows)
    return "\n".join(lines)


def growth_lines(rows: list[dict]) -> list[str]:
    """The scale table's growth figures, from the two largest sizes, for each stage measured
    at both; a stage with a failed point at either says so instead.

    Examples
    --------
    >>> rows = [{"stage": s, "orders": n, "seconds": t, "peak_mib": 1024.0}
    ...         for s, n, t in [("rfm_summary", 10, 1.0), ("rfm_summary", 50, 5.0),
    ...                         ("ppx report", 10, 1.0), ("ppx report", 50, None)]]
    >>> print("\\n".join(growth_lines(rows)))  # doctest: +NORMALIZE_WHITESPACE
    <BLANKLINE>
    Growth from 10 to 50 orders (time ~ orders^k; k = 1 is linear):
    <BLANKLINE>
    | stage | k | time per order, largest / middle size |
    |---|---:|---:|
    | rfm_summary | 1.00 | 1.00 |
    | ppx report | failed | |
    <BLANKLINE>
    Fastest-growing stage of those measured at both sizes: rfm_summary (k = 1.00).
    Whole report: failed at 50 orders, so its target (time per order <= 1.2x that at 10) is not met.
    """
    sizes = sorted({r["orders"] for r in rows})
    if len(sizes) < 2:
        return []
    a, b = sizes[-2], sizes[-1]
    lines = ["", f"Growth from {a:,} to {b:,} orders (time ~ orders^k; k = 1 is linear):",
             "", "| stage | k | time per order, largest / middle size |", "|---|---:|---:|"]
    exponents = {}
    for stage in dict.fromkeys(r["stage"] for r in rows):
        t = {r["orders"]: r["seconds"] for r in rows if r["stage"] == stage}
        if t.get(a) is None or t.get(b) is None:
            lines.append(f"| {stage} | failed | |")
            continue
        exponents[stage] = growth(t, a, b)
        lines.append(f"| {stage} | {exponents[stage]:.2f} | {(t[b] / b) / (t[a] / a):.2f} |")
    lines.append("")
    if exponents:
        fastest = max(exponents, key=exponents.get)
        lines.append(f"Fastest-growing stage of those measured at both sizes: {fastest} "
                     f"(k = {exponents[fastest]:.2f}).")
    report = {r["orders"]: r for r in rows if r["stage"] == "ppx report"}
    if "ppx report" not in exponents:
        lines.append(f"Whole report: failed at {b:,} orders, so its target (time per order "
                     f"<= {SCALE_TARGET}x that at {a:,}) is not met.")
        return lines
    per_order = (report[b]["seconds"] / b) / (report[a]["seconds"] / a)
    lines.append(f"Whole report: time per order at {b:,} orders is {per_order:.2f}x that at "
                 f"{a:,} (target <= {SCALE_TARGET}); peak memory "
                 f"{report[b]['peak_mib'] / 1024:.1f} GiB of the process tree (target: "
                 f"within this machine's {SCALE_MEMORY_MIB // 1024} GiB).")
    return lines


def _plot_scale(rows: list[dict], path: Path) -> None:
    """Time per million orders and peak memory against orders, one line per stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3), dpi=100)
    for stage in SCALE_STAGES:
        mine = sorted((r for r in rows if r["stage"] == stage and r["seconds"] is not None),
                      key=lambda r: r["orders"])
        x = [r["orders"] / 1e6 for r in mine]
        left.plot(x, [r["seconds"] / r["orders"] * 1e6 for r in mine], marker="o",
                  label=stage)
        right.plot(x, [r["peak_mib"] / 1024 for r in mine], marker="o", label=stage)
    titles = ((left, "seconds per million orders (log scale)"), (right, "peak memory, GiB"))
    for ax, title in titles:
        ax.set_xscale("log")
        ax.set_xlabel("orders, millions (log scale)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    left.set_yscale("log")  # the report costs a hundred times a single query per order
    right.set_ylim(bottom=0)
    left.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, help="rounds (default 3; 1 with --scale)")
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "data")
    parser.add_argument("--case", action="append", help="run only these cases")
    parser.add_argument("--scale", action="store_true",
                        help="the scale case instead: rfm_summary, the cohort matrix and the "
                             "whole report at 100k, 1M and 5M customers (~1M, ~10M, ~50M "
                             "orders), written to bench/scale.md and bench/scale.png")
    parser.add_argument("--scale-customers", type=lambda text: [int(x) for x in text.split(",")],
                        default=list(SCALE_CUSTOMERS),
                        help="shop sizes of the scale case, comma-separated")
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.scale else 3
    if args.scale:
        import os

        text = (f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
                f"{platform.python_version()}; {args.runs} run(s) per point, each in a fresh "
                f"process; DuckDB capped at "
                f"{os.environ.get('PPX_DUCKDB_MEMORY_LIMIT') or '1GB'} per connection; "
                f"{dt.date.today()}.\n\n"
                + run_scale(args.data, args.scale_customers, args.seed, args.runs))
        print(text)
        (ROOT / "bench" / "scale.md").write_text(text + "\n")
        return 0

    path = _make_data_in_child(args.data, args.customers, args.seed)
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(path).metadata.num_rows
    default = [case for case in CASES if case not in SCALE_STAGES.values()]
    cases = _available(args.case or default)
    samples: dict[str, list[tuple[float, float]]] = {case: [] for case in cases}
    for round_number in range(1, args.runs + 1):
        for case in cases:
            print(f"round {round_number}/{args.runs}: {case} ...", file=sys.stderr, flush=True)
            samples[case].append(measure_once(case, str(path)))
    results = {case: summarise(case, samples[case]) for case in cases}

    import os

    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; data: {args.customers:,} customers, {rows:,} "
             f"orders (Parquet); {args.runs} rounds, each running every case once in a fresh "
             "process; time ratios are medians of the per-round ratios.", "",
             "| case | median s | min s | peak MiB |", "|---|---:|---:|---:|"]
    for r in results.values():
        lines.append(f"| {r['case']} | {r['median_s']:.2f} | {r['min_s']:.2f} | "
                     f"{r['peak_mib']:.0f} |")
    lines += ["", "| comparison | time ratio | memory ratio | target (time) |",
              "|---|---:|---:|---|"]
    for case, reference, target in COMPARISONS:
        if case in results and reference in results:
            a, b = results[case], results[reference]
            lines.append(f"| {case} / {reference} | {paired_ratio(a, b):.2f} | "
                         f"{a['peak_mib'] / b['peak_mib']:.2f} | {target} |")
    for case, (seconds, mib) in LIMITS.items():
        if case in results:
            r = results[case]
            lines.append(f"| {case}: wall s, peak MiB (process tree) | {r['median_s']:.0f} s | "
                         f"{r['peak_mib']:.0f} MiB | <= {seconds} s, <= {mib} MiB |")
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
