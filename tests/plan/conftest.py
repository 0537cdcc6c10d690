"""Real plans for the plan tests, made once per session with Terraform core, offline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.plan.terraform_data import apply, plan_json, write_config

# Public plans copied into the repository (origin and licence of each: tests/fixtures/plans/SOURCES.md).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "plans"


@dataclass(frozen=True)
class RealPlans:
    """Plan JSON documents made by Terraform for each kind of change, and where they are."""

    folder: Path
    first: dict[str, Any]  # creates
    second: dict[str, Any]  # update, replace (both orders), delete, forget, move, outputs, sensitive


@pytest.fixture(scope="session")
def real_plans(tmp_path_factory: pytest.TempPathFactory) -> RealPlans:
    folder = tmp_path_factory.mktemp("terraform-data")
    secret = "s3cr3t-value-never-shown"  # noqa: S105 - a test value that must never be rendered
    write_config(
        folder,
        {
            "resource": {
                "terraform_data": {
                    "kept": {"input": "same"},
                    "changed": {"input": "v1"},
                    "replaced": {"input": "a", "triggers_replace": ["one"]},
                    "replaced_cbd": {
                        "input": "b",
                        "triggers_replace": ["one"],
                        "lifecycle": {"create_before_destroy": True},
                    },
                    "deleted": {"input": "gone soon"},
                    "forgotten": {"input": "unmanaged soon"},
                    "old_name": {"input": "moves"},
                    "secret": {"input": '${sensitive("' + secret + '-1")}'},
                }
            },
            "output": {
                "greeting": {"value": "hello"},
                "token": {"value": "${terraform_data.secret.output}", "sensitive": True},
            },
        },
    )
    first = plan_json(folder, "first")
    apply(folder, "first")
    write_config(
        folder,
        {
            "resource": {
                "terraform_data": {
                    "kept": {"input": "same"},
                    "changed": {"input": "v2"},
                    "replaced": {"input": "a", "triggers_replace": ["two"]},
                    "replaced_cbd": {
                        "input": "b",
                        "triggers_replace": ["two"],
                        "lifecycle": {"create_before_destroy": True},
                    },
                    "new_name": {"input": "moves"},
                    "secret": {"input": '${sensitive("' + secret + '-2")}'},
                    "created": {"input": "fresh"},
                }
            },
            "moved": [{"from": "terraform_data.old_name", "to": "terraform_data.new_name"}],
            "removed": [{"from": "terraform_data.forgotten", "lifecycle": {"destroy": False}}],
            "output": {
                "greeting": {"value": "hello again"},
                "token": {"value": "${terraform_data.secret.output}", "sensitive": True},
            },
        },
    )
    second = plan_json(folder, "second")
    return RealPlans(folder=folder, first=first, second=second)
