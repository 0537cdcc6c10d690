"""pytest plugin (entry point ``pytest11``): assertions over synthesized stacks and saved plans.

One import path for everything a test needs::

    from qualisys_infra.pytest_plugin import ANY, Kind, PlanAssertions, Stack

    def test_database_is_private(qualisys_stack):
        stack = qualisys_stack("production", "data")          # synthesized in-process, once per session
        stack.has_resource_with("aws_db_instance", {"storage_encrypted": True, "publicly_accessible": False})
        stack.has_resource_with("aws_eks_cluster", {"vpc_config[0].endpoint_private_access": True})

    def test_database_is_never_replaced(plan_file):
        plan = plan_file("plans/production/production-data.json")
        plan.assert_no_replace("aws_db_instance")
        plan.assert_counts(delete=0)
        plan.assert_no_blocking_findings()

Expected values match partially: a dict names only the keys that matter (nested dicts and lists
too; a list matches when each expected item matches a different actual item, in any order), a key
may be a path (``"vpc_config[0].endpoint_private_access"``, ``"ingress[*].from_port"``), and a
callable or :data:`ANY` stands for a condition. A failure names the resource that came closest and
the path that differed. A resource type that neither the stack (or plan) nor an installed
provider schema knows fails with the closest real type, so a typo cannot make an assertion pass.

Multi-tenant test databases: ``qualisys_testdb`` is a real PostgreSQL database made once per
session (a unique name, from the admin URL ``$QUALISYS_TEST_POSTGRES_URL``, by default
``postgresql://postgres@127.0.0.1:5432/postgres``) with the migrations applied and the tenants
``acme`` and ``globex`` created and seeded; it is dropped when the session ends, failed tests or
not. ``connect_as_tenant("globex")`` and ``tenant_connection`` (``acme``, or the tenant given by
indirect parametrization) are connections as ``app_user`` scoped to one tenant
(``app.current_tenant`` set, ``search_path`` on its schema), in a transaction rolled back after
the test. An isolation test::

    def test_acme_cannot_read_globex(connect_as_tenant):
        acme, globex = connect_as_tenant("acme"), connect_as_tenant("globex")
        theirs = {row[0] for row in globex.execute("SELECT id FROM projects")}
        mine = {row[0] for row in acme.execute("SELECT id FROM projects")}
        assert theirs and mine and not mine & theirs
        assert acme.execute("SELECT count(*) FROM tenant_globex.projects").fetchone() == (0,)

A statement expected to fail goes in ``with conn.transaction():`` (a savepoint) inside
``pytest.raises``, so the connection stays usable; ``conn.commit()`` is refused. app_user's
password, when the server asks for one, is ``$QUALISYS_APP_USER_PASSWORD``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from qualisys_infra.gates.schema import assert_matches_provider_schema
from qualisys_infra.plan.findings import Finding
from qualisys_infra.plan.guardrails import blocking, check
from qualisys_infra.plan.model import Kind, Plan, ResourceChange, load_plan

if TYPE_CHECKING:  # psycopg loads only when a test asks for a test database
    import psycopg

    from qualisys_infra.tenancy.testdb import TestDatabase

__all__ = [
    "ANY",
    "Difference",
    "Kind",
    "PlanAssertions",
    "Stack",
    "StackAssertions",
    "assert_matches_provider_schema",
    "connect_as_tenant",
    "match",
    "plan_file",
    "qualisys_stack",
    "qualisys_testdb",
    "resolve",
    "synthesized_stack",
    "tenant_connection",
]


class _Any:
    """Matches any value that is present (not a missing attribute)."""

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()


class _Missing:
    def __repr__(self) -> str:
        return "missing"


MISSING: Any = _Missing()

# --- paths: "vpc_config[0].endpoint_private_access", "ingress[*].from_port", 'tags["kubernetes.io/role"]' ---

_STEP = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]|\[\*\]|\["((?:[^"\\]|\\.)*)"\]')
WILDCARD = "*"


def parse_path(path: str) -> tuple[str | int, ...]:
    """``"vpc_config[0].subnet_ids"`` -> ``("vpc_config", 0, "subnet_ids")``; ``[*]`` is any element."""
    steps: list[str | int] = []
    position = 0
    while position < len(path):
        found = _STEP.match(path, position)
        if found is None or (found.group(0).startswith(".") and not steps):
            raise ValueError(f'not a path: {path!r} (at character {position + 1}); write a.b[0].c or a["key"]')
        name, index, quoted = found.groups()
        if name is not None:
            steps.append(name)
        elif index is not None:
            steps.append(int(index))
        elif quoted is not None:
            steps.append(json.loads(f'"{quoted}"'))
        else:
            steps.append(WILDCARD)
        position = found.end()
    if not steps:
        raise ValueError("an empty path")
    return tuple(steps)


def _path_text(steps: Sequence[str | int]) -> str:
    text = ""
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        elif step == WILDCARD:
            text += "[*]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", step):
            text += f".{step}" if text else step
        else:
            text += f"[{json.dumps(step)}]"
    return text


def _is_path(key: str) -> bool:
    return "." in key or "[" in key


def resolve(value: Any, path: str | Sequence[str | int]) -> list[tuple[str, Any]]:
    """Every ``(concrete path, value)`` that ``path`` reaches in ``value`` (:data:`MISSING` where a step
    is absent). A single nested block written as an object is also its own element ``[0]``, as
    Terraform's JSON syntax allows."""
    steps = parse_path(path) if isinstance(path, str) else tuple(path)
    found: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    for step in steps:
        following: list[tuple[tuple[str | int, ...], Any]] = []
        for where, current in found:
            if current is MISSING:
                following.append(((*where, step), MISSING))
            elif step == WILDCARD:
                items = current if isinstance(current, list) else [current] if isinstance(current, dict) else []
                following += [((*where, i), item) for i, item in enumerate(items)]
                if not items:
                    following.append(((*where, step), MISSING))
            elif isinstance(step, int):
                if isinstance(current, list):
                    following.append(((*where, step), current[step] if step < len(current) else MISSING))
                else:  # one block written as an object is its own first element
                    following.append(((*where, step), current if step == 0 and isinstance(current, dict) else MISSING))
            else:
                following.append(((*where, step), current.get(step, MISSING) if isinstance(current, dict) else MISSING))
        found = following
    return [(_path_text(where), item) for where, item in found]


