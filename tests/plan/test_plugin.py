"""The pytest plugin's fixtures, loaded through the `pytest11` entry point (not imported here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Synthesized
from tests.plan.conftest import FIXTURES, RealPlans


def test_plan_assertions_pass_and_fail(plan_file: Callable[[Path], Any], real_plans: RealPlans) -> None:
    plan = plan_file(real_plans.folder / "second.json")
    plan.assert_counts(create=1, update=2, replace=1, replace_create_first=1, delete=1, forget=1, no_op=2)
    plan.assert_no_replace("terraform_data_that_does_not_exist")
    with pytest.raises(AssertionError, match=r"replaced: terraform_data\.replaced, terraform_data\.replaced_cbd"):
        plan.assert_no_replace("terraform_data")
    with pytest.raises(AssertionError, match=r"destroyed: terraform_data\.deleted"):
        plan.assert_no_destroy()
    plan.assert_no_blocking_findings()


def test_every_after_on_a_public_fixture(plan_file: Callable[[Path], Any]) -> None:
    plan = plan_file(FIXTURES / "bridgecrewio_checkov__tests__terraform__runner__resources__plan__tfplan.json")
    with pytest.raises(
        AssertionError, match=r"aws_db_instance.storage_encrypted != True: aws_db_instance.default=False"
    ):
        plan.assert_every_after("aws_db_instance", "storage_encrypted", True)
    with pytest.raises(AssertionError, match="G005"):
        plan.assert_no_blocking_findings()


def test_synthesized_stack_assertions(synthesized_stack: Callable[..., Any], synthesized: Synthesized) -> None:
    stack = synthesized_stack("bootstrap", outdir=synthesized.outdir)
    stack.assert_every("aws_dynamodb_table", "deletion_protection_enabled", True)
    with pytest.raises(AssertionError, match="force_destroy != True"):
        stack.assert_every("aws_s3_bucket", "force_destroy", True)
