"""The notebooks in notebooks/ are worked guides: each must run top to bottom as committed.

A notebook is committed without outputs and starts with a ``parameters`` cell (the
papermill convention), so a reader can change its inputs and run it again. Running one
executes its cells in a fresh Jupyter kernel with notebooks/ as the working directory,
exactly as a reader's "Run all" would. The kernel must never import Locust, directly or
through ``loadtests.runner``: gevent would monkey-patch it; the last check proves it did not.

These tests need the ``test`` extra's nbclient and ipykernel (skipped without them), and
take tens of seconds each: they run real simulations and sweeps.
"""

from __future__ import annotations

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
def test_runs_top_to_bottom(path: Path) -> None:
    pytest.importorskip("ipykernel")
    nbclient = pytest.importorskip("nbclient")
    from nbformat.v4 import new_code_cell

    nb = _read(path)
    nb.cells.append(new_code_cell(_NO_GEVENT_CHECK))
    client = nbclient.NotebookClient(
        nb, timeout=_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS_DIR)}}
    )
    client.execute()  # raises CellExecutionError, with the failing cell and traceback, on any error
    errors = [o for cell in _code_cells(nb) for o in cell.outputs if o.output_type == "error"]
    assert errors == []
    # Every guide ends with a conclusion computed from its data, shown as Markdown.
    last = _code_cells(nb)[-2]
    shown = [o for o in last.outputs if o.output_type in ("execute_result", "display_data")]
    assert any("text/markdown" in o.data for o in shown), f"{path.name}: the conclusion cell shows no Markdown"
