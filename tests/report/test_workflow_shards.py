"""The sharded `test` of pull-request.yml holds together: as many shards in the matrix as `make test-shard`
and `report --shards` are told, every shard's artifact downloaded, and a failed shard or lint fails the
required check `test` (which still runs to report it)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from modules.github_delivery import PULL_REQUEST_CHECKS
from qualisys_infra.core.runtime import PROJECT_ROOT
from tests.delivery.checks import load

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "pull-request.yml"


def _run(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps") or [])


def problems(doc: dict[str, Any]) -> list[str]:
    jobs: dict[str, Any] = doc["jobs"]
    shard, test, lint = jobs.get("test-shard") or {}, jobs.get("test") or {}, jobs.get("lint") or {}
    found: list[str] = []
    matrix = ((shard.get("strategy") or {}).get("matrix") or {}).get("shard") or []
    count = len(matrix)
    if matrix != list(range(1, count + 1)) or count < 2:
        found.append(f"test-shard: matrix.shard is {matrix}, not 1 to N")
    if shard.get("name") != f"test shard (${{{{ matrix.shard }}}}/{count})":
        found.append(f"test-shard: name {shard.get('name')!r} does not say K/{count}")
    if f"SHARDS={count}" not in _run(shard) or 'SHARD="$SHARD"' not in _run(shard):
        found.append(f"test-shard: `make test-shard` is not given SHARD and SHARDS={count}")
    if (shard.get("strategy") or {}).get("fail-fast") is not False:
        found.append("test-shard: fail-fast must be false, so that every shard reports")
    if "make lint lint-delivery" not in _run(lint):
        found.append("lint: does not run `make lint lint-delivery`")
    if test.get("name") != "test" or "test" not in PULL_REQUEST_CHECKS:
        found.append("test: the required check must be the job named `test`")
    if set(test.get("needs") or []) != {"lint", "services", "test-shard"}:
        found.append(f"test: needs {test.get('needs')}, not lint, services and test-shard")
    if "!cancelled()" not in str(test.get("if", "")):
        found.append("test: without `if: !cancelled()` it is skipped when a shard fails, and a skipped check passes")
    if f"--shards {count}" not in _run(test) or "report --key tests" not in _run(test):
        found.append(f"test: `qualisys-infra report --key tests --shards {count}` is missing")
    downloads = [s for s in test.get("steps") or [] if "download-artifact" in str(s.get("uses", ""))]
    uploads = [s for s in shard.get("steps") or [] if "upload-artifact" in str(s.get("uses", ""))]
    if not uploads or not downloads:
        found.append("the shards' artifacts are not uploaded and downloaded")
    elif not re.fullmatch(
        str(downloads[0]["with"]["pattern"]).replace("*", r"\d+"),
        str(uploads[0]["with"]["name"]).replace("${{ matrix.shard }}", "1"),
    ):
        found.append("test: the download pattern does not match the shards' artifact names")
    gate = [s for s in test.get("steps") or [] if "needs.test-shard.result" in str(s.get("env", ""))]
    if (
        not gate
        or "!cancelled()" not in str(gate[-1].get("if", ""))
        or "needs.lint.result" not in str(gate[-1])
        or "needs.services.result" not in str(gate[-1])
    ):
        found.append("test: no last step that fails unless lint, the services and every shard succeeded")
    return found


def test_the_sharded_test_job_holds_together() -> None:
    assert problems(load(WORKFLOW)) == []


@pytest.mark.parametrize(
    ("plant", "says"),
    [
        (lambda d: d["jobs"]["test"].pop("if"), "skipped when a shard fails"),
        (lambda d: d["jobs"]["test-shard"]["strategy"]["matrix"].update(shard=[1, 2, 3]), "does not say K/3"),
        (lambda d: d["jobs"]["test"].update(needs=["test-shard"]), "not lint, services and test-shard"),
        (lambda d: d["jobs"]["test"]["steps"].pop(), "no last step that fails"),
        (lambda d: d["jobs"]["test"].update(name="report"), "the required check must be the job named `test`"),
    ],
)
def test_each_way_to_break_it_is_caught(plant: Any, says: str) -> None:
    doc = copy.deepcopy(load(WORKFLOW))
    plant(doc)
    assert any(says in p for p in problems(doc)), problems(doc)
