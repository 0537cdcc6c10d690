"""The rules that relate settings to each other and to AWS's limits: one small function per rule,
named for what it checks, collected in :data:`ENVIRONMENT_RULES` and :data:`ACCOUNT_RULES`.

Each rule reads the converted values (a dataclass's fields, or what did convert when something did
not) and reports through the reader, so every violation of a file is found in one pass.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from qualisys_infra.config.hclfile import KeyPath
from qualisys_infra.config.reader import Reader, as_values, show
from qualisys_infra.core import playwright_pool as pool_model
from qualisys_infra.core.naming import ENVIRONMENT_STACK_KINDS
from qualisys_infra.core.networks import MAX_PUBLIC_IPV4, exposure
from qualisys_infra.core.settings import LOG_RETENTION_DAYS, NODE_GROUP_MAX_CAPS, Delivery, NatMode

Rule = Callable[[Reader, Mapping[str, Any]], None]

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{1,20}$")
_K8S_VERSION = re.compile(r"^1\.(\d{2})$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_ROLE = re.compile(r"^[\w+=,.@-]{1,64}$")
_REDIS_VERSION = re.compile(r"^(\d+)\.(\d+)$")
_GITHUB_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
_TEAM_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
_ECR_REPO = re.compile(r"^qualisys-[a-z0-9][a-z0-9._/-]{0,200}$")
_SECRET = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# An image tag (Docker's grammar) or a digest, as ECR takes either after the repository.
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_IMAGE_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CPU = re.compile(r"^\d+(\.\d+)?m?$")
_MEMORY = re.compile(r"^\d+(Ki|Mi|Gi|Ti)?$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_TAG_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$")
# A managed resource's address as Terraform prints it: module path, type, name, optional index.
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_INDEX = r'(\[(\d+|"[^"\\]*")\])?'
_RESOURCE_ADDRESS = re.compile(rf"(module\.{_NAME}{_INDEX}\.)*(?!(module|data)\.){_NAME}\.{_NAME}{_INDEX}")


def _version_at_least(
    r: Reader, v: Mapping[str, Any], key: str, pattern: re.Pattern[str], least: int, expected: str
) -> None:
    """``v[key]``, when a string, matches ``pattern`` and its first group is at least ``least``; if
    not, one failure naming the key: ``got VALUE, expected EXPECTED``."""
    value = v.get(key)
    if isinstance(value, str):
        m = pattern.fullmatch(value)
        if not m or int(m.group(1)) < least:
            r.fail((key,), f"got {show(value)}, expected {expected}")


def _string_matches(r: Reader, v: Mapping[str, Any], key: str, pattern: re.Pattern[str], expected: str) -> bool:
    """Whether ``v[key]``, when it is a string, matches ``pattern``; if not, one failure naming the key:
    ``got VALUE, expected EXPECTED``. Not a string is another rule's (the reader's types)."""
    value = v.get(key)
    if isinstance(value, str) and not pattern.fullmatch(value):
        r.fail((key,), f"got {show(value)}, expected {expected}")
        return False
    return True


def _network(r: Reader, path: KeyPath, value: Any) -> ipaddress.IPv4Network | None:
    if not isinstance(value, str):
        return None
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        hint = ""
        with contextlib.suppress(ValueError):
            hint = f" (did you mean {show(str(ipaddress.ip_network(value, strict=False)))}?)"
        r.fail(path, f"got {show(value)}, expected an IPv4 network in CIDR notation{hint}: {exc}")
        return None
    if not isinstance(net, ipaddress.IPv4Network):
        r.fail(path, f"got {show(value)}, expected an IPv4 network (IPv6 is not used by this platform)")
        return None
    return net


def _check_retention(r: Reader, v: Mapping[str, Any], key: str) -> None:
    value = v.get(key)
    if isinstance(value, int) and value not in LOG_RETENTION_DAYS:
        allowed = [d for d in LOG_RETENTION_DAYS if d <= 400]
        nearest = min(LOG_RETENTION_DAYS, key=lambda d: abs(d - value))
        r.fail(
            (key,),
            f"got {value}, expected a CloudWatch retention period "
            f"({', '.join(map(str, allowed))}, ... days; nearest is {nearest})",
        )


def _check_tags(r: Reader, tags: Any, path: KeyPath) -> None:
    if not isinstance(tags, Mapping):
        return
    for key, value in tags.items():
        if not _TAG_KEY.fullmatch(key) or key.lower().startswith("aws:"):
            r.fail((*path, key), f"got tag name {show(key)}, expected 1-128 characters, not starting with aws:")
        if isinstance(value, str) and len(value) > 256:
            r.fail((*path, key), f"got a value of {len(value)} characters, expected at most 256")


def _check_namespaces(r: Reader, namespaces: Any) -> None:
    if not isinstance(namespaces, Mapping):
        return
    if not namespaces:
        r.fail(("namespaces",), "got {}, expected at least one namespace")
    for name, config in namespaces.items():
        if not _DNS_LABEL.fullmatch(name) or name.startswith("kube-"):
            r.fail(("namespaces", name), f"got namespace {show(name)}, expected a DNS label not starting with kube-")
        values = as_values(config)
        for key in ("cpu_requests", "cpu_limits", "default_cpu"):
            if isinstance(values.get(key), str) and not _CPU.fullmatch(values[key]):
                r.fail(
                    ("namespaces", name, key), f'got {show(values[key])}, expected a CPU quantity like "2" or "500m"'
                )
        for key in ("memory_requests", "memory_limits", "default_memory"):
            if isinstance(values.get(key), str) and not _MEMORY.fullmatch(values[key]):
                r.fail(("namespaces", name, key), f'got {show(values[key])}, expected a memory quantity like "8Gi"')


# --- environment files ---------------------------------------------------------------------------


def region_is_an_aws_region(r: Reader, v: Mapping[str, Any]) -> None:
    """``region`` names an AWS region."""
    _string_matches(r, v, "region", _REGION, 'an AWS region such as "us-east-1"')


def approval_waits_in_the_pipeline(r: Reader, v: Mapping[str, Any]) -> None:
    """``approval = true`` only with ``delivery = "pipeline"``: the approval is a reviewer in the GitHub
    environment the pipeline's apply waits in, and a manual apply has none."""
    if v.get("approval") is True and v.get("delivery", Delivery.MANUAL) is Delivery.MANUAL:
        r.fail(
            ("approval",),
            'got true with delivery "manual", expected false, or delivery = "pipeline" (the approval is a '
            "reviewer in the GitHub environment the pipeline's apply waits in; a manual apply has none)",
        )


