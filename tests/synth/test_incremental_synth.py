"""Per-environment invalidation: a synth redoes only the environments whose inputs changed (and the
account-wide stacks beside them), keeps the others' files as they were, and misses no change.

The engine is replaced by a stand-in that writes, per stack, the inputs it was given, so these run
in the check tier; tests/synth/test_incremental_engine.py does the same with the real engine."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from qualisys_infra.config import load_settings
from qualisys_infra.core.naming import ENVIRONMENT_STACK_KINDS, stack_name
from qualisys_infra.core.settings import Delivery, EnvironmentDelivery, Settings
from qualisys_infra.terraform import synth as synth_module
from qualisys_infra.terraform.synth import STAMP_FILE, SynthResult, expected_stacks, synth
from tests.conftest import ENVIRONMENT_NAMES


class FakeEngine:
    """Writes each stack as JSON of what it reads (an environment's stacks: its settings; the
    account-wide ones: the account and every delivery) and a manifest, as the engine does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, settings: Settings, *, staging_dir: Path) -> None:
        self.calls.append(tuple(env.environment for env in settings.environments))
        bodies = {
            s: {"account": repr(settings.account), "deliveries": repr(settings.deliveries)}
            for s in expected_stacks(settings)[:3]
        }
        for env in settings.environments:
            for kind in ENVIRONMENT_STACK_KINDS:
                bodies[stack_name(env.environment, kind)] = {"env": repr(env), "account": repr(settings.account)}
        for name, body in bodies.items():
            (staging_dir / "stacks" / name).mkdir(parents=True)
            (staging_dir / "stacks" / name / "cdk.tf.json").write_text(json.dumps(body), encoding="utf-8")
        manifest = {"stacks": {name: {"name": name} for name in sorted(bodies)}}
        (staging_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(synth_module, "build_and_synth", fake)
    # The toolkit's source is an input of every digest (tests/cli/test_synth_safety.py checks that);
    # here it is held still, so that an edit to the checkout while the test runs changes nothing.
    monkeypatch.setattr(synth_module, "_source_files", list)
    return fake


def _synth(project: Path, out: Path, *, force: bool = False, settings: Settings | None = None) -> SynthResult:
    env_dir = project / "environments"
    settings = settings or load_settings(env_dir, ENVIRONMENT_NAMES, root=project)
    return synth(
        settings, environments_dir=env_dir, outdir=out, force=force, check_with_terraform=False, check_schema=False
    )


def _files(out: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every stack file: (inode, mtime in ns, bytes)."""
    found = {}
    for path in sorted(out.glob("stacks/*/cdk.tf.json")):
        stat = path.stat()
        found[path.parent.name] = (stat.st_ino, stat.st_mtime_ns, path.read_bytes())
    return found


def _edit(path: Path, key: str, value: str) -> None:
    """Set ``key = value`` on its own line of a tfvars file (a real change of a setting)."""
    text = path.read_text(encoding="utf-8")
    changed = re.sub(rf"^(\s*{key}\s*=\s*).*$", rf"\g<1>{value}", text, count=1, flags=re.MULTILINE)
    assert changed != text, f"{key} not found in {path}"
    path.write_text(changed, encoding="utf-8")


@pytest.mark.parametrize("changed", ENVIRONMENT_NAMES)
def test_a_changed_environment_is_synthesized_again_and_only_it(
    project_copy: Path, tmp_path: Path, engine: FakeEngine, changed: str
) -> None:
    out = tmp_path / "cdktf.out"
    assert not _synth(project_copy, out).cached
    assert engine.calls == [ENVIRONMENT_NAMES]
    before = _files(out)
    assert _synth(project_copy, out).cached, "unchanged inputs: nothing is redone"
    assert len(engine.calls) == 1

    _edit(project_copy / "environments" / f"{changed}.tfvars", "log_retention_days", "400")
    result = _synth(project_copy, out)
    assert not result.cached
    assert engine.calls[-1] == (changed,), "only the changed environment goes through the engine"
    assert result.rebuilt == (changed,)
    after = _files(out)
    assert set(after) == set(before)
    for stack, (inode, mtime, body) in after.items():
        if stack.startswith(f"{changed}-"):
            assert body != before[stack][2], f"{stack}: the change was missed"
            assert "log_retention_days=400" in body.decode()
        elif stack in ("bootstrap", "account", "github"):
            assert body == before[stack][2], f"{stack}: reads no environment's settings but deliveries"
        else:
            assert (inode, mtime, body) == before[stack], f"{stack}: an unchanged environment's file was rewritten"
    stamp = json.loads((out / STAMP_FILE).read_text(encoding="utf-8"))
    assert stamp["rebuilt"] == [changed]
    assert [name for name, _ in stamp["phases"]][-1] == "unchanged stacks kept"
    assert _synth(project_copy, out).cached, "the new output is recorded: the next synth is a no-op"


def test_the_partial_output_is_byte_for_byte_a_whole_synth(
    project_copy: Path, tmp_path: Path, engine: FakeEngine
) -> None:
    out, whole = tmp_path / "cdktf.out", tmp_path / "whole"
    _synth(project_copy, out)
    _edit(project_copy / "environments" / "staging.tfvars", "log_retention_days", "60")
    _synth(project_copy, out)
    _synth(project_copy, whole, force=True)
    assert engine.calls == [ENVIRONMENT_NAMES, ("staging",), ENVIRONMENT_NAMES]
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file() and p.name != STAMP_FILE)
    assert files == sorted(p.relative_to(whole) for p in whole.rglob("*") if p.is_file() and p.name != STAMP_FILE)
    for name in files:
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name


def test_a_common_input_synthesizes_every_environment(project_copy: Path, tmp_path: Path, engine: FakeEngine) -> None:
    out = tmp_path / "cdktf.out"
    _synth(project_copy, out)
    account = project_copy / "environments" / "account.tfvars"
    account.write_text(
        account.read_text(encoding="utf-8") + "\n# any byte of account.tfvars counts\n", encoding="utf-8"
    )
    _synth(project_copy, out)
    assert engine.calls[-1] == ENVIRONMENT_NAMES


def test_a_delivery_change_synthesizes_the_account_wide_stacks_only(
    project_copy: Path, tmp_path: Path, engine: FakeEngine
) -> None:
    """Another environment's delivery is an input of the account and github stacks (roles, OIDC
    subjects, GitHub environments), even in ``synth --env dev``; no environment's stacks read it."""
    env_dir = project_copy / "environments"
    loaded = load_settings(env_dir, ENVIRONMENT_NAMES, root=project_copy)
    deliveries = tuple(
        EnvironmentDelivery(name=e.environment, region=e.region, delivery=Delivery.PIPELINE, approval=False)
        for e in loaded.environments
    )
    out = tmp_path / "cdktf.out"
    _synth(project_copy, out, settings=replace(loaded, deliveries=deliveries))
    before = _files(out)
    manual = (deliveries[0], replace(deliveries[1], delivery=Delivery.MANUAL), deliveries[2])
    dev_only = replace(loaded, environments=loaded.environments[:1], deliveries=manual)
    result = _synth(project_copy, out, settings=dev_only)
    assert not result.cached, "the account stack reads every environment's delivery"
    assert engine.calls[-1] == ()
    after = _files(out)
    assert after["account"][2] != before["account"][2]
    assert all(after[s] == before[s] for s in after if s not in ("bootstrap", "account", "github"))


def test_a_hand_edited_output_or_force_synthesizes_everything(
    project_copy: Path, tmp_path: Path, engine: FakeEngine
) -> None:
    out = tmp_path / "cdktf.out"
    _synth(project_copy, out)
    edited = out / "stacks" / "production-data" / "cdk.tf.json"
    edited.write_text(edited.read_text(encoding="utf-8") + " ", encoding="utf-8")
    _synth(project_copy, out)
    assert engine.calls[-1] == ENVIRONMENT_NAMES
    _synth(project_copy, out, force=True)
    assert engine.calls[-1] == ENVIRONMENT_NAMES
    assert len(engine.calls) == 3


def test_a_removed_environment_is_not_kept(project_copy: Path, tmp_path: Path, engine: FakeEngine) -> None:
    """When the settings name every environment of the project (``deliveries``), stacks of one whose
    file is gone are dropped from the output rather than kept."""
    env_dir = project_copy / "environments"
    loaded = load_settings(env_dir, ENVIRONMENT_NAMES, root=project_copy)
    deliveries = tuple(
        EnvironmentDelivery(name=e.environment, region=e.region, delivery=Delivery.PIPELINE, approval=False)
        for e in loaded.environments
    )
    out = tmp_path / "cdktf.out"
    _synth(project_copy, out, settings=replace(loaded, deliveries=deliveries))
    two = replace(loaded, environments=loaded.environments[:2], deliveries=deliveries[:2])
    result = _synth(project_copy, out, settings=two)
    assert not result.cached
    assert engine.calls[-1] == ()
    assert not any(p.name.startswith("production-") for p in (out / "stacks").iterdir())
    assert set(json.loads((out / "manifest.json").read_text(encoding="utf-8"))["stacks"]) == set(expected_stacks(two))
    assert os.listdir(out / "stacks")
