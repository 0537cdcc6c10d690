"""Everything pinned per Kubernetes minor reaches the synthesized stacks from the lifecycle table
(qualisys_infra/core/lifecycle.py): the cluster's version, the node AMI type, the EKS add-on
versions, the Pod Security version labels and the cluster-autoscaler's chart and image."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from modules.platform.charts import platform_charts
from qualisys_infra.core.lifecycle import UNPINNED, MinorPins, Support, kubernetes_minor, newest_standard_minor, pins_of
from qualisys_infra.core.settings import EnvironmentConfig
from tests.conftest import ENVIRONMENT_NAMES, Synthesized

# The day the tables were read: every environment runs a minor in EKS standard support on it.
READ_ON = "2026-12-06"


@pytest.fixture(params=ENVIRONMENT_NAMES)
def env(request: pytest.FixtureRequest, synthesized: Synthesized) -> EnvironmentConfig:
    return next(e for e in synthesized.settings.environments if e.environment == request.param)


def _pins(env: EnvironmentConfig) -> MinorPins:
    return pins_of(env.eks_kubernetes_version, platform_charts(env.eks_kubernetes_version))


def test_every_environment_runs_a_minor_in_standard_support_on_the_day_read(env: EnvironmentConfig) -> None:
    row = kubernetes_minor(env.eks_kubernetes_version)
    assert row is not None
    today = date.fromisoformat(READ_ON)
    assert row.support(today) is Support.SUPPORTED
    assert row.minor == newest_standard_minor(today).minor


def test_node_groups_run_the_ami_type_of_the_minor(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    groups = synthesized.resources(f"{env.environment}-cluster", "aws_eks_node_group").values()
    assert {g["ami_type"] for g in groups} == {_pins(env).node_ami_type}


def test_addons_are_at_the_versions_of_the_minor(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    addons = {a["addon_name"]: a for a in synthesized.resources(f"{env.environment}-cluster", "aws_eks_addon").values()}
    versions = _pins(env).eks_addons
    assert sorted(addons) == sorted(versions)
    for name, addon in addons.items():
        if versions[name] == UNPINNED:
            assert "addon_version" not in addon, name
        else:
            assert addon["addon_version"] == versions[name], name


def test_namespaces_pin_the_pod_security_version_of_the_minor(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    namespaces = synthesized.resources(f"{env.environment}-platform", "kubernetes_namespace_v1").values()
    versions = {
        value
        for ns in namespaces
        for key, value in ns["metadata"][0]["labels"].items()
        if key.startswith("pod-security.kubernetes.io/") and key.endswith("-version")
    }
    assert versions == {_pins(env).pod_security_version}


def test_autoscaler_runs_the_chart_and_image_of_the_minor(synthesized: Synthesized, env: EnvironmentConfig) -> None:
    releases = synthesized.resources(f"{env.environment}-platform", "helm_release").values()
    (autoscaler,) = [r for r in releases if r["name"] == "cluster-autoscaler"]
    pin = _pins(env).autoscaler
    assert autoscaler["version"] == pin.chart
    (values,) = autoscaler["values"]
    assert yaml.safe_load(values)["image"]["tag"] == pin.image_tag
