"""Cost in the plan review: the short table under the summary, the JSON's cost, and the comment budget."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from benchmarks.plans import big_plan
from qualisys_infra.core.github_text import COMMENT_LIMIT
from qualisys_infra.plan.cost_review import CostContext, add_costs
from qualisys_infra.plan.model import parse_plan
from qualisys_infra.plan.prices import load_prices, load_usage
from qualisys_infra.plan.review import StackReview
from qualisys_infra.plan.review_markdown import render_markdown
from qualisys_infra.plan.review_text import render_json, render_text
from tests.plan import cost_plans


def _context(**extra: Any) -> CostContext:
    return CostContext(
        prices=load_prices(),
        usage=load_usage(),
        today=date(2026, 12, 6),
        regions={"dev": "us-east-1", "staging": "us-east-1", "production": "us-east-1", "account": "us-east-1"},
        environments=("dev", "staging", "production"),
        **extra,
    )


def _reviews(*named: tuple[str, dict[str, Any]], **extra: Any) -> list[StackReview]:
    reviews = [StackReview(name, parse_plan(json.loads(json.dumps(doc)), f"{name}.json")) for name, doc in named]
    return add_costs(reviews, _context(**extra))


def test_the_cost_table_sits_under_the_summary_and_is_short() -> None:
    reviews = _reviews(
        *((f"{env}-network", cost_plans.nat_gateway_created()) for env in ("dev", "staging", "production")),
        *((f"{env}-data", cost_plans.db_made_multi_az()) for env in ("dev", "staging", "production")),
        budgets=(500, 1000, 2000),
    )
    (body,) = render_markdown(reviews)
    summary_at = body.index("**Plan:")
    cost_at = body.index("**Monthly cost (USD, on-demand):** $176.13 → $483.06 (+$306.93 📈)")
    first_stack = body.index("### `dev-network`")
    assert summary_at < cost_at < first_stack
    block = body[cost_at:first_stack]
    assert len(block) < 2_000
    assert "| `production-network` | $0.00 | $50.00 | +$50.00 |" in block  # 300 GB of NAT traffic in production
    assert "| **total** | **$176.13** | **$483.06** | **+$306.93** |" in block
    assert "Largest changes: `dev-data` `aws_db_instance.postgres_instance` +$58.31" in block
    assert "account budgets \\(environments\\/account\\.tfvars budget\\_limits\\_usd\\)" in block  # every environment
    assert "hours\\_per\\_month \\= 730 \\(default\\)" in block  # which assumptions


def test_budgets_are_shown_only_beside_every_environment() -> None:
    reviews = _reviews(("dev-network", cost_plans.nat_gateway_created()), budgets=(500,))
    assert "account budgets" not in render_markdown(reviews).single


def test_json_cost_counts_unknown_as_null_not_zero() -> None:
    unknown = cost_plans.plan(
        cost_plans.change(
            "aws_db_instance.postgres_instance",
            ["update"],
            cost_plans.db_instance(False),
            cost_plans.db_instance(False, instance_class=None),
            after_unknown={"instance_class": True},
        )
    )
    reviews = _reviews(("dev-data", unknown), ("dev-network", cost_plans.nat_gateway_created()))
    cost = json.loads(render_json(reviews))["cost"]
    assert {"address": "aws_db_instance.postgres_instance", "monthly_delta": None, "stack": "dev-data"} in cost[
        "resources"
    ]
    assert cost["unknown"] == ["aws_db_instance.postgres_instance"] and cost["complete"] is False
    assert set(cost) >= {"monthly_before", "monthly_after", "monthly_delta", "currency", "resources"}
    text = render_text(reviews)
    assert "known only after apply (not counted): aws_db_instance.postgres_instance" in text
    markdown = render_markdown(reviews).single
    assert "Known only after apply (not counted): `aws_db_instance.postgres_instance`" in markdown
    assert "| **total** | **$58.71** | **$47.15+** | **-$11.56+** |" in markdown  # a total with an unknown part


def test_a_review_without_cost_renders_as_before() -> None:
    plan = parse_plan(cost_plans.nat_gateway_created(), "dev-network.json")
    plain = [StackReview("dev-network", plan)]
    assert "Monthly cost" not in render_markdown(plain).single
    assert "cost" not in json.loads(render_json(plain))
    assert "Monthly cost" not in render_text(plain)


def test_a_10000_resource_review_keeps_the_cost_within_the_comment_limit() -> None:
    plan = parse_plan(big_plan(10_000), "dev-apps.json")
    reviews = add_costs([StackReview("dev-apps", plan)], _context())
    comments = render_markdown(reviews)
    assert all(len(c) <= COMMENT_LIMIT for c in comments)
    first = comments[0]
    assert "**Monthly cost (USD, on-demand):**" in first
    assert "Not priced: `aws_thing.item_0`" in first and "more" in first  # named, the rest counted
    cost = json.loads(render_json(reviews))["cost"]
    assert len(cost["unpriced"]) == sum(1 for c in plan.changes if c.mode == "managed")
