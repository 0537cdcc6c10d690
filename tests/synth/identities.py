"""What each identity of the platform may do, computed from the synthesized stacks.

An identity is an IAM role. What it may do inside a cluster is the union of the EKS access policies
associated with its access entry (:data:`ACCESS_POLICIES`, each in its access scope) and the RBAC
Roles and ClusterRoles bound to the Kubernetes groups the entry maps it to. What it may do in AWS is
decided by its identity policies (inline statements and attached AWS managed policies), its
permissions boundary and the resource's own policy, explicit denies first.

Two approximations, both on the side of finding a right, so that "cannot" is proven and never guessed:

- an AWS managed policy other than those written out in :data:`MANAGED_POLICIES` is read as an upper
  bound (``ReadOnlyAccess``: every ``Get*``, ``List*``, ``Describe*``... action on everything, which
  is more than it grants);
- a condition that cannot be decided from the request's context holds for an Allow and does not hold
  for a Deny.

The system groups every authenticated user is in (``system:authenticated``: discovery, the
``selfsubject*reviews``) grant no verb on any namespaced resource and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# --- Kubernetes ----------------------------------------------------------------------------------

ALL = "*"
READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")

# The EKS access policies' rules: (API groups, resources, verbs). From awsdocs/amazon-eks-user-guide,
# latest/ug/manage-access/k8s-access/access-policy-reference.adoc at 145543a ("Review access policy
# permissions"), read 2026-12-06. AmazonEKSClusterAdminPolicy's non-resource URLs (``*``) are left
# out: they reach no object.
_EDIT_READS = (
    (("apps",), ("controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                 "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
                 "statefulsets/scale", "statefulsets/status"), READ),
    (("autoscaling",), ("horizontalpodautoscalers", "horizontalpodautoscalers/status"), READ),
    (("batch",), ("cronjobs", "cronjobs/status", "jobs", "jobs/status"), READ),
    (("discovery.k8s.io",), ("endpointslices",), READ),
    (("extensions",), ("daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
                       "ingresses", "ingresses/status", "networkpolicies", "replicasets", "replicasets/scale",
                       "replicasets/status", "replicationcontrollers/scale"), READ),
    (("networking.k8s.io",), ("ingresses", "ingresses/status", "networkpolicies"), READ),
    (("policy",), ("poddisruptionbudgets", "poddisruptionbudgets/status"), READ),
    (("",), ("configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
             "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
             "services/status"), READ),
    (("",), ("bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
             "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"), READ),
    (("",), ("namespaces",), READ),
)  # fmt: skip
_EDIT = (
    *_EDIT_READS,
    (("apps",), ("daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                 "replicasets/scale", "statefulsets", "statefulsets/scale"), WRITE),
    (("autoscaling",), ("horizontalpodautoscalers",), WRITE),
    (("batch",), ("cronjobs", "jobs"), WRITE),
    (("extensions",), ("daemonsets", "deployments", "deployments/rollback", "deployments/scale", "ingresses",
                       "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale"), WRITE),
    (("networking.k8s.io",), ("ingresses", "networkpolicies"), WRITE),
    (("policy",), ("poddisruptionbudgets",), WRITE),
    (("",), ("pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"), READ),
    (("",), ("serviceaccounts",), ("impersonate",)),
    (("",), ("pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"), WRITE),
    (("",), ("configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
             "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"), WRITE),
)  # fmt: skip
ACCESS_POLICIES: Mapping[str, tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...]] = {
    "AmazonEKSClusterAdminPolicy": (((ALL,), (ALL,), (ALL,)),),
    "AmazonEKSAdminViewPolicy": (((ALL,), (ALL,), READ),),
    "AmazonEKSAdminPolicy": (
        *_EDIT,
        (("authorization.k8s.io",), ("localsubjectaccessreviews",), ("create",)),
        (("rbac.authorization.k8s.io",), ("rolebindings", "roles"), (*READ, *WRITE)),
    ),
    "AmazonEKSEditPolicy": _EDIT,
    "AmazonEKSViewPolicy": _EDIT_READS,
    "AmazonEKSSecretReaderPolicy": ((("",), ("secrets",), READ),),
}
# Resources that live outside any namespace (Kubernetes API reference): a cluster-wide grant on one of
# these touches no namespace; a cluster-wide grant on anything else touches every namespace.
CLUSTER_SCOPED = frozenset(
    {
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
        ("", "namespaces"),
        ("", "nodes"),
        ("", "persistentvolumes"),
        ("storage.k8s.io", "storageclasses"),
        ("scheduling.k8s.io", "priorityclasses"),
        ("networking.k8s.io", "ingressclasses"),
    }
)
CLUSTER = ""  # a grant's scope: the whole cluster (every namespace and the cluster-scoped objects)


@dataclass(frozen=True, slots=True)
class Grant:
    """Verbs on a resource of an API group, in ``scope`` (a namespace, or :data:`CLUSTER`), and why."""

    scope: str
    group: str
    resource: str
    verbs: frozenset[str]
    source: str

    def allows(self, verb: str, group: str, resource: str, namespace: str) -> bool:
        in_scope = self.scope == CLUSTER or (namespace != "" and self.scope == namespace)
        return (
            in_scope
            and self.group in (ALL, group)
            and self.resource in (ALL, resource)
            and (ALL in self.verbs or verb in self.verbs)
        )

    def touches_namespaces(self) -> bool:
        """Whether this grant reaches namespaced objects anywhere but its own namespace: a cluster-wide
        grant on anything that is not cluster-scoped."""
        return self.scope == CLUSTER and (
            self.group == ALL or self.resource == ALL or (self.group, self.resource) not in CLUSTER_SCOPED
        )


_NAMESPACE_TOKEN = re.compile(r"\$\{kubernetes_namespace_v1\.([^.]+)\.metadata\[0\]\.name\}")


def _metadata(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata") or {}
    return meta[0] if isinstance(meta, list) else meta


def _rules(body: Mapping[str, Any]) -> Iterator[tuple[list[str], list[str], list[str]]]:
    for rule in body.get("rule") or []:
        yield rule.get("api_groups") or [""], rule.get("resources") or [], rule.get("verbs") or []


class Cluster:
    """One environment's cluster: its access entries (cluster stack) and RBAC (platform stack)."""

    def __init__(self, cluster_stack: Mapping[str, Any], platform_stack: Mapping[str, Any]) -> None:
        self.cluster = cluster_stack.get("resource") or {}
        self.platform = platform_stack.get("resource") or {}
        self.namespaces = {
            key: str(_metadata(ns)["name"]) for key, ns in (self.platform.get("kubernetes_namespace_v1") or {}).items()
        }

    def _ns(self, value: str) -> str:
        match = _NAMESPACE_TOKEN.fullmatch(value)
        return self.namespaces[match.group(1)] if match else value

    def principals(self) -> set[str]:
        """The role name of every access entry."""
        return {
            e["principal_arn"].rsplit("/", 1)[-1] for e in (self.cluster.get("aws_eks_access_entry") or {}).values()
        }

    def grants(self, role_name: str) -> list[Grant]:
        """Every grant of ``role_name`` in this cluster: its access policies and its groups' RBAC."""
        found: list[Grant] = []
        groups: set[str] = set()
        for entry in (self.cluster.get("aws_eks_access_entry") or {}).values():
            if entry["principal_arn"].endswith(f"/{role_name}"):
                groups |= set(entry.get("kubernetes_groups") or ())
        for association in (self.cluster.get("aws_eks_access_policy_association") or {}).values():
            if not association["principal_arn"].endswith(f"/{role_name}"):
                continue
            policy = association["policy_arn"].rsplit("/", 1)[-1]
            scope = association["access_scope"]
            scopes = [CLUSTER] if scope["type"] == "cluster" else list(scope["namespaces"])
            for api_groups, resources, verbs in ACCESS_POLICIES[policy]:
                found += [
                    Grant(s, g, r, frozenset(verbs), f"EKS access policy {policy} ({scope['type']})")
                    for s in scopes
                    for g in api_groups
                    for r in resources
                ]
        for binding in (self.platform.get("kubernetes_role_binding_v1") or {}).values():
            if self._bound(binding, groups):
                found += self._role_rules(binding["role_ref"], self._ns(_metadata(binding)["namespace"]))
        for binding in (self.platform.get("kubernetes_cluster_role_binding_v1") or {}).values():
            if self._bound(binding, groups):
                found += self._role_rules(binding["role_ref"], CLUSTER)
        return found

    @staticmethod
    def _bound(binding: Mapping[str, Any], groups: set[str]) -> bool:
        return any(s["kind"] == "Group" and s["name"] in groups for s in binding.get("subject") or [])

    def _role_rules(self, role_ref: Mapping[str, Any], scope: str) -> list[Grant]:
        kind, name = role_ref["kind"], role_ref["name"]
        if kind == "Role":
            candidates = [
                r
                for r in (self.platform.get("kubernetes_role_v1") or {}).values()
                if _metadata(r)["name"] == name and self._ns(_metadata(r)["namespace"]) == scope
            ]
        else:
            candidates = [
                r
                for r in (self.platform.get("kubernetes_cluster_role_v1") or {}).values()
                if _metadata(r)["name"] == name
            ]
        if len(candidates) != 1:
            raise AssertionError(f"{kind} {name} bound in {scope or 'the cluster'}: {len(candidates)} found")
        return [
            Grant(scope, g, r, frozenset(verbs), f"{kind} {name} bound in {scope or 'the cluster'}")
            for groups, resources, verbs in _rules(candidates[0])
            for g in groups
            for r in resources
        ]