def retention_periods_are_cloudwatch_periods(r: Reader, v: Mapping[str, Any]) -> None:
    """Log retention periods CloudWatch accepts (whole numbers' ranges are the settings' ``bounds``,
    which the reader checks)."""
    _check_retention(r, v, "flow_log_retention_days")
    _check_retention(r, v, "log_retention_days")


def tags_are_valid(r: Reader, v: Mapping[str, Any]) -> None:
    """Tag names and values AWS accepts, none starting with ``aws:``."""
    _check_tags(r, v.get("tags"), ("tags",))


def subnets_fit_the_vpc(r: Reader, v: Mapping[str, Any]) -> None:
    """A private /16-/24 VPC; one subnet per AZ and tier, inside it, none overlapping."""
    vpc = _network(r, ("vpc_cidr",), v.get("vpc_cidr"))
    if vpc is not None and not 16 <= vpc.prefixlen <= 24:
        r.fail(("vpc_cidr",), f"got {show(str(vpc))}, expected a prefix from /16 to /24 (AWS VPC limits)")
        vpc = None
    if vpc is not None and not vpc.is_private:
        r.fail(("vpc_cidr",), f"got {show(str(vpc))}, expected a private range (10/8, 172.16/12, 192.168/16)")
    az_count = v.get("az_count")
    seen: list[tuple[ipaddress.IPv4Network, KeyPath]] = []
    for key in ("public_subnet_cidrs", "private_subnet_cidrs", "database_subnet_cidrs"):
        cidrs = v.get(key)
        if not isinstance(cidrs, tuple):
            continue
        if isinstance(az_count, int) and len(cidrs) != az_count:
            r.fail((key,), f"got {len(cidrs)} networks, expected one per AZ (az_count = {az_count})")
        for i, cidr in enumerate(cidrs):
            net = _network(r, (key, i), cidr)
            if net is None:
                continue
            if net.prefixlen > 28:
                r.fail((key, i), f"got {show(cidr)}, expected a prefix of /28 or larger (AWS subnet minimum)")
            if vpc is not None and not net.subnet_of(vpc):
                r.fail((key, i), f"got {show(cidr)}, expected a network inside vpc_cidr {show(str(vpc))}")
            for other, other_path in seen:
                if net.overlaps(other):
                    where = ".".join(str(p) for p in other_path[:-1]) + f"[{other_path[-1]}]"
                    r.fail((key, i), f"got {show(cidr)}, which overlaps {where} {show(str(other))}")
                    break
            seen.append((net, (key, i)))


