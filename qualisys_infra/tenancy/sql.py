"""The SQL of the design, as versioned migrations and per-tenant statements built with psycopg.sql.

Identifiers always go through ``sql.Identifier`` and values through parameters or ``sql.Literal``;
nothing is formatted into SQL text by hand.
"""

from __future__ import annotations

from psycopg import sql

PLATFORM_SCHEMA = "platform"
OWNER_ROLE = "qualisys_owner"
APP_ROLE = "app_user"
TENANT_TABLES = ("organizations", "projects", "test_runs")

# The current tenant, or NULL when none is set (or it was reset to ''): rows then match nothing
# and no error is raised, so nothing about other tenants can leak through an error message.
CURRENT_TENANT = "NULLIF(current_setting('app.current_tenant', true), '')::uuid"

# Versioned migrations of the platform schema; each runs once, in order, in one transaction.
MIGRATIONS: tuple[tuple[int, str, tuple[sql.Composed, ...]], ...] = (
    (
        1,
        "platform schema and tenant registry",
        (
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                sql.Identifier(PLATFORM_SCHEMA), sql.Identifier(OWNER_ROLE)
            ),
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.tenants ("
                " id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
                " slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9_]{{2,40}}$'),"
                " schema_name text NOT NULL UNIQUE,"
                " created_at timestamptz NOT NULL DEFAULT now())"
            ).format(sql.Identifier(PLATFORM_SCHEMA)),
            sql.SQL("CREATE TABLE IF NOT EXISTS {}.settings (key text PRIMARY KEY, value text NOT NULL)").format(
                sql.Identifier(PLATFORM_SCHEMA)
            ),
            # The application reads the registry to map a request to its tenant; it cannot change it.
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(PLATFORM_SCHEMA), sql.Identifier(APP_ROLE)),
            sql.SQL("GRANT SELECT ON {}.tenants TO {}").format(
                sql.Identifier(PLATFORM_SCHEMA), sql.Identifier(APP_ROLE)
            ),
        ),
    ),
)


def create_tenant_statements(schema: str, tenant_id: str) -> list[sql.Composed]:
    """The DDL of one tenant schema: tables, RLS enabled and forced, the policy, grants.

    Run as the owner role (``SET LOCAL ROLE``), so the owner owns every object.
    """
    s = sql.Identifier(schema)
    app = sql.Identifier(APP_ROLE)
    pinned = sql.Literal(tenant_id)
    statements: list[sql.Composed] = [
        sql.SQL("CREATE SCHEMA {}").format(s),
        sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(s),
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, app),
        sql.SQL(
            "CREATE TABLE {}.organizations (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL,"
            " name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        ).format(s),
        sql.SQL(
            "CREATE TABLE {}.projects (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL,"
            " organization_id uuid REFERENCES {}.organizations(id) ON DELETE CASCADE, name text NOT NULL,"
            " created_at timestamptz NOT NULL DEFAULT now())"
        ).format(s, s),
        sql.SQL(
            "CREATE TABLE {}.test_runs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL,"
            " project_id uuid NOT NULL REFERENCES {}.projects(id) ON DELETE CASCADE, status text NOT NULL"
            " CHECK (status IN ('queued', 'running', 'passed', 'failed')), started_at timestamptz,"
            " duration_ms integer CHECK (duration_ms >= 0))"
        ).format(s, s),
    ]
    for table in TENANT_TABLES:
        t = sql.Identifier(schema, table)
        statements += [
            # A tenant's schema can only ever hold that tenant's rows, whoever writes them.
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (tenant_id = {})").format(
                t, sql.Identifier(f"{table}_belongs_to_tenant"), pinned
            ),
            sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(t),
            sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(t),
            sql.SQL("CREATE POLICY tenant_isolation ON {} USING (tenant_id = {}) WITH CHECK (tenant_id = {})").format(
                t, sql.SQL(CURRENT_TENANT), sql.SQL(CURRENT_TENANT)
            ),
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(t, app),
        ]
    return statements