def allowing(grants: Iterable[Grant], verb: str, group: str, resource: str, namespace: str) -> list[Grant]:
    """The grants that let ``verb`` on ``group/resource`` in ``namespace`` ("" for cluster-scoped)."""
    return [g for g in grants if g.allows(verb, group, resource, namespace)]


# --- IAM -----------------------------------------------------------------------------------------

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
_TOKENS = (
    (re.compile(r"\$\{data\.aws_partition\.[^}]+\.partition\}"), "aws"),
    (re.compile(r"\$\{data\.aws_caller_identity\.[^}]+\.account_id\}"), ACCOUNT_ID),
    (re.compile(r"\$\{data\.aws_region\.[^}]+\.region\}"), REGION),
)


def resolve(value: str) -> str:
    """An ARN with the account, partition and region data sources filled in (any other token stays)."""
    for pattern, replacement in _TOKENS:
        value = pattern.sub(replacement, value)
    return value


@dataclass(frozen=True, slots=True)
class IamStatement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = (ALL,)
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (test, variable, values)
    source: str = ""


def _wild(pattern: str, value: str, *, case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


# AWS managed policies, written out where they are short (AWS Managed Policy Reference, read
# 2026-12-06): AdministratorAccess; PowerUserAccess v12 (2026-02-12). The read-only ones are upper
# bounds: every read-like action on everything (the real policies name fewer actions).
_READ_LIKE = ("*:Get*", "*:List*", "*:Describe*", "*:BatchGet*", "*:View*", "*:Search*", "*:Lookup*", "*:Query*")
MANAGED_POLICIES: Mapping[str, tuple[IamStatement, ...]] = {
    "AdministratorAccess": (IamStatement("Allow", actions=("*",), source="AdministratorAccess"),),
    "PowerUserAccess": (
        IamStatement("Allow", not_actions=("iam:*", "organizations:*", "account:*"), source="PowerUserAccess"),
        IamStatement(
            "Allow",
            actions=(
                "account:GetAccountInformation",
                "account:GetGovCloudAccountInformation",
                "account:GetPrimaryEmail",
                "account:ListRegions",
                "iam:CreateServiceLinkedRole",
                "iam:DeleteServiceLinkedRole",
                "iam:ListRoles",
                "organizations:DescribeEffectivePolicy",
                "organizations:DescribeOrganization",
            ),
            source="PowerUserAccess",
        ),
    ),
    "ReadOnlyAccess": (IamStatement("Allow", actions=_READ_LIKE, source="ReadOnlyAccess (upper bound)"),),
    "ViewOnlyAccess": (IamStatement("Allow", actions=_READ_LIKE, source="ViewOnlyAccess (upper bound)"),),
}

ABSENT = None  # a context key known to be absent from the request


def _condition_holds(test: str, variable: str, values: tuple[str, ...], context: Mapping[str, Any]) -> bool | None:
    """True or False when ``context`` decides the condition, None when it cannot."""
    if variable not in context:
        return None
    present = context[variable]
    operator = test.split(":", 1)[-1]
    negated = "Not" in operator and operator != "Null"
    if present is ABSENT:
        # IAM: a negated operator matches a missing key, any other does not (Null tests presence).
        return values == ("true",) if operator == "Null" else negated
    items = present if isinstance(present, (list, tuple)) else [present]
    base = operator.replace("Not", "") if negated else operator
    if base in ("StringEquals", "ArnEquals"):
        matched = any(str(i) == resolve(v) for i in items for v in values)
    elif base in ("StringLike", "ArnLike"):
        matched = any(_wild(resolve(v), str(i), case=True) for i in items for v in values)
    elif base == "Bool":
        matched = any(str(i).lower() == v.lower() for i in items for v in values)
    elif base == "Null":
        return values == ("false",)
    else:
        return None
    return not matched if negated else matched


@dataclass
class Identity:
    """An IAM role: its statements (identity policies), its boundary's, and the context of its requests."""

    name: str
    arn: str
    statements: list[IamStatement]
    boundary: list[IamStatement] | None = None
    managed: list[str] = field(default_factory=list)

    def decide(
        self,
        action: str,
        resource: str,
        *,
        context: Mapping[str, Any] | None = None,
        resource_policy: Iterable[IamStatement] = (),
    ) -> tuple[bool, str]:
        """Whether the role may do ``action`` on ``resource``, and the statement that decides it."""
        ctx = {"aws:PrincipalArn": self.arn, "aws:PrincipalIsAWSService": "false", **(context or {})}
        policies = [("identity", self.statements), ("resource policy", list(resource_policy))]
        if self.boundary is not None:
            policies.append(("permissions boundary", self.boundary))
        for where, statements in policies:
            for s in statements:
                if s.effect == "Deny" and _matches(s, action, resource) and _conditions(s, ctx, deny=True):
                    return False, f"explicit Deny {s.source} ({where})"
        allow = next(
            (
                s
                for s in self.statements
                if s.effect == "Allow" and _matches(s, action, resource) and _conditions(s, ctx)
            ),
            None,
        )
        if allow is None:
            return False, "no Allow"
        if self.boundary is not None and not any(
            s.effect == "Allow" and _matches(s, action, resource) and _conditions(s, ctx) for s in self.boundary
        ):
            return False, "outside its permissions boundary"
        return True, f"Allow {allow.source}"

    def may(self, action: str, resource: str, **kwargs: Any) -> bool:
        return self.decide(action, resource, **kwargs)[0]


def _matches(s: IamStatement, action: str, resource: str) -> bool:
    if s.actions and not any(_wild(a, action, case=False) for a in s.actions):
        return False
    if s.not_actions and any(_wild(a, action, case=False) for a in s.not_actions):
        return False
    return any(_wild(resolve(r), resource, case=True) for r in s.resources)


def _conditions(s: IamStatement, context: Mapping[str, Any], *, deny: bool = False) -> bool:
    for test, variable, values in s.conditions:
        holds = _condition_holds(test, variable, values, context)
        if holds is None:
            holds = not deny  # undecidable: an Allow may apply, a Deny is not counted on
        if not holds:
            return False
    return True


def statements_of(document: Mapping[str, Any], source: str) -> list[IamStatement]:
    """The statements of a synthesized ``aws_iam_policy_document``."""
    return [
        IamStatement(
            effect=s.get("effect", "Allow"),
            actions=tuple(s.get("actions") or ()),
            not_actions=tuple(s.get("not_actions") or ()),
            resources=tuple(s.get("resources") or (ALL,)),
            conditions=tuple((c["test"], c["variable"], tuple(c["values"])) for c in s.get("condition") or ()),
            source=f"{source}:{s.get('sid', '?')}",
        )
        for s in document.get("statement") or []
    ]


def _document(stack: Mapping[str, Any], reference: str) -> Mapping[str, Any]:
    match = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}", reference)
    if match is None:
        raise AssertionError(f"not a policy document reference: {reference}")
    return dict(stack["data"]["aws_iam_policy_document"][match.group(1)])


