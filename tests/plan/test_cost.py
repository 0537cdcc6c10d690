"""The cost model: the price table against its sources, the usage assumptions, and plan deltas."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.core.errors import UsageError
from qualisys_infra.plan.cost import estimate_config, plan_costs, totals
from qualisys_infra.plan.cost_model import UNKNOWN, Context, Status, Values, money
from qualisys_infra.plan.cost_pricers import price_resource
from qualisys_infra.plan.model import parse_plan
from qualisys_infra.plan.prices import STALE_AFTER_DAYS, Price, UsageTable, load_prices, load_usage
from tests.plan import cost_plans

TODAY = date(2026, 12, 6)
REGION = "us-east-1"
_DOLLARS = re.compile(r"\$([0-9][0-9,]*(?:\.[0-9]+)?)")


@pytest.fixture(scope="module")
def prices() -> Any:
    return load_prices()


def _context(prices: Any, usage_file: Path | None = None, scope: str = "staging", today: date = TODAY) -> Context:
    return Context(scope, REGION, prices, load_usage(usage_file), today)


def _usage(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "usage.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _quoted(entry: Price) -> float:
    """The price the entry's own quote gives: the first dollar figure in it times its quote_factor."""
    found = _DOLLARS.search(entry.quote)
    assert found, f"{entry.key}: no dollar figure in its quote {entry.quote!r}"
    return float(found.group(1).replace(",", "")) * entry.quote_factor


# --- the price table ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "published"),
    [
        ("vpc.nat_gateway.hour", 0.045),
        ("vpc.nat_gateway.data", 0.045),
        ("vpc.public_ipv4.hour", 0.005),
        ("rds.postgres.db.t3.medium.single_az", 0.072),
        ("rds.postgres.db.t3.medium.multi_az", 0.144),
        ("rds.postgres.db.r5.large.multi_az", 0.50),
        ("rds.postgres.db.r5.large.single_az", 0.25),
        ("rds.gp3.storage.single_az", 0.115),
        ("rds.gp3.storage.multi_az", 0.23),
    ],
)
def test_nat_ip_and_rds_prices_are_the_figures_their_sources_publish(prices: Any, key: str, published: float) -> None:
    entry = prices.get(REGION, key)
    assert entry is not None and entry.checked
    assert entry.price == published  # the figure noted from the public page, written out here
    assert _quoted(entry) == pytest.approx(entry.price, rel=0.005)  # and what the quote in the table says
    assert entry.source.startswith("https://aws.amazon.com/") and entry.seen_in and entry.read_on == TODAY


def test_every_quoted_price_equals_its_quote(prices: Any) -> None:
    quoted = [p for p in prices.entries() if p.quote]
    assert len(quoted) >= 25
    for entry in quoted:
        assert _quoted(entry) == pytest.approx(entry.price, rel=0.005), entry.key


def test_every_price_names_its_aws_source_and_the_day_it_was_read(prices: Any) -> None:
    for entry in prices.entries():
        assert entry.source.startswith("https://aws.amazon.com/"), entry.key
        assert entry.read_on <= TODAY
        assert entry.quote or not entry.checked, f"{entry.key}: checked, but no quote of what was read"


def test_every_size_the_environments_use_has_a_price(prices: Any, settings: Any) -> None:
    for env in settings.environments:
        for group in (env.node_groups.general, env.node_groups.playwright):
            for instance in group.instance_types:
                assert prices.get(env.region, f"ec2.instance.{instance}"), instance
        deployment = "multi_az" if env.rds_multi_az else "single_az"
        assert prices.get(env.region, f"rds.postgres.{env.rds_instance_class}.{deployment}")
        assert prices.get(env.region, f"rds.postgres.{env.rds_instance_class}.single_az")
        assert prices.get(env.region, f"rds.postgres.{env.rds_instance_class}.multi_az")
        assert prices.get(env.region, f"elasticache.redis.{env.redis_node_type}")