# --- partial matching ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """Where an actual value differs from what was expected."""

    path: str
    expected: Any
    actual: Any
    hint: str = ""

    def __str__(self) -> str:
        where = self.path or "(the value)"
        if self.actual is MISSING:
            return f"{where}: expected {_show(self.expected)}, but it is missing{self.hint}"
        return f"{where}: expected {_show(self.expected)}, got {_show(self.actual)}{self.hint}"


def _show(value: Any, limit: int = 200) -> str:
    if value is ANY:
        return "any value"
    if callable(value) and not isinstance(value, type) and value is not ANY:
        name = getattr(value, "__name__", repr(value))
        text = f"a value for which {name}() holds"
    else:
        try:
            text = json.dumps(value, sort_keys=True, default=repr)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _closest_key(key: str, keys: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(keys), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def match(actual: Any, expected: Any, path: str = "") -> list[Difference]:
    """Every difference between ``actual`` and a partial ``expected`` (empty when it matches)."""
    if expected is ANY:
        return [] if actual is not MISSING else [Difference(path, expected, actual)]
    if callable(expected) and not isinstance(expected, type):
        try:
            ok = actual is not MISSING and bool(expected(actual))
        except Exception as exc:  # a predicate that cannot judge the value: the value does not match
            return [Difference(path, expected, actual, f" ({type(exc).__name__}: {exc})")]
        return [] if ok else [Difference(path, expected, actual)]
    if isinstance(expected, Mapping):
        if isinstance(actual, list) and all(isinstance(a, dict) for a in actual) and actual:
            # a block list: one element must match (Terraform JSON writes single blocks either way)
            tries = [match(item, expected, f"{path}[{i}]") for i, item in enumerate(actual)]
            return min(tries, key=len) if all(tries) else []
        if not isinstance(actual, dict):
            return [Difference(path, dict(expected), actual)]
        differences: list[Difference] = []
        for key, want in expected.items():
            if isinstance(key, str) and _is_path(key):
                for where, got in resolve(actual, key):
                    differences += match(got, want, _join(path, where))
                continue
            got = actual.get(key, MISSING)
            if got is MISSING and want is not MISSING:
                differences.append(Difference(_join(path, str(key)), want, MISSING, _closest_key(str(key), actual)))
            else:
                differences += match(got, want, _join(path, str(key)))
        return differences
    if isinstance(expected, list | tuple):
        if not isinstance(actual, list):
            return [Difference(path, list(expected), actual)]
        unused = list(range(len(actual)))
        differences = []
        for want in expected:
            hit = next((i for i in unused if not match(actual[i], want)), None)
            if hit is None:
                differences.append(Difference(f"{path}[?]", want, actual, " (no element matches)"))
            else:
                unused.remove(hit)
        return differences
    if expected is MISSING:
        return [] if actual is MISSING else [Difference(path, "missing", actual)]
    if actual is MISSING or type(actual) is bool or type(expected) is bool:
        same = actual is expected if type(expected) is bool else actual == expected and type(actual) is not bool
    else:
        same = actual == expected
    return [] if same else [Difference(path, expected, actual)]


def _join(parent: str, child: str) -> str:
    if not parent:
        return child
    return f"{parent}{child}" if child.startswith("[") else f"{parent}.{child}"


def _closest(candidates: Mapping[str, list[Difference]], expected: Any, limit: int = 3) -> str:
    """The candidates with the fewest differences, each with the paths that differ."""
    wanted = _show(expected, limit=10_000)

    def rank(item: tuple[str, list[Difference]]) -> tuple[int, float]:
        _name, found = item
        shown = " ".join(_show(d.actual, 10_000) for d in found)
        return (len(found), -difflib.SequenceMatcher(None, wanted, shown).ratio())

    lines = []
    for name, found in sorted(candidates.items(), key=rank)[:limit]:
        lines.append(f"  closest: {name} ({len(found)} {'difference' if len(found) == 1 else 'differences'})")
        lines += [f"    {d}" for d in found[:8]]
        if len(found) > 8:
            lines.append(f"    ... and {len(found) - 8} more")
    more = len(candidates) - limit
    if more > 0:
        lines.append(f"  ({more} more not shown)")
    return "\n".join(lines)


# --- resource types: a typo must fail, not pass as "none of those" ------------------------------------------

BUILT_IN_TYPES = frozenset({"terraform_data", "terraform_remote_state", "null_resource"})
_SCHEMA_NAMES: dict[str, frozenset[str]] | None = None


def _schema_types() -> dict[str, frozenset[str]]:
    """Resource and data source types of every installed provider binding, by provider prefix."""
    global _SCHEMA_NAMES
    if _SCHEMA_NAMES is None:
        try:
            from qualisys_infra.gates.schema import ensure_indexes

            indexes = ensure_indexes()
        except Exception:  # no binding, no cache: fall back to the types present
            indexes = {}
        _SCHEMA_NAMES = {ix.provider: ix.names("resource") | ix.names("data") for ix in indexes.values() if ix.provider}
    return _SCHEMA_NAMES


def check_type(type_: str, present: Iterable[str], where: str) -> None:
    """Fail unless ``type_`` is present in ``where`` or a real type of an installed provider."""
    present = frozenset(present)
    if type_ in present or type_ in BUILT_IN_TYPES:
        return
    schemas = _schema_types()
    prefix = type_.split("_", 1)[0]
    known = schemas.get(prefix)
    if known is not None and type_ in known:
        return
    choices = present | (known or frozenset()) | BUILT_IN_TYPES
    close = difflib.get_close_matches(type_, sorted(choices), n=3, cutoff=0.75)
    if known is None and not close and any(t.split("_", 1)[0] == prefix for t in present):
        return  # a provider without an installed schema, whose prefix the plan uses
    if known is None and not close and prefix not in schemas and not any(t.startswith(prefix) for t in present):
        hint = f"its provider prefix {prefix!r} is neither installed nor used here"
    else:
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else "no such type"
    raise AssertionError(f"{where}: unknown resource type {type_!r}: {hint}")


# --- plans -----------------------------------------------------------------------------------------------

_REPLACES = (Kind.REPLACE, Kind.REPLACE_CBD, Kind.REPLACE_FORGET)


@dataclass(frozen=True)
class PlanAssertions:
    """A loaded plan with one-line assertions; ``plan`` is the full model (``plan.by_kind(Kind.REPLACE)``)."""

    plan: Plan

    @property
    def types(self) -> frozenset[str]:
        return frozenset(c.type for c in (*self.plan.changes, *self.plan.drift))

    def _type(self, type_: str | None) -> None:
        if type_ is not None:
            check_type(type_, self.types, self.plan.source)

    def changes(self, type_: str | None = None) -> list[ResourceChange]:
        """Every change (of ``type_``); an unknown type fails with the closest real one."""
        self._type(type_)
        return [c for c in self.plan.changes if type_ is None or c.type == type_]

    def change(self, address: str) -> ResourceChange:
        """The change of ``address``; fails with the closest addresses of the plan."""
        try:
            return self.plan.change(address)
        except KeyError:
            close = difflib.get_close_matches(address, [c.address for c in self.plan.changes], n=3, cutoff=0.5)
            hint = f"; closest: {', '.join(close)}" if close else ""
            raise AssertionError(f"{self.plan.source}: no change for {address}{hint}") from None

    def assert_no_replace(self, type_: str | None = None) -> None:
        """No resource (of ``type_``) is replaced, in either order."""
        replaced = [c.label for c in self.changes(type_) if c.kind in _REPLACES]
        assert not replaced, f"{self.plan.source}: replaced: {', '.join(replaced)}"

    def assert_no_destroy(self, type_: str | None = None) -> None:
        """No object (of ``type_``) is deleted: delete, both replace orders, deposed objects."""
        destroyed = [c.label for c in self.changes(type_) if c.is_destructive]
        assert not destroyed, f"{self.plan.source}: destroyed: {', '.join(destroyed)}"

    def assert_every_after(self, type_: str, attribute: str, expected: Any) -> None:
        """Every ``type_`` that exists after the change has ``attribute`` (a name or a path) matching
        ``expected`` (partially, for dicts and lists)."""
        present = [c for c in self.changes(type_) if isinstance(c.after, dict)]
        assert present, f"{self.plan.source}: no {type_} exists after this plan"
        wrong = [f"{c.label}: {d}" for c in present for d in match(c.after, {attribute: expected})]
        assert not wrong, f"{self.plan.source}: {type_}.{attribute} does not match:\n  " + "\n  ".join(wrong)

    def has_change_with(
        self, type_: str, properties: Mapping[str, Any], *, kinds: Iterable[Kind] | None = None
    ) -> list[ResourceChange]:
        """The changes of ``type_`` (of ``kinds``) whose planned values match ``properties``; at least one."""
        wanted = tuple(kinds) if kinds is not None else None
        candidates = [c for c in self.changes(type_) if wanted is None or c.kind in wanted]
        assert candidates, f"{self.plan.source}: no {type_} change" + (
            f" of kind {', '.join(k.value for k in wanted)}" if wanted else ""
        )
        found = {c.label: match(c.after if c.after is not None else MISSING, dict(properties)) for c in candidates}
        hits = [c for c in candidates if not found[c.label]]
        assert hits, f"{self.plan.source}: no {type_} change matches {_show(dict(properties))}\n" + _closest(
            found, properties
        )
        return hits

    def assert_counts(self, **expected: int) -> None:
        """Counts per :class:`Kind`, its value with ``-`` as ``_``: ``create=2, replace_create_first=0, no_op=1``."""
        counts = {k.value.replace("-", "_"): n for k, n in self.plan.counts().items()}
        unknown = [k for k in expected if k not in counts]
        if unknown:
            hints = [f"{k}{_closest_key(k, counts)}" for k in unknown]
            raise AssertionError(f"assert_counts: unknown kind {', '.join(hints)}; kinds: {', '.join(counts)}")
        wrong = {k: counts[k] for k, n in expected.items() if counts[k] != n}
        assert not wrong, f"{self.plan.source}: counts {wrong} != expected {expected}"

    def findings(self, allow_destroy: Iterable[str] = ()) -> list[Finding]:
        return check(self.plan, allow_destroy=allow_destroy)

    def assert_no_blocking_findings(self, allow_destroy: Iterable[str] = ()) -> None:
        found = blocking(self.findings(allow_destroy))
        lines = [str(f) + (f"\n    {f.hint_text}" if f.hint else "") for f in found]
        assert not found, "\n".join(lines)


# --- synthesized stacks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """One synthesized stack (its ``cdk.tf.json``) with one-line assertions."""

    name: str
    config: dict[str, Any]
    path: Path | None = None

    @classmethod
    def read(cls, path: Path, name: str | None = None) -> Stack:
        return cls(name or path.parent.name, json.loads(path.read_text(encoding="utf-8")), path)

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self.config.get("resource") or {})

    @property
    def data_types(self) -> frozenset[str]:
        return frozenset(self.config.get("data") or {})

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        """Every resource of ``type_`` by name (none: empty, for a type an installed provider knows)."""
        check_type(type_, self.types, f"stack {self.name}")
        return dict((self.config.get("resource") or {}).get(type_) or {})

    def data(self, type_: str) -> dict[str, dict[str, Any]]:
        check_type(type_, self.data_types, f"stack {self.name} (data sources)")
        return dict((self.config.get("data") or {}).get(type_) or {})

    def resource(self, type_: str, name: str) -> dict[str, Any]:
        found = self.resources(type_)
        if name not in found:
            hint = _closest_key(name, found)
            raise AssertionError(f"stack {self.name}: no {type_}.{name}{hint}; names: {', '.join(sorted(found))}")
        return found[name]

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self.config.get("output") or {})

    def _present(self, type_: str) -> dict[str, dict[str, Any]]:
        found = self.resources(type_)
        assert found, f"stack {self.name}: no {type_} (its types: {', '.join(sorted(self.types)) or 'none'})"
        return found

    def has_resource_with(self, type_: str, properties: Mapping[str, Any]) -> list[str]:
        """The names of the ``type_`` resources matching ``properties`` partially; fails if there is none."""
        found = self._present(type_)
        differences = {f"{type_}.{n}": match(body, dict(properties)) for n, body in found.items()}
        hits = [n for n, body in found.items() if not differences[f"{type_}.{n}"]]
        assert hits, f"stack {self.name}: no {type_} matches {_show(dict(properties))}\n" + _closest(
            differences, properties
        )
        return hits

    def assert_every(self, type_: str, attribute: str, expected: Any = ANY) -> None:
        """Every resource of ``type_`` (at least one) has ``attribute`` (a name or a path) matching ``expected``."""
        self.assert_every_with(type_, {attribute: expected})

    def assert_every_with(self, type_: str, properties: Mapping[str, Any]) -> None:
        """Every resource of ``type_`` (at least one) matches ``properties`` partially."""
        found = self._present(type_)
        wrong = [f"{type_}.{n}: {d}" for n, body in found.items() for d in match(body, dict(properties))]
        assert not wrong, f"stack {self.name}: not every {type_} matches:\n  " + "\n  ".join(wrong)

    def assert_count(self, type_: str, expected: int) -> None:
        found = self.resources(type_)
        assert len(found) == expected, f"stack {self.name}: {len(found)} {type_}, expected {expected}: {sorted(found)}"

    def assert_none(self, type_: str) -> None:
        """No resource of ``type_`` (which must be a real type: a typo fails)."""
        found = self.resources(type_)
        assert not found, f"stack {self.name}: unexpected {type_}: {', '.join(sorted(found))}"


StackAssertions = Stack  # the name of the first version


# --- fixtures --------------------------------------------------------------------------------------------


@dataclass
class _Synth:
    """One in-process synth of every environment, made on first use and shared by the session."""

    outdir: Path
    project: Path
    stacks: dict[str, Stack] = field(default_factory=dict)
    names: tuple[str, ...] = ()

    def ensure(self) -> None:
        if self.names:
            return
        from qualisys_infra.config import environment_names, load_settings
        from qualisys_infra.terraform.synth import synth

        environments = self.project / "environments"
        settings = load_settings(environments, environment_names(environments), root=self.project)
        result = synth(settings, environments_dir=environments, outdir=self.outdir)  # a no-op when up to date
        self.names = result.stacks

    def stack(self, name: str) -> Stack:
        self.ensure()
        if name not in self.names:
            hint = _closest_key(name, self.names)
            raise AssertionError(f"no stack {name!r}{hint}; stacks: {', '.join(self.names)}")
        if name not in self.stacks:
            self.stacks[name] = Stack.read(self.outdir / "stacks" / name / "cdk.tf.json", name)
        return self.stacks[name]


@pytest.fixture(scope="session")
def _qualisys_synth(tmp_path_factory: pytest.TempPathFactory) -> _Synth:
    from qualisys_infra.core.runtime import PROJECT_ROOT

    return _Synth(tmp_path_factory.mktemp("qualisys-synth") / "cdktf.out", PROJECT_ROOT)


