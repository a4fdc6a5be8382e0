"""pyproject.toml is the single source of dependencies; environment.yml must mirror it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pandas as pd
import yaml

from conftest import ROOT

# conda-forge spells a few PyPI requirements differently.
CONDA_NAMES = {"ibis-framework[duckdb]": "ibis-duckdb", "ibis-framework[pyspark]": "ibis-pyspark",
               "pyspark[connect]": "pyspark"}
# ... and has no extras: these are listed one by one (pyspark 4.0's [connect] extra).
CONDA_EXTRAS = {"pyspark[connect]": {"grpcio": ">=1.67", "grpcio-status": ">=1.67",
                                     "googleapis-common-protos": ">=1.65"}}


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
        found.update(CONDA_EXTRAS.get(name, {}))
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


# --------------------------------------------------------------------------- test set-up


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "PPX_REQUIRE_SPARK"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-rs", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**environ, **env})


def test_spark_tests_are_skipped_in_one_line_when_java_home_points_nowhere():
    run = _pytest("tests/test_spark.py", JAVA_HOME="/nowhere")
    assert run.returncode == 5, run.stdout + run.stderr  # 5: nothing ran, nothing failed
    skipped = [line for line in run.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1, run.stdout
    assert re.search(r"tests/test_spark.py:\d+: Spark tests skipped: JAVA_HOME=/nowhere has "
                     r"no bin/java; Spark needs Java 17$", skipped[0]), skipped
    assert "error" not in run.stdout.lower()


def test_ci_can_insist_that_the_spark_tests_run():
    run = _pytest("tests/test_spark.py", JAVA_HOME="/nowhere", PPX_REQUIRE_SPARK="1")
    assert run.returncode != 0
    assert "PPX_REQUIRE_SPARK is set but Spark cannot run: JAVA_HOME=/nowhere" in run.stdout


def _tasks_block(command: str) -> str:
    text = (ROOT / "tasks").read_text()
    match = re.search(rf"^    {re.escape(command)}\)\n(.*?)^        ;;", text, re.M | re.S)
    assert match, command
    return match.group(1)


def test_tasks_install_with_the_constraints_file():
    text = (ROOT / "tasks").read_text()
    installs = [line for line in text.splitlines() if "pip install" in line
                and "--upgrade pip" not in line and not line.lstrip().startswith("#")]
    assert installs and all("-c constraints.txt" in line for line in installs), installs


def test_the_constraints_pin_every_dependency_within_its_range():
    from packaging.requirements import Requirement
    from packaging.version import Version

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = Version(version)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    for text in requirements:
        requirement = Requirement(text)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"{name} is not in constraints.txt: run ./tasks constraints"
        assert requirement.specifier.contains(pins[name]), (text, str(pins[name]))


def test_test_fast_skips_spark_and_installs_no_pyspark():
    block = _tasks_block("test-fast")
    assert 'ensure_env "dev"' in block and '-m "not spark"' in block


def test_lab_registers_the_kernel_the_notebooks_name_and_runs_as_root():
    block = _tasks_block("lab")
    names = {nbformat_kernel(path) for path in (ROOT / "notebooks").glob("*.ipynb")}
    assert len(names) == 1
    assert f"--name {names.pop()} " in block and "--user" not in block
    assert '[ "$(id -u)" = 0 ] && root=(--allow-root)' in block and '"${root[@]}"' in block


def nbformat_kernel(path) -> str:
    import json

    return json.loads(path.read_text())["metadata"]["kernelspec"]["name"]


def test_the_license_is_an_spdx_expression_setuptools_understands():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    assert pyproject["build-system"]["requires"] == ["setuptools>=77"]  # PEP 639 support
