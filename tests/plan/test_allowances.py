"""A destroy (G001) or data loss (G021) that is allowed says where the allowance comes from: this
command's --allow-destroy, allow_destroy in the environment's tfvars (reviewed code), or both."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qualisys_infra.plan.guardrails import check
from qualisys_infra.plan.model import load_plan
from qualisys_infra.terraform.pipeline import reviewed_allowances, reviews_of
from tests.conftest import ROOT
from tests.plan.conftest import FIXTURES

DESTROY = FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-destroy.json"
BUCKET = "aws_s3_bucket.terra_ci"


def test_a_list_of_addresses_is_the_command_lines() -> None:
    (finding,) = check(load_plan(DESTROY), allow_destroy=[BUCKET])
    assert finding.message.endswith("(allowed by --allow-destroy)")


def test_each_allowance_names_its_source() -> None:
    source = "allow_destroy in environments/dev.tfvars"
    (finding,) = check(load_plan(DESTROY), allow_destroy={BUCKET: source})
    assert (finding.rule, finding.blocking) == ("G001", False)
    assert finding.message.endswith(f"(allowed by {source})")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose dev.tfvars allows destroying the bucket in the data stack, and dev-data's plan."""
    shutil.copytree(ROOT / "environments", tmp_path / "environments")
    tfvars = tmp_path / "environments" / "dev.tfvars"
    tfvars.write_text(
        tfvars.read_text(encoding="utf-8") + f'\nallow_destroy = {{\n  data = ["{BUCKET}"]\n}}\n', encoding="utf-8"
    )
    shutil.copy(DESTROY, tmp_path / "dev-data.json")
    return tmp_path


@pytest.mark.parametrize(
    ("command_line", "source"),
    [
        ((), "allow_destroy in environments/dev.tfvars"),
        ((BUCKET,), "--allow-destroy and allow_destroy in environments/dev.tfvars"),
    ],
)
def test_fails_if_a_tfvars_allowance_is_shown_as_the_command_lines(
    project: Path, command_line: tuple[str, ...], source: str
) -> None:
    """What `comment` (and `plan`, `deploy`) judge with: reviewed code is named as such."""
    (review,) = reviews_of([project / "dev-data.json"], command_line, reviewed_allowances(project, "dev"))
    (finding,) = review.findings
    assert (finding.rule, finding.blocking) == ("G001", False)
    assert finding.message.endswith(f"(allowed by {source})"), finding.message


def test_a_data_loss_allowance_names_its_source_too() -> None:
    from tests.plan.test_data_loss import LOSSES, _plan

    change, _ = LOSSES["trail_logging_stopped"]
    source = "allow_destroy in environments/staging.tfvars"
    (finding,) = [f for f in check(_plan(change), allow_destroy={change["address"]: source}) if f.rule == "G021"]
    assert finding.message.endswith(f"(allowed by {source})") and not finding.blocking
