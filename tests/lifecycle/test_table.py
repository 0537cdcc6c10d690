"""The lifecycle table (qualisys_infra/core/lifecycle.py): every minor complete and sourced, a minor
lacking any entry refused with one line naming it, and the support state of a minor on a fixed
"today" for each state."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import kubernetes_validate
import pytest

from modules.platform.charts import CHARTS, RUNNER_CHARTS, platform_charts
from qualisys_infra.core import lifecycle
from qualisys_infra.core.lifecycle import (
    CHART_COMPATIBILITY,
    EKS_ADDONS,
    KUBERNETES_MINORS,
    WARN_DAYS,
    KubernetesMinor,
    Support,
    end_of_life,
    newest_standard_minor,
    pins_of,
)

ROW = KUBERNETES_MINORS["1.36"]
ALL_CHARTS = [*CHARTS, "cluster-autoscaler", *RUNNER_CHARTS]


@pytest.mark.parametrize("minor", list(KUBERNETES_MINORS))
def test_every_minor_is_complete_and_sourced(minor: str) -> None:
    row = KUBERNETES_MINORS[minor]
    assert row.minor == minor
    assert row.missing(ALL_CHARTS) == []
    assert row.eks_release < row.end_of_standard_support < row.end_of_extended_support
    assert row.dates.where and row.dates.read_on == date(2026, 12, 6)
    assert row.autoscaler is not None and row.autoscaler.source.where
    assert row.autoscaler.image_tag.startswith(f"v{minor}.")
    assert row.pod_security_version == f"v{minor}"


def test_aws_gives_each_minor_14_months_of_standard_and_12_of_extended_support() -> None:
    for row in KUBERNETES_MINORS.values():
        standard = (row.end_of_standard_support.year - row.eks_release.year) * 12 + (
            row.end_of_standard_support.month - row.eks_release.month
        )
        extended = (row.end_of_extended_support.year - row.end_of_standard_support.year) * 12 + (
            row.end_of_extended_support.month - row.end_of_standard_support.month
        )
        assert (standard, extended) == (14, 12), row.minor


@pytest.mark.parametrize("minor", list(KUBERNETES_MINORS))
def test_the_tests_schema_version_is_one_kubernetes_validate_has(minor: str) -> None:
    """kubernetes-validate (requirements.txt) must carry the schemas of the minor the tests use."""
    schema = KUBERNETES_MINORS[minor].schema_version
    assert schema == minor, f"the tests validate {minor} against {schema}'s schemas: a gap to record"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    assert kubernetes_validate.validate(namespace, f"{schema}.0", strict=True) == schema


def test_kubernetes_validate_has_no_minor_newer_than_it_knows() -> None:
    """The newest schema kubernetes-validate ships: a table row newer than it needs a recorded gap."""
    newest = max(KUBERNETES_MINORS, key=lifecycle.minor_key)
    assert lifecycle.minor_key(newest) <= lifecycle.minor_key(kubernetes_validate.__version__)


# One planted gap per entry the table must have: each is named in the one-line refusal.
GAPS = [
    ({"autoscaler": None}, "the cluster-autoscaler chart and image"),
    ({"eks_addons": None}, "the EKS add-on versions"),
    ({"eks_addons": {n: "" for n in EKS_ADDONS if n != "coredns"}}, "the version of EKS add-on coredns"),
    ({"pod_security_version": None}, "the Pod Security version"),
    ({"schema_version": None}, "the Kubernetes schema version of the tests"),
    ({"node_ami_type": None}, "the node AMI type"),
]


@pytest.mark.parametrize(("change", "named"), GAPS, ids=[g[1] for g in GAPS])
def test_fails_if_a_minor_lacks_an_entry(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, object], named: str
) -> None:
    planted = dataclasses.replace(ROW, minor="1.37", **change)  # type: ignore[arg-type]
    monkeypatch.setattr(lifecycle, "KUBERNETES_MINORS", {**KUBERNETES_MINORS, "1.37": planted})
    with pytest.raises(ValueError, match=rf"^Kubernetes 1\.37 lacks .*{named}.* in the lifecycle table") as caught:
        pins_of("1.37", ALL_CHARTS)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("chart", sorted(CHART_COMPATIBILITY))
def test_fails_if_a_chart_was_not_checked_for_the_minor(monkeypatch: pytest.MonkeyPatch, chart: str) -> None:
    """A new minor needs each chart's documentation read again: until then the synth stops."""
    monkeypatch.setattr(
        lifecycle, "KUBERNETES_MINORS", {**KUBERNETES_MINORS, "1.37": dataclasses.replace(ROW, minor="1.37")}
    )
    checked = {
        name: dataclasses.replace(c, checked_through="1.37") if name != chart else c
        for name, c in CHART_COMPATIBILITY.items()
    }
    monkeypatch.setattr(lifecycle, "CHART_COMPATIBILITY", checked)
    with pytest.raises(ValueError, match=rf"^Kubernetes 1\.37 lacks a compatibility check of chart {chart} in"):
        pins_of("1.37", ALL_CHARTS)


