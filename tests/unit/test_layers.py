"""The layers README.md draws: no import runs back up, and the engine is imported in one place.

ground (qualisys_infra/core) <- constructs (modules/) <- stacks (stacks/, bootstrap/) <- roof
(qualisys_infra/app, the pytest plugin); the wings (qualisys_infra/plan, qualisys_infra/tenancy)
stand beside the constructs and import the ground only. Imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

ENGINE_PACKAGES = ("cdktn", "cdktn_provider_aws", "cdktn_provider_kubernetes", "cdktn_provider_helm", "constructs")
# What each layer may import (besides the standard library and third-party packages).
ALLOWED = {
    "core": {"core"},
    "plan": {"core", "plan"},
    "tenancy": {"core", "tenancy"},
    "modules": {"core", "modules"},
    "stacks": {"core", "modules", "stacks"},
    "roof": {"core", "plan", "tenancy", "modules", "stacks", "roof"},
}


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name of this project, or None for anything else."""
    parts = module.split(".")
    if parts[0] == "qualisys_infra":
        if len(parts) == 1 or parts[1] in ("app", "pytest_plugin", "__main__"):
            return "roof"
        return {"core": "core", "plan": "plan", "tenancy": "tenancy"}.get(parts[1], "roof")
    if parts[0] == "modules":
        return "modules"
    if parts[0] in ("stacks", "bootstrap"):
        return "stacks"
    return None


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: -node.level]
                found.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def layer_violations(root: Path) -> list[str]:
    """Every import under ``root`` that runs back up a layer or reaches the engine outside its seam."""
    problems = []
    for folder in ("qualisys_infra", "modules", "stacks", "bootstrap"):
        for path in sorted((root / folder).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
            layer = layer_of(module)
            if layer is None:
                continue
            for line, imported in _imports(path, module):
                where = f"{path.relative_to(root)}:{line}: {layer} imports {imported}"
                if imported.split(".")[0] in ENGINE_PACKAGES and not module.startswith("qualisys_infra.core.engine"):
                    problems.append(f"{where} (the engine is imported only through qualisys_infra.core.engine)")
                target = layer_of(imported)
                if target is not None and target not in ALLOWED[layer]:
                    problems.append(f"{where} ({target} is not below {layer})")
    return problems


def test_no_import_runs_back_up_and_the_engine_has_one_seam() -> None:
    assert layer_violations(ROOT) == []


@pytest.mark.parametrize(
    ("path", "source", "message"),
    [
        ("qualisys_infra/core/naming.py", "from qualisys_infra.app.synth import synth\n", "roof is not below core"),
        ("qualisys_infra/plan/x.py", "import stacks.network\n", "stacks is not below plan"),
        ("qualisys_infra/tenancy/x.py", "from qualisys_infra.plan import model\n", "plan is not below tenancy"),
        ("modules/x.py", "def f():\n    from stacks.base import BaseStack\n", "stacks is not below modules"),
        ("stacks/x.py", "from qualisys_infra.app.config import load_settings\n", "roof is not below stacks"),
        ("modules/y.py", "import cdktn\n", "the engine is imported only through qualisys_infra.core.engine"),
    ],
)
def test_fails_if_an_import_runs_back_up(tmp_path: Path, path: str, source: str, message: str) -> None:
    target = tmp_path / path
    target.parent.mkdir(parents=True)
    target.write_text(source, encoding="utf-8")
    (problem,) = layer_violations(tmp_path)
    assert problem.startswith(f"{path}:")
    assert message in problem
