"""``github``: the repository's own delivery settings, kept as code (issue "Delivery pipeline").

The ruleset of the main branch (pull request, code-owner review, the pipeline's checks, no force
push or deletion), the ``staging`` and ``production`` environments whose names the apply and release
roles trust (production waits for the DevOps team, story 0.8 AC8), and the Actions variables the
workflows read: the account stack's role ARNs and region, and the label of each environment's
in-cluster runner scale set of each duty (``CLUSTER_RUNNER_PLAN_STAGING = qualisys-staging-plan``:
the platform stacks' runners, :mod:`modules.platform.runners`).
"""

from __future__ import annotations

from modules.github_repository import DeploymentEnvironment, GithubRepository, GithubRepositoryProps
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.naming import (
    ACCOUNT_STACK,
    ACTIONS_VARIABLES,
    MAIN_BRANCH,
    REQUIRED_CHECKS,
    RUNNER_DUTIES,
    runner_label,
    runner_variable,
)
from qualisys_infra.core.naming import GITHUB_STACK as STACK
from qualisys_infra.core.settings import ENVIRONMENT_NAMES, AccountConfig
from stacks.base import BaseStack, StateBackend


def runner_variables(project: str) -> dict[str, str]:
    """Actions variable -> runner label, for every environment and duty (every cluster runs both)."""
    return {
        runner_variable(env, duty): runner_label(project, env, duty)
        for env in ENVIRONMENT_NAMES
        for duty in RUNNER_DUTIES
    }


class GithubStack(BaseStack):
    """The GitHub repository ``github_repository`` of ``account.tfvars``.

    ``pipeline_outputs`` are the account stack's outputs by name (``AccountStack.pipeline_outputs``);
    using them here makes the engine read them from the account stack's state.
    """

    def __init__(self, scope: Construct, *, account: AccountConfig, pipeline_outputs: dict[str, str]) -> None:
        super().__init__(
            scope,
            STACK,
            region=account.region,
            tags={**account.tags, "Stack": STACK},
            backend=StateBackend(account=account, key=f"{ACCOUNT_STACK}/{STACK}.tfstate"),
        )
        self.repository = GithubRepository(
            self,
            "repository",
            props=GithubRepositoryProps(
                repository=account.github_repository,
                branch=MAIN_BRANCH,
                required_checks=REQUIRED_CHECKS,
                environments=(
                    DeploymentEnvironment(name="staging", branch=MAIN_BRANCH),
                    DeploymentEnvironment(
                        name=account.github_production_environment,
                        branch=MAIN_BRANCH,
                        reviewer_team=account.github_devops_team,
                    ),
                ),
                variables={
                    **{variable: pipeline_outputs[output] for variable, output in ACTIONS_VARIABLES.items()},
                    **runner_variables(account.project),
                },
            ),
        )
