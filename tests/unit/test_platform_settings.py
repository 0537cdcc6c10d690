"""The platform's settings of issue 23: concurrent_runners (NFR-S2) must fit the quota and the node
group, grafana_domain is a host of its own, alert_emails lists addresses; each failure one line with
the file, the line and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qualisys_infra.config import load_environment, load_settings
from qualisys_infra.core.errors import ConfigError
from tests.conftest import ENV_DIR, ENVIRONMENT_NAMES, ROOT
from tests.testpool.helpers import key_line, line_of

STAGING_POOL = {
    "runners": 50,
    "concurrent_runners": 100,
    "cpu_request": "500m",
    "cpu_limit": "1",
    "memory_request": "1Gi",
    "memory_limit": "2Gi",
}


def _staging(tmp_path: Path, old: str, new: str) -> Path:
    text = (ENV_DIR / "staging.tfvars").read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "staging.tfvars"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_environment(path, f"environments/{path.name}")
    return info.value.lines()


def _concurrent_line(path: Path) -> int:
    return key_line(path, "concurrent_runners", "test_pool = {")


def test_shipped_environments_admit_nfr_s2_outside_dev() -> None:
    settings = load_settings(ENV_DIR, ENVIRONMENT_NAMES, root=ROOT)
    admitted = {env.environment: env.test_pool.admitted_runners for env in settings.environments}
    assert admitted == {"dev": 16, "staging": 100, "production": 100}


def test_fails_if_concurrent_runners_exceed_the_quota(tmp_path: Path) -> None:
    path = _staging(tmp_path, "    pods            = 120\n", "    pods            = 90\n")
    assert _errors(path) == [
        f"environments/staging.tfvars:{_concurrent_line(path)}: test_pool.concurrent_runners: got 100, which needs "
        '100 pods but the playwright-pool quota allows 90 (10 short): raise namespaces["playwright-pool"].pods '
        f"(line {line_of(path, 'pods            = 90')}) to 100 or lower test_pool.concurrent_runners to 90"
    ]


def test_fails_if_concurrent_runners_exceed_the_node_group(tmp_path: Path) -> None:
    path = _staging(tmp_path, "    max_size       = 17 #", "    max_size       = 16 #")
    (line,) = _errors(path)
    assert line == (
        f"environments/staging.tfvars:{_concurrent_line(path)}: test_pool.concurrent_runners: got 100, but the "
        "playwright node group holds 96 at most (4 short): max_size 16 x 6 runners per c5.xlarge, limited by memory "
        "(6328Mi memory left per node after kube-reserved and DaemonSets, 1Gi per runner): raise "
        f"node_groups.playwright.max_size (line {line_of(path, 'max_size       = 16')}) to 17, or lower "
        "test_pool.concurrent_runners to 96"
    )


def test_fails_if_concurrent_runners_are_fewer_than_one_run(tmp_path: Path) -> None:
    path = _staging(tmp_path, "  concurrent_runners = 100\n", "  concurrent_runners = 40\n")
    assert _errors(path) == [
        f"environments/staging.tfvars:{_concurrent_line(path)}: test_pool.concurrent_runners: got 40, expected 0 "
        "(the same as runners) or 50 (runners) to 500"
    ]


def test_concurrent_runners_are_only_checked_once_one_run_fits(tmp_path: Path) -> None:
    path = _staging(tmp_path, "    pods            = 120\n", "    pods            = 40\n")
    (line,) = _errors(path)  # 100 concurrent runners do not fit either: said once the 50 of one run fit
    assert "test_pool.runners: got 50, which needs 50 pods but the playwright-pool quota allows 40" in line


def test_fails_if_grafana_shares_the_services_host(tmp_path: Path) -> None:
    path = _staging(
        tmp_path,
        'grafana_domain            = "grafana.staging.qualisys.dev"',
        'grafana_domain = "staging.qualisys.dev"',
    )
    assert _errors(path) == [
        f"environments/staging.tfvars:{line_of(path, 'grafana_domain =')}: grafana_domain: got "
        '"staging.qualisys.dev", the same host as ingress_domain: expected a host of its own'
    ]


def test_fails_if_grafana_domain_is_not_a_dns_name(tmp_path: Path) -> None:
    path = _staging(
        tmp_path, 'grafana_domain            = "grafana.staging.qualisys.dev"', 'grafana_domain = "https://grafana"'
    )
    (line,) = _errors(path)
    assert re.fullmatch(
        r'environments/staging\.tfvars:\d+: grafana_domain: got "https://grafana", expected a DNS name.*', line
    )


def test_fails_if_alerts_reach_nobody(tmp_path: Path) -> None:
    path = _staging(tmp_path, 'alert_emails              = ["platform-alerts@qualisys.example"]', "alert_emails = []")
    assert _errors(path) == [
        f"environments/staging.tfvars:{line_of(path, 'alert_emails = []')}: alert_emails: got [], expected at least "
        "one e-mail address (else alerts reach nobody)"
    ]


def test_fails_if_an_alert_address_is_not_one(tmp_path: Path) -> None:
    path = _staging(
        tmp_path, 'alert_emails              = ["platform-alerts@qualisys.example"]', 'alert_emails = ["platform"]'
    )
    (line,) = _errors(path)
    assert line.endswith('alert_emails[0]: got "platform", expected an e-mail address'), line
