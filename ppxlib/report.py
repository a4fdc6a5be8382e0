"""The monthly report runner: execute every notebook with papermill, render HTML, index it all.

Layout written under ``out``::

    out/index.html                    every month and every report, failed ones included
    out/<label>/<notebook>.html       rendered without code
    out/<label>/manifest.json         parameters, status, duration, versions, headline metrics
    out/<label>/notebooks/*.ipynb     the executed notebooks, for debugging

``<label>`` is the month (``YYYY-MM``) unless given. A month is written to a hidden work folder
(``out/.run-<pid>-<id>/``) and swapped into place only when complete, so an interrupted run never
leaves a half-written month; the next run deletes work folders whose process is gone.

ppx writes a marker file (:data:`MARKER`) into every folder it makes under ``out`` and only
ever replaces or deletes folders that carry it: a ``2026-10`` folder someone else put there is
refused, never overwritten. A redacted run keeps no executed notebooks, and its manifest and
index hold no error details (they are printed on the terminal instead).
"""

from __future__ import annotations

import ast
import datetime as dt
import errno
import gc
import html
import json
import logging
import os
import platform
import re
import secrets
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from ppxlib.cli import terminal_text
from ppxlib.contract import TABLES
from ppxlib.kpis import last_complete_month, order_span, to_month
from ppxlib.notebook import REDACT_KEY_ENV
from ppxlib.shared import SHARED_ENV
from ppxlib.snapshot import write_snapshot
from ppxlib.sources import THREADS_ENV, mask_secrets, out_of_memory_message
from ppxlib.sources import open as open_source

SECRET_ENV = "PPX_SOURCE"
#: Report notebooks that start before the others, in this order. The retention and churn
#: reports run longest and compute most of what the others share (thresholds, RFM scores,
#: time to second order, the customer summary and its model); started first, they have it
#: ready when the experience report asks, and the short reports fill the end of the run.
#: On the 1M-customer benchmark shop: 93 s against 100 s in name order.
STARTS_FIRST = ("01_retention", "02_churn", "04_experience")
RUN_PREFIX = ".run-"  # hidden work folders of runs in progress, under the output folder
OLD_PREFIX = ".old-"  # a month being replaced, between the two renames of a swap
#: The file that says "ppx made this folder"; only folders that hold it are replaced or deleted.
MARKER = ".ppx-report"
#: Where a redacted run keeps the random key it made when $PPX_REDACT_KEY is not set.
KEY_FILE = ".ppx-redact-key"
#: Errors of the machine rather than of a report: they stop the whole run, so that a full
#: disk never replaces a good month with a set of failed reports.
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
#: Seconds between the progress lines that say what a running report is computing.
HEARTBEAT_S = 10.0
TEMPLATES = Path(__file__).resolve().parent / "templates"
VERSIONED = ("ppxlib", "pandas", "numpy", "ibis-framework", "duckdb", "lifetimes", "lifelines",
             "statsmodels", "papermill", "nbconvert", "matplotlib")


def default_notebook_dir() -> Path:
    """``notebooks/`` of the source checkout this package was installed from, else ``./``."""
    here = Path(__file__).resolve().parent.parent / "notebooks"
    return here if here.is_dir() else Path.cwd() / "notebooks"


def find_notebooks(given: list[str | os.PathLike] | None = None,
                   folder: str | os.PathLike | None = None) -> list[Path]:
    """The report notebooks to run: each given one by path or by name, else all of ``folder``.

    A given entry is a path to an existing ``.ipynb`` file, or a report's name, with or
    without ``.ipynb`` (``04_experience``), found in ``folder`` (default:
    :func:`default_notebook_dir`). Without any, every ``[0-9]*.ipynb`` of ``folder``, in name
    order.

    Raises
    ------
    FileNotFoundError
        One line naming the first entry that is neither, and listing the report names.

    Examples
    --------
    >>> [p.name for p in find_notebooks(["04_experience", "03_clv.ipynb"])]
    ['04_experience.ipynb', '03_clv.ipynb']
    >>> find_notebooks(["04_experiance"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: --notebook 04_experiance: no such report or notebook file; reports: ...
    """
    folder = Path(folder) if folder is not None else default_notebook_dir()
    available = sorted(folder.glob("[0-9]*.ipynb"))
    if not given:
        if not available:
            raise FileNotFoundError(f"no notebooks found in {folder}")
        return available
    by_name = {p.stem: p for p in available}
    found: list[Path] = []
    for entry in given:
        path = Path(entry).expanduser()
        name = path.name.removesuffix(".ipynb")
        if path.is_file():
            path = path.resolve()
        elif path.name == os.fspath(entry) and name in by_name:  # a name, not a path
            path = by_name[name].resolve()
        else:
            names = ", ".join(by_name) or f"none (no notebooks in {folder})"
            raise FileNotFoundError(f"--notebook {terminal_text(os.fspath(entry))}: no such "
                                    f"report or notebook file; reports: {names}")
        if path not in found:  # named twice (by name and by path): run once
            found.append(path)
    return found


