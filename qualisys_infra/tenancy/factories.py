"""Deterministic, fictional test data (story 0.15: "Faker with a fixed seed, never real data").

Each tenant's data set comes from its own Faker, with a fixed locale and seeded with a number
derived from the tenant's slug and the seed given (SHA-256, not Python's salted hash): the same slug
and seed give the same rows on every run and every machine, with the same Faker version. Dates are
drawn from a fixed range, never relative to today.

Rows are written by id (INSERT ... ON CONFLICT (id) DO UPDATE), so seeding again with the same seed
rewrites the same rows to the same values: nothing is duplicated and nothing is deleted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from faker import Faker
from psycopg import sql

from qualisys_infra.tenancy.provision import LOCK_KEY, Tenant
from qualisys_infra.tenancy.sql import OWNER_ROLE

LOCALE = "en_US"
STATUSES = ("queued", "running", "passed", "failed")
RUNS_FROM = datetime(2026, 1, 1, tzinfo=UTC)
RUNS_UNTIL = RUNS_FROM + timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    organization_id: str
    name: str


@dataclass(frozen=True, slots=True)
class TestRun:
    id: str
    project_id: str
    status: str
    started_at: datetime
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Seeded:
    """What seeding one tenant wrote: rows inserted, and rows already there and rewritten."""

    inserted: int
    rewritten: int

    @property
    def rows(self) -> int:
        return self.inserted + self.rewritten


def tenant_seed(slug: str, seed: int) -> int:
    """The Faker seed of one tenant: stable across processes and machines (no salted ``hash()``)."""
    digest = hashlib.sha256(f"qualisys-seed-v1:{seed}:{slug}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class Factory:
    """Builds one tenant's rows from one seeded Faker, so slug and seed reproduce a data set exactly."""

    def __init__(self, slug: str, seed: int) -> None:
        self.fake = Faker(LOCALE)
        self.fake.seed_instance(tenant_seed(slug, seed))

    def _uuid(self) -> str:
        return str(self.fake.uuid4())

    def organization(self) -> Organization:
        return Organization(self._uuid(), self.fake.company())

    def project(self, organization: Organization) -> Project:
        return Project(self._uuid(), organization.id, self.fake.catch_phrase())

    def test_run(self, project: Project) -> TestRun:
        return TestRun(
            self._uuid(),
            project.id,
            self.fake.random_element(STATUSES),
            self.fake.date_time_between(start_date=RUNS_FROM, end_date=RUNS_UNTIL, tzinfo=UTC),
            self.fake.random_int(200, 600_000),
        )

    def dataset(self, projects: int, runs: int) -> Iterator[Organization | Project | TestRun]:
        """One organization, ``projects`` projects and ``runs`` test runs per project."""
        organization = self.organization()
        yield organization
        for _ in range(projects):
            project = self.project(organization)
            yield project
            for _ in range(runs):
                yield self.test_run(project)


def _row(tenant: Tenant, row: Organization | Project | TestRun) -> tuple[str, dict[str, object]]:
    if isinstance(row, Organization):
        return "organizations", {"id": row.id, "tenant_id": tenant.id, "name": row.name}
    if isinstance(row, Project):
        return "projects", {
            "id": row.id,
            "tenant_id": tenant.id,
            "organization_id": row.organization_id,
            "name": row.name,
        }
    return "test_runs", {
        "id": row.id,
        "tenant_id": tenant.id,
        "project_id": row.project_id,
        "status": row.status,
        "started_at": row.started_at,
        "duration_ms": row.duration_ms,
    }


def seed_tenants(
    conn: psycopg.Connection[tuple[object, ...]],
    tenants: Sequence[Tenant],
    *,
    seed: int,
    projects: int,
    runs: int,
) -> dict[str, Seeded]:
    """Write the data sets of ``tenants`` in one transaction: every tenant seeded, or none.

    Each tenant's rows are written with that tenant set as the session's tenant, as the owner role
    (RLS is forced on it too). A row whose id exists is rewritten to its seeded values; rows that
    seeding did not write are left alone.
    """
    seeded: dict[str, Seeded] = {}
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))  # no tenant created or dropped meanwhile
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        for tenant in tenants:
            conn.execute("SELECT set_config('app.current_tenant', %s, true)", (tenant.id,))
            inserted = rewritten = 0
            for row in Factory(tenant.slug, seed).dataset(projects, runs):
                table, values = _row(tenant, row)
                columns = list(values)
                statement = sql.SQL(
                    "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {} RETURNING xmax = 0"
                ).format(
                    sql.Identifier(tenant.schema, table),
                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                    sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                    sql.SQL(", ").join(
                        sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
                        for c in columns
                        if c != "id"
                    ),
                )
                result = conn.execute(statement, tuple(values.values())).fetchone()
                # xmax = 0: the row version was inserted, not updated (PostgreSQL's own bookkeeping).
                if result is not None and result[0]:
                    inserted += 1
                else:
                    rewritten += 1
            seeded[tenant.slug] = Seeded(inserted, rewritten)
    return seeded


def seed_tenant(
    conn: psycopg.Connection[tuple[object, ...]], tenant: Tenant, *, seed: int, projects: int, runs: int
) -> Seeded:
    """Seed one tenant (see :func:`seed_tenants`)."""
    return seed_tenants(conn, [tenant], seed=seed, projects=projects, runs=runs)[tenant.slug]
