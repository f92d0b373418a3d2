"""The notebooks in notebooks/ are worked guides: each must run top to bottom as committed.

``pytest`` runs every notebook itself (nbmake, ``testpaths`` in pyproject.toml): each
executes in a fresh Jupyter kernel with notebooks/ as the working directory, exactly as a
reader's "Run all" would, and fails on any error. These tests check what makes them
guides: committed without outputs, a ``parameters`` cell first (the papermill
convention, so a reader can change the inputs and run again), a conclusion shown as
Markdown at the end, and never Locust in the kernel, directly or through what the
notebooks import (gevent would monkey-patch it).
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
