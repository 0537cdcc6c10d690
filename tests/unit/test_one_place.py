"""Facts that several layers share are written once (issue 24): each has one module that defines it,
and no other file of the package spells it. A fact spelled again elsewhere fails here, naming where."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# (what, the exact literal that spells the fact, the one module allowed to)
FACTS = (
    ("the admin database URL's variable", "QUALISYS_DATABASE_URL", "qualisys_infra/tenancy/urls.py"),
    ("the report comment's sticky name", "qualisys-report:", "qualisys_infra/delivery/report.py"),
    ("the test pool's namespace", "playwright-pool", "qualisys_infra/core/playwright_pool.py"),
    ("the node-pool label", "qualisys.io/node-pool", "qualisys_infra/core/playwright_pool.py"),
)


def _literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants that are code, not docstrings; the literal parts of f-strings included."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def spelled_elsewhere(root: Path, literal: str, owner: str) -> list[str]:
    found = []
    for folder in ("qualisys_infra", "modules", "stacks", "bootstrap"):
        for path in sorted((root / folder).rglob("*.py")):
            shown = path.relative_to(root).as_posix()
            if shown == owner:
                continue
            for line, text in _literals(ast.parse(path.read_text(encoding="utf-8"))):
                # help texts may name the variable ($QUALISYS_DATABASE_URL); code may not use it
                if text == literal or (text.startswith(literal) and not literal.isupper()):
                    found.append(f"{shown}:{line}")
    return found


@pytest.mark.parametrize(("what", "literal", "owner"), FACTS, ids=[f[0] for f in FACTS])
def test_each_shared_fact_is_spelled_in_one_module(what: str, literal: str, owner: str) -> None:
    assert (ROOT / owner).is_file()
    assert spelled_elsewhere(ROOT, literal, owner) == [], f"{what} is defined in {owner} only"


def test_fails_if_a_fact_is_spelled_again(tmp_path: Path) -> None:
    planted = tmp_path / "qualisys_infra" / "commands" / "x.py"
    planted.parent.mkdir(parents=True)
    planted.write_text(
        '"""Doc naming QUALISYS_DATABASE_URL is fine."""\n'
        'url = environ.get("QUALISYS_DATABASE_URL")\n'
        'name = f"qualisys-report:{key}"\n',
        encoding="utf-8",
    )
    assert spelled_elsewhere(tmp_path, "QUALISYS_DATABASE_URL", "qualisys_infra/tenancy/urls.py") == [
        "qualisys_infra/commands/x.py:2"
    ]
    assert spelled_elsewhere(tmp_path, "qualisys-report:", "qualisys_infra/delivery/report.py") == [
        "qualisys_infra/commands/x.py:3"
    ]
