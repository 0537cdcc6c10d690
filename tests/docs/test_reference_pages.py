"""The generated reference pages in docs/reference/ are current (`make docs` rewrites them), and they
say what the code defines: every command and option, every setting with its bounds, every stack's
resources, every guardrail the review can report, every exit code."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.commands import reference
from qualisys_infra.commands.cli import EXIT_CODES, build_parser, main
from qualisys_infra.config.reference import render as render_settings
from qualisys_infra.config.reference import table
from qualisys_infra.plan.rules import RULES
from tests.conftest import ROOT, Synthesized

PAGES = ROOT / reference.REFERENCE_DIR
STALE = "is out of date: run `make docs` (qualisys-infra reference --write)"


def _page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "render"),
    [
        ("cli.md", lambda: reference.render_cli(build_parser())),
        ("settings.md", render_settings),
        ("guardrails.md", reference.render_guardrails),
        ("exit-codes.md", lambda: reference.render_exit_codes(EXIT_CODES)),
    ],
)
def test_generated_page_is_current(name: str, render: object) -> None:
    assert callable(render)
    assert _page(name) == render(), f"docs/reference/{name} {STALE}"


def test_stacks_page_is_current(synthesized: Synthesized) -> None:
    environments = [env.environment for env in synthesized.settings.environments]
    page = reference.render_stacks(synthesized.stacks, environments, ROOT)
    assert _page("stacks.md") == page, f"docs/reference/stacks.md {STALE}"


def test_the_cli_page_names_every_command_and_option() -> None:
    page = _page("cli.md")
    for prog, parser, _ in reference.commands_of(build_parser()):
        assert f"## `{prog}`" in page
        for action in parser._actions:
            for option in action.option_strings:
                assert f"`{option}" in page or option in reference.GLOBAL, f"{prog} {option}"


def test_a_stale_page_is_found_and_rewritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wanted = {"guardrails.md": reference.render_guardrails(), "exit-codes.md": reference.render_exit_codes(EXIT_CODES)}
    (tmp_path / "guardrails.md").write_text(wanted["guardrails.md"].replace("G001", "G999"), encoding="utf-8")
    (tmp_path / "exit-codes.md").write_text(wanted["exit-codes.md"], encoding="utf-8")
    assert reference.stale(tmp_path, wanted) == ["guardrails.md"]
    assert reference.stale(tmp_path / "absent", wanted) == ["guardrails.md", "exit-codes.md"]


def test_reference_without_write_exits_1_naming_the_stale_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "environments").mkdir(parents=True)
    folder = project / reference.REFERENCE_DIR
    folder.mkdir(parents=True)
    fake = {"cli.md": "new\n", "stacks.md": "same\n"}
    (folder / "cli.md").write_text("old\n", encoding="utf-8")
    (folder / "stacks.md").write_text("same\n", encoding="utf-8")
    monkeypatch.setattr(reference, "pages", lambda _project, _stacks: fake)
    assert main(["--project-dir", str(project), "reference"]) == 1
    out, _ = capsys.readouterr()
    assert "cli.md is stale (2 lines differ)" in out
    assert "stacks.md" not in out.split("run `make docs`")[0]
    assert main(["--project-dir", str(project), "reference", "--write"]) == 0
    assert (folder / "cli.md").read_text(encoding="utf-8") == "new\n"
    assert main(["--project-dir", str(project), "reference"]) == 0


def test_settings_show_bounds_from_field_metadata() -> None:
    @dataclasses.dataclass(frozen=True)
    class Example:
        count: int = dataclasses.field(default=3, metadata={"doc": "how many", "bounds": (1, 500)})
        name: str = dataclasses.field(default="x", metadata={"doc": "a name <with> *stars*"})

    rows = table(Example)
    assert rows[2] == "| `count` | number | `3` | 1 to 500 | how many |"
    assert rows[3] == '| `name` | string | `"x"` |  | a name <with> *stars* |'


def test_settings_page_lists_every_nested_object() -> None:
    page = _page("settings.md")
    for key in ("`vpc_cidr`", "`max_size`", "`state_bucket_name`", "`nat_mode`", "`runners`", "`pods`"):
        assert key in page
    for anchor in ("nodegroupconfig", "namespaceconfig", "playwrightpoolconfig"):
        assert f"{{#{anchor}}}" in page and f"(#{anchor})" in page


def test_markdown_text_escapes_what_would_be_html_or_emphasis_outside_code() -> None:
    assert reference.text("OUT/stacks/<stack>/x and s3:* `a <b> *c*`") == (
        "OUT/stacks/&lt;stack&gt;/x and s3:\\* `a <b> *c*`"
    )


def test_exit_codes_are_read_from_the_cli_sentence() -> None:
    assert reference.exit_codes("Exit codes: 0 ok; 3-7 Terraform failed; 130/143 interrupted.") == [
        ("0", "ok"),
        ("3-7", "Terraform failed"),
        ("130/143", "interrupted"),
    ]


def test_stack_kinds() -> None:
    assert reference.stack_kind("dev-network") == ("network", "dev")
    assert reference.stack_kind("production-apps") == ("apps", "production")
    assert reference.stack_kind("account") == ("account", None)
    assert reference.stack_kind("bootstrap") == ("bootstrap", None)
    assert reference.stack_kind("qa-eu-network") == ("network", "qa-eu")  # environments are data


def test_stacks_page_counts_resource_types_per_environment() -> None:
    stacks: dict[str, dict[str, Any]] = {
        "dev-network": {"resource": {"aws_vpc": {"a": {}}, "aws_subnet": {"a": {}, "b": {}}}},
        "staging-network": {"resource": {"aws_vpc": {"a": {}}, "aws_subnet": {"a": {}, "b": {}, "c": {}}}},
        "account": {"resource": {"aws_budgets_budget": {"a": {}}}},
    }
    page = reference.render_stacks(stacks, ["dev", "staging", "production"], ROOT)
    assert "| `aws_subnet` | 2 | 3 |" in page
    assert "| `aws_vpc` | 1 | 1 |" in page
    assert "| [`<env>-network`](#network) | The environment's VPC" in page
    assert "| [`account`](#account) | What belongs to the AWS account" in page and "| 1 |" in page


# --- the guardrails page names every rule the code reports ------------------------------------------

PLAN_CODE = ROOT / "qualisys_infra" / "plan"
CODE = re.compile(r"[GC]\d{3}")


def reported_codes(folder: Path) -> dict[str, str]:
    """Every rule code written as a string constant in ``folder``'s modules (but rules.py): code -> where."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        if path.name == "rules.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.fullmatch(node.value):
                found.setdefault(node.value, f"{path.relative_to(folder.parent.parent)}:{node.lineno}")
    return found


