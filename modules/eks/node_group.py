"""A managed node group with an IMDSv2-only, encrypted launch template and autoscaler discovery tags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from modules.eks.cluster import EksCluster
from modules.encryption_key import EncryptionKey
from qualisys_infra.core.engine import Construct, Fn, TerraformResourceLifecycle
from qualisys_infra.core.engine.aws import (
    eks_node_group,
    launch_template,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeGroupProps:
    """One managed node group: sizes, instance types, disk, scheduling labels and taints.

    Instances require IMDSv2 with a hop limit of 1 (pods cannot reach the node's credentials),
    their gp3 root volumes are encrypted with ``volume_key``, and the group carries the
    cluster-autoscaler discovery tags. The autoscaler owns ``desired_size`` after creation.
    """

    cluster: EksCluster
    name: str
    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gib: int
    volume_key: EncryptionKey
    ami_type: str  # e.g. AL2023_x86_64_STANDARD: from the lifecycle table's row of the cluster's minor
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[tuple[str, str, str], ...] = ()  # (key, value, effect) e.g. NO_SCHEDULE


class NodeGroup(Construct):
    """``aws_launch_template`` plus ``aws_eks_node_group`` over the cluster's private subnets."""

    def __init__(self, scope: Construct, id_: str, *, props: NodeGroupProps) -> None:
        super().__init__(scope, id_)
        cluster = props.cluster
        full_name = f"{cluster.name}-{props.name}"
        self.launch_template = launch_template.LaunchTemplate(
            self,
            "launch-template",
            name=full_name,
            description=f"{full_name} nodes: IMDSv2 only, encrypted gp3 root volume",
            update_default_version=True,
            ebs_optimized="true",
            vpc_security_group_ids=[cluster.node_security_group.id],
            metadata_options=launch_template.LaunchTemplateMetadataOptions(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                launch_template.LaunchTemplateBlockDeviceMappings(
                    device_name="/dev/xvda",
                    ebs=launch_template.LaunchTemplateBlockDeviceMappingsEbs(
                        volume_size=props.disk_size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=props.volume_key.arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                launch_template.LaunchTemplateTagSpecifications(resource_type=kind, tags={"Name": full_name})
                for kind in ("instance", "volume")
            ],
        )
        self.node_group = eks_node_group.EksNodeGroup(
            self,
            "node-group",
            cluster_name=cluster.cluster_name,
            node_group_name=props.name,
            node_role_arn=cluster.node_role.arn,
            subnet_ids=cluster.network.private_subnet_ids,
            ami_type=props.ami_type,
            capacity_type="ON_DEMAND",
            instance_types=list(props.instance_types),
            scaling_config=eks_node_group.EksNodeGroupScalingConfig(
                min_size=props.min_size, desired_size=props.desired_size, max_size=props.max_size
            ),
            update_config=eks_node_group.EksNodeGroupUpdateConfig(max_unavailable=1),
            launch_template=eks_node_group.EksNodeGroupLaunchTemplate(
                id=self.launch_template.id, version=Fn.tostring(self.launch_template.latest_version)
            ),
            labels=dict(props.labels) or None,
            taint=[
                eks_node_group.EksNodeGroupTaint(key=key, value=value, effect=effect)
                for key, value, effect in props.taints
            ]
            or None,
            tags={
                "k8s.io/cluster-autoscaler/enabled": "true",
                f"k8s.io/cluster-autoscaler/{cluster.name}": "owned",
            },
            lifecycle=TerraformResourceLifecycle(ignore_changes=["scaling_config[0].desired_size"]),
            depends_on=cluster.node_role.attachments,
        )