@dataclass
class NotebookResult:
    name: str
    status: str  # "ok" or "failed"
    duration_s: float
    html: str | None
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    title: str | None = None  # the report's name for people (its first heading)


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


def render_html(notebook_path: Path, html_path: Path, redact: bool = False,
                title: str | None = None) -> None:
    """Render an executed notebook to HTML without code cells, prompts or stderr noise.

    The first screen says whether the report holds customer-level data: a banner under the
    title (the first Markdown cell), whatever the notebook itself shows. ``title`` is the
    page's ``<title>`` (:func:`page_title`; default: the report's first heading). Every chart
    gets alt text: the one :func:`ppxlib.notebook.show` recorded, else the section it is in.
    The page inlines one small stylesheet (``templates/ppx_report.css.j2``).
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"  # papermill's are random; the same report must be the same
    nb.metadata["title"] = title or report_name(nb) or Path(notebook_path).stem
    _fill_alt_text(nb)
    banner = nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/html": (
            f'<p class="ppx-banner {"redacted" if redact else "private"}">'
            f"{REDACTED_NOTICE if redact else CUSTOMER_DATA_NOTICE}</p>")})])
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
    banner["id"] = "ppx-banner"
    nb.cells.insert(first + 1, banner)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            # Warnings on stderr are for the analyst, not the manager reading the report; a
            # redacted report shows no printed text at all (it may hold customer data).
            cell["outputs"] = [_redacted_output(o) if redact else o
                               for o in cell.get("outputs", [])
                               if not (o.get("output_type") == "stream"
                                       and (redact or o.get("name") == "stderr"))]
    exporter = HTMLExporter(template_name="lab", extra_template_paths=[str(TEMPLATES)])
    exporter.template_file = "ppx_report.html.j2"
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    html_path.write_text(body, encoding="utf-8")


_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)


def report_name(nb: Any) -> str | None:
    r"""A notebook's name for people: the text of its first Markdown heading, else None.

    Examples
    --------
    >>> import nbformat
    >>> report_name(nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_code_cell("x = 1"),
    ...     nbformat.v4.new_markdown_cell("Intro\n\n# Customer *lifetime* value\n")]))
    'Customer lifetime value'
    """
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            match = _HEADING.search(cell.source)
            if match:
                return _plain_markdown(match.group(2)) or None
    return None


def _plain_markdown(text: str) -> str:
    """Heading text without emphasis marks, code ticks or link targets."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return " ".join(re.sub(r"[*_`]", "", text).split())


def _fill_alt_text(nb: Any) -> None:
    """Give every chart without alt text one: "Chart in the section <heading>".

    :func:`ppxlib.notebook.show` records the chart's own title; a figure shown another way
    (a notebook edited by hand) still gets words, never nbconvert's "No description".
    """
    section = nb.metadata.get("title", "the report")
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            headings = _HEADING.findall(cell.source)
            if headings:
                section = _plain_markdown(headings[-1][1])
            continue
        for output in cell.get("outputs", []):
            if "image/png" not in output.get("data", {}):
                continue
            meta = output.setdefault("metadata", {}).setdefault("image/png", {})
            if not str(meta.get("alt") or "").strip():
                meta["alt"] = f"Chart in the section {section}"


def shop_name(source: str) -> str:
    """The shop as page titles name it: the source folder's name, a file's stem, a URL's host.

    Never a secret: the result passes through :func:`ppxlib.sources.mask_secrets`, and of a
    URL only the host is kept.

    Examples
    --------
    >>> shop_name("/data/acme-shop/")
    'acme-shop'
    >>> shop_name("postgres://ann:s3cret@db.acme.com:5432/shop?sslmode=require")
    'db.acme.com'
    >>> shop_name("/data/shop_password=HUNTER2")
    'shop_password=***'
    >>> shop_name("spark:local[2]")
    'spark:local[2]'
    """
    from urllib.parse import urlsplit

    text = str(source).strip()
    if text.startswith("env:"):  # the location is in an environment variable
        text = os.environ.get(text[4:], text).strip()
    if "://" in text:
        parts = urlsplit(text)
        name = parts.hostname or Path(parts.path).stem or parts.scheme
    elif ":" in text and not Path(text).exists() and not re.match(r"^[A-Za-z]:[\\/]", text):
        name = text  # spark:local[2] and the like
    else:
        path = Path(text).expanduser()
        name = path.name if path.is_dir() or not path.suffix else path.stem
        name = name or str(path)
    return mask_secrets(name)


def page_title(report: str, month: str | pd.Period, shop: str) -> str:
    """A report page's ``<title>``: report name, month in words, shop.

    Examples
    --------
    >>> page_title("Retention", "2026-10", "acme")
    'Retention · October 2026 · acme'
    """
    return f"{report} · {to_month(month).strftime('%B %Y')} · {shop}"


def _redacted_output(output: dict) -> dict:
    """An error output without its message and traceback (they may quote customer data)."""
    import nbformat

    if output.get("output_type") != "error":
        return output
    name = html.escape(str(output.get("ename", "error")))
    return nbformat.v4.new_output("display_data", data={"text/html": (
        f'<p class="ppx-notice">This section failed ({name}). The details are withheld from '
        "a redacted report; the run printed them on the terminal.</p>")})


def threads_per_kernel(workers: int, cores: int | None = None) -> int:
    """DuckDB threads for each of ``workers`` kernels run at once: the cores shared out.

    Every kernel opens its own DuckDB connection, and each thread of it keeps its own hash
    tables and sort runs within that connection's memory cap. Kernels with a thread per core
    each run more threads than the machine has cores, which compete for them: on two cores,
    two kernels of one thread each ran the 1M-customer report in 198 s, of two each in 226 s.

    Examples
    --------
    >>> threads_per_kernel(2, cores=2), threads_per_kernel(2, cores=8), threads_per_kernel(4, 2)
    (1, 4, 1)
    """
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, workers))


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


_PRINT_LOCK = threading.Lock()


def _count(n: int, noun: str) -> str:
    """``1 report``, ``2 reports``.

    Examples
    --------
    >>> _count(1, "report"), _count(6, "report")
    ('1 report', '6 reports')
    """
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _progress_line(text: str) -> None:
    """Write one progress line to stderr whole: reports run in parallel threads."""
    with _PRINT_LOCK:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


class Progress:
    """What one running report is doing, told by papermill as each cell starts.

    :meth:`cell` is the hook (the ``ppx`` papermill engine calls it before every cell); the
    section is the text of the last Markdown heading before the running code cell, else
    "cell N of M". :meth:`heartbeat` prints ``<report> ... computing '<section>' (25 s)``
    every ``every`` seconds until the block ends.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
    ...     nbformat.v4.new_markdown_cell("## Cohort *retention*"),
    ...     nbformat.v4.new_code_cell("y = 2")])
    >>> progress = Progress("01_retention")
    >>> progress.cell(nb, 0); progress.doing
    'computing cell 1 of 2'
    >>> progress.cell(nb, 1); progress.cell(nb, 2); progress.doing
    "computing 'Cohort retention'"
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.doing = "starting its kernel"
        self._section: str | None = None
        #: when the report started (:func:`_run_notebook` sets it to its own clock's start)
        self.started = time.perf_counter()

    def cell(self, nb: Any, index: int) -> None:
        """Papermill is about to run ``nb.cells[index]`` (Markdown cells pass through too)."""
        cell = nb.cells[index]
        if cell.get("cell_type") == "markdown":
            headings = _HEADING.findall(cell.get("source", ""))
            if headings:
                self._section = _plain_markdown(headings[-1][1]) or self._section
            return
        if cell.get("cell_type") != "code":
            return
        if self._section:
            self.doing = f"computing '{terminal_text(self._section)}'"
        else:
            code = [i for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"]
            self.doing = f"computing cell {code.index(index) + 1} of {len(code)}"

    def line(self) -> str:
        """The progress line for now."""
        seconds = time.perf_counter() - self.started
        return f"{terminal_text(self.name)} ... {self.doing} ({seconds:.0f} s)"

    @contextmanager
    def heartbeat(self, every: float | None = None,
                  muted: Callable[[], bool] = lambda: False) -> Iterator[Progress]:
        """Print :meth:`line` every ``every`` seconds (default :data:`HEARTBEAT_S`) inside
        the block, from a daemon thread (it never keeps a Ctrl-C'd run alive); not while
        ``muted()`` (a run being stopped)."""
        every = HEARTBEAT_S if every is None else every
        done = threading.Event()

        def beat() -> None:
            while not done.wait(every):
                if not muted():
                    _progress_line(self.line())

        thread = threading.Thread(target=beat, name=f"ppx-progress-{self.name}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            done.set()
            thread.join(timeout=1)


_ENGINE = "ppx"


@cache
def _register_engine() -> None:
    """Register papermill's own nbclient engine under the name ``ppx``, with one hook more:
    a ``progress`` argument (:class:`Progress`) learns each cell as it starts."""
    from papermill.engines import NBClientEngine, papermill_engines

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, progress=None, **kwargs):
            if progress is not None:
                start = nb_man.cell_start

                def cell_start(cell, cell_index=None, **kw):
                    if cell_index is not None:  # papermill may hand over a new copy of nb
                        progress.cell(kw.get("nb") or nb_man.nb, cell_index)
                    return start(cell, cell_index, **kw)

                nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register(_ENGINE, ProgressEngine)


def _execute(notebook: Path, output: Path, parameters: dict[str, Any], cwd: Path,
             timeout: int, progress: Progress | None = None) -> str | None:
    """Run one notebook; return None on success or a one-line error. ``progress`` learns
    each cell as it starts."""
    import papermill as pm
    from traitlets.config import Config

    # Encrypt the kernel's sockets when it can (it then stops warning that it cannot).
    config = Config({"KernelManager": {"transport_encryption": "auto"}})
    hooks: dict[str, Any] = {}
    if progress is not None:
        _register_engine()
        hooks = {"engine_name": _ENGINE, "progress": progress}
    for attempt in (1, 2):
        try:
            # The kernel starts in ``cwd`` (nbclient reads it from the resources). Papermill's
            # own ``cwd=`` changes this whole process's directory for the run instead: two
            # reports at once then restore each other's, and the runner is left in a
            # notebook's folder.
            pm.execute_notebook(str(notebook), str(output), parameters=parameters,
                                kernel_name="python3", progress_bar=False,
                                resources={"metadata": {"path": str(cwd)}},
                                execution_timeout=timeout, report_mode=False, config=config,
                                **hooks)
            return None
        except pm.PapermillExecutionError as err:
            return _error_line(err.ename, err.evalue)
        except Exception as err:  # the kernel died, a timeout, a broken notebook file, ...
            if _environment_error(err):
                raise
            if attempt == 1 and _kernel_did_not_start(err):
                continue  # nothing ran yet: start a new kernel once
            return f"{type(err).__name__}: {err}".strip()
    return None  # pragma: no cover - the loop always returns


def _kernel_did_not_start(err: BaseException) -> bool:
    """A kernel that died before answering: typically a port another process took between
    jupyter_client picking it and the kernel binding it. No cell has run, so a second kernel
    is safe to start."""
    return "died before replying to kernel_info" in str(err)


def _environment_error(err: BaseException) -> bool:
    """A full disk or a read-only output folder: no report can be written, stop the run."""
    return isinstance(err, OSError) and err.errno in ENVIRONMENT_ERRNOS


def _error_line(name: str, message: str) -> str:
    """A notebook's exception as one line, with what to do when the fix is ours to know."""
    if name == "OutOfMemoryException":  # DuckDB hit the cap ppx gives it
        return f"{name}: {out_of_memory_message(message)}"
    return f"{name}: {message}".strip()


#: Notebook parameters that ``ppx report`` sets itself, with the option that sets them:
#: ``--param`` cannot override them.
RUNNER_PARAMETERS = {"source": "--source", "tables": "--table", "month": "--month",
                     "as_of": "--as-of", "redact": "--redact", "metrics_path": None}
#: A parameters-cell default that is not a literal (an expression): any value is taken.
NOT_LITERAL = type("NotLiteral", (), {"__repr__": lambda self: "an expression"})()
_TAKES = {bool: "True or False", int: "a whole number", float: "a number", str: "text",
          list: "a list, e.g. [1, 2]", tuple: "a list, e.g. (1, 2)", dict: "a dict, e.g. {'a': 1}"}


def notebook_parameters(path: str | os.PathLike) -> dict[str, Any]:
    """The names and default values of a notebook's ``parameters`` cell, read with ``ast``.

    The cell is parsed, never run. A default that is not a Python literal is
    :data:`NOT_LITERAL`. A notebook without a parameters cell has none.

    Examples
    --------
    >>> import nbformat, tempfile
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    ...     "currency = ''  # symbol\\nhorizon_months = 12\\nlost_days = None",
    ...     metadata={"tags": ["parameters"]})])
    >>> path = Path(tempfile.mkdtemp()) / "n.ipynb"; nbformat.write(nb, path)
    >>> notebook_parameters(path)
    {'currency': '', 'horizon_months': 12, 'lost_days': None}
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cell = next((c for c in nb.cells
                 if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return {}
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as err:
        raise ValueError(f"the parameters cell of {Path(path).name} is not valid Python "
                         f"(line {err.lineno}): fix the notebook") from None
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                try:
                    found[target.id] = ast.literal_eval(value)
                except (ValueError, TypeError, SyntaxError, RecursionError):
                    found[target.id] = NOT_LITERAL
    return found


def check_params(given: Mapping[str, Any] | None,
                 paths: list[Path]) -> dict[str, dict[str, Any]]:
    """``--param`` values checked against the notebooks' parameters cells, typed per notebook.

    A value given as text (the command line) is read as a Python literal when it is one
    (``24`` → 24, ``True``, ``[1, 2]``), else taken as text (``€``). It must match the type
    of the notebook's default: a whole number for ``12``, a number for ``0.01`` (a whole
    number is taken), True or False for ``False`` (``true``/``false`` too), anything for a
    default of None or an expression; for a text default, the text as typed. A name must be
    a parameter of at least one notebook and is passed only to the notebooks that have it.

    Returns
    -------
    dict
        notebook name (file stem) -> {parameter: value} for every notebook in ``paths``.

    Raises
    ------
    ValueError
        One line naming the parameter and listing the valid ones.

    Examples
    --------
    >>> _coerce("horizon_months", "24", 12, "03_clv")
    24
    >>> _coerce("currency", "€", "", "03_clv")
    '€'
    >>> _coerce("horizon_months", "two", 12, "03_clv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --param horizon_months=two: horizon_months takes a whole number (the default ...)
    """
    per_notebook: dict[str, dict[str, Any]] = {p.stem: {} for p in paths}
    if not given:
        return per_notebook
    defaults = {p.stem: notebook_parameters(p) for p in paths}
    valid = sorted({name for d in defaults.values() for name in d} - set(RUNNER_PARAMETERS))
    listing = f"valid parameters: {', '.join(valid) if valid else 'none'}"
    for name, value in given.items():
        if name in RUNNER_PARAMETERS:
            option = RUNNER_PARAMETERS[name]
            how = f"use {option}" if option else "it cannot be set"
            raise ValueError(f"--param {name}: ppx report sets {name} itself ({how}); "
                             f"{listing}")
        having = [stem for stem, d in defaults.items() if name in d]
        if not having:
            raise ValueError(f"--param {name}: no report has a parameter {name!r}; {listing}")
        for stem in having:
            try:
                per_notebook[stem][name] = _coerce(name, value, defaults[stem][name], stem)
            except ValueError as err:
                raise ValueError(f"{err}; {listing}") from None
    return per_notebook


def _literal(text: str) -> Any:
    """Command-line text as a Python literal if it is one, else the text itself."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text


def _coerce(name: str, value: Any, default: Any, notebook: str) -> Any:
    """``value`` (text from the command line, or a Python value) as the default's type."""
    text = value if isinstance(value, str) else None
    parsed = _literal(value) if text is not None else value
    kind = type(default)
    if default is None or default is NOT_LITERAL:
        result = parsed
    elif kind is bool:
        words = {"true": True, "false": False, "yes": True, "no": False}
        result = parsed if isinstance(parsed, bool) else words.get(str(text).strip().lower())
    elif kind is int:
        result = parsed if type(parsed) is int else None
    elif kind is float:
        ok = isinstance(parsed, int | float) and not isinstance(parsed, bool)
        result = float(parsed) if ok else None
    elif kind is str:
        result = parsed if isinstance(parsed, str) else text
    elif kind in (list, tuple):
        result = kind(parsed) if isinstance(parsed, list | tuple) else None
    else:
        result = parsed if isinstance(parsed, kind) else None
    shown = text if text is not None else repr(value)
    if result is None and not (default is None or default is NOT_LITERAL):
        takes = _TAKES.get(kind, f"a {kind.__name__}")
        raise ValueError(f"--param {name}={shown}: {name} takes {takes} (the default in "
                         f"{notebook} is {default!r})")
    try:
        json.dumps(result)
    except (TypeError, ValueError):
        raise ValueError(f"--param {name}={shown}: {name} takes a number, text, True/False, "
                         "None, a list or a dict") from None
    return result


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
    params: Mapping[str, Any] | None = None,
) -> RunResult:
    """Execute the report notebooks for one month and render them.

    Parameters
    ----------
    source : str or path
        A folder, ``.duckdb`` file or connection URL (see :func:`ppxlib.open`). A URL with a
        password or token is handed to the notebooks through an environment variable, so the
        secret never becomes a notebook parameter.
    out : path
        Folder for the report set (``index.html`` and one folder per label). Not the root,
        the home folder, a file, or the source folder or a folder inside it
        (:func:`check_out`).
    month : str, optional
        ``YYYY-MM``; defaults to the last complete month in the orders.
    label : str, optional
        Folder name for this run; defaults to the month. One plain folder name
        (:func:`check_label`). An existing ``out/<label>`` is replaced only if ppx made it.
    notebooks : list of names or paths, optional
        Report names (``04_experience``, from :func:`default_notebook_dir`) or notebook
        paths (:func:`find_notebooks`). Defaults to every ``[0-9]*.ipynb`` in
        :func:`default_notebook_dir`, in name order.
    as_of : str, optional
        Timestamps after this moment count as "in the future" (default: now).
    redact : bool
        Passed to the notebooks: replace customer ids and free text. The pseudonyms' key is
        ``$PPX_REDACT_KEY``, else a random key kept in ``out/.ppx-redact-key``
        (:func:`redaction_key`); the kernels get it by environment variable. A redacted run
        keeps no executed notebooks and no error details in its manifest and index.
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
    params : dict, optional
        Notebook parameters (``--param NAME=VALUE``), e.g. ``{"currency": "€"}``: checked
        against each notebook's parameters cell and passed to the notebooks that have them
        (:func:`check_params`); recorded in the manifest.

    Returns
    -------
    RunResult
    """
    if isinstance(as_of, dt.date):  # a parameter for the notebooks: text
        as_of = as_of.isoformat()
    if label is not None:
        check_label(label)
    # The notebooks and their parameters are checked before the data is read: a mistyped
    # --param is a one-line error at once, not after a long validation.
    paths = find_notebooks(notebooks)
    per_notebook = check_params(params, paths)
    given = {name: next(v[name] for v in per_notebook.values() if name in v)
             for name in (params or {})}
    source_text = os.fspath(source)
    if Path(source_text).exists():  # notebooks run in their own folder: pass absolute paths
        source_text = str(Path(source_text).resolve())
    out = Path(out).expanduser().resolve()
    check_out(out, source_text)
    if tables and Path(source_text).is_dir():
        raise ValueError(
            f"--table {next(iter(tables))}=... names a table of a warehouse, Spark or a .duckdb "
            f"file; the tables of a folder are its files (orders.csv, orders.parquet, ...): "
            "rename the files instead")
    if not (snapshot and Path(source_text).suffix in (".duckdb", ".ddb", ".db")):
        _check_tables_have_no_secret(tables)  # they would be notebook parameters
    masked = mask_secrets(source_text)
    shop = shop_name(source_text)
    # A source with a secret reaches the notebooks by environment variable, never as a
    # parameter (parameters are written into the executed notebooks).
    env = {SECRET_ENV: source_text} if masked != source_text else {}
    source_param = f"env:{SECRET_ENV}" if env else source_text

    tables_given = dict(tables) if tables else None
    # Validate once, here: a structurally broken source stops the run before any report is
    # touched, and a local source is pinned in a snapshot the notebooks read instead.
    with _environment(env):
        dataset = open_source(source_param, tables=tables)
        clean = dataset.validate(as_of=as_of)
    problem = no_orders_left(clean.quality)
    if problem:
        raise ValueError(problem)
    span = order_span(clean.orders)
    period = to_month(month) if month else last_complete_month(clean.orders, span=span)
    _check_covered(period, *span)
    label = label or str(period)
    _check_replaceable(out / label)
    if notebooks:
        _check_same_redaction(out / label, redact)
    provided = {name: clean.table(name) is not None for name in TABLES}
    validated_as_of = clean.quality.as_of.isoformat()

    workers = workers or min(2, os.cpu_count() or 1)

    out.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_runs(out)
    # Everything of this run lives in one hidden folder until the month is complete: the
    # month being built and the snapshot of the data (customer data: never left behind).
    workdir = out / f"{RUN_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    workdir.mkdir()
    _mark(workdir)
    staging = workdir / label
    (staging / "notebooks").mkdir(parents=True)
    (staging / "metrics").mkdir()
    _mark(staging)

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
        if redact:  # the key goes to the kernels by environment, never as a parameter
            env[REDACT_KEY_ENV] = redaction_key(out, progress)
        if not os.environ.get(THREADS_ENV):  # the user's own setting stands
            env[THREADS_ENV] = str(threads_per_kernel(workers))
        stopping: list[bool] = []

        def run(path: Path) -> NotebookResult:
            def execute(tracker: Progress | None) -> NotebookResult:
                return _run_notebook(path, staging, {"source": source_param, "tables": tables},
                                     period, as_of, redact, timeout,
                                     per_notebook[path.stem], shop, tracker)

            if not progress:
                return execute(None)
            with Progress(path.stem).heartbeat(muted=lambda: bool(stopping)) as tracker:
                result = execute(tracker)
            if not stopping:
                done = ("ok" if result.status == "ok"
                        else f"FAILED\n    {terminal_text(result.error or '')}")
                _progress_line(f"{terminal_text(result.name)} ... {done} "
                               f"({result.duration_s:.1f} s)")
            return result

        if progress:
            _progress_line(f"{_count(len(paths), 'report')} for {period}, {workers} at a time")
        # Kernels are separate processes, so threads that wait on them run reports in parallel.
        in_order = start_order(paths)
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            with _environment(env):
                futures = [pool.submit(run, path) for path in in_order]
                by_path = {path: future.result()
                           for path, future in zip(in_order, futures, strict=True)}
        except BaseException:  # Ctrl-C, a full disk: stop the kernels, then clean up
            stopping.append(True)
            # what the kernels' clients log as their kernels go is noise after a Ctrl-C
            logging.disable(logging.CRITICAL)
            try:
                pool.shutdown(wait=False, cancel_futures=True)
                _stop_kernels()
                pool.shutdown(wait=True)
            finally:
                logging.disable(logging.NOTSET)
            raise
        pool.shutdown()
        results = [by_path[path] for path in paths]

        manifest = {
            "label": label,
            "shop": shop,
            "tables": provided,
            "validated_as_of": validated_as_of,
            "month": str(period),
            "parameters": {"source": masked, "tables": _masked_tables(tables_given),
                           "month": str(period), "as_of": as_of,
                           "redact": bool(redact), "timeout_s": timeout,
                           "notebook_parameters": given},
            "started_utc": started.isoformat(timespec="seconds"),
            "duration_s": round(time.perf_counter() - clock, 2),
            "status": "ok" if all(r.status == "ok" for r in results) else "failed",
            "versions": _versions(),
            "notebooks": [
                {"name": r.name, "title": r.title, "status": r.status,
                 "duration_s": r.duration_s, "html": r.html,
                 "error": _withheld(r.error) if redact else r.error,
                 "parameters": per_notebook[r.name], "metrics": r.metrics}
                for r in results
            ],
        }
        final = out / label
        if notebooks:
            _keep_other_reports(final, staging, manifest)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        shutil.rmtree(staging / "metrics")
        if redact:  # the executed notebooks hold what the redacted HTML leaves out
            shutil.rmtree(staging / "notebooks")
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


LABEL_PATTERN = re.compile(r"[^/\\\x00-\x1f\x7f-\x9f]+")


def check_label(label: str) -> None:
    """Refuse a label that is not one plain folder name.

    A label becomes ``out/<label>``, and that folder is replaced: ``../../v`` or an absolute
    path would replace a folder outside the output folder, ``.run-1`` one of ppx's work folders.

    Examples
    --------
    >>> check_label("2026-10-final")
    >>> check_label("../../v")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --label must be one plain folder name (...), got '../../v'
    """
    if (not LABEL_PATTERN.fullmatch(label) or label.startswith(".") or label != label.strip()
            or label.lower() == "index.html"):
        raise ValueError("--label must be one plain folder name (no /, \\, .., leading dot or "
                         f"control characters), got {terminal_text(repr(label))}")


def check_out(out: Path, source: str) -> None:
    """Refuse an output folder that a report set must not be written into.

    The file system's root and the home folder (ppx would put its folders among the user's),
    an existing file, and the source folder or a folder inside it (the reports and the run's
    snapshot would become part of the data the next run reads). A folder that contains the
    source (``--out .`` beside ``data/``) is allowed: ppx only touches the folders it made.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder: give a folder for the reports")
    if out == out.parent:
        raise ValueError(f"--out {out} is the root of the file system: give a folder of its "
                         "own for the reports, e.g. --out reports")
    try:
        home = Path.home().resolve()
    except RuntimeError:  # no home folder known
        home = None
    if out == home:
        raise ValueError(f"--out {out} is the home folder: give a folder of its own for the "
                         "reports, e.g. --out ~/reports")
    path = Path(source)
    if path.is_dir() and (out == path or path in out.parents):
        raise ValueError(f"--out {out} is inside the source folder {path}: the reports would "
                         "be read as data next time; give a folder outside it")


def _mark(folder: Path) -> None:
    (folder / MARKER).write_text("made by ppx report; ppx replaces or deletes only folders "
                                 "holding this file\n")


def _made_by_ppx(folder: Path) -> bool:
    """Whether ``folder`` carries ppx's marker, or is a month an older ppx wrote.

    Before the marker existed, ppx wrote a ``manifest.json`` naming the folder as its label
    into every month folder; such folders are taken as ppx's (and get the marker on swap).
    """
    if not folder.is_dir() or folder.is_symlink():
        return False
    if (folder / MARKER).is_file():
        return True
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(manifest, dict) and manifest.get("label") == folder.name
            and isinstance(manifest.get("notebooks"), list))


def _check_replaceable(final: Path) -> None:
    if (final.exists() or final.is_symlink()) and not _made_by_ppx(final):
        raise ValueError(
            f"{final} exists and ppx did not make it (no {MARKER} file in it): ppx replaces "
            "only folders it made; move it away, or choose another --out or --label")


def _check_same_redaction(final: Path, redact: bool) -> None:
    """Running some notebooks keeps the month's others: they must be redacted alike."""
    try:
        before = json.loads((final / "manifest.json").read_text())["parameters"]["redact"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    if bool(before) != bool(redact):
        made = "with" if before else "without"
        raise ValueError(
            f"{final} holds reports made {made} redaction; running only some notebooks "
            f"{'without' if before else 'with'} it would mix the two in one month: run every "
            "notebook, or choose another --label or --out")


def _check_tables_have_no_secret(tables: dict[str, str] | None) -> None:
    """Table locations are notebook parameters (kept in the executed notebooks): no secrets."""
    for name, where in (tables or {}).items():
        masked = mask_secrets(where)
        if masked != where:
            raise ValueError(
                f"--table {name}={masked} holds a secret, and table locations are passed to "
                "the notebooks as parameters: give the engine its credentials another way "
                "(e.g. a DuckDB secret, or the cloud's environment variables), or read a "
                "local .duckdb source with the run's snapshot")


def redaction_key(out: Path, progress: bool = True) -> str:
    """The key for pseudonyms: ``$PPX_REDACT_KEY``, else a random one kept under ``out``.

    The generated key is written to ``out/.ppx-redact-key`` (readable by its owner only,
    outside every report) and reused by later runs into the same ``out``, so pseudonyms stay
    the same from month to month. Anyone with the key can check a guessed id against a
    pseudonym: keep it with the unredacted data, not with the shared reports.
    """
    given = os.environ.get(REDACT_KEY_ENV)
    if given:
        return given
    path = out / KEY_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if not key:
            raise ValueError(f"{path} is empty: delete it (pseudonyms will change) or set "
                             f"${REDACT_KEY_ENV}") from None
        if progress:
            print(f"ppx report: pseudonyms use the redaction key in {path} "
                  f"(${REDACT_KEY_ENV} is not set)", file=sys.stderr)
        return key
    key = secrets.token_hex(32)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    print(f"ppx report: ${REDACT_KEY_ENV} is not set: made a random redaction key in {path} "
          "(keep it private; later runs into this folder reuse it, so pseudonyms stay the "
          "same)", file=sys.stderr)
    return key


def _withheld(error: str | None) -> str | None:
    """A notebook's error without its message, for a redacted manifest and index."""
    if error is None:
        return None
    name = error.split(":", 1)[0] if re.match(r"^[\w.]+:", error) else "error"
    return f"{name} (details withheld from a redacted run; they were printed on the terminal)"


def _stop_kernels() -> None:
    """End the notebook kernels this process started (a Ctrl-C or a fatal error)."""
    try:
        import psutil
    except ImportError:  # ipykernel brings psutil; without it the kernels end with the run
        return
    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.terminate()
        except psutil.Error:
            continue
    _gone, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            continue


def _masked_tables(tables: dict[str, str] | None) -> dict[str, str] | None:
    return {k: mask_secrets(v) for k, v in tables.items()} if tables else None


def no_orders_left(quality) -> str | None:
    """What to say when validation excluded every order (no report can be made), else None.

    Examples
    --------
    >>> t = pd.DataFrame({"table": ["orders"], "present": [True], "rows_read": [3],
    ...                   "rows_excluded": [3], "rows_kept": [0]})
    >>> from ppxlib.validation import DataQuality
    >>> print(no_orders_left(DataQuality(t, pd.DataFrame())))  # doctest: +ELLIPSIS
    every order was excluded (3 of 3 rows read): no report can be made; ...
    """
    rows = quality.tables[quality.tables.table == "orders"]
    if rows.empty or int(rows.rows_kept.iloc[0]) > 0:
        return None
    read = int(rows.rows_read.iloc[0])
    return (f"every order was excluded ({int(rows.rows_excluded.iloc[0]):,} of {read:,} rows "
            "read): no report can be made; the tally of ppx validate says why")


def _check_covered(period: pd.Period, first: pd.Timestamp, last: pd.Timestamp) -> None:
    """A month before the first order or after the last one has nothing to report."""
    if not first.to_period("M") <= period <= last.to_period("M"):
        raise ValueError(
            f"month {period} is outside the data: orders run from {first:%Y-%m-%d} to "
            f"{last:%Y-%m-%d}; choose a month from {first:%Y-%m} to {last:%Y-%m}"
        )


def _run_notebook(path: Path, staging: Path, source: dict[str, Any], period: pd.Period,
                  as_of: str | None, redact: bool, timeout: int,
                  params: Mapping[str, Any] | None = None,
                  shop: str = "", progress: Progress | None = None) -> NotebookResult:
    """Execute one notebook into ``staging`` and render it; failures become the result."""
    import nbformat

    name = path.stem
    try:
        title = report_name(nbformat.read(path, as_version=4)) or name
    except Exception:  # an unreadable notebook fails below, with papermill's message
        title = name
    executed = staging / "notebooks" / path.name
    metrics_path = staging / "metrics" / f"{name}.json"
    parameters = {**(params or {}), **source, "month": str(period), "as_of": as_of,
                  "redact": bool(redact), "metrics_path": str(metrics_path)}
    t0 = time.perf_counter()
    if progress is not None:  # its lines count the time the result's duration counts
        progress.started = t0
    error = _execute(path, executed, parameters, path.parent, timeout, progress)
    if progress is not None:
        progress.doing = "rendering its page"
    html_name: str | None = f"{name}.html"
    if executed.exists():
        try:
            render_html(executed, staging / html_name, redact=bool(redact),
                        title=page_title(title, period, shop) if shop else None)
        except Exception as err:  # rendering must not take the other reports down ...
            if _environment_error(err):  # ... unless nothing can be written any more
                raise
            error = error or f"rendering failed: {type(err).__name__}: {err}"
            html_name = None
    else:
        html_name = None
    duration = time.perf_counter() - t0
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    return NotebookResult(name, "failed" if error else "ok", round(duration, 2), html_name,
                          error, metrics, title)


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
    """Delete what killed runs left (their process is gone); a running one is left alone.

    Only folders carrying ppx's marker are deleted: a ``.old-budget`` someone made stays.
    """
    for folder in out.glob(f"{RUN_PREFIX}*"):
        pid = folder.name.removeprefix(RUN_PREFIX).split("-")[0]
        if pid.isdigit() and not _alive(int(pid)) and _made_by_ppx(folder):
            shutil.rmtree(folder, ignore_errors=True)
    for folder in out.glob(f"{OLD_PREFIX}*"):  # a swap interrupted between its two renames
        if _made_by_ppx(folder):
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
    """Replace ``final`` by ``staging`` with renames only (no half-written folder visible).

    ``final`` is replaced only if ppx made it (:func:`_made_by_ppx`); else ValueError.
    """
    old = None
    if final.exists() or final.is_symlink():
        _check_replaceable(final)
        if not (final / MARKER).is_file():  # a month of an older ppx: marked before it moves
            _mark(final)
        old = final.with_name(f"{OLD_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(old)
    staging.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_index(out: str | os.PathLike) -> Path:
    """Write ``out/index.html``, the landing page: the latest month's headline numbers and
    every report of every run found under ``out`` (:func:`ppxlib.landing.write_landing`)."""
    from ppxlib.landing import write_landing

    return write_landing(out)


def as_frame(result: RunResult) -> pd.DataFrame:
    """The notebooks of a run as a small frame (name, status, duration, error)."""
    return pd.DataFrame([{"notebook": r.name, "status": r.status, "duration_s": r.duration_s,
                          "error": r.error} for r in result.notebooks])
