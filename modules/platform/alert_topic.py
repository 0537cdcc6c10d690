"""The environment's alert topic: where Alertmanager publishes every alert, mailed to the settings' addresses."""

from __future__ import annotations

from dataclasses import dataclass

from modules.account_context import AccountContext
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.policy import Condition, Effect, Statement, policy_document
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import sns_topic, sns_topic_policy, sns_topic_subscription
from qualisys_infra.core.naming import id_part

PUBLISH = ("sns:Publish",)
# What a publisher needs of the topic's key: SNS encrypts each message with a data key.
PUBLISH_KEY_USE = ("kms:GenerateDataKey*", "kms:Decrypt")


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertTopicProps:
    """``<name>-alerts``, encrypted with its own customer key, each of ``emails`` subscribed (AWS mails
    each a confirmation link; an unconfirmed address receives nothing)."""

    name: str
    context: AccountContext
    emails: tuple[str, ...]


class AlertTopic(Construct):
    """``aws_sns_topic`` with its key and e-mail subscriptions; :meth:`allow_publisher` writes the topic
    policy that lets exactly one role publish, over TLS only."""

    def __init__(self, scope: Construct, id_: str, *, props: AlertTopicProps) -> None:
        super().__init__(scope, id_)
        self._context = props.context
        self.key = EncryptionKey(
            self,
            "key",
            props=EncryptionKeyProps(
                alias_name=f"{props.name}-alerts", description=f"{props.name}: alert topic", context=props.context
            ),
        )
        self.topic = sns_topic.SnsTopic(self, "topic", name=f"{props.name}-alerts", kms_master_key_id=self.key.arn)
        self.arn: str = self.topic.arn
        for email in props.emails:
            sns_topic_subscription.SnsTopicSubscription(
                self, f"email-{id_part(email)}", topic_arn=self.arn, protocol="email", endpoint=email
            )

    def publisher_statements(self) -> tuple[Statement, ...]:
        """What a publisher's role needs: publish to this topic, with this topic's key, nothing else."""
        return (
            Statement(sid="PublishAlerts", actions=PUBLISH, resources=(self.arn,)),
            Statement(sid="EncryptAlertsWithTheTopicKey", actions=PUBLISH_KEY_USE, resources=(self.key.arn,)),
        )

    def allow_publisher(self, role_arn: str) -> None:
        """The topic policy: ``role_arn`` may publish; no request without TLS is served."""
        document = policy_document(
            self,
            "policy-document",
            [
                Statement(
                    sid="AlertmanagerPublishes",
                    actions=PUBLISH,
                    resources=(self.arn,),
                    principals={"AWS": [role_arn]},
                ),
                Statement(
                    sid="DenyInsecureTransport",
                    effect=Effect.DENY,
                    actions=PUBLISH,
                    resources=(self.arn,),
                    principals={"AWS": ["*"]},
                    conditions=(Condition(test="Bool", variable="aws:SecureTransport", values=("false",)),),
                ),
            ],
        )
        sns_topic_policy.SnsTopicPolicy(self, "policy", arn=self.arn, policy=document.json)
