"""The github stack: the repository's ruleset, environments and Actions variables (issue "Delivery
pipeline for the infrastructure", item 4; story 0.8 AC8)."""

from __future__ import annotations

import json

from modules.github_delivery import actions_variables, required_checks
from modules.github_repository import UNMANAGED_REPOSITORY_ARGUMENTS
from qualisys_infra.core.settings import EnvironmentDelivery
from qualisys_infra.gates.schema.index import load_index
from tests.conftest import Synthesized
from tests.synth.helpers import one

STACK = "github"
REMOTE = "data.terraform_remote_state.cross-stack-reference-input-account.outputs."


def _deliveries(synthesized: Synthesized) -> tuple[EnvironmentDelivery, ...]:
    """The environments the session synthesized the stack for (as stacks/github.py reads them)."""
    settings = synthesized.settings
    return settings.deliveries


def test_github_stack_keeps_state_beside_the_account_stack(synthesized: Synthesized) -> None:
    config = synthesized.stacks[STACK]
    backend = config["terraform"]["backend"]["s3"]
    assert backend["key"] == "account/github.tfstate" and backend["use_lockfile"] is True
    assert config["terraform"]["required_providers"]["github"]["source"] == "integrations/github"
    (provider,) = config["provider"]["github"]
    assert provider == {"owner": "qualisys"}, "no credential in the configuration"


def test_main_ruleset_requires_reviewed_pull_requests_and_the_pipeline_checks(synthesized: Synthesized) -> None:
    ruleset = one(synthesized.resources(STACK, "github_repository_ruleset"))
    assert ruleset["repository"] == "qualisys" and ruleset["target"] == "branch"
    assert ruleset["enforcement"] == "active" and "bypass_actors" not in ruleset
    assert ruleset["conditions"]["ref_name"] == {"include": ["refs/heads/main"], "exclude": []}
    rules = ruleset["rules"]
    assert rules["deletion"] is True and rules["non_fast_forward"] is True
    pull_request = rules["pull_request"]
    assert pull_request["require_code_owner_review"] is True
    assert pull_request["required_approving_review_count"] >= 1
    assert pull_request["dismiss_stale_reviews_on_push"] is True
    checks = rules["required_status_checks"]
    assert [c["context"] for c in checks["required_check"]] == list(required_checks(_deliveries(synthesized)))
    assert [c["context"] for c in checks["required_check"]] == [
        *("test", "synth-and-scan", "plan (dev)", "plan (staging)", "plan (production)")
    ]
    assert checks["strict_required_status_checks_policy"] is True


def test_environments_deploy_from_main_and_production_waits_for_the_devops_team(synthesized: Synthesized) -> None:
    environments = {
        e["environment"]: (k, e) for k, e in synthesized.resources(STACK, "github_repository_environment").items()
    }
    assert sorted(environments) == ["production", "staging"]
    policies = synthesized.resources(STACK, "github_repository_environment_deployment_policy").values()
    for name, (key, environment) in environments.items():
        assert environment["deployment_branch_policy"] == {"custom_branch_policies": True, "protected_branches": False}
        assert environment["can_admins_bypass"] is False, name
        (policy,) = [p for p in policies if p["environment"] == f"${{github_repository_environment.{key}.environment}}"]
        assert policy["branch_pattern"] == "main" and "tag_pattern" not in policy, name
    _, production = environments["production"]
    ((team_key, team),) = synthesized.data(STACK, "github_team").items()
    assert team["slug"] == synthesized.settings.account.github_devops_team == "devops"
    assert production["reviewers"] == {"teams": [f"${{data.github_team.{team_key}.id}}"]}
    assert production["prevent_self_review"] is True
    assert "reviewers" not in environments["staging"][1]


def test_actions_variables_hold_the_account_stack_outputs(synthesized: Synthesized) -> None:
    variables = {v["variable_name"]: v for v in synthesized.resources(STACK, "github_actions_variable").values()}
    # the runners' labels are the platform stacks' scale sets, not account outputs (tests/synth/test_runners.py)
    variables = {name: v for name, v in variables.items() if not name.startswith("CLUSTER_RUNNER_")}
    wanted = actions_variables(_deliveries(synthesized))
    assert sorted(variables) == sorted(wanted)
    assert sorted(wanted) == [
        "AWS_APPLY_ROLE_ARN_PRODUCTION",
        "AWS_APPLY_ROLE_ARN_STAGING",
        "AWS_CI_DEPLOYER_ROLE_ARN",
        "AWS_PLAN_ROLE_ARN",
        "AWS_REGION",
        "AWS_RELEASE_ROLE_ARN_PRODUCTION",
        "AWS_RELEASE_ROLE_ARN_STAGING",
    ]
    (remote,) = synthesized.data(STACK, "terraform_remote_state").values()
    assert remote["backend"] == "s3" and remote["config"]["key"] == "account/account.tfstate"
    account_outputs = synthesized.stacks["account"]["output"]
    for name, output in wanted.items():
        value = variables[name]["value"]
        assert value.startswith("${" + REMOTE) and value.endswith("}"), name
        read = value[len("${" + REMOTE) : -1]
        # What the variable reads is, in the account stack, the very value of the named output.
        assert account_outputs[read]["value"] == account_outputs[output]["value"], name


def test_github_stack_is_account_level_and_follows_the_account_stack(synthesized: Synthesized) -> None:
    manifest = json.loads((synthesized.outdir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stacks"][STACK]["dependencies"] == ["account"]
    # plan/deploy --env select the stacks named <env>-*: the github stack is never among them.
    assert not STACK.startswith(tuple(f"{e}-" for e in ("dev", "staging", "production")))


def test_secret_scanning_and_push_protection_are_on_for_the_repository(synthesized: Synthesized) -> None:
    config = synthesized.stacks[STACK]
    ((key, repository),) = synthesized.resources(STACK, "github_repository").items()
    assert repository["name"] == "qualisys"
    assert repository["security_and_analysis"] == {
        "secret_scanning": {"status": "enabled"},
        "secret_scanning_push_protection": {"status": "enabled"},
    }
    # The repository exists before the stack: imported, never created, never destroyed.
    assert config["import"] == [{"to": f"github_repository.{key}", "id": "qualisys"}]
    assert repository["archive_on_destroy"] is True
    assert repository["lifecycle"]["prevent_destroy"] is True
    assert repository["lifecycle"]["ignore_changes"] == list(UNMANAGED_REPOSITORY_ARGUMENTS)


def test_every_other_repository_argument_is_left_as_it_is_on_github() -> None:
    block = load_index("github").block("resource", "github_repository")
    assert block is not None
    managed = {"name", "security_and_analysis", "archive_on_destroy", "id"}
    assert sorted(set(block) - managed) == sorted(UNMANAGED_REPOSITORY_ARGUMENTS)
    assert len(set(UNMANAGED_REPOSITORY_ARGUMENTS)) == len(UNMANAGED_REPOSITORY_ARGUMENTS)
