"""ppx: a post-purchase experience workbook for e-commerce retention analysis.

The stable public names (DESIGN.md) are importable from here; the heavier ones load on first
use so that ``import ppxlib`` stays quick.
"""

from importlib import import_module

from ppxlib.contract import CONTRACT, ContractError
from ppxlib.sources import CleanDataset, Dataset, open

__version__ = "0.1.0"

_LAZY = {
    "cohort_retention": "ppxlib.cohorts",
    "period_metrics": "ppxlib.retention",
    "rfm_scores": "ppxlib.rfm",
    "rfm_summary": "ppxlib.summary",
    "fit_clv": "ppxlib.clv",
    "nps": "ppxlib.survey",
    "csat": "ppxlib.survey",
    "ces": "ppxlib.survey",
}

__all__ = ["CONTRACT", "CleanDataset", "ContractError", "Dataset", "open", "__version__",
           *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ppxlib' has no attribute {name!r}")
