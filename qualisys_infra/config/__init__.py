"""Loading ``environments/*.tfvars`` into the settings types of :mod:`qualisys_infra.core.settings`.

Three parts: :mod:`~qualisys_infra.config.hclfile` reads the HCL with a line for every key,
:mod:`.reader` converts values to the dataclasses (unknown and missing keys, types), and
:mod:`.rules` is the table of rules that relate values to each other. Every violation of every file
is collected and raised together as one :class:`ConfigError`.
"""

from __future__ import annotations

import difflib
import ipaddress
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from qualisys_infra.config.hclfile import read_hcl
from qualisys_infra.config.reader import Reader, as_values, show
from qualisys_infra.config.rules import ACCOUNT_RULES, ENVIRONMENT_RULES, Rule
from qualisys_infra.core.errors import ConfigError, UsageError, Violation
from qualisys_infra.core.settings import ACCOUNT_FILE, ENVIRONMENT_NAMES, AccountConfig, EnvironmentConfig, Settings

__all__ = [
    "ACCOUNT_FILE",
    "ENVIRONMENT_NAMES",
    "Settings",
    "load_account",
    "load_environment",
    "load_settings",
    "resolve_environment_names",
]

T = TypeVar("T")


def _load(
    cls: type[T],
    path: Path,
    display_name: str,
    rules: Iterable[Rule],
) -> T:
    doc = read_hcl(path, display_name)
    reader = Reader(doc)
    result = reader.read(cls, doc.values, ())
    values = as_values(result)
    for rule in rules:
        rule(reader, values)
    if reader.violations:
        unique = dict.fromkeys(reader.violations)
        raise ConfigError(sorted(unique, key=lambda v: v.line))
    return typing.cast(T, result)


def load_environment(path: Path, display_name: str | None = None) -> EnvironmentConfig:
    """Load and validate one ``<env>.tfvars``; raise :class:`ConfigError` with every violation."""
    expected = path.name.removesuffix(".tfvars")

    def named_after_its_file(r: Reader, v: Mapping[str, Any]) -> None:
        env = v.get("environment")
        if isinstance(env, str) and env != expected:
            r.fail(("environment",), f"got {show(env)}, expected {show(expected)} (the file's own name)")

    return _load(EnvironmentConfig, path, display_name or str(path), (named_after_its_file, *ENVIRONMENT_RULES))


def load_account(path: Path, display_name: str | None = None) -> AccountConfig:
    """Load and validate ``account.tfvars``; raise :class:`ConfigError` with every violation."""
    return _load(AccountConfig, path, display_name or str(path), ACCOUNT_RULES)


def resolve_environment_names(requested: Iterable[str]) -> tuple[str, ...]:
    """Expand ``all`` and check names; keeps the canonical order dev, staging, production."""
    wanted: set[str] = set()
    for name in requested:
        if name == "all":
            wanted.update(ENVIRONMENT_NAMES)
        elif name in ENVIRONMENT_NAMES:
            wanted.add(name)
        else:
            close = [n for n in ENVIRONMENT_NAMES if name and n.startswith(name)]
            close = close or difflib.get_close_matches(name, [*ENVIRONMENT_NAMES, "all"], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UsageError(f"--env: got {name!r}, expected one of {', '.join(ENVIRONMENT_NAMES)} or all{hint}")
    return tuple(n for n in ENVIRONMENT_NAMES if n in wanted)


def load_settings(environments_dir: Path, names: Iterable[str], *, root: Path | None = None) -> Settings:
    """Load ``account.tfvars`` and the named environments; every file's violations at once.

    Also checks what no single file can: the VPC networks of all environments must not overlap,
    so that they can be peered later, and each test pool's runner image has an ECR repository.
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
        raise UsageError(
            f"{environments_dir.parent}: no {environments_dir.name}/ folder here; run from the "
            "qualisys-infra project folder or pass --project-dir PATH"
        )
    violations: list[Violation] = []
    account: AccountConfig | None = None
    try:
        account = load_account(environments_dir / ACCOUNT_FILE, shown(environments_dir / ACCOUNT_FILE))
    except ConfigError as exc:
        violations.extend(exc.violations)
    envs: list[EnvironmentConfig] = []
    for name in names:
        path = environments_dir / f"{name}.tfvars"
        try:
            envs.append(load_environment(path, shown(path)))
        except ConfigError as exc:
            violations.extend(exc.violations)
    if violations:
        raise ConfigError(violations)
    for i, env in enumerate(envs):
        for other in envs[:i]:
            if ipaddress.ip_network(env.vpc_cidr).overlaps(ipaddress.ip_network(other.vpc_cidr)):
                path = environments_dir / f"{env.environment}.tfvars"
                doc = read_hcl(path, shown(path))
                violations.append(
                    Violation(
                        doc.display_name,
                        doc.line_of(("vpc_cidr",)),
                        "vpc_cidr",
                        f"got {show(env.vpc_cidr)}, which overlaps {other.environment}'s "
                        f"{show(other.vpc_cidr)}; expected a separate network per environment "
                        "(so they can be peered)",
                    )
                )
    if account is not None:
        for env in envs:
            repository = env.test_pool.runner_image_repository
            if repository not in account.ecr_repositories:
                path = environments_dir / f"{env.environment}.tfvars"
                doc = read_hcl(path, shown(path))
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
    return Settings(account=account, environments=tuple(envs))
