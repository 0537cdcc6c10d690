"""What the metrics exporters may do in the data tier, shared by the cloud's constructs, the platform's
exporter values and the tests that run the real exporters as exactly these identities.

PostgreSQL: the exporter signs in as :data:`MONITOR_DB_USER`, a login whose only privilege is
membership of PostgreSQL's predefined role ``pg_monitor`` (the statistics views and settings it reads,
``pg_stat_activity`` of every session included) and ``CONNECT`` on the database: it owns nothing, can
read no table of a tenant, and holds at most :data:`MONITOR_CONNECTION_LIMIT` connections. The
exporter has no IAM authentication (prometheus-community/postgres_exporter#1392 was still open on
2026-12-06), so the role has a password; it lives in the Kubernetes Secret :data:`POSTGRES_EXPORTER_SECRET`
(inside the connection URL the exporter reads) and nowhere in Terraform (README, "Metrics, logs and
alerts").

Redis: the exporter signs in as an ACL user that reaches no key and no channel and runs only the
commands it reads the server's state with (:data:`REDIS_EXPORTER_RULES`): ``INFO``, ``PING``,
``CONFIG GET``, ``SLOWLOG``, ``LATENCY``, ``CLUSTER INFO`` and naming its own connection. In the
cloud it is an ElastiCache user (:func:`cloud_redis_exporter_access_string`) of the cache's user group.
"""

from __future__ import annotations

from psycopg import sql

MONITOR_DB_USER = "qualisys_monitor"
# PostgreSQL's predefined role for monitoring: pg_read_all_settings, pg_read_all_stats, pg_stat_scan_tables.
PG_MONITOR_ROLE = "pg_monitor"
# One scrape uses one connection; the rest is room for a second replica during a rollout.
MONITOR_CONNECTION_LIMIT = 3
# Kubernetes Secrets (namespace monitoring) an operator creates (README): the PostgreSQL exporter's
# connection URL (the monitoring login, its password, the RDS endpoint, sslmode=require) under
# POSTGRES_EXPORTER_KEY, the Redis exporter user's password under REDIS_EXPORTER_KEY.
POSTGRES_EXPORTER_SECRET = "postgres-exporter"  # noqa: S105 - the Secret's name, not a credential
POSTGRES_EXPORTER_KEY = "data-source-name"
REDIS_EXPORTER_SECRET = "redis-exporter"  # noqa: S105 - the Secret's name, not a credential
REDIS_EXPORTER_KEY = "credential"

# In order (Redis applies command rules left to right): nothing, then what redis_exporter runs. Read
# from oliver006/redis_exporter at cd5941f (2026-08-05, after v1.88.0) and checked against a real
# Redis 7 with Debian's exporter 1.45 (tests/observability): a scrape as this user logs no NOPERM.
REDIS_EXPORTER_RULES = (
    "-@all",
    "+info",
    "+ping",
    "+config|get",
    "+slowlog|get",
    "+slowlog|len",
    "+latency|latest",
    "+latency|histogram",
    "+cluster|info",
    "+client|setname",
)


def cloud_redis_exporter_access_string() -> str:
    """The ElastiCache access string of the exporter's user: on, no key or channel, the rules above."""
    return " ".join(("on", "resetkeys", "resetchannels", *REDIS_EXPORTER_RULES))


def redis_exporter_acl(user: str, password: str) -> list[str]:
    """``ACL SETUSER`` arguments for a self-managed Redis: the same rules, with ``reset`` first and the
    password given."""
    return [user, "reset", "on", f">{password}", "resetkeys", "resetchannels", *REDIS_EXPORTER_RULES]


def monitor_role_statements(*, database: str, password: str, user: str = MONITOR_DB_USER) -> list[sql.Composed]:
    """The statements (run as the database's administrator) that create or reset the monitoring login:
    no attribute beyond ``LOGIN``, the connection limit, ``pg_monitor``, ``CONNECT`` on ``database``,
    and read-only transactions by default."""
    role = sql.Identifier(user)
    attributes = sql.SQL(
        "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT {} PASSWORD {}"
    ).format(sql.Literal(MONITOR_CONNECTION_LIMIT), sql.Literal(password))
    return [
        sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {}) THEN CREATE ROLE {}; END IF; END $$"
        ).format(sql.Literal(user), role),
        sql.SQL("ALTER ROLE {} WITH {}").format(role, attributes),
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(PG_MONITOR_ROLE), role),
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), role),
        sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(role),
    ]


def redis_exporter_user_id(name: str) -> str:
    """The ElastiCache user (id and name) of the exporter of the cache ``name``: ``<name>-metrics``."""
    return f"{name}-metrics"
