"""The test pool's Job: rendered for every environment and validated against Kubernetes' own OpenAPI
schemas (kubernetes-validate, strict: an unknown field fails) for the cluster's version; the shard
arithmetic is run through the kubelet's variable expansion and a real shell."""

from __future__ import annotations

import ast
import copy
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from qualisys_infra.config import Settings
from qualisys_infra.core import playwright_pool
from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.settings import EnvironmentConfig
from qualisys_infra.delivery import testpool
from tests.apps.schemas import schema_version
from tests.conftest import ENVIRONMENT_NAMES, ROOT

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/qualisys-playwright-runner:1.4.0"


def _env(settings: Settings, name: str) -> EnvironmentConfig:
    return next(e for e in settings.environments if e.environment == name)


def _validate(job: dict[str, Any], env: EnvironmentConfig) -> str:
    """Validate ``job`` with the schemas of the newest Kubernetes not newer than the cluster's."""
    return str(kubernetes_validate.validate(job, env.eks_kubernetes_version, strict=True))


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_job_of_every_environment_is_valid_for_its_kubernetes(settings: Settings, name: str) -> None:
    env = _env(settings, name)
    job = testpool.render_job(env, image=IMAGE)
    # kubernetes-validate ships the schemas of every minor up to its own; the cluster's is among them
    # (the lifecycle table's schema version of the minor is the minor itself).
    schema = schema_version(env.eks_kubernetes_version)
    assert _validate(job, env) == env.eks_kubernetes_version == schema
    named = testpool.render_job(env, image=IMAGE, runners=2, shards=7, name="nightly-42", playwright_args=("-x",))
    assert _validate(named, env) == schema


