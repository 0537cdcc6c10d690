"""The pre-flight check names missing AWS credentials before Terraform runs (and downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualisys_infra.core.errors import UsageError
from qualisys_infra.terraform.preflight import aws_identity


def test_finds_environment_keys(tmp_path: Path) -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "x"}
    assert aws_identity(env, (), tmp_path) == "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"


def test_finds_github_oidc(tmp_path: Path) -> None:
    env = {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn:aws:iam::1:role/plan"}
    assert aws_identity(env, (), tmp_path) == "web identity token for arn:aws:iam::1:role/plan"


def test_finds_a_profile_in_the_shared_files(tmp_path: Path) -> None:
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[profile ops]\nregion = us-east-1\n", encoding="utf-8")
    assert aws_identity({"AWS_PROFILE": "ops"}, (), tmp_path) == f"profile ops in {tmp_path}/.aws/config"


def test_finds_credentials_in_a_backend_config(tmp_path: Path) -> None:
    config = tmp_path / "backend.hcl"
    config.write_text('role_arn = "arn:aws:iam::1:role/x"\n', encoding="utf-8")
    assert aws_identity({}, (config,), tmp_path) == f"credentials in --backend-config {config}"


def test_fails_if_there_are_no_credentials(tmp_path: Path) -> None:
    with pytest.raises(
        UsageError, match=r"^AWS credentials: none found before running Terraform; set AWS_ACCESS_KEY_ID"
    ):
        aws_identity({}, (), tmp_path)


def test_fails_if_the_named_profile_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="AWS_PROFILE is 'ops', but no such profile is in"):
        aws_identity({"AWS_PROFILE": "ops"}, (), tmp_path)


def test_fails_if_only_half_a_key_pair_is_set(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"):
        aws_identity({"AWS_ACCESS_KEY_ID": "AKIA"}, (), tmp_path)
