"""Create and verify 500 tenants (the spec's scale) on the local PostgreSQL.

    .venv/bin/python -m benchmarks.bench_tenants [--tenants 500]

Prints the time per tenant for creation and for one full `verify`, and the catalog growth
(relations and database size), in a scratch database that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

import psycopg

from qualisys_infra.tenancy import provision, verify

ADMIN = os.environ.get("QUALISYS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def catalog_size(conn: psycopg.Connection[tuple[object, ...]]) -> tuple[int, int]:
    """The database's size in bytes and its number of relations."""
    row = conn.execute("SELECT pg_database_size(current_database()), (SELECT count(*) FROM pg_class)").fetchone()
    return (int(str(row[0])), int(str(row[1]))) if row else (0, 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=500)
    count = parser.parse_args().tenants
    name = f"qualisys_bench_{uuid.uuid4().hex[:8]}"
    base = ADMIN.rsplit("/", 1)[0]
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"{base}/{name}"
        with provision.connect(url) as conn:
            provision.init(conn, environment="test", app_password=None)
            size = catalog_size(conn)
            started = time.perf_counter()
            for i in range(count):
                provision.create_tenant(conn, f"bench_{i:04d}")
            created = time.perf_counter() - started
            after = catalog_size(conn)
        app = url.replace("://postgres@", "://app_user@")
        with provision.connect(url) as admin_conn, provision.connect(app) as app_conn:
            started = time.perf_counter()
            checks = verify.verify(admin_conn, app_conn)
            verified = time.perf_counter() - started
        failed = [c.name for c in checks if not c.ok]
        print(f"tenants: {count}")
        print(f"create:  {created:.1f} s total, {created / count * 1000:.1f} ms per tenant")
        print(f"verify:  {verified:.2f} s for {len(checks)} checks over {count} tenants ({len(failed)} failed)")
        print(
            f"catalog: {after[1] - size[1]:,} relations added ({(after[1] - size[1]) / count:.0f} per tenant), "
            f"database {size[0] / 2**20:.1f} -> {after[0] / 2**20:.1f} MiB"
        )
        return 1 if failed else 0
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