def identity(account: Mapping[str, Any], role_name: str) -> Identity:
    """The IAM role ``role_name`` of the account stack, with its policies."""
    resources = account["resource"]
    found = [(k, r) for k, r in resources["aws_iam_role"].items() if r["name"] == role_name]
    if len(found) != 1:
        raise AssertionError(f"role {role_name}: {len(found)} in the account stack, expected one")
    ((key, role),) = found
    statements: list[IamStatement] = []
    for policy in (resources.get("aws_iam_role_policy") or {}).values():
        if policy["role"] == f"${{aws_iam_role.{key}.id}}":
            statements += statements_of(_document(account, policy["policy"]), role_name)
    managed = []
    for attachment in (resources.get("aws_iam_role_policy_attachment") or {}).values():
        if attachment["role"] == f"${{aws_iam_role.{key}.name}}":
            name = attachment["policy_arn"].rsplit("/", 1)[-1]
            managed.append(name)
            statements += list(MANAGED_POLICIES[name])
    boundary = None
    if role.get("permissions_boundary"):
        policy_key = re.fullmatch(r"\$\{aws_iam_policy\.([^.]+)\.arn\}", role["permissions_boundary"])
        assert policy_key is not None, role["permissions_boundary"]
        document = resources["aws_iam_policy"][policy_key.group(1)]["policy"]
        boundary = statements_of(_document(account, document), f"{role_name} boundary")
    arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}"
    return Identity(name=role_name, arn=arn, statements=statements, boundary=boundary, managed=managed)


