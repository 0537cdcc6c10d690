"""App assembly and synthesis: one engine start for every requested environment, written atomically.

The engine writes into a temporary folder beside the output folder; the result is loaded with
Terraform's own parser, and only then renamed into place. A failure at any step leaves the
previous output untouched. A content hash of every input (settings files, the toolkit's own
source, the lock files) makes a repeated synth with unchanged inputs a no-op.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualisys_infra.core.errors import SynthError, UsageError
from qualisys_infra.core.naming import (
    ACCOUNT_STACK,
    BOOTSTRAP_STACK,
    ENVIRONMENT_STACK_KINDS,
    GITHUB_STACK,
    stack_name,
)
from qualisys_infra.core.progress import Progress
from qualisys_infra.core.runtime import PROJECT_ROOT
from qualisys_infra.core.settings import ACCOUNT_FILE, Settings
from qualisys_infra.gates.parser import StackChecker

STAMP_FILE = ".qualisys-synth.json"
# The bootstrap stack's state before its bucket exists: at the project root, outside the output
# folder that every synth replaces (see qualisys_infra.terraform.bootstrap).
BOOTSTRAP_STATE_FILE = "terraform.bootstrap.tfstate"
# Everything whose change can change the output. Paths are relative to the project root.
SOURCE_DIRS = ("qualisys_infra", "stacks", "modules", "bootstrap")
LOCK_FILES = ("requirements.txt", "package-lock.json", "cdktf.json")


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
        GITHUB_STACK,
        *(stack_name(env.environment, kind) for env in settings.environments for kind in ENVIRONMENT_STACK_KINDS),
    )


def _source_files() -> list[Path]:
    """Every file of the toolkit's source folders (code, templates, package data), not caches."""
    files: list[Path] = []
    for folder in SOURCE_DIRS:
        files += (
            p
            for p in sorted((PROJECT_ROOT / folder).rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
        )
    return files


def _hash_files(h: Any, files: Iterable[Path]) -> None:
    for path in files:
        h.update(str(path).encode())
        h.update(b"\0")
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
        h.update(b"\0")


def environment_digests(environments_dir: Path, settings: Settings) -> dict[str, str]:
    """Per environment, a hash of every input of its stacks: its tfvars file, ``account.tfvars``,
    the toolkit's source and templates, and the pins. Equal digests mean equal
    output; the account and bootstrap stacks follow the common inputs, which every digest holds."""
    common = hashlib.sha256()
    _hash_files(common, [environments_dir / ACCOUNT_FILE, *_source_files()])
    _hash_files(common, [PROJECT_ROOT / name for name in (*LOCK_FILES, "main.py")])
    digests = {}
    for env in settings.environments:
        h = common.copy()
        _hash_files(h, [environments_dir / f"{env.environment}.tfvars"])
        digests[env.environment] = h.hexdigest()
    return digests


def input_digest(environments_dir: Path, settings: Settings) -> str:
    """One hash of every input of a synth of ``settings`` (see :func:`environment_digests`)."""
    digests = environment_digests(environments_dir, settings)
    return hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()


def _output_files(folder: Path) -> dict[str, str]:
    """SHA-256 of every file synth wrote into ``folder`` (the stamp itself aside), by relative path."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != STAMP_FILE
    }


def _read_stamp(outdir: Path) -> dict[str, Any]:
    try:
        recorded = json.loads((outdir / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def _is_up_to_date(outdir: Path, digests: Mapping[str, str], stacks: Iterable[str]) -> bool:
    """Every requested environment's recorded digest matches, and every output file is byte for
    byte what synth wrote (a hand-edited ``cdk.tf.json`` or a removed stack is synthesized again)."""
    recorded = _read_stamp(outdir)
    environments = recorded.get("environments")
    if not isinstance(environments, dict) or any(environments.get(e) != d for e, d in digests.items()):
        return False
    if not all((outdir / "stacks" / s / "cdk.tf.json").is_file() for s in stacks):
        return False
    try:
        return bool(recorded.get("files")) and recorded.get("files") == _output_files(outdir)
    except OSError:
        return False


def _keep_other_environments(outdir: Path, staging: Path, requested: Iterable[str]) -> dict[str, str]:
    """Copy into ``staging`` the stacks of the environments an earlier synth wrote and this one
    does not (``synth --env dev`` keeps staging and production), merging their manifest entries;
    return their recorded digests. Nothing is kept from an output whose files no longer match."""
    recorded = _read_stamp(outdir)
    environments = recorded.get("environments")
    if not isinstance(environments, dict) or not recorded.get("files"):
        return {}
    try:
        if recorded["files"] != _output_files(outdir):
            return {}
        old_manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    kept = {e: d for e, d in environments.items() if isinstance(d, str) and e not in set(requested)}
    manifest_path = staging / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for env in kept:
        for kind in ENVIRONMENT_STACK_KINDS:
            stack = stack_name(env, kind)
            if (outdir / "stacks" / stack).is_dir() and stack in old_manifest.get("stacks", {}):
                shutil.copytree(outdir / "stacks" / stack, staging / "stacks" / stack)
                manifest["stacks"][stack] = old_manifest["stacks"][stack]
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return kept


def check_output_folder(outdir: Path, project: Path) -> None:
    """Refuse an output folder that synth does not own: it would be replaced whole.

    Synth owns a folder that does not exist yet, an empty one, or one holding its marker
    (:data:`STAMP_FILE`, written by every complete synth). Never the project, an ancestor of it,
    or a regular file.
    """
    shown = os.path.relpath(outdir) if outdir.is_relative_to(Path.cwd()) else str(outdir)
    hint = "choose a new or empty folder, or one an earlier synth wrote"
    if project == outdir or project.is_relative_to(outdir):
        raise UsageError(f"synth: --out {shown}: holds the project ({project}); {hint}")
    if outdir.is_symlink() or (outdir.exists() and not outdir.is_dir()):
        raise UsageError(f"synth: --out {shown}: is not a folder; {hint}")
    if outdir.is_dir():
        try:
            empty = next(outdir.iterdir(), None) is None
        except OSError as exc:
            raise UsageError(f"synth: --out {shown}: cannot be read ({exc.strerror}); {hint}") from None
        if not empty and not (outdir / STAMP_FILE).is_file():
            raise UsageError(f"synth: --out {shown}: holds files synth did not write (no {STAMP_FILE}); {hint}")


def synth(
    settings: Settings,
    *,
    environments_dir: Path,
    outdir: Path,
    force: bool = False,
    check_with_terraform: bool = True,
    check_schema: bool = True,
    progress: Progress = lambda _: None,
) -> SynthResult:
    """Synthesize the bootstrap stack and every stack of ``settings.environments`` into ``outdir``.

    Only a folder synth owns is replaced (see :func:`check_output_folder`); the engine writes into a
    temporary sibling that is removed on any failure or signal, and the final swap holds a lock, so
    parallel synths into one folder each leave a whole output and nothing else behind.
    """
    started = time.perf_counter()
    outdir = outdir.resolve()
    check_output_folder(outdir, environments_dir.resolve().parent)
    stacks = expected_stacks(settings)
    digests = environment_digests(environments_dir, settings)
    if not force and _is_up_to_date(outdir, digests, stacks):
        return SynthResult(outdir, stacks, cached=True, seconds=time.perf_counter() - started)

    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(outdir)
        staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.{os.getpid()}.", suffix=".tmp", dir=outdir.parent))
    except OSError as exc:
        raise UsageError(f"synth: --out {outdir}: cannot write into {outdir.parent} ({exc.strerror})") from None
    checker: StackChecker | None = None
    try:
        # Terraform's parser starts now, in a child process, so that its start-up overlaps the engine's.
        checker = StackChecker() if check_with_terraform else None
        progress("starting the engine (CDK Terrain)")
        build_and_synth(settings, staging_dir=staging)
        missing = [s for s in stacks if not (staging / "stacks" / s / "cdk.tf.json").is_file()]
        if missing:
            raise SynthError(f"synth: the engine did not write stack(s) {', '.join(missing)}")
        if checker:
            progress(f"loading {len(stacks)} stacks with Terraform's parser")
            checker.check(staging, stacks)
        if check_schema:
            from qualisys_infra.gates.schema import check_configs, ensure_indexes

            ensure_indexes(progress=progress)  # once per installed binding; seconds the first time
            progress(f"checking {len(stacks)} stacks against the providers' schemas")
            configs = {
                s: json.loads((staging / "stacks" / s / "cdk.tf.json").read_text(encoding="utf-8")) for s in stacks
            }
            check_configs(configs).raise_for_violations()
        kept = _keep_other_environments(outdir, staging, digests)
        if kept:
            progress(f"kept {', '.join(kept)} from the earlier synth in {outdir.name}/")
        stamp = {
            "environments": {**kept, **digests},
            "stacks": sorted(os.listdir(staging / "stacks")),
            "files": _output_files(staging),
        }
        (staging / STAMP_FILE).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
        publish(staging, outdir, project=environments_dir.resolve().parent)
    finally:
        if checker:
            checker.close()
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return SynthResult(outdir, stacks, cached=False, seconds=time.perf_counter() - started)


def publish(staging: Path, outdir: Path, *, project: Path) -> None:
    """Swap the complete folder ``staging`` into place at ``outdir``, under the folder's lock (two
    synths finishing at once take turns; neither fails, neither leaves an old copy behind)."""
    with _lock(outdir):
        check_output_folder(outdir, project)  # another process may have put something there meanwhile
        _replace_dir(staging, outdir)


@contextlib.contextmanager
def _lock(outdir: Path) -> Iterator[None]:
    """An exclusive lock on the folder that holds ``outdir``, held while it is swapped (a lock on
    the folder itself leaves no lock file behind; it is held for milliseconds)."""
    fd = os.open(outdir.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _remove_abandoned(outdir: Path) -> None:
    """Remove the temporary and old folders of synths whose process is gone (killed with SIGKILL,
    say); those of running synths are left alone."""
    pattern = re.compile(rf"^\.{re.escape(outdir.name)}\.(?:(\d+)\..*\.tmp|old-(\d+))$")
    for candidate in outdir.parent.iterdir():
        m = pattern.match(candidate.name)
        if m and candidate.is_dir() and not _alive(int(m.group(1) or m.group(2))):
            shutil.rmtree(candidate, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def build_and_synth(settings: Settings, *, staging_dir: Path) -> None:
    """Build one engine ``App`` with every stack and synthesize it into ``staging_dir``."""
    # Imported here: importing the engine starts Node.js and takes seconds.
    from bootstrap.stack import BootstrapStack
    from qualisys_infra.core.engine import TARGET_VERSIONS, App
    from stacks.account import AccountStack
    from stacks.apps import AppsStack
    from stacks.cluster import ClusterStack
    from stacks.data import DataStack
    from stacks.github import GithubStack
    from stacks.network import NetworkStack
    from stacks.platform import ClusterPlatformStack

    try:
        app = App(outdir=str(staging_dir), context={"targetVersions": TARGET_VERSIONS})
        BootstrapStack(app, account=settings.account)
        account = AccountStack(app, account=settings.account)
        github = GithubStack(app, account=settings.account, pipeline_outputs=account.pipeline_outputs)
        github.add_dependency(account)  # its Actions variables hold the account stack's outputs
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
            apps = AppsStack(app, account=settings.account, env=env, cluster=cluster.eks, edge=platform.edge)
            apps.add_dependency(platform)  # namespaces, the Argo Rollouts controller and its CRDs
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
