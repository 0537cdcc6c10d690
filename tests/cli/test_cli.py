"""The command line: exit codes, one-line errors naming file and line, nothing half-written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qualisys_infra.commands.cli import main
from tests.conftest import ROOT, Synthesized


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _break(project: Path, name: str, old: str, new: str) -> None:
    path = project / "environments" / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _previous_output(project: Path) -> Path:
    marker = project / "cdktf.out" / "stacks" / "dev-network" / "cdk.tf.json"
    marker.parent.mkdir(parents=True)
    marker.write_text('{"previous": true}', encoding="utf-8")
    return marker


# (case, file, text to replace, replacement, the line the error names (by its text), message)
BROKEN = [
    ("bad-hcl", "dev.tfvars", "az_count    = 2", "az_count    = = 2", "az_count", "syntax: not valid HCL"),
    (
        "unknown-key",
        "dev.tfvars",
        "nat_mode      ",
        "nat_mdoe      ",
        "nat_mdoe",
        "nat_mdoe: unknown key, did you mean `nat_mode`?",
    ),
    (
        "bad-cidr",
        "dev.tfvars",
        '"10.0.0.0/16"',
        '"10.0.0/16"',
        "vpc_cidr",
        'vpc_cidr: got "10.0.0/16", expected an IPv4 network',
    ),
    (
        "overlap",
        "dev.tfvars",
        '"10.0.9.0/24"]',
        '"10.0.16.0/24"]',
        "database_subnet_cidrs",
        'database_subnet_cidrs[1]: got "10.0.16.0/24", which overlaps',
    ),
    (
        "min-above-max",
        "dev.tfvars",
        "min_size       = 1",
        "min_size       = 6",
        "max_size       = 4",
        "node_groups.general.max_size: got 4, expected >= min_size (6)",
    ),
    (
        "wrong-type",
        "staging.tfvars",
        "rds_multi_az                  = true",
        'rds_multi_az = "yes"',
        "rds_multi_az",
        'rds_multi_az: got "yes" (a string), expected true or false',
    ),
]


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("case", "file", "old", "new", "needle", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_fails_with_exit_2_and_a_located_message(
    capsys: pytest.CaptureFixture[str],
    project_copy: Path,
    case: str,
    file: str,
    old: str,
    new: str,
    needle: str,
    message: str,
) -> None:
    _break(project_copy, file, old, new)
    marker = _previous_output(project_copy)
    code, out, err = _run(capsys, "--project-dir", str(project_copy), "synth", "--env", "all")
    assert code == 2, err
    lines = err.splitlines()
    line = _line_of(project_copy / "environments" / file, needle)
    assert lines[-1].startswith(f"error: environments/{file}:{line}: {message}"), lines
    assert all(line.startswith(("synth: ", "error: environments/")) for line in lines), lines
    assert "Traceback" not in err
    assert out == ""
    assert marker.read_text(encoding="utf-8") == '{"previous": true}', "previous output must be untouched"
    assert sorted(p.name for p in (project_copy / "cdktf.out").iterdir()) == ["stacks"]


def test_an_environment_without_its_file_is_no_environment(
    capsys: pytest.CaptureFixture[str], project_copy: Path
) -> None:
    (project_copy / "environments" / "staging.tfvars").unlink()
    code, _, err = _run(capsys, "--project-dir", str(project_copy), "synth", "--env", "staging")
    assert code == 2
    assert err.splitlines()[-1] == (
        "error: --env: got 'staging', expected an environment of environments/*.tfvars (dev, production) or all"
    )


def test_fails_if_account_file_is_missing(capsys: pytest.CaptureFixture[str], project_copy: Path) -> None:
    (project_copy / "environments" / "account.tfvars").unlink()
    code, _, err = _run(capsys, "--project-dir", str(project_copy), "synth", "--env", "staging")
    assert code == 2
    assert err.splitlines()[-1] == (
        "error: environments/account.tfvars:1: file: not found, expected an HCL file of `key = value` lines"
    )


def test_reports_violations_of_several_files_one_line_each(
    capsys: pytest.CaptureFixture[str], project_copy: Path
) -> None:
    _break(project_copy, "dev.tfvars", "az_count    = 2", "az_count    = 9")
    _break(project_copy, "production.tfvars", "max_size       = 20", "max_size       = 21")
    code, _, err = _run(capsys, "--project-dir", str(project_copy), "synth")
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert [e.split(":")[1].strip() for e in errors] == [
        "environments/dev.tfvars",
        "environments/dev.tfvars",
        "environments/dev.tfvars",
        "environments/dev.tfvars",
        "environments/production.tfvars",
    ], errors


def test_fails_if_environment_name_is_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "synth", "--env", "prod")
    assert code == 2
    assert (
        err.strip()
        == "error: --env: got 'prod', expected an environment of environments/*.tfvars (dev, staging, production) "
        "or all (did you mean production?)"
    )


def test_environments_lists_and_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--project-dir", str(ROOT), "environments")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ENVIRONMENT", "REGION", "DELIVERY", "VPC_CIDR"]
    assert [line.split()[0] for line in lines[1:4]] == ["dev", "staging", "production"]
    assert "pipeline approval" in lines[3] and "10.2.0.0/16" in lines[3] and "per_az" in lines[3]


def test_environments_json_reports_errors(capsys: pytest.CaptureFixture[str], project_copy: Path) -> None:
    _break(project_copy, "dev.tfvars", "az_count    = 2", "az_count    = 1")
    code, out, _ = _run(capsys, "--project-dir", str(project_copy), "environments", "--json")
    assert code == 2
    report = json.loads(out)
    assert report["valid"] is False
    assert any(e.startswith("environments/dev.tfvars:5: az_count: got 1") for e in report["errors"])


def test_help_is_available_everywhere() -> None:
    for argv in (["--help"], ["synth", "--help"], ["environments", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0


def test_synth_is_a_no_op_when_inputs_are_unchanged(
    capsys: pytest.CaptureFixture[str], synthesized: Synthesized
) -> None:
    """The session's synth wrote this folder from the same inputs: the CLI must rewrite nothing."""
    stack_file = synthesized.outdir / "stacks" / "dev-network" / "cdk.tf.json"
    before = stack_file.stat().st_mtime_ns
    code, out, err = _run(capsys, "--project-dir", str(ROOT), "synth", "--out", str(synthesized.outdir))
    assert code == 0, err
    assert out.startswith(f"synth: {len(synthesized.stacks)} stacks up to date, inputs unchanged")
    assert stack_file.stat().st_mtime_ns == before
    assert not [p for p in synthesized.outdir.parent.iterdir() if p.name.startswith(".cdktf.out")], (
        "no temp folder left"
    )


