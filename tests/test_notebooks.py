"""The notebooks in notebooks/ are worked guides: each must run top to bottom as committed,
and on another input than its own.

``pytest`` runs every notebook itself (nbmake, ``testpaths`` in pyproject.toml): each
executes in a fresh Jupyter kernel with notebooks/ as the working directory, exactly as a
reader's "Run all" would, and fails on any error. :func:`test_runs_on_a_second_input`
runs each once more on a second shipped input, the way papermill would: a cell that sets
new parameters is inserted after the ``parameters`` cell, and the notebook runs in a fresh
kernel through nbclient (the executor nbmake uses), with ``TMPDIR`` pointed at an empty
folder that must still be empty when the kernel has exited. Names a notebook varies (a
function, a client) are left to its defaults, which choose them from the scenario.

These tests also check what makes the notebooks guides: committed without outputs, a
``parameters`` cell first (the papermill convention, so a reader can change the inputs and
run again), a conclusion shown as Markdown at the end, and never Locust in the kernel,
directly or through what the notebooks import (gevent would monkey-patch it).
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
#: Imports that would pull Locust (and gevent's monkey-patching) into a kernel.
_LOCUST_IMPORT = re.compile(r"^\s*(from|import)\s+(locust|gevent|loadtests\.(runner|locustfile))\b", re.MULTILINE)
#: Run last in each kernel: nothing imported Locust or gevent along the way.
_NO_GEVENT_CHECK = (
    "import sys\n"
    "assert not [m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')], 'Locust/gevent was imported'"
)
_TIMEOUT_S = 300
#: Per notebook: the parameters of its second run (values only; the names it varies are chosen from
#: the input), and words its conclusion must then contain (names the notebook had to find there).
SECOND_INPUTS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "capacity_planning": ({"SCENARIO": "../scenarios/slow_integration_retry_storm.toml",
                           "LOAD_FACTORS": [0.75, 1.0, 1.5], "SLOS": ["rate_5xx<5%", "p99<30s"]},
                          ["reserved concurrency 150", "`reports`"]),
    "calibrate_from_logs": ({"TEMPLATE": "../tests/data/stack/sam_http.yaml"},
                            ["2 routes, 0 usage plans", "`ReservedConcurrentExecutions: "]),
    "cost_what_if": ({"SCENARIO": "../scenarios/flash_sale.toml", "DURATION": "30s"}, ["browse invocations"]),
    "validation": ({"VALIDATION_DIR": "data/validation-usage-plans"}, ["`fraction_429`: predicted 0.4034"]),
    "quota_forecast": ({"SCENARIO": "../scenarios/validation/usage_plan_keys.toml", "HORIZON": "2d"},
                       ["**metered** runs out", "0h00m17s"]),
}


def _read(path: Path) -> Any:
    nbformat = pytest.importorskip("nbformat")
    return nbformat.read(path, as_version=4)


def _code_cells(nb: Any) -> list[Any]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_every_guide_is_there() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert {"capacity_planning.ipynb", "cost_what_if.ipynb", "quota_forecast.ipynb", "validation.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    for index, cell in enumerate(_code_cells(_read(path))):
        assert cell.outputs == [], f"{path.name}: code cell {index} has outputs; clear them before committing"
        assert cell.execution_count is None, f"{path.name}: code cell {index} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_holds_the_parameters(path: Path) -> None:
    first = _code_cells(_read(path))[0]
    assert "parameters" in first.metadata.get("tags", []), f"{path.name}: first code cell is not tagged 'parameters'"
    assert first.source.startswith("# Parameters"), f"{path.name}: first code cell does not start with '# Parameters'"
    assert "import" not in first.source, f"{path.name}: the parameters cell should hold values only"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_never_imports_locust(path: Path) -> None:
    for index, cell in enumerate(_code_cells(_read(path))):
        match = _LOCUST_IMPORT.search(cell.source)
        assert match is None, f"{path.name}: code cell {index} imports {match.group(2) if match else ''}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_ends_with_a_conclusion_in_markdown(path: Path) -> None:
    last = _code_cells(_read(path))[-1].source.rstrip().splitlines()[-1]
    assert last.startswith("Markdown("), f"{path.name}: the last code cell should end by showing Markdown"


def test_what_the_notebooks_import_does_not_bring_locust() -> None:
    """Every import line of every notebook, run in one fresh interpreter: no Locust, no gevent."""
    import subprocess
    import sys

    lines = sorted({line.strip() for p in NOTEBOOKS for cell in _code_cells(_read(p))
                    for line in cell.source.splitlines() if re.match(r"^(import|from)\s", line.strip())})
    assert len(lines) > 10
    program = "\n".join([*lines, _NO_GEVENT_CHECK])
    done = subprocess.run([sys.executable, "-c", program], cwd=NOTEBOOKS_DIR, capture_output=True, text=True,
                          timeout=_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-2000:]


def _with_parameters(nb: Any, values: dict[str, Any]) -> Any:
    """*nb* with a cell setting *values* after its parameters cell, as papermill injects one."""
    nbformat = pytest.importorskip("nbformat")
    cells = list(nb.cells)
    first = next(i for i, cell in enumerate(cells) if cell.cell_type == "code")
    declared = {t.id for node in ast.parse(cells[first].source).body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}
    assert set(values) <= declared, f"not parameters of the notebook: {sorted(set(values) - declared)}"
    source = "# Parameters (injected)\n" + "".join(f"{name} = {value!r}\n" for name, value in values.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells = [*cells[:first + 1], injected, *cells[first + 1:], nbformat.v4.new_code_cell(_NO_GEVENT_CHECK)]
    return nb


def test_an_injected_cell_follows_the_parameters() -> None:
    nb = _with_parameters(_read(NOTEBOOKS_DIR / "quota_forecast.ipynb"), {"HORIZON": "2d"})
    code = _code_cells(nb)
    assert "parameters" in code[0].metadata["tags"] and code[1].source.endswith("HORIZON = '2d'\n")
    with pytest.raises(AssertionError, match="NOT_A_PARAMETER"):
        _with_parameters(_read(NOTEBOOKS_DIR / "quota_forecast.ipynb"), {"NOT_A_PARAMETER": 1})


def test_every_notebook_has_a_second_input() -> None:
    assert set(SECOND_INPUTS) == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("name", sorted(SECOND_INPUTS))
def test_runs_on_a_second_input(name: str, tmp_path: Path) -> None:
    nbclient = pytest.importorskip("nbclient")
    values, expected = SECOND_INPUTS[name]
    nb = _with_parameters(_read(NOTEBOOKS_DIR / f"{name}.ipynb"), values)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    client = nbclient.NotebookClient(nb, timeout=_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    client.execute(env={**os.environ, "TMPDIR": str(scratch)})
    conclusion = "".join(out.get("data", {}).get("text/markdown", "") for out in _code_cells(nb)[-2].outputs)
    assert conclusion, f"{name}: no conclusion shown"
    for words in expected:
        assert words in conclusion, f"{name}: {words!r} not in the conclusion:\n{conclusion}"
    assert sorted(p.name for p in scratch.iterdir()) == [], f"{name} left temporary files behind"
