"""`environments` and `synth` against the lifecycle table, on a fixed "today" per state: nothing said
in standard support, a warning with the date within 90 days of its end and past it, a refusal (exit 2,
one line at the file and line) past the end of extended support or for a minor the table lacks or
that lacks an entry; the synth stops before the engine starts."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from qualisys_infra.commands.cli import main
from qualisys_infra.core import lifecycle
from qualisys_infra.core.runtime import PROJECT_ROOT


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "environments", tmp_path / "environments")
    return tmp_path


def _pin(project: Path, version: str, env: str = "staging") -> int:
    """Set ``env``'s minor; the line it is on."""
    path = project / "environments" / f"{env}.tfvars"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    (index,) = [i for i, line in enumerate(lines) if line.startswith("eks_kubernetes_version")]
    lines[index] = f'eks_kubernetes_version = "{version}"\n'
    path.write_text("".join(lines), encoding="utf-8")
    return index + 1


def _run(
    project: Path, today: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *command: str
) -> tuple[int, str]:
    monkeypatch.setenv("QUALISYS_TODAY", today)
    code = main(["--project-dir", str(project), "--quiet", *(command or ("environments",))])
    return code, capsys.readouterr().err


def test_nothing_is_said_in_standard_support(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = _run(project, "2026-12-06", capsys, monkeypatch)
    assert (code, err) == (0, "")


def test_warns_within_90_days_of_the_end_of_standard_support(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = _pin(project, "1.35")
    code, err = _run(project, "2026-12-28", capsys, monkeypatch)  # 89 days before 2027-03-27
    assert code == 0
    assert err.splitlines() == [
        f"warning: environments/staging.tfvars:{line}: eks_kubernetes_version: Kubernetes 1.35's EKS standard "
        "support ends 2027-03-27 (in 89 days); then AWS upgrades a cluster with support_type STANDARD by itself: "
        "plan the move to 1.36, one minor at a time"
    ]


def test_says_nothing_91_days_before(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _pin(project, "1.35")
    assert _run(project, "2026-12-26", capsys, monkeypatch) == (0, "")


def test_warns_past_the_end_of_standard_support(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = _pin(project, "1.33")
    code, err = _run(project, "2026-12-06", capsys, monkeypatch)
    assert code == 0
    (warning,) = err.splitlines()
    assert warning.startswith(f"warning: environments/staging.tfvars:{line}: eks_kubernetes_version: Kubernetes 1.33 ")
    assert "past the end of EKS standard support (2026-07-29)" in warning
    assert "extended support until 2027-07-29" in warning and "move to 1.36" in warning


def test_fails_if_the_minor_is_past_the_end_of_extended_support(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = _pin(project, "1.32")
    code, err = _run(project, "2027-03-23", capsys, monkeypatch)
    assert code == 2
    (error,) = err.splitlines()
    assert re.fullmatch(
        rf"error: environments/staging\.tfvars:{line}: eks_kubernetes_version: got '1\.32': Kubernetes 1\.32 is "
        r"past the end of EKS extended support \(2027-03-23\); .* move one minor at a time to 1\.36",
        error,
    ), error


def test_fails_if_the_minor_is_not_in_the_table(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = _pin(project, "1.31", env="dev")
    code, err = _run(project, "2026-12-06", capsys, monkeypatch)
    assert code == 2
    assert err.splitlines() == [
        f"error: environments/dev.tfvars:{line}: eks_kubernetes_version: got '1.31': Kubernetes 1.31 is not in "
        "the lifecycle table qualisys_infra/core/lifecycle.py; add its row (support dates and every pin) first"
    ]


def test_fails_if_synth_meets_a_minor_lacking_an_entry(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The synth stops with one line before the engine starts (no output folder is made)."""
    row = dataclasses.replace(lifecycle.KUBERNETES_MINORS["1.36"], minor="1.37", node_ami_type=None)
    monkeypatch.setattr(lifecycle, "KUBERNETES_MINORS", {**lifecycle.KUBERNETES_MINORS, "1.37": row})
    checked = {n: dataclasses.replace(c, checked_through="1.37") for n, c in lifecycle.CHART_COMPATIBILITY.items()}
    monkeypatch.setattr(lifecycle, "CHART_COMPATIBILITY", checked)
    line = _pin(project, "1.37", env="dev")
    out = tmp_path / "out"
    code, err = _run(project, "2026-12-06", capsys, monkeypatch, "synth", "--env", "dev", "--out", str(out))
    assert code == 2
    assert err.splitlines() == [
        f"error: environments/dev.tfvars:{line}: eks_kubernetes_version: got '1.37': Kubernetes 1.37 lacks the "
        "node AMI type in the lifecycle table qualisys_infra/core/lifecycle.py"
    ]
    assert not out.exists()


def test_fails_if_synth_meets_a_minor_past_extended_support(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _pin(project, "1.33", env="dev")
    out = tmp_path / "out"
    code, err = _run(project, "2027-07-29", capsys, monkeypatch, "synth", "--env", "dev", "--out", str(out))
    assert code == 2 and len(err.splitlines()) == 1
    assert "Kubernetes 1.33 is past the end of EKS extended support (2027-07-29)" in err
    assert not out.exists()


def test_environments_json_carries_the_warnings(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.setenv("QUALISYS_TODAY", "2027-06-01")
    assert main(["--project-dir", str(project), "--quiet", "environments", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["warnings"]) == 3 and all("2027-08-02" in w for w in report["warnings"])


def test_fails_if_the_rehearsed_day_is_not_a_date(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, err = _run(project, "next week", capsys, monkeypatch)
    assert (code, err) == (2, "error: QUALISYS_TODAY: got 'next week', expected a date YYYY-MM-DD\n")
