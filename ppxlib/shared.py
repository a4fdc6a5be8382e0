"""Results that the notebooks of one report run compute once and share.

The five report notebooks run in separate kernels, and several of them need the same
customer-sized results: the RFM scores, the customer summary and the fitted CLV model, the
period metrics. Within a report run the data cannot change (the notebooks read the run's
validated snapshot, :mod:`ppxlib.snapshot`), so the first kernel that needs a result computes
and stores it, and the others load it; a kernel asking while another is computing waits for
it (a file lock per result) instead of computing it a second time.

Sharing is scoped to one run: the runner names a private folder in ``$PPX_SHARED_DIR`` (inside
its work folder, removed with it), and only results computed from a snapshot are shared. In
any other setting -- an analyst's notebook, a warehouse source -- :func:`once` just calls the
function. A result is identified by the function, the snapshot, and the arguments: a table
by its name in the snapshot, an earlier shared result by how it was computed (so a model
fitted to a shared summary is shared too), a plain value (text, number, date) by its
``repr``. A call with any other argument (say, a frame built in the notebook) is not shared.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import os
import pickle
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from ppxlib.contract import TABLES
from ppxlib.sources import CleanDataset

SHARED_ENV = "PPX_SHARED_DIR"
T = TypeVar("T")

_PLAIN = (str, int, float, bool, type(None), dt.date, dt.datetime, dt.timedelta, pd.Timestamp,
          pd.Period, pd.Timedelta, np.integer, np.floating)


class _NotShareable(Exception):
    pass


# Results handed out by once() in this process, by id, with their keys: an argument that is
# one of them is identified by how it was computed. Holding the value keeps its id unique.
_RESULTS: dict[int, tuple[str, Any]] = {}


def once(clean: CleanDataset, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)``, computed once per report run and shared by its notebooks.

    Parameters
    ----------
    clean : CleanDataset
        The validated data the arguments come from.
    function : callable
        A pure function of its arguments (every ppxlib computation is).
    *args, **kwargs
        Passed to ``function``.

    Returns
    -------
    The function's result (a stored copy when another notebook of the run computed it).
    Treat it as read-only: a later call that passes it on is identified by how it was
    computed, not by what it now holds.

    Examples
    --------
    >>> from ppxlib import rfm
    >>> scores = once(clean, rfm.rfm_scores, clean.orders, end)  # doctest: +SKIP
    """
    folder = os.environ.get(SHARED_ENV)
    if not folder or clean.snapshot is None:
        return function(*args, **kwargs)
    try:
        key = _key(clean, function, args, kwargs)
    except _NotShareable:
        return function(*args, **kwargs)
    path = Path(folder) / f"{key}.pickle"
    with _locked(path.with_suffix(".lock")):
        if path.exists():
            with path.open("rb") as fh:
                value = pickle.load(fh)
        else:
            value = function(*args, **kwargs)
            partial = path.with_suffix(f".{os.getpid()}.partial")
            with partial.open("wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(partial, path)  # readers never see half a file
    _RESULTS[id(value)] = (key, value)
    return value


def _key(clean: CleanDataset, function: Callable, args: tuple, kwargs: dict) -> str:
    # every parameter by name, defaults filled in: f(x, 365) and f(x) are the same call
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    digest = hashlib.sha256()
    digest.update(f"{function.__module__}.{function.__qualname__}\0{clean.snapshot}".encode())
    tables = {id(clean.table(name)): name for name in TABLES if clean.table(name) is not None}
    for name, value in bound.arguments.items():
        digest.update(f"\0{name}=".encode())
        _feed(digest, value, tables)
    return digest.hexdigest()[:32]


def _feed(digest: Any, value: Any, tables: dict[int, str]) -> None:
    """Add ``value`` to the key; ``tables`` names the snapshot's tables by object id."""
    if id(value) in tables:
        digest.update(f"table:{tables[id(value)]}".encode())
    elif id(value) in _RESULTS and _RESULTS[id(value)][1] is value:
        digest.update(f"result:{_RESULTS[id(value)][0]}".encode())
    elif isinstance(value, tuple | list):
        digest.update(f"{type(value).__name__}[{len(value)}]".encode())
        for item in value:
            _feed(digest, item, tables)
    elif isinstance(value, dt.datetime):  # a pandas Timestamp or a datetime: the same instant
        digest.update(f"instant:{pd.Timestamp(value).isoformat()}".encode())
    elif isinstance(value, dict):
        digest.update(f"dict[{len(value)}]".encode())
        for item in sorted(value.items(), key=lambda kv: repr(kv[0])):
            _feed(digest, item, tables)
    elif isinstance(value, _PLAIN):
        digest.update(f"{type(value).__name__}:{value!r}".encode())
    else:
        raise _NotShareable(type(value).__name__)


@contextmanager
def _locked(path: Path):
    try:
        import fcntl
    except ImportError:  # no advisory locks (Windows): kernels may compute the same thing twice
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
