"""Bringing engine results back to pandas.

Only results bounded by customers, periods or groups come back. Customer-sized ones are
ordered by the engine: sorting a million string ids in pandas costs more than the query
that produced them.
"""

from __future__ import annotations

import ibis.expr.types as ir
import pandas as pd


def customer_frame(expr: ir.Table, key: str = "customer_id") -> pd.DataFrame:
    """Execute ``expr`` and return it indexed by ``key``, sorted by the engine.

    Examples
    --------
    >>> import ibis
    >>> t = ibis.memtable({"customer_id": ["b", "a"], "n": [2, 1]})
    >>> customer_frame(t).n.tolist()
    [1, 2]
    """
    return expr.order_by(key).to_pyarrow().to_pandas().set_index(key)
