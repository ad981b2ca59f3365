"""The packages meet only through public APIs, and no module of the workspace is in an import cycle.

* serf-asyncio, serf-agent, serf-cli, pyserf and the examples import serf-proto only through
  ``serf_proto`` itself or one of its public subpackages, and only names those list in
  ``__all__``;
* every name in ``serf_proto.__all__`` resolves;
* the module-level imports of every package (``TYPE_CHECKING`` blocks included) form no cycle.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "serf_proto": ROOT / "packages/serf-proto/src/serf_proto",
    "serf_asyncio": ROOT / "packages/serf-asyncio/src/serf_asyncio",
    "serf_agent": ROOT / "packages/serf-agent/src/serf_agent",
    "serf_cli": ROOT / "packages/serf-cli/src/serf_cli",
    "pyserf": ROOT / "packages/pyserf/src/pyserf",
}
#: What the other packages may import serf-proto through.
PUBLIC = (
    "serf_proto",
    "serf_proto.serf",
    "serf_proto.memberlist",
    "serf_proto.wire",
    "serf_proto.gocompat",
    "serf_proto.simulate",
    "serf_proto.sim",
)


def _modules() -> dict[str, Path]:
    """Every module of the workspace packages: dotted name -> file."""
    found: dict[str, Path] = {}
    for package, src in SOURCES.items():
        for path in src.rglob("*.py"):
            parts = path.relative_to(src).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports executed when the module loads (or seen by the type checker): the module body
    and ``if`` blocks at its top level, not function bodies (lazy imports)."""
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            stack.extend(node.body)
            stack.extend(node.orelse)
        elif isinstance(node, ast.Try):
            stack.extend(node.body)
            for handler in node.handlers:
                stack.extend(handler.body)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _edges(module: str, path: Path) -> set[str]:
    """The workspace modules ``module`` imports at load time."""
    out: set[str] = set()
    for node in _top_level_imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in MODULES)
            continue
        target = _resolve(module, node)
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            if sub in MODULES:
                out.add(sub)
            elif target in MODULES:
                out.add(target)
    out.discard(module)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _public_names(package: str) -> set[str]:
    tree = ast.parse(MODULES[package].read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"{package} has no __all__")


def test_no_module_of_the_workspace_is_in_an_import_cycle() -> None:
    graph = {name: _edges(name, path) for name, path in MODULES.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _outside_imports() -> Iterator[tuple[str, str, set[str]]]:
    """(file, serf_proto module, imported names) for every import of serf-proto from outside."""
    files = [p for name, p in MODULES.items() if not name.startswith("serf_proto")]
    files += sorted((ROOT / "examples").glob("*.py"))
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("serf_proto"):
                yield str(path.relative_to(ROOT)), node.module or "", {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("serf_proto"):
                        yield str(path.relative_to(ROOT)), alias.name, set()


def test_other_packages_import_serf_proto_only_through_its_public_api() -> None:
    wrong = []
    for where, module, names in _outside_imports():
        if module not in PUBLIC:
            wrong.append(f"{where}: imports {module}, not a public package of serf_proto")
            continue
        hidden = names - _public_names(module) - {n for n in names if f"{module}.{n}" in PUBLIC}
        if hidden:
            wrong.append(f"{where}: {sorted(hidden)} not in {module}.__all__")
    assert wrong == []


@pytest.mark.parametrize("name", sorted(_public_names("serf_proto")))
def test_every_public_name_of_serf_proto_resolves(name: str) -> None:
    assert getattr(importlib.import_module("serf_proto"), name) is not None
