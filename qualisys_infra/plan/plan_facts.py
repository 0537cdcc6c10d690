"""What a plan says about itself beyond its changes: the configuration's references, the account
and partition it was made in, and the inputs it was made with.

Each is only a refinement (which rule belongs to which security group, which account a waiver
names, which image tag a release changes), so a section of an unexpected shape contributes nothing
rather than failing the plan.
"""

from __future__ import annotations

import re
from typing import Any


def references(configuration: Any) -> dict[str, dict[str, tuple[str, ...]]]:
    """What each configured resource's arguments reference, by configuration address.

    Only a refinement for the guardrails (which rule belongs to which security group), so a
    configuration section of an unexpected shape contributes nothing rather than failing the plan.
    """
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    root = configuration.get("root_module") if isinstance(configuration, dict) else None
    stack: list[tuple[str, Any]] = [("", root)]
    while stack:
        prefix, module = stack.pop()
        if not isinstance(module, dict):
            continue
        resources = module.get("resources")
        for resource in resources if isinstance(resources, list) else ():
            if not isinstance(resource, dict) or not isinstance(resource.get("address"), str):
                continue
            expressions = resource.get("expressions")
            refs = {
                name: tuple(r for r in expr["references"] if isinstance(r, str))
                for name, expr in (expressions.items() if isinstance(expressions, dict) else ())
                if isinstance(expr, dict) and isinstance(expr.get("references"), list)
            }
            found[prefix + resource["address"]] = refs
        calls = module.get("module_calls")
        for name, call in calls.items() if isinstance(calls, dict) else ():
            if isinstance(call, dict):
                stack.append((f"{prefix}module.{name}.", call.get("module")))
    return found


def planned_resources(module: Any) -> int:
    """How many resources ``planned_values`` lists (in the root module and every child module)."""
    count, stack = 0, [module]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            resources = item.get("resources")
            count += len(resources) if isinstance(resources, list) else 0
            children = item.get("child_modules")
            stack.extend(children if isinstance(children, list) else [])
    return count


_ACCOUNT = re.compile(r"[0-9]{12}")
_PARTITION = re.compile(r"aws(?:-[a-z]+)*")


def _data_values(prior_state: Any, type_: str, key: str) -> set[str]:
    """``key`` of every data source of ``type_`` that Terraform read while planning (``prior_state``
    holds them), in the root module and every child module; entries of another shape are skipped."""
    values = prior_state.get("values") if isinstance(prior_state, dict) else None
    found: set[str] = set()
    stack = [values.get("root_module") if isinstance(values, dict) else None]
    while stack:
        module = stack.pop()
        if not isinstance(module, dict):
            continue
        resources = module.get("resources")
        for resource in resources if isinstance(resources, list) else ():
            if isinstance(resource, dict) and resource.get("mode") == "data" and resource.get("type") == type_:
                read = resource.get("values")
                value = read.get(key) if isinstance(read, dict) else None
                if isinstance(value, str):
                    found.add(value)
        children = module.get("child_modules")
        stack.extend(children if isinstance(children, list) else [])
    return found


def _single(values: set[str], shape: re.Pattern[str]) -> str | None:
    """The one value of ``values`` when there is exactly one and it has ``shape``: two accounts read
    by one plan (a second, aliased provider) leave it unknown rather than picking one."""
    return next(iter(values)) if len(values) == 1 and shape.fullmatch(next(iter(values))) else None


def own_account(prior_state: Any, configuration: Any) -> str | None:
    """The account the plan is made in: what its ``aws_caller_identity`` data sources read, else the
    one account the default aws provider's ``allowed_account_ids`` permits."""
    read = _data_values(prior_state, "aws_caller_identity", "account_id")
    if read:
        return _single(read, _ACCOUNT)
    providers = configuration.get("provider_config") if isinstance(configuration, dict) else None
    allowed: set[str] = set()
    for provider in providers.values() if isinstance(providers, dict) else ():
        if not isinstance(provider, dict) or provider.get("name") != "aws" or provider.get("alias"):
            continue
        if provider.get("module_address"):
            continue
        expressions = provider.get("expressions")
        ids = expressions.get("allowed_account_ids") if isinstance(expressions, dict) else None
        value = ids.get("constant_value") if isinstance(ids, dict) else None
        if isinstance(value, list):
            allowed.update(v for v in value if isinstance(v, str))
    return _single(allowed, _ACCOUNT)


def inputs(variables: Any, configuration: Any) -> dict[str, str]:
    """``name -> value`` of each input variable given as a string or number and not declared
    sensitive; anything of another shape is left out rather than failing the plan."""
    if not isinstance(variables, dict):
        return {}
    root = configuration.get("root_module") if isinstance(configuration, dict) else None
    declared = root.get("variables") if isinstance(root, dict) else None
    declared = declared if isinstance(declared, dict) else {}
    found: dict[str, str] = {}
    for name, entry in sorted(variables.items()):
        value = entry.get("value") if isinstance(entry, dict) else None
        about = declared.get(name)
        if isinstance(about, dict) and about.get("sensitive") is True:
            continue
        if isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            found[str(name)] = str(value)
    return found


def partition(prior_state: Any) -> str | None:
    """The partition the plan is made in, as its ``aws_partition`` data sources read it."""
    return _single(_data_values(prior_state, "aws_partition", "partition"), _PARTITION)
