"""A project for ``qualisys-infra release`` on Terraform core: an apps stack whose only resource
follows the image-tag variable (as the Rollout does), local state, synth and the backend check
replaced; and the command line of a release against the local servers."""

from __future__ import annotations

import shutil
import types
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from qualisys_infra.commands import release as cli_release
from qualisys_infra.terraform import pipeline
from qualisys_infra.terraform.runner import StackRunner
from tests.conftest import ROOT
from tests.release import cluster
from tests.release.cluster import TOKEN
from tests.runner.terraform_double import StagedTerraform, synth_like

APPS = {
    "variable": {"hello_image_tag": {"type": "string", "nullable": False}},
    "resource": {"terraform_data": {"hello": {"input": "${var.hello_image_tag}"}}},
    "output": {"image_tags": {"value": {"hello": "${var.hello_image_tag}"}}},
}
# What stands for the Rollout in APPS: the one resource a release (and its rollback) may change.
ROLLOUT_STAND_IN = "terraform_data.hello"


def make_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str = "dev") -> Path:
    """The release and plan commands of ``env`` on Terraform core with local state under ``tmp_path``."""
    outdir = tmp_path / "out"
    network = {"resource": {"terraform_data": {"vpc": {"input": "10.0.0.0/16"}}}}
    synth_like(outdir, {f"{env}-network": network, f"{env}-apps": APPS}, {f"{env}-apps": [f"{env}-network"]})
    runner = StackRunner(outdir=outdir, plans_dir=tmp_path / "plans", terraform=StagedTerraform())
    settings = types.SimpleNamespace(
        account=types.SimpleNamespace(
            project="qualisys", admin_role_name="qualisys-admin", region="us-east-1", budget_limits_usd=(500,)
        ),
        environments=[
            types.SimpleNamespace(
                environment=env,
                ingress_domain=f"{env}.example",
                allow_destroy={},
                region="us-east-1",
                monthly_cost_limit=None,
            )
        ],
        deliveries=(),
    )
    # the commands resolve --env against the project's environments/ (prepare itself is replaced)
    shutil.copytree(ROOT / "environments", tmp_path / "environments")
    monkeypatch.setattr(pipeline, "prepare", lambda *_, **__: (settings, runner))
    monkeypatch.setattr(pipeline, "check_backend_against_bootstrap", lambda *_: None)
    monkeypatch.setattr(cluster, "NAMESPACE", env)  # the apps stack runs hello in the env's namespace
    monkeypatch.setenv("KUBE_TOKEN", TOKEN)
    return tmp_path


def as_rollout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the stand-in count as the Rollout, so a second release (and a rollback) of the same
    stack is an image change only."""
    monkeypatch.setattr(cli_release, "rollout_address", lambda _service: ROLLOUT_STAND_IN)


def release_argv(api: HTTPServer, *extra: str, env: str = "dev") -> list[str]:
    # The project's own environments (release reads ingress_domain and the region from them); the
    # synth, plan folders and state are the fixture's (prepare is replaced).
    return [
        "--project-dir",
        str(ROOT),
        "release",
        "--env",
        env,
        "--service",
        "hello",
        "--kube-api-url",
        api.url_for("").rstrip("/"),
        "--app-url",
        api.url_for("").rstrip("/"),
        "--interval",
        "0.02",
        "--timeout",
        "5",
        *extra,
    ]
