"""The parallel Playwright test pool's facts and capacity, in one place for every layer: its namespace,
node group, label and taint (``stacks/cluster.py`` taints the node group, ``modules/platform`` makes
the namespace and its quota, :mod:`qualisys_infra.delivery.testpool` renders the Job,
:mod:`qualisys_infra.config.rules` checks ``test_pool``), Kubernetes quantities, and how many runners
fit on a node.

Allocatable per instance type is computed the way the EKS-optimized AMIs configure the kubelet
(amazon-eks-ami: ``max-pods`` from ``eni-max-pods.txt`` = ENIs x (IPv4 per ENI - 1) + 2; kube-reserved
CPU 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% of the rest; kube-reserved memory
11 MiB per pod + 255 MiB; hard eviction at 100 MiB) from the memory the kernel sees, which is about
7.5% less than the nominal size (Karpenter's ``VM_MEMORY_OVERHEAD_PERCENT`` default). The results equal
Karpenter's published instance-types reference (AL2, ENI-limited pod density), e.g. c5.xlarge 3920m CPU,
6584Mi memory, 58 pods; a test pins that.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

NAMESPACE = "playwright-pool"
NODE_GROUP = "playwright"
NODE_POOL_LABEL = "qualisys.io/node-pool"
TAINT_KEY, TAINT_VALUE = "dedicated", "playwright"
TAINT = (TAINT_KEY, TAINT_VALUE, "NoSchedule")  # as the Kubernetes API spells the effect (the Job's toleration)
NODE_GROUP_TAINT = (TAINT_KEY, TAINT_VALUE, "NO_SCHEDULE")  # as the EKS API spells it (stacks/cluster.py)
MAX_RUNNERS = 500
# Paths inside the runner's container, each an emptyDir of its own pod (not this machine's /tmp).

MI = 1024**2
_BINARY = {"": 1, "Ki": 1024, "Mi": MI, "Gi": 1024**3, "Ti": 1024**4}
_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti)?$")
# An image reference: [registry/]repository[:tag][@sha256:digest], the grammar of distribution/reference.


# --- quantities ------------------------------------------------------------------------------------


def cpu_millicores(quantity: str) -> int:
    """``"500m"`` -> 500, ``"2"`` -> 2000, ``"1.5"`` -> 1500; ValueError for anything else."""
    m = _CPU.fullmatch(quantity)
    if not m:
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    try:
        value = Decimal(m.group(1))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ValueError(f"not a CPU quantity: {quantity!r}") from None
    millis = value if m.group(2) else value * 1000
    return math.ceil(millis)


def memory_bytes(quantity: str) -> int:
    """``"1Gi"`` -> 1073741824, ``"512Mi"``, ``"1000"``; ValueError for anything else."""
    m = _MEMORY.fullmatch(quantity)
    if not m:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return int(m.group(1)) * _BINARY[m.group(2) or ""]


def show_cpu(millicores: int) -> str:
    """The shortest quantity for ``millicores``: ``"25"``, ``"3920m"``."""
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def show_memory(size: int) -> str:
    """The largest binary unit that divides ``size`` exactly: ``"50Gi"``, ``"6584Mi"``."""
    for unit in ("Ti", "Gi", "Mi", "Ki"):
        if size and size % _BINARY[unit] == 0:
            return f"{size // _BINARY[unit]}{unit}"
    return str(size)


def round_up_memory(size: int) -> str:
    """``size`` rounded up to a whole Mi (or Gi when it is one), for a quota to raise to."""
    if size % _BINARY["Gi"] == 0:
        return show_memory(size)
    return f"{-(-size // MI)}Mi"


# --- nodes -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstanceType:
    """What EC2 says of an instance type: vCPUs, memory in MiB, and the ENI pod limit."""

    vcpus: int
    memory_mib: int
    max_pods: int  # amazon-eks-ami files/eni-max-pods.txt


# vCPUs and memory: `aws ec2 describe-instance-types`; max pods: amazon-eks-ami's eni-max-pods.txt.
# An instance type missing here is an error in the environment file that says to add it.
INSTANCE_TYPES: dict[str, InstanceType] = {
    "t3.medium": InstanceType(2, 4096, 17),
    "t3.large": InstanceType(2, 8192, 35),
    "t3.xlarge": InstanceType(4, 16384, 58),
    "t3.2xlarge": InstanceType(8, 32768, 58),
    "m5.large": InstanceType(2, 8192, 29),
    "m5.xlarge": InstanceType(4, 16384, 58),
    "m5.2xlarge": InstanceType(8, 32768, 58),
    "m5.4xlarge": InstanceType(16, 65536, 234),
    "c5.large": InstanceType(2, 4096, 29),
    "c5.xlarge": InstanceType(4, 8192, 58),
    "c5.2xlarge": InstanceType(8, 16384, 58),
    "c5.4xlarge": InstanceType(16, 32768, 234),
    "c6i.large": InstanceType(2, 4096, 29),
    "c6i.xlarge": InstanceType(4, 8192, 58),
    "c6i.2xlarge": InstanceType(8, 16384, 58),
    "c6i.4xlarge": InstanceType(16, 32768, 234),
}
VM_MEMORY_OVERHEAD = Decimal("0.075")  # memory the hypervisor and kernel keep (Karpenter's default estimate)
EVICTION_HARD_MIB = 100  # the kubelet's memory.available<100Mi


@dataclass(frozen=True, slots=True)
class Resources:
    """CPU in millicores, memory in bytes, and pods."""

    cpu: int
    memory: int
    pods: int


# What the DaemonSets on every playwright node request, rounded up: aws-node (VPC CNI) 25m,
# kube-proxy 100m, ebs-csi-node 30m and 120Mi, eks-pod-identity-agent, prometheus-node-exporter and
# aws-for-fluent-bit (50m, 50Mi): six pods.
DAEMONSET_RESERVE = Resources(cpu=250, memory=256 * MI, pods=6)


def kube_reserved_cpu(vcpus: int) -> int:
    """The EKS AMI's kube-reserved CPU in millicores: 6%, 1%, 0.5%, 0.5%, then 0.25% per core."""
    shares = (60, 10, 5, 5)
    return sum(shares[:vcpus]) + max(0, vcpus - 4) * 25 // 10


