"""What ages, in tables, each entry with where it was read and when.

- :data:`KUBERNETES_MINORS`: per Kubernetes minor, EKS's release date, end of standard support and end
  of extended support, and everything the project pins per minor: the cluster-autoscaler chart and
  image, the EKS add-on versions, the Pod Security version label, the schemas the tests validate
  against and the node AMI type. :data:`CHART_COMPATIBILITY` says, per Helm chart, from which minor on
  and through which minor its own documentation was checked. A minor that lacks any of these cannot
  be synthesized (:meth:`KubernetesMinor.missing`).
- :data:`RUNTIMES` (Node.js, Python) and :data:`DISTRIBUTIONS` (the base distributions of the
  container images): end-of-life dates.
- :data:`ACTION_RUNTIMES` (GitHub's removal of a JavaScript action runtime from its runners) and
  :data:`COMPROMISED_ACTION_COMMITS` (commits of actions known to have carried malicious code).

``qualisys-infra outdated`` reads these tables offline (and compares them with the publishers with
``--refresh``); ``environments`` and ``synth`` refuse a minor past the end of extended support and warn
within :data:`WARN_DAYS` of the end of standard support. Plain Python: no engine, no files, no clock
(every check takes ``today``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType

WARN_DAYS = 90
TABLE_FILE = "qualisys_infra/core/lifecycle.py"
READ_ON = date(2026, 12, 6)  # when the entries below were last read at their sources


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where a fact was read, and when."""

    where: str
    read_on: date = READ_ON

    def __str__(self) -> str:
        return f"{self.where} (read {self.read_on.isoformat()})"


class Support(StrEnum):
    """Where a date-bounded thing stands on a given day."""

    SUPPORTED = "supported"
    ENDING = "ending"  # within WARN_DAYS of its end (standard support, for a Kubernetes minor)
    EXTENDED = "extended"  # a Kubernetes minor past standard support, in EKS extended support
    ENDED = "ended"


# --- Kubernetes on EKS ---------------------------------------------------------------------------

EKS_ADDONS = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns", "aws-ebs-csi-driver")
UNPINNED = ""  # an add-on version left to EKS: the add-on's default version for the cluster's minor

