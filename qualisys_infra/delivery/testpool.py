"""The parallel Playwright test pool (NFR-P2: 50+ runners on the dedicated node group): how many
runners fit, and the Kubernetes Job that runs them.

Capacity. A runner is a pod with the requests and limits of ``test_pool`` in the environment file. It
must fit twice: in the ``playwright-pool`` namespace's ResourceQuota (pods, requests and limits, summed
over the runners), and on the playwright node group at ``max_size``, node by node, since a pod is never
split across nodes: each node holds as many runners as its allocatable CPU, memory and pod slots allow
after EKS's reservations and the DaemonSets every node runs (:func:`runners_per_node`). The rules in
:mod:`qualisys_infra.config.rules` turn the arithmetic into one-line errors.

Allocatable per instance type is computed the way the EKS-optimized AMIs configure the kubelet
(amazon-eks-ami: ``max-pods`` from ``eni-max-pods.txt`` = ENIs x (IPv4 per ENI - 1) + 2; kube-reserved
CPU 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% of the rest; kube-reserved memory
11 MiB per pod + 255 MiB; hard eviction at 100 MiB) from the memory the kernel sees, which is about
7.5% less than the nominal size (Karpenter's ``VM_MEMORY_OVERHEAD_PERCENT`` default). The results equal
Karpenter's published instance-types reference (AL2, ENI-limited pod density), e.g. c5.xlarge 3920m CPU,
6584Mi memory, 58 pods; a test pins that.

The Job. :func:`render_job` builds a ``batch/v1`` Indexed Job: ``completions`` = shards,
``parallelism`` = runners, Playwright's 1-based ``--shard=INDEX+1/TOTAL`` from the completion index,
the restricted Pod Security profile (the namespace enforces it), the playwright node group's taint
and label, and the resources of ``test_pool``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.playwright_pool import NAMESPACE, NODE_GROUP, NODE_POOL_LABEL, TAINT
from qualisys_infra.core.settings import EnvironmentConfig, PlaywrightPoolConfig

CONTAINER = "playwright"
MAX_SHARDS = 10_000
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
CONTAINER_TMP = "/tmp"  # noqa: S108
CONTAINER_SHM = "/dev/shm"  # noqa: S108
TMP_SIZE = "2Gi"  # /tmp: HOME, the browsers' profiles and caches, test results
SHM_SIZE = "256Mi"  # /dev/shm for Chromium (counts against the memory limit)

_IMAGE = re.compile(
    r"^(?:(?P<registry>[a-zA-Z0-9.-]+(?::\d+)?)/)?"
    r"(?P<repository>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,50}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Image:
    """A parsed image reference."""

    reference: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def repository_name(self) -> str:
        """The last path part of the repository: ECR's repository name for ``<acct>.dkr.ecr...``."""
        return self.repository.rsplit("/", 1)[-1]


def parse_image(reference: str, pool: PlaywrightPoolConfig, env_file: str) -> Image:
    """``--image``: a reference to the runner image; UsageError naming what is wrong otherwise."""
    m = _IMAGE.fullmatch(reference)
    if not m:
        raise UsageError(
            f"--image: got {reference!r}, expected an image reference REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]"
        )
    image = Image(reference, m.group("repository"), m.group("tag"), m.group("digest"))
    if image.repository_name != pool.runner_image_repository:
        raise UsageError(
            f"--image: got {reference!r}, expected the runner image repository {pool.runner_image_repository!r} "
            f"(test_pool.runner_image_repository in {env_file})"
        )
    return image


def shard_command() -> list[str]:
    """The container's command: the shell turns the 0-based completion index into Playwright's 1-based
    ``--shard=N/TOTAL`` and passes on any further arguments. ``$$`` is Kubernetes' escape for a ``$``
    in ``args`` (``$(NAME)`` would be expanded by the kubelet)."""
    script = (
        'exec npx playwright test --shard="$$((SHARD_INDEX + 1))/$${SHARD_TOTAL}" '
        f'--output={CONTAINER_TMP}/test-results "$$@"'
    )
    return ["/bin/sh", "-c", script, "playwright-runner"]