def kubernetes_version_is_supported(r: Reader, v: Mapping[str, Any]) -> None:
    """EKS 1.30 or newer."""
    _version_at_least(r, v, "eks_kubernetes_version", _K8S_VERSION, 30, 'a version "1.30" or newer')


def public_api_access_is_narrow(r: Reader, v: Mapping[str, Any]) -> None:
    """The public API endpoint's networks together reach no more than an office range."""
    public_nets = [
        _network(r, ("eks_public_access_cidrs", i), c) for i, c in enumerate(v.get("eks_public_access_cidrs") or ())
    ]
    reach = exposure(n for n in public_nets if n is not None)
    if reach.internet_wide:
        r.fail(
            ("eks_public_access_cidrs",),
            f"got networks reaching {reach.describe()}, expected office or VPN ranges "
            f"(at most {MAX_PUBLIC_IPV4:,} public addresses together)",
        )


def namespaces_are_valid(r: Reader, v: Mapping[str, Any]) -> None:
    """Namespace names and quotas Kubernetes accepts."""
    _check_namespaces(r, v.get("namespaces"))


def ingress_domain_is_a_dns_name(r: Reader, v: Mapping[str, Any]) -> None:
    """The environment's HTTPS host is a DNS name."""
    _string_matches(r, v, "ingress_domain", _DOMAIN, 'a DNS name like "staging.qualisys.dev"')


def grafana_domain_is_its_own_dns_name(r: Reader, v: Mapping[str, Any]) -> None:
    """Grafana's HTTPS host is a DNS name, not the services' host (each has its own certificate)."""
    domain = v.get("grafana_domain")
    if not _string_matches(r, v, "grafana_domain", _DOMAIN, 'a DNS name like "grafana.staging.qualisys.dev"'):
        return
    if isinstance(domain, str) and domain == v.get("ingress_domain"):
        r.fail(("grafana_domain",), f"got {show(domain)}, the same host as ingress_domain: expected a host of its own")


def alert_emails_are_addresses(r: Reader, v: Mapping[str, Any]) -> None:
    """At least one address receives the environment's alerts."""
    emails = v.get("alert_emails")
    if emails == ():
        r.fail(("alert_emails",), "got [], expected at least one e-mail address (else alerts reach nobody)")
    for i, email in enumerate(emails or ()):
        if isinstance(email, str) and not _EMAIL.fullmatch(email):
            r.fail(("alert_emails", i), f"got {show(email)}, expected an e-mail address")


def hosts_lie_in_the_route53_zone(r: Reader, v: Mapping[str, Any]) -> None:
    """A named hosted zone is a DNS name holding every host of the environment."""
    zone = v.get("route53_zone_name")
    if not isinstance(zone, str) or zone == "":
        return
    if not _DOMAIN.fullmatch(zone):
        r.fail(("route53_zone_name",), f'got {show(zone)}, expected a hosted zone\'s DNS name like "qualisys.dev"')
        return
    for key in ("ingress_domain", "grafana_domain"):
        host = v.get(key)
        # a host that is not a DNS name has its own error; saying the zone does not hold it adds nothing
        if isinstance(host, str) and _DOMAIN.fullmatch(host) and host != zone and not host.endswith(f".{zone}"):
            r.fail(
                ("route53_zone_name",),
                f"got {show(zone)}, which does not hold {key} {show(host)}: expected the zone of every host",
            )


