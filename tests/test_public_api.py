"""The public API is what ``simulator.__all__`` says, and the notebooks use nothing else."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import simulator

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_every_public_name_resolves() -> None:
    assert len(set(simulator.__all__)) == len(simulator.__all__)
    missing = [name for name in simulator.__all__ if not hasattr(simulator, name)]
    assert missing == []


def test_both_kinds_of_result_are_public() -> None:
    scenario = simulator.parse_scenario({
        "name": "tiny", "duration": "2s",
        "routes": [{"name": "GET /x", "function": "f"}],
        "functions": [{"name": "f", "duration": "10ms"}],
        "clients": [{"name": "c", "routes": {"GET /x": 1}, "arrivals": {"process": "uniform", "rate": 5}}],
    })
    assert isinstance(simulator.simulate(scenario, engine="simpy"), simulator.Result)
    if simulator.engine.fast_engine_unavailable(scenario) is None:
        assert isinstance(simulator.simulate(scenario, engine="fast", record=False), simulator.AggregateResult)


def test_importing_the_package_loads_no_heavy_library() -> None:
    code = ("import sys, simulator; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'numba', 'pandas', 'simpy', "
            "'locust', 'gevent', 'loadtests'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _simulator_names(source: str) -> list[str]:
    """What a notebook cell takes from ``simulator``: names imported from it, and ``simulator.X``."""
    tree = ast.parse(source)
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("simulator"):
            if node.module != "simulator":
                names.append(node.module)
            else:
                names += [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names if a.name.startswith("simulator.")]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "simulator":
            names.append(node.attr)
    return names


def test_the_name_check_sees_private_uses() -> None:
    assert _simulator_names("import simulator\nfrom simulator.sweep import x\nsimulator.engine.y\n") == [
        "simulator.sweep", "engine"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_use_only_public_names(path: Path) -> None:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    used = _simulator_names(source)
    assert used, f"{path.name} does not use simulator at all?"
    assert sorted(set(used) - set(simulator.__all__)) == []
