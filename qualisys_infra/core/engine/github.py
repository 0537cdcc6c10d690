"""The GitHub provider bindings (``cdktn-provider-github``) the github stack uses."""

from __future__ import annotations

from cdktn_provider_github import (
    actions_variable,
    data_github_team,
    provider,
    repository,
    repository_environment,
    repository_environment_deployment_policy,
    repository_ruleset,
)

__all__ = [
    "actions_variable",
    "data_github_team",
    "provider",
    "repository",
    "repository_environment",
    "repository_environment_deployment_policy",
    "repository_ruleset",
]
