"""Valid plans of every shape are read (an SSO permission set's inline policy is a JSON string), and a
value of the wrong JSON type is one line and exit 2, never "nothing to check"."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.commands.cli import main
from qualisys_infra.plan.guardrails import blocking, check
from qualisys_infra.plan.json_safety import PlanError
from qualisys_infra.plan.model import parse_plan

ADMIN = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def _entry(type_: str, after: Any, before: Any = None, actions: tuple[str, ...] = ("create",)) -> dict[str, Any]:
    return {
        "address": f"{type_}.x",
        "mode": "managed",
        "type": type_,
        "name": "x",
        "change": {"actions": list(actions), "before": before, "after": after, "after_unknown": {}},
    }


def _document(*entries: dict[str, Any], drift: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return {"format_version": "1.2", "resource_changes": list(entries), "resource_drift": list(drift)}


INLINE = {
    "sso_permission_set_inline_policy": _entry(
        "aws_ssoadmin_permission_set_inline_policy", {"inline_policy": ADMIN, "permission_set_arn": "arn:x"}
    ),
    "role_inline_policy_blocks": _entry("aws_iam_role", {"inline_policy": [{"name": "x", "policy": ADMIN}]}),
    "another_types_inline_policy_document": _entry("aws_some_future_type", {"inline_policy": ADMIN}),
}


@pytest.mark.parametrize("shape", sorted(INLINE))
def test_fails_if_an_inline_policy_of_its_types_shape_is_not_read(shape: str) -> None:
    (finding,) = blocking(check(parse_plan(_document(INLINE[shape]), "crafted")))
    assert (
        finding.rule == "G004" and "inline_policy: a statement allows every action on every resource" in finding.message
    )


WRONG = {
    "after_as_an_array": (
        _entry("aws_iam_policy", [1, 2]),
        "resource_changes[0].change.after: expected an object, got an array",
    ),
    "after_as_a_string": (
        _entry("aws_iam_policy", "x"),
        "resource_changes[0].change.after: expected an object, got a string",
    ),
    "before_as_an_array": (
        _entry("aws_s3_bucket", None, before=[1], actions=("delete",)),
        "resource_changes[0].change.before: expected an object, got an array",
    ),
    "sso_inline_policy_as_blocks": (
        _entry("aws_ssoadmin_permission_set_inline_policy", {"inline_policy": [{"policy": ADMIN}]}),
        "resource_changes[0].change.after.inline_policy: expected a string or an object, got an array",
    ),
    "role_inline_policy_as_a_string": (
        _entry("aws_iam_role", {"inline_policy": ADMIN}),
        "resource_changes[0].change.after.inline_policy: expected an array, got a string",
    ),
}


@pytest.mark.parametrize("shape", sorted(WRONG))
def test_fails_if_a_wrong_type_is_not_bad_input(shape: str) -> None:
    entry, message = WRONG[shape]
    with pytest.raises(PlanError, match=f"^crafted: {re.escape(message)}$"):
        check(parse_plan(_document(entry), "crafted"))


def test_fails_if_a_drift_entry_of_the_wrong_type_is_not_bad_input() -> None:
    with pytest.raises(
        PlanError, match=r"^crafted: resource_drift\[0\]\.change\.after: expected an object, got an array$"
    ):
        parse_plan(_document(drift=(_entry("aws_s3_bucket", [1], actions=("update",)),)), "crafted")


@pytest.mark.parametrize(("shape", "code"), [("after_as_an_array", 2), ("sso_permission_set_inline_policy", 1)])
def test_review_exits_2_with_one_line_for_bad_input_and_1_for_a_finding(
    shape: str, code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = WRONG[shape][0] if shape in WRONG else INLINE[shape]
    path = tmp_path / "dev-x.json"
    path.write_text(json.dumps(_document(entry)), encoding="utf-8")
    assert main(["--project-dir", str(tmp_path), "review", str(path)]) == code
    err = capsys.readouterr().err
    if code == 2:
        assert err == f"error: {path}: resource_changes[0].change.after: expected an object, got an array\n"
