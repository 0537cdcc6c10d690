"""The test pool's capacity check: runners must fit the playwright-pool quota and the playwright node
group, each dimension tested both ways, every failure naming the file, the line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualisys_infra.config import load_environment, load_settings
from qualisys_infra.core import playwright_pool
from qualisys_infra.core.errors import ConfigError
from tests.conftest import ENV_DIR, ENVIRONMENT_NAMES, ROOT
from tests.testpool.helpers import DEV_GROUP, DEV_POOL, DEV_QUOTA, environment_with, key_line, line_of


def _errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_environment(path, f"environments/{path.name}")
    return info.value.lines()


def _loads(path: Path) -> None:
    env = load_environment(path, f"environments/{path.name}")
    assert env.test_pool.runners >= 1


def _runners_line(path: Path) -> int:
    return key_line(path, "runners", "test_pool = {")


def _quota_line(path: Path, key: str) -> int:
    return key_line(path, key, '"playwright-pool" = {')


def _max_size_line(path: Path) -> int:
    return key_line(path, "max_size", "  playwright = {")


# --- the shipped files and the node arithmetic -------------------------------------------------------


def test_shipped_environments_hold_their_pools() -> None:
    settings = load_settings(ENV_DIR, ENVIRONMENT_NAMES, root=ROOT)
    runners = {env.environment: env.test_pool.runners for env in settings.environments}
    # NFR-P2: 50+ parallel runners where tests run for real; dev holds what its quota allows.
    assert runners == {"dev": 16, "staging": 50, "production": 50}


@pytest.mark.parametrize(
    ("instance_type", "cpu", "memory_mib", "pods"),
    [
        # Karpenter's instance-types reference (AL2, ENI-limited pod density) publishes these.
        ("c5.large", 1930, 3114, 29),
        ("c5.xlarge", 3920, 6584, 58),
        ("c5.2xlarge", 7910, 14162, 58),
        ("c5.4xlarge", 15890, 27381, 234),
    ],
)
def test_allocatable_matches_what_eks_nodes_report(instance_type: str, cpu: int, memory_mib: int, pods: int) -> None:
    a = playwright_pool.allocatable(playwright_pool.INSTANCE_TYPES[instance_type])
    assert (a.cpu, a.memory // playwright_pool.MI, a.pods) == (cpu, memory_mib, pods)
    assert a.memory % playwright_pool.MI == 0


def test_runners_per_node_is_the_scarcest_resource() -> None:
    gi = 1024**3
    memory_bound = playwright_pool.runners_per_node("c5.xlarge", 500, gi)
    assert memory_bound is not None
    assert (memory_bound.runners, memory_bound.limited_by) == (6, "memory")  # 6328Mi left / 1Gi
    cpu_bound = playwright_pool.runners_per_node("c5.xlarge", 1000, gi // 2)
    assert cpu_bound is not None
    assert (cpu_bound.runners, cpu_bound.limited_by) == (3, "cpu")  # 3670m left / 1 CPU
    pod_bound = playwright_pool.runners_per_node("t3.medium", 100, 128 * playwright_pool.MI)
    assert pod_bound is not None
    assert (pod_bound.runners, pod_bound.limited_by) == (11, "pods")  # 17 ENI pods less 6 DaemonSets
    assert playwright_pool.runners_per_node("c7g.xlarge", 500, gi) is None


@pytest.mark.parametrize(
    ("text", "millicores"), [("500m", 500), ("1", 1000), ("1.5", 1500), ("25", 25000), ("0.1", 100)]
)
def test_cpu_quantities(text: str, millicores: int) -> None:
    assert playwright_pool.cpu_millicores(text) == millicores
    assert playwright_pool.cpu_millicores(playwright_pool.show_cpu(millicores)) == millicores


@pytest.mark.parametrize("text", ["", "1.", "m", "1 m", "1Gi", "-1"])
def test_cpu_quantities_refuse_what_kubernetes_would(text: str) -> None:
    with pytest.raises(ValueError, match="not a CPU quantity"):
        playwright_pool.cpu_millicores(text)


def test_memory_quantities() -> None:
    assert playwright_pool.memory_bytes("1Gi") == 1024**3
    assert playwright_pool.memory_bytes("512Mi") == 512 * 1024**2
    assert playwright_pool.show_memory(50 * 1024**3) == "50Gi"
    assert playwright_pool.round_up_memory(1024**3 + 1) == "1025Mi"
    with pytest.raises(ValueError, match="not a memory quantity"):
        playwright_pool.memory_bytes("1GB")


# --- the namespace quota, each dimension both ways ----------------------------------------------------


def test_quota_pods_fit_at_exactly_the_runners(tmp_path: Path) -> None:
    _loads(environment_with(tmp_path, quota={**DEV_QUOTA, "pods": 16}))


def test_quota_pods_too_few(tmp_path: Path) -> None:
    path = environment_with(tmp_path, quota={**DEV_QUOTA, "pods": 10})
    assert _errors(path) == [
        f"environments/dev.tfvars:{_runners_line(path)}: test_pool.runners: got 16, which needs 16 pods but the "
        f'playwright-pool quota allows 10 (6 short): raise namespaces["playwright-pool"].pods '
        f"(line {_quota_line(path, 'pods')}) to 16 or lower test_pool.runners to 10"
    ]


def test_quota_cpu_fits_at_exactly_the_runners(tmp_path: Path) -> None:
    _loads(environment_with(tmp_path, quota={**DEV_QUOTA, "cpu_requests": "8000m"}))


def test_quota_cpu_requests_too_small(tmp_path: Path) -> None:
    path = environment_with(tmp_path, quota={**DEV_QUOTA, "cpu_requests": "7"})
    assert _errors(path) == [
        f"environments/dev.tfvars:{_runners_line(path)}: test_pool.runners: got 16, which needs 8 CPU of requests "
        f"(16 x 500m) but the playwright-pool quota allows 7 (1 short): raise "
        f'namespaces["playwright-pool"].cpu_requests (line {_quota_line(path, "cpu_requests")}) to "8" '
        "or lower test_pool.runners to 14"
    ]


def test_quota_cpu_limits_too_small(tmp_path: Path) -> None:
    path = environment_with(tmp_path, quota={**DEV_QUOTA, "cpu_limits": "15500m"})
    (line,) = _errors(path)
    assert line.startswith(f"environments/dev.tfvars:{_runners_line(path)}: test_pool.runners: got 16, ")
    assert "needs 16 CPU of limits (16 x 1) but the playwright-pool quota allows 15500m (500m short)" in line
    assert line.endswith(
        f'raise namespaces["playwright-pool"].cpu_limits (line {_quota_line(path, "cpu_limits")}) to "16" '
        "or lower test_pool.runners to 15"
    )


def test_quota_memory_fits_at_exactly_the_runners(tmp_path: Path) -> None:
    _loads(environment_with(tmp_path, quota={**DEV_QUOTA, "memory_requests": "16384Mi", "memory_limits": "32Gi"}))


def test_quota_memory_requests_too_small(tmp_path: Path) -> None:
    path = environment_with(tmp_path, quota={**DEV_QUOTA, "memory_requests": "12Gi"})
    assert _errors(path) == [
        f"environments/dev.tfvars:{_runners_line(path)}: test_pool.runners: got 16, which needs 16Gi memory of "
        f"requests (16 x 1Gi) but the playwright-pool quota allows 12Gi (4Gi short): raise "
        f'namespaces["playwright-pool"].memory_requests (line {_quota_line(path, "memory_requests")}) to "16Gi" '
        "or lower test_pool.runners to 12"
    ]


def test_quota_memory_limits_too_small(tmp_path: Path) -> None:
    path = environment_with(tmp_path, quota={**DEV_QUOTA, "memory_limits": "31Gi"})
    (line,) = _errors(path)
    assert "needs 32Gi memory of limits (16 x 2Gi) but the playwright-pool quota allows 31Gi (1Gi short)" in line
    assert line.endswith(f'(line {_quota_line(path, "memory_limits")}) to "32Gi" or lower test_pool.runners to 15')


def test_every_short_dimension_is_reported_at_once(tmp_path: Path) -> None:
    path = environment_with(tmp_path, pool={**DEV_POOL, "runners": 17})
    errors = _errors(path)
    assert len(errors) == 4, errors  # pods fit (40) and nodes hold 30; cpu and memory, requests and limits, do not
    assert all(
        e.startswith(f"environments/dev.tfvars:{_runners_line(path)}: test_pool.runners: got 17") for e in errors
    )


def test_pool_needs_its_namespace(tmp_path: Path) -> None:
    text = environment_with(tmp_path, quota=DEV_QUOTA).read_text(encoding="utf-8")
    path = tmp_path / "dev.tfvars"
    path.write_text(text.replace('"playwright-pool" = {', '"playwright" = {'), encoding="utf-8")
    (line,) = _errors(path)
    assert line == (
        f"environments/dev.tfvars:{_runners_line(path)}: test_pool.runners: got 16, but the pool runs in namespace "
        '"playwright-pool", which `namespaces` does not have: add namespaces["playwright-pool"] with a quota for '
        "16 runners"
    )


# --- the node group, each dimension both ways ---------------------------------------------------------


def test_node_group_memory_fits_fifty_runners_on_nine_nodes(tmp_path: Path) -> None:
    # one run's 50 runners only: staging's concurrent_runners (100) would need 17 nodes
    pool = {**DEV_POOL, "runners": 50}
    _loads(environment_with(tmp_path, "staging", pool=pool, group={**DEV_GROUP, "max_size": 9}))


def test_node_group_memory_too_small(tmp_path: Path) -> None:
    path = environment_with(tmp_path, "staging", group={**DEV_GROUP, "max_size": 8})
    assert _errors(path) == [
        f"environments/staging.tfvars:{_runners_line(path)}: test_pool.runners: got 50, but the playwright node "
        "group holds 48 at most (2 short): max_size 8 x 6 runners per c5.xlarge, limited by memory (6328Mi memory "
        "left per node after kube-reserved and DaemonSets, 1Gi per runner): raise node_groups.playwright.max_size "
        f"(line {_max_size_line(path)}) to 9, or lower test_pool.runners to 48"
    ]


CPU_POOL = {**DEV_POOL, "cpu_request": "1", "memory_request": "512Mi", "memory_limit": "1Gi"}
CPU_QUOTA = {**DEV_QUOTA, "cpu_requests": "16"}


def test_node_group_cpu_fits(tmp_path: Path) -> None:
    _loads(environment_with(tmp_path, pool=CPU_POOL, quota=CPU_QUOTA, group={**DEV_GROUP, "max_size": 6}))


def test_node_group_cpu_too_small(tmp_path: Path) -> None:
    path = environment_with(tmp_path, pool=CPU_POOL, quota=CPU_QUOTA)
    assert _errors(path) == [
        f"environments/dev.tfvars:{_runners_line(path)}: test_pool.runners: got 16, but the playwright node group "
        "holds 15 at most (1 short): max_size 5 x 3 runners per c5.xlarge, limited by cpu (3670m CPU left per "
        "node after kube-reserved and DaemonSets, 1 per runner): raise node_groups.playwright.max_size "
        f"(line {_max_size_line(path)}) to 6, or lower test_pool.runners to 15"
    ]


POD_POOL = {**DEV_POOL, "cpu_request": "100m", "memory_request": "128Mi"}
POD_GROUP = {"instance_types": ["t3.medium"], "min_size": 0, "desired_size": 0}


def test_node_group_pods_fit(tmp_path: Path) -> None:
    _loads(environment_with(tmp_path, pool=POD_POOL, group={**POD_GROUP, "max_size": 2}))


def test_node_group_pods_too_few(tmp_path: Path) -> None:
    path = environment_with(tmp_path, pool=POD_POOL, group={**POD_GROUP, "max_size": 1})
    assert _errors(path) == [
        f"environments/dev.tfvars:{_runners_line(path)}: test_pool.runners: got 16, but the playwright node group "
        "holds 11 at most (5 short): max_size 1 x 11 runners per t3.medium, limited by pods (11 pod slots per "
        "node: 17 by its ENIs less 6 DaemonSets): raise node_groups.playwright.max_size "
        f"(line {_max_size_line(path)}) to 2, or lower test_pool.runners to 11"
    ]


def test_node_group_beyond_the_spec_cap_asks_for_larger_nodes(tmp_path: Path) -> None:
    pool = {**DEV_POOL, "runners": 130}
    quota = {
        "cpu_requests": "65",
        "memory_requests": "130Gi",
        "cpu_limits": "130",
        "memory_limits": "260Gi",
        "pods": 130,
    }
    path = environment_with(tmp_path, "production", pool=pool, quota=quota)
    (line,) = _errors(path)
    assert "holds 120 at most (10 short): max_size 20 x 6 runners per c5.xlarge" in line
    assert line.endswith(
        "22 nodes would pass the spec's cap of 20, so pick a larger instance type in "
        "node_groups.playwright.instance_types or lower the requests, or lower test_pool.runners to 120"
    )


def test_mixed_instance_types_count_the_smallest(tmp_path: Path) -> None:
    _loads(environment_with(tmp_path, group={**DEV_GROUP, "instance_types": ["c5.xlarge", "c5.2xlarge"]}))
    path = environment_with(tmp_path, group={**DEV_GROUP, "instance_types": ["c5.2xlarge", "c5.large"], "max_size": 4})
    (line,) = _errors(path)
    # A c5.large leaves 2858Mi: two runners of 1Gi, so four nodes hold 8, not the 13 each c5.2xlarge would.
    assert "holds 8 at most (8 short): max_size 4 x 2 runners per c5.large, limited by memory" in line


def test_known_instance_type_loads(tmp_path: Path) -> None:
    _loads(environment_with(tmp_path, group={**DEV_GROUP, "instance_types": ["c6i.2xlarge"]}))


def test_unknown_instance_type_asks_to_add_it(tmp_path: Path) -> None:
    path = environment_with(tmp_path, group={**DEV_GROUP, "instance_types": ["c7i.xlarge"]})
    (line,) = _errors(path)
    assert line.startswith(
        f"environments/dev.tfvars:{line_of(path, 'c7i.xlarge')}: node_groups.playwright.instance_types[0]: "
        'got "c7i.xlarge", which the test pool\'s capacity table does not know: add its vCPUs, memory and ENI '
        "max pods to INSTANCE_TYPES in qualisys_infra/delivery/testpool.py"
    )
    assert "or use one of c5.2xlarge, c5.4xlarge, c5.large, c5.xlarge," in line


def test_a_runner_larger_than_a_node(tmp_path: Path) -> None:
    path = environment_with(tmp_path, pool={**DEV_POOL, "runners": 1, "memory_request": "7Gi", "memory_limit": "7Gi"})
    (line,) = _errors(path)
    assert line == (
        f'environments/dev.tfvars:{key_line(path, "memory_request", "test_pool = {")}: test_pool.memory_request: got "7Gi", but '
        "one runner does not fit a c5.xlarge node (6328Mi memory left per node after kube-reserved and DaemonSets, "
        "7Gi per runner): lower it or pick a larger instance type in node_groups.playwright.instance_types"
    )


# --- the pool's own values --------------------------------------------------------------------------------


def test_request_above_limit(tmp_path: Path) -> None:
    path = environment_with(tmp_path, pool={**DEV_POOL, "cpu_request": "2"})
    assert _errors(path) == [
        f'environments/dev.tfvars:{key_line(path, "cpu_request", "test_pool = {")}: test_pool.cpu_request: got "2", expected <= '
        'cpu_limit "1" (Kubernetes refuses a request above its limit)'
    ]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("cpu_request", "half", 'got "half", expected a CPU quantity like "500m"'),
        ("memory_limit", "2GB", 'got "2GB", expected a memory quantity like "2Gi"'),
        ("cpu_limit", "0", 'got "0", expected more than 0'),
        ("runners", 0, "got 0, expected a whole number from 1 to 500"),
        ("run_as_user", 0, "got 0, expected a whole number from 1000 to 65535"),
        ("timeout_minutes", 2, "got 2, expected a whole number from 5 to 1440"),
        ("runner_image_repository", "playwright", 'got "playwright", expected an ECR repository like'),
    ],
)
def test_pool_values_out_of_range(tmp_path: Path, key: str, value: object, expected: str) -> None:
    path = environment_with(tmp_path, pool={**DEV_POOL, key: value})
    (line,) = _errors(path)
    assert line.startswith(
        f"environments/dev.tfvars:{key_line(path, key, 'test_pool = {')}: test_pool.{key}: {expected}"
    )


def test_pool_is_required(tmp_path: Path) -> None:
    text = environment_with(tmp_path, pool=DEV_POOL).read_text(encoding="utf-8")
    path = tmp_path / "dev.tfvars"
    path.write_text(text.replace("test_pool = {", "test_pol = {"), encoding="utf-8")
    errors = _errors(path)
    assert any("test_pol: unknown key, did you mean `test_pool`?" in e for e in errors), errors


def test_runner_repository_must_be_an_ecr_repository_of_the_account(tmp_path: Path) -> None:
    env_dir = tmp_path / "environments"
    env_dir.mkdir()
    for name in (*ENVIRONMENT_NAMES, "account"):
        (env_dir / f"{name}.tfvars").write_text((ENV_DIR / f"{name}.tfvars").read_text(encoding="utf-8"))
    staging = environment_with(
        env_dir, "staging", pool={**DEV_POOL, "runners": 50, "runner_image_repository": "qualisys-runner"}
    )
    with pytest.raises(ConfigError) as info:
        load_settings(env_dir, ENVIRONMENT_NAMES, root=tmp_path)
    (line,) = info.value.lines()
    assert line.startswith(
        f"environments/staging.tfvars:{line_of(staging, 'runner_image_repository')}: "
        'test_pool.runner_image_repository: got "qualisys-runner", which is not one of account.tfvars\' '
        "ecr_repositories (qualisys-api, qualisys-web, qualisys-playwright-runner"
    )
    assert line.endswith("): add it there or name one of them")
