"""Each Helm chart's values, built in Python from the settings: pure functions, no engine, no files.

The functions take the settings they use, one typed keyword each, and the few names and ARNs that
only the stack knows (as strings: at synth they are the engine's tokens, which pass through
unchanged), and return the values as a dict; :func:`to_yaml` turns one into the text a
``helm_release`` takes. Keys follow each chart's ``values.yaml`` at the version pinned in
:mod:`modules.platform.charts`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from modules.alert_rules import alert_rules
from modules.platform.alerting import ALWAYS_FIRING_DEFAULT_RULES, alertmanager_config
from modules.platform.charts import autoscaler_release
from modules.platform.cluster_objects import (
    ALB_INGRESS_CLASS,
    ALERTMANAGER_SERVICE_ACCOUNT,
    DEFAULT_STORAGE_CLASS,
    GRAFANA_FULLNAME,
)
from modules.platform.cluster_objects import KPS_FULLNAME as KPS_FULLNAME  # the apps stack's Prometheus address
from modules.platform.dashboards import dashboards
from modules.platform.log_pipeline import (
    LOG_METRICS_PORT,
    LOG_METRICS_PORT_NAME,
    LUA_CONFIG_MAP,
    LUA_MOUNT_PATH,
    fluent_bit_filters,
    fluent_bit_outputs,
)
from qualisys_infra.core.monitoring_access import (
    POSTGRES_EXPORTER_KEY,
    POSTGRES_EXPORTER_SECRET,
    REDIS_EXPORTER_KEY,
    REDIS_EXPORTER_SECRET,
)

Values = dict[str, Any]

# Grafana's liveness answer: the load balancer's health check (``/`` redirects to the login page).
GRAFANA_HEALTH_PATH = "/api/health"
FLUENT_BIT_SERVICE_ACCOUNT = "aws-for-fluent-bit"
LB_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
# Prometheus and Alertmanager run as this user and group (the images' own "nobody"-like ids).
MONITORING_UID = 1000
MONITORING_FS_GROUP = 2000


def _service_account(name: str, role_arn: str) -> Values:
    return {"create": True, "name": name, "annotations": {IRSA_ANNOTATION: role_arn}}


def _non_root(*, fs_group: bool) -> Values:
    context: Values = {"runAsNonRoot": True, "runAsUser": MONITORING_UID}
    if fs_group:
        context["fsGroup"] = MONITORING_FS_GROUP
    context["seccompProfile"] = {"type": "RuntimeDefault"}
    return context


def kube_prometheus_stack(
    *,
    project: str,
    environment: str,
    region: str,
    grafana_domain: str,
    retention_days: int,
    storage_gib: int,
    alert_topic_arn: str,
    alertmanager_role_arn: str,
    grafana_ingress_annotations: Mapping[str, str],
) -> Values:
    """Prometheus (``retention_days`` of metrics on ``storage_gib`` of storage), Alertmanager routing every
    alert to the environment's SNS topic in ``region`` (:mod:`modules.platform.alerting`) as its IRSA role,
    Grafana with the project's dashboards (folder ``QUALISYS``, the project's name in capitals) behind the
    ingress edge at ``grafana_domain``, and the project's alert rules (group ``<project>.rules``).

    Grafana has its own login only: no anonymous access, no sign-up, the session cookie HTTPS-only.
    The admin password is in neither these values nor Terraform: ``adminPassword`` is emptied (the
    chart's default is the well-known ``prom-operator``), so the Grafana chart generates one into its
    own Secret (``kps-grafana``, key ``admin-password``) at install and keeps it on every upgrade.
    Grafana's objects are named ``kps-grafana`` explicitly: the subchart does not inherit
    ``fullnameOverride`` (it would be ``kube-prometheus-stack-grafana``).
    """
    host = grafana_domain
    return {
        "fullnameOverride": KPS_FULLNAME,
        # Watchdog and InfoInhibitor always fire; the chart sent them to its "null" receiver.
        "defaultRules": {"disabled": dict.fromkeys(ALWAYS_FIRING_DEFAULT_RULES, True)},
        "prometheus": {
            "prometheusSpec": {
                "retention": f"{retention_days}d",
                "storageSpec": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "storageClassName": DEFAULT_STORAGE_CLASS,
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": f"{storage_gib}Gi"}},
                        }
                    }
                },
                # Select every rule, ServiceMonitor and PodMonitor (the apps stack's), not only this release's.
                "ruleSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "securityContext": _non_root(fs_group=True),
            }
        },
        "alertmanager": {
            "serviceAccount": _service_account(ALERTMANAGER_SERVICE_ACCOUNT, alertmanager_role_arn),
            "config": alertmanager_config(topic_arn=alert_topic_arn, region=region, environment=environment),
            "alertmanagerSpec": {"securityContext": _non_root(fs_group=False)},
        },
        "grafana": {
            "fullnameOverride": GRAFANA_FULLNAME,
            "adminPassword": "",
            "admin": {"existingSecret": ""},
            "ingress": {
                "enabled": True,
                "ingressClassName": ALB_INGRESS_CLASS,
                "annotations": {
                    **grafana_ingress_annotations,
                    "alb.ingress.kubernetes.io/healthcheck-path": GRAFANA_HEALTH_PATH,
                },
                "hosts": [host],
                "path": "/",
                "pathType": "Prefix",
            },
            "grafana.ini": {
                "server": {"domain": host, "root_url": f"https://{host}"},
                "auth.anonymous": {"enabled": False},
                "auth": {"disable_login_form": False},
                "users": {"allow_sign_up": False},
                "security": {"cookie_secure": True},
            },
            "defaultDashboardsEnabled": True,
            "dashboardProviders": {
                "dashboardproviders.yaml": {
                    "apiVersion": 1,
                    "providers": [
                        {
                            "name": project,
                            "orgId": 1,
                            "folder": project.upper(),
                            "type": "file",
                            "disableDeletion": True,
                            "options": {"path": f"/var/lib/grafana/dashboards/{project}"},
                        }
                    ],
                }
            },
            "dashboards": {
                project: {name: {"json": json.dumps(dashboard)} for name, dashboard in dashboards(project).items()}
            },
        },
        "additionalPrometheusRulesMap": {
            project: {
                "groups": [
                    {
                        "name": f"{project}.rules",
                        "rules": [
                            {
                                "alert": rule.name,
                                "expr": rule.expr,
                                "for": rule.duration,
                                "labels": {"severity": rule.severity},
                                "annotations": {"summary": rule.summary, "runbook_url": rule.runbook_url},
                            }
                            for rule in alert_rules(project)
                        ],
                    }
                ]
            }
        },
    }


def aws_load_balancer_controller(*, region: str, cluster: str, vpc_id: str, role_arn: str) -> Values:
    """Two replicas (one may be down at a time), the VPC and region given rather than looked up from
    instance metadata (IMDSv2 with hop limit 1 hides it from pods)."""
    return {
        "clusterName": cluster,
        "region": region,
        "vpcId": vpc_id,
        "serviceAccount": _service_account(LB_CONTROLLER_SERVICE_ACCOUNT, role_arn),
        "replicaCount": 2,
        "podDisruptionBudget": {"maxUnavailable": 1},
    }


def aws_for_fluent_bit(*, project: str, region: str, log_group: str, log_retention_days: int, role_arn: str) -> Values:
    """Container logs as JSON to ``log_group`` in ``region``, which Terraform creates (KMS key, retention):
    the chart must not create it. Every other output is off.

    Before any output, every record passes the PII redaction filter and the log counters
    (:mod:`modules.platform.log_pipeline`, named after ``project``): the Lua script comes from the ConfigMap
    ``fluent-bit-lua`` (mounted read-only beside the chart's own volumes, which a list of
    ``volumes`` replaces and so are repeated here), and the counters are served on their own port,
    which the chart's ServiceMonitor scrapes beside fluent-bit's own metrics."""
    return {
        "serviceAccount": _service_account(FLUENT_BIT_SERVICE_ACCOUNT, role_arn),
        "cloudWatchLogs": {
            "enabled": True,
            "region": region,
            "logGroupName": log_group,
            "logStreamPrefix": "from-fluent-bit-",
            "logFormat": "json",
            "autoCreateGroup": False,
            "logRetentionDays": log_retention_days,
        },
        "firehose": {"enabled": False},
        "kinesis": {"enabled": False},
        "elasticsearch": {"enabled": False},
        "additionalFilters": fluent_bit_filters(project),
        "additionalOutputs": fluent_bit_outputs(project),
        "volumes": [
            {"name": "varlog", "hostPath": {"path": "/var/log"}},
            {"name": "varlibdockercontainers", "hostPath": {"path": "/var/lib/docker/containers"}},
            {"name": "lua-scripts", "configMap": {"name": LUA_CONFIG_MAP}},
        ],
        "volumeMounts": [
            {"name": "varlog", "mountPath": "/var/log"},
            {"name": "varlibdockercontainers", "mountPath": "/var/lib/docker/containers", "readOnly": True},
            {"name": "lua-scripts", "mountPath": LUA_MOUNT_PATH, "readOnly": True},
        ],
        "serviceMonitor": {
            "enabled": True,
            "service": {
                "extraPorts": [
                    {
                        "name": LOG_METRICS_PORT_NAME,
                        "port": LOG_METRICS_PORT,
                        "targetPort": LOG_METRICS_PORT,
                        "protocol": "TCP",
                    }
                ]
            },
            "extraEndpoints": [{"port": LOG_METRICS_PORT_NAME, "path": "/metrics", "interval": "30s"}],
        },
    }


# The exporters' own settings: one replica each (a scrape that misses one interval is acceptable),
# non-root with a read-only root, no service account token, scraped by a ServiceMonitor.
_EXPORTER_RESOURCES: Values = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}
_EXPORTER_CONTAINER_SECURITY: Values = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
POSTGRES_EXPORTER = "postgres-exporter"
REDIS_EXPORTER = "redis-exporter"
EXPORTER_SCRAPE_INTERVAL = "30s"


def postgres_exporter() -> Values:
    """prometheus-postgres-exporter against the environment's RDS instance, with the connection URL in
    the Secret ``postgres-exporter`` (an operator creates it: README): the ``pg_monitor``-only login
    :data:`~qualisys_infra.core.monitoring_access.MONITOR_DB_USER`, its password, the RDS endpoint and
    ``sslmode=require`` (RDS forces TLS)."""
    return {
        "fullnameOverride": POSTGRES_EXPORTER,
        "serviceAccount": {"create": True, "name": POSTGRES_EXPORTER},
        "automountServiceAccountToken": False,
        "rbac": {"create": False},
        "config": {"datasourceSecret": {"name": POSTGRES_EXPORTER_SECRET, "key": POSTGRES_EXPORTER_KEY}},
        "serviceMonitor": {"enabled": True, "interval": EXPORTER_SCRAPE_INTERVAL},
        "resources": _EXPORTER_RESOURCES,
        "securityContext": {**_EXPORTER_CONTAINER_SECURITY, "privileged": False},
    }


def redis_exporter(*, address: str, user: str) -> Values:
    """prometheus-redis-exporter against the environment's ElastiCache configuration endpoint over TLS,
    as the ElastiCache user ``user`` (no key, the exporter's commands only), its credential from the
    Secret ``redis-exporter`` (an operator creates it: README). ElastiCache refuses ``CONFIG``: the
    exporter does not ask (``config-command=-``); ``maxmemory`` still comes from ``INFO``."""
    return {
        "fullnameOverride": REDIS_EXPORTER,
        "serviceAccount": {"create": True, "name": REDIS_EXPORTER},
        "rbac": {"create": False},
        "redisAddress": f"rediss://{address}:6379",
        "auth": {
            "enabled": True,
            "secret": {"name": REDIS_EXPORTER_SECRET, "key": REDIS_EXPORTER_KEY},
            "redisUser": user,
        },
        "extraArgs": {"config-command": "-"},
        "serviceMonitor": {"enabled": True, "interval": EXPORTER_SCRAPE_INTERVAL},
        "resources": _EXPORTER_RESOURCES,
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": 59000,
            "runAsGroup": 59000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "securityContext": _EXPORTER_CONTAINER_SECURITY,
    }


def cluster_autoscaler(
    *,
    region: str,
    kubernetes_version: str,
    node_group_max_sizes: Sequence[int],
    cluster: str,
    role_arn: str,
) -> Values:
    """Auto-discovery of this cluster's node groups, the image of the cluster's Kubernetes minor
    (``kubernetes_version``), and a bound on the whole cluster: the node groups' own maxima bound each
    group, and ``max-nodes-total`` is their sum."""
    return {
        "autoDiscovery": {"clusterName": cluster},
        "awsRegion": region,
        "image": {"tag": autoscaler_release(kubernetes_version).image_tag},
        "rbac": {"serviceAccount": _service_account(AUTOSCALER_SERVICE_ACCOUNT, role_arn)},
        "extraArgs": {
            "balance-similar-node-groups": True,
            "skip-nodes-with-system-pods": False,
            "expander": "least-waste",
            "max-nodes-total": sum(node_group_max_sizes),
        },
    }


def metrics_server() -> Values:
    """Two replicas, one always available. metrics-server reads kubelets only: no AWS access, no role."""
    return {"replicas": 2, "podDisruptionBudget": {"enabled": True, "minAvailable": 1}}


def argo_rollouts() -> Values:
    """Two controller replicas (leader election), one always available, non-root with a read-only
    root; the CRDs installed and kept when the release is removed (deleting them would delete every
    Rollout); metrics scraped by Prometheus; no dashboard (it has no authentication)."""
    return {
        "installCRDs": True,
        "keepCRDs": True,
        "controller": {
            "replicas": 2,
            "pdb": {"enabled": True, "minAvailable": 1},
            "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}},
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        },
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "dashboard": {"enabled": False},
    }


def to_yaml(values: Mapping[str, Any]) -> str:
    """``values`` as block YAML in the order written; long strings (dashboards, tokens) never folded."""
    text: str = yaml.safe_dump(dict(values), sort_keys=False, width=1 << 30, allow_unicode=True)
    return text
