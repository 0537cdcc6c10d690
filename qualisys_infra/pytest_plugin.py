"""pytest plugin (entry point ``pytest11``): assert on plans and synthesized stacks in one line.

def test_database_is_safe(plan_file):
    plan = plan_file("plans/production/production-data.json")
    plan.assert_no_replace("aws_db_instance")
    plan.assert_every_after("aws_db_instance", "storage_encrypted", True)
    plan.assert_no_blocking_findings()

def test_state_bucket(synthesized_stack):
    stack = synthesized_stack("bootstrap")
    stack.assert_every("aws_dynamodb_table", "deletion_protection_enabled", True)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.plan.guardrails import blocking, check
from qualisys_infra.plan.model import Kind, Plan, ResourceChange, load_plan

_MISSING = object()


@dataclass(frozen=True)
class PlanAssertions:
    """A loaded plan with one-line assertions; ``plan`` is the full model for anything else."""

    plan: Plan

    def changes(self, type_: str | None = None) -> list[ResourceChange]:
        return [c for c in self.plan.changes if type_ is None or c.type == type_]

    def assert_no_replace(self, type_: str | None = None) -> None:
        """No resource (of ``type_``) is replaced, in either order."""
        replaced = [
            c.label for c in self.changes(type_) if c.kind in (Kind.REPLACE, Kind.REPLACE_CBD, Kind.REPLACE_FORGET)
        ]
        assert not replaced, f"{self.plan.source}: replaced: {', '.join(replaced)}"

    def assert_no_destroy(self, type_: str | None = None) -> None:
        """No object (of ``type_``) is deleted: delete, both replace orders, deposed objects."""
        destroyed = [c.label for c in self.changes(type_) if c.is_destructive]
        assert not destroyed, f"{self.plan.source}: destroyed: {', '.join(destroyed)}"

    def assert_every_after(self, type_: str, attribute: str, expected: Any) -> None:
        """Every ``type_`` that exists after the change has ``attribute == expected``."""
        present = [c for c in self.changes(type_) if isinstance(c.after, dict)]
        assert present, f"{self.plan.source}: no {type_} exists after this plan"
        wrong = [
            f"{c.label}={c.after.get(attribute, _MISSING)!r}"
            for c in present
            if c.after.get(attribute, _MISSING) != expected
        ]
        assert not wrong, f"{self.plan.source}: {type_}.{attribute} != {expected!r}: {', '.join(wrong)}"

    def assert_counts(self, **expected: int) -> None:
        """Counts per kind, by :class:`Kind` value with ``-`` as ``_`` (``create=2, no_op=1``)."""
        counts = {k.value.replace("-", "_"): n for k, n in self.plan.counts().items()}
        wrong = {k: counts.get(k) for k, n in expected.items() if counts.get(k) != n}
        assert not wrong, f"{self.plan.source}: counts {wrong} != expected {expected}"

    def assert_no_blocking_findings(self, allow_destroy: Iterable[str] = ()) -> None:
        found = blocking(check(self.plan, allow_destroy=allow_destroy))
        assert not found, "\n".join(str(f) for f in found)


@dataclass(frozen=True)
class StackAssertions:
    """A synthesized stack's ``cdk.tf.json`` with one-line assertions."""

    name: str
    config: dict[str, Any]

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return dict((self.config.get("resource") or {}).get(type_) or {})

    def assert_every(self, type_: str, attribute: str, expected: Any) -> None:
        """Every resource of ``type_`` sets ``attribute`` to ``expected`` (and there is at least one)."""
        found = self.resources(type_)
        assert found, f"{self.name}: no {type_}"
        wrong = [
            f"{n}={b.get(attribute, _MISSING)!r}" for n, b in found.items() if b.get(attribute, _MISSING) != expected
        ]
        assert not wrong, f"{self.name}: {type_}.{attribute} != {expected!r}: {', '.join(wrong)}"


@pytest.fixture
def plan_file() -> Callable[[str | Path], PlanAssertions]:
    """Load ``terraform show -json`` output: ``plan_file("plans/dev/dev-network.json")``."""
    return lambda path: PlanAssertions(load_plan(Path(path)))


@pytest.fixture
def synthesized_stack() -> Callable[..., StackAssertions]:
    """Read a synthesized stack: ``synthesized_stack("dev-network", outdir="cdktf.out")``."""

    def read(name: str, outdir: str | Path = "cdktf.out") -> StackAssertions:
        path = Path(outdir) / "stacks" / name / "cdk.tf.json"
        return StackAssertions(name, json.loads(path.read_text(encoding="utf-8")))

    return read
