"""Stacks that ``plan`` leaves unplanned on purpose, and why: above all, stacks that wait for the
stacks they read.

A stack reads the outputs of the stacks it depends on through ``terraform_remote_state``. While the
plan of such an upstream stack still creates or changes an output the stack reads (a new
environment, a replaced cluster, a change that adds an output), the stack cannot be planned: Terraform
would fail on an output the state does not have yet, or plan against a value the upstream's apply
makes stale (a saved plan never reads its data sources again). An upstream outside the run (``--stack``)
is asked for its state's outputs instead. So ``plan`` leaves it out with a ``<stack>.waiting`` marker naming the
stacks it waits for (and removes its older plan files, so nothing stale can be applied), ``deploy``
applies the rest and names what waits, and the next ``plan`` picks the waiting stacks up: a new
environment converges in one plan-and-deploy per dependency level. An apps stack whose service was
never released is left unplanned the same way, with its own reason.

Plans made in separate runs can still meet in one deploy, so ``deploy`` checks the same thing from
the plans themselves (:func:`stale_read`): the values a plan read (its ``terraform_remote_state``
data source, in the plan's prior state) must still be the upstream's outputs, and no plan applied
in the same deploy may change them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from qualisys_infra.core.errors import UsageError
from qualisys_infra.plan.model import Kind, Plan

# How a synthesized stack reads an output of another (CDK Terrain's cross-stack references).
REMOTE_STATE = "cross-stack-reference-input-{upstream}"
REMOTE_OUTPUT = "terraform_remote_state." + REMOTE_STATE + ".outputs.{name}"


def changed_outputs(plan: Plan) -> frozenset[str]:
    """The outputs a plan creates or changes: a stack planned now against their old values (or
    none) would apply what its upstream's apply makes stale."""
    return frozenset(output.name for output in plan.outputs if output.kind is not Kind.NOOP)


def outputs_read(config_text: str, upstream: str) -> frozenset[str]:
    """The names of ``upstream``'s outputs a synthesized stack (its ``cdk.tf.json`` as text) reads."""
    prefix = re.escape(REMOTE_OUTPUT.format(upstream=upstream, name=""))
    return frozenset(re.findall(prefix + r"([A-Za-z0-9_-]+)", config_text))


def outputs_seen(shown: Mapping[str, Any], upstream: str) -> Mapping[str, Any] | None:
    """The outputs of ``upstream`` a plan read, as ``terraform show -json`` of the plan holds them
    (the ``terraform_remote_state`` data source in its prior state); None when it holds no such read."""
    name = REMOTE_STATE.format(upstream=upstream)
    prior = shown.get("prior_state")
    values = prior.get("values") if isinstance(prior, dict) else None
    modules = [values.get("root_module")] if isinstance(values, dict) else []
    while modules:  # iterative: a plan's nesting never costs the call stack
        module = modules.pop()
        if not isinstance(module, dict):
            continue
        for resource in module.get("resources") or ():
            if (
                isinstance(resource, dict)
                and (resource.get("mode"), resource.get("type"), resource.get("name"))
                == ("data", "terraform_remote_state", name)
                and isinstance(resource.get("values"), dict)
            ):
                outputs = resource["values"].get("outputs")
                return outputs if isinstance(outputs, dict) else None
        children = module.get("child_modules")
        modules.extend(children if isinstance(children, list) else ())
    return None


MISSING = object()


def stale_read(
    stack: str,
    upstream: str,
    read: frozenset[str],
    seen: Mapping[str, Any] | None,
    now: Mapping[str, Any],
    changing: frozenset[str],
) -> str | None:
    """Why ``stack``'s plan must not be applied, or None: it read ``read`` of ``upstream``'s outputs
    (``seen``: the values its plan holds), and ``upstream``'s state now holds ``now`` while the plan of
    ``upstream`` applied in the same deploy changes ``changing``. Names only, never values (an output
    may be a secret)."""
    if not read:
        return None
    if seen is None:
        return (
            f"{stack}: its plan holds no record of the outputs of {upstream} it reads ({', '.join(sorted(read))});"
            f" plan {stack} again"
        )
    moved = sorted(name for name in read if seen.get(name, MISSING) != now.get(name, MISSING))
    if moved:
        return (
            f"{stack}: its plan read outputs of {upstream} that {upstream}'s state no longer holds"
            f" ({', '.join(moved)}): {upstream} was applied since; plan {stack} again"
        )
    changed = sorted(read & changing)
    if changed:
        return (
            f"{stack}: its plan read outputs of {upstream} that {upstream}'s plan in this deploy changes"
            f" ({', '.join(changed)}); deploy {upstream} first (--stack {upstream}), then plan {stack} again"
        )
    return None


def waits_for(upstream: Sequence[str]) -> str:
    return (
        f"waits for {', '.join(upstream)}: it reads outputs their plans create or change;"
        " apply those plans, then plan again"
    )


def lacks_outputs(upstream: str, missing: Sequence[str]) -> str:
    return (
        f"waits for {upstream}: it reads outputs {upstream}'s state does not have yet ({', '.join(missing)});"
        f" plan and deploy {upstream} first"
    )


def write_marker(path: Path, reason: str) -> None:
    path.write_text(json.dumps({"reason": reason}) + "\n", encoding="utf-8")


def read_marker(path: Path) -> str | None:
    """Why a stack was left unplanned, or None when it was not."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except RecursionError:
        raise UsageError(
            f"{path}: not a marker of an unplanned stack (JSON nested too deeply); run `qualisys-infra plan` again"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{path}: not a marker of an unplanned stack: {exc}; run `qualisys-infra plan` again"
        ) from None
    reason = record.get("reason") if isinstance(record, dict) else None
    if not isinstance(reason, str) or not reason:
        raise UsageError(
            f"{path}: not a marker of an unplanned stack (expected reason: text); run `qualisys-infra plan` again"
        )
    return reason


def unplanned_in(folder: Path) -> dict[str, str]:
    """Every stack a plans folder holds a marker for, with why it was left unplanned."""
    found = {}
    for path in sorted(folder.glob("*.waiting")):
        reason = read_marker(path)
        if reason is not None:
            found[path.name.removesuffix(".waiting")] = reason
    return found


def unplanned_markdown(unplanned: Mapping[str, str]) -> str:
    """The review's note on the stacks left unplanned (empty when none)."""
    if not unplanned:
        return ""
    lines = "".join(f"\n> - `{stack}`: {reason}" for stack, reason in unplanned.items())
    return f"\n> [!NOTE]\n> Not planned:{lines}\n"


def unplanned_text(unplanned: Mapping[str, str]) -> str:
    return "".join(f"not planned: {stack}: {reason}\n" for stack, reason in unplanned.items())
