"""Which environments a project has: every ``environments/<name>.tfvars`` but ``account.tfvars``.

An environment is a file, not a name in code: :func:`read_environments` finds the files, checks each
name (a DNS label that the names built from it fit, none reserved) and reads the few keys every
command needs of every environment (region, delivery, approval, network, hosts), and
:func:`check_across` holds the rules between environments (networks apart, hosts their own).

The project's order, which ``--env all``, ``environments`` and the workflows' matrix follow: the
environments applied by hand first, then those the pipeline applies, then those whose apply waits for
an approval (the way a change travels), each group by name. dev, staging and production keep their
order, and so their synthesized output.
"""

from __future__ import annotations

import difflib
import ipaddress
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from qualisys_infra.config.hclfile import HclDocument, read_hcl
from qualisys_infra.config.reader import MISSING, Reader, expected, show
from qualisys_infra.config.rules import approval_waits_in_the_pipeline, region_is_an_aws_region
from qualisys_infra.core.errors import ConfigError, UsageError, Violation
from qualisys_infra.core.naming import (
    ACCOUNT_STACK,
    BOOTSTRAP_STACK,
    CLUSTER_NAMESPACES,
    ENVIRONMENT_NAME,
    environment_name_limits,
)
from qualisys_infra.core.settings import ACCOUNT_FILE, Delivery, EnvironmentConfig, EnvironmentDelivery

SUFFIX = ".tfvars"
# Not an environment's name: `all` is what --env takes for every environment; `account` and
# `bootstrap` are the state key prefixes of the account-level stacks (an environment's apply role may
# write `<name>/*` in the state bucket).
RESERVED_NAMES = ("all", ACCOUNT_STACK, BOOTSTRAP_STACK)
# What every command reads of every environment, whichever it asked for.
_CHEAP_KEYS = ("environment", "region", "delivery", "approval", "vpc_cidr", "ingress_domain", "grafana_domain")


@dataclass(frozen=True, slots=True)
class EnvironmentEntry:
    """One environment file and the keys read of it; a key the file lacks or gets wrong is None."""

    name: str
    path: Path
    file: str  # as errors show it, e.g. environments/qa.tfvars
    region: str | None
    delivery: Delivery
    approval: bool
    vpc_cidr: ipaddress.IPv4Network | None
    hosts: tuple[tuple[str, str], ...]  # (key, host): ingress_domain and grafana_domain
    document: HclDocument

    def line_of(self, key: str) -> int:
        return self.document.line_of((key,))

    @property
    def order(self) -> tuple[int, str]:
        return order_key(self.delivery, self.approval, self.name)

    def as_delivery(self) -> EnvironmentDelivery:
        return EnvironmentDelivery(
            name=self.name, region=self.region or "", delivery=self.delivery, approval=self.approval
        )


def order_key(delivery: Delivery, approval: bool, name: str) -> tuple[int, str]:
    """The project's order: by hand, then by the pipeline, then behind an approval; then by name."""
    stage = 0 if delivery is Delivery.MANUAL else 2 if approval else 1
    return (stage, name)


def _from_project(environments_dir: Path) -> typing.Callable[[Path], str]:
    def shown(path: Path) -> str:
        return str(path.relative_to(environments_dir.parent))

    return shown


def environment_files(environments_dir: Path) -> list[Path]:
    """Every ``*.tfvars`` of ``environments_dir`` but account.tfvars, by name: a directory of that name
    too (reading it fails in one line, rather than an environment vanishing); hidden names (an
    editor's ``.#dev.tfvars`` lock, ``.dev.tfvars.swp``) are not environments."""
    return sorted(
        p for p in environments_dir.glob(f"*{SUFFIX}") if p.name != ACCOUNT_FILE and not p.name.startswith(".")
    )


def no_environments(folder: str) -> Violation:
    """The project has no environment: one line saying what to add."""
    return Violation(
        folder,
        1,
        "environments",
        f"no environment files: expected at least one <name>{SUFFIX} besides {ACCOUNT_FILE} "
        "(copy staging.tfvars: docs/adding-an-environment.md)",
    )


_DOCUMENTS: dict[tuple[str, bytes], HclDocument] = {}


def document(path: Path, shown: str) -> HclDocument:
    """``read_hcl`` of ``path``, parsed once per content in a process (every command reads every
    environment's delivery and then loads some of the same files in full)."""
    try:
        data = path.read_bytes()
    except OSError:
        return read_hcl(path, shown)  # raises the one-line "not found" / "cannot be read"
    key = (shown, data)
    if key not in _DOCUMENTS:
        if len(_DOCUMENTS) >= 64:
            _DOCUMENTS.clear()
        _DOCUMENTS[key] = read_hcl(path, shown)
    return _DOCUMENTS[key]


def name_problem(name: str) -> str | None:
    """Why ``name`` (a file's name without .tfvars) cannot name an environment, or None."""
    if name in RESERVED_NAMES:
        return f"{show(name)} is reserved ({', '.join(RESERVED_NAMES)}: --env's keyword and the account's state)"
    if name in CLUSTER_NAMESPACES or name.startswith("kube-"):
        return (
            f"{show(name)} is a namespace the cluster or the platform has ({', '.join(CLUSTER_NAMESPACES)}, "
            "kube-*): an environment's name is its namespace"
        )
    if not ENVIRONMENT_NAME.fullmatch(name):
        lower = name.lower()
        hint = f" (did you mean {show(lower)}?)" if lower != name and ENVIRONMENT_NAME.fullmatch(lower) else ""
        return (
            f"{show(name)} is not a DNS label: expected 1-63 lower-case letters, digits and single -, from a letter "
            f"to a letter or digit{hint}: rename the file and its `environment`"
        )
    return None


def named_after_its_file(reader: Reader, values: Mapping[str, Any], name: str, others: Iterable[str] = ()) -> None:
    """``environment`` is the file's own name (so names are unique: one file each)."""
    got = values.get("environment")
    if isinstance(got, str) and got != name:
        twin = f", which is {got}{SUFFIX}'s own" if got in set(others) else ""
        reader.fail(("environment",), f"got {show(got)}{twin}, expected {show(name)} (the file's own name)")


def read_environments(
    environments_dir: Path, shown: typing.Callable[[Path], str] | None = None
) -> tuple[EnvironmentEntry, ...]:
    """Every environment of the project with its cheap keys, in the project's order; raise
    :class:`ConfigError` with every bad name and every wrong cheap key of every file. ``shown``: how
    errors name a file (default: from the project folder, ``environments/qa.tfvars``)."""
    if shown is None:
        shown = _from_project(environments_dir)
    violations: list[Violation] = []
    entries: list[EnvironmentEntry] = []
    files = environment_files(environments_dir)
    lowered: dict[str, str] = {}
    for path in files:
        name, display = path.name.removesuffix(SUFFIX), shown(path)
        try:
            doc = document(path, display)
        except ConfigError as exc:
            violations.extend(exc.violations)
            continue
        problem = name_problem(name)
        twin = lowered.get(name.lower())
        if problem is None and twin is not None:
            problem = f"{show(name)} differs from {twin}{SUFFIX} only in case: expected each environment once"
        lowered.setdefault(name.lower(), name)
        if problem is not None:
            violations.append(Violation(display, doc.line_of(("environment",)), "environment", problem))
            continue
        names = [p.name.removesuffix(SUFFIX) for p in files]
        entry = _read_entry(name, path, doc, violations, names)
        if entry is not None:
            entries.append(entry)
    if violations:
        raise ConfigError(sorted(dict.fromkeys(violations), key=lambda v: (v.file, v.line)))
    return tuple(sorted(entries, key=lambda e: e.order))


def _read_entry(
    name: str, path: Path, doc: HclDocument, violations: list[Violation], names: Sequence[str]
) -> EnvironmentEntry | None:
    reader = Reader(doc)
    hints = typing.get_type_hints(EnvironmentConfig)
    config_fields = {f.name: f for f in fields(EnvironmentConfig)}
    values: dict[str, Any] = {}
    for key in _CHEAP_KEYS:
        if key in doc.values:
            values[key] = reader.convert(doc.values[key], hints[key], (key,), expected(config_fields[key].metadata))
    named_after_its_file(reader, values, name, names)
    delivery = values.get("delivery", Delivery.MANUAL)
    approval = values.get("approval", False)
    approval_waits_in_the_pipeline(reader, values)
    region_is_an_aws_region(reader, values)
    region = values.get("region")
    if "region" not in doc.values:
        reader.fail(("region",), f"missing required key, expected {expected(config_fields['region'].metadata)}")
    network: ipaddress.IPv4Network | None = None
    cidr = values.get("vpc_cidr")
    if isinstance(cidr, str):
        try:
            parsed = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            parsed = None  # the environment's own rules say what is wrong with it when it is loaded
        network = parsed if isinstance(parsed, ipaddress.IPv4Network) else None
    hosts = tuple((k, values[k]) for k in ("ingress_domain", "grafana_domain") if isinstance(values.get(k), str))
    violations.extend(reader.violations)
    if reader.violations or delivery is MISSING or approval is MISSING:
        return None
    return EnvironmentEntry(
        name=name,
        path=path,
        file=doc.display_name,
        region=region if isinstance(region, str) else None,
        delivery=delivery,
        approval=approval,
        vpc_cidr=network,
        hosts=hosts,
        document=doc,
    )


def check_across(entries: Sequence[EnvironmentEntry], project: str | None) -> list[Violation]:
    """The rules between environments: separate networks, hosts of their own, and names that fit
    every name built from them with the project's name."""
    violations: list[Violation] = []
    for i, entry in enumerate(entries):
        for other in entries[:i]:
            if entry.vpc_cidr is not None and other.vpc_cidr is not None and entry.vpc_cidr.overlaps(other.vpc_cidr):
                violations.append(
                    Violation(
                        entry.file,
                        entry.line_of("vpc_cidr"),
                        "vpc_cidr",
                        f"got {show(str(entry.vpc_cidr))}, which overlaps {other.file}:{other.line_of('vpc_cidr')} "
                        f"vpc_cidr {show(str(other.vpc_cidr))}; expected a separate network per environment "
                        "(so they can be peered)",
                    )
                )
            for key, host in entry.hosts:
                for other_key, other_host in other.hosts:
                    if host == other_host:
                        violations.append(
                            Violation(
                                entry.file,
                                entry.line_of(key),
                                key,
                                f"got {show(host)}, which is {other.file}:{other.line_of(other_key)} {other_key}: "
                                "expected a host of this environment's own (each environment's certificate "
                                "and DNS record name it)",
                            )
                        )
        if project is not None:
            violations.extend(_name_fits(entry, project))
    return violations


def _name_fits(entry: EnvironmentEntry, project: str) -> list[Violation]:
    over = [
        (name, limit, what) for name, limit, what in environment_name_limits(project, entry.name) if len(name) > limit
    ]
    if not over:
        return []
    name, limit, what = max(over, key=lambda o: len(o[0]) - o[1])
    most = len(entry.name) - (len(name) - limit)
    return [
        Violation(
            entry.file,
            entry.line_of("environment"),
            "environment",
            f"got {show(entry.name)}, which makes {what} {show(name)} {len(name)} characters, over its limit of "
            f"{limit}: expected a name of at most {most} characters with project {show(project)}",
        )
    ]


def environment_names(environments_dir: Path) -> tuple[str, ...]:
    """The project's environments, in its order (every name checked)."""
    return tuple(e.name for e in read_environments(environments_dir))


def resolve_names(requested: Iterable[str], available: Sequence[str], *, every: bool = True) -> tuple[str, ...]:
    """Expand ``all`` and check names against ``available`` (the project's, in its order). ``every``:
    whether ``all`` is offered (not to a command that acts on one environment)."""
    wanted: set[str] = set()
    for name in requested:
        if name == "all" and every:
            wanted.update(available)
        elif name == "all":
            raise UsageError(f"--env: got {name!r}, expected one environment")
        elif name in available:
            wanted.add(name)
        else:
            keyword = ["all"] if every else []
            close = [n for n in available if name and n.startswith(name)]
            close = close or difflib.get_close_matches(name, [*available, *keyword], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            found = ", ".join(available) or "none"
            expected = f"an environment of environments/*{SUFFIX} ({found})" + (" or all" if every else "")
            raise UsageError(f"--env: got {name!r}, expected {expected}{hint}")
    return tuple(n for n in available if n in wanted)


def as_json(entries: Iterable[EnvironmentEntry]) -> list[Mapping[str, Any]]:
    """Every environment as ``environments --json`` prints it (the workflows' matrix reads it)."""
    return [
        {
            "name": e.name,
            "region": e.region,
            "delivery": e.delivery.value,
            "approval": e.approval,
            "vpc_cidr": str(e.vpc_cidr) if e.vpc_cidr is not None else None,
            "file": e.file,
        }
        for e in entries
    ]
