"""No import circles, and the module layering of docs/architecture.md ("Module layering").

The graph is read from the source with :mod:`ast`; nothing is imported. Its nodes are the
modules under ``src/cultura``; an edge is an ``import``/``from ... import`` statement naming
another of them (relative imports resolved, ``from pkg import name`` taken as the submodule
``pkg.name`` when there is one). An edge is *module-level* when the statement runs on import
(also inside ``try``/``if``/``with`` blocks at the top of the module) and *lazy* when it sits in a
function. Imports under ``if TYPE_CHECKING:`` never run and are not edges, nor are modules
looked up by name (``importlib.import_module``: the tables of the package facade and of the
command line).

A *circle* is a cycle in this graph counting lazy edges too: a lazy import runs as soon as its
function does, so a cycle through one ties the modules together just the same.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

#: the layers, lowest first. A module imports from its own layer and the layers below it,
#: never from one above. A package is a layer, except its command-line modules (``cli``,
#: ``cli_*``; ``cultura/cli.py`` too), which make up the top layer, ``cli``. The package facade
#: (``cultura/__init__.py``) imports nothing of cultura and is in ``core``.
LAYERS = ("core", "adapt", "explain", "bias", "robustness", "registry", "serve", "export",
          "testing", "cli")

#: lazy imports exempt from both checks, each with the reason it stays.
#: Module-level imports are never exempt.
ALLOWED: dict[tuple[str, str], str] = {
    ("cultura.adapt.cultural_model", "cultura.explain.attribution"): (
        "model.explain(texts) is the entry point users expect on a model; the attribution code "
        "builds on the model's encoding and stays in its own package"
    ),
}


@dataclass(frozen=True)
class Edge:
    """``importer`` imports ``imported`` at ``line``; ``lazy``: only inside functions."""

    importer: str
    imported: str
    line: int
    lazy: bool

    def __str__(self) -> str:
        kind = "lazy" if self.lazy else "module-level"
        return f"{self.importer} -> {self.imported} (line {self.line}, {kind})"


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module under src/cultura: dotted name -> (file, is a package)."""
    found: dict[str, tuple[Path, bool]] = {}
    for path in sorted((SRC / "cultura").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(body: Iterable[ast.stmt], lazy: bool = False) -> Iterator[tuple[ast.stmt, bool]]:
    """The import statements in ``body`` that run, each with whether it is lazy."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, lazy
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _imports(node.orelse, lazy)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _imports(node.body, True)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from _imports([child], lazy)
                elif isinstance(child, ast.excepthandler):
                    yield from _imports(child.body, lazy)


def _known(name: str) -> str | None:
    """``name`` or its closest enclosing module under src/cultura (``None``: not cultura)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, node: ast.stmt) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if (found := _known(alias.name)) is not None:
                yield found
        return
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        package = module if MODULES[module][1] else module.rpartition(".")[0]
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        found = submodule if submodule in MODULES else _known(base)
        if found is not None:
            yield found


def _edges() -> list[Edge]:
    edges: dict[tuple[str, str], Edge] = {}
    for module, (path, _) in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, lazy in _imports(tree.body):
            for target in _targets(module, node):
                if target == module:
                    continue
                seen = edges.get((module, target))
                if seen is None or (seen.lazy and not lazy):
                    edges[(module, target)] = Edge(module, target, node.lineno, lazy)
    return sorted(edges.values(), key=lambda e: (e.importer, e.imported))


EDGES = _edges()


def layer(module: str) -> str:
    """The layer of a module: ``cli`` for command-line modules, else its package under
    ``cultura`` (``core`` for the package facade)."""
    parts = module.split(".")
    if parts[-1] == "cli" or parts[-1].startswith("cli_"):
        return "cli"
    return parts[1] if len(parts) > 1 else "core"


def cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """One cycle (first module repeated at the end) per strongly connected component: breaking
    it may leave others in the component, which the next run reports."""
    graph: dict[str, list[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, []).append(edge.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, component) for component in components]


def _cycle_in(graph: dict[str, list[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the first module (by name) of ``component``."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    for node in queue:
        for succ in sorted(graph[node]):
            if succ == start:
                return paths[node] + [start]
            if succ in component and succ not in paths:
                paths[succ] = paths[node] + [succ]
                queue.append(succ)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - a component has one


def _report(found: list[list[str]], edges: list[Edge]) -> str:
    by_pair = {(e.importer, e.imported): e for e in edges}
    lines = []
    for cycle in found:
        lines.append(" -> ".join(cycle))
        lines += [f"    {by_pair[pair]}" for pair in zip(cycle, cycle[1:], strict=False)]
    return "\n".join(lines)


def _statement(code: str) -> ast.stmt:
    return ast.parse(code).body[0]


def test_the_graph_sees_the_imports_it_should() -> None:
    pairs = {(e.importer, e.imported): e for e in EDGES}
    # "from package import submodule" at module level; an import inside a method is lazy
    assert not pairs[("cultura.adapt.build", "cultura.adapt.artifact")].lazy
    assert pairs[("cultura.adapt.cultural_model", "cultura.adapt.train")].lazy
    # "from module import name" is an edge to the module; TYPE_CHECKING imports are no edges
    assert not pairs[("cultura.serve.server", "cultura.serve.routing")].lazy
    assert ("cultura", "cultura.core.types") not in pairs
    # relative imports resolve against the importing module's package
    server = "cultura.serve.server"
    assert list(_targets(server, _statement("from .routing import route"))) == [
        "cultura.serve.routing"
    ]
    assert list(_targets(server, _statement("from . import slots, errors"))) == [
        "cultura.serve.slots", "cultura.serve.errors"
    ]
    assert list(_targets(server, _statement("from ..core.tags import Culture"))) == [
        "cultura.core.tags"
    ]
    assert list(_targets("cultura.serve", _statement("from .server import X"))) == [server]
    assert list(_targets(server, _statement("import json, cultura.adapt.model"))) == [
        "cultura.adapt.model"
    ]
    assert {layer(m) for m in MODULES} <= set(LAYERS)
    assert layer("cultura.cli") == layer("cultura.adapt.cli_common") == "cli"


def test_no_module_level_import_cycles() -> None:
    eager = [e for e in EDGES if not e.lazy]
    found = cycles(eager)
    assert not found, "module-level import cycles:\n" + _report(found, eager)


def test_no_import_circles() -> None:
    edges = [e for e in EDGES if (e.importer, e.imported) not in ALLOWED]
    found = cycles(edges)
    assert not found, "import circles (lazy imports included):\n" + _report(found, edges)


def test_imports_follow_the_layers() -> None:
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = [
        f"{e}: {layer(e.importer)} may not import from {layer(e.imported)}"
        for e in EDGES
        if rank[layer(e.imported)] > rank[layer(e.importer)]
        and (e.importer, e.imported) not in ALLOWED
    ]
    assert not upward, "imports going up the layers:\n" + "\n".join(upward)


def test_every_exception_is_still_a_lazy_import() -> None:
    edges = {(e.importer, e.imported): e for e in EDGES}
    stale = [
        f"{' -> '.join(pair)} is gone: remove it from ALLOWED" if pair not in edges
        else f"{edges[pair]}: only lazy imports may be exempt"
        for pair in sorted(ALLOWED)
        if pair not in edges or not edges[pair].lazy
    ]
    assert not stale, "\n".join(stale)
