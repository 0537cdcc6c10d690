"""No import cycles: the module graph of ``qualisys_infra/``, ``modules/`` and ``stacks/`` has no circle.

Every import counts, wherever it is written: at the top, inside a function (an import deferred to
run time still makes the two modules depend on each other) and under ``if TYPE_CHECKING``. A
strongly connected component of more than one module is a cycle; the test names its members.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("qualisys_infra", "modules", "stacks")


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """``dotted name -> file`` of every module under ``packages`` (a package is its ``__init__``)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _target(name: str, modules: Mapping[str, Path]) -> str | None:
    """The most specific known module ``name`` refers to (``a.b.c`` may be a function in ``a.b``)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in modules:
            return candidate
    return None


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """``module -> the known modules it imports``, from every import statement anywhere in its file."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    origin = ".".join([*base, node.module] if node.module else base)
                else:
                    origin = node.module or ""
                names = [f"{origin}.{alias.name}" for alias in node.names]
            else:
                continue
            for imported in names:
                target = _target(imported, modules)
                if target is not None and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def test_no_module_imports_itself_back_round_a_circle() -> None:
    modules = module_files(ROOT, PACKAGES)
    assert len(modules) > 100, "the packages were not found"
    found = cycles(import_graph(modules))
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_a_cycle_through_an_import_inside_a_function_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from pkg import c\n    return c\n")
    (package / "c.py").write_text("from . import a\n")
    (package / "d.py").write_text(
        "import pkg.a\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.e\n"
    )
    (package / "e.py").write_text("from pkg.d import x\n")
    (package / "f.py").write_text("import pkg.a\n")  # depends on the circle, is not part of it
    assert cycles(import_graph(module_files(tmp_path, ["pkg"]))) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.d", "pkg.e"]]


def test_no_cycle_in_a_tree_of_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg import b, c\n")
    (package / "b.py").write_text("import pkg.c\n")
    (package / "c.py").write_text("import json\n")
    assert cycles(import_graph(module_files(tmp_path, ["pkg"]))) == []
