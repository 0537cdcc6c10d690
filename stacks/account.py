"""``account``: what belongs to the AWS account rather than to one environment.

IAM for people (MFA everywhere), GitHub Actions deploy roles, the infrastructure pipeline's plan and
apply roles, CloudTrail, cost alarms, the shared container registry and the third-party API key
entries (stories 0.1, 0.6, 0.7, 0.22).
"""

from __future__ import annotations

from modules.account_context import AccountContext
from modules.audit_trail import AuditTrail, AuditTrailProps
from modules.container_registry import ContainerRegistry, ContainerRegistryProps, runner_image_repository
from modules.cost_alerts import CostAlerts, CostAlertsProps
from modules.github_delivery import (
    RECORDING_ENVIRONMENT,
    DeliveryRoles,
    DeliveryRolesProps,
    actions_variables,
    image_pusher_role,
    pipeline_environments,
)
from modules.github_oidc import GithubOidc
from modules.iam_baseline import HumanAccess, IamBaseline, IamBaselineProps
from modules.secure_bucket import BucketRole, SecureBucket, SecureBucketProps
from modules.third_party_secrets import ThirdPartySecrets, ThirdPartySecretsProps
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.naming import ACCOUNT_STACK as STACK
from qualisys_infra.core.naming import BOOTSTRAP_STACK, MAIN_BRANCH, SERVICES
from qualisys_infra.core.settings import AccountConfig, EnvironmentDelivery
from stacks.base import BaseStack, StateBackend