def test_fails_if_the_minor_is_not_in_the_table() -> None:
    with pytest.raises(
        ValueError, match=r"^Kubernetes 1\.29 is not in the lifecycle table .*lifecycle\.py \(it has 1\.32"
    ):
        pins_of("1.29", platform_charts("1.36"))


# A fixed "today" for each state of 1.36 (EKS 2026-06-02, standard until 2027-08-02, extended until 2028-08-02).
STATES = [
    (date(2026, 12, 6), Support.SUPPORTED),
    (ROW.end_of_standard_support - timedelta(days=WARN_DAYS + 1), Support.SUPPORTED),
    (ROW.end_of_standard_support - timedelta(days=WARN_DAYS), Support.ENDING),
    (ROW.end_of_standard_support - timedelta(days=1), Support.ENDING),
    (ROW.end_of_standard_support, Support.EXTENDED),
    (ROW.end_of_extended_support - timedelta(days=1), Support.EXTENDED),
    (ROW.end_of_extended_support, Support.ENDED),
]


@pytest.mark.parametrize(("today", "state"), STATES, ids=[f"{t}-{s}" for t, s in STATES])
def test_support_of_a_minor_on_a_fixed_day(today: date, state: Support) -> None:
    assert ROW.support(today) is state


def test_newest_minor_in_standard_support_moves_with_the_days() -> None:
    assert newest_standard_minor(date(2026, 12, 6)).minor == "1.36"
    assert newest_standard_minor(date(2026, 4, 1)).minor == "1.35"  # before EKS released 1.36
    with pytest.raises(LookupError, match="no Kubernetes minor of the table is in EKS standard support on 2030-01-01"):
        newest_standard_minor(date(2030, 1, 1))


def test_runtime_and_distribution_lines_age_through_their_states() -> None:
    node = end_of_life("node", "22")
    debian = end_of_life("debian", "12")
    assert node is not None and debian is not None
    assert node.support(date(2026, 6, 1)) is Support.SUPPORTED
    assert node.support(date(2026, 12, 6)) is Support.ENDING  # 145 days before 2027-04-30
    assert node.support(date(2027, 4, 30)) is Support.ENDED
    assert debian.support(date(2026, 6, 9)) is Support.SUPPORTED
    assert debian.support(date(2026, 6, 10)) is Support.EXTENDED  # LTS only
    assert debian.support(date(2028, 6, 30)) is Support.ENDED


def test_every_table_entry_names_its_source() -> None:
    rows: list[object] = [*KUBERNETES_MINORS.values(), *CHART_COMPATIBILITY.values(), *lifecycle.RUNTIMES]
    rows += [*lifecycle.DISTRIBUTIONS, *lifecycle.ACTION_RUNTIMES.values(), *lifecycle.COMPROMISED_ACTION_COMMITS]
    for row in rows:
        source = row.dates if isinstance(row, KubernetesMinor) else row.source  # type: ignore[attr-defined]
        assert len(source.where) > 20 and source.read_on == date(2026, 12, 6), row