_AWS_CALENDAR = Source(
    where="AWS EKS user guide, 'Amazon EKS Kubernetes release calendar' "
    "(awsdocs/amazon-eks-user-guide latest/ug/versioning/kubernetes-versions.adoc, commit 0138560)"
)
_APEX_CALENDAR = Source(
    where="aws-samples/sample-apex-skills eks-operation-review cluster-lifecycle.md EKS calendar (its authors "
    "verified it 2026-04-24); EKS release = end of standard support - 14 months (AWS's rule)"
)
_K136_DATES = Source(
    where="AWS EKS user guide 'Review release notes for Kubernetes versions on standard support' (1.36 listed); "
    "release date from devopsdreams.blogspot.com 'Kubernetes 1.36 on Amazon EKS' (2026-08-16): EKS 2026-06-02, "
    "standard support through 2027-08-02; extended = standard + 12 months (AWS's rule). AWS's calendar row "
    "itself could not be read here: check with `qualisys-infra outdated --refresh`"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoscalerPin:
    """The cluster-autoscaler of one minor: a chart, and the image of that minor's newest patch."""

    chart: str
    chart_app_version: str
    image_tag: str
    source: Source


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartCompatibility:
    """A chart's own word on which Kubernetes minors it runs on: ``from_minor`` on (its documented
    floor), checked against its documentation through ``checked_through`` (a newer minor is unchecked)."""

    from_minor: str
    checked_through: str
    statement: str
    source: Source


@dataclass(frozen=True, slots=True, kw_only=True)
class KubernetesMinor:
    """One Kubernetes minor on EKS: its support dates and everything pinned for it.

    A field left ``None`` is not known for this minor yet; :meth:`missing` names it.
    ``eks_addons`` maps every add-on of :data:`EKS_ADDONS` to its pinned version, or to
    :data:`UNPINNED` when EKS installs its own default for the minor.
    """

    minor: str
    eks_release: date
    end_of_standard_support: date
    end_of_extended_support: date
    dates: Source
    autoscaler: AutoscalerPin | None = None
    eks_addons: Mapping[str, str] | None = None
    pod_security_version: str | None = None
    schema_version: str | None = None
    node_ami_type: str | None = None

    def missing(self, charts: Iterable[str]) -> list[str]:
        """What this minor lacks to be synthesized with ``charts`` (release names), in words."""
        lacks = []
        if self.autoscaler is None:
            lacks.append("the cluster-autoscaler chart and image")
        if self.eks_addons is None:
            lacks.append("the EKS add-on versions")
        else:
            lacks += [f"the version of EKS add-on {name}" for name in EKS_ADDONS if name not in self.eks_addons]
        if self.pod_security_version is None:
            lacks.append("the Pod Security version")
        if self.schema_version is None:
            lacks.append("the Kubernetes schema version of the tests")
        if self.node_ami_type is None:
            lacks.append("the node AMI type")
        for chart in charts:
            if not chart_checked(chart, self.minor):
                lacks.append(f"a compatibility check of chart {chart}")
        return lacks

    def support(self, today: date) -> Support:
        """Where this minor stands on ``today`` (a support date is the first day without that support)."""
        if today >= self.end_of_extended_support:
            return Support.ENDED
        if today >= self.end_of_standard_support:
            return Support.EXTENDED
        if (self.end_of_standard_support - today).days <= WARN_DAYS:
            return Support.ENDING
        return Support.SUPPORTED


def _unpinned_addons() -> Mapping[str, str]:
    return MappingProxyType(dict.fromkeys(EKS_ADDONS, UNPINNED))


_AUTOSCALER_TAGS = (
    "kubernetes/autoscaler at its tags: charts cluster-autoscaler-chart-<version> "
    "(cluster-autoscaler/charts/cluster-autoscaler/Chart.yaml), images cluster-autoscaler-<patch> "
    "(cluster-autoscaler/version/version.go)"
)


def _autoscaler(chart: str, app_version: str, image_tag: str, note: str) -> AutoscalerPin:
    return AutoscalerPin(
        chart=chart,
        chart_app_version=app_version,
        image_tag=image_tag,
        source=Source(where=f"{_AUTOSCALER_TAGS}: {note}"),
    )


def _minor(
    minor: str,
    release: date,
    end_standard: date,
    end_extended: date,
    dates: Source,
    autoscaler: AutoscalerPin,
) -> KubernetesMinor:
    return KubernetesMinor(
        minor=minor,
        eks_release=release,
        end_of_standard_support=end_standard,
        end_of_extended_support=end_extended,
        dates=dates,
        autoscaler=autoscaler,
        eks_addons=_unpinned_addons(),
        # Pinned so that a control-plane upgrade (AWS's own included) does not change what
        # "restricted" admits until this table moves with it.
        pod_security_version=f"v{minor}",
        # kubernetes-validate 1.37.0 (requirements.txt) ships the schemas of every minor up to 1.37.
        schema_version=minor,
        # EKS publishes no Amazon Linux 2 AMI from 1.33 on (AWS EKS user guide, Kubernetes 1.33
        # release notes); AL2023 is the managed node groups' default from 1.30.
        node_ami_type="AL2023_x86_64_STANDARD",
    )


# Kubernetes minor -> its row. The environments run the newest minor every entry of which could be
# verified on 2026-12-06: 1.36 (see the README for why not 1.37).
KUBERNETES_MINORS: Mapping[str, KubernetesMinor] = MappingProxyType(
    {
        "1.32": _minor(
            "1.32",
            date(2025, 1, 23),
            date(2026, 3, 23),
            date(2027, 3, 23),
            _AWS_CALENDAR,
            _autoscaler("9.46.6", "1.32.0", "v1.32.7", "chart 9.46.6 (13dba17, 2025-03-31), image 1.32.7 (2026-02-13)"),
        ),
        "1.33": _minor(
            "1.33",
            date(2025, 5, 29),
            date(2026, 7, 29),
            date(2027, 7, 29),
            _AWS_CALENDAR,
            _autoscaler("9.51.0", "1.33.0", "v1.33.6", "chart 9.51.0 (9befb31, 2025-10-10), image 1.33.6 (2026-07-22)"),
        ),
        "1.34": _minor(
            "1.34",
            date(2025, 10, 2),
            date(2026, 12, 2),
            date(2027, 12, 2),
            _AWS_CALENDAR,
            _autoscaler("9.53.0", "1.34.2", "v1.34.5", "chart 9.53.0 (a2db9eb, 2025-12-03), image 1.34.5 (2026-07-22)"),
        ),
        "1.35": _minor(
            "1.35",
            date(2026, 1, 27),
            date(2027, 3, 27),
            date(2028, 3, 27),
            _APEX_CALENDAR,
            _autoscaler("9.59.0", "1.35.0", "v1.35.2", "chart 9.59.0 (5a0b98e, 2026-07-21), image 1.35.2 (2026-07-22)"),
        ),
        "1.36": _minor(
            "1.36",
            date(2026, 6, 2),
            date(2027, 8, 2),
            date(2028, 8, 2),
            _K136_DATES,
            # No chart of appVersion 1.36 was released by the snapshot read (newest tag 2026-08-22): the
            # newest chart, 9.59.0 (appVersion 1.35.0), runs the 1.36 image; its templates take the tag.
            _autoscaler(
                "9.59.0", "1.35.0", "v1.36.1", "chart 9.59.0 (5a0b98e, 2026-07-21), image 1.36.1 (35e8a28, 2026-07-22)"
            ),
        ),
    }
)

# Release name -> what the chart's own documentation says about Kubernetes minors.
CHART_COMPATIBILITY: Mapping[str, ChartCompatibility] = MappingProxyType(
    {
        "kube-prometheus-stack": ChartCompatibility(
            from_minor="1.25",
            checked_through="1.36",
            statement='Chart.yaml kubeVersion ">=1.25.0-0"',
            source=Source(
                where="prometheus-community/helm-charts tag kube-prometheus-stack-88.5.3, "
                "charts/kube-prometheus-stack/Chart.yaml"
            ),
        ),
        "aws-load-balancer-controller": ChartCompatibility(
            from_minor="1.22",
            checked_through="1.36",
            statement="'AWS Load Balancer Controller v2.5.0+ requires Kubernetes 1.22+' (no upper bound)",
            source=Source(
                where="kubernetes-sigs/aws-load-balancer-controller docs/deploy/installation.md "
                "'Supported Kubernetes versions' (225f445, 2026-08-17)"
            ),
        ),
        "aws-for-fluent-bit": ChartCompatibility(
            from_minor="1.22",
            checked_through="1.36",
            statement="no kubeVersion in Chart.yaml; templates use only GA APIs (apps/v1 DaemonSet, rbac/v1, v1)",
            source=Source(where="aws/eks-charts tag v0.0.242, stable/aws-for-fluent-bit/Chart.yaml and templates/"),
        ),
        "metrics-server": ChartCompatibility(
            from_minor="1.31",
            checked_through="1.36",
            statement="compatibility matrix: metrics-server 0.8.x supports Kubernetes 1.31+",
            source=Source(
                where="kubernetes-sigs/metrics-server README.md 'Compatibility Matrix' (5ed5d3a, 2026-08-04)"
            ),
        ),
        "argo-rollouts": ChartCompatibility(
            from_minor="1.22",
            checked_through="1.36",
            statement="no kubeVersion in Chart.yaml; templates use GA APIs (apps/v1, rbac/v1, apiextensions/v1, "
            "policy/v1 and networking.k8s.io/v1 picked by capability)",
            source=Source(where="argoproj/argo-helm tag argo-rollouts-2.41.0, charts/argo-rollouts/"),
        ),
        "external-dns": ChartCompatibility(
            from_minor="1.21",
            checked_through="1.36",
            statement="README 'Kubernetes version compatibility': ExternalDNS >= 0.18.x supports Kubernetes 1.21 "
            "and newer (no upper bound); no kubeVersion in Chart.yaml",
            source=Source(where="kubernetes-sigs/external-dns tag external-dns-helm-chart-1.21.1 (9f26451), README.md"),
        ),
        **{
            release: ChartCompatibility(
                from_minor="1.29",
                checked_through="1.36",
                statement="no kubeVersion in Chart.yaml; templates use GA APIs (apps/v1, rbac/v1, v1) and the "
                "controller's own CRDs (apiextensions/v1); only its dind mode (unused) branches on the minor",
                source=Source(
                    where="actions/actions-runner-controller tag gha-runner-scale-set-0.14.2 (9bb16ae), "
                    "charts/gha-runner-scale-set-controller/ and charts/gha-runner-scale-set/"
                ),
            )
            for release in ("arc-controller", "arc-runners-plan", "arc-runners-apply")
        },
        **{
            release: ChartCompatibility(
                from_minor="1.21",
                checked_through="1.36",
                statement="no kubeVersion in Chart.yaml; templates use GA APIs only (apps/v1, v1, rbac/v1, policy/v1, "
                "networking.k8s.io/v1) and monitoring.coreos.com/v1 (kube-prometheus-stack's CRDs)",
                source=Source(where=f"prometheus-community/helm-charts tag {tag}, charts/{chart}/ (read 2026-12-06)"),
            )
            for release, chart, tag in (
                ("postgres-exporter", "prometheus-postgres-exporter", "prometheus-postgres-exporter-8.2.0 (e759e9a)"),
                ("redis-exporter", "prometheus-redis-exporter", "prometheus-redis-exporter-6.29.0 (4cb96d5)"),
            )
        },
        "cluster-autoscaler": ChartCompatibility(
            from_minor="1.32",
            checked_through="1.36",
            statement="its minor must match the cluster's (kubernetes/autoscaler README): pinned per minor above",
            source=Source(where="kubernetes/autoscaler cluster-autoscaler/README.md (55c37cd, 2026-08-22)"),
        ),
    }
)


def minor_of(version: str) -> str:
    """``"1.36"`` for ``"1.36"``, ``"1.36.2"`` or ``"v1.36.2"``."""
    parts = version.removeprefix("v").split(".")
    return ".".join(parts[:2])


def minor_key(minor: str) -> tuple[int, int]:
    """``(1, 36)`` for ``"1.36"``; ``(-1, -1)`` for anything that is not ``MAJOR.MINOR``."""
    match = re.fullmatch(r"(\d+)\.(\d+)", minor_of(minor))
    return (int(match.group(1)), int(match.group(2))) if match else (-1, -1)


def chart_checked(chart: str, minor: str) -> bool:
    """Whether ``chart``'s documentation was checked for ``minor`` (and admits it)."""
    compat = CHART_COMPATIBILITY.get(chart)
    if compat is None:
        return False
    return minor_key(compat.from_minor) <= minor_key(minor) <= minor_key(compat.checked_through)


def kubernetes_minor(version: str) -> KubernetesMinor | None:
    """The row of ``version``'s minor, or ``None`` when the table has none."""
    return KUBERNETES_MINORS.get(minor_of(version))


def newest_standard_minor(today: date) -> KubernetesMinor:
    """The newest minor of the table in standard support on ``today``."""
    supported = [
        m
        for m in KUBERNETES_MINORS.values()
        if m.eks_release <= today and m.support(today) in (Support.SUPPORTED, Support.ENDING)
    ]
    if not supported:
        raise LookupError(f"no Kubernetes minor of the table is in EKS standard support on {today.isoformat()}")
    return max(supported, key=lambda m: minor_key(m.minor))


@dataclass(frozen=True, slots=True, kw_only=True)
class MinorPins:
    """Everything pinned for one minor, complete: what the stacks build with."""

    minor: str
    autoscaler: AutoscalerPin
    eks_addons: Mapping[str, str]
    pod_security_version: str
    schema_version: str
    node_ami_type: str


def pins_of(version: str, charts: Iterable[str]) -> MinorPins:
    """The pins of ``version``'s minor for a cluster running ``charts``; a :class:`ValueError` of one
    line naming what the table lacks (the minor itself, or any of its entries)."""
    minor = minor_of(version)
    row = KUBERNETES_MINORS.get(minor)
    if row is None:
        known = ", ".join(KUBERNETES_MINORS)
        raise ValueError(f"Kubernetes {minor} is not in the lifecycle table {TABLE_FILE} (it has {known})")
    lacks = row.missing(charts)
    if (
        lacks
        or row.autoscaler is None
        or row.eks_addons is None
        or row.pod_security_version is None
        or row.schema_version is None
        or row.node_ami_type is None
    ):
        raise ValueError(f"Kubernetes {minor} lacks {', '.join(lacks)} in the lifecycle table {TABLE_FILE}")
    return MinorPins(
        minor=minor,
        autoscaler=row.autoscaler,
        eks_addons=row.eks_addons,
        pod_security_version=row.pod_security_version,
        schema_version=row.schema_version,
        node_ami_type=row.node_ami_type,
    )


# --- Runtimes and base distributions --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class EndOfLife:
    """A release line (``node 22``, ``alpine 3.21``) and the day it stops getting fixes.

    ``security_until`` is an earlier end of regular security support where a distribution has one
    (Debian, before its LTS): past it the line is ageing, not yet ended.
    """

    product: str
    cycle: str
    end_of_life: date
    source: Source
    security_until: date | None = None

    @property
    def name(self) -> str:
        return f"{self.product} {self.cycle}"

    def support(self, today: date) -> Support:
        if today >= self.end_of_life:
            return Support.ENDED
        if self.security_until is not None and today >= self.security_until:
            return Support.EXTENDED
        if (self.end_of_life - today).days <= WARN_DAYS * 2:
            return Support.ENDING
        return Support.SUPPORTED


_NODE_SCHEDULE = Source(
    where="nodejs/Release schedule (end of life 22: 2027-04-30, 24: 2028-04-30); the same dates are in jsii "
    "1.142.0's Node support table (jsii/_embedded/jsii/bin__jsii-runtime.js, which supports 24)"
)
_PYTHON_PEPS = Source(
    where="the release PEPs' schedules (PEP 619, 664, 693, 719, 745: five years, ending in October; the day as "
    "python.org's 'Status of Python versions' lists it), not re-read on 2026-12-06"
)
_ALPINE = Source(
    where="alpinelinux.org/releases (main repository ~2 years: 3.21 2026-11-01, 3.22 2027-05-01, 3.23 "
    "2027-11-01; 3.24, released May 2026, 2028-05-01 by the same rule)"
)
_DEBIAN = Source(
    where="debian.org/releases and wiki.debian.org/LTS (12 bookworm: security 2026-06-10, LTS 2028-06-30; "
    "13 trixie: security 2028-08-09, LTS 2030-06-30)"
)
_DISTROLESS = Source(
    where="issue 22 (distroless's support policy as its author read it: debian12 images no longer built from "
    "2026-05-11); debian13 taken to end with Debian 13's security support"
)

RUNTIMES: tuple[EndOfLife, ...] = (
    EndOfLife(product="node", cycle="20", end_of_life=date(2026, 4, 30), source=_NODE_SCHEDULE),
    EndOfLife(product="node", cycle="22", end_of_life=date(2027, 4, 30), source=_NODE_SCHEDULE),
    EndOfLife(product="node", cycle="24", end_of_life=date(2028, 4, 30), source=_NODE_SCHEDULE),
    EndOfLife(product="python", cycle="3.10", end_of_life=date(2026, 10, 31), source=_PYTHON_PEPS),
    EndOfLife(product="python", cycle="3.11", end_of_life=date(2027, 10, 31), source=_PYTHON_PEPS),
    EndOfLife(product="python", cycle="3.12", end_of_life=date(2028, 10, 31), source=_PYTHON_PEPS),
    EndOfLife(product="python", cycle="3.13", end_of_life=date(2029, 10, 31), source=_PYTHON_PEPS),
    EndOfLife(product="python", cycle="3.14", end_of_life=date(2030, 10, 31), source=_PYTHON_PEPS),
)

DISTRIBUTIONS: tuple[EndOfLife, ...] = (
    EndOfLife(product="alpine", cycle="3.20", end_of_life=date(2026, 4, 1), source=_ALPINE),
    EndOfLife(product="alpine", cycle="3.21", end_of_life=date(2026, 11, 1), source=_ALPINE),
    EndOfLife(product="alpine", cycle="3.22", end_of_life=date(2027, 5, 1), source=_ALPINE),
    EndOfLife(product="alpine", cycle="3.23", end_of_life=date(2027, 11, 1), source=_ALPINE),
    EndOfLife(product="alpine", cycle="3.24", end_of_life=date(2028, 5, 1), source=_ALPINE),
    EndOfLife(
        product="debian",
        cycle="12",
        end_of_life=date(2028, 6, 30),
        security_until=date(2026, 6, 10),
        source=_DEBIAN,
    ),
    EndOfLife(
        product="debian",
        cycle="13",
        end_of_life=date(2030, 6, 30),
        security_until=date(2028, 8, 9),
        source=_DEBIAN,
    ),
    EndOfLife(product="distroless", cycle="debian12", end_of_life=date(2026, 5, 11), source=_DISTROLESS),
    EndOfLife(product="distroless", cycle="debian13", end_of_life=date(2028, 8, 9), source=_DISTROLESS),
)

# Debian's code names as image tags carry them.
DEBIAN_CODENAMES: Mapping[str, str] = MappingProxyType({"bookworm": "12", "trixie": "13", "forky": "14"})


def end_of_life(product: str, cycle: str, table: Iterable[EndOfLife] = (*RUNTIMES, *DISTRIBUTIONS)) -> EndOfLife | None:
    """The entry of ``product`` ``cycle``, or ``None``."""
    return next((e for e in table if e.product == product and e.cycle == cycle), None)


# --- GitHub Actions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRuntime:
    """A JavaScript runtime of GitHub's runners (``using: node20``) and the day GitHub removed it."""

    using: str
    removed_on: date | None
    source: Source


ACTION_RUNTIMES: Mapping[str, ActionRuntime] = MappingProxyType(
    {
        "node16": ActionRuntime(
            using="node16",
            removed_on=date(2024, 11, 12),
            source=Source(where="GitHub changelog 2024-09-25 'end of life of Node 16 on GitHub Actions runners'"),
        ),
        "node20": ActionRuntime(
            using="node20",
            removed_on=date(2026, 9, 16),
            source=Source(where="GitHub changelog: Node 20 removed from the runners on 2026-09-16 (issue 22)"),
        ),
        "node24": ActionRuntime(
            using="node24", removed_on=None, source=Source(where="GitHub runners: the default since Node 20's removal")
        ),
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CompromisedCommit:
    """A commit of an action that carried malicious code: a pin at it must go, whatever its tag says."""

    action: str
    sha: str
    advisory: str
    source: Source


COMPROMISED_ACTION_COMMITS: tuple[CompromisedCommit, ...] = (
    CompromisedCommit(
        action="tj-actions/changed-files",
        sha="0e58ed8671d6b60d0890c21b07f8835ace038e67",
        advisory="CVE-2025-30066 / GHSA-mrrh-fwg8-r2c3: tags v1 to v45.0.7 moved to a commit that printed the "
        "runner's memory (secrets) to the log, 2025-03-14/15",
        source=Source(where="GitHub advisory GHSA-mrrh-fwg8-r2c3; CISA alert 2025-03-18"),
    ),
    CompromisedCommit(
        action="reviewdog/action-setup",
        sha="f0d342d24037bb11d26b9bd8496e0808ba32e9ec",
        advisory="CVE-2025-30154 / GHSA-qmg3-hpqr-gqvc: tag v1 moved to a commit that dumped secrets to the log, "
        "2025-03-11 18:42-20:31 UTC",
        source=Source(where="GitHub advisory GHSA-qmg3-hpqr-gqvc"),
    ),
)
