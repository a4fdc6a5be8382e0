"""Small documented loaders for the data sets the workbook ships with or relies on.

* :func:`cdnow` and :func:`cdnow_sample` read the CDNOW files that ship inside the installed
  ``lifetimes`` package (read with :mod:`importlib.resources`; ``lifetimes.datasets`` itself
  imports ``pkg_resources``, which recent setuptools removed).
* :func:`sample_path` is the committed simulated shop in ``data/sample``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd


def _read_cdnow(name: str, columns: list[str]) -> pd.DataFrame:
    text = resources.files("lifetimes").joinpath("datasets", name)
    with resources.as_file(text) as path:
        frame = pd.read_csv(
            path, sep=r"\s+", header=None, names=columns, comment=None,
            dtype={"customer_id": "int64", "date": "string"},
            skiprows=1 if name == "CDNOW_master.txt" else 0,
        )
    frame = frame.dropna(subset=["customer_id"])
    orders = pd.DataFrame({
        "order_id": pd.RangeIndex(1, len(frame) + 1),
        "customer_id": frame["customer_id"].astype("int64").to_numpy(),
        "order_ts": pd.to_datetime(frame["date"], format="%Y%m%d").to_numpy(),
        "amount": frame["dollar_value"].astype(float).to_numpy(),
        "quantity": frame["number_of_cds"].astype("int64").to_numpy(),
    })
    return orders


def cdnow() -> pd.DataFrame:
    """The full CDNOW purchase log: 69,659 orders of 23,570 customers, 1997-01 to 1998-06.

    Returns
    -------
    pandas.DataFrame
        Orders in the data contract's shape: ``order_id, customer_id, order_ts, amount``
        plus ``quantity`` (number of CDs). ``order_id`` is the row number.

    Examples
    --------
    >>> orders = cdnow()
    >>> len(orders), orders.customer_id.nunique()
    (69659, 23570)
    """
    return _read_cdnow("CDNOW_master.txt", ["customer_id", "date", "number_of_cds",
                                            "dollar_value"])


def cdnow_sample() -> pd.DataFrame:
    """The 2,357-customer CDNOW sample used in Fader, Hardie & Lee (2005).

    Examples
    --------
    >>> cdnow_sample().customer_id.nunique()
    2357
    """
    text = resources.files("lifetimes").joinpath("datasets", "CDNOW_sample.txt")
    with resources.as_file(text) as path:
        frame = pd.read_csv(path, sep=r"\s+", header=None,
                            names=["customer_id", "customer_index", "date", "number_of_cds",
                                   "dollar_value"],
                            dtype={"date": "string"})
    return pd.DataFrame({
        "order_id": pd.RangeIndex(1, len(frame) + 1),
        "customer_id": frame["customer_id"].astype("int64").to_numpy(),
        "order_ts": pd.to_datetime(frame["date"], format="%Y%m%d").to_numpy(),
        "amount": frame["dollar_value"].astype(float).to_numpy(),
        "quantity": frame["number_of_cds"].astype("int64").to_numpy(),
    })


def sample_path() -> Path:
    """Folder of the committed sample shop (``data/sample`` in a source checkout)."""
    here = Path(__file__).resolve().parent.parent / "data" / "sample"
    if not (here / "orders.csv").exists() and not (here / "orders.csv.gz").exists():
        raise FileNotFoundError(
            f"{here}: sample data not found; run `ppx sample --out {here}` to create it"
        )
    return here