def node_groups_fit_the_caps(r: Reader, v: Mapping[str, Any]) -> None:
    """Node group sizes ordered and within the spec's caps."""
    groups = as_values(v.get("node_groups"))
    for name, cap in NODE_GROUP_MAX_CAPS.items():
        g = as_values(groups.get(name))
        path: KeyPath = ("node_groups", name)
        for i, itype in enumerate(g.get("instance_types") or ()):
            if not _INSTANCE_TYPE.fullmatch(itype):
                r.fail(
                    (*path, "instance_types", i),
                    f'got {show(itype)}, expected an EC2 instance type like "t3.medium"',
                )
        if g.get("instance_types") == ():
            r.fail((*path, "instance_types"), "got [], expected at least one instance type")
        lo, want, hi = g.get("min_size"), g.get("desired_size"), g.get("max_size")
        if isinstance(lo, int) and lo < 0:
            r.fail((*path, "min_size"), f"got {lo}, expected a whole number >= 0")
        if isinstance(hi, int) and not 1 <= hi <= cap:
            r.fail(
                (*path, "max_size"),
                f"got {hi}, expected a whole number from 1 to {cap} (the spec's cap for {name})",
            )
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            r.fail((*path, "max_size"), f"got {hi}, expected >= min_size ({lo})")
        if isinstance(want, int) and isinstance(lo, int) and want < lo:
            r.fail((*path, "desired_size"), f"got {want}, expected >= min_size ({lo})")
        if isinstance(want, int) and isinstance(hi, int) and want > hi:
            r.fail((*path, "desired_size"), f"got {want}, expected <= max_size ({hi})")


def database_settings_are_valid(r: Reader, v: Mapping[str, Any]) -> None:
    """RDS class, PostgreSQL 15+, storage and backups."""
    rds_class = v.get("rds_instance_class")
    if isinstance(rds_class, str) and not rds_class.startswith("db."):
        r.fail(("rds_instance_class",), f'got {show(rds_class)}, expected an RDS class like "db.t3.medium"')
    engine = v.get("rds_engine_version")
    if isinstance(engine, str) and not (engine.isdigit() and int(engine) >= 15):
        r.fail(("rds_engine_version",), f'got {show(engine)}, expected a PostgreSQL major version "15" or newer')
    low, high = v.get("rds_allocated_storage_gib"), v.get("rds_max_allocated_storage_gib")
    if isinstance(low, int) and isinstance(high, int) and high < low:
        r.fail(("rds_max_allocated_storage_gib",), f"got {high}, expected >= rds_allocated_storage_gib ({low})")


def cache_settings_are_valid(r: Reader, v: Mapping[str, Any]) -> None:
    """ElastiCache node type, Redis 7+, shards and replicas."""
    node_type = v.get("redis_node_type")
    if isinstance(node_type, str) and not node_type.startswith("cache."):
        r.fail(("redis_node_type",), f'got {show(node_type)}, expected a node type like "cache.t3.micro"')
    _version_at_least(r, v, "redis_engine_version", _REDIS_VERSION, 7, 'a Redis version "7.0" or newer')


def protected_unless_manual(r: Reader, v: Mapping[str, Any]) -> None:
    """An environment the pipeline applies (``delivery = "pipeline"``): deletion protection on, and Redis
    replicas for failover. Only an environment applied by hand (dev, a sandbox) may drop them. Keyed by
    the environment's delivery, not its name: a ``qa`` copy of staging is held to staging's rules."""
    env = v.get("environment")
    if isinstance(env, str) and v.get("delivery", Delivery.MANUAL) is Delivery.PIPELINE:
        why = 'delivery = "pipeline"; only a manual environment may drop it'
        if v.get("rds_deletion_protection") is False:
            r.fail(("rds_deletion_protection",), f"got false, expected true in {env} ({why})")
        replicas = v.get("redis_replicas_per_shard")
        if isinstance(replicas, int) and replicas < 1:
            r.fail(("redis_replicas_per_shard",), f"got {replicas}, expected >= 1 in {env} (Multi-AZ failover; {why})")


