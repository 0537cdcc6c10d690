"""App assembly and synthesis: one engine start for every requested environment, written atomically.

The engine writes into a temporary folder beside the output folder; the result is loaded with
Terraform's own parser, and only then renamed into place. A failure at any step leaves the
previous output untouched.

Each environment's stacks are keyed by a hash of their own inputs (its tfvars file, ``account.tfvars``,
the toolkit's own source, the lock files), and the account-wide stacks (bootstrap, account, github)
by the common inputs and every environment's delivery, which they read. A synth redoes only what
changed: the stacks of an environment whose inputs changed, with the account-wide stacks beside
them, and keeps the rest of the earlier output as it was (hard links: same bytes, same mtime). With
unchanged inputs it is a no-op. Each synth records in its stamp where its time went.
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
from contextvars import ContextVar
from dataclasses import dataclass, replace
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
    """What a synth produced: the output folder, its stacks, and whether it came from the cache.
    ``rebuilt``: the environments whose stacks the engine wrote this time (the account-wide stacks
    are written whenever the engine runs); ``phases``: where the time went, in order (seconds)."""

    outdir: Path
    stacks: tuple[str, ...]
    cached: bool
    seconds: float
    rebuilt: tuple[str, ...] = ()
    phases: tuple[tuple[str, float], ...] = ()


class _Laps:
    """Wall time between successive marks: ``lap("what just finished")``."""

    def __init__(self) -> None:
        self.laps: list[tuple[str, float]] = []
        self._last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.append((name, now - self._last))
        self._last = now


_LAPS: ContextVar[_Laps | None] = ContextVar("qualisys_synth_laps", default=None)


def _lap(name: str) -> None:
    """Mark the end of a phase of the synth running in this context (nothing outside a synth)."""
    laps = _LAPS.get()
    if laps is not None:
        laps(name)


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


def _hash_files(h: Any, files: Iterable[Path], root: Path) -> None:
    """Each file's path below ``root`` and its bytes (a project moved elsewhere keeps its digests)."""
    for path in files:
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes() if path.is_file() else b"<missing>")
        h.update(b"\0")


def _common_hash(environments_dir: Path) -> Any:
    """A hash of what every stack reads: ``account.tfvars``, the toolkit's source and templates, the pins."""
    common = hashlib.sha256()
    _hash_files(common, [environments_dir / ACCOUNT_FILE], environments_dir)
    _hash_files(common, _source_files(), PROJECT_ROOT)
    _hash_files(common, [PROJECT_ROOT / name for name in (*LOCK_FILES, "main.py")], PROJECT_ROOT)
    return common


def _digests(environments_dir: Path, settings: Settings) -> tuple[str, dict[str, str]]:
    """:func:`account_digest` and :func:`environment_digests`, hashing the common inputs once."""
    common = _common_hash(environments_dir)
    account = common.copy()
    account.update(b"deliveries\0" + repr(settings.deliveries).encode())
    digests = {}
    for env in settings.environments:
        h = common.copy()
        _hash_files(h, [environments_dir / f"{env.environment}.tfvars"], environments_dir)
        digests[env.environment] = h.hexdigest()
    return account.hexdigest(), digests


def environment_digests(environments_dir: Path, settings: Settings) -> dict[str, str]:
    """Per environment, a hash of every input of its stacks: its tfvars file, ``account.tfvars``,
    the toolkit's source and templates, and the pins. Equal digests mean equal output: an
    environment's stacks read no other environment's file."""
    return _digests(environments_dir, settings)[1]


def account_digest(environments_dir: Path, settings: Settings) -> str:
    """A hash of every input of the account-wide stacks (bootstrap, account, github): the common
    inputs of :func:`environment_digests` and every environment's delivery (``settings.deliveries``,
    which the account and github stacks read: roles, boundaries, OIDC subjects, GitHub environments)."""
    return _digests(environments_dir, settings)[0]


def input_digest(environments_dir: Path, settings: Settings) -> str:
    """One hash of every input of a synth of ``settings`` (see :func:`environment_digests`)."""
    account, digests = _digests(environments_dir, settings)
    return hashlib.sha256(json.dumps({"account": account, **digests}, sort_keys=True).encode()).hexdigest()


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


def _intact(outdir: Path, recorded: Mapping[str, Any]) -> bool:
    """``outdir`` holds exactly the files its stamp records, byte for byte (a hand-edited
    ``cdk.tf.json``, a removed stack or a file synth did not write each make it not intact)."""
    try:
        return bool(recorded.get("files")) and recorded.get("files") == _output_files(outdir)
    except OSError:
        return False


