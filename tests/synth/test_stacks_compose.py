"""Stacks only compose: they build no engine resource themselves and, like every construct, read no
file during synth. Checked on the source (the AST), so nothing is synthesized here.

A stack that needs a resource gets it from a construct in ``modules/``; values, templates and data
are Python, or read once by a loader in ``modules/`` at import time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

STACKS = sorted((ROOT / "stacks").glob("*.py"))
CONSTRUCTS = sorted((ROOT / "modules").rglob("*.py")) + sorted((ROOT / "bootstrap").glob("*.py"))
# The engine's resource bindings: importing one means building resources (or data sources) by hand.
BINDINGS = (
    "qualisys_infra.core.engine.aws",
    "qualisys_infra.core.engine.kubernetes",
    "qualisys_infra.core.engine.helm",
)
ENGINE_PACKAGES = ("cdktn", "cdktn_provider_", "constructs")
# Every stack's base configures the AWS provider (and the backend): that is what makes it a stack.
ALLOWED_BINDINGS = {("base.py", "qualisys_infra.core.engine.aws", "provider")}
# IAM is built by intent helpers in modules/ (modules.policy's statements, a construct's grants): a stack
# that imports these writes policy statements itself.
IAM_BUILDERS = {("modules.policy", name) for name in ("Statement", "Condition", "Effect", "policy_document")}
# A construct takes the settings it uses as typed props fields, never a whole settings object.
WHOLE_SETTINGS = {("qualisys_infra.core.settings", name) for name in ("Settings", "AccountConfig", "EnvironmentConfig")}
FILE_MODULES = ("pathlib", "io", "os", "shutil", "glob", "jinja2", "importlib.resources", "tempfile")
FILE_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "iterdir", "glob", "rglob"}


def engine_resource_uses(source: str, filename: str) -> list[str]:
    """Where ``source`` imports the engine's resource bindings (or the engine packages themselves)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if (filename, node.module, alias.name) in ALLOWED_BINDINGS:
                    continue
                full = f"{node.module}.{alias.name}"
                if node.module.startswith(BINDINGS) or full.startswith(BINDINGS) or _engine(node.module):
                    found.append(f"{filename}:{node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(BINDINGS) or _engine(alias.name):
                    found.append(f"{filename}:{node.lineno}: import {alias.name}")
    return found


def imports_of(source: str, filename: str, names: set[tuple[str, str]]) -> list[str]:
    """Where ``source`` imports one of ``names`` (module, name), or the whole module of one."""
    found = []
    modules = {module for module, _ in names}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [
                f"{filename}:{node.lineno}: from {node.module} import {alias.name}"
                for alias in node.names
                if (node.module, alias.name) in names
            ]
        elif isinstance(node, ast.Import):
            found += [f"{filename}:{node.lineno}: import {a.name}" for a in node.names if a.name in modules]
    return found


def file_reads(source: str, filename: str) -> list[str]:
    """Where ``source`` touches the file system: file modules, ``open()`` and ``Path`` methods, ``__file__``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found += [
                f"{filename}:{node.lineno}: imports {n}"
                for n in names
                if n in FILE_MODULES or n.startswith(tuple(f"{m}." for m in FILE_MODULES))
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in FILE_CALLS:
                found.append(f"{filename}:{node.lineno}: calls {name}()")
        elif isinstance(node, ast.Name) and node.id in ("__file__", "Path"):
            found.append(f"{filename}:{node.lineno}: uses {node.id}")
    return sorted(found, key=_by_line)


def _by_line(finding: str) -> tuple[int, str]:
    _, line, text = finding.split(":", 2)
    return int(line), text


def _engine(module: str) -> bool:
    return module == "cdktn" or module.startswith(("cdktn.", "cdktn_provider_", "constructs"))


@pytest.mark.parametrize("path", STACKS, ids=lambda p: p.name)
def test_stacks_build_no_engine_resource_themselves(path: Path) -> None:
    assert engine_resource_uses(path.read_text(encoding="utf-8"), path.name) == []


@pytest.mark.parametrize("path", STACKS, ids=lambda p: p.name)
def test_stacks_write_no_iam_statement_themselves(path: Path) -> None:
    assert imports_of(path.read_text(encoding="utf-8"), path.name, IAM_BUILDERS) == []


@pytest.mark.parametrize("path", sorted((ROOT / "modules").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_constructs_take_no_whole_settings(path: Path) -> None:
    assert imports_of(path.read_text(encoding="utf-8"), path.name, WHOLE_SETTINGS) == []


def test_a_statement_in_a_stack_or_whole_settings_in_a_construct_would_be_caught() -> None:
    source = (
        "from modules.policy import Condition, Statement, policy_document\n"
        "import modules.policy\n"
        "from qualisys_infra.core.settings import EnvironmentConfig, NatMode\n"
    )
    assert imports_of(source, "cluster.py", IAM_BUILDERS) == [
        "cluster.py:1: from modules.policy import Condition",
        "cluster.py:1: from modules.policy import Statement",
        "cluster.py:1: from modules.policy import policy_document",
        "cluster.py:2: import modules.policy",
    ]
    assert imports_of(source, "add_ons.py", WHOLE_SETTINGS) == [
        "add_ons.py:3: from qualisys_infra.core.settings import EnvironmentConfig"
    ]
    assert imports_of("from modules.encryption_key import auto_scaling_may_use_key\n", "x.py", IAM_BUILDERS) == []


@pytest.mark.parametrize("path", STACKS + CONSTRUCTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_stacks_and_constructs_read_no_file(path: Path) -> None:
    assert file_reads(path.read_text(encoding="utf-8"), path.name) == []


def test_the_platform_stack_is_short_enough_to_read_in_one_sitting() -> None:
    assert len((ROOT / "stacks" / "platform.py").read_text(encoding="utf-8").splitlines()) <= 150


def test_an_engine_resource_in_a_stack_would_be_caught() -> None:
    source = (
        "from qualisys_infra.core.engine.kubernetes import role_v1\n"
        "from qualisys_infra.core.engine import aws\n"
        "import cdktn_provider_aws.vpc\n"
        "from qualisys_infra.core.engine.aws import provider\n"
    )
    assert engine_resource_uses(source, "platform.py") == [
        "platform.py:1: from qualisys_infra.core.engine.kubernetes import role_v1",
        "platform.py:2: from qualisys_infra.core.engine import aws",
        "platform.py:3: import cdktn_provider_aws.vpc",
        "platform.py:4: from qualisys_infra.core.engine.aws import provider",
    ]
    assert engine_resource_uses("from qualisys_infra.core.engine.aws import provider\n", "base.py") == []
    assert engine_resource_uses("from qualisys_infra.core.engine import Construct, Fn\n", "data.py") == []


def test_a_file_read_would_be_caught() -> None:
    source = (
        "import jinja2\n"
        "from pathlib import Path\n"
        "text = Path(__file__).with_name('values.yaml').read_text()\n"
        "data = open('x').read()\n"
    )
    assert file_reads(source, "x.py") == [
        "x.py:1: imports jinja2",
        "x.py:2: imports pathlib",
        "x.py:3: calls read_text()",
        "x.py:3: uses Path",
        "x.py:3: uses __file__",
        "x.py:4: calls open()",
    ]
