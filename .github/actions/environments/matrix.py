"""The workflows' environment lists, computed from ``qualisys-infra environments --json``.

Reads that JSON (a list of objects with at least name, region, delivery and approval, or an object
holding the list as ``environments``) and prints ``key=<JSON>`` lines for ``$GITHUB_OUTPUT``:

- ``all``: every environment (pull requests plan each, drift checks each);
- ``first``: the pipeline environments without approval (deploy applies them first, in parallel);
- ``approved``: the pipeline environments with approval (applied after every ``first`` one succeeded,
  each once a reviewer approves in its GitHub environment);
- ``selected``: with ``--only NAME``, that pipeline environment's entry (``first`` and ``approved``
  then hold it alone); ``{}`` without.

Each entry names the Actions variables the github stack sets for the environment (a job reads
``vars[matrix.env.apply_role]``): GitHub allows only letters, digits and ``_`` in a variable's name.
A bad input is one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from qualisys_infra.core.naming import ISOLATION_VERIFIED_ENVIRONMENTS, runner_variable

NAME = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
VARIABLE = re.compile(r"^[A-Z_][A-Z0-9_]*$")  # the names GitHub accepts for an Actions variable
DELIVERIES = ("pipeline", "manual")


class InputError(Exception):
    """A one-line problem with the input."""


def suffix(name: str) -> str:
    """An environment's part of an Actions variable name (modules.github_delivery.variable_suffix)."""
    return name.upper().replace("-", "_")


def entry(item: Any, where: str) -> dict[str, Any]:
    """One environment's matrix entry."""
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected an object with name, region, delivery and approval")
    name = item.get("name", item.get("environment"))
    if not isinstance(name, str) or not NAME.match(name):
        raise InputError(f"{where}: name {name!r} is not a DNS label (a-z, 0-9 and -, at most 63)")
    delivery, approval, region = item.get("delivery"), item.get("approval"), item.get("region")
    if delivery not in DELIVERIES:
        raise InputError(f"{where} ({name}): delivery {delivery!r}, expected one of {', '.join(DELIVERIES)}")
    if not isinstance(approval, bool):
        raise InputError(f"{where} ({name}): approval {approval!r}, expected true or false")
    if not isinstance(region, str) or not region:
        raise InputError(f"{where} ({name}): region {region!r}, expected an AWS region")
    pipeline = delivery == "pipeline"
    made = {
        "name": name,
        "region": region,
        "delivery": delivery,
        "approval": approval,
        "plan_runner": runner_variable(name, "plan"),
        "apply_runner": runner_variable(name, "apply"),
        # Roles only where CI applies: a manual environment has none (no variable, so no role).
        "apply_role": f"AWS_APPLY_ROLE_ARN_{suffix(name)}" if pipeline else "",
        "release_role": f"AWS_RELEASE_ROLE_ARN_{suffix(name)}" if pipeline else "",
        "verify_isolation": pipeline and name in ISOLATION_VERIFIED_ENVIRONMENTS,
    }
    for key in ("plan_runner", "apply_runner", "apply_role", "release_role"):
        if made[key] and not VARIABLE.match(str(made[key])):
            raise InputError(f"{where} ({name}): {key} {made[key]!r} is not a valid Actions variable name")
    return made


def matrices(data: Any, only: str = "") -> dict[str, Any]:
    """``all``, ``first``, ``approved`` and ``selected`` of the environments in ``data``."""
    items = data.get("environments") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise InputError("expected a non-empty list of environments")
    entries = [entry(item, f"environment {i + 1}") for i, item in enumerate(items)]
    names = [e["name"] for e in entries]
    for name in names:
        if names.count(name) > 1:
            raise InputError(f"environment {name!r} is listed twice")
    pipeline = [e for e in entries if e["delivery"] == "pipeline"]
    selected: dict[str, Any] = {}
    if only:
        chosen = [e for e in pipeline if e["name"] == only]
        if not chosen:
            applied = ", ".join(e["name"] for e in pipeline) or "none"
            raise InputError(f"environment {only!r} is not one CI applies (delivery = pipeline: {applied})")
        pipeline, selected = chosen, chosen[0]
    return {
        "all": entries,
        "first": [e for e in pipeline if not e["approval"]],
        "approved": [e for e in pipeline if e["approval"]],
        "selected": selected,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("environments", type=Path, help="the output of `qualisys-infra environments --json`")
    parser.add_argument("--only", default="", help="one pipeline environment (empty: every one)")
    args = parser.parse_args(argv)
    try:
        text = args.environments.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {exc.lineno}: not JSON: {exc.msg}") from None
        result = matrices(data, args.only)
    except (InputError, OSError) as exc:
        print(f"error: {args.environments}: {exc}", file=sys.stderr)
        return 2
    for key, value in result.items():
        print(f"{key}={json.dumps(value, separators=(',', ':'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