def _env_stacks_written(outdir: Path, env: str) -> bool:
    return all(
        (outdir / "stacks" / stack_name(env, kind) / "cdk.tf.json").is_file() for kind in ENVIRONMENT_STACK_KINDS
    )


def _is_up_to_date(outdir: Path, digests: Mapping[str, str], stacks: Iterable[str], account: str | None = None) -> bool:
    """Every requested environment's recorded digest matches (and the account-wide stacks' one,
    when given), every stack is there, and every output file is byte for byte what synth wrote."""
    recorded = _read_stamp(outdir)
    environments = recorded.get("environments")
    if not isinstance(environments, dict) or any(environments.get(e) != d for e, d in digests.items()):
        return False
    if account is not None and recorded.get("account") != account:
        return False
    if not all((outdir / "stacks" / s / "cdk.tf.json").is_file() for s in stacks):
        return False
    return _intact(outdir, recorded)


def _stale(outdir: Path, account: str, digests: Mapping[str, str], *, force: bool) -> tuple[bool, tuple[str, ...]]:
    """What must be synthesized again: whether the account-wide stacks are (their recorded digest
    differs), and which of the requested environments (those whose recorded digest differs or whose
    stacks are missing). Everything, when forced or when the earlier output is not intact."""
    recorded = _read_stamp(outdir)
    environments = recorded.get("environments")
    if force or not isinstance(environments, dict) or not _intact(outdir, recorded):
        return True, tuple(digests)
    account_wide = (BOOTSTRAP_STACK, ACCOUNT_STACK, GITHUB_STACK)
    account_stale = recorded.get("account") != account or not all(
        (outdir / "stacks" / s / "cdk.tf.json").is_file() for s in account_wide
    )
    stale = tuple(e for e, d in digests.items() if environments.get(e) != d or not _env_stacks_written(outdir, e))
    return account_stale, stale


