"""Deterministic test data (story 0.15): the same seed gives the same rows; no real personal data."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from qualisys_infra.tenancy.provision import Tenant
from qualisys_infra.tenancy.sql import OWNER_ROLE

ADJECTIVES = ("amber", "brisk", "cobalt", "dapper", "ember", "frosty", "granite", "hazel", "ivory", "jade")
NOUNS = ("falcon", "harbor", "lattice", "meadow", "nimbus", "orchid", "quarry", "summit", "tundra", "willow")
STATUSES = ("queued", "running", "passed", "failed")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


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


class Factory:
    """Builds rows from one seeded generator, so a seed reproduces a data set exactly."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)  # noqa: S311 - test data, not cryptography

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def _name(self, kind: str) -> str:
        return f"{self.random.choice(ADJECTIVES).title()} {self.random.choice(NOUNS).title()} {kind}"

    def slug(self, index: int) -> str:
        return f"{self.random.choice(ADJECTIVES)}_{self.random.choice(NOUNS)}_{index:04d}"

    def organization(self) -> Organization:
        return Organization(self._uuid(), self._name("Labs"))

    def project(self, organization: Organization) -> Project:
        return Project(self._uuid(), organization.id, self._name("Suite"))

    def test_run(self, project: Project) -> TestRun:
        started = EPOCH + timedelta(minutes=self.random.randrange(0, 60 * 24 * 90))
        return TestRun(
            self._uuid(), project.id, self.random.choice(STATUSES), started, self.random.randrange(200, 600_000)
        )

    def dataset(self, projects: int, runs: int) -> Iterator[Organization | Project | TestRun]:
        organization = self.organization()
        yield organization
        for _ in range(projects):
            project = self.project(organization)
            yield project
            for _ in range(runs):
                yield self.test_run(project)


def seed_tenant(
    conn: psycopg.Connection[tuple[object, ...]], tenant: Tenant, factory: Factory, *, projects: int, runs: int
) -> int:
    """Insert one tenant's data set, with the tenant set as the session's tenant; returns rows written."""
    count = 0
    with conn.transaction():
        conn.execute("SELECT set_config('app.current_tenant', %s, true)", (tenant.id,))
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        for row in factory.dataset(projects, runs):
            columns: tuple[str, ...]
            values: tuple[object, ...]
            if isinstance(row, Organization):
                table, columns, values = "organizations", ("id", "tenant_id", "name"), (row.id, tenant.id, row.name)
            elif isinstance(row, Project):
                table = "projects"
                columns = ("id", "tenant_id", "organization_id", "name")
                values = (row.id, tenant.id, row.organization_id, row.name)
            else:
                table = "test_runs"
                columns = ("id", "tenant_id", "project_id", "status", "started_at", "duration_ms")
                values = (row.id, tenant.id, row.project_id, row.status, row.started_at, row.duration_ms)
            conn.execute(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(tenant.schema, table),
                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                    sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                ),
                values,
            )
            count += 1
    return count
