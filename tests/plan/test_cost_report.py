"""The estimate of environments from their synthesized configuration (`qualisys-infra cost`)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from qualisys_infra.plan import cost_report
from qualisys_infra.plan.prices import ACCOUNT_SCOPE, load_prices, load_usage
from tests.conftest import ENVIRONMENT_NAMES

TODAY = date(2026, 12, 6)


def _report(stacks: dict[str, Any], settings: Any, *, today: date = TODAY, complete: bool = True) -> Any:
    regions = {env.environment: env.region for env in settings.environments} | {ACCOUNT_SCOPE: settings.account.region}
    return cost_report.build_report(
        stacks,
        regions=regions,
        limits={"dev": 300},
        prices=load_prices(),
        usage=load_usage(),
        today=today,
        budgets=settings.account.budget_limits_usd,
        complete=complete,
    )


@pytest.fixture(scope="module")
def report(synthesized: Any, settings: Any) -> Any:
    return _report(synthesized.stacks, settings)


def test_json_totals_equal_the_sum_of_their_lines(report: Any) -> None:
    document = json.loads(cost_report.render_json(report))
    envs = document["environments"]
    assert [e["name"] for e in envs] == [*ENVIRONMENT_NAMES, "account"]
    for env in envs:
        for stack in env["stacks"]:
            for resource in stack["resources"]:
                lines = [line["monthly"] or 0 for line in resource["lines"]]
                assert round(sum(lines), 2) == resource["monthly"], resource["address"]
            assert round(sum(r["monthly"] for r in stack["resources"]), 2) == stack["monthly"]
        assert round(sum(s["monthly"] for s in env["stacks"]), 2) == env["monthly"]
    assert round(sum(e["monthly"] for e in envs), 2) == document["monthly"]
    assert document["monthly"] > 0 and document["unpriced"] == [] and document["unknown"] == []


def test_every_stack_and_every_billable_type_is_in_the_estimate(report: Any, synthesized: Any) -> None:
    document = json.loads(cost_report.render_json(report))
    stacks = {s["name"]: s for e in document["environments"] for s in e["stacks"]}
    assert set(stacks) == set(synthesized.stacks)
    for name, body in synthesized.stacks.items():
        count = sum(len(v) for v in body["resource"].values())
        assert len(stacks[name]["resources"]) == count, name  # every resource, priced or free with why
    priced = {r["type"] for s in stacks.values() for r in s["resources"] if r["status"] == "priced"}
    assert {
        "aws_eks_cluster",
        "aws_eks_node_group",
        "aws_nat_gateway",
        "aws_eip",
        "aws_db_instance",
        "aws_elasticache_replication_group",
        "aws_wafv2_web_acl",
        "aws_kms_key",
        "aws_secretsmanager_secret",
        "aws_cloudwatch_log_group",
        "aws_cloudtrail",
        "aws_s3_bucket",
        "aws_ecr_repository",
        "aws_dynamodb_table",
        "kubernetes_manifest",
        "helm_release",
    } <= priced
    free = [r for s in stacks.values() for r in s["resources"] if r["status"] == "free"]
    assert free and all(r["reason"] for r in free)


def test_the_estimate_says_what_it_was_made_from(report: Any) -> None:
    document = json.loads(cost_report.render_json(report))
    assert document["prices"]["read_on"] == "2026-12-06" and document["prices"]["stale"] == []
    used = {u["key"] for u in document["usage"]["used"]}
    assert {"hours_per_month", "monthly_data_processed_gb", "ingested_gb_per_day", "lcu_per_hour"} <= used
    assert all(u["means"] for u in document["usage"]["used"])
    for render in (cost_report.render_text, cost_report.render_markdown):
        text = render(report)
        assert "read 2026" in text and "730" in text and "usage assumptions" in text


def test_a_stale_table_is_named_in_every_format(synthesized: Any, settings: Any) -> None:
    later = _report({"dev-network": synthesized.stacks["dev-network"]}, settings, today=date(2027, 7, 1))
    assert "STALE" in cost_report.render_text(later)
    assert "STALE" in cost_report.render_markdown(later)
    assert json.loads(cost_report.render_json(later))["prices"]["stale"]


def test_budgets_stand_beside_the_total_of_every_environment(report: Any, settings: Any) -> None:
    document = json.loads(cost_report.render_json(report))
    assert [b["limit"] for b in document["budgets"]] == list(settings.account.budget_limits_usd)
    assert "account budgets (environments/account.tfvars budget_limits_usd): $500" in cost_report.render_text(report)


def test_budgets_are_not_compared_with_a_part_of_the_account(synthesized: Any, settings: Any) -> None:
    part = _report({"dev-network": synthesized.stacks["dev-network"]}, settings, complete=False)
    assert json.loads(cost_report.render_json(part))["budgets"] == []
    assert "account budgets" not in cost_report.render_text(part)


def test_an_environment_limit_is_shown_with_its_share(report: Any) -> None:
    text = cost_report.render_text(report)
    dev = next(s for s in report.scopes if s.scope == "dev")
    assert f"limit $300 ({dev.monthly / 300:.0%})" in text


def test_resources_not_priced_or_not_known_are_listed_by_name(settings: Any) -> None:
    body = {
        "resource": {
            "aws_mq_broker": {"queue": {"host_instance_type": "mq.m5.large"}},
            "aws_db_instance": {
                "db": {
                    "engine": "postgres",
                    "instance_class": "${var.size}",
                    "multi_az": False,
                    "allocated_storage": 20,
                    "storage_type": "gp3",
                }
            },
        }
    }
    report = _report({"dev-data": body}, settings, complete=False)
    text = cost_report.render_text(report)
    assert "not priced: 1 resource:\n  aws_mq_broker.queue: no price model for aws_mq_broker" in text
    assert (
        "unknown until apply: 1 resource:\n  aws_db_instance.db: Database instance (?, Single-AZ): known after apply"
        in text
    )
    document = json.loads(cost_report.render_json(report))
    assert [u["address"] for u in document["unpriced"]] == ["aws_mq_broker.queue"]
    assert [u["address"] for u in document["unknown"]] == ["aws_db_instance.db"]
    markdown = cost_report.render_markdown(report)
    assert "aws\\_mq\\_broker\\.queue" in markdown


def test_scope_of_a_stack() -> None:
    assert cost_report.scope_of("dev-network") == "dev"
    assert cost_report.scope_of("production-apps") == "production"
    assert cost_report.scope_of("account") == "account"
    assert cost_report.scope_of("bootstrap") == "account"
    assert cost_report.scope_of("github") == "account"
    assert cost_report.scope_of("dev-network", ["staging"]) == "account"
