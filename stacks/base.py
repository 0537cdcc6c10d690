"""What every stack shares: the AWS provider with default tags, and its state backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from modules.account_context import AccountContext
from qualisys_infra.core.engine import (
    REQUIRED_TERRAFORM_VERSION,
    Construct,
    Node,
    S3Backend,
    TerraformElement,
    TerraformOutput,
    TerraformStack,
)
from qualisys_infra.core.engine.aws import provider
from qualisys_infra.core.naming import (
    apply_boundary_name,
    logical_id,
    resource_prefix,
    stack_name,
    state_key,
)
from qualisys_infra.core.settings import AccountConfig, EnvironmentConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class StateBackend:
    """Where a stack keeps its state: ``key`` in the bootstrap bucket, encrypted with the state
    key, locked by an S3 lock file (``use_lockfile``, Terraform 1.10+).

    The DynamoDB lock table the spec asks for is created by the bootstrap stack but not named here:
    Terraform 1.11+ deprecates ``dynamodb_table`` and warns at every ``init``. A client that needs
    it (a tool that watches the lock table, or a migration from DynamoDB locking) adds
    ``-backend-config=dynamodb_table=NAME``; Terraform then holds both locks."""

    account: AccountConfig
    key: str


class BaseStack(TerraformStack):
    """A ``TerraformStack`` with the AWS provider (default tags on every resource) and a backend."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        region: str,
        tags: Mapping[str, str],
        backend: StateBackend,
    ) -> None:
        super().__init__(scope, id_)
        # What the path of every element of this stack starts with (stacks are children of the App).
        self._element_prefix = f"{id_}/"
        provider.AwsProvider(
            self,
            "aws",
            region=region,
            default_tags=[provider.AwsProviderDefaultTags(tags=dict(tags))],
        )
        account = backend.account
        S3Backend(
            self,
            bucket=account.state_bucket_name,
            key=backend.key,
            region=account.region,
            encrypt=True,
            kms_key_id=account.state_key_alias,
            use_lockfile=True,
        )
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM_VERSION)

    def _allocate_logical_id(self, tf_element: TerraformElement | Node) -> str:
        """Readable, order-independent Terraform names instead of the engine's hash suffixes.

        The name is the construct path below the stack (see :func:`naming.logical_id`); two paths
        that would read the same are refused here rather than silently merged in the JSON.
        """
        if isinstance(tf_element, Node):
            full = tf_element.path
        elif type(tf_element).to_string is Construct.to_string:
            # The engine calls this back for every element (about 1,100 in a synth of all stacks):
            # ``Construct.toString()`` is the path in one jsii call where ``.node.path`` takes two.
            # Elements that override it (a variable or a local stringifies to its own token, which
            # would ask for this very name) read the node; so does anything not below this stack.
            full = tf_element.to_string()
            if not full.startswith(self.__dict__.get("_element_prefix", "\0")):
                full = tf_element.node.path
        else:
            full = tf_element.node.path
        path = tuple(full.split("/")[1:])
        name = logical_id(path)
        seen: dict[str, tuple[str, ...]] = self.__dict__.setdefault("_logical_ids", {})
        if seen.setdefault(name, path) != path:
            raise ValueError(
                f"{self.node.id}: constructs {'/'.join(seen[name])} and {'/'.join(path)} share the name {name}"
            )
        return name

    def outputs(self, values: Mapping[str, tuple[object, str]]) -> None:
        """One ``TerraformOutput`` per entry: ``name: (value, description)``."""
        for name, (value, description) in values.items():
            TerraformOutput(self, name, value=value, description=description)


class EnvironmentStack(BaseStack):
    """A stack of one environment: named ``<env>-<KIND>``, state at ``<env>/<KIND>.tfstate``, tagged
    with the account's and the environment's tags; ``prefix`` starts its resources' names."""

    KIND: ClassVar[str]

    def __init__(self, scope: Construct, *, account: AccountConfig, env: EnvironmentConfig) -> None:
        super().__init__(
            scope,
            stack_name(env.environment, self.KIND),
            region=env.region,
            tags={**account.tags, **env.tags, "Environment": env.environment, "Stack": self.KIND},
            backend=StateBackend(account=account, key=state_key(env.environment, self.KIND)),
        )
        self.prefix = resource_prefix(account.project, env.environment)
        # The pipeline's apply role may only create roles inside its own boundary, so every role of
        # an environment it applies carries that boundary (a manual one, like dev, has none).
        self.permissions_boundary = apply_boundary_name(account.project, env.environment) if env.pipeline else None

    def account_context(self) -> AccountContext:
        """The stack's account, partition and region, and the permissions boundary of its roles."""
        return AccountContext(self, "account", permissions_boundary=self.permissions_boundary)
