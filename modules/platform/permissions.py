"""What each add-on may do in AWS: the statements of its IRSA role, least privilege.

Describe calls have no resource-level permissions in AWS. Fluent Bit's and the cluster-autoscaler's
writes are narrowed to their log group or by a condition on this cluster's ownership tag. The AWS Load
Balancer Controller's policy follows the upstream policy of the pinned release (vendored in
``tests/fixtures/aws-load-balancer-controller/``, checked by ``tests/synth/test_lbc_permissions.py``):
the writes upstream narrows by the ``elbv2.k8s.aws/cluster`` tag are narrowed to this cluster's value
of that tag; the few writes upstream grants on ``"*"`` without a condition keep that form, each with
the reason in a comment.
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


# The tag the AWS Load Balancer Controller puts on every AWS resource it creates, with the cluster's
# name (its ``clusterName`` value) as the value (upstream pkg/deploy/tracking/provider.go).
LBC_CLUSTER_TAG = "elbv2.k8s.aws/cluster"

# checkov flags the controller's policy for writes on "*" (CKV_AWS_111) and for "*" where an ARN could
# go (CKV_AWS_356); both are upstream's own grants, which the controller needs. For the role's
# ``waive(role.permissions, LOAD_BALANCER_CONTROLLER_WAIVED_CHECKS, LOAD_BALANCER_CONTROLLER_WAIVER)``.
LOAD_BALANCER_CONTROLLER_WAIVED_CHECKS = ("CKV_AWS_111", "CKV_AWS_356")
LOAD_BALANCER_CONTROLLER_WAIVER = (
    "the AWS Load Balancer Controller's upstream IAM policy for the pinned release (vendored, and held "
    "to by tests/synth/test_lbc_permissions.py): Describe/Get calls have no resource-level permissions; "
    "the writes upstream ties to the elbv2.k8s.aws/cluster tag are tied to this cluster's value of it; "
    'the writes left on "*" are those upstream grants unconditioned: ingress rules on node security '
    "groups the controller did not create, CreateSecurityGroup (authorized on the VPC too), creating and "
    "changing listeners and rules (untagged, or not yet existing), WAF and Shield association"
)

_SECURITY_GROUPS = ("arn:aws:ec2:*:*:security-group/*",)
_TARGET_GROUPS_AND_LOAD_BALANCERS = (
    "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
    "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
    "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*",
)
_LISTENERS_AND_RULES = (
    "arn:aws:elasticloadbalancing:*:*:listener/net/*/*/*",
    "arn:aws:elasticloadbalancing:*:*:listener/app/*/*/*",
    "arn:aws:elasticloadbalancing:*:*:listener-rule/net/*/*/*",
    "arn:aws:elasticloadbalancing:*:*:listener-rule/app/*/*/*",
)


def load_balancer_controller_statements(cluster: str) -> tuple[Statement, ...]:
    """The AWS Load Balancer Controller's rights: upstream's policy for the pinned release (v3.5.0,
    ``docs/install/iam_policy.json``), statement for statement (its certificate/WAF/Shield statement
    split into reads and writes, one redundant repeat of the security-group ingress actions left
    out), with its ownership conditions narrowed from "carries an ``elbv2.k8s.aws/cluster`` tag" to
    "carries this cluster's".

    That narrowing costs nothing: the controller tags every AWS resource it creates with
    ``elbv2.k8s.aws/cluster: <clusterName>`` (load balancers, target groups and security groups in the
    create call itself), and ``clusterName`` is ``cluster``; a resource tagged with another value
    belongs to another cluster's controller, which this one never touches. upstream's
    ``Null: aws:RequestTag/... = "true"`` checks (a tag update that does not touch the ownership tag)
    are kept as they are: they forbid re-labelling a resource, and a StringEquals cannot say that.
    """
    # The create call carries the ownership tag with this cluster's value (tag-on-create).
    tags_new_as_ours = Condition(test="StringEquals", variable=f"aws:RequestTag/{LBC_CLUSTER_TAG}", values=(cluster,))
    # The resource already carries the ownership tag with this cluster's value.
    ours = Condition(test="StringEquals", variable=f"aws:ResourceTag/{LBC_CLUSTER_TAG}", values=(cluster,))
    # The request does not set or remove the ownership tag (upstream's condition, unchanged).
    keeps_owner = Condition(test="Null", variable=f"aws:RequestTag/{LBC_CLUSTER_TAG}", values=("true",))
    return (
        Statement(
            sid="CreateElbServiceLinkedRole",
            actions=("iam:CreateServiceLinkedRole",),
            resources=("*",),
            conditions=(
                Condition(
                    test="StringEquals", variable="iam:AWSServiceName", values=("elasticloadbalancing.amazonaws.com",)
                ),
            ),
        ),
        Statement(
            sid="ReadNetworkAndLoadBalancers",
            # Describe/Get calls: no resource-level permissions, "*" is the only form.
            actions=(
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeVpcs",
                "ec2:DescribeVpcPeeringConnections",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeTags",
                "ec2:GetCoipPoolUsage",
                "ec2:DescribeCoipPools",
                "ec2:GetSecurityGroupsForVpc",
                "ec2:DescribeIpamPools",
                "ec2:DescribeRouteTables",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeSSLPolicies",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTrustStores",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeCapacityReservation",
            ),
            resources=("*",),
        ),
        Statement(
            sid="ReadCertificatesWafAndShield",
            actions=(
                "cognito-idp:DescribeUserPoolClient",
                "acm:ListCertificates",
                "acm:DescribeCertificate",
                "iam:ListServerCertificates",
                "iam:GetServerCertificate",
                "waf-regional:GetWebACL",
                "waf-regional:GetWebACLForResource",
                "wafv2:GetWebACL",
                "wafv2:GetWebACLForResource",
                "shield:GetSubscriptionState",
                "shield:DescribeProtection",
            ),
            resources=("*",),
        ),
        Statement(
            sid="AttachWafAndShieldProtection",
            # Unconditioned, as upstream: the web ACL is Terraform's (edge.py), not tagged by the
            # controller, and a Shield protection is a new resource with no tags to check.
            actions=(
                "waf-regional:AssociateWebACL",
                "waf-regional:DisassociateWebACL",
                "wafv2:AssociateWebACL",
                "wafv2:DisassociateWebACL",
                "shield:CreateProtection",
                "shield:DeleteProtection",
            ),
            resources=("*",),
        ),
        Statement(
            sid="OpenTargetSecurityGroups",
            # Unconditioned, as upstream: the controller opens the security groups of the nodes and
            # pods it sends traffic to (made by EKS and the node groups, not tagged by it).
            actions=("ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"),
            resources=("*",),
        ),
        Statement(
            sid="CreateSecurityGroups",
            # Unconditioned, as upstream: CreateSecurityGroup is authorized on the VPC as well as on the
            # new group, and a request-tag condition on "*" would have to hold for the VPC too. The
            # tags the call carries are authorized as ec2:CreateTags below, which demands this cluster's.
            actions=("ec2:CreateSecurityGroup",),
            resources=("*",),
        ),
        Statement(
            sid="TagSecurityGroupsOnCreate",
            actions=("ec2:CreateTags",),
            resources=_SECURITY_GROUPS,
            conditions=(
                Condition(test="StringEquals", variable="ec2:CreateAction", values=("CreateSecurityGroup",)),
                tags_new_as_ours,
            ),
        ),
        Statement(
            sid="RetagOwnSecurityGroups",
            actions=("ec2:CreateTags", "ec2:DeleteTags"),
            resources=_SECURITY_GROUPS,
            conditions=(keeps_owner, ours),
        ),
        Statement(
            sid="DeleteOwnSecurityGroups",
            # upstream also lists Authorize/RevokeSecurityGroupIngress here; OpenTargetSecurityGroups
            # already grants them on every security group.
            actions=("ec2:DeleteSecurityGroup",),
            resources=("*",),
            conditions=(ours,),
        ),
        Statement(
            sid="CreateLoadBalancersAndTargetGroups",
            actions=("elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"),
            resources=("*",),
            conditions=(tags_new_as_ours,),
        ),
        Statement(
            sid="CreateAndDeleteListenersAndRules",
            # Unconditioned, as upstream: listeners and rules made before the controller tagged them
            # carry no ownership tag, and a ResourceTag condition cannot hold for one being created.
            actions=(
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:DeleteRule",
            ),
            resources=("*",),
        ),
        Statement(
            sid="RetagOwnLoadBalancersAndTargetGroups",
            actions=("elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"),
            resources=_TARGET_GROUPS_AND_LOAD_BALANCERS,
            conditions=(keeps_owner, ours),
        ),
        Statement(
            sid="TagListenersAndRules",
            # Unconditioned, as upstream (listener and rule ARNs only); see CreateAndDeleteListenersAndRules.
            actions=("elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"),
            resources=_LISTENERS_AND_RULES,
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
                "elasticloadbalancing:ModifyListenerAttributes",
                "elasticloadbalancing:ModifyCapacityReservation",
                "elasticloadbalancing:ModifyIpPools",
            ),
            resources=("*",),
            conditions=(ours,),
        ),
        Statement(
            sid="TagLoadBalancersAndTargetGroupsOnCreate",
            actions=("elasticloadbalancing:AddTags",),
            resources=_TARGET_GROUPS_AND_LOAD_BALANCERS,
            conditions=(
                Condition(
                    test="StringEquals",
                    variable="elasticloadbalancing:CreateAction",
                    values=("CreateTargetGroup", "CreateLoadBalancer"),
                ),
                tags_new_as_ours,
            ),
        ),
        Statement(
            sid="RegisterTargets",
            # Target group ARNs, unconditioned, as upstream: a TargetGroupBinding may name a target
            # group made outside the controller, which carries no ownership tag.
            actions=("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"),
            resources=("arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",),
        ),
        Statement(
            sid="ManageListenersAndRules",
            # Unconditioned, as upstream; see CreateAndDeleteListenersAndRules.
            actions=(
                "elasticloadbalancing:SetWebAcl",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:SetRulePriorities",
            ),
            resources=("*",),
        ),
    )
