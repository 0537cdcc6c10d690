""".github/actions/environments: the workflows' environment lists, computed from the files.

matrix.py turns ``qualisys-infra environments --json`` into the lists the workflows' matrices run
over; these tests run it as the action does (a script, its output in ``$GITHUB_OUTPUT`` form) on
generated sets of environments and on bad input, and once on the project's own files through the CLI.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from qualisys_infra.core.runtime import PROJECT_ROOT
from qualisys_infra.core.settings import Delivery, EnvironmentDelivery
from tests.delivery.environments import GENERATED, TODAY
from tests.delivery.expand import MATRIX_SCRIPT, environments_json

ACTION = PROJECT_ROOT / ".github" / "actions" / "environments" / "action.yml"
VARIABLE_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")  # what GitHub accepts as an Actions variable's name


def run(tmp_path: Path, data: Any, *options: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "environments.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(MATRIX_SCRIPT), str(path), *options],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )


def outputs(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    return {key: json.loads(value) for key, value in (line.split("=", 1) for line in result.stdout.splitlines())}


def names(entries: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in entries]


def test_todays_three_give_todays_waves(tmp_path: Path) -> None:
    out = outputs(run(tmp_path, environments_json(TODAY)))
    assert names(out["all"]) == ["dev", "staging", "production"]
    assert names(out["first"]) == ["staging"] and names(out["approved"]) == ["production"]
    assert out["selected"] == {}
    dev, staging, production = out["all"]
    assert dev["apply_role"] == dev["release_role"] == "", "a manual environment has no CI role"
    assert staging["apply_role"] == "AWS_APPLY_ROLE_ARN_STAGING"
    assert production["release_role"] == "AWS_RELEASE_ROLE_ARN_PRODUCTION"
    assert (dev["plan_runner"], production["apply_runner"]) == (
        "CLUSTER_RUNNER_PLAN_DEV",
        "CLUSTER_RUNNER_APPLY_PRODUCTION",
    )
    assert [e["verify_isolation"] for e in out["all"]] == [False, True, False]


def test_a_generated_set_is_listed_as_its_deliveries_say(tmp_path: Path) -> None:
    out = outputs(run(tmp_path, environments_json(GENERATED)))
    assert names(out["all"]) == [d.name for d in GENERATED]
    assert names(out["first"]) == [d.name for d in GENERATED if d.delivery is Delivery.PIPELINE and not d.approval]
    assert names(out["approved"]) == ["production", "qa"]
    sandbox = next(e for e in out["all"] if e["name"] == "sandbox")
    assert sandbox["apply_role"] == "" and sandbox["plan_runner"] == "CLUSTER_RUNNER_PLAN_SANDBOX"
    assert next(e for e in out["all"] if e["name"] == "qa")["region"] == "eu-west-1"


def test_only_selects_one_pipeline_environment(tmp_path: Path) -> None:
    out = outputs(run(tmp_path, environments_json(GENERATED), "--only", "qa"))
    assert names(out["first"]) == [] and names(out["approved"]) == ["qa"] and out["selected"]["name"] == "qa"
    assert names(out["all"]) == [d.name for d in GENERATED], "plans and drift still see every environment"


def test_a_hyphenated_name_gives_valid_variable_names(tmp_path: Path) -> None:
    two_regions = (
        *TODAY,
        EnvironmentDelivery(name="prod-eu", region="eu-west-1", delivery=Delivery.PIPELINE, approval=True),
    )
    out = outputs(run(tmp_path, environments_json(two_regions)))
    entry = next(e for e in out["all"] if e["name"] == "prod-eu")
    for key in ("plan_runner", "apply_runner", "apply_role", "release_role"):
        assert VARIABLE_NAME.match(entry[key]), (key, entry[key])
    assert entry["apply_role"] == "AWS_APPLY_ROLE_ARN_PROD_EU"


def test_the_object_form_of_the_cli_is_read_too(tmp_path: Path) -> None:
    rows = [{**row, "environment": row.pop("name")} for row in environments_json(TODAY)]
    out = outputs(run(tmp_path, {"valid": True, "environments": rows, "errors": []}))
    assert names(out["approved"]) == ["production"]


@pytest.mark.parametrize(
    ("data", "options", "says"),
    [
        (
            environments_json(TODAY),
            ("--only", "dev"),
            "environment 'dev' is not one CI applies (delivery = pipeline: staging, production)",
        ),
        (environments_json(TODAY), ("--only", "prod"), "environment 'prod' is not one CI applies"),
        (
            [{"name": "Prod_1", "region": "us-east-1", "delivery": "pipeline", "approval": False}],
            (),
            "name 'Prod_1' is not a DNS label",
        ),
        ([*environments_json(TODAY), environments_json(TODAY)[0]], (), "environment 'dev' is listed twice"),
        (
            [{"name": "qa", "region": "us-east-1", "delivery": "auto", "approval": False}],
            (),
            "environment 1 (qa): delivery 'auto', expected one of pipeline, manual",
        ),
        (
            [{"name": "qa", "region": "us-east-1", "delivery": "manual", "approval": "yes"}],
            (),
            "approval 'yes', expected true or false",
        ),
        (
            [{"name": "qa", "region": "", "delivery": "manual", "approval": False}],
            (),
            "region '', expected an AWS region",
        ),
        ([], (), "expected a non-empty list of environments"),
        ('[{"name": "qa",\n  oops}]', (), "line 2: not JSON"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, data: Any, options: tuple[str, ...], says: str) -> None:
    result = run(tmp_path, data, *options)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert lines[0].startswith(f"error: {tmp_path / 'environments.json'}: ")


def test_the_action_runs_the_cli_then_matrix_py_into_its_outputs() -> None:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    (step,) = action["runs"]["steps"]
    assert ".venv/bin/qualisys-infra environments --json" in step["run"]
    assert '"$MATRIX" "$RUNNER_TEMP/environments.json" --only "$ONLY"' in step["run"]
    assert step["env"] == {"ONLY": "${{ inputs.only }}", "MATRIX": "${{ github.action_path }}/matrix.py"}
    assert set(action["outputs"]) == {"all", "first", "approved", "selected"}
    for key, spec in action["outputs"].items():
        assert spec["value"] == f"${{{{ steps.matrix.outputs.{key} }}}}"


def test_the_projects_own_files_give_todays_waves(tmp_path: Path) -> None:
    """The real command on environments/ (delivery and approval from each file, or their defaults)."""
    listed = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "qualisys-infra"), "environments", "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert listed.returncode == 0, listed.stderr
    out = outputs(run(tmp_path, listed.stdout))
    assert names(out["all"]) == ["dev", "staging", "production"]
    assert (names(out["first"]), names(out["approved"])) == (["staging"], ["production"])