def allocatable(instance: InstanceType) -> Resources:
    """The node's allocatable CPU, memory and pods, as the kubelet of the EKS AMI reports them."""
    overhead_mib = math.ceil(instance.memory_mib * VM_MEMORY_OVERHEAD)
    reserved_mib = 11 * instance.max_pods + 255
    memory_mib = instance.memory_mib - overhead_mib - reserved_mib - EVICTION_HARD_MIB
    return Resources(
        cpu=instance.vcpus * 1000 - kube_reserved_cpu(instance.vcpus),
        memory=memory_mib * MI,
        pods=instance.max_pods,
    )


def for_runners(instance: InstanceType) -> Resources:
    """What a node leaves for runners: its allocatable less the DaemonSets' requests."""
    a = allocatable(instance)
    r = DAEMONSET_RESERVE
    return Resources(cpu=max(0, a.cpu - r.cpu), memory=max(0, a.memory - r.memory), pods=max(0, a.pods - r.pods))


@dataclass(frozen=True, slots=True)
class NodeFit:
    """How many runners one node of an instance type holds, and which resource runs out first."""

    instance_type: str
    runners: int
    limited_by: str  # "cpu", "memory" or "pods"
    room: Resources  # what the node leaves for runners


def runners_per_node(instance_type: str, cpu_request: int, memory_request: int) -> NodeFit | None:
    """Runners with these requests that fit one node of ``instance_type``; None for an unknown type."""
    instance = INSTANCE_TYPES.get(instance_type)
    if instance is None:
        return None
    room = for_runners(instance)
    counts = {
        "cpu": room.cpu // cpu_request if cpu_request else room.pods,
        "memory": room.memory // memory_request if memory_request else room.pods,
        "pods": room.pods,
    }
    limited_by = min(counts, key=lambda k: counts[k])
    return NodeFit(instance_type, counts[limited_by], limited_by, room)


# --- the Job ---------------------------------------------------------------------------------------
