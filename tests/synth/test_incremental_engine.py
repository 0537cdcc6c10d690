"""Per-environment invalidation with the real engine: an edit to dev.tfvars re-synthesizes dev's
stacks (the change is in them, and nothing else changed in them), and staging's and production's
files stay as they were (tests/synth/test_incremental_synth.py covers the cases with a stand-in)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qualisys_infra.config import load_settings
from qualisys_infra.terraform import synth as synth_module
from qualisys_infra.terraform.synth import STAMP_FILE, environment_digests, synth
from tests.conftest import ENV_DIR, ENVIRONMENT_NAMES, Synthesized

PLANTED = "planted-cost-center"


def test_an_edit_to_dev_resynthesizes_dev_only(
    tmp_path: Path, synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The session's output, as a project copy's earlier synth. The toolkit's source is held still
    # (other edits to the checkout must not make every environment stale while this runs), so the
    # copied stamp gets the digests of these inputs with that source.
    monkeypatch.setattr(synth_module, "_source_files", list)
    shutil.copytree(ENV_DIR, tmp_path / "environments")
    env_dir = tmp_path / "environments"
    out = tmp_path / "cdktf.out"
    shutil.copytree(synthesized.outdir, out)
    settings = load_settings(env_dir, ENVIRONMENT_NAMES, root=tmp_path)
    stamp = json.loads((out / STAMP_FILE).read_text(encoding="utf-8"))
    stamp["account"] = synth_module.account_digest(env_dir, settings)
    stamp["environments"] = environment_digests(env_dir, settings)
    (out / STAMP_FILE).write_text(json.dumps(stamp), encoding="utf-8")
    assert synth(settings, environments_dir=env_dir, outdir=out).cached
    before = {p.parent.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("stacks/*/cdk.tf.json")}

    dev = env_dir / "dev.tfvars"
    text = dev.read_text(encoding="utf-8")
    assert 'CostCenter  = "engineering"' in text
    dev.write_text(text.replace('CostCenter  = "engineering"', f'CostCenter  = "{PLANTED}"'), encoding="utf-8")
    settings = load_settings(env_dir, ENVIRONMENT_NAMES, root=tmp_path)
    messages: list[str] = []
    result = synth(settings, environments_dir=env_dir, outdir=out, progress=messages.append)

    assert not result.cached
    assert result.rebuilt == ("dev",)
    assert "kept staging, production from the earlier synth in cdktf.out/" in messages
    for stack in synthesized.stacks:
        path = out / "stacks" / stack / "cdk.tf.json"
        body = path.read_text(encoding="utf-8")
        session = (synthesized.outdir / "stacks" / stack / "cdk.tf.json").read_text(encoding="utf-8")
        if stack.startswith("dev-"):
            assert PLANTED in body, f"{stack}: the edit was missed"
            assert body.replace(PLANTED, "engineering") == session, f"{stack}: differs by more than the edit"
        else:
            assert body == session, stack
        if stack.startswith(("staging-", "production-")):
            assert (path.stat().st_ino, path.stat().st_mtime_ns) == before[stack], f"{stack} was written again"
    assert synth(settings, environments_dir=env_dir, outdir=out).cached
