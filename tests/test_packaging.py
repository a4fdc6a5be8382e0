"""pyproject.toml is the single source of dependencies; environment.yml must mirror it."""

from __future__ import annotations

import re
import tomllib

import pandas as pd
import yaml

from conftest import ROOT

# conda-forge spells a few PyPI requirements differently.
CONDA_NAMES = {"ibis-framework[duckdb]": "ibis-duckdb", "ibis-framework[pyspark]": "ibis-pyspark"}


def _split(requirement: str) -> tuple[str, str]:
    requirement = requirement.split("#")[0].strip()
    match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", requirement)
    assert match, requirement
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    found = {}
    for requirement in requirements:
        name, spec = _split(requirement)
        found[CONDA_NAMES.get(name, name)] = spec
    return found


def _environment() -> tuple[dict[str, str], list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep.get("pip", [])
            continue
        name, spec = _split(dep)
        if name not in ("python", "pip"):
            found[name] = spec
    return found, pip


def test_environment_yml_mirrors_pyproject_dependencies():
    conda, _ = _environment()
    assert conda == _pyproject()


def test_environment_yml_installs_the_package_itself_with_pip():
    _, pip = _environment()
    assert "-e ." in pip


def test_python_versions_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.removeprefix("python") == project["requires-python"]


def test_ppx_command_is_the_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["ppx"] == "ppxlib.cli:main"


def test_committed_notebooks_carry_no_outputs():
    import nbformat

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name
        assert nb.metadata["kernelspec"]["name"] == "python3", path.name
        assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), path.name


def test_the_public_names_design_promises_exist():
    import ppxlib

    for name in ("open", "rfm_summary", "cohort_retention", "fit_clv", "nps", "csat", "ces"):
        assert callable(getattr(ppxlib, name)), name
    orders = pd.DataFrame({"order_id": [1], "customer_id": ["a"], "amount": [1.0],
                           "order_ts": pd.to_datetime(["2024-01-01"])})
    dataset = ppxlib.open({"orders": orders})
    assert {"orders", "returns", "surveys", "tickets", "validate"} <= set(dir(dataset))
