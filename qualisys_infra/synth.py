"""App assembly and synthesis: one engine start for every requested environment, written atomically.

The engine writes into a temporary folder beside the output folder; the result is loaded with
Terraform's own parser, and only then renamed into place. A failure at any step leaves the
previous output untouched. A content hash of every input (settings files, the toolkit's own
source, the lock files) makes a repeated synth with unchanged inputs a no-op.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from qualisys_infra.config import ACCOUNT_FILE, Settings
from qualisys_infra.errors import SynthError
from qualisys_infra.naming import ACCOUNT_STACK, BOOTSTRAP_STACK, ENVIRONMENT_STACK_KINDS, stack_name
from qualisys_infra.runtime import PROJECT_ROOT

STAMP_FILE = ".qualisys-synth.json"
# The bootstrap stack's state before its bucket exists: at the project root, outside the output
# folder that every synth replaces (see terraform_runner.bootstrap).
BOOTSTRAP_STATE_FILE = "terraform.bootstrap.tfstate"
# Everything whose change can change the output. Paths are relative to the project root.
SOURCE_DIRS = ("qualisys_infra", "stacks", "modules", "bootstrap")
LOCK_FILES = ("requirements.txt", "package-lock.json", "cdktf.json")

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class SynthResult:
    """What a synth produced: the output folder, its stacks, and whether it came from the cache."""

    outdir: Path
    stacks: tuple[str, ...]
    cached: bool
    seconds: float


def expected_stacks(settings: Settings) -> tuple[str, ...]:
    """The stacks a synth of ``settings`` produces, in deployment order."""
    return (
        BOOTSTRAP_STACK,
        ACCOUNT_STACK,
        *(stack_name(env.environment, kind) for env in settings.environments for kind in ENVIRONMENT_STACK_KINDS),
    )


def input_digest(environments_dir: Path, settings: Settings, outdir: Path) -> str:
    """A hash of every input of a synth (settings, the toolkit's source, pins); equal digests mean
    equal output."""
    h = hashlib.sha256()
    files = [environments_dir / ACCOUNT_FILE]
    files += [environments_dir / f"{env.environment}.tfvars" for env in settings.environments]
    for folder in SOURCE_DIRS:
        files += sorted((PROJECT_ROOT / folder).rglob("*.py"))
    files += [PROJECT_ROOT / name for name in (*LOCK_FILES, "main.py")]
    for path in files:
        h.update(str(path).encode())
        h.update(b"\0")
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
        h.update(b"\0")
    h.update(json.dumps([env.environment for env in settings.environments]).encode())
    h.update(str(outdir).encode())
    return h.hexdigest()


def _is_up_to_date(outdir: Path, digest: str, stacks: Iterable[str]) -> bool:
    stamp = outdir / STAMP_FILE
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict) or recorded.get("digest") != digest:
        return False
    return all((outdir / "stacks" / s / "cdk.tf.json").is_file() for s in stacks)


def synth(
    settings: Settings,
    *,
    environments_dir: Path,
    outdir: Path,
    force: bool = False,
    check_with_terraform: bool = True,
    progress: Progress = lambda _: None,
) -> SynthResult:
    """Synthesize the bootstrap stack and every stack of ``settings.environments`` into ``outdir``."""
    started = time.perf_counter()
    stacks = expected_stacks(settings)
    digest = input_digest(environments_dir, settings, outdir.resolve())
    if not force and _is_up_to_date(outdir, digest, stacks):
        return SynthResult(outdir, stacks, cached=True, seconds=time.perf_counter() - started)

    outdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", suffix=".tmp", dir=outdir.parent))
    try:
        progress("starting the engine (CDK Terrain)")
        build_and_synth(settings, staging_dir=staging)
        missing = [s for s in stacks if not (staging / "stacks" / s / "cdk.tf.json").is_file()]
        if missing:
            raise SynthError(f"synth: the engine did not write stack(s) {', '.join(missing)}")
        if check_with_terraform:
            progress(f"loading {len(stacks)} stacks with Terraform's parser")
            from qualisys_infra.terraform_core import check_stacks

            check_stacks(staging, stacks)
        (staging / STAMP_FILE).write_text(
            json.dumps({"digest": digest, "stacks": list(stacks)}, indent=2) + "\n", encoding="utf-8"
        )
        _replace_dir(staging, outdir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return SynthResult(outdir, stacks, cached=False, seconds=time.perf_counter() - started)


def build_and_synth(settings: Settings, *, staging_dir: Path) -> None:
    """Build one engine ``App`` with every stack and synthesize it into ``staging_dir``."""
    # Imported here: importing the engine starts Node.js and takes seconds.
    from bootstrap.stack import BootstrapStack
    from qualisys_infra.engine import TARGET_VERSIONS, App
    from stacks.account import AccountStack
    from stacks.cluster import ClusterStack
    from stacks.data import DataStack
    from stacks.network import NetworkStack
    from stacks.platform import ClusterPlatformStack

    try:
        app = App(outdir=str(staging_dir), context={"targetVersions": TARGET_VERSIONS})
        BootstrapStack(app, account=settings.account)
        account = AccountStack(app, account=settings.account)
        for env in settings.environments:
            network = NetworkStack(app, account=settings.account, env=env)
            cluster = ClusterStack(app, account=settings.account, env=env, network=network.network)
            cluster.add_dependency(network)
            cluster.add_dependency(account)  # its access entries name the account stack's roles
            data = DataStack(app, account=settings.account, env=env, network=network.network, cluster=cluster.eks)
            data.add_dependency(cluster)
            platform = ClusterPlatformStack(
                app, account=settings.account, env=env, network=network.network, cluster=cluster.eks
            )
            platform.add_dependency(cluster)
        app.synth()
    except Exception as exc:  # the engine raises jsii's RuntimeError with the JavaScript message
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SynthError(f"synth: the engine failed: {first}") from exc


def _replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` at ``target``: two renames, so ``target`` is never half-written."""
    if not target.exists():
        new.rename(target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    target.rename(old)
    try:
        new.rename(target)
    except OSError:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
