"""The layers README.md draws: no import runs back up, no command module imports another, and the
engine is imported in one place.

ground (qualisys_infra/core) <- constructs (modules/) <- stacks (stacks/, bootstrap/); beside them the
wings, each by idea: plan (reading and judging plans), tenancy (the database design), config (the
tfvars files), gates (provider schema, Terraform's parser, checkov), delivery (GitHub, Kubernetes,
report, release, sign-off, test pool, local platform) and terraform (synth and the plan pipeline);
the roof is the command modules (qualisys_infra/commands) and the pytest plugin, which only parse
arguments and call the wings. Imports inside functions count too.
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
    "config": {"core", "modules", "config"},
    "gates": {"core", "gates"},
    "delivery": {"core", "tenancy", "modules", "delivery"},
    "terraform": {"core", "config", "gates", "plan", "stacks", "terraform"},
    "testing": {"core", "plan", "testing"},
    "roof": {
        "core",
        "plan",
        "tenancy",
        "modules",
        "stacks",
        "config",
        "gates",
        "delivery",
        "terraform",
        "testing",
        "roof",
    },
}
WINGS = ("core", "plan", "tenancy", "config", "gates", "delivery", "terraform", "testing")
# The command modules that are not commands: the dispatcher, the options several commands share and
# the context every command's run(args, ctx) receives.
NOT_COMMANDS = (
    "qualisys_infra.commands",
    "qualisys_infra.commands.cli",
    "qualisys_infra.commands.context",
    "qualisys_infra.commands.options",
)


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name of this project, or None for anything else."""
    parts = module.split(".")
    if parts[0] == "qualisys_infra":
        return parts[1] if len(parts) > 1 and parts[1] in WINGS else "roof"
    if parts[0] == "modules":
        return "modules"
    if parts[0] in ("stacks", "bootstrap"):
        return "stacks"
    return None


def _is_command(module: str) -> bool:
    return module.startswith("qualisys_infra.commands.") and module not in NOT_COMMANDS


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")[: -node.level]
                found.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
            elif node.module == "qualisys_infra.commands":  # `from qualisys_infra.commands import plan`
                found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
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
                if _is_command(module) and _is_command(imported) and imported != module:
                    problems.append(f"{where} (a command module imports another; share through a wing)")
    return problems


def test_no_import_runs_back_up_and_the_engine_has_one_seam() -> None:
    assert layer_violations(ROOT) == []


@pytest.mark.parametrize(
    ("path", "source", "message"),
    [
        (
            "qualisys_infra/core/naming.py",
            "from qualisys_infra.terraform.synth import synth\n",
            "terraform is not below core",
        ),
        ("qualisys_infra/plan/x.py", "import stacks.network\n", "stacks is not below plan"),
        ("qualisys_infra/tenancy/x.py", "from qualisys_infra.plan import model\n", "plan is not below tenancy"),
        ("modules/x.py", "def f():\n    from stacks.base import BaseStack\n", "stacks is not below modules"),
        ("stacks/x.py", "from qualisys_infra.config import load_settings\n", "config is not below stacks"),
        ("modules/y.py", "import cdktn\n", "the engine is imported only through qualisys_infra.core.engine"),
        (
            "qualisys_infra/config/x.py",
            "from qualisys_infra.delivery import testpool\n",
            "delivery is not below config",
        ),
        ("qualisys_infra/gates/x.py", "from qualisys_infra.terraform import synth\n", "terraform is not below gates"),
        ("qualisys_infra/delivery/x.py", "from qualisys_infra.commands import cli\n", "roof is not below delivery"),
        (
            "qualisys_infra/commands/release.py",
            "from qualisys_infra.commands import plan\n",
            "a command module imports another",
        ),
    ],
)
def test_fails_if_an_import_runs_back_up(tmp_path: Path, path: str, source: str, message: str) -> None:
    target = tmp_path / path
    target.parent.mkdir(parents=True)
    target.write_text(source, encoding="utf-8")
    (problem,) = layer_violations(tmp_path)
    assert problem.startswith(f"{path}:")
    assert message in problem
