"""Cost protection: monthly budgets with alerts, and Cost Anomaly Detection, to an encrypted topic."""

from __future__ import annotations

from dataclasses import dataclass

from modules.account_context import AccountContext
from modules.encryption_key import EncryptionKey, EncryptionKeyProps
from modules.policy import Condition, Statement, policy_document
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import (
    budgets_budget,
    ce_anomaly_monitor,
    ce_anomaly_subscription,
    sns_topic,
    sns_topic_policy,
    sns_topic_subscription,
)
from qualisys_infra.core.naming import id_part

PUBLISHERS = ("budgets.amazonaws.com", "costalerts.amazonaws.com")


@dataclass(frozen=True, slots=True, kw_only=True)
class CostAlertsProps:
    """One budget per amount in ``limits_usd`` (alert when actual or forecast spend reaches it,
    story 0.1 AC8), and an anomaly alert when spend reaches ``anomaly_threshold_percent`` of what
    Cost Explorer expects (story 0.1 AC10), to the topic and to ``emails``."""

    name: str
    context: AccountContext
    limits_usd: tuple[int, ...]
    emails: tuple[str, ...]
    anomaly_threshold_percent: int


class CostAlerts(Construct):
    def __init__(self, scope: Construct, id_: str, *, props: CostAlertsProps) -> None:
        super().__init__(scope, id_)
        ctx = props.context
        self.key = EncryptionKey(
            self,
            "key",
            props=EncryptionKeyProps(
                alias_name=f"{props.name}-cost-alerts",
                description=f"{props.name}: cost alert topic",
                context=ctx,
                extra_statements=(
                    Statement(
                        sid="CostServicesPublishEncrypted",
                        actions=("kms:GenerateDataKey*", "kms:Decrypt"),
                        resources=("*",),
                        principals={"Service": list(PUBLISHERS)},
                        conditions=(
                            Condition(test="StringEquals", variable="aws:SourceAccount", values=(ctx.account_id,)),
                        ),
                    ),
                ),
            ),
        )
        self.topic = sns_topic.SnsTopic(self, "topic", name=f"{props.name}-cost-alerts", kms_master_key_id=self.key.arn)
        document = policy_document(
            self,
            "topic-policy-document",
            [
                Statement(
                    sid="CostServicesOfThisAccountPublish",
                    actions=("SNS:Publish",),
                    resources=(self.topic.arn,),
                    principals={"Service": list(PUBLISHERS)},
                    conditions=(
                        Condition(test="StringEquals", variable="aws:SourceAccount", values=(ctx.account_id,)),
                    ),
                )
            ],
        )
        sns_topic_policy.SnsTopicPolicy(self, "topic-policy", arn=self.topic.arn, policy=document.json)
        for email in props.emails:
            sns_topic_subscription.SnsTopicSubscription(
                self, f"email-{id_part(email)}", topic_arn=self.topic.arn, protocol="email", endpoint=email
            )
        self.budgets = [
            budgets_budget.BudgetsBudget(
                self,
                f"budget-{amount}",
                name=f"{props.name}-monthly-{amount}-usd",
                budget_type="COST",
                time_unit="MONTHLY",
                limit_amount=str(amount),
                limit_unit="USD",
                notification=[
                    budgets_budget.BudgetsBudgetNotification(
                        comparison_operator="GREATER_THAN",
                        threshold=100,
                        threshold_type="PERCENTAGE",
                        notification_type=kind,
                        subscriber_sns_topic_arns=[self.topic.arn],
                        subscriber_email_addresses=list(props.emails),
                    )
                    for kind in ("ACTUAL", "FORECASTED")
                ],
            )
            for amount in props.limits_usd
        ]
        self.monitor = ce_anomaly_monitor.CeAnomalyMonitor(
            self,
            "anomaly-monitor",
            name=f"{props.name}-services",
            monitor_type="DIMENSIONAL",
            monitor_dimension="SERVICE",
        )
        self.anomaly_subscription = ce_anomaly_subscription.CeAnomalySubscription(
            self,
            "anomaly-subscription",
            name=f"{props.name}-anomalies",
            frequency="IMMEDIATE",
            monitor_arn_list=[self.monitor.arn],
            subscriber=[ce_anomaly_subscription.CeAnomalySubscriptionSubscriber(type="SNS", address=self.topic.arn)],
            # Spend at N% of what was expected is an impact of N - 100 percent.
            threshold_expression=ce_anomaly_subscription.CeAnomalySubscriptionThresholdExpression(
                dimension=ce_anomaly_subscription.CeAnomalySubscriptionThresholdExpressionDimension(
                    key="ANOMALY_TOTAL_IMPACT_PERCENTAGE",
                    match_options=["GREATER_THAN_OR_EQUAL"],
                    values=[str(props.anomaly_threshold_percent - 100)],
                )
            ),
            depends_on=[self.topic],
        )
