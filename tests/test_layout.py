"""The package's layout, checked statically: layers without import cycles, the simulator
independent of the load tests, and modules and functions short enough to read.

The import graph is read from the source with :mod:`ast`, not by importing: an edge runs
from a module to every ``simulator`` module it imports, at module level or inside a
function (a function-level import is still a dependency), except under ``if TYPE_CHECKING:``,
which only annotations see. ``from package import name`` points at the submodule when
``name`` is one, else at the package. As in most import-graph tools, the implicit import
of a module's parent packages is not an edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(root: Path = ROOT) -> dict[str, Path]:
    return {_module_name(p, root): p for p in sorted((root / "simulator").rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, *, runtime_only: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and runtime_only and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _imports(ast.Module([child], []), runtime_only=True))
        else:
            yield from _imports(node, runtime_only=runtime_only)


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]) -> Iterator[str]:
    """The known modules *node* imports: a ``from`` import's submodules, else its package."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names if alias.name in known)
        return
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    for alias in node.names:
        if f"{base}.{alias.name}" in known:
            yield f"{base}.{alias.name}"
        elif base in known:
            yield base


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Each simulator module and the simulator modules it imports at run time."""
    sources = _sources(root)
    known = set(sources)
    graph: dict[str, set[str]] = {}
    for module, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        edges = {t for node in _imports(tree, runtime_only=True) for t in _targets(module, is_package, node, known)}
        edges.discard(module)
        graph[module] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_the_imports_it_should() -> None:
    graph = import_graph()
    assert "simulator.scenario.schema" in graph["simulator.scenario.clients"] | graph["simulator.scenario"]
    assert "simulator.engine.fast.layout" in graph["simulator.engine.fast.attempt"]  # from package import module
    assert "simulator.engine.fast.engine" in graph["simulator.engine"]  # inside a function
    assert "simulator.results.records" not in graph["simulator.results.timeseries"]  # under TYPE_CHECKING only


def test_a_cycle_is_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_among_simulator_modules() -> None:
    assert _cycles(import_graph()) == []


def test_no_module_inside_the_package_imports_the_package_root() -> None:
    """``simulator/__init__.py`` is the public API over everything else; a module below it
    that imported it back would close a cycle through the root."""
    graph = import_graph()
    inside = [m for m, edges in graph.items() if "simulator" in edges and not m.startswith("simulator.cli")]
    assert inside == []


def test_the_simulator_never_imports_the_load_tests() -> None:
    found = []
    for module, path in _sources().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _imports(tree, runtime_only=False):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{module}: {n}" for n in names if n.split(".")[0] in ("loadtests", "locust", "gevent")]
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("loadtests."):
                found.append(f"{module}: {node.value!r}")
    assert found == []


def test_underscore_names_stay_inside_their_package() -> None:
    sources = _sources()
    found = []
    for module, path in sources.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("simulator")):
                continue
            source = node.module or ""
            source_package = source if source in sources and sources[source].name == "__init__.py" \
                else source.rpartition(".")[0]
            found += [f"{module} imports {source}.{a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__") and source_package != package]
    assert found == []


# --------------------------------------------------------------------------- sizes

#: The longest a module may be, in lines, and a function, from ``def`` to its last line.
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
#: The code whose size is checked.
SIZED = ("simulator", "loadtests", "benchmarks")
#: The functions allowed to be longer, each with why.
LONG_FUNCTIONS = {
    "simulator/engine/fast/loop.py:run": "the compiled event loop: one numba function, so that its state stays in "
                                         "local variables and every event is handled without a call",
}


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """Each function and method in *tree* (nested ones too), as ``Class.name``, with its length in lines."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno is not None
            yield f"{prefix}{node.name}", node.end_lineno - node.lineno + 1
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def too_long(name: str, text: str, allowed: Mapping[str, str] = LONG_FUNCTIONS) -> list[str]:
    """What in the module *name* (a path relative to the root), whose source is *text*, is
    longer than the limits."""
    found = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"{name}: {lines} lines (at most {MAX_MODULE_LINES})")
    for function, length in _functions(ast.parse(text)):
        if length > MAX_FUNCTION_LINES and f"{name}:{function}" not in allowed:
            found.append(f"{name}:{function}: {length} lines (at most {MAX_FUNCTION_LINES})")
    return found


def _function(lines: int, indent: str = "") -> str:
    """The source of a function ``f`` of *lines* lines, ``def`` included."""
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 1))
    return f"{indent}def f():\n{body}"


def test_a_long_module_or_function_is_found() -> None:
    assert too_long("m.py", _function(MAX_FUNCTION_LINES)) == []
    method = "class A:\n" + _function(MAX_FUNCTION_LINES + 1, "    ")
    assert too_long("m.py", method) == [f"m.py:A.f: {MAX_FUNCTION_LINES + 1} lines (at most {MAX_FUNCTION_LINES})"]
    assert too_long("m.py", method, {"m.py:A.f": "why"}) == []
    assert too_long("m.py", "x = 1\n" * MAX_MODULE_LINES) == []
    long_module = "x = 1\n" * (MAX_MODULE_LINES + 1)
    assert too_long("m.py", long_module) == [f"m.py: {MAX_MODULE_LINES + 1} lines (at most {MAX_MODULE_LINES})"]


def test_no_module_or_function_is_too_long() -> None:
    found = []
    for folder in SIZED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            found += too_long(name, path.read_text(encoding="utf-8"))
    assert found == []


def test_every_long_function_allowed_still_exists_and_is_long() -> None:
    """An allowance outlives its reason when the function is split or renamed."""
    for key in LONG_FUNCTIONS:
        name, _, function = key.partition(":")
        lengths = dict(_functions(ast.parse((ROOT / name).read_text(encoding="utf-8"))))
        assert lengths.get(function, 0) > MAX_FUNCTION_LINES, key