@pytest.fixture(scope="session")
def qualisys_stack(_qualisys_synth: _Synth) -> Callable[..., Stack]:
    """A synthesized stack: ``qualisys_stack("dev", "network")``, ``qualisys_stack("bootstrap")``.

    Every environment is synthesized once per session, in-process, into a pytest temporary folder
    from the settings in ``environments/``: never a stale ``cdktf.out``.
    """

    def get(env_or_stack: str, kind: str | None = None) -> Stack:
        return _qualisys_synth.stack(f"{env_or_stack}-{kind}" if kind else env_or_stack)

    return get


@pytest.fixture
def plan_file() -> Callable[[str | Path], PlanAssertions]:
    """Load ``terraform show -json`` output: ``plan_file("plans/dev/dev-network.json")``."""
    return lambda path: PlanAssertions(load_plan(Path(path)))


@pytest.fixture
def synthesized_stack(_qualisys_synth: _Synth) -> Callable[..., Stack]:
    """A synthesized stack by name: ``synthesized_stack("dev-network")`` (the session's own synth), or
    read from an existing output folder: ``synthesized_stack("dev-network", outdir=path)``."""

    def read(name: str, outdir: str | Path | None = None) -> Stack:
        if outdir is None:
            return _qualisys_synth.stack(name)
        path = Path(outdir) / "stacks" / name / "cdk.tf.json"
        if not path.is_file():
            raise AssertionError(f"{path}: no such stack output; run the synth first or omit outdir")
        return Stack.read(path, name)

    return read


