"""The public API is what ``simulator.__all__`` says, and the notebooks use nothing else."""

from __future__ import annotations

import ast
import json
import re
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


#: What ``throttlesim run S --engine simpy`` must not load, by package or module prefix: the
#: heavy libraries, the studies and the validation (a process pool, multiprocessing), the
#: registered commands (load tests, stack import/export) and the cost views.
_NOT_FOR_A_RUN = ("matplotlib", "pandas", "numba", "locust", "gevent", "aiohttp", "cfnlint", "boto3", "yaml",
                  "multiprocessing", "concurrent.futures.process", "loadtests", "simulator.studies",
                  "simulator.validate", "simulator.stack", "simulator.plots",
                  # the fast engine but its layout (simulator.results.aggregate reads its constants)
                  "simulator.engine.fast.engine", "simulator.engine.fast.loop", "simulator.engine.fast.attempt",
                  "simulator.engine.fast.clients", "simulator.engine.fast.functions", "simulator.engine.fast.gateway",
                  "simulator.engine.fast.heap", "simulator.engine.fast.inputs", "simulator.engine.fast.lambda_function",
                  "simulator.engine.fast.rules", "simulator.engine.fast.streams", "simulator.engine.fast.tallies",
                  "simulator.cli.cost", "simulator.scenario.diff")
_LOADED_BY = """
import contextlib, io, sys
from simulator.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(code, *sorted(sys.modules))
"""


def _modules_loaded_by(*argv: str) -> tuple[int, set[str]]:
    out = subprocess.run([sys.executable, "-c", _LOADED_BY, *argv], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent).stdout.split()
    return int(out[0]), set(out[1:])


def _matching(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(f"{p}.") for p in prefixes))


def test_the_module_check_sees_what_it_looks_for() -> None:
    assert _matching({"pandas.core", "pandasx", "simulator.studies.sweep", "simulator.engine.fast.loop", "numbat",
                      "simulator.engine.fast.layout"},
                     _NOT_FOR_A_RUN) == ["pandas.core", "simulator.engine.fast.loop", "simulator.studies.sweep"]


@pytest.mark.parametrize("scenario", ["rest_usage_plans", "http_api_routes"])
def test_a_small_run_loads_only_what_it_needs(scenario: str) -> None:
    code, loaded = _modules_loaded_by("run", f"scenarios/{scenario}.toml", "--engine", "simpy", "--set", "duration=5s")
    assert code == 0
    assert {"simulator.engine.reference", "simpy", "rich", "numpy", "pydantic"} <= loaded
    assert _matching(loaded, _NOT_FOR_A_RUN) == []


def test_a_run_printing_json_loads_no_table_renderer() -> None:
    code, loaded = _modules_loaded_by("run", "scenarios/rest_usage_plans.toml", "--engine", "simpy", "--json",
                                      "--set", "duration=5s")
    assert code == 0
    assert _matching(loaded, (*_NOT_FOR_A_RUN, "rich", "simulator.cli.report")) == []


def test_help_still_lists_the_registered_commands() -> None:
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "--help"], capture_output=True, text=True,
                          check=True)
    listed = set(re.findall(r"^    (\w+)\s", done.stdout, re.MULTILINE))
    assert {"run", "cost", "sweep", "plan", "quota", "warmup", "check", "serve", "loadtest", "validate", "import",
            "export", "calibrate"} <= listed


def test_a_registered_command_is_found_by_its_name() -> None:
    code, loaded = _modules_loaded_by("calibrate", "tests/data/stack/no-such-scenario.toml")
    assert code == 2
    assert "simulator.stack.cli" in loaded
