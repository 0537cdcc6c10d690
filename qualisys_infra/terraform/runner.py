"""Running the stages of synthesized stacks: init, plan, show, apply, output; in dependency order.

Stacks of one dependency level run in parallel. Terraform's own error output is shown in full with
the stack it came from, and the exit code says which stage failed: 3 init, 4 plan, 5 show, 6 apply,
7 state migration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualisys_infra.core.errors import TerraformError, UsageError
from qualisys_infra.core.progress import Progress
from qualisys_infra.terraform.executable import Result, Terraform
from qualisys_infra.terraform.output import read_manifest
from qualisys_infra.terraform.secret_reads import WHOLE, PlanScope, scope_file
from qualisys_infra.terraform.waiting import write_marker

# What `plan` writes into PLANS/<env>/ beside each stack's plan JSON (<stack>.json): the review
# stamp <stack>.reviewed.json and the review of every stack as JSON, review.json (with review.md,
# <stack>.tfplan, <stack>.waiting and <stack>.scope, which are not *.json).
REVIEW_STAMP_SUFFIX = ".reviewed.json"
REVIEW_JSON = "review.json"


def is_toolkit_file(path: Path) -> bool:
    """Whether ``path`` is a JSON file `plan` writes beside the plans that is not a plan."""
    return path.name == REVIEW_JSON or path.name.endswith(REVIEW_STAMP_SUFFIX)


def check_plans_saved(plans_dir: Path, environments: Sequence[str], command: str) -> None:
    """Refuse an environment whose plans folder holds no saved plan (``<stack>.tfplan``) and no
    stack left unplanned on purpose (``<stack>.waiting``): run before anything else ``deploy``
    needs (AWS credentials, Terraform, a synth), since planning is what the person does next."""
    for env in environments:
        folder = plans_dir / env
        if not any(folder.glob("*.tfplan")) and not any(folder.glob("*.waiting")):
            raise UsageError(
                f"{command}: {folder}: no saved plans for {env}; run `qualisys-infra plan --env {env}` first"
            )


def plan_files(paths: Sequence[Path]) -> list[Path]:
    """The plan JSON files ``paths`` name, the one definition of what a plan file is: a folder
    stands for every ``*.json`` in it, and the toolkit's own files beside the plans
    (:func:`is_toolkit_file`) are left out, so ``review plans/dev`` and ``review plans/dev/*.json``
    both read the plans and nothing else. A folder without plans is bad input (exit 2)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.glob("*.json") if p.is_file() and not is_toolkit_file(p))
            if not inside:
                raise UsageError(f"{path}: no plan files in this folder (`plan` writes <stack>.json)")
            found += inside
        elif not is_toolkit_file(path):
            found.append(path)
    return found


LOCK_TIMEOUT = "60s"  # wait this long for another run's state lock before failing
STAGE_EXIT = {"init": 3, "plan": 4, "show": 5, "output": 5, "apply": 6, "migrate": 7}
# What Terraform's S3 backend says when the state bucket is missing (and nothing looser: the CLI
# also warns that a missing ~/.terraformrc "does not exist").
MISSING_BUCKET = re.compile(r'S3 bucket "[^"]+" does not exist|NoSuchBucket')


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
    manifest = read_manifest(outdir)
    unknown = [s for s in stacks if s not in manifest.stacks]
    if unknown:
        raise UsageError(f"--stack: got {', '.join(unknown)}, expected one of {', '.join(manifest.stacks)}")
    wanted = set(stacks)
    depends = {s: set(manifest.dependencies[s]) & wanted for s in stacks}
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
    # False: plans take no state lock (-lock=false), for an identity that may not write locks (the
    # pull-request plan role); applying such a plan later still refuses a state that moved on.
    state_lock: bool = True

    def stack_dir(self, stack: str) -> Path:
        return self.outdir / "stacks" / stack

    def plan_paths(self, stack: str) -> tuple[Path, Path, Path]:
        """The binary plan, its JSON, and the review stamp of ``stack``."""
        folder = self.plans_dir / environment_of(stack)
        return folder / f"{stack}.tfplan", folder / f"{stack}.json", folder / f"{stack}{REVIEW_STAMP_SUFFIX}"

    def waiting_path(self, stack: str) -> Path:
        """The marker of a stack ``plan`` left unplanned on purpose, with why (:mod:`.waiting`)."""
        return self.plan_paths(stack)[0].with_suffix(".waiting")

    def leave_unplanned(self, stack: str, reason: str) -> None:
        """Leave ``stack`` unplanned on purpose: its older plan files go (nothing stale can be
        applied) and a marker says why, for the review and for ``deploy``."""
        binary, as_json, stamp = self.plan_paths(stack)
        for stale in (binary, as_json, stamp, scope_file(as_json)):
            stale.unlink(missing_ok=True)
        binary.parent.mkdir(parents=True, exist_ok=True)
        write_marker(self.waiting_path(stack), reason)
        self.progress(f"{stack}: not planned: {reason}")

    def _run(self, stage: str, stack: str, args: Sequence[str], cwd: Path | None = None) -> Result:
        result = self.terraform.run(args, cwd or self.stack_dir(stack))
        if result.code != 0:
            raise StageError(stage, stack, result)
        return result

    def init(self, stack: str, *extra: str) -> None:
        configs = [f"-backend-config={Path(c).resolve()}" for c in self.backend_configs]
        no_lock = [] if self.state_lock else ["-lock=false"]
        self._run("init", stack, ["init", "-input=false", "-no-color", *no_lock, *configs, *extra])

    def plan(self, stack: str, variables: Mapping[str, str] | None = None, *, scope: PlanScope = WHOLE) -> Path:
        """init, plan -out, show -json; returns the plan JSON path (written atomically).

        ``variables`` are the stack's input variables (``-var``), recorded in the plan. ``scope``: a
        plan without refresh (``-refresh=false``, against the state as last applied) or limited to
        targets (``-target``, with what they depend on); kept beside the JSON for every review."""
        binary, as_json, stamp = self.plan_paths(stack)
        binary.parent.mkdir(parents=True, exist_ok=True)
        stamp.unlink(missing_ok=True)  # a new plan has not been reviewed yet
        scope_file(as_json).unlink(missing_ok=True)
        self.waiting_path(stack).unlink(missing_ok=True)
        refresh, targets = scope.refresh, scope.targets
        self.progress(f"{stack}: init")
        self.init(stack)
        how = ("" if refresh else " (without refresh)") + (f" ({len(targets)} resources targeted)" if targets else "")
        self.progress(f"{stack}: plan{how}")
        lock = f"-lock-timeout={self.lock_timeout}" if self.state_lock else "-lock=false"
        inputs = [f"-var={name}={value}" for name, value in sorted((variables or {}).items())]
        options = ["-input=false", "-no-color", lock, *([] if refresh else ["-refresh=false"]), *inputs]
        options += [f"-target={address}" for address in targets]
        self._run("plan", stack, ["plan", *options, f"-out={binary.resolve()}"])
        shown = self.show_json(stack, binary)
        tmp = as_json.with_suffix(".json.tmp")
        tmp.write_text(shown, encoding="utf-8")
        tmp.replace(as_json)
        if scope != WHOLE:
            scope_file(as_json).write_text(scope.record(), encoding="utf-8")
        return as_json

    def show_json(self, stack: str, binary: Path) -> str:
        """``terraform show -json`` of a saved plan (the stack's folder must be initialized)."""
        return self._run("show", stack, ["show", "-json", "-no-color", str(binary.resolve())]).stdout

    def apply(self, stack: str, binary: Path | None = None) -> str:
        """Apply a saved plan: ``binary`` (the copy :func:`check_reviewed` verified), else the stack's own.
        An apply always holds the state lock."""
        if not self.state_lock:
            raise UsageError(f"{stack}: an apply always takes the state lock; this run was started without it")
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
    return stack_outputs(runner, stack)


def stack_outputs(runner: StackRunner, stack: str) -> dict[str, Any]:
    """``terraform output -json`` of an initialized stack: each output's value (empty: no state yet)."""
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