def destroy_allowances_are_valid(r: Reader, v: Mapping[str, Any]) -> None:
    """``allow_destroy``: stack kinds of an environment, each with resource addresses as Terraform prints them."""
    allowed = v.get("allow_destroy")
    if not isinstance(allowed, Mapping):
        return
    for kind, addresses in allowed.items():
        if kind not in ENVIRONMENT_STACK_KINDS:
            r.fail(
                ("allow_destroy", kind),
                f"got {show(kind)}, expected a stack kind: {', '.join(ENVIRONMENT_STACK_KINDS)}",
            )
            continue
        for i, address in enumerate(addresses):
            if not _RESOURCE_ADDRESS.fullmatch(address):
                r.fail(
                    ("allow_destroy", kind, i),
                    f'got {show(address)}, expected a managed resource\'s address, e.g. "aws_db_instance.postgres"'
                    ' or "module.db.aws_db_instance.this[0]"',
                )


def approved_is_highly_available(r: Reader, v: Mapping[str, Any]) -> None:
    """An environment whose apply waits for a reviewer (``approval = true``: production, a second
    production region): Multi-AZ RDS and one NAT per AZ. Keyed by the setting, not the name."""
    env = v.get("environment")
    if isinstance(env, str) and v.get("approval") is True:
        why = "approval = true: it serves customers"
        if v.get("rds_multi_az") is False:
            r.fail(("rds_multi_az",), f"got false, expected true in {env} (NFR availability: Multi-AZ; {why})")
        if v.get("nat_mode") == NatMode.SINGLE:
            r.fail(
                ("nat_mode",),
                f'got "single", expected "per_az" in {env} (no single AZ point of failure; {why})',
            )


def playwright_pool_fits_its_quota_and_nodes(r: Reader, v: Mapping[str, Any]) -> None:
    """``test_pool``: valid sizes, and ``runners`` of them fit the playwright-pool namespace's quota
    and the playwright node group at ``max_size`` (node by node: see :mod:`qualisys_infra.delivery.testpool`)."""
    pool = as_values(v.get("test_pool"))
    if not pool:
        return
    path: KeyPath = ("test_pool",)
    repo = pool.get("runner_image_repository")
    if isinstance(repo, str) and not _ECR_REPO.fullmatch(repo):
        r.fail(
            (*path, "runner_image_repository"),
            f"got {show(repo)}, expected an ECR repository like qualisys-playwright-runner",
        )
    sizes: dict[str, int] = {}
    for key, parse, example in (
        ("cpu_request", pool_model.cpu_millicores, '"500m"'),
        ("cpu_limit", pool_model.cpu_millicores, '"1"'),
        ("memory_request", pool_model.memory_bytes, '"1Gi"'),
        ("memory_limit", pool_model.memory_bytes, '"2Gi"'),
    ):
        value = pool.get(key)
        if not isinstance(value, str):
            continue
        try:
            size = parse(value)
        except ValueError:
            kind = "CPU" if key.startswith("cpu") else "memory"
            r.fail((*path, key), f"got {show(value)}, expected a {kind} quantity like {example}")
            continue
        if size <= 0:
            r.fail((*path, key), f"got {show(value)}, expected more than 0")
            continue
        sizes[key] = size
    for kind in ("cpu", "memory"):
        request, limit = sizes.get(f"{kind}_request"), sizes.get(f"{kind}_limit")
        if request is not None and limit is not None and request > limit:
            r.fail(
                (*path, f"{kind}_request"),
                f"got {show(pool[f'{kind}_request'])}, expected <= {kind}_limit {show(pool[f'{kind}_limit'])} "
                "(Kubernetes refuses a request above its limit)",
            )
            return
    runners = pool.get("runners")
    if not isinstance(runners, int) or not 1 <= runners <= pool_model.MAX_RUNNERS or len(sizes) < 4:
        return
    before = len(r.violations)
    _pool_fits_the_quota(r, v, pool, runners, sizes)
    _pool_fits_the_nodes(r, v, pool, runners, sizes)
    concurrent = pool.get("concurrent_runners")
    if not isinstance(concurrent, int) or concurrent == 0:
        return
    if not runners <= concurrent <= pool_model.MAX_RUNNERS:
        r.fail(
            (*path, "concurrent_runners"),
            f"got {concurrent}, expected 0 (the same as runners) or {runners} (runners) to {pool_model.MAX_RUNNERS}",
        )
    elif concurrent > runners and len(r.violations) == before:
        # NFR-S2: every run at once, not only one run, fits (reported once runners themselves fit).
        _pool_fits_the_quota(r, v, pool, concurrent, sizes, count_key="concurrent_runners")
        _pool_fits_the_nodes(r, v, pool, concurrent, sizes, count_key="concurrent_runners")


