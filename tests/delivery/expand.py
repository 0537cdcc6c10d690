"""The workflows' jobs, expanded for one set of environments the way GitHub would run them.

No workflow keeps a list of environments: a job's matrix is ``fromJSON`` of a list the
``environments`` job computes (.github/actions/environments/matrix.py, from ``qualisys-infra
environments --json``), and a reusable workflow gets its environment from its callers. To check the
workflows against the stacks for a set of environments, each job is expanded here into one
:class:`Instance` per environment it runs for, with its GitHub environment, the Actions variables it
reads (``vars.NAME``, ``vars[matrix.env.apply_role]``: the entry's value) and its runner's variable.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import yaml

from qualisys_infra.core.runtime import PROJECT_ROOT
from qualisys_infra.core.settings import EnvironmentDelivery

MATRIX_SCRIPT = PROJECT_ROOT / ".github" / "actions" / "environments" / "matrix.py"
LOCAL_WORKFLOW = "./.github/workflows/"
# `env: ${{ fromJSON(needs.environments.outputs.first) }}`: a list the environments job computed.
COMPUTED = re.compile(r"^\$\{\{\s*fromJSON\(needs\.environments\.outputs\.(\w+)\)\s*\}\}$")
BY_MATRIX = re.compile(r"^\$\{\{\s*matrix\.env\.name\s*\}\}$")
BY_INPUT = re.compile(r"^\$\{\{\s*inputs\.([\w-]+)\s*\}\}$")
# An entry's field: the matrix's own, or the one `check` selected (service-release.yml).
ENTRY_FIELD = r"(?:matrix\.env|fromJSON\(needs\.check\.outputs\.environment\))\.(\w+)"
VARIABLE = re.compile(rf"vars(?:\.([A-Z0-9_]+)(?![A-Z0-9_<])|\[{ENTRY_FIELD}\]|\[(format\([^]]*\))\])")
RUNNER = re.compile(rf"^\$\{{\{{ vars(?:\.([A-Z0-9_]+)|\[{ENTRY_FIELD}\]) \|\| 'ubuntu-24\.04' \}}\}}$")


def matrix_module() -> ModuleType:
    """.github/actions/environments/matrix.py, imported from its path."""
    loaded = sys.modules.get("qualisys_environments_matrix")
    if loaded is None:
        spec = importlib.util.spec_from_file_location("qualisys_environments_matrix", MATRIX_SCRIPT)
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = loaded
        spec.loader.exec_module(loaded)
    return loaded


def environments_json(deliveries: tuple[EnvironmentDelivery, ...]) -> list[dict[str, Any]]:
    """What ``qualisys-infra environments --json`` lists for these environments (the fields read)."""
    return [
        {"name": d.name, "region": d.region, "delivery": d.delivery.value, "approval": d.approval} for d in deliveries
    ]


def matrices(deliveries: tuple[EnvironmentDelivery, ...]) -> dict[str, Any]:
    """The environments job's outputs for these environments (matrix.py's own computation)."""
    result: dict[str, Any] = matrix_module().matrices(environments_json(deliveries))
    return result


@dataclass
class Instance:
    """One job as it runs for one environment (``entry`` None: a job without a matrix of them)."""

    file: str
    job_id: str
    job: Mapping[str, Any]
    entry: dict[str, Any] | None
    name: str
    environment: str | None
    literal_environment: bool  # `environment:` names one rather than taking it from the computed list
    variables: set[str] = field(default_factory=set)
    dynamic: list[str] = field(default_factory=list)  # vars[format(...)]: a name no list computes
    runner: str | None = None  # the Actions variable of its runner (None: not a vars runner)

    @property
    def where(self) -> str:
        return f"{self.file}: {self.job_id}" + (f" ({self.entry['name']})" if self.entry else "")


def _entry_for(name: str, computed: Mapping[str, Any]) -> dict[str, Any]:
    """The entry of an environment named literally: the computed one, or one made for that name
    (an environment the files do not have; the checks then say so)."""
    for entry in computed["all"]:
        if entry["name"] == name:
            return dict(entry)
    made: dict[str, Any] = matrix_module().entry(
        {"name": name, "region": "?", "delivery": "pipeline", "approval": False}, "literal"
    )
    return made


def _matrix_entries(job: Mapping[str, Any], computed: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The entries a job's matrix runs for; None without an `env` matrix."""
    env = ((job.get("strategy") or {}).get("matrix") or {}).get("env")
    if env is None:
        return None
    if isinstance(env, list):  # hand-kept: check_hand_kept says so; expanded by name all the same
        return [_entry_for(str(name), computed) for name in env]
    match = COMPUTED.match(str(env))
    if match is None or match[1] not in computed:
        return []
    return [dict(e) for e in computed[match[1]]]


