"""A validated copy of a local source, so that a report run checks the data once.

Every report notebook opens its source and validates it. For a folder of files that means
five notebooks parsing the same CSVs and running the same checks. The report runner instead
validates once, writes the clean tables as Parquet with the data-quality tally beside them,
and hands the notebooks that folder: :func:`ppxlib.open` recognises it and returns the stored
tally instead of checking again, so every report shows the same exclusions. It also pins the
data: a source that changes or disappears while the reports run no longer matters.

Only sources already on this machine (DuckDB) are copied; warehouse and Spark data stay where
they are and each notebook validates them in their engine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd

from ppxlib.contract import TABLES
from ppxlib.sources import CleanDataset, Dataset, connect_duckdb
from ppxlib.validation import ADJUSTMENT_COLUMNS, EXCLUSION_COLUMNS, DataQuality

MARKER = "ppx-snapshot.json"


def write_snapshot(dataset: Dataset, clean: CleanDataset, folder: str | os.PathLike) -> Path:
    """Write clean tables and their data-quality tally to ``folder``.

    Parameters
    ----------
    dataset : Dataset
        The source as opened (its description is kept for the reports).
    clean : CleanDataset
        ``dataset.validate(...)``.
    folder : path
        Created if missing; should be private to the run (it holds customer data).

    Returns
    -------
    Path
        The folder, ready for :func:`ppxlib.open`.

    Examples
    --------
    >>> clean = dataset.validate(as_of="2026-11-23")          # doctest: +SKIP
    >>> write_snapshot(dataset, clean, "/tmp/run/snapshot")   # doctest: +SKIP
    >>> ppxlib.open("/tmp/run/snapshot").validate().quality   # doctest: +SKIP
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        table = clean.table(name)
        if table is not None:
            dataset.backend.to_parquet(table, folder / f"{name}.parquet")
    quality = clean.quality
    examples = []
    for i, ((table, rule), frame) in enumerate(sorted(quality.examples.items())):
        file = f"example-{i}.parquet"  # Parquet keeps the example values' types
        frame.to_parquet(folder / file, index=False)
        examples.append({"table": table, "rule": rule, "file": file})
    meta = {
        "description": dataset.description,
        "as_of": quality.as_of.isoformat() if quality.as_of else None,
        "tables": quality.tables.to_dict(orient="records"),
        "exclusions": quality.exclusions.to_dict(orient="records"),
        "adjustments": quality.adjustments.to_dict(orient="records"),
        "examples": examples,
    }
    (folder / MARKER).write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
    return folder


def is_snapshot(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def read_snapshot(folder: str | os.PathLike) -> Dataset:
    """Open a folder written by :func:`write_snapshot` (what :func:`ppxlib.open` does)."""
    folder = Path(folder)
    meta = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    con = connect_duckdb()
    tables = {}
    for name in TABLES:
        path = folder / f"{name}.parquet"
        tables[name] = con.read_parquet(str(path), table_name=name) if path.exists() else None
    as_of = dt.datetime.fromisoformat(meta["as_of"]) if meta["as_of"] else None
    examples = {}
    for item in meta["examples"]:
        examples[(item["table"], item["rule"])] = pd.read_parquet(folder / item["file"])
    exclusions = pd.DataFrame(meta["exclusions"], columns=EXCLUSION_COLUMNS)
    adjustments = pd.DataFrame(meta.get("adjustments", []), columns=ADJUSTMENT_COLUMNS)
    quality = DataQuality(pd.DataFrame(meta["tables"]), exclusions, examples, as_of,
                          adjustments)
    identity = f"{folder.resolve()}@{(folder / MARKER).stat().st_mtime_ns}"
    clean = CleanDataset(**tables, quality=quality, snapshot=identity)
    return Dataset(con, tables, meta["description"], validated=clean)