def test_a_fresh_table_says_its_age_and_no_staleness(prices: Any) -> None:
    text = prices.description(TODAY)
    assert "read 2026-12-06 (0 days ago)" in text
    assert "STALE" not in text


def test_a_table_older_than_180_days_is_named_stale(prices: Any) -> None:
    later = date.fromordinal(TODAY.toordinal() + STALE_AFTER_DAYS + 1)
    text = prices.description(later)
    assert f"STALE: {len(prices.entries())} of {len(prices.entries())} prices were read more than 180 days ago" in text
    assert "STALE" not in prices.description(date.fromordinal(TODAY.toordinal() + STALE_AFTER_DAYS))


def test_a_prices_file_replaces_entries_key_by_key(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    entry = {
        "price": 0.05,
        "unit": "NAT gateway-hour",
        "source": "https://aws.amazon.com/vpc/pricing/",
        "read_on": "2026-01-01",
    }
    override.write_text(json.dumps({"regions": {REGION: {"vpc.nat_gateway.hour": entry}}}), encoding="utf-8")
    table = load_prices(override)
    assert table.get(REGION, "vpc.nat_gateway.hour").price == 0.05  # type: ignore[union-attr]
    assert table.get(REGION, "vpc.public_ipv4.hour").price == 0.005  # type: ignore[union-attr]
    assert table.files[-1] == str(override)
    assert "STALE: 1 of" in table.description(date(2026, 12, 6))  # read 339 days earlier


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"regions": {REGION: {"x": {"price": -1, "unit": "h", "source": "s", "read_on": "2026-01-01"}}}},
            "regions.us-east-1.x.price: expected a number >= 0, got -1",
        ),
        (
            {"regions": {REGION: {"x": {"price": "0.1", "unit": "h", "source": "s", "read_on": "2026-01-01"}}}},
            'regions.us-east-1.x.price: expected a number >= 0, got "0.1"',
        ),
        (
            {"regions": {REGION: {"x": {"price": 1, "unit": "h", "source": "s", "read_on": "yesterday"}}}},
            'regions.us-east-1.x.read_on: expected a date YYYY-MM-DD, got "yesterday"',
        ),
        (
            {"regions": {REGION: {"x": {"price": 1, "unit": "h", "read_on": "2026-01-01"}}}},
            "regions.us-east-1.x.source: missing",
        ),
        (
            {"regions": {REGION: {"x": {"price": 1, "unit": "h", "source": "s", "read_on": "2026-01-01", "cost": 2}}}},
            "regions.us-east-1.x.cost: unknown key",
        ),
        ({"currency": "EUR"}, 'currency: got "EUR", expected "USD"'),
        ({"region": {}}, "region: unknown key"),
        ([], "(top level): expected an object, got an array"),
    ],
    ids=["negative", "string", "date", "source", "unknown-key", "currency", "top-key", "not-object"],
)
def test_fails_if_a_prices_file_is_malformed(tmp_path: Path, document: Any, message: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(UsageError, match=re.escape(f"{path}: {message}")):
        load_prices(path)


def test_fails_if_a_prices_file_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_prices(path)


# --- the usage assumptions ----------------------------------------------------------------------------------


def test_usage_defaults_are_documented_and_730_hours() -> None:
    usage = load_usage()
    assert usage.hours_per_month == 730
    for section in (usage.base, *usage.environments.values()):
        for values in (*section.defaults.values(), *section.addresses.values()):
            assert set(values) <= set(usage.keys)


def test_usage_layers_default_environment_and_address(tmp_path: Path) -> None:
    path = _usage(
        tmp_path,
        {
            "defaults": {"aws_nat_gateway": {"monthly_data_processed_gb": 10}},
            "addresses": {"aws_nat_gateway.b*": {"monthly_data_processed_gb": 20}},
            "environments": {"dev": {"addresses": {"aws_nat_gateway.b2": {"monthly_data_processed_gb": 30}}}},
        },
    )
    usage = load_usage(path)
    assert _looked_up(usage, "staging", "aws_nat_gateway.a") == (10, "default")
    assert _looked_up(usage, "staging", "aws_nat_gateway.b1") == (20, "aws_nat_gateway.b*")
    assert _looked_up(usage, "dev", "aws_nat_gateway.b2") == (30, "dev: aws_nat_gateway.b2")
    # the built-in production default (300) is over any file's plain default: environments come last
    assert _looked_up(usage, "production", "aws_nat_gateway.a") == (300, "production: default")


def _looked_up(usage: UsageTable, scope: str, address: str) -> tuple[float, str]:
    found = usage.lookup(scope, "aws_nat_gateway", address, "monthly_data_processed_gb")
    assert found is not None
    return found.value, found.origin


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"defaults": {"aws_nat_gateway": {"gb": 1}}}, "defaults.aws_nat_gateway.gb: unknown usage key"),
        ({"defaults": {"aws_nat_gateway": {"monthly_data_processed_gb": -5}}}, "expected a number >= 0, got -5"),
        ({"hours_per_month": 0}, "hours_per_month: expected a number >= 1, got 0"),
        ({"hours_per_month": 800}, "hours_per_month: got 800, expected at most 744"),
        ({"keys": {"x": "y"}}, "keys: the meaning of each key is the toolkit's"),
        ({"environments": {"dev": {"default": {}}}}, "environments.dev.default: unknown key"),
    ],
    ids=["key", "negative", "zero-hours", "too-many-hours", "keys", "env-section"],
)
def test_fails_if_a_usage_file_is_malformed(tmp_path: Path, document: Any, message: str) -> None:
    path = _usage(tmp_path, document)
    with pytest.raises(UsageError, match=re.escape(message)):
        load_usage(path)


