"""`cost`, and cost in `review`: the monthly delta of a plan, the monthly_cost_limit, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.commands.cli import main
from tests.conftest import Synthesized
from tests.plan import cost_plans


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _limit(project: Path, env: str, limit: int) -> None:
    path = project / "environments" / f"{env}.tfvars"
    path.write_text(path.read_text(encoding="utf-8") + f"\nmonthly_cost_limit = {limit}\n", encoding="utf-8")


def _plan(folder: Path, stack: str, document: dict[str, Any]) -> str:
    path = folder / f"{stack}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def _review(capsys: pytest.CaptureFixture[str], project: Path, *argv: str) -> tuple[int, str, str]:
    return _run(capsys, "--project-dir", str(project), "review", *argv)


def test_review_shows_the_monthly_delta_and_exits_as_before_under_the_limit(
    capsys: pytest.CaptureFixture[str], project_copy: Path
) -> None:
    _limit(project_copy, "dev", 5000)
    plan = _plan(project_copy, "dev-network", cost_plans.nat_gateway_created())
    code, out, _ = _review(capsys, project_copy, plan, "--format", "json")
    assert code == 0
    cost = json.loads(out)["cost"]
    assert (cost["currency"], cost["monthly_before"], cost["monthly_after"], cost["monthly_delta"]) == (
        "USD",
        0.0,
        41.0,
        41.0,
    )
    assert cost["resources"] == [
        {"address": "aws_eip.network_nat-ip-1", "monthly_delta": 3.65, "stack": "dev-network"},
        {"address": "aws_nat_gateway.network_nat-gateway-1", "monthly_delta": 37.35, "stack": "dev-network"},
    ]
    assert cost["limits"] == ["dev: $41.00 of its $5,000 monthly_cost_limit (1%)"]
    code, out, _ = _review(capsys, project_copy, plan, "--format", "markdown")
    assert code == 0
    summary, rest = out.split("**Monthly cost (USD, on-demand):** $0.00 → $41.00 (+$41.00 📈)", 1)
    assert summary.rstrip().endswith("2 stacks, 1 with changes") or "Plan: 2 to add" in summary  # under the summary
    assert "| `dev-network` | $0.00 | $41.00 | +$41.00 |" in rest
    code, out, _ = _review(capsys, project_copy, plan)
    assert code == 0 and "Monthly cost (USD, on-demand): $0.00 → $41.00 (+$41.00 📈)" in out


def test_fails_if_a_plan_takes_an_environment_over_its_monthly_cost_limit(
    capsys: pytest.CaptureFixture[str], project_copy: Path
) -> None:
    _limit(project_copy, "dev", 30)
    plan = _plan(project_copy, "dev-network", cost_plans.nat_gateway_created())
    code, out, _ = _review(capsys, project_copy, plan)
    assert code == 1
    assert (
        "[C001 high] dev-network: dev (monthly cost): this plan takes the estimated cost of dev to $41.00 a month"
        " (+$41.00 by this plan; from its network plan only, without cluster, data, platform, apps), over its limit"
        " of $30 (environments/dev.tfvars monthly_cost_limit); largest contributors:"
        " aws_nat_gateway.network_nat-gateway-1 $37.35, aws_eip.network_nat-ip-1 $3.65"
    ) in out
    code, out, _ = _review(capsys, project_copy, plan, "--format", "markdown")
    assert code == 1 and "**C001**" in out and "CAUTION" in out


def test_a_plan_that_lowers_a_cost_already_over_the_limit_warns_and_passes(
    capsys: pytest.CaptureFixture[str], project_copy: Path
) -> None:
    _limit(project_copy, "dev", 10)
    nat = dict(cost_plans.NAT, id="nat-1", allocation_id="eipalloc-1")
    eip = dict(cost_plans.EIP, id="eipalloc-2")
    document = cost_plans.plan(
        cost_plans.change("aws_nat_gateway.kept", ["no-op"], nat, nat),
        cost_plans.change("aws_eip.spare", ["delete"], eip, None),
    )
    code, out, _ = _review(capsys, project_copy, _plan(project_copy, "dev-network", document), "--format", "json")
    assert code == 0
    (finding,) = json.loads(out)["stacks"][0]["findings"]
    assert (finding["rule"], finding["severity"], finding["blocking"]) == ("C001", "warning", False)
    assert "already over its limit of $10" in finding["message"] and "does not raise it" in finding["message"]
    assert json.loads(out)["cost"]["monthly_delta"] == -3.65


def test_no_cost_leaves_the_review_as_it_was(capsys: pytest.CaptureFixture[str], project_copy: Path) -> None:
    _limit(project_copy, "dev", 30)
    plan = _plan(project_copy, "dev-network", cost_plans.nat_gateway_created())
    code, out, _ = _review(capsys, project_copy, plan, "--format", "json", "--no-cost")
    assert code == 0 and "cost" not in json.loads(out)


def test_a_stack_of_an_environment_without_a_file_is_priced_in_the_tables_region_and_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plan = _plan(tmp_path, "qa-network", cost_plans.nat_gateway_created())
    code, out, _ = _review(capsys, tmp_path, plan, "--format", "markdown")
    assert code == 0
    assert "no environments/qa.tfvars: the price table's only region assumed" in out.replace("\\", "")


def test_fails_if_monthly_cost_limit_is_out_of_range(capsys: pytest.CaptureFixture[str], project_copy: Path) -> None:
    _limit(project_copy, "staging", -1)
    code, _, err = _run(capsys, "--project-dir", str(project_copy), "environments")
    assert code == 2
    assert "monthly_cost_limit: got -1, expected a whole number from 0 to 1000000" in err


def test_fails_if_review_gets_a_prices_file_that_is_not_there(
    capsys: pytest.CaptureFixture[str], project_copy: Path
) -> None:
    plan = _plan(project_copy, "dev-network", cost_plans.nat_gateway_created())
    code, out, err = _review(capsys, project_copy, plan, "--prices", str(project_copy / "nope.json"))
    assert code == 2 and out == ""
    assert err.strip().startswith("error: ") and "nope.json: not found" in err and len(err.splitlines()) == 1


def test_cost_command_estimates_every_environment(capsys: pytest.CaptureFixture[str], synthesized: Synthesized) -> None:
    code, out, _ = _run(capsys, "cost", "--out", str(synthesized.outdir), "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert [e["name"] for e in document["environments"]] == ["dev", "staging", "production", "account"]
    assert round(sum(e["monthly"] for e in document["environments"]), 2) == document["monthly"]
    assert document["complete"] and [b["limit"] for b in document["budgets"]] == [500, 1000, 2000]
    assert document["unpriced"] == [] and document["unknown"] == []


def test_fails_if_cost_gets_a_malformed_usage_file(
    capsys: pytest.CaptureFixture[str], synthesized: Synthesized, tmp_path: Path
) -> None:
    usage = tmp_path / "usage.json"
    usage.write_text(json.dumps({"defaults": {"aws_nat_gateway": {"monthly_gb": 1}}}), encoding="utf-8")
    code, out, err = _run(capsys, "cost", "--out", str(synthesized.outdir), "--usage", str(usage))
    assert code == 2 and out == ""
    assert f"error: {usage}: defaults.aws_nat_gateway.monthly_gb: unknown usage key" in err