def test_synth_redoes_the_work_when_an_input_changes(tmp_path: Path, synthesized: Synthesized) -> None:
    from qualisys_infra.terraform.synth import input_digest

    settings = synthesized.settings
    before = input_digest(ROOT / "environments", settings)
    shutil.copytree(ROOT / "environments", tmp_path / "environments")
    changed = tmp_path / "environments" / "dev.tfvars"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n# a comment changes the digest\n", encoding="utf-8")
    after = input_digest(tmp_path / "environments", settings)
    assert before != after


def test_main_py_synthesizes_under_the_cdktn_cli(cdktn_synth: tuple[int, str, Path]) -> None:
    """`npx cdktn synth` runs cdktf.json's app (`python main.py`): the real entry point, end to end."""
    code, output, out = cdktn_synth
    assert code == 0, output
    # Under cdktn the app keeps progress off stderr, which the cdktn CLI would show as [ERROR] lines.
    assert "synth: loading settings" not in output
    assert sorted(p.name for p in (out / "stacks").iterdir()) == [
        "account",
        "bootstrap",
        "dev-apps",
        "dev-cluster",
        "dev-data",
        "dev-network",
        "dev-platform",
        "github",
    ]
    config = json.loads((out / "stacks" / "dev-network" / "cdk.tf.json").read_text(encoding="utf-8"))
    assert config["terraform"]["backend"]["s3"]["key"] == "dev/network.tfstate"


def test_main_py_reports_config_errors_without_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "QUALISYS_ENVIRONMENTS": "qa", "CDKTF_OUTDIR": str(tmp_path / "out")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: --env: got 'qa'")
    assert "Traceback" not in result.stderr
