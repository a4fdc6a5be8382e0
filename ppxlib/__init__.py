"""ppx: a post-purchase experience workbook for e-commerce retention analysis.

The stable public names (DESIGN.md) are importable from here. Every one of them loads on
first use (module ``__getattr__``), so that ``import ppxlib`` and the ``ppx`` command's help
stay quick: the data stack (ibis, pandas, DuckDB) is imported only when a name needs it.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_LAZY = {
    "CONTRACT": "ppxlib.contract",
    "ContractError": "ppxlib.contract",
    "CleanDataset": "ppxlib.sources",
    "Dataset": "ppxlib.sources",
    "open": "ppxlib.sources",
    "cohort_retention": "ppxlib.cohorts",
    "period_metrics": "ppxlib.retention",
    "rfm_scores": "ppxlib.rfm",
    "rfm_summary": "ppxlib.summary",
    "fit_clv": "ppxlib.clv",
    "nps": "ppxlib.survey",
    "csat": "ppxlib.survey",
    "ces": "ppxlib.survey",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # later uses skip this function
        return value
    raise AttributeError(f"module 'ppxlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
