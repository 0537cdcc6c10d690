"""Which parts of a synthesized stack read Kubernetes Secrets when planned: one test per member."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.core.errors import UsageError
from qualisys_infra.terraform.output import read_stack
from qualisys_infra.terraform.secret_reads import (
    LEAVE_OUT,
    NO_REFRESH,
    WHOLE,
    PlanScope,
    SecretReads,
    leave_out,
    plan_scope,
    read_scope,
    refresh_without_secrets,
    scope_file,
    secret_reads,
)

SECRET = {"manifest": {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}}
CONFIG_MAP = {"manifest": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}}


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ({"helm_release": {"kps": {"name": "kps"}}}, ("helm_release.kps",)),
        ({"kubernetes_secret": {"a": {}}}, ("kubernetes_secret.a",)),
        ({"kubernetes_secret_v1": {"b": {}}}, ("kubernetes_secret_v1.b",)),
        ({"kubernetes_manifest": {"s": SECRET, "c": CONFIG_MAP}}, ("kubernetes_manifest.s",)),
        ({"kubernetes_secret_v1_data": {"d": {}}}, ("kubernetes_secret_v1_data.d",)),
        (
            {"kubernetes_labels": {"s": {"api_version": "v1", "kind": "Secret"}, "c": {"kind": "ConfigMap"}}},
            ("kubernetes_labels.s",),
        ),
        ({"kubernetes_annotations": {"s": {"api_version": "v1", "kind": "Secret"}}}, ("kubernetes_annotations.s",)),
        ({"kubernetes_config_map_v1": {"c": {}}, "aws_s3_bucket": {"b": {}}}, ()),
    ],
    ids=[
        "helm-release",
        "secret",
        "secret-v1",
        "manifest-of-a-secret",
        "secret-data",
        "labels-of-a-secret",
        "annotations-of-a-secret",
        "nothing",
    ],
)
def test_resources_whose_refresh_reads_secrets(resources: dict[str, Any], expected: tuple[str, ...]) -> None:
    reads = secret_reads({"resource": resources})
    assert reads == SecretReads(on_refresh=expected, always=())
    assert refresh_without_secrets("dev-x", reads) is (expected == ())


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("kubernetes_secret", {}),
        ("kubernetes_secret_v1", {}),
        ("kubernetes_resource", {"api_version": "v1", "kind": "Secret"}),
        ("kubernetes_resources", {"api_version": "v1", "kind": "Secret"}),
    ],
)
def test_fails_if_a_data_source_of_a_secret_is_not_refused(kind: str, body: dict[str, Any]) -> None:
    other = {"kubernetes_resource": {"cm": {"api_version": "v1", "kind": "ConfigMap"}}}
    assert secret_reads({"data": other}).always == ()
    reads = secret_reads({"data": {kind: {"token": body}, "aws_region": {"r": {}}}})
    assert reads.always == (f"data.{kind}.token",)
    with pytest.raises(UsageError, match=rf"stack dev-x reads Secrets on every plan \(data\.{kind}\.token\)") as e:
        refresh_without_secrets("dev-x", reads)
    assert e.value.exit_code == 2


def test_fails_if_an_unreadable_stack_is_not_named_with_the_fix(tmp_path: Path) -> None:
    """plan reads each stack through output.read_stack, the reader read_manifest uses too."""
    folder = tmp_path / "stacks" / "dev-x"
    folder.mkdir(parents=True)
    (folder / "cdk.tf.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(UsageError, match=r"cdk\.tf\.json: unreadable \(.*\); run `qualisys-infra synth --force`"):
        read_stack(tmp_path, "dev-x")
    with pytest.raises(UsageError, match=r"cdk\.tf\.json: not found; run `qualisys-infra synth --force`"):
        read_stack(tmp_path, "dev-missing")


def test_leave_out_takes_the_readers_and_whatever_refers_to_them() -> None:
    config = {
        "resource": {
            "helm_release": {"kps": {"name": "kps"}, "kps2": {"name": "other"}},
            "kubernetes_manifest": {
                "monitor": {"manifest": {"kind": "PodMonitor"}, "depends_on": ["helm_release.kps"]},
            },
            "kubernetes_namespace_v1": {
                "apps": {"metadata": {"name": "apps"}},
                "late": {"metadata": {"labels": {"after": "${kubernetes_manifest.monitor.object.kind}"}}},
                "by_data": {"metadata": {"name": "${data.helm_release.kps.id}"}},
            },
        }
    }
    reads = secret_reads(config)
    assert reads.on_refresh == ("helm_release.kps", "helm_release.kps2")
    targets, left_out = leave_out(config, reads)
    assert left_out == (
        "helm_release.kps",
        "helm_release.kps2",
        "kubernetes_manifest.monitor",
        "kubernetes_namespace_v1.late",
    )
    # `data.helm_release.kps` is another object than the resource `helm_release.kps`
    assert targets == ("kubernetes_namespace_v1.apps", "kubernetes_namespace_v1.by_data")


def test_leave_out_follows_a_reference_nested_deeper_than_python_recurses() -> None:
    """A stack's JSON is read by Python's parser (which stops near 1,000 levels); no walk of it may
    recurse, so a reference 900 levels down is found and nothing raises RecursionError."""
    deep: Any = "${helm_release.kps.id}"
    for _ in range(900):
        deep = {"x": [deep]}
    config = {"resource": {"helm_release": {"kps": {}}, "terraform_data": {"deep": {"input": deep}, "flat": {}}}}
    targets, left_out = leave_out(config, secret_reads(config))
    assert (targets, left_out) == (("terraform_data.flat",), ("helm_release.kps", "terraform_data.deep"))


def test_plan_scope_by_option() -> None:
    config: dict[str, Any] = {"resource": {"helm_release": {"kps": {}}, "kubernetes_namespace_v1": {"apps": {}}}}
    assert plan_scope("dev-platform", config, None) == PlanScope()
    assert plan_scope("dev-platform", config, NO_REFRESH) == PlanScope(refresh=False)
    assert plan_scope("dev-platform", config, LEAVE_OUT) == PlanScope(
        targets=("kubernetes_namespace_v1.apps",), left_out=("helm_release.kps",)
    )
    network: dict[str, Any] = {"resource": {"aws_s3_bucket": {"b": {}}}}
    assert plan_scope("dev-network", network, NO_REFRESH) == plan_scope("dev-network", network, LEAVE_OUT)
    assert plan_scope("dev-network", network, LEAVE_OUT) == PlanScope()


def test_leave_out_follows_data_sources_locals_and_modules() -> None:
    """-target pulls in whatever a target depends on: a resource reaching a Helm release through a
    data source or a local is left out too; a module is a target unless it reaches one."""
    config: dict[str, Any] = {
        "resource": {
            "helm_release": {"kps": {}},
            "aws_iam_role": {
                "via_data": {"name": "${data.aws_iam_policy_document.doc.json}"},
                "via_local": {"name": "${local.release_name}"},
                "plain": {"name": "role"},
            },
        },
        "data": {"aws_iam_policy_document": {"doc": {"statement": [{"resources": ["${helm_release.kps.id}"]}]}}},
        "locals": {"release_name": "${helm_release.kps.name}"},
        "module": {"reaches": {"source": "./m", "x": "${local.release_name}"}, "apart": {"source": "./n"}},
    }
    targets, left_out = leave_out(config, secret_reads(config))
    assert targets == ("aws_iam_role.plain", "module.apart")
    assert left_out == ("aws_iam_role.via_data", "aws_iam_role.via_local", "helm_release.kps", "module.reaches")


def test_a_stack_with_nothing_else_to_target_is_planned_without_refresh() -> None:
    """No -target at all would refresh every resource, the Helm releases too."""
    assert plan_scope("dev-platform", {"resource": {"helm_release": {"a": {}}}}, LEAVE_OUT) == PlanScope(refresh=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{broken", r"dev-platform\.scope:1: not valid JSON: Expecting property name .* at column 2; not a plan scope"),
        ("[]", r"dev-platform\.scope: not a plan scope record \(expected refreshed"),
        ('{"refreshed": "no", "left_out": []}', r"dev-platform\.scope: not a plan scope record \(expected"),
        ('{"refreshed": true, "left_out": [1]}', r"dev-platform\.scope: not a plan scope record \(expected"),
        ('{"refreshed": true, "left_out": [[]]}', r"dev-platform\.scope: nested more than 2 levels deep; not a plan"),
        ("[" * 100_000 + "]" * 100_000, r"dev-platform\.scope: nested more than 2 levels deep; not a plan scope"),
    ],
    ids=["not-json", "not-an-object", "refreshed-not-a-bool", "address-not-a-string", "deep", "deeper"],
)
def test_fails_if_a_damaged_scope_record_is_not_refused(tmp_path: Path, text: str, message: str) -> None:
    plan_json = tmp_path / "dev-platform.json"
    scope_file(plan_json).write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message) as refused:
        read_scope(plan_json)
    assert refused.value.exit_code == 2
    assert len(refused.value.lines()) == 1


def test_fails_if_a_scope_record_is_not_utf8(tmp_path: Path) -> None:
    plan_json = tmp_path / "dev-platform.json"
    scope_file(plan_json).write_bytes(b'{"refreshed": false,\n "left_out": ["caf\xe9"]}')
    with pytest.raises(UsageError) as refused:
        read_scope(plan_json)
    assert refused.value.lines() == [
        f"{scope_file(plan_json)}:2: not UTF-8 text (byte 0xe9 at column 19); save the file as UTF-8; "
        "not a plan scope record; run `qualisys-infra plan` again"
    ]


def test_a_scope_record_round_trips(tmp_path: Path) -> None:
    plan_json = tmp_path / "dev-platform.json"
    assert read_scope(plan_json) == WHOLE
    scope = PlanScope(targets=("a.b",), left_out=("helm_release.x",))
    scope_file(plan_json).write_text(scope.record(), encoding="utf-8")
    assert read_scope(plan_json) == PlanScope(left_out=("helm_release.x",))  # targets are the plan's business
