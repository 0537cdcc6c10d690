"""Runners inside the VPC (issue 23, item 3): GitHub's Actions Runner Controller in every cluster, one
ephemeral scale set for pull requests' plans and one for main's applies, each least privilege; their
labels are the github stack's Actions variables."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml

from modules.container_registry import image_reference, runner_image_repository
from modules.platform.charts import RUNNER_CHARTS
from modules.platform.runners import (
    CONTROLLER_NAMESPACE,
    CONTROLLER_RELEASE,
    CONTROLLER_SERVICE_ACCOUNT,
    GITHUB_APP_SECRET,
    INSTANCE_METADATA,
    RUNNER_SERVICE_ACCOUNT,
    VERIFIER_DUTY,
    runner_release,
)
from qualisys_infra.core.naming import (
    ACCOUNT_STACK,
    GITHUB_STACK,
    ISOLATION_VERIFIED_ENVIRONMENTS,
    RUNNER_DUTIES,
    runner_label,
    runner_namespace,
    runner_variable,
)
from qualisys_infra.core.settings import EnvironmentConfig
from tests.apps.schemas import validate
from tests.conftest import ENVIRONMENT_NAMES, Synthesized

RELEASES = (CONTROLLER_RELEASE, *(runner_release(duty) for duty in RUNNER_DUTIES))
NAMESPACE_OF = {
    CONTROLLER_RELEASE: CONTROLLER_NAMESPACE,
    **{runner_release(d): runner_namespace(d) for d in RUNNER_DUTIES},
}


@pytest.fixture(params=ENVIRONMENT_NAMES)
def env(request: pytest.FixtureRequest, synthesized: Synthesized) -> EnvironmentConfig:
    return next(e for e in synthesized.settings.environments if e.environment == request.param)


def _platform(s: Synthesized, env: EnvironmentConfig) -> dict[str, Any]:
    return s.stacks[f"{env.environment}-platform"]


def _releases(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in (stack.get("resource") or {}).get("helm_release", {}).values()}


def _values(release: dict[str, Any]) -> dict[str, Any]:
    (text,) = release["values"]
    return dict(yaml.safe_load(text))


def _namespace_names(stack: dict[str, Any]) -> dict[str, str]:
    """Namespace token key -> name."""
    return {key: ns["metadata"][0]["name"] for key, ns in stack["resource"]["kubernetes_namespace_v1"].items()}


def _in(stack: dict[str, Any], type_: str, namespace: str) -> list[dict[str, Any]]:
    """Every resource of ``type_`` in ``namespace`` (named by a token of the namespace resource)."""
    keys = {k for k, name in _namespace_names(stack).items() if name == namespace}
    out = []
    for body in (stack["resource"].get(type_) or {}).values():
        meta = body["metadata"][0] if isinstance(body["metadata"], list) else body["metadata"]
        value = str(meta.get("namespace", ""))
        if value == namespace or any(f"kubernetes_namespace_v1.{k}.metadata" in value for k in keys):
            out.append(body)
    return out


RESTRICTED_POD_FIELDS = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def restricted_problems(where: str, spec: dict[str, Any]) -> list[str]:
    """What keeps a pod spec from Pod Security ``restricted`` (the fields its checks read)."""
    found = []
    pod = spec.get("securityContext") or {}
    for key, value in RESTRICTED_POD_FIELDS.items():
        if pod.get(key) != value:
            found.append(f"{where}: pod securityContext.{key} is {pod.get(key)!r}, expected {value!r}")
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            found.append(f"{where}: {flag}")
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            found.append(f"{where}: hostPath volume {volume.get('name')}")
    for container in spec.get("containers") or []:
        context = container.get("securityContext") or {}
        name = f"{where}: container {container.get('name')}"
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("capabilities", {}).get("drop") != ["ALL"] or context.get("capabilities", {}).get("add"):
            found.append(f"{name}: capabilities are not drop ALL")
        if context.get("privileged"):
            found.append(f"{name}: privileged")
        if context.get("runAsNonRoot") is False or context.get("runAsUser") == 0:
            found.append(f"{name}: runs as root")
    return found


def test_every_cluster_runs_the_controller_and_one_scale_set_per_duty(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _platform(synthesized, env)
    releases = _releases(stack)
    names = _namespace_names(stack)
    for name in RELEASES:
        release, chart = releases[name], RUNNER_CHARTS[name]
        assert (release["repository"], release["chart"], release["version"]) == (
            "oci://ghcr.io/actions/actions-runner-controller-charts",
            chart.chart,
            "0.14.2",
        )
        assert release["atomic"] is True
        assert names[release["namespace"].split(".")[1]] == NAMESPACE_OF[name]
    for duty in RUNNER_DUTIES:
        assert releases[runner_release(duty)]["depends_on"] == [
            f"helm_release.runners_{CONTROLLER_RELEASE}",
            f"kubernetes_service_account_v1.runners_{duty}-service-account",
        ]


def test_scale_sets_register_ephemeral_runners_under_the_labels_the_github_stack_sets(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    account = synthesized.settings.account
    variables = {
        v["variable_name"]: v["value"] for v in synthesized.resources(GITHUB_STACK, "github_actions_variable").values()
    }
    releases = _releases(_platform(synthesized, env))
    for duty in RUNNER_DUTIES:
        values = _values(releases[runner_release(duty)])
        label = runner_label(account.project, env.environment, duty)
        assert values["runnerScaleSetName"] == label == variables[runner_variable(env.environment, duty)]
        assert len(label) <= 45  # ARC's limit on a scale set's name
        assert values["githubConfigUrl"] == f"https://github.com/{account.github_repository}"
        # The GitHub App's credentials: a Secret the chart names, made by an operator, never by
        # Terraform (whose state every pull request's plan role reads).
        assert values["githubConfigSecret"] == GITHUB_APP_SECRET
        assert values["minRunners"] == 0 and 1 <= values["maxRunners"] <= 10
        assert values["controllerServiceAccount"] == {
            "namespace": CONTROLLER_NAMESPACE,
            "name": CONTROLLER_SERVICE_ACCOUNT,
        }
        assert "containerMode" not in values, "no Docker-in-Docker, no Kubernetes mode: nothing privileged"
    assert sorted(n for n in variables if n.startswith("CLUSTER_RUNNER_")) == sorted(
        runner_variable(e, d) for e in ENVIRONMENT_NAMES for d in RUNNER_DUTIES
    )


def test_runner_and_listener_pods_are_restricted_valid_pods_without_a_token(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    releases = _releases(_platform(synthesized, env))
    controller = _values(releases[CONTROLLER_RELEASE])
    assert (
        restricted_problems(
            "controller",
            {
                "securityContext": controller["podSecurityContext"],
                "containers": [{"name": "manager", "securityContext": controller["securityContext"]}],
            },
        )
        == []
    )
    assert controller["serviceAccount"] == {"create": True, "name": CONTROLLER_SERVICE_ACCOUNT}
    for duty in RUNNER_DUTIES:
        values = _values(releases[runner_release(duty)])
        runner = values["template"]["spec"]
        assert runner["serviceAccountName"] == RUNNER_SERVICE_ACCOUNT
        assert runner["automountServiceAccountToken"] is False
        (container,) = runner["containers"]
        assert container["image"] == _project_image(synthesized, stack=_platform(synthesized, env))
        assert container["resources"]["limits"] and container["resources"]["requests"]
        listener = values["listenerTemplate"]["spec"]
        for where, spec in (("runner", runner), ("listener", listener)):
            assert restricted_problems(f"{duty} {where}", spec) == []
            validate(
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": spec}, env.eks_kubernetes_version
            )


def test_fails_if_a_runner_pod_is_not_restricted() -> None:
    spec: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {"name": "runner", "securityContext": {"allowPrivilegeEscalation": True, "capabilities": {"drop": ["ALL"]}}}
        ],
    }
    assert restricted_problems("runner", spec) == ["runner: container runner: allowPrivilegeEscalation is not false"]
    broken = copy.deepcopy(spec)
    broken["securityContext"].pop("seccompProfile")
    broken["hostNetwork"] = True
    assert restricted_problems("runner", broken)[:2] == [
        "runner: pod securityContext.seccompProfile is None, expected {'type': 'RuntimeDefault'}",
        "runner: hostNetwork",
    ]


def test_runners_have_no_aws_or_kubernetes_identity(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    """No IRSA role trusts a runner's service account, the service accounts mount no token and carry
    no role annotation, and no RBAC binds them: a job's AWS rights come from GitHub's OIDC token and
    the account stack's trusts alone."""
    stack = _platform(synthesized, env)
    for duty in RUNNER_DUTIES:
        (account,) = _in(stack, "kubernetes_service_account_v1", runner_namespace(duty))
        assert account["metadata"]["name"] == RUNNER_SERVICE_ACCOUNT
        assert account["automount_service_account_token"] is False
        assert "annotations" not in account["metadata"]
    text = str(stack.get("data", {}).get("aws_iam_policy_document", {}))
    assert "system:serviceaccount:arc-" not in text
    for type_ in ("kubernetes_role_binding_v1", "kubernetes_cluster_role_binding_v1"):
        for binding in (stack["resource"].get(type_) or {}).values():
            assert not [s for s in binding["subject"] if s["kind"] == "ServiceAccount"], binding


