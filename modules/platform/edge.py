"""The ingress edge: a WAFv2 web ACL with its logs, and the ingress certificate.

The spec names NGINX Ingress; the community ingress-nginx controller was retired in March 2026, so
the ALB of the AWS Load Balancer Controller carries TLS (:data:`TLS_POLICY`, HTTP redirected to
HTTPS) and this web ACL the rate limiting. Ingresses attach both through annotations
(:meth:`IngressEdge.alb_annotations`).
"""

from __future__ import annotations

from dataclasses import dataclass

from modules.encryption_key import EncryptionKey
from modules.log_group import log_group
from qualisys_infra.core.engine import Construct
from qualisys_infra.core.engine.aws import acm_certificate
from qualisys_infra.core.engine.aws import wafv2_web_acl as waf
from qualisys_infra.core.engine.aws import wafv2_web_acl_logging_configuration as waf_logging

# TLS 1.3 only (the spec: TLS 1.3 for the ALB), with hybrid post-quantum key exchange offered and
# classical key exchange kept for clients without ML-KEM. AWS lists it beside the older TLS 1.3-only
# ELBSecurityPolicy-TLS13-1-3-2021-06 (Elastic Load Balancing, "Security policies for your Application
# Load Balancer", read 2026-12-06). Clients that only speak TLS 1.2 are refused.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"
# The TLS 1.3-only policies AWS names (same source); every other ELBSecurityPolicy-* admits TLS 1.2.
TLS13_ONLY_POLICIES = frozenset(
    {
        "ELBSecurityPolicy-TLS13-1-3-2021-06",
        "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09",
    }
)
WAF_LOG_RETENTION_DAYS = 90


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressEdgeProps:
    """The names, the ingress host and the key of the WAF's logs.

    ``rate_limit_per_minute`` requests per minute per client IP are allowed (the spec: 1,000); more
    are blocked. AWS's known-bad-inputs rules run on every request. The certificate for ``domain``
    is validated by DNS: its records are :attr:`IngressEdge.certificate`'s
    ``domain_validation_options``.
    """

    name: str
    domain: str
    log_key: EncryptionKey
    rate_limit_per_minute: int = 1000


class IngressEdge(Construct):
    """A regional web ACL (rate limit per client, known bad inputs) logged to a KMS-encrypted group
    named ``aws-waf-logs-<name>``, and an ACM certificate for the ingress host."""

    def __init__(self, scope: Construct, id_: str, *, props: IngressEdgeProps) -> None:
        super().__init__(scope, id_)
        name = props.name
        self.web_acl = waf.Wafv2WebAcl(
            self,
            "web-acl",
            name=f"{name}-ingress",
            scope="REGIONAL",
            default_action=waf.Wafv2WebAclDefaultAction(allow=waf.Wafv2WebAclDefaultActionAllow()),
            visibility_config=waf.Wafv2WebAclVisibilityConfig(
                cloudwatch_metrics_enabled=True, metric_name=f"{name}-ingress", sampled_requests_enabled=True
            ),
            rule=[
                waf.Wafv2WebAclRule(
                    name="rate-limit-per-client",
                    priority=1,
                    action=waf.Wafv2WebAclRuleAction(block=waf.Wafv2WebAclRuleActionBlock()),
                    # The statement block is untyped in the bindings: a plain dict, passed through as
                    # written, so in Terraform's own snake_case.
                    statement={
                        "rate_based_statement": {
                            "limit": props.rate_limit_per_minute,
                            "evaluation_window_sec": 60,
                            "aggregate_key_type": "IP",
                        }
                    },
                    visibility_config=_visibility("rate-limit-per-client"),
                ),
                waf.Wafv2WebAclRule(
                    name="aws-known-bad-inputs",
                    priority=2,
                    override_action=waf.Wafv2WebAclRuleOverrideAction(none=waf.Wafv2WebAclRuleOverrideActionNone()),
                    statement={
                        "managed_rule_group_statement": {
                            "name": "AWSManagedRulesKnownBadInputsRuleSet",
                            "vendor_name": "AWS",
                        }
                    },
                    visibility_config=_visibility("aws-known-bad-inputs"),
                ),
            ],
        )
        # WAF only logs to groups whose names start with aws-waf-logs-.
        waf_logs = log_group(
            self, "waf-logs", name=f"aws-waf-logs-{name}", retention_days=WAF_LOG_RETENTION_DAYS, key=props.log_key
        )
        waf_logging.Wafv2WebAclLoggingConfiguration(
            self, "web-acl-logging", resource_arn=self.web_acl.arn, log_destination_configs=[waf_logs.arn]
        )
        self.certificate = self.add_certificate("certificate", props.domain)

    def add_certificate(self, id_: str, domain: str) -> acm_certificate.AcmCertificate:
        """An ACM certificate for one more host behind this edge (Grafana's), validated by DNS like the
        first: its records are the certificate's ``domain_validation_options``."""
        return acm_certificate.AcmCertificate(
            self,
            id_,
            domain_name=domain,
            validation_method="DNS",
            lifecycle={"create_before_destroy": True},
        )

    def alb_annotations(self, certificate: acm_certificate.AcmCertificate | None = None) -> dict[str, str]:
        """The ALB annotations of an internet-facing ingress behind this edge: HTTPS with
        :data:`TLS_POLICY` and ``certificate`` (by default the ingress host's), HTTP redirected to
        HTTPS, this web ACL, pod targets."""
        certificate = certificate or self.certificate
        return {
            "alb.ingress.kubernetes.io/scheme": "internet-facing",
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
            "alb.ingress.kubernetes.io/ssl-redirect": "443",
            "alb.ingress.kubernetes.io/ssl-policy": TLS_POLICY,
            "alb.ingress.kubernetes.io/certificate-arn": certificate.arn,
            "alb.ingress.kubernetes.io/wafv2-acl-arn": self.web_acl.arn,
        }


def _visibility(metric: str) -> waf.Wafv2WebAclRuleVisibilityConfig:
    return waf.Wafv2WebAclRuleVisibilityConfig(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )
