"""Loading ``environments/*.tfvars`` into the settings types of :mod:`qualisys_infra.core.settings`.

Three parts: :mod:`~qualisys_infra.config.hclfile` reads the HCL with a line for every key,
:mod:`.reader` converts values to the dataclasses (unknown and missing keys, types), and
:mod:`.rules` is the table of rules that relate values to each other. Every violation of every file
is collected and raised together as one :class:`ConfigError`.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from qualisys_infra.config.environments import (
    SUFFIX,
    EnvironmentEntry,
    check_across,
    document,
    environment_files,
    environment_names,
    named_after_its_file,
    no_environments,
    read_environments,
    resolve_names,
)
from qualisys_infra.config.hclfile import HclDocument, read_hcl
from qualisys_infra.config.reader import Reader, as_values, show
from qualisys_infra.config.rules import ACCOUNT_RULES, ENVIRONMENT_RULES, Rule
from qualisys_infra.core.errors import ConfigError, Violation, WrongFolder
from qualisys_infra.core.naming import PLATFORM_NAMESPACES
from qualisys_infra.core.settings import ACCOUNT_FILE, AccountConfig, EnvironmentConfig, Settings

__all__ = [
    "ACCOUNT_FILE",
    "Settings",
    "environment_names",
    "load_account",
    "load_environment",
    "load_settings",
    "read_environments",
    "resolve_environment_name",
    "resolve_environment_names",
]


T = TypeVar("T")


def _load(cls: type[T], doc: HclDocument, rules: Iterable[Rule]) -> T:
    reader = Reader(doc)
    result = reader.read(cls, doc.values, ())
    values = as_values(result)
    for rule in rules:
        rule(reader, values)
    if reader.violations:
        unique = dict.fromkeys(reader.violations)
        raise ConfigError(sorted(unique, key=lambda v: v.line))
    return typing.cast(T, result)


def load_environment(path: Path, display_name: str | None = None, *, others: Iterable[str] = ()) -> EnvironmentConfig:
    """Load and validate one ``<name>.tfvars``; raise :class:`ConfigError` with every violation.
    ``others``: the project's other environments' names, which its ``environment`` must not be."""
    name = path.name.removesuffix(SUFFIX)
    doc = document(path, display_name or str(path))

    def named_after_the_file(r: Reader, v: Mapping[str, Any]) -> None:
        named_after_its_file(r, v, name, others)

    return _load(EnvironmentConfig, doc, (named_after_the_file, *ENVIRONMENT_RULES))


def load_account(path: Path, display_name: str | None = None) -> AccountConfig:
    """Load and validate ``account.tfvars``; raise :class:`ConfigError` with every violation."""
    return _load(AccountConfig, read_hcl(path, display_name or str(path)), ACCOUNT_RULES)


def resolve_environment_names(requested: Iterable[str], environments_dir: Path) -> tuple[str, ...]:
    """Expand ``all`` and check names against the environments of ``environments_dir`` (every
    ``<name>.tfvars`` but account.tfvars), in the project's order."""
    if not environments_dir.is_dir():
        raise WrongFolder(environments_dir.parent)
    return resolve_names(requested, environment_names(environments_dir))


def resolve_environment_name(requested: str, environments_dir: Path) -> str:
    """One environment of ``environments_dir``, for a command that acts on exactly one (``all`` and
    names of no file are refused, the error listing the names found)."""
    if not environments_dir.is_dir():
        raise WrongFolder(environments_dir.parent)
    (name,) = resolve_names([requested], environment_names(environments_dir), every=False)
    return name


def load_settings(environments_dir: Path, names: Iterable[str], *, root: Path | None = None) -> Settings:
    """Load ``account.tfvars`` and the named environments; every file's violations at once.

    Every environment file is read for what the account-wide stacks need (``Settings.deliveries``)
    and for the rules between environments (:func:`check_across`: networks apart, hosts their own,
    names that fit); each test pool's runner image must have an ECR repository.
    """

    def shown(p: Path) -> str:
        if root is not None:
            try:
                return str(p.relative_to(root))
            except ValueError:
                pass
        return str(p)

    if not environments_dir.is_dir():
        # Run from the wrong folder: one line that says where to run, not a "not found" per file.
        raise WrongFolder(environments_dir.parent)
    violations: list[Violation] = []
    entries: tuple[EnvironmentEntry, ...] = ()
    try:
        entries = read_environments(environments_dir, shown)
        if not entries:
            violations.append(no_environments(shown(environments_dir)))
    except ConfigError as exc:
        violations.extend(exc.violations)
    account: AccountConfig | None = None
    try:
        account = load_account(environments_dir / ACCOUNT_FILE, shown(environments_dir / ACCOUNT_FILE))
    except ConfigError as exc:
        violations.extend(exc.violations)
    all_names = [p.name.removesuffix(SUFFIX) for p in environment_files(environments_dir)]
    envs: list[EnvironmentConfig] = []
    for name in names:
        path = environments_dir / f"{name}{SUFFIX}"
        try:
            envs.append(load_environment(path, shown(path), others=[n for n in all_names if n != name]))
        except ConfigError as exc:
            violations.extend(exc.violations)
    if violations:
        raise ConfigError(list(dict.fromkeys(violations)))
    violations.extend(check_across(entries, account.project if account is not None else None))
    files = {e.name: e for e in entries}
    for env in envs:
        entry = files.get(env.environment)
        if entry is not None:
            violations.extend(_namespaces_are_environments(env, entry, list(files)))
    if account is not None:
        for env in envs:
            repository = env.test_pool.runner_image_repository
            if repository not in account.ecr_repositories:
                path = environments_dir / f"{env.environment}{SUFFIX}"
                doc = document(path, shown(path))
                violations.append(
                    Violation(
                        doc.display_name,
                        doc.line_of(("test_pool", "runner_image_repository")),
                        "test_pool.runner_image_repository",
                        f"got {show(repository)}, which is not one of account.tfvars' ecr_repositories "
                        f"({', '.join(account.ecr_repositories)}): add it there or name one of them",
                    )
                )
    if violations or account is None:
        raise ConfigError(violations)
    return Settings(account=account, environments=tuple(envs), deliveries=tuple(e.as_delivery() for e in entries))


def _namespaces_are_environments(
    env: EnvironmentConfig, entry: EnvironmentEntry, names: Sequence[str]
) -> list[Violation]:
    """Each namespace is the platform's own (monitoring, playwright-pool) or an environment's, and the
    environment's own is there: the apps stack deploys into it, and the platform stack gives the
    environments' namespaces the app traffic (load balancer in, data tier and HTTPS out) and RBAC."""
    found: list[Violation] = []
    if env.environment not in env.namespaces:
        found.append(
            Violation(
                entry.file,
                entry.line_of("namespaces"),
                "namespaces",
                f"has no {show(env.environment)}, expected the environment's own namespace (its apps deploy there): "
                f"add namespaces.{env.environment} with a quota",
            )
        )
    for name in env.namespaces:
        if name not in PLATFORM_NAMESPACES and name not in names:
            found.append(
                Violation(
                    entry.file,
                    entry.document.line_of(("namespaces", name)),
                    f"namespaces.{name}",
                    f"got namespace {show(name)}, expected the platform's own ({', '.join(PLATFORM_NAMESPACES)}) or "
                    f"an environment's ({', '.join(names)})",
                )
            )
    return found