def test_runner_namespaces_are_restricted_quotaed_and_reach_https_only(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _platform(synthesized, env)
    names = _namespace_names(stack)
    releases = _releases(stack)
    for namespace in (CONTROLLER_NAMESPACE, *(runner_namespace(duty) for duty in RUNNER_DUTIES)):
        (ns,) = [stack["resource"]["kubernetes_namespace_v1"][k] for k, n in names.items() if n == namespace]
        assert ns["metadata"][0]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        policies = {p["metadata"]["name"]: p["spec"] for p in _in(stack, "kubernetes_network_policy_v1", namespace)}
        verifier = namespace == runner_namespace(VERIFIER_DUTY) and env.environment in ISOLATION_VERIFIED_ENVIRONMENTS
        postgres = policies.pop("allow-postgres-to-data-tier", None)
        # sign-off 6 after each deploy: the apply runners reach the database subnets on 5432, nothing more
        assert (postgres is not None) == verifier
        if postgres is not None:
            (out,) = postgres["egress"]
            assert out["ports"] == [{"port": "5432", "protocol": "TCP"}]
            # each database subnet's CIDR, read from the network stack's outputs
            cidrs = [t["ip_block"]["cidr"] for t in out["to"]]
            assert [set(t) for t in out["to"]] == [{"ip_block"}] * len(env.database_subnet_cidrs)
            assert all(re.search(r"network_database-subnet-\d+-cidr_block\}$", c) for c in cidrs), cidrs
        assert sorted(policies) == ["allow-dns", "allow-https-out", "default-deny"]
        (egress,) = policies["allow-https-out"]["egress"]
        assert egress["ports"] == [{"port": "443", "protocol": "TCP"}]
        assert egress["to"] == [{"ip_block": {"cidr": "0.0.0.0/0", "except": [INSTANCE_METADATA]}}]
        assert "ingress" not in policies["allow-https-out"]
    for duty in RUNNER_DUTIES:
        values = _values(releases[runner_release(duty)])
        (quota,) = _in(stack, "kubernetes_resource_quota_v1", runner_namespace(duty))
        (container,) = values["template"]["spec"]["containers"]
        count = values["maxRunners"]
        assert quota["spec"]["hard"]["pods"] == str(count)
        # The quota admits maxRunners runners at their limits, and no more.
        assert (
            quota["spec"]["hard"]["limits.memory"]
            == f"{int(container['resources']['limits']['memory'][:-2]) * count}Gi"
        )


# --- the image: the project's (dev/runner.Dockerfile, with make and the AWS CLI), not GitHub's ----------------


def _project_image(s: Synthesized, *, stack: dict[str, Any]) -> str:
    """The runner image the settings name: the account's registry (its id read by the platform stack's
    caller identity), account.tfvars' region, <project>-actions-runner, github_runner_image_tag."""
    account = s.settings.account
    (identity,) = (stack.get("data") or {}).get("aws_caller_identity") or {}
    return image_reference(
        account_id=f"${{data.aws_caller_identity.{identity}.account_id}}",
        region=account.region,
        repository=runner_image_repository(account.project),
        tag_or_digest=account.github_runner_image_tag,
    )


def test_scale_sets_run_the_project_image_by_the_tag_of_the_settings(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    account = synthesized.settings.account
    releases = _releases(_platform(synthesized, env))
    for duty in RUNNER_DUTIES:
        (container,) = _values(releases[runner_release(duty)])["template"]["spec"]["containers"]
        image = container["image"]
        assert re.fullmatch(
            rf"\$\{{data\.aws_caller_identity\.[\w-]+\.account_id\}}\.dkr\.ecr\.{re.escape(account.region)}"
            rf"\.amazonaws\.com/{account.project}-actions-runner:{re.escape(account.github_runner_image_tag)}",
            image,
        ), image
        assert not image.startswith("ghcr.io/"), "GitHub's image has no make and no AWS CLI"


def test_the_account_stack_creates_the_runner_image_repository_pushed_by_the_ci_role_only(
    synthesized: Synthesized,
) -> None:
    project = synthesized.settings.account.project
    repositories = {r["name"]: r for r in synthesized.resources(ACCOUNT_STACK, "aws_ecr_repository").values()}
    runner = repositories[f"{project}-actions-runner"]
    assert runner["image_tag_mutability"] == "IMMUTABLE"  # a tag names one image for good
    policies = [
        p
        for p in synthesized.resources(ACCOUNT_STACK, "aws_ecr_repository_policy").values()
        if "actions-runner" in str(p["repository"])
    ]
    assert len(policies) == 1


@pytest.mark.parametrize(
    ("tag_or_digest", "expected"),
    [
        (
            "2.335.1-0123456789ab",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/qualisys-actions-runner:2.335.1-0123456789ab",
        ),
        (
            "sha256:" + "a" * 64,
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/qualisys-actions-runner@sha256:" + "a" * 64,
        ),
    ],
)
def test_the_image_reference_takes_a_tag_or_a_digest(tag_or_digest: str, expected: str) -> None:
    assert (
        image_reference(
            account_id="123456789012",
            region="eu-west-1",
            repository=runner_image_repository("qualisys"),
            tag_or_digest=tag_or_digest,
        )
        == expected
    )