# --- plans --------------------------------------------------------------------------------------------------


def _costs(document: dict[str, Any], prices: Any, usage_file: Path | None = None) -> Any:
    plan = parse_plan(json.loads(json.dumps(document)), "plan.json")
    return plan_costs(plan, _context(prices, usage_file))


def test_creating_one_nat_gateway_costs_its_hours_and_its_public_ipv4_address(prices: Any, tmp_path: Path) -> None:
    no_traffic = _usage(tmp_path, {"defaults": {"aws_nat_gateway": {"monthly_data_processed_gb": 0}}})
    costs = _costs(cost_plans.nat_gateway_created(), prices, no_traffic)
    expected = (
        prices.get(REGION, "vpc.nat_gateway.hour").price + prices.get(REGION, "vpc.public_ipv4.hour").price
    ) * 730
    delta = totals(costs).delta
    assert delta == pytest.approx(expected, rel=0.10)
    assert delta == pytest.approx(36.50, abs=0.005)  # Infracost's published comment: +$36.50


def test_a_nat_gateway_prices_its_traffic_from_the_usage_assumptions(prices: Any) -> None:
    costs = {c.address: c for c in _costs(cost_plans.nat_gateway_created(), prices)}
    lines = {line.name: line for line in costs["aws_nat_gateway.network_nat-gateway-1"].after.lines}
    data = lines["Data processed"]
    assert data.quantity == 100 and data.monthly == 4.50
    assert [(u.key, u.value, u.origin) for u in data.usage] == [("monthly_data_processed_gb", 100, "default")]


def test_making_rds_multi_az_costs_the_difference_of_hours_and_doubled_storage(prices: Any) -> None:
    costs = _costs(cost_plans.db_made_multi_az(), prices)
    single = prices.get(REGION, "rds.postgres.db.t3.medium.single_az").price
    multi = prices.get(REGION, "rds.postgres.db.t3.medium.multi_az").price
    storage = 50 * (
        prices.get(REGION, "rds.gp3.storage.multi_az").price - prices.get(REGION, "rds.gp3.storage.single_az").price
    )
    expected = (multi - single) * 730 + storage
    (only,) = costs
    assert only.monthly_delta == pytest.approx(expected, rel=0.10)
    assert only.monthly_delta == pytest.approx(52.56 + 5.75, abs=0.005)
    assert (
        prices.get(REGION, "rds.gp3.storage.multi_az").price
        == 2 * prices.get(REGION, "rds.gp3.storage.single_az").price
    )


