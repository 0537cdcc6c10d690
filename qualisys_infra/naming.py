"""Names derived from settings: stack names, state keys and resource name prefixes.

Stack and construct names are a public contract: renaming one moves state or replaces resources.
"""

from __future__ import annotations

BOOTSTRAP_STACK = "bootstrap"
ACCOUNT_STACK = "account"
# In dependency order: each kind may use the outputs of the kinds before it.
ENVIRONMENT_STACK_KINDS = ("network", "cluster", "data", "platform")


def stack_name(environment: str, kind: str) -> str:
    """``<env>-<kind>``, e.g. ``dev-network``."""
    return f"{environment}-{kind}"


def state_key(environment: str, kind: str) -> str:
    """The stack's state object in the state bucket: ``<env>/<kind>.tfstate``."""
    return f"{environment}/{kind}.tfstate"


def resource_prefix(project: str, environment: str) -> str:
    """The prefix of every named resource of an environment, e.g. ``qualisys-dev``."""
    return f"{project}-{environment}"
