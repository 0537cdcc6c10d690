"""ECR repositories: immutable tags, scan on push, KMS, keep the last N images, push by CI only."""

from __future__ import annotations

import json
from dataclasses import dataclass

from modules.account_context import AccountContext
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.policy import Condition, Effect, Statement, policy_document
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import ecr_lifecycle_policy, ecr_repository, ecr_repository_policy

PUSH_ACTIONS = (
    "ecr:PutImage",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:BatchDeleteImage",
)
# Adding a tag to an image already in the repository: a manifest put again under a new tag, no layer.
TAG_ACTIONS = ("ecr:PutImage",)


def runner_image_repository(project: str) -> str:
    """The repository of the cluster runners' image (``dev/runner.Dockerfile``, pushed by
    ``.github/workflows/runner-image.yml``): ``<project>-actions-runner``."""
    return f"{project}-actions-runner"


def image_reference(*, account_id: str, region: str, repository: str, tag_or_digest: str) -> str:
    """An image of this account's registry: ``ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG``, or
    ``...@sha256:...`` when given a digest."""
    separator = "@" if tag_or_digest.startswith("sha256:") else ":"
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com/{repository}{separator}{tag_or_digest}"


def runner_image(account_id: str, region: str, project: str, tag_or_digest: str) -> str:
    """The cluster runners' image in the account's registry (make and the AWS CLI on GitHub's runner)."""
    return image_reference(
        account_id=account_id, region=region, repository=runner_image_repository(project), tag_or_digest=tag_or_digest
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerRegistryProps:
    """Repositories and who pushes. Pulls are granted to the cluster node roles by their own
    ``AmazonEC2ContainerRegistryPullOnly`` policy; pushes are denied to every principal but
    ``pusher_role_arn`` by each repository's policy (story 0.6, story 0.8 AC7). ``tagger_role_arns``
    may add a tag to an image the repository holds (``PutImage`` of its manifest) and nothing else of
    a push: no layer upload, no delete (the staging release role records a healthy release so)."""

    name: str
    context: AccountContext
    repositories: tuple[str, ...]
    keep_images: int
    pusher_role_arn: str
    tagger_role_arns: tuple[str, ...] = ()


def lifecycle_rules(keep: int) -> str:
    """The ECR lifecycle policy (ECR's own JSON format, not IAM): expire all but the newest ``keep``."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"keep the last {keep} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
                    "action": {"type": "expire"},
                }
            ]
        },
        sort_keys=True,
    )


class ContainerRegistry(Construct):
    def __init__(self, scope: Construct, id_: str, *, props: ContainerRegistryProps) -> None:
        super().__init__(scope, id_)
        self.key = EncryptionKey(
            self,
            "key",
            props=EncryptionKeyProps(
                alias_name=f"{props.name}-ecr", description=f"{props.name}: container images", context=props.context
            ),
        )
        self.repositories: dict[str, ecr_repository.EcrRepository] = {}
        for name in props.repositories:
            repository = ecr_repository.EcrRepository(
                self,
                name,
                name=name,
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=ecr_repository.EcrRepositoryImageScanningConfiguration(scan_on_push=True),
                encryption_configuration=[
                    ecr_repository.EcrRepositoryEncryptionConfiguration(encryption_type="KMS", kms_key=self.key.arn)
                ],
                force_delete=False,
            )
            ecr_lifecycle_policy.EcrLifecyclePolicy(
                self, f"{name}-lifecycle", repository=repository.name, policy=lifecycle_rules(props.keep_images)
            )
            document = policy_document(
                self,
                f"{name}-policy-document",
                [
                    Statement(
                        sid="OnlyTheCiRolePushes",
                        effect=Effect.DENY,
                        actions=tuple(a for a in PUSH_ACTIONS if a not in TAG_ACTIONS),
                        resources=(repository.arn,),
                        principals={"*": ["*"]},
                        conditions=(
                            Condition(
                                test="ArnNotEquals", variable="aws:PrincipalArn", values=(props.pusher_role_arn,)
                            ),
                        ),
                    ),
                    Statement(
                        sid="OnlyTheCiRoleAndTheTaggersPutImages",
                        effect=Effect.DENY,
                        actions=TAG_ACTIONS,
                        resources=(repository.arn,),
                        principals={"*": ["*"]},
                        conditions=(
                            Condition(
                                test="ArnNotEquals",
                                variable="aws:PrincipalArn",
                                values=(props.pusher_role_arn, *props.tagger_role_arns),
                            ),
                        ),
                    ),
                ],
            )
            ecr_repository_policy.EcrRepositoryPolicy(
                self, f"{name}-policy", repository=repository.name, policy=document.json
            )
            self.repositories[name] = repository