def test_a_size_known_only_after_apply_is_unknown_not_zero(prices: Any) -> None:
    after = cost_plans.db_instance(True, instance_class=None)
    document = cost_plans.plan(
        cost_plans.change(
            "aws_db_instance.postgres_instance",
            ["update"],
            cost_plans.db_instance(False),
            after,
            after_unknown={"instance_class": True},
        )
    )
    (only,) = _costs(document, prices)
    assert only.monthly_delta is None
    assert only.unknown == ["Database instance (?, Multi-AZ): known after apply"]
    result = totals([only])
    assert result.unknown == ("aws_db_instance.postgres_instance",)
    assert only.after.monthly == pytest.approx(50 * 0.23 + 0.40)  # what is known still counts, flagged


def test_destroy_costs_nothing_after_and_forget_keeps_costing(prices: Any) -> None:
    eip = dict(cost_plans.EIP, id="eipalloc-1")
    document = cost_plans.plan(
        cost_plans.change("aws_eip.gone", ["delete"], eip, None),
        cost_plans.change("aws_eip.kept_outside", ["forget"], eip, None),
    )
    gone, forgotten = _costs(document, prices)
    assert (gone.monthly_before, gone.monthly_after, gone.monthly_delta) == (3.65, 0.0, -3.65)
    assert (forgotten.monthly_before, forgotten.monthly_after, forgotten.monthly_delta) == (3.65, 3.65, 0.0)


def test_a_type_without_a_price_model_is_named_not_dropped(prices: Any) -> None:
    document = cost_plans.plan(
        cost_plans.change("aws_mq_broker.queue", ["create"], None, {"host_instance_type": "mq.m5.large"})
    )
    (only,) = _costs(document, prices)
    assert only.unpriced == ["no price model for aws_mq_broker"]
    assert totals([only]).unpriced == ("aws_mq_broker.queue",)


def test_a_size_without_a_price_is_named(prices: Any) -> None:
    values = Values(
        {
            "engine": "postgres",
            "instance_class": "db.m7g.large",
            "multi_az": False,
            "allocated_storage": 20,
            "storage_type": "gp3",
        }
    )
    cost = price_resource("aws_db_instance.x", "aws_db_instance", values, {}, _context(prices))
    assert cost.unpriced == [
        "Database instance (db.m7g.large, Single-AZ): no price for rds.postgres.db.m7g.large.single_az in us-east-1"
    ]


def test_configuration_references_are_unknown() -> None:
    values = Values({"instance_class": "${var.size}", "allocated_storage": 20}, config=True)
    assert values.get("instance_class") is UNKNOWN
    assert values.number("allocated_storage") == 20


def test_money_is_rounded_to_the_cent() -> None:
    assert [money(1234.565), money(-3.65), money(0.001, sign=True), money(36.5, sign=True)] == [
        "$1,234.57",
        "-$3.65",
        "$0.00",
        "+$36.50",
    ]


# --- the synthesized stacks -----------------------------------------------------------------------------------


def test_every_resource_of_every_synthesized_stack_is_priced_free_or_named(
    synthesized: Any, settings: Any, prices: Any
) -> None:
    usage = load_usage()
    regions = {env.environment: env.region for env in settings.environments} | {"account": settings.account.region}
    seen = set()
    for stack, body in synthesized.stacks.items():
        scope = stack.split("-")[0] if stack.split("-")[0] in regions else "account"
        estimate = estimate_config(stack, body, Context(scope, regions[scope], prices, usage, TODAY))
        for cost in estimate.resources:
            seen.add(cost.type)
            assert cost.status is not Status.UNPRICED, cost
            assert not cost.unpriced and not cost.unknown, cost  # every size priced, every usage value set
            if cost.status is Status.FREE:
                assert cost.reason and not cost.lines
    assert {"aws_nat_gateway", "aws_eip", "aws_db_instance", "aws_eks_node_group", "helm_release"} <= seen
