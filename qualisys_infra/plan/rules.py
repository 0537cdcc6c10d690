"""Every rule a review judges a plan by: its code, its severity when it blocks, and what it means in
one line. The documentation's guardrails page (``qualisys-infra reference``) is generated from this
table; a test fails when a code that :mod:`qualisys_infra.plan.guardrails`, :mod:`~qualisys_infra.plan.iam`,
:mod:`~qualisys_infra.plan.eks_versions` or :mod:`~qualisys_infra.plan.cost_review` reports is missing
here, or when this table names a code nothing reports.

``severity`` is what a finding of the rule says when it blocks (``plan``, ``review`` and ``deploy``
exit 1); a rule that never blocks says ``warning``. A blocking rule that a person allowed (a destroy by
``--allow-destroy`` or ``allow_destroy``, an IAM problem by a reviewed waiver) is reported as a warning
naming who allowed it: ``allowed_by`` says how.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    severity: str  # critical, high, "critical or high", warning
    blocking: bool
    meaning: str
    allowed_by: str = ""


WAIVER = "a reviewed IAM waiver (`qualisys_infra/plan/iam.py`)"
DESTROY = "`--allow-destroy ADDRESS` or `allow_destroy` in `environments/<env>.tfvars`"

RULES: tuple[Rule, ...] = (
    Rule(
        "G001",
        "critical",
        True,
        "a protected resource (S3 bucket, DynamoDB table, KMS key, database, cache, EKS cluster, ECR "
        "repository, secret, CloudTrail trail, log group, Kubernetes namespace, the GitHub repository) is "
        "deleted or replaced",
        DESTROY,
    ),
    Rule(
        "G002",
        "warning",
        False,
        "a protected resource leaves Terraform's management (removed from state, not destroyed)",
    ),
    Rule(
        "G003",
        "critical",
        True,
        "ingress other than ports 80 and 443 whose networks, added up per security group, protocol and port, "
        "reach more than a /16 of public IPv4 or a /48 of IPv6",
    ),
    Rule(
        "G004",
        "critical or high",
        True,
        "an IAM statement allows every action on every resource, or full access to every resource of a "
        "service, or `NotAction`/`NotResource` under `Allow`",
        WAIVER,
    ),
    Rule("G005", "critical", True, "encryption switched off (at rest or in transit)"),
    Rule("G006", "critical", True, "deletion protection switched off"),
    Rule(
        "G007",
        "critical",
        True,
        "something made public: `publicly_accessible`, an S3 public-access block off, a public ACL or grant, "
        "an EKS public endpoint open to the internet, a Lambda function URL without auth",
    ),
    Rule("G008", "critical", True, "Terraform reported errors while planning (`errored = true`)"),
    Rule("G009", "critical", True, "a change with actions the review does not know, so it cannot be judged"),
    Rule("G010", "warning", False, "the plan is incomplete (deferred changes)"),
    Rule("G011", "warning", False, "a protected resource was deleted outside Terraform (drift)"),
    Rule(
        "G012",
        "critical or high",
        True,
        "privilege escalation: IAM write, `iam:PassRole`, `sts:AssumeRole` or code updates on every (or a "
        "wildcard of) role, user, group or policy",
        WAIVER,
    ),
    Rule(
        "G013",
        "critical or high",
        True,
        "an AWS-managed policy that grants administration or IAM write is attached (AdministratorAccess, "
        "PowerUserAccess, IAMFullAccess, AmazonEKSClusterAdminPolicy, ...)",
        WAIVER,
    ),
    Rule(
        "G014",
        "critical or high",
        True,
        "a public principal (`*`, `NotPrincipal`) in a trust or resource policy without a condition that limits it",
        WAIVER,
    ),
    Rule(
        "G015",
        "critical or high",
        True,
        "a GitHub OIDC trust whose `sub` matches more than one repository, or whose `aud` is not sts.amazonaws.com",
        WAIVER,
    ),
    Rule("G016", "critical", True, "an EKS cluster's version moves by more than one minor, or back"),
    Rule("G017", "warning", False, "an EKS cluster's version changed outside Terraform (drift: AWS upgraded it)"),
    Rule(
        "G018",
        "critical or high",
        True,
        "reading a whole service's data (every S3 object, secret, KMS key, SSM parameter, DynamoDB table) "
        "without a condition that names the resources",
        WAIVER,
    ),
    Rule(
        "G019",
        "critical or high",
        True,
        "a principal or condition names an AWS account other than the plan's own",
        WAIVER,
    ),
    Rule("G020", "critical", True, "someone is added to a group that administers"),
    Rule(
        "G021",
        "critical",
        True,
        "data lost or the audit trail stopped without a destroy: logging off, a key disabled, versioning "
        "suspended, objects expired, backups or snapshots off, retention shortened, force-destroy on",
        DESTROY,
    ),
    Rule(
        "C001",
        "high",
        True,
        "the plan raises the environment's estimated monthly cost over its `monthly_cost_limit` (a warning "
        "when it was over already, or when part of the cost is known only after apply)",
    ),
)

BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}
