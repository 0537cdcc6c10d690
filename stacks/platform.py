"""``<env>-platform``: what runs inside the cluster: namespaces and their guard rails, RBAC, and
the Helm releases for metrics, load balancing, logs and autoscaling (stories 0.3, 0.13, 0.19, 0.20).

The kubernetes and helm providers are configured from the cluster stack's outputs and authenticate
with ``aws eks get-token``. The spec names NGINX Ingress; the community ingress-nginx controller was
retired in March 2026, so the AWS Load Balancer Controller's ALB (TLS 1.3 policy, HTTP redirected to
HTTPS) and a WAFv2 rate-based rule carry TLS and rate limiting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from modules.account_context import AccountContext
from modules.alert_rules import ALERT_RULES
from modules.dashboards import DASHBOARDS
from modules.eks import EksCluster, irsa_role
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.k8s_namespace import Namespace, NamespaceProps, PodSecurity
from modules.log_group import log_group
from modules.network import Network
from modules.policy import Condition, Statement
from modules.waivers import waive
from qualisys_infra.engine import Construct, Fn
from qualisys_infra.engine.aws import (
    acm_certificate,
    data_aws_secretsmanager_secret_version,
    secretsmanager_secret,
)
from qualisys_infra.engine.aws import (
    wafv2_web_acl as waf,
)
from qualisys_infra.engine.aws import (
    wafv2_web_acl_logging_configuration as waf_logging,
)
from qualisys_infra.engine.helm import provider as helm_provider
from qualisys_infra.engine.helm import release
from qualisys_infra.engine.kubernetes import (
    cluster_role_v1,
    deployment_v1,
    ingress_v1,
    role_binding_v1,
    role_v1,
    service_v1,
)
from qualisys_infra.engine.kubernetes import (
    provider as k8s_provider,
)
from qualisys_infra.settings import AccountConfig, EnvironmentConfig
from stacks.base import EnvironmentStack
from stacks.platform_charts import CHARTS

APP_NAMESPACES = ("dev", "staging", "production")
APP_PORT = 8080
RATE_LIMIT_PER_MINUTE = 1000  # spec: 1000 requests per minute per client
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
CI_GROUP = "ci-deployers"
# The CI deployer's rights in staging (story 0.3 AC4): workloads only; no secrets, no exec, no RBAC.
CI_RULES = (
    (("apps",), ("deployments",)),
    (("",), ("services", "configmaps")),
    (("networking.k8s.io",), ("ingresses",)),
)
CI_VERBS = ("get", "list", "watch", "create", "update", "patch")
VALUES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("platform_values")),
    autoescape=False,  # noqa: S701 - YAML, not HTML
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def render_values(chart: str, **context: Any) -> str:
    """A chart's values, rendered from ``platform_values/<chart>.yaml.j2``."""
    return VALUES.get_template(f"{chart}.yaml.j2").render(**context)


class ClusterPlatformStack(EnvironmentStack):
    """Namespaces, RBAC, Helm releases and the staging smoke-test workload of one cluster."""

    KIND = "platform"

    def __init__(
        self,
        scope: Construct,
        *,
        account: AccountConfig,
        env: EnvironmentConfig,
        network: Network,
        cluster: EksCluster,
    ) -> None:
        super().__init__(scope, account=account, env=env)
        name = self.prefix
        ctx = AccountContext(self, "account")
        eks = cluster.cluster
        k8s_provider.KubernetesProvider(
            self,
            "kubernetes",
            host=eks.endpoint,
            cluster_ca_certificate=Fn.base64decode(eks.certificate_authority.get(0).data),
            exec=[
                k8s_provider.KubernetesProviderExec(
                    api_version="client.authentication.k8s.io/v1beta1",
                    command="aws",
                    args=["eks", "get-token", "--cluster-name", eks.name, "--region", env.region],
                )
            ],
        )
        helm_provider.HelmProvider(
            self,
            "helm",
            kubernetes=helm_provider.HelmProviderKubernetes(
                host=eks.endpoint,
                cluster_ca_certificate=Fn.base64decode(eks.certificate_authority.get(0).data),
                exec=helm_provider.HelmProviderKubernetesExec(
                    api_version="client.authentication.k8s.io/v1beta1",
                    command="aws",
                    args=["eks", "get-token", "--cluster-name", eks.name, "--region", env.region],
                ),
            ),
        )
        self.namespaces = self._namespaces(env, network)
        self._rbac(env)
        self.log_key = EncryptionKey(
            self,
            "logs-key",
            props=EncryptionKeyProps(
                alias_name=f"{name}-platform-logs",
                description=f"{name}: container logs and WAF logs",
                context=ctx,
                log_group_name_prefix="",
            ),
        )
        self.container_logs = log_group(
            self,
            "container-logs",
            name=f"/aws/eks/{name}/containers",
            retention_days=env.log_retention_days,
            key=self.log_key,
        )
        self.releases = self._releases(env, network, cluster, ctx)
        self.web_acl = self._waf(name)
        self.certificate = acm_certificate.AcmCertificate(
            self,
            "certificate",
            domain_name=env.ingress_domain,
            validation_method="DNS",
            lifecycle={"create_before_destroy": True},
        )
        if env.environment == "staging" and "staging" in env.namespaces:
            self._hello()
        self.outputs(
            {
                "certificate_validation_records": (
                    self.certificate.domain_validation_options,
                    "DNS records that validate the ingress certificate",
                ),
                "web_acl_arn": (self.web_acl.arn, "WAF web ACL of the ingress"),
            }
        )

    def _namespaces(self, env: EnvironmentConfig, network: Network) -> dict[str, Namespace]:
        namespaces: dict[str, Namespace] = {}
        for ns_name, quota in env.namespaces.items():
            privileged = ns_name == "monitoring"
            namespace = Namespace(
                self,
                f"ns-{ns_name}",
                props=NamespaceProps(
                    name=ns_name,
                    quota=quota,
                    pod_security=PodSecurity.PRIVILEGED if privileged else PodSecurity.RESTRICTED,
                    privileged_reason=(
                        "node-exporter needs hostNetwork, hostPID and host paths, and fluent-bit reads "
                        "/var/log on every node; nothing else runs here"
                    )
                    if privileged
                    else "",
                ),
            )
            namespaces[ns_name] = namespace
            if ns_name != "monitoring":
                namespace.allow_ingress_from_namespace("allow-scraping", "monitoring", ports=((APP_PORT, "TCP"),))
            if ns_name in APP_NAMESPACES:
                vpc = network.vpc_cidr
                namespace.allow_ingress_from_network("allow-load-balancer", vpc, ports=((APP_PORT, "TCP"),))
                namespace.allow_egress_to_network("allow-data-tier", vpc, ports=((5432, "TCP"), (6379, "TCP")))
                namespace.allow_egress_to_network("allow-https-out", "0.0.0.0/0", ports=((443, "TCP"),))
            elif ns_name == "playwright-pool":
                namespace.allow_egress_to_network("allow-web-out", "0.0.0.0/0", ports=((443, "TCP"), (80, "TCP")))
            elif ns_name == "monitoring":
                for target in env.namespaces:
                    if target != "monitoring":
                        namespace.allow_egress_to_namespace(
                            f"allow-scrape-{target}", target, ports=((APP_PORT, "TCP"),)
                        )
                namespace.allow_egress_to_network(
                    "allow-nodes-and-aws",
                    "0.0.0.0/0",
                    ports=((443, "TCP"), (10250, "TCP"), (9100, "TCP")),
                )
        return namespaces

    def _rbac(self, env: EnvironmentConfig) -> None:
        if "staging" in self.namespaces:
            staging = self.namespaces["staging"].token
            role_v1.RoleV1(
                self,
                "ci-deployer-role",
                metadata=[role_v1.RoleV1Metadata(name="ci-deployer", namespace=staging)],
                rule=[
                    role_v1.RoleV1Rule(api_groups=list(groups), resources=list(resources), verbs=list(CI_VERBS))
                    for groups, resources in CI_RULES
                ],
            )
            role_binding_v1.RoleBindingV1(
                self,
                "ci-deployer-binding",
                metadata=role_binding_v1.RoleBindingV1Metadata(name="ci-deployer", namespace=staging),
                role_ref=role_binding_v1.RoleBindingV1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name="ci-deployer"
                ),
                subject=[
                    role_binding_v1.RoleBindingV1Subject(
                        kind="Group", name=CI_GROUP, api_group="rbac.authorization.k8s.io"
                    )
                ],
            )
        read = ("get", "list", "watch")
        cluster_role_v1.ClusterRoleV1(
            self,
            "readonly-role",
            metadata=cluster_role_v1.ClusterRoleV1Metadata(name="qualisys-readonly"),
            rule=[
                cluster_role_v1.ClusterRoleV1Rule(
                    api_groups=["", "apps", "batch", "networking.k8s.io", "autoscaling"],
                    resources=[
                        "pods",
                        "pods/log",
                        "services",
                        "configmaps",
                        "deployments",
                        "replicasets",
                        "jobs",
                        "cronjobs",
                        "ingresses",
                        "horizontalpodautoscalers",
                        "events",
                    ],
                    verbs=list(read),
                )
            ],
        )
        cluster_role_v1.ClusterRoleV1(
            self,
            "namespace-admin-role",
            metadata=cluster_role_v1.ClusterRoleV1Metadata(name="qualisys-namespace-admin"),
            rule=[
                cluster_role_v1.ClusterRoleV1Rule(
                    api_groups=["", "apps", "batch", "networking.k8s.io", "autoscaling", "policy"],
                    resources=[
                        "pods",
                        "pods/log",
                        "services",
                        "configmaps",
                        "deployments",
                        "replicasets",
                        "statefulsets",
                        "jobs",
                        "cronjobs",
                        "ingresses",
                        "horizontalpodautoscalers",
                        "poddisruptionbudgets",
                        "events",
                    ],
                    verbs=[*read, "create", "update", "patch", "delete"],
                )
            ],
        )
        for ns_name in (n for n in APP_NAMESPACES if n in self.namespaces):
            namespace = self.namespaces[ns_name].token
            for role, group in (
                ("qualisys-readonly", "qualisys:readonly"),
                ("qualisys-namespace-admin", "qualisys:namespace-admins"),
            ):
                role_binding_v1.RoleBindingV1(
                    self,
                    f"{role}-{ns_name}",
                    metadata=role_binding_v1.RoleBindingV1Metadata(name=role, namespace=namespace),
                    role_ref=role_binding_v1.RoleBindingV1RoleRef(
                        api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role
                    ),
                    subject=[
                        role_binding_v1.RoleBindingV1Subject(
                            kind="Group", name=group, api_group="rbac.authorization.k8s.io"
                        )
                    ],
                )

    def _releases(
        self, env: EnvironmentConfig, network: Network, cluster: EksCluster, ctx: AccountContext
    ) -> dict[str, release.Release]:
        name = self.prefix
        monitoring = "monitoring"
        lb_role = irsa_role(
            self,
            "lb-controller-role",
            cluster=cluster,
            namespace="kube-system",
            service_account="aws-load-balancer-controller",
            description=f"AWS Load Balancer Controller of {name}",
            statements=load_balancer_controller_statements(name),
        )
        fluent_role = irsa_role(
            self,
            "fluent-bit-role",
            cluster=cluster,
            namespace=monitoring,
            service_account="aws-for-fluent-bit",
            description=f"Fluent Bit of {name}: writes its container log group only",
            statements=(
                Statement(
                    sid="WriteContainerLogs",
                    actions=("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
                    resources=(self.container_logs.arn, f"{self.container_logs.arn}:*"),
                ),
            ),
        )
        autoscaler_role = irsa_role(
            self,
            "autoscaler-role",
            cluster=cluster,
            namespace="kube-system",
            service_account="cluster-autoscaler",
            description=f"Cluster Autoscaler of {name}: resizes this cluster's node groups only",
            statements=(
                Statement(
                    sid="DescribeScalingState",
                    actions=(
                        "autoscaling:DescribeAutoScalingGroups",
                        "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeLaunchConfigurations",
                        "autoscaling:DescribeScalingActivities",
                        "ec2:DescribeImages",
                        "ec2:DescribeInstanceTypes",
                        "ec2:DescribeLaunchTemplateVersions",
                        "ec2:GetInstanceTypesFromInstanceRequirements",
                        "eks:DescribeNodegroup",
                    ),
                    resources=("*",),
                ),
                Statement(
                    sid="ResizeOwnNodeGroupsOnly",
                    actions=("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"),
                    resources=("*",),
                    conditions=(
                        Condition(
                            test="StringEquals",
                            variable=f"aws:ResourceTag/k8s.io/cluster-autoscaler/{name}",
                            values=("owned",),
                        ),
                    ),
                ),
            ),
        )
        grafana_secret = secretsmanager_secret.SecretsmanagerSecret(
            self,
            "grafana-admin",
            name=f"{name}/grafana-admin-password",
            description="Grafana admin password: put by an operator, read at deploy time, never in code",
            kms_key_id=self.log_key.arn,
            recovery_window_in_days=30,
        )
        waive(grafana_secret, "CKV2_AWS_57", "rotated by an operator together with Grafana's own admin user")
        grafana_password = data_aws_secretsmanager_secret_version.DataAwsSecretsmanagerSecretVersion(
            self, "grafana-admin-value", secret_id=grafana_secret.id
        )
        ns = {n: self.namespaces[n].token for n in self.namespaces}
        values = {
            "kube-prometheus-stack": render_values(
                "kube-prometheus-stack",
                cluster=name,
                retention_days=env.prometheus_retention_days,
                storage_gib=env.prometheus_storage_gib,
                rules=ALERT_RULES,
                dashboards=DASHBOARDS,
            ),
            "aws-load-balancer-controller": render_values(
                "aws-load-balancer-controller",
                cluster=name,
                region=env.region,
                vpc_id=network.vpc.id,
                role_arn=lb_role.arn,
            ),
            "aws-for-fluent-bit": render_values(
                "aws-for-fluent-bit",
                region=env.region,
                log_group=self.container_logs.name,
                retention_days=env.log_retention_days,
                role_arn=fluent_role.arn,
            ),
            "cluster-autoscaler": render_values(
                "cluster-autoscaler",
                cluster=name,
                region=env.region,
                role_arn=autoscaler_role.arn,
                general_max=env.node_groups.general.max_size,
                playwright_max=env.node_groups.playwright.max_size,
            ),
            "metrics-server": render_values("metrics-server"),
        }
        namespaces = {
            "kube-prometheus-stack": ns.get(monitoring, monitoring),
            "aws-load-balancer-controller": "kube-system",
            "aws-for-fluent-bit": ns.get(monitoring, monitoring),
            "cluster-autoscaler": "kube-system",
            "metrics-server": "kube-system",
        }
        releases: dict[str, release.Release] = {}
        for chart_name, chart in CHARTS.items():
            releases[chart_name] = release.Release(
                self,
                chart_name,
                name=chart_name,
                repository=chart.repository,
                chart=chart.chart,
                version=chart.version,
                namespace=namespaces[chart_name],
                values=[values[chart_name]],
                atomic=True,
                cleanup_on_fail=True,
                timeout=900,
                set_sensitive=[
                    release.ReleaseSetSensitive(name="grafana.adminPassword", value=grafana_password.secret_string)
                ]
                if chart_name == "kube-prometheus-stack"
                else None,
            )
        return releases

    def _waf(self, name: str) -> waf.Wafv2WebAcl:
        def visibility(metric: str) -> waf.Wafv2WebAclRuleVisibilityConfig:
            return waf.Wafv2WebAclRuleVisibilityConfig(
                cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
            )

        acl = waf.Wafv2WebAcl(
            self,
            "web-acl",
            name=f"{name}-ingress",
            scope="REGIONAL",
            default_action=waf.Wafv2WebAclDefaultAction(allow=waf.Wafv2WebAclDefaultActionAllow()),
            visibility_config=waf.Wafv2WebAclVisibilityConfig(
                cloudwatch_metrics_enabled=True, metric_name=f"{name}-ingress", sampled_requests_enabled=True
            ),
            rule=[
                waf.Wafv2WebAclRule(
                    name="rate-limit-per-client",
                    priority=1,
                    action=waf.Wafv2WebAclRuleAction(block=waf.Wafv2WebAclRuleActionBlock()),
                    # The statement block is untyped in the bindings: a plain dict, passed through as
                    # written, so in Terraform's own snake_case.
                    statement={
                        "rate_based_statement": {
                            "limit": RATE_LIMIT_PER_MINUTE,
                            "evaluation_window_sec": 60,
                            "aggregate_key_type": "IP",
                        }
                    },
                    visibility_config=visibility("rate-limit-per-client"),
                ),
                waf.Wafv2WebAclRule(
                    name="aws-known-bad-inputs",
                    priority=2,
                    override_action=waf.Wafv2WebAclRuleOverrideAction(none=waf.Wafv2WebAclRuleOverrideActionNone()),
                    statement={
                        "managed_rule_group_statement": {
                            "name": "AWSManagedRulesKnownBadInputsRuleSet",
                            "vendor_name": "AWS",
                        }
                    },
                    visibility_config=visibility("aws-known-bad-inputs"),
                ),
            ],
        )
        # WAF only logs to groups whose names start with aws-waf-logs-.
        waf_logs = log_group(self, "waf-logs", name=f"aws-waf-logs-{name}", retention_days=90, key=self.log_key)
        waf_logging.Wafv2WebAclLoggingConfiguration(
            self, "web-acl-logging", resource_arn=acl.arn, log_destination_configs=[waf_logs.arn]
        )
        return acl

    def _hello(self) -> None:
        """The smoke-test workload (smoke test 1): non-root, read-only root, probes, behind the ALB."""
        namespace = self.namespaces["staging"].token
        labels = {"app.kubernetes.io/name": "hello"}
        d = deployment_v1
        hello = d.DeploymentV1(
            self,
            "hello",
            metadata=deployment_v1.DeploymentV1Metadata(name="hello", namespace=namespace, labels=labels),
            spec=deployment_v1.DeploymentV1Spec(
                replicas="2",
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
                                image="hashicorp/http-echo:1.0.0",
                                image_pull_policy="Always",
                                args=[f"-listen=:{APP_PORT}", "-text=hello from QUALISYS staging"],
                                port=[
                                    d.DeploymentV1SpecTemplateSpecContainerPort(container_port=APP_PORT, name="http")
                                ],
                                liveness_probe=d.DeploymentV1SpecTemplateSpecContainerLivenessProbe(
                                    http_get=d.DeploymentV1SpecTemplateSpecContainerLivenessProbeHttpGet(
                                        path="/health", port=str(APP_PORT)
                                    ),
                                    period_seconds=10,
                                ),
                                readiness_probe=d.DeploymentV1SpecTemplateSpecContainerReadinessProbe(
                                    http_get=d.DeploymentV1SpecTemplateSpecContainerReadinessProbeHttpGet(
                                        path="/ready", port=str(APP_PORT)
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
            hello,
            "CKV_K8S_43",
            "the smoke-test image is pinned by its release tag; the registry's digest cannot be looked up "
            "from the build machines, and the pod runs read-only, non-root, with no capabilities",
        )
        service_v1.ServiceV1(
            self,
            "hello-service",
            metadata=service_v1.ServiceV1Metadata(name="hello", namespace=namespace, labels=labels),
            spec=service_v1.ServiceV1Spec(
                selector=labels,
                port=[service_v1.ServiceV1SpecPort(port=80, target_port=str(APP_PORT), name="http")],
                type="ClusterIP",
            ),
        )
        ingress_v1.IngressV1(
            self,
            "hello-ingress",
            metadata=ingress_v1.IngressV1Metadata(
                name="hello",
                namespace=namespace,
                annotations={
                    "alb.ingress.kubernetes.io/scheme": "internet-facing",
                    "alb.ingress.kubernetes.io/target-type": "ip",
                    "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
                    "alb.ingress.kubernetes.io/ssl-redirect": "443",
                    "alb.ingress.kubernetes.io/ssl-policy": TLS_POLICY,
                    "alb.ingress.kubernetes.io/certificate-arn": self.certificate.arn,
                    "alb.ingress.kubernetes.io/wafv2-acl-arn": self.web_acl.arn,
                    "alb.ingress.kubernetes.io/healthcheck-path": "/health",
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


def load_balancer_controller_statements(cluster: str) -> tuple[Statement, ...]:
    """The AWS Load Balancer Controller's rights: read the network, manage only load balancers,
    target groups and listeners it created for this cluster (tagged ``elbv2.k8s.aws/cluster``)."""
    owned = Condition(test="StringEquals", variable="aws:ResourceTag/elbv2.k8s.aws/cluster", values=(cluster,))
    tagging_new = Condition(test="StringEquals", variable="aws:RequestTag/elbv2.k8s.aws/cluster", values=(cluster,))
    return (
        Statement(
            sid="ReadNetworkAndLoadBalancers",
            actions=(
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeVpcs",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeTags",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTags",
                "acm:ListCertificates",
                "acm:DescribeCertificate",
                "wafv2:GetWebACL",
                "wafv2:GetWebACLForResource",
            ),
            resources=("*",),
        ),
        Statement(
            sid="CreateTaggedForThisCluster",
            actions=(
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateTargetGroup",
                "ec2:CreateSecurityGroup",
            ),
            resources=("*",),
            conditions=(tagging_new,),
        ),
        Statement(
            sid="ManageOwnLoadBalancers",
            actions=(
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:SetIpAddressType",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:RegisterTargets",
                "elasticloadbalancing:DeregisterTargets",
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:SetWebAcl",
                "wafv2:AssociateWebACL",
                "wafv2:DisassociateWebACL",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
            ),
            resources=("*",),
            conditions=(owned,),
        ),
    )