# --- multi-tenant test databases -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def qualisys_testdb() -> Iterator[TestDatabase]:
    """A PostgreSQL database for the session: migrations applied, ``acme`` and ``globex`` created
    and seeded (``tenants seed`` data), dropped at the end of the session whatever happened."""
    import os

    from qualisys_infra.tenancy import testdb

    admin = testdb.admin_url(os.environ)
    database = testdb.create(admin, app_password=os.environ.get(testdb.APP_PASSWORD_VARIABLE) or None)
    try:
        yield database
    finally:
        testdb.drop(admin, database.name)


@pytest.fixture
def connect_as_tenant(qualisys_testdb: TestDatabase) -> Iterator[Callable[[str], psycopg.Connection[Any]]]:
    """``connect_as_tenant("globex")``: a connection as ``app_user`` scoped to that tenant, its
    transaction rolled back after the test (one connection per call)."""
    from contextlib import ExitStack

    from qualisys_infra.tenancy import testdb

    with ExitStack() as stack:

        def connect(slug: str) -> psycopg.Connection[Any]:
            return stack.enter_context(testdb.tenant_connection(qualisys_testdb, slug))

        yield connect


@pytest.fixture
def tenant_connection(
    request: pytest.FixtureRequest, connect_as_tenant: Callable[[str], psycopg.Connection[Any]]
) -> psycopg.Connection[Any]:
    """A connection as ``app_user`` scoped to ``acme`` (or to the tenant of
    ``@pytest.mark.parametrize("tenant_connection", ["globex"], indirect=True)``), rolled back after the test."""
    return connect_as_tenant(str(getattr(request, "param", "acme")))
