"""``qualisys-infra test-pool``: render and capacity, their output and exit codes (0 ok, 2 bad input)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from qualisys_infra.commands.cli import main
from tests.conftest import ENV_DIR, ROOT
from tests.testpool.helpers import DEV_QUOTA, environment_with

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/qualisys-playwright-runner:1.4.0"


def _run(capsys: pytest.CaptureFixture[str], action: str, *argv: str, project: Path = ROOT) -> tuple[int, str, str]:
    code = main(["--project-dir", str(project), "test-pool", action, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_render_prints_yaml_that_kubernetes_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "render", "--env", "staging", "--image", IMAGE)
    assert (code, err) == (0, "")
    assert out.startswith("# qualisys-infra test-pool render: staging, 50 shards on 50 runners in playwright-pool\n")
    assert "&id" not in out and "*id" not in out  # no YAML anchors: kubectl and humans read it plainly
    job = yaml.safe_load(out)
    assert kubernetes_validate.validate(job, "1.33", strict=True) == "1.33"


def test_render_json_equals_the_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("render", "--env", "dev", "--image", IMAGE, "--runners", "4", "--shards", "9", "--name", "smoke")
    code, out, _ = _run(capsys, *args, "--json")
    assert code == 0
    as_json = json.loads(out)
    _, out_yaml, _ = _run(capsys, *args)
    assert yaml.safe_load(out_yaml) == as_json
    assert as_json["metadata"]["name"] == "smoke"
    assert (as_json["spec"]["completions"], as_json["spec"]["parallelism"]) == (9, 4)


def test_render_passes_arguments_after_the_separator(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "render", "--env", "dev", "--image", IMAGE, "--json", "--", "--project=firefox", "-x")
    assert code == 0
    (container,) = json.loads(out)["spec"]["template"]["spec"]["containers"]
    assert container["args"][1:] == ["--project=firefox", "-x"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--runners", "51"],
            "error: --runners: got 51, expected 1 to 50 (test_pool.runners in environments/staging.tfvars",
        ),
        (["--image", "nginx:1.27"], "error: --image: got 'nginx:1.27', expected the runner image repository"),
        (["--name", "Nightly"], "error: --name: got 'Nightly', expected 1-52 lower-case letters"),
    ],
)
def test_render_refuses_bad_input_with_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    base = ["render", "--env", "staging", "--image", IMAGE]
    code, out, err = _run(capsys, *base, *argv)
    assert code == 2
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(message)


@pytest.mark.parametrize(
    "argv",
    [
        ["render", "--env", "dev"],
        ["render", "--env", "dev", "--image", IMAGE, "--runners", "0"],
        ["render", "--env", "dev", "--image", IMAGE, "--shards", "many"],
        ["scale"],
    ],
)
def test_bad_options_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["test-pool", *argv])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_an_environment_file_that_does_not_fit_exits_2_naming_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copytree(ENV_DIR, tmp_path / "environments")
    environment_with(tmp_path / "environments", "dev", quota={**DEV_QUOTA, "pods": 10})
    code, out, err = _run(capsys, "render", "--env", "dev", "--image", IMAGE, project=tmp_path)
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert line.startswith("error: environments/dev.tfvars:")
    assert "test_pool.runners: got 16, which needs 16 pods but the playwright-pool quota allows 10" in line
    assert 'raise namespaces["playwright-pool"].pods (line ' in line


def test_capacity_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "capacity")
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split() == [
        "ENVIRONMENT", "RUNNERS", "REQUESTS", "INSTANCE_TYPE", "PER_NODE", "LIMITED_BY", "MAX_SIZE",
        "NODES_NEEDED", "NODE_GROUP_HOLDS", "QUOTA_HOLDS",
    ]  # fmt: skip
    assert [r.split() for r in rows] == [
        ["dev", "16", "500m/1Gi", "c5.xlarge", "6", "memory", "5", "3", "30", "16"],
        ["staging", "50", "500m/1Gi", "c5.xlarge", "6", "memory", "17", "9", "102", "100"],
        ["production", "50", "500m/1Gi", "c5.xlarge", "6", "memory", "20", "9", "120", "100"],
    ]


def test_capacity_json_for_one_environment(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "capacity", "--env", "production", "--json")
    assert code == 0
    (row,) = json.loads(out)
    assert row["node_group_holds"] >= row["runners"] <= row["quota_holds"]


def test_render_unknown_environment_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "render", "--env", "prod", "--image", IMAGE)
    assert (code, out) == (2, "")
    assert err.startswith("error: --env: got 'prod', expected an environment of environments/*.tfvars")


def test_capacity_unknown_environment_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "capacity", "--env", "prod")
    assert (code, out) == (2, "")
    assert err.startswith(
        "error: --env: got 'prod', expected an environment of environments/*.tfvars (dev, staging, production) or all"
    )
