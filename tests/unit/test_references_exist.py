"""Every module or file the toolkit's docstrings and comments point at exists.

``qualisys_infra/delivery/signoff.py`` once named ``modules/platform/smoke_test.py`` for the hello
labels, a file long gone (issue 24); moving files must not leave such pointers behind. A path
(``modules/apps/objects.py``, ``tests/synth/test_x.py``) must name a file or folder of the
repository, and a dotted name (``qualisys_infra.plan.review``, ``qualisys_infra.core.github_text.md_text``)
a module of it (what follows the module, one or two names, is taken as an attribute).
"""

from __future__ import annotations

import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP = ("qualisys_infra", "modules", "stacks", "tests", "services", "bootstrap", "benchmarks")
_PATH = re.compile(r"(?<![\w/.-])((?:" + "|".join(TOP) + r")/[\w./-]*\w)")
_DOTTED = re.compile(r"(?<![\w./-])(qualisys_infra(?:\.\w+)+|(?:modules|stacks)(?:\.\w+){2,})")
# Examples in help text that name no real file on purpose (the shard command's usage).
EXAMPLES = frozenset({"tests/unit/test_x.py", "tests/x/test_y.py"})


def _exists_path(root: Path, path: str) -> bool:
    return path in EXAMPLES or (root / path).exists() or (root / f"{path}.py").exists()


def _exists_module(root: Path, dotted: str) -> bool:
    """A module, or a module and a name it defines (then perhaps that class's member)."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        base = root.joinpath(*parts[:n])
        file = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if file.is_file():
            rest = parts[n:]
            if not rest:
                return True
            defined = re.search(rf"\b{re.escape(rest[0])}\b", file.read_text(encoding="utf-8")) is not None
            return defined and len(rest) <= 2
    return False


def _prose(file: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every comment and string of a Python file (code is not prose)."""
    with file.open("rb") as handle:
        for token in tokenize.tokenize(handle.readline):
            if token.type in (tokenize.COMMENT, tokenize.STRING):
                for offset, text in enumerate(token.string.splitlines()):
                    yield token.start[0] + offset, text


def dangling(root: Path, files: list[Path]) -> Iterator[str]:
    """``file:line: what`` for every path or dotted module name in the comments and strings of
    ``files`` that does not exist."""
    for file in files:
        for number, line in _prose(file):
            where = f"{file.relative_to(root)}:{number}"
            for match in _PATH.finditer(line):
                path = match.group(1).rstrip(".")
                if "*" not in path and "{" not in path and not _exists_path(root, path):
                    yield f"{where}: {path} does not exist"
            for match in _DOTTED.finditer(line):
                if not _exists_module(root, match.group(1)):
                    yield f"{where}: {match.group(1)} is no module"


def test_every_module_the_package_points_at_exists() -> None:
    files = sorted((ROOT / "qualisys_infra").rglob("*.py"))
    assert len(files) > 50
    assert list(dangling(ROOT, files)) == []


def test_a_pointer_to_a_missing_module_is_found(tmp_path: Path) -> None:
    (tmp_path / "modules" / "apps").mkdir(parents=True)
    (tmp_path / "modules" / "apps" / "objects.py").write_text('NAME_LABEL = "app.kubernetes.io/name"\n')
    (tmp_path / "modules" / "__init__.py").write_text("")
    (tmp_path / "modules" / "apps" / "__init__.py").write_text("")
    source = tmp_path / "signoff.py"
    source.write_text(
        'LABELS = {"app": "hello"}  # modules/platform/smoke_test.py\n'
        "# modules/apps/objects.py NAME_LABEL, as modules.apps.objects.NAME_LABEL\n"
        '"""See :mod:`modules.platform.smoke_test`."""\n'
    )
    assert list(dangling(tmp_path, [source])) == [
        "signoff.py:1: modules/platform/smoke_test.py does not exist",
        "signoff.py:3: modules.platform.smoke_test is no module",
    ]