def _pool_fits_the_quota(
    r: Reader,
    v: Mapping[str, Any],
    pool: Mapping[str, Any],
    runners: int,
    sizes: Mapping[str, int],
    count_key: str = "runners",
) -> None:
    namespaces = v.get("namespaces")
    if not isinstance(namespaces, Mapping):
        return
    ns = pool_model.NAMESPACE
    if ns not in namespaces:
        r.fail(
            ("test_pool", count_key),
            f'got {runners}, but the pool runs in namespace "{ns}", which `namespaces` does not have: '
            f'add namespaces["{ns}"] with a quota for {runners} runners',
        )
        return
    quota = as_values(namespaces[ns])
    cpu, memory = (
        (pool_model.cpu_millicores, pool_model.show_cpu),
        (pool_model.memory_bytes, pool_model.round_up_memory),
    )
    # (quota key, what it sums, the runner's own key, how to read and show the quantity)
    checks = (
        ("cpu_requests", "CPU of requests", "cpu_request", *cpu),
        ("memory_requests", "memory of requests", "memory_request", *memory),
        ("cpu_limits", "CPU of limits", "cpu_limit", *cpu),
        ("memory_limits", "memory of limits", "memory_limit", *memory),
    )
    pods = quota.get("pods")
    if isinstance(pods, int) and runners > pods:
        line = r.doc.line_of(("namespaces", ns, "pods"))
        r.fail(
            ("test_pool", count_key),
            f"got {runners}, which needs {runners} pods but the {ns} quota allows {pods} ({runners - pods} short): "
            f'raise namespaces["{ns}"].pods (line {line}) to {runners} or lower test_pool.{count_key} to {pods}',
        )
    for key, what, per_item, parse, shown in checks:
        text = quota.get(key)
        if not isinstance(text, str):
            continue
        try:
            allowed = parse(text)
        except ValueError:  # reported by namespaces_are_valid
            continue
        each = sizes[per_item]
        needed = runners * each
        if needed <= allowed:
            continue
        line = r.doc.line_of(("namespaces", ns, key))
        most = allowed // each
        lower = f" or lower test_pool.{count_key} to {most}" if most >= 1 else f" or lower test_pool.{per_item}"
        r.fail(
            ("test_pool", count_key),
            f"got {runners}, which needs {shown(needed)} {what} ({runners} x {pool[per_item]}) but the {ns} quota "
            f'allows {text} ({shown(needed - allowed)} short): raise namespaces["{ns}"].{key} (line {line}) '
            f"to {show(shown(needed))}{lower}",
        )


