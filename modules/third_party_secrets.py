"""Secrets Manager entries for third-party API keys (story 0.22): no value in code, readers named."""

from __future__ import annotations

from dataclasses import dataclass

from modules.account_context import AccountContext
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.policy import Condition, Effect, Statement, policy_document
from modules.waivers import waive
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import secretsmanager_secret, secretsmanager_secret_policy

# Story 0.22's credentials: the LLM providers (epic 2), Google sign-in and e-mail (epic 1), the
# GitHub App (epic 3), JIRA and Slack (epic 5). Always created; account.tfvars may add more.
STORY_0_22_SECRETS = (
    "openai-api-key",
    "anthropic-api-key",
    "google-oauth-client",
    "sendgrid-api-key",
    "github-app-private-key",
    "jira-api-token",
    "slack-bot-token",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThirdPartySecretsProps:
    """One entry per name of :data:`STORY_0_22_SECRETS` and of ``secrets``, each created empty: an
    operator puts its value (``aws secretsmanager put-secret-value``; JIRA: the site, account e-mail
    and API token; Slack: the bot token and signing secret, each as one JSON object), so no value is
    ever in code, in Terraform JSON or in state. Reading is
    denied to every principal except ``reader_role_arns`` (and the account's administrators
    cannot read either); access is audited by CloudTrail (story 0.7 AC5)."""

    name: str
    context: AccountContext
    secrets: tuple[str, ...]
    reader_role_arns: tuple[str, ...]
    recovery_window_days: int


class ThirdPartySecrets(Construct):
    def __init__(self, scope: Construct, id_: str, *, props: ThirdPartySecretsProps) -> None:
        super().__init__(scope, id_)
        self.key = EncryptionKey(
            self,
            "key",
            props=EncryptionKeyProps(
                alias_name=f"{props.name}-third-party-secrets",
                description=f"{props.name}: third-party API keys",
                context=props.context,
            ),
        )
        self.secrets: dict[str, secretsmanager_secret.SecretsmanagerSecret] = {}
        for secret_name in dict.fromkeys((*STORY_0_22_SECRETS, *props.secrets)):
            secret = secretsmanager_secret.SecretsmanagerSecret(
                self,
                secret_name,
                name=f"{props.name}/third-party/{secret_name}",
                description=f"{secret_name}: value put by an operator, never by Terraform",
                kms_key_id=self.key.arn,
                recovery_window_in_days=props.recovery_window_days,
            )
            waive(
                secret,
                "CKV2_AWS_57",
                "a third-party API key is rotated at its provider by an operator; no rotation function "
                "can issue a new OpenAI, Anthropic, SendGrid, JIRA or Slack credential",
            )
            document = policy_document(
                self,
                f"{secret_name}-policy-document",
                [
                    Statement(
                        sid="OnlyNamedRolesRead",
                        effect=Effect.DENY,
                        actions=("secretsmanager:GetSecretValue",),
                        resources=("*",),
                        principals={"*": ["*"]},
                        # No readers named: nobody reads.
                        conditions=(
                            Condition(test="ArnNotLike", variable="aws:PrincipalArn", values=props.reader_role_arns),
                        )
                        if props.reader_role_arns
                        else (),
                    )
                ],
            )
            secretsmanager_secret_policy.SecretsmanagerSecretPolicy(
                self, f"{secret_name}-policy", secret_arn=secret.arn, policy=document.json, block_public_policy=True
            )
            self.secrets[secret_name] = secret