def trust(account: Mapping[str, Any], role_name: str) -> dict[str, tuple[str, ...]]:
    """The claims a role's GitHub OIDC trust requires: ``{"sub": (...), "job_workflow_ref": (...)}``."""
    (role,) = [r for r in account["resource"]["aws_iam_role"].values() if r["name"] == role_name]
    claims: dict[str, tuple[str, ...]] = {}
    for s in statements_of(_document(account, role["assume_role_policy"]), role_name):
        for test, variable, values in s.conditions:
            assert test == "StringEquals", (role_name, test)
            claims[variable.rsplit(":", 1)[-1]] = values
    return claims


def secret_policies(stack: Mapping[str, Any], label: str) -> dict[str, list[IamStatement]]:
    """Each Secrets Manager secret that ``stack`` gives a resource policy, by an ARN it would have,
    with that policy: a secret of the stack by its name, RDS's managed master secret as
    ``rds!db-<label>-*`` (``label`` tells the stacks' apart)."""
    resources = stack.get("resource") or {}
    names = {
        f"${{aws_secretsmanager_secret.{key}.arn}}": secret["name"]
        for key, secret in (resources.get("aws_secretsmanager_secret") or {}).items()
    }
    found: dict[str, list[IamStatement]] = {}
    for policy in (resources.get("aws_secretsmanager_secret_policy") or {}).values():
        expression = policy["secret_arn"]
        if expression in names:
            name = f"{names[expression]}-AbCdEf"
        elif re.fullmatch(r"\$\{aws_db_instance\.[^.]+\.master_user_secret\[0\]\.secret_arn\}", expression):
            name = f"rds!db-{label}-0a1b2c3d-4e5f-6789-AbCdEf"
        else:
            raise AssertionError(f"a secret policy on {expression}: which secret is it?")
        arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{name}"
        found[arn] = statements_of(_document(stack, policy["policy"]), f"policy of {expression}")
    return found
