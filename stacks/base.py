"""What every stack shares: the AWS provider with default tags, and its state backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from qualisys_infra.config import AccountConfig
from qualisys_infra.engine import (
    REQUIRED_TERRAFORM_VERSION,
    Construct,
    S3Backend,
    TerraformStack,
)
from qualisys_infra.engine.aws import provider


@dataclass(frozen=True, slots=True, kw_only=True)
class StateBackend:
    """Where a stack keeps its state: ``key`` in the bootstrap bucket, encrypted with the state
    key, locked both by an S3 lock file (``use_lockfile``) and by the DynamoDB table the spec asks
    for."""

    account: AccountConfig
    key: str


class PlatformStack(TerraformStack):
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
            dynamodb_table=account.lock_table_name,
        )
        self.add_override("terraform.required_version", REQUIRED_TERRAFORM_VERSION)
