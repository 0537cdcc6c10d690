"""Each environment's Kubernetes minor against the lifecycle table, for ``environments`` and ``synth``.

Refused (exit 2, one line each, at the file and line of ``eks_kubernetes_version``): a minor the
table does not have, a minor lacking any entry the stacks need (the line names what), and a minor past
the end of EKS extended support (EKS no longer runs it). Warned: a minor past the end of standard
support (with ``support_type = "STANDARD"`` AWS upgrades the cluster by itself, after which every plan
proposes going back) and a minor within :data:`~qualisys_infra.core.lifecycle.WARN_DAYS` days of it.

``today`` is always given: the CLI passes the real date (or ``QUALISYS_TODAY``), tests a fixed one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from modules.platform.charts import CHARTS, RUNNER_CHARTS
from qualisys_infra.config.hclfile import read_hcl
from qualisys_infra.core.errors import ConfigError, UsageError, Violation
from qualisys_infra.core.lifecycle import (
    TABLE_FILE,
    KubernetesMinor,
    Support,
    kubernetes_minor,
    minor_of,
    newest_standard_minor,
)
from qualisys_infra.core.settings import EnvironmentConfig

FIELD = "eks_kubernetes_version"
CHARTS_OF_EVERY_CLUSTER = (*CHARTS, "cluster-autoscaler", *RUNNER_CHARTS)


def check_kubernetes_support(
    environments_dir: Path, environments: Iterable[EnvironmentConfig], *, today: date, root: Path | None = None
) -> list[str]:
    """The warnings (``file:line: eks_kubernetes_version: ...``) of ``environments`` on ``today``;
    raises a :class:`ConfigError` with every refusal."""
    warnings: list[str] = []
    refusals: list[Violation] = []
    for env in environments:
        path = environments_dir / f"{env.environment}.tfvars"
        shown = _shown(path, root)
        line = read_hcl(path, shown).line_of((FIELD,))
        problem, warning = assess(env.eks_kubernetes_version, today)
        if problem:
            refusals.append(Violation(shown, line, FIELD, problem))
        elif warning:
            warnings.append(str(Violation(shown, line, FIELD, warning)))
    if refusals:
        raise ConfigError(refusals)
    return warnings


def assess(version: str, today: date) -> tuple[str, str]:
    """``(refusal, warning)`` for a cluster of ``version`` on ``today``; either may be empty."""
    minor = minor_of(version)
    row = kubernetes_minor(version)
    if row is None:
        return (
            f"got {version!r}: Kubernetes {minor} is not in the lifecycle table {TABLE_FILE}; add its row "
            "(support dates and every pin) first",
            "",
        )
    lacks = row.missing(CHARTS_OF_EVERY_CLUSTER)
    if lacks:
        return (f"got {version!r}: Kubernetes {minor} lacks {', '.join(lacks)} in the lifecycle table {TABLE_FILE}", "")
    state = row.support(today)
    if state is Support.ENDED:
        return (
            f"got {version!r}: Kubernetes {minor} is past the end of EKS extended support "
            f"({row.end_of_extended_support.isoformat()}); EKS upgrades such a cluster by itself and creates none: "
            f"move one minor at a time to {_newest(today)}",
            "",
        )
    if state is Support.EXTENDED:
        return ("", _extended(row, today))
    if state is Support.ENDING:
        days = (row.end_of_standard_support - today).days
        return (
            "",
            f"Kubernetes {minor}'s EKS standard support ends {row.end_of_standard_support.isoformat()} (in {days} "
            f"days); then AWS upgrades a cluster with support_type STANDARD by itself: {_next_step(minor, today)}",
        )
    return ("", "")


def _extended(row: KubernetesMinor, today: date) -> str:
    return (
        f"Kubernetes {row.minor} is past the end of EKS standard support ({row.end_of_standard_support.isoformat()}) "
        f"and in extended support until {row.end_of_extended_support.isoformat()}; with support_type STANDARD AWS "
        f"upgrades the cluster by itself (then every plan proposes going back): move to {_newest(today)}"
    )


def _next_step(minor: str, today: date) -> str:
    newest = _newest(today)
    if newest == minor:
        return "no newer minor is in the lifecycle table yet; see `qualisys-infra outdated --refresh`"
    return f"plan the move to {newest}, one minor at a time"


def _newest(today: date) -> str:
    try:
        return newest_standard_minor(today).minor
    except LookupError:
        return "a minor in standard support (none in the table: add one)"


def today_from(value: str | None) -> date:
    """``value`` (YYYY-MM-DD) as a date, or today's when it is ``None`` or empty."""
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"QUALISYS_TODAY: got {value!r}, expected a date YYYY-MM-DD") from None


def _shown(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)
