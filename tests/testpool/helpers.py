"""Environment files with a changed test pool, quota or node group, for the capacity tests."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ENV_DIR

_POOL = re.compile(r"^test_pool = \{\n.*?^\}\n", re.M | re.S)
_QUOTA = re.compile(r'^  "playwright-pool" = \{\n.*?^  \}\n', re.M | re.S)
_GROUP = re.compile(r"^  playwright = \{\n.*?^  \}\n", re.M | re.S)


def _block(indent: str, header: str, values: dict[str, object]) -> str:
    body = "".join(f"{indent}  {key} = {_hcl(value)}\n" for key, value in values.items())
    return f"{indent}{header} = {{\n{body}{indent}}}\n"


def _hcl(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_hcl(v) for v in value) + "]"
    return str(value)


def environment_with(
    tmp_path: Path,
    name: str = "dev",
    *,
    pool: dict[str, object] | None = None,
    quota: dict[str, object] | None = None,
    group: dict[str, object] | None = None,
) -> Path:
    """``environments/<name>.tfvars`` with its test_pool, playwright-pool quota or playwright node group
    replaced by exactly the keys given (each block one key a line, so a key's line is easy to find)."""
    text = (ENV_DIR / f"{name}.tfvars").read_text(encoding="utf-8")
    for pattern, indent, header, values in (
        (_POOL, "", "test_pool", pool),
        (_QUOTA, "  ", '"playwright-pool"', quota),
        (_GROUP, "  ", "playwright", group),
    ):
        if values is not None:
            assert len(pattern.findall(text)) == 1, f"{header} block not found once in {name}.tfvars"
            replacement = _block(indent, header, values)
            text = pattern.sub(lambda _match: replacement, text, count=1)  # noqa: B023 - used at once
    path = tmp_path / f"{name}.tfvars"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str, after: str | None = None) -> int:
    """The first line holding ``needle`` (after the first line holding ``after``, when given)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line)
    for number in range(start, len(lines)):
        if needle in lines[number]:
            return number + 1
    raise AssertionError(f"{needle!r} not in {path}")


def key_line(path: Path, key: str, after: str) -> int:
    """The line that sets ``key`` (``key = ...``, aligned or not) in the block opened by ``after``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    return next(n + 1 for n in range(start, len(lines)) if pattern.match(lines[n]))


# The shipped quotas and node groups, to start from.
DEV_QUOTA = {
    "cpu_requests": "8",
    "memory_requests": "16Gi",
    "cpu_limits": "16",
    "memory_limits": "32Gi",
    "pods": 40,
}
DEV_POOL = {"runners": 16, "cpu_request": "500m", "cpu_limit": "1", "memory_request": "1Gi", "memory_limit": "2Gi"}
DEV_GROUP = {"instance_types": ["c5.xlarge"], "min_size": 0, "desired_size": 0, "max_size": 5}
