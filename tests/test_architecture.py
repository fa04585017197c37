"""The shape of the code (SPEC §2, STYLE.md): layers with arrows only downward, no import cycles
(also none hidden in function-level imports), one place that commits, modules of one concern."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("keys", "verifier", "wallet_export", "issuer")
# What each package may import of ours.
ALLOWED = {
    "keys": set(),
    "verifier": {"keys"},
    "wallet_export": {"keys", "verifier"},
    "issuer": {"keys", "verifier", "wallet_export"},
}
MAX_LINES = 400


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def _imports(path: Path, module: str) -> set[str]:
    """Every first-party module `path` imports, at any depth (function-level imports too)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = dict(_modules())
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        # `from pkg import module` names a module; `from module import name` names the module.
        edges[name] = {target if target in modules else target.rpartition(".")[0] for target in _imports(path, name)}
        edges[name] = {target for target in edges[name] if target in modules and target != name}
    return edges


def test_layers_point_only_downward(graph: dict[str, set[str]]) -> None:
    wrong = [
        f"{source} imports {target}"
        for source, targets in graph.items()
        for target in targets
        if target.split(".")[0] != source.split(".")[0] and target.split(".")[0] not in ALLOWED[source.split(".")[0]]
    ]
    assert wrong == []


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    # A package's __init__ re-exporting its own modules is not a cycle of behaviour: ignore the
    # edges from a package to its own submodules.
    edges = {source: {t for t in targets if not t.startswith(source + ".")} for source, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert cycles == []


def test_only_the_unit_of_work_commits() -> None:
    committing = [
        f"{path.relative_to(ROOT)}:{number}"
        for _, path in _modules()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ".commit()" in line and path != ROOT / "issuer" / "db.py"
    ]
    assert committing == []


def test_modules_stay_small() -> None:
    big = [
        f"{path.relative_to(ROOT)} ({lines} lines)"
        for _, path in _modules()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert big == []
