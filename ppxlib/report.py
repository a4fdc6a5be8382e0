"""The monthly report runner: execute every notebook with papermill, render HTML, index it all.

Layout written under ``out``::

    out/index.html                    every month and every report, failed ones included
    out/<label>/<notebook>.html       rendered without code
    out/<label>/manifest.json         parameters, status, duration, versions, headline metrics
    out/<label>/notebooks/*.ipynb     the executed notebooks, for debugging

``<label>`` is the month (``YYYY-MM``) unless given. A month is written to a hidden work folder
(``out/.run-<pid>-<id>/``) and swapped into place only when complete, so an interrupted run never
leaves a half-written month; the next run deletes work folders whose process is gone.
"""

from __future__ import annotations

import datetime as dt
import gc
import html
import json
import os
import platform
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from ppxlib.contract import TABLES
from ppxlib.kpis import last_complete_month, order_span, to_month
from ppxlib.shared import SHARED_ENV
from ppxlib.snapshot import write_snapshot
from ppxlib.sources import mask_secrets, out_of_memory_message
from ppxlib.sources import open as open_source

SECRET_ENV = "PPX_SOURCE"
#: Report notebooks that start before the others, in this order. The retention and churn
#: reports run longest and compute most of what the others share (thresholds, RFM scores,
#: time to second order, the customer summary and its model); started first, they have it
#: ready when the experience report asks, and the short reports fill the end of the run.
#: On the 1M-customer benchmark shop: 93 s against 100 s in name order.
STARTS_FIRST = ("01_retention", "02_churn", "04_experience")
RUN_PREFIX = ".run-"  # hidden work folders of runs in progress, under the output folder
TEMPLATES = Path(__file__).resolve().parent / "templates"
VERSIONED = ("ppxlib", "pandas", "numpy", "ibis-framework", "duckdb", "lifetimes", "lifelines",
             "statsmodels", "papermill", "nbconvert", "matplotlib")


def default_notebook_dir() -> Path:
    """``notebooks/`` of the source checkout this package was installed from, else ``./``."""
    here = Path(__file__).resolve().parent.parent / "notebooks"
    return here if here.is_dir() else Path.cwd() / "notebooks"


@dataclass
class NotebookResult:
    name: str
    status: str  # "ok" or "failed"
    duration_s: float
    html: str | None
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    label: str
    folder: Path
    manifest: dict[str, Any]
    notebooks: list[NotebookResult]

    @property
    def failed(self) -> list[str]:
        return [nb.name for nb in self.notebooks if nb.status != "ok"]


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


CUSTOMER_DATA_NOTICE = (
    "Contains customer-level data: customer ids and what customers wrote. Share it only with "
    "people allowed to see customer data; <code>ppx report --redact</code> makes a version to "
    "share widely."
)
REDACTED_NOTICE = (
    "Redacted: customer ids are replaced by pseudonyms (stable for one redaction key, so "
    "months can be compared) and customers' comments are cut to short excerpts."
)


def render_html(notebook_path: Path, html_path: Path, redact: bool = False) -> None:
    """Render an executed notebook to HTML without code cells, prompts or stderr noise.

    The first screen says whether the report holds customer-level data: a banner under the
    title (the first Markdown cell), whatever the notebook itself shows.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # papermill's are random; the same report must be the same
    banner = nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/html": (
            f'<p class="ppx-banner {"redacted" if redact else "private"}">'
            f"{REDACTED_NOTICE if redact else CUSTOMER_DATA_NOTICE}</p>")})])
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    banner["id"] = "ppx-banner"
    nb.cells.insert(title + 1, banner)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            # Warnings on stderr are for the analyst, not the manager reading the report.
            cell["outputs"] = [o for o in cell.get("outputs", [])
                               if not (o.get("output_type") == "stream"
                                       and o.get("name") == "stderr")]
    exporter = HTMLExporter(template_name="lab", extra_template_paths=[str(TEMPLATES)])
    exporter.template_file = "ppx_report.html.j2"
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    html_path.write_text(body, encoding="utf-8")


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block (kernels inherit them)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _execute(notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path,
             timeout: int) -> str | None:
    """Run one notebook; return None on success or a one-line error."""
    import papermill as pm
    from traitlets.config import Config

    # Encrypt the kernel's sockets when it can (it then stops warning that it cannot).
    config = Config({"KernelManager": {"transport_encryption": "auto"}})
    try:
        pm.execute_notebook(str(notebook), str(output), parameters=parameters,
                            kernel_name="python3", progress_bar=False, cwd=str(cwd),
                            execution_timeout=timeout, report_mode=False, config=config)
        return None
    except pm.PapermillExecutionError as err:
        return _error_line(err.ename, err.evalue)
    except Exception as err:  # the kernel died, a timeout, a broken notebook file, ...
        return f"{type(err).__name__}: {err}".strip()


def _error_line(name: str, message: str) -> str:
    """A notebook's exception as one line, with what to do when the fix is ours to know."""
    if name == "OutOfMemoryException":  # DuckDB hit the cap ppx gives it
        return f"{name}: {out_of_memory_message(message)}"
    return f"{name}: {message}".strip()


