"""What each resource type costs: one pricer per type (its cost lines from its values), the types that
cost nothing of their own and why, and :func:`price_resource`, which puts every resource in exactly
one place: priced, free or not priced."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.core.lifecycle import Support, kubernetes_minor
from qualisys_infra.plan.cost_model import (
    GIB,
    GIB_FACTOR,
    INTERPOLATION,
    UNKNOWN,
    Context,
    Line,
    Pricer,
    Resource,
    ResourceCost,
    Status,
    Values,
    present,
)

FREE_PI_DAYS = 7  # Performance Insights keeps 7 days of history at no charge


def _eks_cluster(r: Resource) -> None:
    support = r.values.text("upgrade_policy", "support_type")
    version = r.values.text("version")
    key: Any = "eks.cluster.standard"
    name = "EKS cluster (standard support)"
    if support is UNKNOWN:
        key = UNKNOWN
    elif support != "STANDARD":  # EXTENDED, or absent: EKS's default is extended support
        if version is UNKNOWN:
            key = UNKNOWN
        elif isinstance(version, str):
            minor = kubernetes_minor(version)
            if minor is not None and minor.support(r.ctx.today) in (Support.EXTENDED, Support.ENDED):
                key, name = "eks.cluster.extended", f"EKS cluster ({version}, extended support)"
    r.hourly(name, key)


def _launch_template(r: Resource) -> Any:
    """The launch template a node group launches (a sibling's values), None when it names none, or UNKNOWN."""
    reference = r.values.get("launch_template", "id")
    raw = r.values.values.get("launch_template")
    block = raw[0] if isinstance(raw, list) and raw else raw
    if not isinstance(block, dict):
        return None
    if r.values.config:
        target = block.get("id") or block.get("name")
        match = re.fullmatch(r"\$\{aws_launch_template\.([\w-]+)\.(id|name)\}", str(target or ""))
        return r.siblings.get(f"aws_launch_template.{match.group(1)}") if match else UNKNOWN
    group = r.values.text("node_group_name")
    name = r.values.text("launch_template", "name")
    templates = [v for a, v in r.siblings.items() if _type_of(a) == "aws_launch_template"]
    for template in templates:
        if present(reference) and template.get("id") == reference:
            return template
        if present(name) and template.get("name") == name:
            return template
    if isinstance(group, str):
        suffixed = [t for t in templates if isinstance(t.get("name"), str) and t.get("name").endswith(f"-{group}")]
        if len(suffixed) == 1:
            return suffixed[0]
    return UNKNOWN


def _type_of(address: str) -> str:
    """``module.a.aws_x.y[0]`` -> ``aws_x``."""
    parts = [p for p in address.split(".") if p]
    while parts and parts[0] == "module":
        parts = parts[2:]
    return parts[0] if parts else ""


def _eks_node_group(r: Resource) -> None:
    types = r.values.items("instance_types")
    capacity = r.values.text("capacity_type")
    average = r.usage("average_nodes")
    nodes: Any = average.value if average else r.values.number("scaling_config", "desired_size")
    if nodes is None:
        nodes = 1.0
    if capacity == "SPOT":
        r.lines.append(Line("Instances (spot)", "hours", None, None, None, unpriced="spot prices change hourly"))
        return
    instance: Any = UNKNOWN if types is UNKNOWN else (types[0] if types else None)
    if instance is None:
        instance = UNKNOWN
    key = UNKNOWN if instance is UNKNOWN else f"ec2.instance.{instance}"
    shown = "?" if instance is UNKNOWN else instance
    r.hourly(f"Instances ({shown}, on-demand)", key, nodes, (average,))
    template = _launch_template(r)
    if template is UNKNOWN:
        r.add("Root volumes", "GB-months", UNKNOWN, UNKNOWN, unknown="launch template not known until apply")
        return
    if not isinstance(template, Values):
        template = Values({})
    volumes = template.items("block_device_mappings")
    if volumes is UNKNOWN:
        r.add("Root volumes", "GB-months", UNKNOWN, UNKNOWN)
        return
    if not volumes:  # no launch template volume: EKS's default disk
        size = r.values.number("disk_size")
        size = 20.0 if size is None else size
        r.add(f"Root volumes (gp2, {_gb(size)} x nodes)", "GB-months", "ebs.gp2.storage", _times(size, nodes))
        return
    for index, _ in enumerate(volumes):
        kind = template.text("block_device_mappings", index, "ebs", "volume_type") or "gp2"
        size = template.number("block_device_mappings", index, "ebs", "volume_size")
        key = UNKNOWN if kind is UNKNOWN else f"ebs.{kind}.storage"
        r.add(f"Root volumes ({kind}, {_gb(size)} x nodes)", "GB-months", key, _times(size, nodes))


def _times(a: Any, b: Any) -> Any:
    return UNKNOWN if a is UNKNOWN or b is UNKNOWN or a is None or b is None else a * b


def _gb(size: Any) -> str:
    return "? GB" if size is UNKNOWN or size is None else f"{size:g} GB"


def _instance(r: Resource) -> None:
    instance = r.values.text("instance_type")
    r.hourly(f"Instance ({instance if isinstance(instance, str) else '?'}, on-demand)", _key("ec2.instance.", instance))
    for index, _ in enumerate(r.values.items("root_block_device") or []):
        kind = r.values.text("root_block_device", index, "volume_type") or "gp2"
        size = r.values.number("root_block_device", index, "volume_size")
        r.add(f"Root volume ({kind})", "GB-months", _key("ebs.", kind, ".storage"), size if size is not None else 8.0)


def _key(prefix: str, value: Any, suffix: str = "") -> Any:
    return UNKNOWN if value is UNKNOWN or value is None else f"{prefix}{value}{suffix}"


def _ebs_volume(r: Resource) -> None:
    kind = r.values.text("type") or "gp2"
    size = r.values.number("size")
    r.add(f"Volume ({kind})", "GB-months", _key("ebs.", kind, ".storage"), UNKNOWN if size is None else size)


def _nat_gateway(r: Resource) -> None:
    r.hourly("NAT gateway", "vpc.nat_gateway.hour")
    r.from_usage("Data processed", "GB", "vpc.nat_gateway.data", "monthly_data_processed_gb")


def _eip(r: Resource) -> None:
    r.hourly("Public IPv4 address", "vpc.public_ipv4.hour")


def _db_instance(r: Resource) -> None:
    engine = r.values.text("engine")
    klass = r.values.text("instance_class")
    multi = r.values.flag("multi_az")
    deployment: Any = UNKNOWN if multi is UNKNOWN else ("multi_az" if multi else "single_az")
    where = {"multi_az": "Multi-AZ", "single_az": "Single-AZ"}.get(deployment, "?")
    if engine is UNKNOWN or klass is UNKNOWN or deployment is UNKNOWN:
        key: Any = UNKNOWN
    else:
        key = f"rds.{engine}.{klass}.{deployment}"
    r.hourly(f"Database instance ({klass if isinstance(klass, str) else '?'}, {where})", key)
    storage_type = r.values.text("storage_type") or "gp2"
    size = r.values.number("allocated_storage")
    storage_key = UNKNOWN if UNKNOWN in (storage_type, deployment) else f"rds.{storage_type}.storage.{deployment}"
    r.add(f"Storage ({storage_type}, {where})", "GB-months", storage_key, UNKNOWN if size is None else size)
    if r.values.number("backup_retention_period") not in (None, 0.0):
        r.from_usage(
            "Backup storage beyond the free amount", "GB-months", "rds.backup.storage", "additional_backup_storage_gb"
        )
    if r.values.flag("performance_insights_enabled") is True:
        days = r.values.number("performance_insights_retention_period")
        if days is UNKNOWN:
            r.add("Performance Insights retention", "months", UNKNOWN, UNKNOWN)
        elif days is not None and days > FREE_PI_DAYS:
            r.lines.append(
                Line(
                    f"Performance Insights ({days:g} days of history)",
                    "months",
                    None,
                    None,
                    None,
                    unpriced=f"no price for history beyond the free {FREE_PI_DAYS} days",
                )
            )
    if r.values.flag("manage_master_user_password") is True:  # RDS keeps the password in Secrets Manager
        r.add("Master password secret (Secrets Manager, managed by RDS)", "months", "secretsmanager.secret", 1.0)


def _replication_group(r: Resource) -> None:
    engine = r.values.text("engine") or "redis"
    node = r.values.text("node_type")
    shards = r.values.number("num_node_groups")
    replicas = r.values.number("replicas_per_node_group")
    clusters = r.values.number("num_cache_clusters")
    nodes: Any
    if present(shards) and shards:
        nodes = _times(shards, 1.0 + (replicas or 0.0)) if replicas is not UNKNOWN else UNKNOWN
    elif shards is UNKNOWN or clusters is UNKNOWN:
        nodes = UNKNOWN
    else:
        nodes = clusters if clusters else 1.0
    key = UNKNOWN if UNKNOWN in (engine, node) else f"elasticache.{engine}.{node}"
    count = "?" if nodes is UNKNOWN else f"{nodes:g}"
    r.hourly(f"Cache nodes ({node if isinstance(node, str) else '?'} x {count}, {engine})", key, nodes)


def _cache_cluster(r: Resource) -> None:
    engine = r.values.text("engine") or "redis"
    node = r.values.text("node_type")
    nodes = r.values.number("num_cache_nodes")
    key = UNKNOWN if UNKNOWN in (engine, node) else f"elasticache.{engine}.{node}"
    r.hourly(f"Cache nodes ({node if isinstance(node, str) else '?'}, {engine})", key, 1.0 if nodes is None else nodes)


def _alb(r: Resource, label: str, internet_facing: Any, address: str) -> None:
    """The lines of one Application Load Balancer (``address`` names it for the usage patterns)."""
    r.hourly(f"{label}: Application Load Balancer", "elb.alb.hour")
    lcu = r.usage("lcu_per_hour", "alb", address)
    if lcu is None:
        r.lines.append(
            Line(f"{label}: capacity units", "LCU-hours", None, None, None, unknown="no usage value lcu_per_hour")
        )
    else:
        r.add(f"{label}: capacity units", "LCU-hours", "elb.alb.lcu", lcu.value * r.hours.value, (lcu, r.hours))
    if internet_facing is UNKNOWN:
        r.add(f"{label}: public IPv4 addresses", "hours", UNKNOWN, UNKNOWN)
    elif internet_facing:
        addresses = r.usage("public_ipv4_addresses", "alb", address)
        count = addresses.value if addresses else 1.0
        r.hourly(f"{label}: public IPv4 addresses (x {count:g})", "vpc.public_ipv4.hour", count, (addresses,))


def _lb(r: Resource) -> None:
    kind = r.values.text("load_balancer_type") or "application"
    if kind != "application":
        r.lines.append(
            Line(f"Load balancer ({kind})", "hours", None, None, None, unpriced=f"no prices for {kind} load balancers")
        )
        return
    internal = r.values.flag("internal")
    _alb(r, "ALB", UNKNOWN if internal is UNKNOWN else not internal, r.address)


def _waf(r: Resource) -> None:
    rules = r.values.items("rule")
    r.add("Web ACL", "months", "waf.web_acl", 1.0)
    r.add("Rules", "rule-months", "waf.rule", UNKNOWN if rules is UNKNOWN else float(len(rules)))
    r.from_usage("Requests", "1M requests", "waf.requests", "monthly_requests_millions")


def _kms_key(r: Resource) -> None:
    r.add("Customer managed key", "months", "kms.key", 1.0)
    r.from_usage("Requests", "10k requests", "kms.requests", "monthly_requests", per=10_000)


def _secret(r: Resource) -> None:
    r.add("Secret", "months", "secretsmanager.secret", 1.0)
    r.from_usage("API calls", "10k calls", "secretsmanager.api", "monthly_api_calls", per=10_000)


def _log_group(r: Resource) -> None:
    daily = r.usage("ingested_gb_per_day")
    fraction = r.usage("stored_fraction")
    hours = r.hours
    if daily is None:
        r.lines.append(Line("Data ingested", "GB", None, None, None, unknown="no usage value ingested_gb_per_day"))
        return
    days_a_month = hours.value / 24
    r.add("Data ingested", "GB", "logs.ingestion", daily.value * days_a_month, (daily, hours))
    retention = r.values.number("retention_in_days")
    if retention is UNKNOWN:
        r.add("Archived logs", "GB-months", UNKNOWN, UNKNOWN)
        return
    kept = retention if retention else 365.0  # never expires: one year of growth counted
    stored = daily.value * kept * (fraction.value if fraction else 1.0)
    r.add(f"Archived logs ({kept:g} days kept, compressed)", "GB-months", "logs.storage", stored, (daily, fraction))


def _flow_log(r: Resource) -> None:
    destination = r.values.text("log_destination_type") or "cloud-watch-logs"
    if destination == "cloud-watch-logs":
        return  # its volume is priced on the log group it writes to
    r.lines.append(
        Line("Flow log delivery", "GB", None, None, None, unpriced=f"no price for flow logs delivered to {destination}")
    )


def _cloudtrail(r: Resource) -> None:
    selectors = r.values.items("advanced_event_selector")
    classic = r.values.items("event_selector")
    if selectors is UNKNOWN or classic is UNKNOWN:
        r.add("Data events", "100k events", UNKNOWN, UNKNOWN)
        return
    text = repr(selectors) + repr(classic)
    if "'Data'" in text or "data_resource" in text:  # management events alone: the first copy is free
        r.from_usage("Data events", "100k events", "cloudtrail.data_events", "monthly_data_events", per=100_000)


def _bucket(r: Resource) -> None:
    r.from_usage("Storage (standard)", "GB-months", "s3.standard.storage", "storage_gb")


def _ecr(r: Resource) -> None:
    r.from_usage("Image storage", "GB-months", "ecr.storage", "storage_gb")


def _dynamodb(r: Resource) -> None:
    mode = r.values.text("billing_mode") or "PROVISIONED"
    if mode == "PROVISIONED":
        r.lines.append(
            Line("Provisioned capacity", "hours", None, None, None, unpriced="no prices for provisioned capacity")
        )
    elif mode is UNKNOWN:
        r.add("Requests", "1M units", UNKNOWN, UNKNOWN)
    else:
        r.from_usage("Write request units", "1M units", "dynamodb.on_demand.writes", "monthly_write_request_units", 1e6)
        r.from_usage("Read request units", "1M units", "dynamodb.on_demand.reads", "monthly_read_request_units", 1e6)
    r.from_usage("Storage", "GB-months", "dynamodb.storage", "storage_gb")


_ALB_SCHEME = "alb.ingress.kubernetes.io/scheme"


def _ingress_lines(r: Resource, label: str, ingress_class: Any, annotations: Any, address: str) -> bool:
    legacy = annotations.get("kubernetes.io/ingress.class") if isinstance(annotations, dict) else None
    if ingress_class is UNKNOWN:
        r.add(f"{label}: load balancer", "hours", UNKNOWN, UNKNOWN, unknown="ingress class known after apply")
        return True
    if ingress_class != "alb" and legacy != "alb":
        return False
    scheme = annotations.get(_ALB_SCHEME) if isinstance(annotations, dict) else None
    if isinstance(scheme, str) and r.values.config and INTERPOLATION in scheme:
        scheme = UNKNOWN
    _alb(r, label, UNKNOWN if scheme is UNKNOWN else scheme == "internet-facing", address)
    return True


def _volume_lines(r: Resource, label: str, storage_class: Any, size: Any, copies: float = 1.0) -> None:
    if r.values.config:
        storage_class, size = (
            UNKNOWN if isinstance(v, str) and INTERPOLATION in v else v for v in (storage_class, size)
        )
    if storage_class is UNKNOWN or size is UNKNOWN:
        r.add(f"{label}: EBS volume", "GB-months", UNKNOWN, UNKNOWN)
        return
    gib = _gib(size)
    kind = storage_class if storage_class in ("gp2", "gp3", "io1", "io2", "st1", "sc1") else None
    if gib is None or kind is None:
        what = f"storage class {storage_class!r}" if kind is None else f"size {size!r}"
        r.lines.append(Line(f"{label}: volume", "GB-months", None, None, None, unpriced=f"no price for {what}"))
        return
    r.add(f"{label}: EBS volume ({kind}, {gib:g} GiB x {copies:g})", "GB-months", f"ebs.{kind}.storage", gib * copies)


def _gib(size: Any) -> float | None:
    match = GIB.fullmatch(str(size).strip()) if isinstance(size, (str, int, float)) else None
    if match is None:
        return None
    return float(match.group(1)) * GIB_FACTOR[match.group(2)]


def _manifest(r: Resource) -> None:
    kind = r.values.text("manifest", "kind")
    if kind == "Ingress":
        annotations = r.values.get("manifest", "metadata", "annotations")
        ingress_class = r.values.text("manifest", "spec", "ingressClassName")
        _ingress_lines(r, "Ingress", ingress_class, annotations or {}, r.address)
    elif kind == "PersistentVolumeClaim":
        size = r.values.get("manifest", "spec", "resources", "requests", "storage")
        _volume_lines(r, "PersistentVolumeClaim", r.values.text("manifest", "spec", "storageClassName"), size)
    elif kind is UNKNOWN:
        r.add("Kubernetes object", "months", UNKNOWN, UNKNOWN, unknown="its kind is known after apply")


def _ingress_v1(r: Resource) -> None:
    annotations = r.values.get("metadata", "annotations")
    ingress_class = r.values.text("spec", "ingress_class_name")
    _ingress_lines(r, "Ingress", ingress_class, annotations or {}, r.address)


def _claim_v1(r: Resource) -> None:
    size = r.values.get("spec", "resources", "requests", "storage")
    _volume_lines(r, "PersistentVolumeClaim", r.values.text("spec", "storage_class_name"), size)


def _helm_release(r: Resource) -> None:
    """A chart's values: every ``alb`` ingress it enables and every volume claim it templates."""
    import yaml

    from qualisys_infra.core.safe_yaml import load_untrusted

    documents = r.values.raw("values")  # references inside a document leave the rest of it readable
    if documents is UNKNOWN:
        r.add("Chart values", "months", UNKNOWN, UNKNOWN, unknown="the chart's values are known after apply")
        return
    for index, text in enumerate(documents if isinstance(documents, list) else []):
        if r.values.raw("values", index) is UNKNOWN:
            r.add("Chart values", "months", UNKNOWN, UNKNOWN, unknown="the chart's values are known after apply")
            continue
        try:
            values = load_untrusted(text) if isinstance(text, str) else None
        except (yaml.YAMLError, ToolkitError) as exc:
            why = f"values document {index + 1} is not YAML this reader takes: {str(exc).splitlines()[0]}"
            r.lines.append(Line("Chart values", "months", None, None, None, unpriced=why))
            continue
        for path, node, replicas in _walk(values):
            where = ".".join(path) or "values"
            if node.get("ingressClassName") == "alb" and node.get("enabled", True) is not False:
                annotations = node.get("annotations")
                _ingress_lines(
                    r, where, "alb", annotations if isinstance(annotations, dict) else {}, f"{r.address}/{where}"
                )
            if "storageClassName" not in node or node.get("enabled", True) is False:
                continue
            requests = node.get("resources", {}).get("requests") if isinstance(node.get("resources"), dict) else None
            size = (
                requests.get("storage") if isinstance(requests, dict) else node.get("size")
            )  # a claim, or a chart's persistence
            if size is not None:
                _volume_lines(r, where, node.get("storageClassName"), size, replicas)


def _walk(value: Any) -> Iterator[tuple[tuple[str, ...], dict[str, Any], float]]:
    """Every mapping in a chart's values with its path and the nearest ``replicas`` above it (else 1)."""
    stack: list[tuple[tuple[str, ...], Any, float]] = [((), value, 1.0)]
    while stack:
        path, node, replicas = stack.pop()
        if isinstance(node, dict):
            count = node.get("replicas")
            if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                replicas = float(count)
            yield path, node, replicas
            stack.extend(((*path, str(k)), v, replicas) for k, v in node.items() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(((*path, str(i)), v, replicas) for i, v in enumerate(node) if isinstance(v, (dict, list)))


PRICERS: dict[str, Pricer] = {
    "aws_eks_cluster": _eks_cluster,
    "aws_eks_node_group": _eks_node_group,
    "aws_instance": _instance,
    "aws_ebs_volume": _ebs_volume,
    "aws_nat_gateway": _nat_gateway,
    "aws_eip": _eip,
    "aws_db_instance": _db_instance,
    "aws_elasticache_replication_group": _replication_group,
    "aws_elasticache_cluster": _cache_cluster,
    "aws_lb": _lb,
    "aws_alb": _lb,
    "aws_wafv2_web_acl": _waf,
    "aws_kms_key": _kms_key,
    "aws_secretsmanager_secret": _secret,
    "aws_cloudwatch_log_group": _log_group,
    "aws_flow_log": _flow_log,
    "aws_cloudtrail": _cloudtrail,
    "aws_s3_bucket": _bucket,
    "aws_ecr_repository": _ecr,
    "aws_dynamodb_table": _dynamodb,
    "kubernetes_manifest": _manifest,
    "kubernetes_ingress_v1": _ingress_v1,
    "kubernetes_persistent_volume_claim_v1": _claim_v1,
    "kubernetes_persistent_volume_claim": _claim_v1,
    "helm_release": _helm_release,
}


_VPC_PARTS = "part of the VPC: no charge of its own (traffic is priced where it is processed)"


_CONFIG_OF = "configuration of a priced resource: no charge of its own"


FREE_TYPES: dict[str, str] = {
    "aws_vpc": _VPC_PARTS,
    "aws_subnet": _VPC_PARTS,
    "aws_route_table": _VPC_PARTS,
    "aws_route": _VPC_PARTS,
    "aws_route_table_association": _VPC_PARTS,
    "aws_internet_gateway": _VPC_PARTS,
    "aws_network_acl": _VPC_PARTS,
    "aws_network_acl_rule": _VPC_PARTS,
    "aws_default_network_acl": _VPC_PARTS,
    "aws_default_route_table": _VPC_PARTS,
    "aws_security_group": "security groups have no charge",
    "aws_default_security_group": "security groups have no charge",
    "aws_security_group_rule": "security groups have no charge",
    "aws_vpc_security_group_ingress_rule": "security groups have no charge",
    "aws_vpc_security_group_egress_rule": "security groups have no charge",
    "aws_db_subnet_group": _CONFIG_OF,
    "aws_db_parameter_group": _CONFIG_OF,
    "aws_elasticache_subnet_group": _CONFIG_OF,
    "aws_elasticache_parameter_group": _CONFIG_OF,
    "aws_elasticache_user": _CONFIG_OF,
    "aws_elasticache_user_group": _CONFIG_OF,
    "aws_eks_access_entry": _CONFIG_OF,
    "aws_eks_access_policy_association": _CONFIG_OF,
    "aws_eks_pod_identity_association": _CONFIG_OF,
    "aws_eks_addon": "EKS add-ons have no charge of their own; their pods run on the priced nodes",
    "aws_launch_template": "no charge of its own; its volumes are priced with the node groups that launch it",
    "aws_kms_alias": "aliases have no charge",
    "aws_ecr_lifecycle_policy": _CONFIG_OF,
    "aws_ecr_repository_policy": _CONFIG_OF,
    "aws_secretsmanager_secret_policy": _CONFIG_OF,
    "aws_secretsmanager_secret_rotation": "no charge of its own (a rotation function's invocations are Lambda's)",
    "aws_sns_topic": "SNS: the first million requests and 1,000 e-mail deliveries a month are free; alerts stay within",
    "aws_sns_topic_policy": _CONFIG_OF,
    "aws_sns_topic_subscription": _CONFIG_OF,
    "aws_acm_certificate": "public ACM certificates have no charge",
    "aws_acm_certificate_validation": "public ACM certificates have no charge",
    "aws_route53_record": "records have no charge (the hosted zone is looked up, not created here)",
    "aws_budgets_budget": "budgets without actions have no charge",
    "aws_ce_anomaly_monitor": "Cost Anomaly Detection has no charge",
    "aws_ce_anomaly_subscription": "Cost Anomaly Detection has no charge",
    "aws_wafv2_web_acl_logging_configuration": "no charge of its own; the logs are priced on their log group",
    "aws_wafv2_web_acl_association": _CONFIG_OF,
    "aws_lb_listener": "listeners are part of the priced load balancer",
    "aws_lb_target_group": "target groups are part of the priced load balancer",
}


FREE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("aws_iam_", "IAM has no charge"),
    ("aws_s3_bucket_", "configuration of a priced bucket: no charge of its own"),
    ("kubernetes_", "a Kubernetes object: it runs on the cluster's nodes, which are priced"),
    ("github_", "GitHub, not AWS: no AWS charge"),
    ("terraform_data", "Terraform only: no cloud resource"),
    ("null_resource", "Terraform only: no cloud resource"),
    ("random_", "Terraform only: no cloud resource"),
    ("tls_", "Terraform only: no cloud resource"),
    ("time_", "Terraform only: no cloud resource"),
    ("local_", "Terraform only: no cloud resource"),
)


# Why a priced type that shows nothing billable has no charge (a trail of management events only, ...).
NOTHING_BILLED: dict[str, str] = {
    "aws_cloudtrail": "management events only: the first copy of them is free",
    "aws_flow_log": "delivered to a CloudWatch log group, where its volume is priced",
    "kubernetes_manifest": "a Kubernetes object: it runs on the cluster's nodes, which are priced",
    "kubernetes_ingress_v1": "an Ingress of another class than alb: no AWS load balancer",
    "helm_release": "a chart whose values ask AWS for nothing: its pods run on the priced nodes",
}


_FREE_CACHE: dict[str, str | None] = {}


def free_reason(type_: str) -> str | None:
    """Why a resource of ``type_`` has no charge of its own, or ``None`` when it is not known to be free."""
    if type_ in _FREE_CACHE:
        return _FREE_CACHE[type_]
    reason = FREE_TYPES.get(type_)
    if reason is None and type_ not in PRICERS:
        reason = next((why for prefix, why in FREE_PREFIXES if type_.startswith(prefix)), None)
    _FREE_CACHE[type_] = reason
    return reason


def price_resource(
    address: str, type_: str, values: Values, siblings: Mapping[str, Values], ctx: Context
) -> ResourceCost:
    """The cost of one resource (one side of it)."""
    pricer = PRICERS.get(type_)
    if pricer is None:
        reason = free_reason(type_)
        if reason is not None:
            return ResourceCost(address, type_, Status.FREE, reason=reason)
        return ResourceCost(address, type_, Status.UNPRICED, reason=f"no price model for {type_}")
    resource = Resource(address, type_, values, siblings, ctx)
    pricer(resource)
    if not resource.lines:
        reason = NOTHING_BILLED.get(type_, "no billable part in its configuration")
        return ResourceCost(address, type_, Status.FREE, reason=reason)
    return ResourceCost(address, type_, Status.PRICED, tuple(resource.lines))
