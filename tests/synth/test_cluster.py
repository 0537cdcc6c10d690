"""The <env>-cluster stacks (story 0.3): EKS, access, IRSA, add-ons, node groups."""

from __future__ import annotations

from typing import Any

import pytest

from qualisys_infra.core.settings import EnvironmentConfig
from tests.conftest import ENVIRONMENT_NAMES, Synthesized
from tests.synth.helpers import one, points_to, ref, statements


@pytest.fixture(params=ENVIRONMENT_NAMES)
def env(request: pytest.FixtureRequest, synthesized: Synthesized) -> EnvironmentConfig:
    return next(e for e in synthesized.settings.environments if e.environment == request.param)


def _stack(env: EnvironmentConfig) -> str:
    return f"{env.environment}-cluster"


def _cluster(s: Synthesized, env: EnvironmentConfig) -> tuple[str, dict[str, Any]]:
    ((name, cluster),) = s.resources(_stack(env), "aws_eks_cluster").items()
    return name, cluster


def _document(s: Synthesized, stack: str, value: str) -> dict[str, Any]:
    return s.data(stack, "aws_iam_policy_document")[ref(value)[1]]


def test_cluster_runs_the_configured_version_in_private_subnets(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    _, cluster = _cluster(synthesized, env)
    assert cluster["name"] == f"qualisys-{env.environment}"
    assert cluster["version"] == env.eks_kubernetes_version
    vpc = cluster["vpc_config"]
    assert vpc["endpoint_private_access"] is True
    assert vpc["endpoint_public_access"] is (bool(env.eks_public_access_cidrs))
    assert "public_access_cidrs" not in vpc or vpc["public_access_cidrs"] == list(env.eks_public_access_cidrs)
    assert len(vpc["subnet_ids"]) == env.az_count
    assert all("private-subnet" in s and f"{env.environment}-network" in s for s in vpc["subnet_ids"])


def test_secrets_are_envelope_encrypted_with_a_rotating_customer_key(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _stack(env)
    _, cluster = _cluster(synthesized, env)
    assert cluster["encryption_config"]["resources"] == ["secrets"]
    key = ref(cluster["encryption_config"]["provider"]["key_arn"])
    assert key[0] == "aws_kms_key"
    assert synthesized.resources(stack, "aws_kms_key")[key[1]]["enable_key_rotation"] is True
    # The control-plane role may use that key and nothing else through its inline policy.
    role_policy = one(
        {n: p for n, p in synthesized.resources(stack, "aws_iam_role_policy").items() if "cluster-role" in n}
    )
    (statement,) = _document(synthesized, stack, role_policy["policy"])["statement"]
    assert statement["resources"] == [f"${{aws_kms_key.{key[1]}.arn}}"]
    assert all(a.startswith("kms:") and "*" not in a for a in statement["actions"])


def test_every_control_plane_log_type_goes_to_an_encrypted_group(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _stack(env)
    _name, cluster = _cluster(synthesized, env)
    assert cluster["enabled_cluster_log_types"] == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    ((group_name, group),) = synthesized.resources(stack, "aws_cloudwatch_log_group").items()
    assert group["name"] == f"/aws/eks/qualisys-{env.environment}/cluster"
    assert group["retention_in_days"] == env.log_retention_days
    assert ref(group["kms_key_id"])[0] == "aws_kms_key"
    assert f"aws_cloudwatch_log_group.{group_name}" in cluster["depends_on"], "group exists before EKS creates it"


def test_authentication_is_by_access_entries_only(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    _, cluster = _cluster(synthesized, env)
    assert cluster["access_config"] == {
        "authentication_mode": "API",
        "bootstrap_cluster_creator_admin_permissions": False,
    }
    entries = list(synthesized.resources(stack, "aws_eks_access_entry").values())
    policies = {
        p["principal_arn"].rsplit("/", 1)[1]: p
        for p in synthesized.resources(stack, "aws_eks_access_policy_association").values()
    }
    admin = policies["qualisys-platform-admin"]
    assert admin["policy_arn"].endswith(":eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
    assert admin["access_scope"] == {"type": "cluster"}
    release = f"qualisys-github-release-{env.environment}"
    if env.environment in ("staging", "production"):
        # The release role: no access policy, only the group of the ci-deployer Role (test_identities).
        assert release not in policies
        (release_entry,) = [e for e in entries if e["principal_arn"].endswith(f"/{release}")]
        assert release_entry["kubernetes_groups"] == ["ci-deployers"]
    assert not [e for e in entries if e["principal_arn"].endswith("/qualisys-github-deploy-staging")], (
        "the image-pushing role reaches no cluster"
    )
    # plus the pipeline's plan role everywhere and its apply role in staging and production
    # (test_account.test_pipeline_roles_reach_the_cluster_they_plan_and_apply)
    assert len(entries) == {"dev": 2, "staging": 4, "production": 4}[env.environment]


def test_oidc_provider_and_irsa_roles_are_bound_to_one_service_account(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _stack(env)
    cluster_name, _ = _cluster(synthesized, env)
    provider_name, provider = one(list(synthesized.resources(stack, "aws_iam_openid_connect_provider").items()))
    assert provider["url"] == f"${{aws_eks_cluster.{cluster_name}.identity[0].oidc[0].issuer}}"
    assert provider["client_id_list"] == ["sts.amazonaws.com"]
    irsa = {}
    for name, role in synthesized.resources(stack, "aws_iam_role").items():
        trust = statements(_document(synthesized, stack, role["assume_role_policy"]))
        if "TrustedServiceAccount" in trust:
            irsa[name] = trust["TrustedServiceAccount"]
    assert len(irsa) == 2
    for statement in irsa.values():
        assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
        assert statement["principals"] == [
            {"type": "Federated", "identifiers": [f"${{aws_iam_openid_connect_provider.{provider_name}.arn}}"]}
        ]
        conditions = {c["variable"].rsplit(":", 1)[1]: c for c in statement["condition"]}
        assert conditions["aud"]["values"] == ["sts.amazonaws.com"]
        assert conditions["sub"]["test"] == "StringEquals"
        (subject,) = conditions["sub"]["values"]
        assert subject in (
            "system:serviceaccount:kube-system:aws-node",
            "system:serviceaccount:kube-system:ebs-csi-controller-sa",
        )


def test_managed_addons_and_their_roles(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    addons = {a["addon_name"]: a for a in synthesized.resources(stack, "aws_eks_addon").values()}
    assert sorted(addons) == ["aws-ebs-csi-driver", "coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"]
    assert ref(addons["vpc-cni"]["service_account_role_arn"])[0] == "aws_iam_role"
    assert ref(addons["aws-ebs-csi-driver"]["service_account_role_arn"])[0] == "aws_iam_role"
    for name in ("coredns", "kube-proxy", "eks-pod-identity-agent"):
        assert "service_account_role_arn" not in addons[name], name
    attachments = [
        a["policy_arn"].rsplit("/", 1)[1]
        for a in synthesized.resources(stack, "aws_iam_role_policy_attachment").values()
    ]
    assert "AmazonEKS_CNI_Policy" in attachments
    node_roles = [
        a for a in synthesized.resources(stack, "aws_iam_role_policy_attachment").values() if "node-role" in a["role"]
    ]
    assert sorted(a["policy_arn"].rsplit("/", 1)[1] for a in node_roles) == [
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonEKSWorkerNodePolicy",
    ], "the CNI policy belongs to vpc-cni's IRSA role, not to every node"


def test_node_groups_follow_the_environment_file(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    groups = {g["node_group_name"]: g for g in synthesized.resources(stack, "aws_eks_node_group").values()}
    assert sorted(groups) == ["general", "playwright"]
    for name, cfg in (("general", env.node_groups.general), ("playwright", env.node_groups.playwright)):
        group = groups[name]
        assert group["instance_types"] == list(cfg.instance_types)
        assert group["scaling_config"] == {
            "min_size": cfg.min_size,
            "desired_size": cfg.desired_size,
            "max_size": cfg.max_size,
        }
        assert group["labels"] == {"qualisys.io/node-pool": name}
        assert group["tags"]["k8s.io/cluster-autoscaler/enabled"] == "true"
        assert group["tags"][f"k8s.io/cluster-autoscaler/qualisys-{env.environment}"] == "owned"
        assert group["lifecycle"]["ignore_changes"] == ["scaling_config[0].desired_size"]
        assert len(group["subnet_ids"]) == env.az_count
        assert "disk_size" not in group, "the launch template sizes the disk"
    assert groups["playwright"]["taint"] == [{"key": "dedicated", "value": "playwright", "effect": "NO_SCHEDULE"}]
    assert "taint" not in groups["general"]
    assert groups["general"]["scaling_config"]["max_size"] <= 10
    assert groups["playwright"]["scaling_config"]["max_size"] <= 20


def test_every_launch_template_requires_imdsv2_and_encrypts_the_root_volume(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    stack = _stack(env)
    templates = synthesized.resources(stack, "aws_launch_template")
    assert len(templates) == 2
    for name, template in templates.items():
        assert template["metadata_options"] == {
            "http_endpoint": "enabled",
            "http_tokens": "required",
            "http_put_response_hop_limit": 1,
            "instance_metadata_tags": "disabled",
        }, name
        (device,) = template["block_device_mappings"]
        assert device["ebs"]["encrypted"] == "true"
        assert device["ebs"]["volume_type"] == "gp3"
        assert ref(device["ebs"]["kms_key_id"])[0] == "aws_kms_key"
        assert len(template["vpc_security_group_ids"]) == 1
    for group in synthesized.resources(stack, "aws_eks_node_group").values():
        assert any(points_to(group["launch_template"]["id"], "aws_launch_template", n) for n in templates)


def test_volume_key_lets_auto_scaling_launch_encrypted_nodes(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    keys = {k["description"]: k for k in synthesized.resources(stack, "aws_kms_key").values()}
    volumes = keys[f"qualisys-{env.environment}: EBS volumes of EKS nodes and persistent volumes"]
    by_sid = statements(_document(synthesized, stack, volumes["policy"]))
    grant = by_sid["AutoScalingAttachesPersistentResources"]
    assert grant["actions"] == ["kms:CreateGrant"]
    assert grant["condition"] == [{"test": "Bool", "variable": "kms:GrantIsForAWSResource", "values": ["true"]}]
    assert by_sid["AutoScalingUsesKeyForNodeVolumes"]["principals"][0]["identifiers"][0].endswith(
        ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )


def test_volume_key_policy_lets_the_ebs_csi_role_create_encrypted_volumes(
    synthesized: Synthesized, env: EnvironmentConfig
) -> None:
    """The default StorageClass's volumes are created by the EBS CSI driver with this key: its key
    policy names the driver's IRSA role (the one trusted by kube-system/ebs-csi-controller-sa) and
    nothing else new."""
    stack = _stack(env)
    keys = {k["description"]: k for k in synthesized.resources(stack, "aws_kms_key").values()}
    volumes = keys[f"qualisys-{env.environment}: EBS volumes of EKS nodes and persistent volumes"]
    by_sid = statements(_document(synthesized, stack, volumes["policy"]))
    roles = synthesized.resources(stack, "aws_iam_role")
    (ebs_role,) = [name for name, role in roles.items() if role["name"] == f"qualisys-{env.environment}-ebs-csi"]
    use, grant = by_sid["EbsCsiDriverUsesKeyForVolumes"], by_sid["EbsCsiDriverGrantsKeyToEbs"]
    for statement in (use, grant):
        (principal,) = statement["principals"]
        assert principal["type"] == "AWS" and len(principal["identifiers"]) == 1
        assert ref(principal["identifiers"][0]) == ("aws_iam_role", ebs_role, "arn")
    assert set(use["actions"]) == {
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
    }
    assert set(grant["actions"]) == {"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"}
    assert grant["condition"] == [{"test": "Bool", "variable": "kms:GrantIsForAWSResource", "values": ["true"]}]
    assert set(by_sid) == {
        "AccountAdministersKeyThroughIam",
        "AutoScalingUsesKeyForNodeVolumes",
        "AutoScalingAttachesPersistentResources",
        "EbsCsiDriverUsesKeyForVolumes",
        "EbsCsiDriverGrantsKeyToEbs",
    }


def test_security_groups_between_control_plane_and_nodes(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    stack = _stack(env)
    groups = {g["name"]: n for n, g in synthesized.resources(stack, "aws_security_group").items()}
    plane, nodes = groups[f"qualisys-{env.environment}-control-plane"], groups[f"qualisys-{env.environment}-nodes"]
    ingress = list(synthesized.resources(stack, "aws_vpc_security_group_ingress_rule").values())
    to_plane = [r for r in ingress if points_to(r["security_group_id"], "aws_security_group", plane)]
    assert [(r["from_port"], r["to_port"]) for r in to_plane] == [(443, 443)]
    assert points_to(to_plane[0]["referenced_security_group_id"], "aws_security_group", nodes)
    for rule in ingress:
        assert "cidr_ipv4" not in rule and "cidr_ipv6" not in rule, "cluster ingress only from security groups"
        assert rule.get("description")


def test_deletion_protection_outside_dev(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    _, cluster = _cluster(synthesized, env)
    assert cluster["deletion_protection"] is (env.environment != "dev")


@pytest.mark.parametrize(
    "cidrs",
    [("0.0.0.0/0",), ("0.0.0.0/1", "128.0.0.0/1"), tuple(f"{i * 4}.0.0.0/6" for i in range(64)), ("::/0",)],
    ids=["internet", "two-halves", "sixty-four-sixths", "ipv6"],
)
def test_fails_if_the_public_endpoint_waiver_would_cover_the_internet(cidrs: tuple[str, ...]) -> None:
    """The construct itself refuses, whatever called it: the CKV_AWS_39 waiver assumes a narrow list."""
    from modules.eks import check_public_access

    with pytest.raises(ValueError, match=r"dev-cluster/eks: public API access from .* is open to the internet"):
        check_public_access("dev-cluster/eks", cidrs)
    check_public_access("dev-cluster/eks", ("198.51.100.0/24", "1.2.3.4/32"))