class AccountStack(BaseStack):
    """IAM, GitHub OIDC, CloudTrail, budgets and anomaly alerts, ECR, third-party secrets.

    ``deliveries`` are every environment's (``Settings.deliveries``): each pipeline environment gets
    its apply role, boundary and release role; every environment's state folder is fenced off from
    the other environments' apply roles.
    """

    def __init__(
        self, scope: Construct, *, account: AccountConfig, deliveries: tuple[EnvironmentDelivery, ...]
    ) -> None:
        if not deliveries:
            raise ValueError(f"{STACK}: no environments (Settings.deliveries is empty; load_settings fills it)")
        super().__init__(
            scope,
            STACK,
            region=account.region,
            tags={**account.tags, "Stack": STACK},
            backend=StateBackend(account=account, key=f"{STACK}/{STACK}.tfstate"),
        )
        project = account.project
        ctx = AccountContext(self, "account")
        role_arn = ctx.iam_arn("role/")
        self.iam = IamBaseline(
            self,
            "iam",
            props=IamBaselineProps(
                context=ctx,
                access=(
                    HumanAccess(
                        group=f"{project}-administrators",
                        role=account.admin_role_name,
                        managed_policies=("AdministratorAccess",),
                        description="Break-glass administration; MFA only; EKS cluster admin",
                    ),
                    HumanAccess(
                        group=f"{project}-developers",
                        role=f"{project}-developer",
                        managed_policies=("ReadOnlyAccess",),
                        description="Developers: read everything, change nothing; MFA only",
                    ),
                    HumanAccess(
                        group=f"{project}-readonly",
                        role=f"{project}-readonly",
                        managed_policies=("job-function/ViewOnlyAccess",),
                        description="Auditors and stakeholders: metadata only, no data; MFA only",
                    ),
                ),
            ),
        )
        github = GithubOidc(self, "github", context=ctx)
        repo = account.github_repository
        self.ci_role = image_pusher_role(
            github,
            "ci-staging",
            name=account.ci_deployer_role_name,
            project=project,
            repository=repo,
            branches=account.github_deploy_branches,
        )
        self.delivery = DeliveryRoles(
            self,
            "delivery",
            props=DeliveryRolesProps(
                project=project,
                context=ctx,
                oidc=github,
                repository=repo,
                main_branch=MAIN_BRANCH,
                environments=pipeline_environments(deliveries),
                state_bucket_name=account.state_bucket_name,
                state_prefixes=(*(d.name for d in deliveries), STACK, BOOTSTRAP_STACK),
                state_key_alias=account.state_key_alias,
                lock_table_name=account.lock_table_name,
                protected_role_names=(account.ci_deployer_role_name,),
            ),
        )
        access_logs = SecureBucket(
            self,
            "access-logs",
            props=SecureBucketProps(
                bucket_name=account.account_access_log_bucket_name,
                role=BucketRole.ACCESS_LOGS,
                context=ctx,
                expiration_days=account.access_log_retention_days,
            ),
        )
        self.trail = AuditTrail(
            self,
            "trail",
            props=AuditTrailProps(
                name=project,
                context=ctx,
                bucket_name=account.cloudtrail_bucket_name,
                access_log_bucket=access_logs,
                retention_days=account.cloudtrail_retention_days,
                data_event_bucket_names=(account.state_bucket_name,),
            ),
        )
        self.costs = CostAlerts(
            self,
            "costs",
            props=CostAlertsProps(
                name=project,
                context=ctx,
                limits_usd=account.budget_limits_usd,
                emails=account.budget_alert_emails,
                anomaly_threshold_percent=account.anomaly_threshold_percent,
            ),
        )
        self.registry = ContainerRegistry(
            self,
            "ecr",
            props=ContainerRegistryProps(
                name=project,
                context=ctx,
                # Every service the apps stacks run has its repository, whatever account.tfvars lists,
                # and so does the cluster runners' image (dev/runner.Dockerfile).
                repositories=tuple(
                    dict.fromkeys(
                        (
                            *account.ecr_repositories,
                            *(f"{project}-{name}" for name in SERVICES),
                            runner_image_repository(project),
                        )
                    )
                ),
                keep_images=account.ecr_keep_images,
                pusher_role_arn=self.ci_role.arn,
                # The staging release role records a healthy release as a tag (modules.github_delivery).
                tagger_role_arns=tuple(
                    role.arn for env, role in self.delivery.release_roles.items() if env == RECORDING_ENVIRONMENT
                ),
            ),
        )
        self.secrets = ThirdPartySecrets(
            self,
            "secrets",
            props=ThirdPartySecretsProps(
                name=project,
                context=ctx,
                secrets=account.third_party_secrets,
                reader_role_arns=tuple(role_arn + name for name in account.secret_reader_role_names),
                recovery_window_days=account.secret_recovery_window_days,
            ),
        )
        # What the pipeline's workflows need, named as actions_variables() says; the github stack reads
        # these values (a cross-stack reference, read through terraform_remote_state).
        self.pipeline_outputs: dict[str, str] = {
            "plan_role_arn": self.delivery.plan_role.arn,
            **{f"apply_role_arn_{env}": role.arn for env, role in self.delivery.apply_roles.items()},
            **{f"release_role_arn_{env}": role.arn for env, role in self.delivery.release_roles.items()},
            "region": ctx.region,
            "ci_deployer_role_arn": self.ci_role.arn,
        }
        missing = set(actions_variables(deliveries).values()) ^ set(self.pipeline_outputs)
        if missing:
            raise ValueError(f"{STACK}: the Actions variables and the pipeline outputs differ in {sorted(missing)}")
        outputs: dict[str, tuple[object, str]] = {
            "plan_role_arn": (self.pipeline_outputs["plan_role_arn"], "Role of terraform plan (pull requests, main)"),
            **{
                f"apply_role_arn_{env}": (
                    self.pipeline_outputs[f"apply_role_arn_{env}"],
                    f"Role of terraform apply in the GitHub environment {env}",
                )
                for env in self.delivery.apply_roles
            },
            **{
                f"release_role_arn_{env}": (
                    self.pipeline_outputs[f"release_role_arn_{env}"],
                    f"Role of service-release.yml's job in the GitHub environment {env}: `qualisys-infra release`",
                )
                for env in self.delivery.release_roles
            },
            "region": (self.pipeline_outputs["region"], "Region of the account stack and the state bucket"),
            "ci_deployer_role_arn": (
                self.pipeline_outputs["ci_deployer_role_arn"],
                "Role GitHub Actions assumes on main to push service images",
            ),
            "github_oidc_provider_arn": (github.provider.arn, "GitHub Actions OIDC provider"),
            "admin_role_arn": (self.iam.roles[f"{project}-administrators"].arn, "MFA-only administrator role"),
            "ecr_repository_urls": (
                {name: repo_.repository_url for name, repo_ in self.registry.repositories.items()},
                "Image repositories",
            ),
            "cost_alert_topic_arn": (self.costs.topic.arn, "SNS topic of budget and anomaly alerts"),
            "cloudtrail_bucket_name": (self.trail.bucket.name, "Bucket of the CloudTrail log files"),
            "third_party_secret_arns": (
                {name: secret.arn for name, secret in self.secrets.secrets.items()},
                "Secrets Manager entries to fill with put-secret-value",
            ),
        }
        self.outputs(outputs)