def _link_or_copy(source: str, target: str) -> None:
    """A hard link (the kept file keeps its bytes, inode and mtime), or a copy where links fail."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _keep_environments(outdir: Path, staging: Path, keep: Iterable[str]) -> dict[str, str]:
    """Bring into ``staging`` the stacks an earlier synth wrote of the environments in ``keep``
    (those this synth does not redo: unchanged ones, and others ``synth --env dev`` was not asked
    for), merging their manifest entries; return their recorded digests. Nothing is kept from an
    output whose files no longer match its stamp, nor an environment whose stacks are incomplete."""
    recorded = _read_stamp(outdir)
    environments = recorded.get("environments")
    if not isinstance(environments, dict) or not _intact(outdir, recorded):
        return {}
    try:
        old_manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    old_stacks = old_manifest.get("stacks") if isinstance(old_manifest, dict) else None
    if not isinstance(old_stacks, dict):
        return {}
    manifest_path = staging / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    kept: dict[str, str] = {}
    for env in keep:
        digest = environments.get(env)
        names = [stack_name(env, kind) for kind in ENVIRONMENT_STACK_KINDS]
        if (
            not isinstance(digest, str)
            or not _env_stacks_written(outdir, env)
            or not all(n in old_stacks for n in names)
            or any((staging / "stacks" / n).exists() for n in names)
        ):
            continue
        for stack in names:
            shutil.copytree(outdir / "stacks" / stack, staging / "stacks" / stack, copy_function=_link_or_copy)
            manifest["stacks"][stack] = old_stacks[stack]
        kept[env] = digest
    # In the engine's own order (by name), so that the manifest is byte for byte a whole synth's.
    manifest["stacks"] = dict(sorted(manifest["stacks"].items()))
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
    started, started_at = time.perf_counter(), time.time()
    laps = _Laps()
    outdir = outdir.resolve()
    check_output_folder(outdir, environments_dir.resolve().parent)
    stacks = expected_stacks(settings)
    account, digests = _digests(environments_dir, settings)
    account_stale, stale = _stale(outdir, account, digests, force=force)
    if not account_stale and not stale:
        return SynthResult(outdir, stacks, cached=True, seconds=time.perf_counter() - started)
    laps("inputs hashed, earlier output checked")

    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(outdir)
        staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.{os.getpid()}.", suffix=".tmp", dir=outdir.parent))
    except OSError as exc:
        raise UsageError(f"synth: --out {outdir}: cannot write into {outdir.parent} ({exc.strerror})") from None
    checker: StackChecker | None = None
    token = _LAPS.set(laps)
    try:
        # Only the environments whose inputs changed; the account-wide stacks are built every time
        # the engine runs (the environments' stacks depend on the account stack).
        redo = replace(settings, environments=tuple(e for e in settings.environments if e.environment in stale))
        built = expected_stacks(redo)
        # Terraform's parser starts now, in a child process, so that its start-up overlaps the engine's.
        checker = StackChecker() if check_with_terraform else None
        unchanged = [e for e in digests if e not in stale]
        progress(
            "starting the engine (CDK Terrain)" + (f"; unchanged, kept: {', '.join(unchanged)}" if unchanged else "")
        )
        build_and_synth(redo, staging_dir=staging)
        missing = [s for s in built if not (staging / "stacks" / s / "cdk.tf.json").is_file()]
        if missing:
            raise SynthError(f"synth: the engine did not write stack(s) {', '.join(missing)}")
        if checker:
            progress(f"loading {len(built)} stacks with Terraform's parser")
            checker.check(staging, built)
            laps("Terraform's parser (the rest of its run, after the engine)")
        if check_schema:
            from qualisys_infra.gates.schema import check_configs, ensure_indexes

            ensure_indexes(progress=progress)  # once per installed binding; seconds the first time
            progress(f"checking {len(built)} stacks against the providers' schemas")
            configs = {
                s: json.loads((staging / "stacks" / s / "cdk.tf.json").read_text(encoding="utf-8")) for s in built
            }
            check_configs(configs).raise_for_violations()
            laps("provider schema gate")
        # Kept: every environment of the earlier output this synth did not redo, except one whose
        # tfvars file is gone from the project (when the settings name every environment).
        known = {d.name for d in settings.deliveries}
        recorded = _read_stamp(outdir).get("environments")
        keep = [
            e for e in (recorded if isinstance(recorded, dict) else {}) if e not in stale and (not known or e in known)
        ]
        kept = _keep_environments(outdir, staging, keep)
        lost = [s for s in stacks if not (staging / "stacks" / s / "cdk.tf.json").is_file()]
        if lost:
            raise SynthError(
                f"synth: {outdir.name}/ changed while synth ran, so stack(s) {', '.join(lost)} could not be"
                " kept from it; run synth again"
            )
        if kept:
            progress(f"kept {', '.join(kept)} from the earlier synth in {outdir.name}/")
        laps("unchanged stacks kept")
        stamp = {
            "account": account,
            "environments": {**kept, **{e: digests[e] for e in stale}},
            "stacks": sorted(os.listdir(staging / "stacks")),
            "files": _output_files(staging),
            "rebuilt": list(stale),
            "started": round(started_at, 3),  # seconds since the epoch, to set the phases in a process's run
            "phases": [[name, round(seconds, 3)] for name, seconds in laps.laps],
        }
        (staging / STAMP_FILE).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
        publish(staging, outdir, project=environments_dir.resolve().parent)
        laps("stamp written, output published")
    finally:
        _LAPS.reset(token)
        if checker:
            checker.close()
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return SynthResult(
        outdir,
        stacks,
        cached=False,
        seconds=time.perf_counter() - started,
        rebuilt=stale,
        phases=tuple(laps.laps),
    )


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

    _lap("engine start: cdktn, the provider bindings' classes the stacks use, the stacks' modules imported")
    try:
        app = App(outdir=str(staging_dir), context={"targetVersions": TARGET_VERSIONS})
        BootstrapStack(app, account=settings.account)
        account = AccountStack(app, account=settings.account, deliveries=settings.deliveries)
        github = GithubStack(
            app, account=settings.account, deliveries=settings.deliveries, pipeline_outputs=account.pipeline_outputs
        )
        github.add_dependency(account)  # its Actions variables hold the account stack's outputs
        _lap("construct bootstrap, account, github")
        for env in settings.environments:
            network = NetworkStack(app, account=settings.account, env=env)
            _lap(f"construct {env.environment}-network")
            cluster = ClusterStack(app, account=settings.account, env=env, network=network.network)
            cluster.add_dependency(network)
            cluster.add_dependency(account)  # its access entries name the account stack's roles
            _lap(f"construct {env.environment}-cluster")
            data = DataStack(app, account=settings.account, env=env, network=network.network, cluster=cluster.eks)
            data.add_dependency(cluster)
            _lap(f"construct {env.environment}-data")
            platform = ClusterPlatformStack(
                app, account=settings.account, env=env, network=network.network, cluster=cluster.eks
            )
            platform.add_dependency(cluster)
            _lap(f"construct {env.environment}-platform")
            apps = AppsStack(app, account=settings.account, env=env, cluster=cluster.eks, edge=platform.edge)
            apps.add_dependency(platform)  # namespaces, the Argo Rollouts controller and its CRDs
            _lap(f"construct {env.environment}-apps")
        app.synth()
        _lap("engine synth: every stack to JSON, written")
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
