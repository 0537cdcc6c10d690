"""The smoke-test workload (smoke test 1): ``hello`` behind the ALB, as restricted as a pod can be.

Non-root with a fixed user, read-only root filesystem, no capabilities, no privilege escalation,
RuntimeDefault seccomp, no service-account token; ``/health`` and ``/ready`` probes; a ClusterIP
service and an internet-facing ingress through the :class:`IngressEdge` (TLS, WAF).
"""

from __future__ import annotations

from dataclasses import dataclass

from modules.platform.edge import IngressEdge
from modules.platform.namespace import Namespace
from modules.platform.namespaces import APP_PORT
from modules.waivers import waive
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.kubernetes import deployment_v1, ingress_v1, service_v1

IMAGE = "hashicorp/http-echo:1.0.0"
HEALTH_PATH = "/health"
READY_PATH = "/ready"


@dataclass(frozen=True, slots=True, kw_only=True)
class HelloAppProps:
    """The namespace ``hello`` runs in and the edge its ingress goes through."""

    namespace: Namespace
    edge: IngressEdge
    replicas: int = 2


class HelloApp(Construct):
    """A ``hello`` deployment, service and ingress in ``namespace``."""

    def __init__(self, scope: Construct, id_: str, *, props: HelloAppProps) -> None:
        super().__init__(scope, id_)
        namespace = props.namespace.token
        labels = {"app.kubernetes.io/name": "hello"}
        d = deployment_v1
        self.deployment = d.DeploymentV1(
            self,
            "deployment",
            metadata=deployment_v1.DeploymentV1Metadata(name="hello", namespace=namespace, labels=labels),
            spec=deployment_v1.DeploymentV1Spec(
                replicas=str(props.replicas),
                selector=deployment_v1.DeploymentV1SpecSelector(match_labels=labels),
                template=deployment_v1.DeploymentV1SpecTemplate(
                    metadata=deployment_v1.DeploymentV1SpecTemplateMetadata(labels=labels),
                    spec=d.DeploymentV1SpecTemplateSpec(
                        automount_service_account_token=False,
                        security_context=d.DeploymentV1SpecTemplateSpecSecurityContext(
                            run_as_non_root=True,
                            run_as_user="65532",
                            run_as_group="65532",
                            seccomp_profile=d.DeploymentV1SpecTemplateSpecSecurityContextSeccompProfile(
                                type="RuntimeDefault"
                            ),
                        ),
                        container=[
                            d.DeploymentV1SpecTemplateSpecContainer(
                                name="hello",
                                image=IMAGE,
                                image_pull_policy="Always",
                                args=[f"-listen=:{APP_PORT}", "-text=hello from QUALISYS staging"],
                                port=[
                                    d.DeploymentV1SpecTemplateSpecContainerPort(container_port=APP_PORT, name="http")
                                ],
                                liveness_probe=d.DeploymentV1SpecTemplateSpecContainerLivenessProbe(
                                    http_get=d.DeploymentV1SpecTemplateSpecContainerLivenessProbeHttpGet(
                                        path=HEALTH_PATH, port=str(APP_PORT)
                                    ),
                                    period_seconds=10,
                                ),
                                readiness_probe=d.DeploymentV1SpecTemplateSpecContainerReadinessProbe(
                                    http_get=d.DeploymentV1SpecTemplateSpecContainerReadinessProbeHttpGet(
                                        path=READY_PATH, port=str(APP_PORT)
                                    ),
                                    period_seconds=5,
                                ),
                                resources=d.DeploymentV1SpecTemplateSpecContainerResources(
                                    requests={"cpu": "50m", "memory": "32Mi"}, limits={"cpu": "200m", "memory": "64Mi"}
                                ),
                                security_context=d.DeploymentV1SpecTemplateSpecContainerSecurityContext(
                                    allow_privilege_escalation=False,
                                    read_only_root_filesystem=True,
                                    run_as_non_root=True,
                                    capabilities=d.DeploymentV1SpecTemplateSpecContainerSecurityContextCapabilities(
                                        drop=["ALL"]
                                    ),
                                ),
                            )
                        ],
                    ),
                ),
            ),
        )
        waive(
            self.deployment,
            "CKV_K8S_43",
            "the smoke-test image is pinned by its release tag; the registry's digest cannot be looked up "
            "from the build machines, and the pod runs read-only, non-root, with no capabilities",
        )
        service_v1.ServiceV1(
            self,
            "service",
            metadata=service_v1.ServiceV1Metadata(name="hello", namespace=namespace, labels=labels),
            spec=service_v1.ServiceV1Spec(
                selector=labels,
                port=[service_v1.ServiceV1SpecPort(port=80, target_port=str(APP_PORT), name="http")],
                type="ClusterIP",
            ),
        )
        ingress_v1.IngressV1(
            self,
            "ingress",
            metadata=ingress_v1.IngressV1Metadata(
                name="hello",
                namespace=namespace,
                annotations={
                    **props.edge.alb_annotations(),
                    "alb.ingress.kubernetes.io/healthcheck-path": HEALTH_PATH,
                },
            ),
            spec=ingress_v1.IngressV1Spec(
                ingress_class_name="alb",
                rule=[
                    ingress_v1.IngressV1SpecRule(
                        http=ingress_v1.IngressV1SpecRuleHttp(
                            path=[
                                ingress_v1.IngressV1SpecRuleHttpPath(
                                    path="/",
                                    path_type="Prefix",
                                    backend=ingress_v1.IngressV1SpecRuleHttpPathBackend(
                                        service=ingress_v1.IngressV1SpecRuleHttpPathBackendService(
                                            name="hello",
                                            port=ingress_v1.IngressV1SpecRuleHttpPathBackendServicePort(number=80),
                                        )
                                    ),
                                )
                            ]
                        )
                    )
                ],
            ),
        )