def _callers(
    workflows: Mapping[str, Mapping[str, Any]], computed: Mapping[str, Any]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(called workflow, input) -> the entries its callers pass (by their matrix or literally)."""
    passed: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for doc in workflows.values():
        for job in (doc.get("jobs") or {}).values():
            uses = str(job.get("uses", ""))
            if not uses.startswith(LOCAL_WORKFLOW):
                continue
            entries = _matrix_entries(job, computed)
            for name, value in (job.get("with") or {}).items():
                key = (uses.removeprefix(LOCAL_WORKFLOW), str(name))
                if BY_MATRIX.match(str(value)):
                    passed.setdefault(key, []).extend(entries or [])
                elif matrix_module().NAME.match(str(value)):
                    passed.setdefault(key, []).append(_entry_for(str(value), computed))
    return passed


def _environment(raw: Any, literal: bool, entry: Mapping[str, Any] | None) -> str | None:
    """The GitHub environment a job instance runs in."""
    if raw is None:
        return None
    if literal or entry is None:
        return str(raw)
    return str(entry["name"])


def expand(workflows: Mapping[str, Mapping[str, Any]], computed: Mapping[str, Any]) -> list[Instance]:
    """Every job of ``workflows`` (file name -> parsed YAML) for the environments ``computed`` lists."""
    callers = _callers(workflows, computed)
    instances: list[Instance] = []
    for file, doc in workflows.items():
        for job_id, job in (doc.get("jobs") or {}).items():
            raw = job.get("environment")
            raw = raw.get("name") if isinstance(raw, dict) else raw
            by_input = BY_INPUT.match(str(raw or ""))
            entries: list[dict[str, Any] | None]
            matrix = _matrix_entries(job, computed)
            if matrix is not None:
                entries = list(matrix)
            elif by_input:
                entries = list(callers.get((file, by_input[1]), []))
            elif raw is not None:
                entries = [_entry_for(str(raw), computed)]
            else:
                entries = [None]
            literal = raw is not None and not by_input and not BY_MATRIX.match(str(raw))
            text = yaml.safe_dump(dict(job), width=1 << 20)
            for entry in entries:
                name = str(job.get("name", job_id))
                if entry is not None:
                    name = name.replace("${{ matrix.env.name }}", entry["name"])
                instance = Instance(
                    file=file,
                    job_id=job_id,
                    job=job,
                    entry=entry,
                    name=name,
                    environment=_environment(raw, literal, entry),
                    literal_environment=literal,
                )
                for plain, by_field, dynamic in VARIABLE.findall(text):
                    if plain:
                        instance.variables.add(plain)
                    elif by_field and entry is not None and entry.get(by_field):
                        instance.variables.add(str(entry[by_field]))
                    elif dynamic:
                        instance.dynamic.append(dynamic)
                runner = RUNNER.match(str(job.get("runs-on", "")))
                if runner is not None:
                    instance.runner = runner[1] or (str(entry.get(runner[2], "")) if entry else None)
                instances.append(instance)
    return instances


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
