"""Mutation fuzzing of the plan pipeline: any input ends in a review or in one PlanError, never a traceback.

Each case takes a public fixture, replaces a few values (chosen by a seeded random walk) with values of
another JSON type, hostile text or deep nesting, and runs the whole pipeline: parse, guardrails, and
the three renderings.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from qualisys_infra.plan.guardrails import check
from qualisys_infra.plan.json_safety import PlanError
from qualisys_infra.plan.model import parse_plan
from qualisys_infra.plan.review import StackReview
from qualisys_infra.plan.review_markdown import render_markdown
from qualisys_infra.plan.review_text import render_json, render_text
from tests.plan.conftest import FIXTURES

FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.json"))
CASES_PER_FIXTURE = 60

HOSTILE: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    22,
    65536,
    1.5,
    "",
    "x",
    "0.0.0.0/1",
    "::/0",
    "not a cidr",
    "*",
    "-1",
    '{"Statement": 5}',
    '{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}',
    "[" * 200 + "]" * 200,
    "x</code></summary></details><!--",
    "```\n</details>\n# heading",
    "a|b`c\nd\re\u2028f",
    "\x1b[2J\x1b]0;title\x07",
    [],
    {},
    [None],
    [5],
    ["0.0.0.0/1", "128.0.0.0/1"],
    {"a": [1, {"b": None}]},
    [{"cidr_blocks": 5, "from_port": "22", "to_port": [], "protocol": {}}],
    [{"endpoint_public_access": True, "public_access_cidrs": 7}],
]


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_nodes(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_nodes(item, (*path, index)))
    return found


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


def _mutants(name: str) -> list[Any]:
    original = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    interesting = [
        p for p in _nodes(original) if p and p[0] in ("resource_changes", "resource_drift", "output_changes")
    ]
    everywhere = _nodes(original)
    rng = random.Random(name)  # noqa: S311 - a reproducible mutation order, not a secret
    mutants = []
    for _ in range(CASES_PER_FIXTURE):
        document = copy.deepcopy(original)
        for _ in range(rng.randint(1, 3)):
            pool = interesting if interesting and rng.random() < 0.9 else everywhere
            path = rng.choice(pool)
            try:
                document = _set(document, path, copy.deepcopy(rng.choice(HOSTILE)))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation replaced a parent
        mutants.append(document)
    return mutants


def run_pipeline(document: Any, source: str) -> None:
    """Parse, check and render ``document``; PlanError is the only failure allowed."""
    try:
        plan = parse_plan(document, source)
        findings = check(plan, stack="fuzz")
    except PlanError as exc:
        assert len(exc.lines()) == 1, exc.lines()
        return
    review = StackReview("fuzz", plan, findings)
    for text in (render_markdown([review])[0], render_text([review]), render_json([review])):
        text.encode("utf-8")


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fails_if_a_mutated_plan_raises_anything_but_a_plan_error(name: str) -> None:
    for number, document in enumerate(_mutants(name)):
        try:
            run_pipeline(document, f"{name}#{number}")
        except PlanError:
            raise
        except Exception as exc:  # the point of the test: report any other exception
            pytest.fail(f"{name} mutant {number}: {type(exc).__name__}: {exc}")