def render_job(
    env: EnvironmentConfig,
    *,
    image: str,
    runners: int | None = None,
    shards: int | None = None,
    name: str | None = None,
    playwright_args: tuple[str, ...] = (),
    env_file: str = "",
) -> dict[str, Any]:
    """The Indexed Job that runs ``shards`` Playwright shards on at most ``runners`` pods at once.

    ``runners`` defaults to ``test_pool.runners`` and may not exceed it (the capacity checks were done
    for that number); ``shards`` defaults to ``runners``. Without ``name`` the Job has
    ``generateName: playwright-`` (create it with ``kubectl create``).
    """
    pool = env.test_pool
    where = env_file or f"environments/{env.environment}.tfvars"
    parsed = parse_image(image, pool, where)
    runners = pool.runners if runners is None else runners
    if not 1 <= runners <= pool.runners:
        raise UsageError(
            f"--runners: got {runners}, expected 1 to {pool.runners} (test_pool.runners in {where}; "
            "the quota and node group are checked for that many)"
        )
    shards = runners if shards is None else shards
    if not 1 <= shards <= MAX_SHARDS:
        raise UsageError(f"--shards: got {shards}, expected 1 to {MAX_SHARDS}")
    if name is not None and not _DNS_SUBDOMAIN.fullmatch(name):
        raise UsageError(
            f"--name: got {name!r}, expected 1-52 lower-case letters, digits and -, starting and ending "
            "with a letter or digit (a Job's name becomes its pods' label and hostname)"
        )
    labels = {
        "app.kubernetes.io/name": "playwright-runner",
        "app.kubernetes.io/part-of": "qualisys",
        "app.kubernetes.io/component": "test-pool",
        "qualisys.io/environment": env.environment,
    }
    metadata: dict[str, Any] = {"namespace": NAMESPACE, "labels": labels}
    if name is None:
        metadata["generateName"] = "playwright-"
    else:
        metadata["name"] = name
    pull = "IfNotPresent" if parsed.digest or (parsed.tag and parsed.tag != "latest") else "Always"
    user = pool.run_as_user
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": parsed.reference,
        "imagePullPolicy": pull,
        "command": shard_command()[:3],
        # Every $ doubled: the kubelet turns $$ back into $ and expands nothing the user wrote.
        "args": [*shard_command()[3:], *(a.replace("$", "$$") for a in playwright_args)],
        "env": [
            {
                "name": "SHARD_INDEX",
                "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"}},
            },
            {"name": "SHARD_TOTAL", "value": str(shards)},
            {"name": "CI", "value": "true"},
            {"name": "HOME", "value": CONTAINER_TMP},
            {"name": "PLAYWRIGHT_BLOB_OUTPUT_DIR", "value": f"{CONTAINER_TMP}/blob-report"},
        ],
        "resources": {
            "requests": {"cpu": pool.cpu_request, "memory": pool.memory_request},
            "limits": {"cpu": pool.cpu_limit, "memory": pool.memory_limit},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": user,
            "runAsGroup": user,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "tmp", "mountPath": CONTAINER_TMP},
            {"name": "dshm", "mountPath": CONTAINER_SHM},
        ],
    }
    key, value, effect = TAINT
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "completionMode": "Indexed",
            "completions": shards,
            "parallelism": min(runners, shards),
            "backoffLimitPerIndex": pool.backoff_limit_per_index,
            # A replacement pod starts only once the failed one is gone: never more pods than the quota.
            "podReplacementPolicy": "Failed",
            # A node drained or a pod preempted is not the shard's fault: retry it without counting.
            "podFailurePolicy": {
                "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]
            },
            "activeDeadlineSeconds": pool.timeout_minutes * 60,
            "ttlSecondsAfterFinished": pool.ttl_seconds_after_finished,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "nodeSelector": {NODE_POOL_LABEL: NODE_GROUP},
                    "tolerations": [{"key": key, "operator": "Equal", "value": value, "effect": effect}],
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": user,
                        "runAsGroup": user,
                        "fsGroup": user,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE}},
                        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": SHM_SIZE}},
                    ],
                },
            },
        },
    }
