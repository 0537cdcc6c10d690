"""Review records and the second review before an apply.

Deploying a saved plan never trusts a file written next to it: :func:`check_reviewed` copies the
binary plan somewhere private, runs ``terraform show -json`` on that copy and the guardrails on
what it shows, and only that copy is applied. The ``.reviewed.json`` record only says which plan
``plan`` reviewed (its SHA-256), and, for a note, the destroy allowances that review used. It is
never a permission: it travels as an artifact written by the plan job, which holds the read-only
role, so what the second review allows comes only from its caller (the deploying command's
``--allow-destroy`` and the environment's reviewed tfvars).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from qualisys_infra.core.errors import PolicyError, UsageError
from qualisys_infra.core.github_text import shown as escaped
from qualisys_infra.plan.guardrails import blocking as blocking_findings
from qualisys_infra.plan.guardrails import check
from qualisys_infra.plan.iam_waivers import OwnNames
from qualisys_infra.plan.model import loads_plan
from qualisys_infra.terraform.runner import StackRunner, environment_of


def plan_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """What ``plan`` recorded about the plan it reviewed; a record, never a permission.

    ``allow_destroy`` is what that review allowed, kept for a note when deploy allows less."""

    plan_sha256: str
    allow_destroy: tuple[str, ...]


SHA256 = re.compile(r"[0-9a-f]{64}")


def record_review(runner: StackRunner, stack: str, *, allowed: Sequence[str]) -> None:
    """Record which plan file was reviewed, and (for a note, never a permission) what it allowed."""
    binary, _, stamp = runner.plan_paths(stack)
    stamp.write_text(
        json.dumps(
            {"plan_sha256": plan_digest(binary), "allow_destroy": list(allowed)},
            indent=2,
        )
        + "\n",
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


def shown_path(copy: Path) -> Path:
    """Where :func:`check_reviewed` keeps ``terraform show -json`` of the checked copy ``copy``."""
    return copy.with_suffix(".json")


def check_reviewed(
    runner: StackRunner,
    stack: str,
    workdir: Path,
    *,
    command: str = "deploy",
    allow_destroy: Sequence[str] | Mapping[str, str] = (),
    own: OwnNames | None = None,
) -> Path:
    """Review again the exact plan about to be applied; return the private copy to apply.

    The saved ``.tfplan`` is copied into ``workdir`` (so it cannot change between this check and
    the apply), must be the plan ``plan`` reviewed (its SHA-256 in the review record), and
    ``terraform show -json`` of the copy is run through the guardrails with ``allow_destroy``, the
    caller's allowances (each with where it comes from, or a list given on its command line): never
    the record's, which only names, in a note, what the review allowed beyond them; ``own``: the
    project's own names, which its IAM waivers are made of. Any blocking finding refuses the stack
    (exit 1). What ``show`` printed is kept beside the copy (:func:`shown_path`), for the checks that
    read the plan itself.
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
    shown = runner.show_json(stack, copy)
    shown_path(copy).write_text(shown, encoding="utf-8")
    plan = loads_plan(shown, f"{binary} (terraform show -json)")
    stop = blocking_findings(check(plan, allow_destroy=allow_destroy, stack=stack, own=own))
    only_recorded = [a for a in record.allow_destroy if a not in allow_destroy]
    note = (
        f"{command}: {stack}: the review allowed destroying {', '.join(map(escaped, only_recorded))},"
        f" this {command} does not"
        f" (a review record is never a permission); to allow it, give `{command} --allow-destroy ADDRESS` or"
        f" list it in allow_destroy in environments/{environment_of(stack)}.tfvars"
        if only_recorded
        else ""
    )
    if stop:
        raise PolicyError(
            "\n".join(
                [
                    f"{command}: {stack}: {len(stop)} blocking guardrail finding(s) in the plan about to be applied; "
                    "nothing was applied",
                    *(str(f) for f in stop),
                    *([note] if note else []),
                ]
            )
        )
    if note:
        runner.progress(note)
    if allow_destroy:
        runner.progress(f"{stack}: destroy allowed for {', '.join(map(escaped, allow_destroy))}")
    return copy