def run_report(
    source: str | os.PathLike,
    out: str | os.PathLike = "reports",
    month: str | None = None,
    label: str | None = None,
    notebooks: list[str | os.PathLike] | None = None,
    as_of: str | dt.datetime | None = None,
    redact: bool = False,
    timeout: int = 600,
    progress: bool = True,
    snapshot: bool = True,
    workers: int | None = None,
    tables: dict[str, str] | None = None,
) -> RunResult:
    """Execute the report notebooks for one month and render them.

    Parameters
    ----------
    source : str or path
        A folder, ``.duckdb`` file or connection URL (see :func:`ppxlib.open`). A URL with a
        password or token is handed to the notebooks through an environment variable, so the
        secret never becomes a notebook parameter.
    out : path
        Folder for the report set (``index.html`` and one folder per label).
    month : str, optional
        ``YYYY-MM``; defaults to the last complete month in the orders.
    label : str, optional
        Folder name for this run; defaults to the month.
    notebooks : list of paths, optional
        Defaults to every ``*.ipynb`` in :func:`default_notebook_dir`, in name order.
    as_of : str, optional
        Timestamps after this moment count as "in the future" (default: now).
    redact : bool
        Passed to the notebooks: replace customer ids and free text.
    timeout : int
        Seconds a single cell may run.
    progress : bool
        Print one line per notebook to stderr.
    snapshot : bool
        Validate a local (DuckDB) source once and let the notebooks read the clean copy
        (:mod:`ppxlib.snapshot`). Other sources are validated by each notebook in place.
    tables : dict, optional
        For warehouses and Spark: contract table -> table name, ``database.table`` or path
        (see :func:`ppxlib.open`).
    workers : int, optional
        Notebooks run at the same time, each in its own kernel (default: 2, or 1 on a
        one-core machine). Use 1 when the data barely fits in memory once.

    Returns
    -------
    RunResult
    """
    if isinstance(as_of, dt.date):  # a parameter for the notebooks: text
        as_of = as_of.isoformat()
    source_text = os.fspath(source)
    if Path(source_text).exists():  # notebooks run in their own folder: pass absolute paths
        source_text = str(Path(source_text).resolve())
    masked = mask_secrets(source_text)
    env = {SECRET_ENV: source_text} if masked != source_text else {}
    source_param = f"env:{SECRET_ENV}" if env else source_text

    tables_given = dict(tables) if tables else None
    # Validate once, here: a structurally broken source stops the run before any report is
    # touched, and a local source is pinned in a snapshot the notebooks read instead.
    with _environment(env):
        dataset = open_source(source_param, tables=tables)
        clean = dataset.validate(as_of=as_of)
    span = order_span(clean.orders)
    period = to_month(month) if month else last_complete_month(clean.orders, span=span)
    _check_covered(period, *span)
    label = label or str(period)
    provided = {name: clean.table(name) is not None for name in TABLES}
    validated_as_of = clean.quality.as_of.isoformat()

    workers = workers or min(2, os.cpu_count() or 1)
    paths = [Path(p).resolve() for p in notebooks] if notebooks else sorted(
        default_notebook_dir().glob("[0-9]*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks found in {default_notebook_dir()}")

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_runs(out)
    # Everything of this run lives in one hidden folder until the month is complete: the
    # month being built and the snapshot of the data (customer data: never left behind).
    workdir = out / f"{RUN_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging = workdir / label
    (staging / "notebooks").mkdir(parents=True)
    (staging / "metrics").mkdir()

    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    try:
        if snapshot and dataset.backend.name == "duckdb":
            source_param = str(write_snapshot(dataset, clean, workdir / "snapshot"))
            # results one notebook computes from the snapshot, the others load
            env, tables = {SHARED_ENV: str(workdir / "shared")}, None
            # The kernels read the snapshot: free the engine's copy before they start. The
            # cached tables drop themselves when their last reference goes; then the engine
            # can close.
            backend = dataset.backend
            del dataset, clean
            gc.collect()
            backend.disconnect()

        def run(path: Path) -> NotebookResult:
            result = _run_notebook(path, staging, {"source": source_param, "tables": tables},
                                   period, as_of, redact, timeout)
            if progress:
                done = "ok" if result.status == "ok" else f"FAILED\n    {result.error}"
                print(f"{result.name} ... {done} ({result.duration_s:.1f} s)", file=sys.stderr,
                      flush=True)
            return result

        if progress:
            print(f"{len(paths)} reports for {period}, {workers} at a time", file=sys.stderr)
        # Kernels are separate processes, so threads that wait on them run reports in parallel.
        with _environment(env), ThreadPoolExecutor(max_workers=workers) as pool:
            in_order = start_order(paths)
            by_path = dict(zip(in_order, pool.map(run, in_order), strict=True))
        results = [by_path[path] for path in paths]

        manifest = {
            "label": label,
            "tables": provided,
            "validated_as_of": validated_as_of,
            "month": str(period),
            "parameters": {"source": masked, "tables": _masked_tables(tables_given),
                           "month": str(period), "as_of": as_of,
                           "redact": bool(redact), "timeout_s": timeout},
            "started_utc": started.isoformat(timespec="seconds"),
            "duration_s": round(time.perf_counter() - clock, 2),
            "status": "ok" if all(r.status == "ok" for r in results) else "failed",
            "versions": _versions(),
            "notebooks": [
                {"name": r.name, "status": r.status, "duration_s": r.duration_s,
                 "html": r.html, "error": r.error, "metrics": r.metrics}
                for r in results
            ],
        }
        final = out / label
        if notebooks:
            _keep_other_reports(final, staging, manifest)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        shutil.rmtree(staging / "metrics")
        _swap_into_place(staging, final)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write_index(out)
    return RunResult(label, final, manifest, results)


def start_order(paths: list[Path]) -> list[Path]:
    """The order in which notebooks start: :data:`STARTS_FIRST`, then the others by name.

    Examples
    --------
    >>> [p.stem for p in start_order([Path("00_overview.ipynb"), Path("02_churn.ipynb")])]
    ['02_churn', '00_overview']
    """
    rank = {name: i for i, name in enumerate(STARTS_FIRST)}
    return sorted(paths, key=lambda p: (rank.get(p.stem, len(rank)), p.name))


def _masked_tables(tables: dict[str, str] | None) -> dict[str, str] | None:
    return {k: mask_secrets(v) for k, v in tables.items()} if tables else None


def _check_covered(period: pd.Period, first: pd.Timestamp, last: pd.Timestamp) -> None:
    """A month before the first order or after the last one has nothing to report."""
    if not first.to_period("M") <= period <= last.to_period("M"):
        raise ValueError(
            f"month {period} is outside the data: orders run from {first:%Y-%m-%d} to "
            f"{last:%Y-%m-%d}; choose a month from {first:%Y-%m} to {last:%Y-%m}"
        )


def _run_notebook(path: Path, staging: Path, source: dict[str, Any], period: pd.Period,
                  as_of: str | None, redact: bool, timeout: int) -> NotebookResult:
    """Execute one notebook into ``staging`` and render it; failures become the result."""
    name = path.stem
    executed = staging / "notebooks" / path.name
    metrics_path = staging / "metrics" / f"{name}.json"
    parameters = {**source, "month": str(period), "as_of": as_of,
                  "redact": bool(redact), "metrics_path": str(metrics_path)}
    t0 = time.perf_counter()
    error = _execute(path, executed, parameters, path.parent, timeout)
    html_name: str | None = f"{name}.html"
    if executed.exists():
        try:
            render_html(executed, staging / html_name, redact=bool(redact))
        except Exception as err:  # rendering must not take the other reports down
            error = error or f"rendering failed: {type(err).__name__}: {err}"
            html_name = None
    else:
        html_name = None
    duration = time.perf_counter() - t0
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    return NotebookResult(name, "failed" if error else "ok", round(duration, 2), html_name,
                          error, metrics)


def _keep_other_reports(final: Path, staging: Path, manifest: dict) -> None:
    """When only some notebooks were run, carry the month's other reports over."""
    previous = final / "manifest.json"
    if not previous.exists():
        return
    ran = {nb["name"] for nb in manifest["notebooks"]}
    kept = [nb for nb in json.loads(previous.read_text()).get("notebooks", [])
            if nb["name"] not in ran]
    for nb in kept:
        for path in (final / f"{nb['name']}.html", final / "notebooks" / f"{nb['name']}.ipynb"):
            if path.exists():
                shutil.copy2(path, staging / path.relative_to(final))
    manifest["notebooks"] = sorted(manifest["notebooks"] + kept, key=lambda nb: nb["name"])
    manifest["status"] = "ok" if all(nb["status"] == "ok" for nb in manifest["notebooks"]) \
        else "failed"


def _remove_abandoned_runs(out: Path) -> None:
    """Delete what killed runs left (their process is gone); a running one is left alone."""
    for folder in out.glob(f"{RUN_PREFIX}*"):
        pid = folder.name.removeprefix(RUN_PREFIX).split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
    for folder in out.glob(".old-*"):  # a swap interrupted between its two renames
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _swap_into_place(staging: Path, final: Path) -> None:
    """Replace ``final`` by ``staging`` with renames only (no half-written folder visible)."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(old)
    staging.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_index(out: str | os.PathLike) -> Path:
    """Write ``out/index.html`` linking every report of every run found under ``out``."""
    out = Path(out)
    runs = []
    for manifest_path in sorted(out.glob("*/manifest.json"), reverse=True):
        try:
            runs.append(json.loads(manifest_path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    rows = []
    for run in runs:
        label = html.escape(run.get("label", "?"))
        links = []
        for nb in run.get("notebooks", []):
            name = html.escape(nb["name"])
            css = "ok" if nb["status"] == "ok" else "failed"
            if nb.get("html"):
                href = html.escape(f"{run['label']}/{nb['html']}", quote=True)
                link = f'<a href="{href}">{name}</a>'
            else:
                link = name
            mark = ""
            if css != "ok":
                error = (nb.get("error") or "failed")[:300]
                mark = (' <span class="bad">failed:</span> '
                        f'<span class="err">{html.escape(error)}</span>')
            links.append(f'<li class="{css}">{link}{mark}</li>')
        missing = [name for name, given in run.get("tables", {}).items() if not given]
        if missing:
            links.append(f'<li class="note">not provided: {html.escape(", ".join(missing))} '
                         "(their sections say so)</li>")
        status = "ok" if run.get("status") == "ok" else "failed"
        rows.append(
            f'<tr><td class="month">{label}</td><td><ul>{"".join(links)}</ul></td>'
            f'<td class="{status}">{html.escape(status)}</td>'
            f'<td class="meta">{html.escape(run.get("started_utc", ""))}</td></tr>'
        )
    body = "".join(rows) or '<tr><td colspan="4">No reports yet.</td></tr>'
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ppx reports</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:60em;
  margin:2em auto;padding:0 1em;color:#222}}
h1{{font-size:1.6em;margin-bottom:.2em}} p.lead{{color:#555;margin-top:0}}
table{{border-collapse:collapse;width:100%}}
th,td{{text-align:left;border-bottom:1px solid #e3e3e3;padding:.5em .6em;vertical-align:top}}
td.month{{font-weight:600;white-space:nowrap}} ul{{margin:0;padding-left:1.1em}}
a{{color:#2f6690}} .bad,.failed{{color:#d1495b;font-weight:600}} .ok{{color:#3a7d44}}
td.meta{{color:#777;font-size:.85em;white-space:nowrap}} .err{{color:#555;font-size:.85em}}
li.note{{list-style:none;margin-left:-1.1em;color:#8a6d1d;font-size:.85em}}
</style></head><body>
<h1>Post-purchase experience reports</h1>
<p class="lead">One row per report run. Failed reports are listed too, with their error.</p>
<table><thead><tr><th>month</th><th>reports</th><th>status</th><th>run (UTC)</th></tr></thead>
<tbody>{body}</tbody></table>
</body></html>
"""
    index = out / "index.html"
    tmp = index.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(index)
    return index


def as_frame(result: RunResult) -> pd.DataFrame:
    """The notebooks of a run as a small frame (name, status, duration, error)."""
    return pd.DataFrame([{"notebook": r.name, "status": r.status, "duration_s": r.duration_s,
                          "error": r.error} for r in result.notebooks])
