"""Self-hosted GitHub Actions runners inside the cluster's VPC: GitHub's Actions Runner Controller.

The cluster's API endpoint is private, so every job that plans, applies or releases into it must run
inside its VPC. This construct installs ARC's controller (``gha-runner-scale-set-controller``) and one
runner scale set (``gha-runner-scale-set``) per duty of :data:`~qualisys_infra.core.naming.RUNNER_DUTIES`:
``plan`` for pull requests' plans (workflow code nobody has reviewed), ``apply`` for reviewed code on
main (deploy's plans and applies, drift, releases). Each scale set registers with the repository
under the label :func:`~qualisys_infra.core.naming.runner_label` (``qualisys-staging-plan``); the
github stack sets those labels as Actions variables for the workflows' ``runs-on``.

What each runner may do:

- **Ephemeral**: a runner pod takes one job and is deleted (ARC's scale sets only make ephemeral
  runners); nothing a job leaves behind reaches the next one. No idle runner waits (``minRunners`` 0).
- **No AWS identity of its own**: the runners' service accounts carry no IRSA role and mount no
  Kubernetes token; the nodes' instance metadata is out of reach (IMDSv2 with a hop limit of 1 on the
  node groups, and :data:`INSTANCE_METADATA` left out of the runners' egress). A job gets AWS
  credentials only through GitHub's OIDC token and the role trusts of the account stack, which name
  the environment and the workflow file: an IRSA role on a runner would instead hand its rights to
  any job that asks for the label, approved or not.
- **Separate by duty**: each scale set has its own namespace, service account and quota, so a pull
  request's job never shares a pod, a volume or a quota with an apply.
- **Restricted pods**: Pod Security ``restricted`` in every namespace (non-root, no privilege
  escalation, every capability dropped, RuntimeDefault seccomp), hence no Docker-in-Docker and no
  container jobs: the cluster-reaching jobs run ``make``/``qualisys-infra`` steps only.
- **The project's image**: ``dev/runner.Dockerfile`` (GitHub's runner image plus ``make`` and the AWS
  CLI, which every job's ``make setup`` and the providers' ``aws eks get-token`` need, and which a
  restricted pod cannot install), from the account's ECR repository ``<project>-actions-runner`` at
  account.tfvars' ``github_runner_image_tag``; setup-python and setup-node download Python and Node
  into the runner's own tool cache on each run.
- **Network**: DNS, and HTTPS (443) anywhere but the instance metadata address: GitHub, the package
  registries, the AWS APIs and the cluster's private endpoint. Nothing reaches the data tier.

GitHub App credentials: each scale set authenticates with the GitHub App whose Kubernetes Secret
:data:`GITHUB_APP_SECRET` exists in its namespace (keys ``github_app_id``,
``github_app_installation_id``, ``github_app_private_key``; the chart's ``githubConfigSecret``). The
Secret is created by an operator (README, "Runners inside the VPC"), never by Terraform: a value
Terraform writes is kept in the state, which the plan role, and so every pull request, can read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modules.network import Network
from modules.platform.charts import RUNNER_CHARTS
from modules.platform.namespace import Namespace, NamespaceProps
from modules.platform.values import to_yaml
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.helm import release
from qualisys_infra.core.engine.kubernetes import service_account_v1
from qualisys_infra.core.naming import (
    RUNNER_CONTROLLER_NAMESPACE,
    RUNNER_DUTIES,
    runner_label,
    runner_namespace,
)
from qualisys_infra.core.settings import NamespaceConfig

CONTROLLER_NAMESPACE = RUNNER_CONTROLLER_NAMESPACE
CONTROLLER_RELEASE = "arc-controller"
CONTROLLER_SERVICE_ACCOUNT = "arc-controller"
RUNNER_SERVICE_ACCOUNT = "runner"
# The Secret (in each runner namespace) holding the GitHub App's id, installation id and private key.
GITHUB_APP_SECRET = "github-app"  # noqa: S105 - the Secret's name, not a credential
# The runner pods run the project's image (dev/runner.Dockerfile: GitHub's runner image, which has
# neither, plus make and the AWS CLI that every job's `make setup` and `aws eks get-token` need),
# built from ghcr.io/actions/actions-runner:2.335.1 — actions/actions-runner-controller,
# runner/VERSION at 391bc57 (2026-06-12, "Updates: runner to v2.335.1"), read 2026-12-06: the runner
# ARC ships beside the 0.14 charts. GitHub stops assigning jobs to runners older than its announced
# minimum, so that pin ages: raise it (in dev/runner.Dockerfile) with the charts.
# The runner image's user (actions/runner images/Dockerfile: `runner`, uid 1001; dev/runner.Dockerfile's USER).
RUNNER_UID = 1001
# The controller and listener image's user (ARC's Dockerfile: distroless static, USER 65532).
CONTROLLER_UID = 65532
INSTANCE_METADATA = "169.254.169.254/32"
ANYWHERE = "0.0.0.0/0"
RELEASE_TIMEOUT_SECONDS = 600


# The duty whose jobs run sign-off 6 against the environment's database after a deploy, and the port.
VERIFIER_DUTY = "apply"
POSTGRES_PORT = 5432


def runner_release(duty: str) -> str:
    """The Helm release of the scale set of ``duty`` (a key of :data:`~modules.platform.charts.RUNNER_CHARTS`)."""
    return f"arc-runners-{duty}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerResources:
    """What one runner pod requests and may use: Terraform with the AWS, Kubernetes and Helm
    providers, Python and Node fit in these (a plan of the largest stack peaks near 1.5 GiB)."""

    cpu_request: str = "500m"
    cpu_limit: str = "2"
    memory_request: str = "1Gi"
    memory_limit: str = "3Gi"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunnerScaleSetsProps:
    """The repository the runners register with and how many of each duty may run at once.

    ``max_runners`` per duty bounds the scale set and sizes its namespace's quota (each runner's
    ``resources`` limits times that number). ``pod_security_version`` pins the Pod Security
    Standards' version of the namespaces, as for the platform's own.
    """

    project: str
    environment: str
    repository: str  # OWNER/REPO
    pod_security_version: str
    # The runners' image, REGISTRY/REPOSITORY:TAG or @sha256:... (the project's, from ECR: see
    # modules.container_registry.image_reference and account.tfvars' github_runner_image_tag).
    image: str
    max_runners: Mapping[str, int] = field(default_factory=lambda: {"plan": 4, "apply": 2})
    # Where every deploy proves tenant isolation on the environment's database (sign-off 6, run by
    # deploy.yml on the apply runners): the network whose database subnets the apply runners may then
    # reach on PostgreSQL's port. None: no runner reaches the data tier.
    isolation_verified_network: Network | None = None
    resources: RunnerResources = RunnerResources()


class RunnerScaleSets(Construct):
    """ARC's controller in :data:`CONTROLLER_NAMESPACE` and one runner scale set per duty in its own
    namespace, each with its service account (no token, no IAM role) and network policies.

    ``labels[duty]`` is the label jobs name in ``runs-on``; ``namespaces`` maps each namespace's name to
    its :class:`~modules.platform.namespace.Namespace`.
    """

    def __init__(self, scope: Construct, id_: str, *, props: RunnerScaleSetsProps) -> None:
        super().__init__(scope, id_)
        missing = [duty for duty in RUNNER_DUTIES if props.max_runners.get(duty, 0) < 1]
        if missing:
            raise ValueError(f"max_runners: every duty needs at least one runner, got none for {missing}")
        self.labels = {duty: runner_label(props.project, props.environment, duty) for duty in RUNNER_DUTIES}
        self.namespaces: dict[str, Namespace] = {}
        controller_ns = self._namespace(
            CONTROLLER_NAMESPACE,
            props,
            # The controller and one listener per scale set.
            NamespaceConfig(
                cpu_requests="1",
                memory_requests="1Gi",
                cpu_limits="2",
                memory_limits="2Gi",
                pods=1 + len(RUNNER_DUTIES) + 2,  # room for a listener being replaced
                default_cpu="250m",
                default_memory="256Mi",
            ),
        )
        # The controller calls the cluster's API; each listener holds a long poll on GitHub's API.
        self._egress_https(controller_ns, "allow-https-out")
        chart = RUNNER_CHARTS[CONTROLLER_RELEASE]
        self.controller = release.Release(
            self,
            CONTROLLER_RELEASE,
            name=CONTROLLER_RELEASE,
            repository=chart.repository,
            chart=chart.chart,
            version=chart.version,
            namespace=controller_ns.token,
            values=[to_yaml(controller_values())],
            atomic=True,
            cleanup_on_fail=True,
            timeout=RELEASE_TIMEOUT_SECONDS,
        )
        self.scale_sets: dict[str, release.Release] = {}
        for duty in RUNNER_DUTIES:
            count = props.max_runners[duty]
            r = props.resources
            ns = self._namespace(
                runner_namespace(duty),
                props,
                NamespaceConfig(
                    cpu_requests=_times(r.cpu_request, count),
                    memory_requests=_times(r.memory_request, count),
                    cpu_limits=_times(r.cpu_limit, count),
                    memory_limits=_times(r.memory_limit, count),
                    pods=count,
                    default_cpu=r.cpu_limit,
                    default_memory=r.memory_limit,
                ),
            )
            self._egress_https(ns, "allow-https-out")
            if duty == VERIFIER_DUTY and props.isolation_verified_network is not None:
                self._egress_postgres(ns, props.isolation_verified_network)
            account = service_account_v1.ServiceAccountV1(
                self,
                f"{duty}-service-account",
                metadata=service_account_v1.ServiceAccountV1Metadata(name=RUNNER_SERVICE_ACCOUNT, namespace=ns.token),
                automount_service_account_token=False,
            )
            chart = RUNNER_CHARTS[runner_release(duty)]
            self.scale_sets[duty] = release.Release(
                self,
                runner_release(duty),
                name=runner_release(duty),
                repository=chart.repository,
                chart=chart.chart,
                version=chart.version,
                namespace=ns.token,
                values=[
                    to_yaml(
                        scale_set_values(
                            repository=props.repository,
                            label=self.labels[duty],
                            max_runners=count,
                            service_account=RUNNER_SERVICE_ACCOUNT,
                            resources=r,
                            image=props.image,
                        )
                    )
                ],
                atomic=True,
                cleanup_on_fail=True,
                timeout=RELEASE_TIMEOUT_SECONDS,
                # The controller's CRDs, its service account and the runners' must exist first.
                depends_on=[self.controller, account],
            )

    def _namespace(self, name: str, props: RunnerScaleSetsProps, quota: NamespaceConfig) -> Namespace:
        namespace = Namespace(
            self,
            f"ns-{name}",
            props=NamespaceProps(name=name, quota=quota, pod_security_version=props.pod_security_version),
        )
        self.namespaces[name] = namespace
        return namespace

    def _egress_postgres(self, namespace: Namespace, network: Network) -> None:
        """PostgreSQL's port to the database subnets only: sign-off 6 after a deploy (the database's
        security group already admits the nodes the runners run on)."""
        cidrs = [subnet.cidr_block for subnet in network.database_subnets]
        namespace.allow_egress_to_networks("allow-postgres-to-data-tier", cidrs, ports=((POSTGRES_PORT, "TCP"),))

    def _egress_https(self, namespace: Namespace, name: str) -> None:
        """HTTPS out to anywhere but the instance metadata service (the default deny covers the rest)."""
        namespace.allow_egress_to_networks(name, [ANYWHERE], ports=((443, "TCP"),), except_=[INSTANCE_METADATA])


def _restricted_container() -> dict[str, Any]:
    """Pod Security ``restricted``'s container fields (a new dict each time: the values' YAML has no aliases)."""
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True}


def _restricted_pod(uid: int) -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "seccompProfile": {"type": "RuntimeDefault"}}


def controller_values() -> dict[str, Any]:
    """The controller chart's values: a named service account (the scale sets name it), restricted
    pod and container, JSON logs at info."""
    return {
        "fullnameOverride": CONTROLLER_RELEASE,
        "serviceAccount": {"create": True, "name": CONTROLLER_SERVICE_ACCOUNT},
        "podSecurityContext": _restricted_pod(CONTROLLER_UID),
        "securityContext": {**_restricted_container(), "readOnlyRootFilesystem": True},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
        "flags": {"logLevel": "info", "logFormat": "json"},
    }


def scale_set_values(
    *,
    repository: str,
    label: str,
    max_runners: int,
    service_account: str,
    resources: RunnerResources,
    image: str,
) -> dict[str, Any]:
    """One scale set's values: registered with ``repository`` as ``label``, at most ``max_runners``
    ephemeral runners of ``image``, each a restricted pod of ``service_account`` without a token; its
    listener (in the controller's namespace) restricted too."""
    return {
        "githubConfigUrl": f"https://github.com/{repository}",
        "githubConfigSecret": GITHUB_APP_SECRET,
        "runnerScaleSetName": label,
        "minRunners": 0,
        "maxRunners": max_runners,
        "controllerServiceAccount": {"namespace": CONTROLLER_NAMESPACE, "name": CONTROLLER_SERVICE_ACCOUNT},
        "listenerTemplate": {
            "spec": {
                "securityContext": _restricted_pod(CONTROLLER_UID),
                "containers": [
                    {
                        "name": "listener",
                        "securityContext": _restricted_container(),
                        "resources": {
                            "requests": {"cpu": "50m", "memory": "64Mi"},
                            "limits": {"cpu": "250m", "memory": "256Mi"},
                        },
                    }
                ],
            }
        },
        "template": {
            "spec": {
                "serviceAccountName": service_account,
                "automountServiceAccountToken": False,
                "securityContext": {**_restricted_pod(RUNNER_UID), "fsGroup": RUNNER_UID},
                "containers": [
                    {
                        "name": "runner",
                        "image": image,
                        "command": ["/home/runner/run.sh"],
                        "securityContext": _restricted_container(),
                        "resources": {
                            "requests": {"cpu": resources.cpu_request, "memory": resources.memory_request},
                            "limits": {"cpu": resources.cpu_limit, "memory": resources.memory_limit},
                        },
                    }
                ],
            }
        },
    }


def _times(quantity: str, count: int) -> str:
    """``count`` times a Kubernetes quantity written as digits with an optional ``m``, ``Mi`` or ``Gi``."""
    for suffix in ("Gi", "Mi", "m"):
        if quantity.endswith(suffix):
            return f"{int(quantity.removesuffix(suffix)) * count}{suffix}"
    return str(int(quantity) * count)
