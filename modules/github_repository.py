"""A GitHub repository's delivery settings: secret scanning with push protection, the ruleset of
its main branch, its deployment environments and its Actions variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from modules.waivers import waive
from qualisys_infra.core.engine import Construct, TerraformResourceLifecycle, Token
from qualisys_infra.core.engine.github import (
    actions_variable,
    data_github_team,
    provider,
    repository,
    repository_environment,
    repository_environment_deployment_policy,
    repository_ruleset,
)
from qualisys_infra.core.naming import id_part

# The github_repository arguments this construct leaves as they are on GitHub: the repository
# exists before the stack (it holds this code), and the provider would otherwise "restore" its
# defaults (issues off, merge commits on, ...) on the first apply after the import. Only the name
# and security_and_analysis are managed. tests/synth/test_github.py checks this list against the
# provider's schema, so an argument added by a provider release is not managed by surprise.
UNMANAGED_REPOSITORY_ARGUMENTS = (
    "allow_auto_merge",
    "allow_forking",
    "allow_merge_commit",
    "allow_rebase_merge",
    "allow_squash_merge",
    "allow_update_branch",
    "archived",
    "auto_init",
    "default_branch",
    "delete_branch_on_merge",
    "description",
    "etag",
    "fork",
    "gitignore_template",
    "has_discussions",
    "has_downloads",
    "has_issues",
    "has_projects",
    "has_wiki",
    "homepage_url",
    "ignore_vulnerability_alerts_during_read",
    "is_template",
    "license_template",
    "merge_commit_message",
    "merge_commit_title",
    "pages",
    "private",
    "source_owner",
    "source_repo",
    "squash_merge_commit_message",
    "squash_merge_commit_title",
    "template",
    "topics",
    "visibility",
    "vulnerability_alerts",
    "web_commit_signoff_required",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentEnvironment:
    """A GitHub environment. It accepts deployments from ``branch`` only; with ``reviewer_team``
    (a team slug) a deployment waits for one of that team's members, never the one who started it,
    and administrators cannot skip the wait."""

    name: str
    branch: str
    reviewer_team: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GithubRepositoryProps:
    """``repository`` is ``OWNER/REPO``; the owner must be an organization when a reviewer team is named.

    Secret scanning and its push protection are on: a push that contains a recognised credential is
    refused, and any that lands is alerted. On a private repository GitHub requires its Secret
    Protection (Advanced Security) licence for both; on a public one they are free. The repository
    itself is imported, never created, and Terraform refuses to destroy it.

    The ruleset on ``branch`` requires a pull request with one approval, including the code owners'
    (stale approvals dismissed on push, the last push approved by someone else, conversations
    resolved) and every one of ``required_checks`` passing on an up-to-date branch; it refuses
    force pushes and deletion, and nobody bypasses it. ``variables`` become Actions variables
    (readable by every workflow of the repository: never put a secret there).
    """

    repository: str
    branch: str
    required_checks: tuple[str, ...]
    environments: tuple[DeploymentEnvironment, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    required_approving_review_count: int = 1


class GithubRepository(Construct):
    """The GitHub provider for the repository's owner, the ``github_repository`` (imported, only its
    security and analysis settings managed), an ``github_repository_ruleset``, an
    ``github_repository_environment`` (with deployment branch policy) per environment and an
    ``github_actions_variable`` per variable.

    The provider authenticates as Terraform's caller does (``GITHUB_TOKEN``, a GitHub App or
    ``gh auth``); no credential is written into the configuration.
    """

    def __init__(self, scope: Construct, id_: str, *, props: GithubRepositoryProps) -> None:
        super().__init__(scope, id_)
        owner, name = props.repository.split("/", 1)
        provider.GithubProvider(self, "github", owner=owner)
        self.repository = repository.Repository(
            self,
            "repository",
            name=name,
            security_and_analysis=repository.RepositorySecurityAndAnalysis(
                secret_scanning=repository.RepositorySecurityAndAnalysisSecretScanning(status="enabled"),
                secret_scanning_push_protection=repository.RepositorySecurityAndAnalysisSecretScanningPushProtection(
                    status="enabled"
                ),
            ),
            # Should the resource ever leave the configuration, the repository is archived, not deleted.
            archive_on_destroy=True,
            lifecycle=TerraformResourceLifecycle(
                prevent_destroy=True, ignore_changes=list(UNMANAGED_REPOSITORY_ARGUMENTS)
            ),
        )
        # Adopt the existing repository: an import block, a no-op once it is in the state.
        self.repository.import_from(name)
        waive(
            self.repository,
            "CKV_GIT_1",
            "the repository's visibility is left as its owners set it on GitHub (an ignored argument): "
            "this resource manages only secret scanning and push protection",
        )
        waive(
            self.repository,
            "CKV2_GIT_1",
            "the main branch is protected by this construct's github_repository_ruleset (pull request, "
            "code-owner review, required checks, no force push or deletion), which the check does not "
            "count as branch protection",
        )
        self.ruleset = repository_ruleset.RepositoryRuleset(
            self,
            "ruleset",
            name=f"protect-{props.branch}",
            repository=name,
            target="branch",
            enforcement="active",
            conditions=repository_ruleset.RepositoryRulesetConditions(
                ref_name=repository_ruleset.RepositoryRulesetConditionsRefName(
                    include=[f"refs/heads/{props.branch}"], exclude=[]
                )
            ),
            rules=repository_ruleset.RepositoryRulesetRules(
                deletion=True,
                non_fast_forward=True,
                pull_request=repository_ruleset.RepositoryRulesetRulesPullRequest(
                    required_approving_review_count=props.required_approving_review_count,
                    require_code_owner_review=True,
                    dismiss_stale_reviews_on_push=True,
                    require_last_push_approval=True,
                    required_review_thread_resolution=True,
                ),
                required_status_checks=repository_ruleset.RepositoryRulesetRulesRequiredStatusChecks(
                    required_check=[
                        repository_ruleset.RepositoryRulesetRulesRequiredStatusChecksRequiredCheck(context=check)
                        for check in props.required_checks
                    ],
                    strict_required_status_checks_policy=True,
                ),
            ),
        )
        teams: dict[str, data_github_team.DataGithubTeam] = {}
        self.environments: dict[str, repository_environment.RepositoryEnvironment] = {}
        for env in props.environments:
            reviewers = None
            if env.reviewer_team is not None:
                team = teams.get(env.reviewer_team)
                if team is None:
                    team = data_github_team.DataGithubTeam(
                        self, f"team-{id_part(env.reviewer_team)}", slug=env.reviewer_team, summary_only=True
                    )
                    teams[env.reviewer_team] = team
                reviewers = repository_environment.RepositoryEnvironmentReviewers(teams=[Token.as_number(team.id)])
            environment = repository_environment.RepositoryEnvironment(
                self,
                f"environment-{id_part(env.name)}",
                repository=name,
                environment=env.name,
                reviewers=reviewers,
                prevent_self_review=env.reviewer_team is not None,
                can_admins_bypass=False,
                deployment_branch_policy=repository_environment.RepositoryEnvironmentDeploymentBranchPolicy(
                    protected_branches=False, custom_branch_policies=True
                ),
            )
            self.environments[env.name] = environment
            repository_environment_deployment_policy.RepositoryEnvironmentDeploymentPolicy(
                self,
                f"environment-{id_part(env.name)}-branch",
                repository=name,
                environment=environment.environment,
                branch_pattern=env.branch,
            )
        self.variables = {
            variable: actions_variable.ActionsVariable(
                self, f"variable-{id_part(variable)}", repository=name, variable_name=variable, value=value
            )
            for variable, value in props.variables.items()
        }
