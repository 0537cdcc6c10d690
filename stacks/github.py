"""``github``: the repository's own delivery settings, kept as code (issue "Delivery pipeline").

The ruleset of the main branch (pull request, code-owner review, the pipeline's checks: the tests,
the scan and a plan of every environment, no force push or deletion), a GitHub environment for each
environment CI applies (``delivery = "pipeline"``), whose name the apply and release roles trust (one
with ``approval = true`` waits for the DevOps team, story 0.8 AC8), and the Actions variables the
workflows read: the account stack's role ARNs and region, and the label of each environment's
in-cluster runner scale set of each duty (``CLUSTER_RUNNER_PLAN_STAGING = qualisys-staging-plan``:
the platform stacks' runners, :mod:`modules.platform.runners`). Every list here comes from
``Settings.deliveries``: a new ``environments/<name>.tfvars`` is a new environment here too.
"""

from __future__ import annotations

from collections.abc import Iterable

from modules.github_delivery import actions_variables, required_checks
from modules.github_repository import DeploymentEnvironment, GithubRepository, GithubRepositoryProps
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.naming import ACCOUNT_STACK, MAIN_BRANCH, RUNNER_DUTIES, runner_label, runner_variable
from qualisys_infra.core.naming import GITHUB_STACK as STACK
from qualisys_infra.core.settings import AccountConfig, Delivery, EnvironmentDelivery
from stacks.base import BaseStack, StateBackend


def runner_variables(project: str, environments: Iterable[str]) -> dict[str, str]:
    """Actions variable -> runner label, for every environment and duty (every cluster runs both)."""
    return {
        runner_variable(env, duty): runner_label(project, env, duty) for env in environments for duty in RUNNER_DUTIES
    }


class GithubStack(BaseStack):
    """The GitHub repository ``github_repository`` of ``account.tfvars``.

    ``pipeline_outputs`` are the account stack's outputs by name (``AccountStack.pipeline_outputs``);
    using them here makes the engine read them from the account stack's state. ``deliveries`` are
    every environment's (``Settings.deliveries``).
    """

    def __init__(
        self,
        scope: Construct,
        *,
        account: AccountConfig,
        deliveries: tuple[EnvironmentDelivery, ...],
        pipeline_outputs: dict[str, str],
    ) -> None:
        if not deliveries:
            raise ValueError(f"{STACK}: no environments (Settings.deliveries is empty; load_settings fills it)")
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
                required_checks=required_checks(deliveries),
                # The GitHub environment's name is the environment's: the apply and release roles
                # trust exactly `repo:OWNER/REPO:environment:<name>`.
                environments=tuple(
                    DeploymentEnvironment(
                        name=d.name,
                        branch=MAIN_BRANCH,
                        reviewer_team=account.github_devops_team if d.approval else None,
                    )
                    for d in deliveries
                    if d.delivery is Delivery.PIPELINE
                ),
                variables={
                    **{
                        variable: pipeline_outputs[output] for variable, output in actions_variables(deliveries).items()
                    },
                    **runner_variables(account.project, (d.name for d in deliveries)),
                },
            ),
        )