def _pool_fits_the_nodes(
    r: Reader,
    v: Mapping[str, Any],
    pool: Mapping[str, Any],
    runners: int,
    sizes: Mapping[str, int],
    count_key: str = "runners",
) -> None:
    group = as_values(as_values(v.get("node_groups")).get(pool_model.NODE_GROUP))
    types, max_size = group.get("instance_types"), group.get("max_size")
    if not isinstance(types, tuple) or not types or not isinstance(max_size, int) or max_size < 1:
        return
    group_path: KeyPath = ("node_groups", pool_model.NODE_GROUP)
    fits: list[pool_model.NodeFit] = []
    for i, itype in enumerate(types):
        fit = pool_model.runners_per_node(itype, sizes["cpu_request"], sizes["memory_request"])
        if fit is not None:
            fits.append(fit)
        elif _INSTANCE_TYPE.fullmatch(itype):
            r.fail(
                (*group_path, "instance_types", i),
                f"got {show(itype)}, which the test pool's capacity table does not know: add its vCPUs, memory "
                "and ENI max pods to INSTANCE_TYPES in qualisys_infra/delivery/testpool.py (`aws ec2 "
                "describe-instance-types`, amazon-eks-ami's eni-max-pods.txt) or use one of "
                f"{', '.join(sorted(pool_model.INSTANCE_TYPES))}",
            )
    if len(fits) < len(types):
        return
    fit = min(fits, key=lambda f: f.runners)  # the group may launch any type it lists: count the smallest
    room, itype = fit.room, fit.instance_type
    left = {
        "cpu": f"{pool_model.show_cpu(room.cpu)} CPU left per node after kube-reserved and DaemonSets, "
        f"{pool['cpu_request']} per runner",
        "memory": f"{pool_model.show_memory(room.memory)} memory left per node after kube-reserved and DaemonSets, "
        f"{pool['memory_request']} per runner",
        "pods": f"{room.pods} pod slots per node: {pool_model.INSTANCE_TYPES[itype].max_pods} by its ENIs less "
        f"{pool_model.DAEMONSET_RESERVE.pods} DaemonSets",
    }[fit.limited_by]
    if fit.runners == 0:
        key = {"cpu": "cpu_request", "memory": "memory_request", "pods": "runners"}[fit.limited_by]
        r.fail(
            ("test_pool", key),
            f"got {show(pool[key])}, but one runner does not fit a {itype} node ({left}): lower it or pick a "
            "larger instance type in node_groups.playwright.instance_types",
        )
        return
    capacity = fit.runners * max_size
    if runners <= capacity:
        return
    nodes = -(-runners // fit.runners)
    line = r.doc.line_of((*group_path, "max_size"))
    cap = NODE_GROUP_MAX_CAPS[pool_model.NODE_GROUP]
    if nodes <= cap:
        fix = f"raise node_groups.playwright.max_size (line {line}) to {nodes}"
    else:
        fix = (
            f"{nodes} nodes would pass the spec's cap of {cap}, so pick a larger instance type in "
            "node_groups.playwright.instance_types or lower the requests"
        )
    r.fail(
        ("test_pool", count_key),
        f"got {runners}, but the playwright node group holds {capacity} at most ({runners - capacity} short): "
        f"max_size {max_size} x {fit.runners} runners per {itype}, limited by {fit.limited_by} ({left}): "
        f"{fix}, or lower test_pool.{count_key} to {capacity}",
    )


# --- account.tfvars ----------------------------------------------------------------------------------


def project_is_a_name_prefix(r: Reader, v: Mapping[str, Any]) -> None:
    """A short lower-case project name."""
    _string_matches(r, v, "project", _PROJECT, "2-21 lower-case letters, digits and -")


def state_buckets_are_valid(r: Reader, v: Mapping[str, Any]) -> None:
    """S3 bucket names, and a separate bucket for access logs."""
    for key in ("state_bucket_name", "access_log_bucket_name"):
        name = v.get(key)
        if isinstance(name, str) and (not _BUCKET.fullmatch(name) or ".." in name or name.startswith("xn--")):
            r.fail(
                (key,),
                f"got {show(name)}, expected an S3 bucket name: 3-63 lower-case letters, digits, - and .",
            )
    if v.get("state_bucket_name") is not None and v.get("state_bucket_name") == v.get("access_log_bucket_name"):
        r.fail(
            ("access_log_bucket_name",),
            "got the state bucket's name, expected a separate bucket for access logs",
        )


def roles_and_table_are_valid(r: Reader, v: Mapping[str, Any]) -> None:
    """IAM role and DynamoDB table names."""
    for key in ("admin_role_name", "ci_deployer_role_name"):
        role = v.get(key)
        if isinstance(role, str) and not _ROLE.fullmatch(role):
            r.fail((key,), f"got {show(role)}, expected an IAM role name: 1-64 of A-Z a-z 0-9 +=,.@_-")
    _string_matches(r, v, "lock_table_name", _TABLE, "a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)")


def github_settings_are_valid(r: Reader, v: Mapping[str, Any]) -> None:
    """``OWNER/REPO``, branch names without wildcards, a team slug."""
    _string_matches(r, v, "github_repository", _GITHUB_REPO, '"OWNER/REPO"')
    team = v.get("github_devops_team")
    if isinstance(team, str) and not _TEAM_SLUG.fullmatch(team):
        r.fail(
            ("github_devops_team",),
            f'got {show(team)}, expected a team slug: lower-case letters, digits, - and _ (e.g. "devops")',
        )
    for i, branch in enumerate(v.get("github_deploy_branches") or ()):
        if not _BRANCH.fullmatch(branch):
            r.fail(("github_deploy_branches", i), f"got {show(branch)}, expected a branch name without wildcards")


def audit_settings_are_valid(r: Reader, v: Mapping[str, Any]) -> None:
    """CloudTrail and access-log buckets, retention periods."""
    for key in ("cloudtrail_bucket_name", "account_access_log_bucket_name"):
        name = v.get(key)
        if isinstance(name, str) and (not _BUCKET.fullmatch(name) or ".." in name):
            r.fail((key,), f"got {show(name)}, expected an S3 bucket name: 3-63 lower-case letters, digits, - and .")
    _check_retention(r, v, "cloudtrail_retention_days")


def budgets_are_valid(r: Reader, v: Mapping[str, Any]) -> None:
    """Increasing positive budgets, alert addresses, an anomaly threshold above 100 %."""
    limits = v.get("budget_limits_usd")
    if isinstance(limits, tuple) and (not limits or any(x <= 0 for x in limits) or list(limits) != sorted(set(limits))):
        r.fail(
            ("budget_limits_usd",),
            f"got {list(limits)}, expected increasing positive amounts, e.g. [500, 1000, 2000]",
        )
    for i, email in enumerate(v.get("budget_alert_emails") or ()):
        if not _EMAIL.fullmatch(email):
            r.fail(("budget_alert_emails", i), f"got {show(email)}, expected an e-mail address")
    if v.get("budget_alert_emails") == ():
        r.fail(("budget_alert_emails",), "got [], expected at least one e-mail address")


def registries_and_secrets_are_valid(r: Reader, v: Mapping[str, Any]) -> None:
    """ECR repository names, secret names and their readers."""
    for i, repo_name in enumerate(v.get("ecr_repositories") or ()):
        if not _ECR_REPO.fullmatch(repo_name):
            r.fail(("ecr_repositories", i), f"got {show(repo_name)}, expected a lower-case name like qualisys-api")
    tag = v.get("github_runner_image_tag")
    if isinstance(tag, str) and not (_IMAGE_TAG.fullmatch(tag) or _IMAGE_DIGEST.fullmatch(tag)):
        r.fail(
            ("github_runner_image_tag",),
            f"got {show(tag)}, expected an image tag like 2.335.1-0123456789ab or a digest sha256:<64 hex>",
        )
    for i, secret in enumerate(v.get("third_party_secrets") or ()):
        if not _SECRET.fullmatch(secret):
            r.fail(("third_party_secrets", i), f"got {show(secret)}, expected 1-64 of a-z 0-9 -")
    for i, role in enumerate(v.get("secret_reader_role_names") or ()):
        if not _ROLE.fullmatch(role):
            r.fail(("secret_reader_role_names", i), f"got {show(role)}, expected an IAM role name")


def account_tags_are_valid(r: Reader, v: Mapping[str, Any]) -> None:
    """Tag names and values AWS accepts, none starting with ``aws:``."""
    _check_tags(r, v.get("tags"), ("tags",))


ENVIRONMENT_RULES: tuple[Rule, ...] = (
    region_is_an_aws_region,
    approval_waits_in_the_pipeline,
    retention_periods_are_cloudwatch_periods,
    tags_are_valid,
    subnets_fit_the_vpc,
    kubernetes_version_is_supported,
    public_api_access_is_narrow,
    namespaces_are_valid,
    ingress_domain_is_a_dns_name,
    hosts_lie_in_the_route53_zone,
    grafana_domain_is_its_own_dns_name,
    alert_emails_are_addresses,
    node_groups_fit_the_caps,
    database_settings_are_valid,
    cache_settings_are_valid,
    protected_unless_manual,
    approved_is_highly_available,
    playwright_pool_fits_its_quota_and_nodes,
    destroy_allowances_are_valid,
)
ACCOUNT_RULES: tuple[Rule, ...] = (
    project_is_a_name_prefix,
    region_is_an_aws_region,
    state_buckets_are_valid,
    roles_and_table_are_valid,
    github_settings_are_valid,
    audit_settings_are_valid,
    budgets_are_valid,
    registries_and_secrets_are_valid,
    account_tags_are_valid,
)
