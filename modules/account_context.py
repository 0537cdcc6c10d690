"""The account, partition and region a stack deploys into, read once per stack."""

from __future__ import annotations

from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import data_aws_caller_identity, data_aws_partition, data_aws_region


class AccountContext(Construct):
    """Data sources for the caller's account id, the partition and the region, as ARN parts."""

    def __init__(self, scope: Construct, id_: str, *, permissions_boundary: str | None = None) -> None:
        """``permissions_boundary`` names the IAM policy every role created in this stack carries
        (the apply role's boundary of the stack's environment); ``None`` for none."""
        super().__init__(scope, id_)
        self.account_id: str = data_aws_caller_identity.DataAwsCallerIdentity(self, "caller").account_id
        self.partition: str = data_aws_partition.DataAwsPartition(self, "partition").partition
        self.region: str = data_aws_region.DataAwsRegion(self, "region").region
        self.permissions_boundary_arn: str | None = (
            None if permissions_boundary is None else self.iam_arn(f"policy/{permissions_boundary}")
        )

    @property
    def root_arn(self) -> str:
        return self.iam_arn("root")

    def iam_arn(self, resource: str) -> str:
        """An IAM ARN in this account (IAM is global: no region), e.g. ``iam_arn("role/NAME")``."""
        return f"arn:{self.partition}:iam::{self.account_id}:{resource}"

    def arn(self, service: str, resource: str, *, regional: bool = True, with_account: bool = True) -> str:
        """An ARN in this account: ``arn:<partition>:<service>:<region>:<account>:<resource>``."""
        region = self.region if regional else ""
        account = self.account_id if with_account else ""
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"
