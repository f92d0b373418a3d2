"""The independent Lambda runtime is checked against the model, so it must not be built
from the model: none of its modules (nor the authorizer server beside it) may import the
model's Lambda pools, its gateway, its engines or its integrations (the authorizer's
cache and policy among them), directly or through another module of the project it uses. Checked
statically, on the source.

Packages' ``__init__`` modules are not followed: ``simulator/__init__.py`` loads the
engines to offer ``simulator.simulate``, which the runtime never calls; what counts is
which modules the runtime's code takes anything from."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_MODULES = ("loadtests.target.lambda_runtime", "loadtests.target.lambda_limits",
                   "loadtests.target.lambda_processes", "loadtests.target.lambda_worker",
                   "loadtests.target.lambda_authorizers")
FORBIDDEN = ("simulator.functions", "simulator.gateway", "simulator.engine", "simulator.integrations")


def module_path(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imports_of(module: str) -> set[str]:
    """Every module *module* imports, at any depth of its source (absolute names)."""
    path = module_path(module)
    assert path is not None, module
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)  # "from pkg import module"
    return out


def reachable(start: tuple[str, ...]) -> dict[str, str]:
    """Modules reachable from *start* through the project's own modules: {module: importer}."""
    seen: dict[str, str] = {m: "" for m in start}
    todo = list(start)
    while todo:
        module = todo.pop()
        for name in imports_of(module):
            parents = [".".join(name.split(".")[: i + 1]) for i in range(name.count(".") + 1)]
            for part in parents:
                if part not in seen and part.split(".")[0] in ("loadtests", "simulator"):
                    seen[part] = module
                    path = module_path(part)
                    if path is not None and path.name != "__init__.py":
                        todo.append(part)
    return seen


def test_the_runtime_imports_nothing_from_the_models_lambda_gateway_engine_or_integrations():
    seen = reachable(RUNTIME_MODULES)
    bad = {m: importer for m, importer in seen.items() if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)}
    assert not bad, f"imported by the runtime (module: importer): {bad}"


def test_the_check_sees_an_import_through_another_module():
    seen = reachable(("loadtests.target.runtime",))
    assert "simulator.functions.pool" in seen
    assert "simulator.integrations.authorizer" in reachable(("loadtests.target.emulated",))


def test_the_worker_imports_the_standard_library_only():
    names = {n.split(".")[0] for n in imports_of("loadtests.target.lambda_worker")}
    assert not names & {"loadtests", "simulator", "numpy", "aiohttp"}, names
