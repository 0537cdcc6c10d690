"""app_user on RDS: IAM tokens only, no password (``tenants init`` grants ``rds_iam``).

The local PostgreSQL has no ``rds_iam``; RDS predefines it as a NOLOGIN role. Each test creates it
inside a transaction that is rolled back, so the server's shared roles never see it (roles are
cluster-wide, and other tests run ``init`` on the same server meanwhile).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from qualisys_infra.core.data_access import APP_DB_USER, RDS_IAM_ROLE
from qualisys_infra.tenancy import provision
from qualisys_infra.tenancy.names import TenancyError
from qualisys_infra.tenancy.sql import APP_ROLE


@pytest.fixture
def rds_like(database: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection inside a transaction in which ``rds_iam`` exists, rolled back at the end."""
    with psycopg.connect(database, autocommit=False) as conn:
        conn.execute(f"CREATE ROLE {RDS_IAM_ROLE} NOLOGIN")
        try:
            yield conn
        finally:
            conn.rollback()


def _is_member(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (APP_ROLE, RDS_IAM_ROLE)).fetchone()
    return bool(row and row[0])


def test_the_toolkit_and_the_cloud_name_the_same_login() -> None:
    assert APP_ROLE == APP_DB_USER == "app_user"


def test_init_grants_rds_iam_to_app_user_where_the_role_exists(
    rds_like: psycopg.Connection[tuple[object, ...]],
) -> None:
    assert not _is_member(rds_like)
    # init's own transaction becomes a savepoint of the test's: nothing is committed.
    provision.init(rds_like, environment="test", app_password=None)
    assert _is_member(rds_like)
    flags = rds_like.execute(
        "SELECT rolcanlogin, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", (APP_ROLE,)
    ).fetchone()
    assert flags == (True, False, False)
    rds_like.execute("RESET ROLE")  # init's SET LOCAL ROLE lasts to the end of the test's transaction
    assert provision.init(rds_like, environment="test", app_password=None) == []  # again: nothing new
    assert _is_member(rds_like)


def test_fails_if_an_app_user_password_is_given_where_rds_iam_exists(
    rds_like: psycopg.Connection[tuple[object, ...]],
) -> None:
    with pytest.raises(TenancyError, match=r"app_user: this server has rds_iam \(RDS\), where app_user signs in"):
        provision.init(rds_like, environment="test", app_password="a-password-that-must-not-be-set")  # noqa: S106 - refused, on purpose
    assert not _is_member(rds_like), "the refused init left nothing behind"


def test_init_leaves_a_server_without_rds_iam_without_it(initialised: str) -> None:
    with psycopg.connect(initialised) as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (RDS_IAM_ROLE,)).fetchone() is None