def test_job_runs_the_pool(settings: Settings) -> None:
    env = _env(settings, "staging")
    job = testpool.render_job(env, image=IMAGE)
    spec = job["spec"]
    assert job["metadata"]["namespace"] == "playwright-pool"
    assert job["metadata"]["generateName"] == "playwright-"
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 50, 50)
    assert spec["backoffLimitPerIndex"] == env.test_pool.backoff_limit_per_index == 1
    assert spec["ttlSecondsAfterFinished"] == 3600
    assert spec["activeDeadlineSeconds"] == 3600
    # podFailurePolicy needs restartPolicy Never, and with it podReplacementPolicy Failed (API validation
    # that no schema expresses).
    assert spec["podReplacementPolicy"] == "Failed"
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["nodeSelector"] == {"qualisys.io/node-pool": "playwright"}
    # stacks/cluster.py taints the node group dedicated=playwright:NoSchedule.
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "playwright", "effect": "NoSchedule"}
    ]
    (container,) = pod["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }
    assert container["image"] == IMAGE
    assert container["imagePullPolicy"] == "IfNotPresent"


def test_job_meets_the_restricted_pod_security_standard(settings: Settings) -> None:
    """What the namespace's `restricted` Pod Security level admits (PSA pinned per minor in the lifecycle table)."""
    pod = testpool.render_job(_env(settings, "production"), image=IMAGE)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert isinstance(pod["securityContext"]["runAsUser"], int) and pod["securityContext"]["runAsUser"] > 0
    assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
    assert "privileged" not in sc
    # Writable places on a read-only root: /tmp (HOME, caches, results) and /dev/shm, emptyDirs only.
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(mounts) == {"/tmp", "/dev/shm"}
    assert all(set(volumes[name]) == {"name", "emptyDir"} for name in mounts.values())
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    assert {"name": "HOME", "value": "/tmp"} in container["env"]


def test_shards_default_to_runners_and_runners_to_the_pool(settings: Settings) -> None:
    env = _env(settings, "dev")
    default = testpool.render_job(env, image=IMAGE)["spec"]
    assert (default["completions"], default["parallelism"]) == (16, 16)
    fewer = testpool.render_job(env, image=IMAGE, runners=4, shards=12)["spec"]
    assert (fewer["completions"], fewer["parallelism"]) == (12, 4)
    # More runners than shards would idle: parallelism stops at the shard count.
    small = testpool.render_job(env, image=IMAGE, shards=3)["spec"]
    assert (small["completions"], small["parallelism"]) == (3, 3)


def test_more_runners_than_the_pool_is_refused(settings: Settings) -> None:
    env = _env(settings, "staging")
    with pytest.raises(UsageError, match=r"--runners: got 51, expected 1 to 50 \(test_pool.runners in environments/"):
        testpool.render_job(env, image=IMAGE, runners=51)
    assert testpool.render_job(env, image=IMAGE, runners=50)["spec"]["parallelism"] == 50


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("nginx:1.27", "expected the runner image repository 'qualisys-playwright-runner'"),
        ("registry.example/team/qualisys-api:1", "expected the runner image repository"),
        ("Qualisys-Playwright-Runner:1", "expected an image reference"),
        ("qualisys-playwright-runner:bad tag", "expected an image reference"),
    ],
)
def test_only_the_runner_image_runs(settings: Settings, image: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        testpool.render_job(_env(settings, "dev"), image=image)


def test_image_pull_policy_follows_the_pin(settings: Settings) -> None:
    env = _env(settings, "dev")
    digest = "sha256:" + "a" * 64
    for image, policy in (
        (IMAGE, "IfNotPresent"),
        (f"registry.example/qualisys-playwright-runner@{digest}", "IfNotPresent"),
        ("registry.example/qualisys-playwright-runner", "Always"),
        ("registry.example/qualisys-playwright-runner:latest", "Always"),
    ):
        (container,) = testpool.render_job(env, image=image)["spec"]["template"]["spec"]["containers"]
        assert container["imagePullPolicy"] == policy, image


@pytest.mark.parametrize("name", ["Nightly", "-x", "a" * 53, "a_b"])
def test_job_name_must_be_a_short_dns_label(settings: Settings, name: str) -> None:
    with pytest.raises(UsageError, match="--name: got"):
        testpool.render_job(_env(settings, "dev"), image=IMAGE, name=name)


# --- Kubernetes' schemas catch a broken Job -----------------------------------------------------------------


def _broken(
    job: dict[str, Any], where: list[str | int], key: str, value: Any, *, drop: str | None = None
) -> dict[str, Any]:
    job = copy.deepcopy(job)
    node: Any = job
    for step in where:
        node = node[step]
    if drop is not None:
        node[key] = node.pop(drop)
    else:
        node[key] = value
    return job


CONTAINER = ["spec", "template", "spec", "containers", 0]


@pytest.mark.parametrize(
    ("where", "key", "value", "drop", "message"),
    [
        (
            [*CONTAINER, "securityContext"],
            "readOnlyRootFileSystem",
            None,
            "readOnlyRootFilesystem",
            "readOnlyRootFileSystem",
        ),
        (["spec"], "backoffLimitPerindex", None, "backoffLimitPerIndex", "backoffLimitPerindex"),
        (["spec"], "parallelism", "50", None, "'50' is not of type 'integer'"),
        (["spec", "template", "spec", "tolerations", 0], "effect", 7, None, "7 is not of type 'string'"),
        ([*CONTAINER], "resources", {"request": {"cpu": "1"}}, None, "'request' was unexpected"),
    ],
)
def test_a_planted_mistake_fails_kubernetes_validation(
    settings: Settings, where: list[str | int], key: str, value: Any, drop: str | None, message: str
) -> None:
    env = _env(settings, "staging")
    job = _broken(testpool.render_job(env, image=IMAGE), where, key, value, drop=drop)
    with pytest.raises(kubernetes_validate.ValidationError) as info:
        _validate(job, env)
    assert message in str(info.value)


# --- the shard arithmetic, through the kubelet's expansion and a shell ----------------------------------------


def kubelet_expand(text: str, variables: dict[str, str]) -> str:
    """Kubernetes' expansion of ``$(NAME)`` in a container's command and args (k8s.io/kubernetes
    third_party/forked/golang/expansion): ``$$`` is a ``$``, an unknown ``$(NAME)`` stays as written."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            following = text[i + 1]
            if following == "$":
                out.append("$")
                i += 2
                continue
            if following == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2 : end]
                    out.append(variables.get(name, text[i : end + 1]))
                    i = end + 1
                    continue
            out.append("$" + following)
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def test_each_pod_runs_its_one_based_playwright_shard(settings: Settings, tmp_path: Path) -> None:
    env = _env(settings, "dev")
    job = testpool.render_job(env, image=IMAGE, shards=10, playwright_args=("--project=chromium", "--grep=$(HOME)"))
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"][:2] == ["/bin/sh", "-c"]
    # Kubernetes sets the index from the pod's annotation: SHARD_INDEX reads the same annotation.
    index_env = next(e for e in container["env"] if e["name"] == "SHARD_INDEX")
    assert index_env["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    )
    variables = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    fake_npx = tmp_path / "npx"
    fake_npx.write_text('#!/bin/sh\nfor arg in "$@"; do printf "%s\\n" "$arg"; done\n', encoding="utf-8")
    fake_npx.chmod(0o755)
    for index, shard in ((0, "1/10"), (9, "10/10")):
        pod_env = {**variables, "SHARD_INDEX": str(index), "JOB_COMPLETION_INDEX": str(index)}
        argv = [kubelet_expand(part, pod_env) for part in [*container["command"], *container["args"]]]
        result = subprocess.run(
            argv,
            env={**pod_env, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"},
            capture_output=True,
            text=True,
            check=True,
        )
        assert result.stdout.splitlines() == [
            "playwright",
            "test",
            f"--shard={shard}",
            "--output=/tmp/test-results",
            "--project=chromium",
            "--grep=$(HOME)",  # the user's argument reaches Playwright as written, not expanded
        ]


# --- the Job and the cluster agree ------------------------------------------------------------------------


def _constant(path: Path, name: str) -> object:
    """A module-level constant's literal value, read without importing the module (and the engine)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not in {path}")


def test_job_tolerates_the_taint_and_selects_the_label_the_cluster_sets(settings: Settings) -> None:
    # One place for the pool's facts (core/playwright_pool.py): the node group's taint as the EKS API
    # spells it, the Job's toleration as the Kubernetes API does, the same key and value.
    key, value, effect = playwright_pool.NODE_GROUP_TAINT
    effects = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
    pod = testpool.render_job(_env(settings, "dev"), image=IMAGE)["spec"]["template"]["spec"]
    assert pod["tolerations"] == [{"key": key, "operator": "Equal", "value": value, "effect": effects[effect]}]
    assert pod["nodeSelector"] == {playwright_pool.NODE_POOL_LABEL: playwright_pool.NODE_GROUP}
    # stacks/cluster.py reads them from there, and so does the namespaces module
    cluster = (ROOT / "stacks" / "cluster.py").read_text(encoding="utf-8")
    assert "labels={NODE_POOL_LABEL: group}" in cluster
    assert "taints=(NODE_GROUP_TAINT,) if group == NODE_GROUP" in cluster
    from modules.platform.namespaces import PLAYWRIGHT_POOL

    assert PLAYWRIGHT_POOL == playwright_pool.NAMESPACE
