"""What each add-on may do in AWS: the statements of its IRSA role, least privilege.

Describe calls have no resource-level permissions in AWS; every write on ``"*"`` is narrowed by a
condition on this cluster's ownership tag.
"""

from __future__ import annotations

from modules.policy import Condition, Statement


def fluent_bit_statements(log_group_arn: str) -> tuple[Statement, ...]:
    """Fluent Bit writes to its container log group only (Terraform creates the group)."""
    return (
        Statement(
            sid="WriteContainerLogs",
            actions=("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"),
            resources=(log_group_arn, f"{log_group_arn}:*"),
        ),
    )


def cluster_autoscaler_statements(cluster: str) -> tuple[Statement, ...]:
    """The cluster-autoscaler reads scaling state and resizes only node groups tagged as this cluster's."""
    return (
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
                    variable=f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster}",
                    values=("owned",),
                ),
            ),
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
