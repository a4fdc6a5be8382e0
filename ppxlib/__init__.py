"""ppx: a post-purchase experience workbook for e-commerce retention analysis."""

from ppxlib.contract import CONTRACT, ContractError
from ppxlib.sources import CleanDataset, Dataset, open

__version__ = "0.1.0"

__all__ = ["CONTRACT", "CleanDataset", "ContractError", "Dataset", "open", "__version__"]
