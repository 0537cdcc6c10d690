"""Sign-off smoke tests 2 and 6, against PostgreSQL (and Redis): a row that one tenant writes and
no other can read (row-level security), and ``tenants verify``'s catalog checks and attacks.

Both need two tenants; they make temporary ones (``smoke_<hex>_a`` and ``_b``) and drop them
whatever happens. Steps and verdicts as in :mod:`qualisys_infra.delivery.signoff`.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from typing import Any

from qualisys_infra.delivery.signoff import CannotRun, Step, failed, not_run, passed

# -- 2. database ------------------------------------------------------------------------------


def smoke_database(
    *,
    database_url: str | None,
    app_database_url: str | None,
    suffix: str | None = None,
) -> list[Step]:
    """Two temporary tenants ``smoke_<hex>_a`` and ``_b``; a row written as app_user in A, read back
    as A, invisible as B and with no tenant set; both tenants dropped in every case."""
    import psycopg

    from qualisys_infra.tenancy import provision
    from qualisys_infra.tenancy.names import TenancyError

    if not database_url:
        raise CannotRun("no database: pass --database-url or set QUALISYS_DATABASE_URL (an admin login)")
    if not app_database_url:
        raise CannotRun("no app_user login: pass --app-database-url or set QUALISYS_APP_USER_PASSWORD")
    tag = suffix or secrets.token_hex(4)
    slugs = (f"smoke_{tag}_a", f"smoke_{tag}_b")
    steps: list[Step] = []
    with contextlib.ExitStack() as stack:
        try:
            admin = stack.enter_context(provision.connect(database_url))
        except TenancyError as exc:
            raise CannotRun(str(exc)) from None
        try:
            app = stack.enter_context(provision.connect(app_database_url, option="--app-database-url"))
        except TenancyError as exc:
            raise CannotRun(f"{exc} (--app-database-url or QUALISYS_APP_USER_PASSWORD)") from None
        created: list[provision.Tenant] = []
        try:
            try:
                for slug in slugs:
                    created.append(provision.create_tenant(admin, slug))
            except (TenancyError, psycopg.Error) as exc:
                why = _db_reason(exc)
                steps.append(failed("temporary tenants", f"cannot create {slugs[len(created)]}: {why}"))
                return steps
            steps.append(passed("temporary tenants", f"created {', '.join(slugs)}"))
            steps += _rls_round_trip(app, created[0], created[1])
        finally:
            steps.append(_drop_tenants(database_url, [t.slug for t in created]))
    return steps


def _rls_round_trip(app: Any, a: Any, b: Any) -> list[Step]:
    import psycopg
    from psycopg import sql

    from qualisys_infra.tenancy.names import TenancyError

    table = sql.Identifier(a.schema, "organizations")
    marker = f"signoff smoke {uuid.uuid4()}"

    def as_tenant(tenant_id: str) -> None:
        app.execute("SELECT set_config('app.current_tenant', %s, true)", (tenant_id,))

    steps: list[Step] = []
    try:
        with app.transaction():
            as_tenant(a.id)
            row = app.execute(
                sql.SQL("INSERT INTO {} (tenant_id, name) VALUES (%s, %s) RETURNING id::text").format(table),
                (a.id, marker),
            ).fetchone()
        row_id = str(row[0])
        steps.append(passed("insert as app_user", f"one row in {a.schema}.organizations as tenant {a.slug}"))
        with app.transaction():
            as_tenant(a.id)
            seen = app.execute(sql.SQL("SELECT name FROM {} WHERE id = %s").format(table), (row_id,)).fetchall()
        if [r[0] for r in seen] == [marker]:
            steps.append(passed("read back as the same tenant", "the row is there"))
        else:
            steps.append(failed("read back as the same tenant", f"tenant {a.slug} sees {len(seen)} rows, expected 1"))
        for who, tenant_id in ((f"tenant {b.slug}", b.id), ("no tenant set", "")):
            with app.transaction():
                as_tenant(tenant_id)
                (count,) = app.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()
            name = f"{who} cannot see {a.slug}'s row (RLS)"
            if count:
                steps.append(
                    failed(name, f"{who} sees {count} row(s) of {a.schema}.organizations: RLS does not isolate")
                )
            else:
                steps.append(passed(name, f"{who} sees 0 rows of {a.schema}.organizations"))
    except (TenancyError, psycopg.Error) as exc:
        steps.append(failed("as app_user", _db_reason(exc)))
    return steps


def _db_reason(exc: Exception) -> str:
    """A toolkit error's message, or the database's own primary message (scrubbed by the runner)."""
    import psycopg

    if isinstance(exc, psycopg.Error):
        return exc.diag.message_primary or type(exc).__name__
    return str(exc)


def _drop_tenants(database_url: str, slugs: list[str]) -> Step:
    """Drop the temporary tenants over a fresh connection (the first may be broken by then)."""
    from qualisys_infra.tenancy import provision
    from qualisys_infra.tenancy.names import TenancyError

    if not slugs:
        return passed("clean-up", "nothing was created")
    left = list(slugs)
    try:
        with provision.connect(database_url) as conn:
            for slug in slugs:
                if provision.find_tenant(conn, slug) is not None:
                    provision.drop_tenant(conn, slug, force=True)  # created by this run, never anyone's data
                left.remove(slug)
    except TenancyError as exc:
        commands = "; ".join(f"qualisys-infra tenants drop {s} --yes --keep-redis-user" for s in left)
        return failed("clean-up", f"{exc}; drop them by hand: {commands}")
    return passed("clean-up", f"dropped {', '.join(slugs)}")


# -- 6. multi-tenant isolation ----------------------------------------------------------------


def smoke_isolation(
    *,
    database_url: str | None,
    app_database_url: str | None,
    redis_url: str | None = None,
    suffix: str | None = None,
) -> list[Step]:
    """``tenants verify``: every catalog check and attack as app_user (and Redis ACLs) passes.

    The attacks need two tenants: a database with fewer (a fresh staging) gets temporary ones,
    ``smoke_<hex>_a`` and ``_b`` as smoke test 2 makes them, dropped afterwards whatever happens; the
    Redis check looks at the database's own tenants only.
    """
    import psycopg

    from qualisys_infra.tenancy import provision, redis_acl, verify
    from qualisys_infra.tenancy.names import TenancyError

    if not database_url:
        raise CannotRun("no database: pass --database-url or set QUALISYS_DATABASE_URL (an admin login)")
    if not app_database_url:
        raise CannotRun("no app_user login: pass --app-database-url or set QUALISYS_APP_USER_PASSWORD")
    created: list[str] = []
    existing: list[str] = []
    try:
        with contextlib.ExitStack() as stack:
            try:
                admin = stack.enter_context(provision.connect(database_url))
                app = stack.enter_context(provision.connect(app_database_url, option="--app-database-url"))
            except TenancyError as exc:
                raise CannotRun(str(exc)) from None
            try:
                existing = [t.slug for t in provision.list_tenants(admin)]
                tag = suffix or secrets.token_hex(4)
                for slug in (f"smoke_{tag}_a", f"smoke_{tag}_b")[: max(0, 2 - len(existing))]:
                    provision.create_tenant(admin, slug)
                    created.append(slug)
                checks = verify.verify(admin, app)
                broken = None
            except (TenancyError, psycopg.Error) as exc:
                checks, broken = [], failed("tenants verify", _db_reason(exc))
    finally:
        cleanup = [_drop_tenants(database_url, created)] if created else []
    steps = [passed("temporary tenants", f"created {', '.join(created)}: the attacks need two")] if created else []
    steps += [passed(c.name, c.detail) if c.ok else failed(c.name, c.detail) for c in checks]
    if broken is not None:
        return [*steps, broken, *cleanup]
    steps += cleanup
    if redis_url:
        try:
            client = redis_acl.connect(redis_url)
        except TenancyError as exc:
            return [*steps, not_run("redis", str(exc))]
        try:
            steps += [
                passed(c.name, c.detail) if c.ok else failed(c.name, c.detail)
                for c in redis_acl.verify(client, existing)
            ]
        except TenancyError as exc:
            steps.append(failed("redis", str(exc)))
        finally:
            client.close()
    return steps