def test_every_reported_rule_is_in_the_registry_and_back() -> None:
    codes = reported_codes(PLAN_CODE)
    registered = {rule.code for rule in RULES}
    missing = [
        f"{where}: {code} is not in qualisys_infra/plan/rules.py"
        for code, where in codes.items()
        if code not in registered
    ]
    assert missing == []
    assert sorted(registered - set(codes)) == [], "rules.py names a code nothing reports"
    assert len(registered) == len(RULES), "a code twice in rules.py"


def test_a_new_rule_missing_from_the_registry_is_found(tmp_path: Path) -> None:
    plan = tmp_path / "qualisys_infra" / "plan"
    plan.mkdir(parents=True)
    (plan / "new_rule.py").write_text('RULE = "G099"\nOTHER = "G001"\n', encoding="utf-8")
    assert reported_codes(plan) == {
        "G099": "qualisys_infra/plan/new_rule.py:1",
        "G001": "qualisys_infra/plan/new_rule.py:2",
    }


def test_every_rule_has_a_known_severity_and_one_line() -> None:
    for rule in RULES:
        assert rule.severity in ("critical", "high", "critical or high", "warning"), rule.code
        assert rule.blocking == (rule.severity != "warning"), rule.code
        assert "\n" not in rule.meaning and len(rule.meaning) < 300, rule.code


def test_the_reference_command_is_registered() -> None:
    parser = build_parser("reference")
    args = parser.parse_args(["reference", "--write"])
    assert args.write is True
    assert isinstance(parser, argparse.ArgumentParser)


def test_every_finding_on_the_fixture_plans_matches_its_rule() -> None:
    """What the guardrails page says of each rule (its severity, whether it blocks) is what the
    guardrails report on the collected real-world plans."""
    from qualisys_infra.plan import guardrails
    from qualisys_infra.plan.model import load_plan
    from qualisys_infra.plan.rules import BY_CODE

    seen = 0
    for path in sorted((ROOT / "tests" / "fixtures" / "plans").glob("*.json")):
        for finding in guardrails.check(load_plan(path)):
            rule = BY_CODE[finding.rule]
            seen += 1
            if finding.blocking:
                assert rule.blocking and str(finding.severity) in rule.severity.split(" or "), (path.name, finding)
            else:
                assert str(finding.severity) == "warning", (path.name, finding)
    assert seen > 10


def test_a_description_keeps_its_lists_and_examples_as_markdown() -> None:
    description = (
        "``x``: what it does, see :mod:`~qualisys_infra.plan.rules`.\n\n"
        "1. first step, long enough to\n   continue on a second line;\n2) second <step>.\n\n"
        "Run it:\n\n  qualisys-infra x --flag\n  qualisys-infra x\n"
    )
    assert reference._description(description) == [
        "`x`: what it does, see `qualisys_infra.plan.rules`.",
        "",
        "1. first step, long enough to continue on a second line;",
        "2. second &lt;step&gt;.",
        "",
        "Run it:",
        "",
        "```text",
        "qualisys-infra x --flag",
        "qualisys-infra x",
        "```",
        "",
    ]


def test_every_rule_has_an_anchor_on_the_guardrails_page() -> None:
    page = _page("guardrails.md")
    for rule in RULES:
        assert f'<span id="{rule.code.lower()}"></span>{rule.code} |' in page
