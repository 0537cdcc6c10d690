"""How the application reaches the data tier, shared by the cloud's constructs and the toolkit's
tenancy provisioning (they stand side by side in the layers and meet only here).

PostgreSQL: the application signs in as ``app_user``. On RDS it holds ``rds_iam`` and has no
password: it connects with a 15-minute IAM token signed for ``rds-db:connect`` on that user, so no
database password of the application exists to store, leak or rotate. Where there is no IAM (the
local PostgreSQL of ``make services``, test databases) it signs in with a password that lives only
in the developer's ``.env``.

Redis: every key and channel of a tenant starts with ``tenant_<slug>:``. The data commands below are
all a client of the data may run: no key listing (``SCAN``, ``KEYS`` would show other tenants' key
names), no administration, no ``ACL``/``CONFIG``.
"""

from __future__ import annotations

APP_DB_USER = "app_user"
# RDS for PostgreSQL's predefined role: its members sign in with IAM tokens only.
RDS_IAM_ROLE = "rds_iam"
TENANT_PREFIX = "tenant_"

# In order: Redis applies command rules left to right.
REDIS_DATA_RULES = (
    "-@all",
    "+@read",
    "+@write",
    "+@fast",
    "+@transaction",
    "+@connection",
    "-@dangerous",
    "-@admin",
    "-@keyspace",
    "+del",
    "+exists",
    "+expire",
    "+pexpire",
    "+ttl",
    "+pttl",
    "+type",
    "+unlink",
    "-scan",
    "-keys",
    "-randomkey",
    "-select",
    "-swapdb",
)


def redis_patterns(key_prefix: str) -> tuple[str, str]:
    """The key and channel patterns of everything under ``key_prefix``: ``~<prefix>:*``, ``&<prefix>:*``."""
    return f"~{key_prefix}:*", f"&{key_prefix}:*"


def cloud_redis_access_string() -> str:
    """The ElastiCache access string of the application's user: on, every tenant's keys and channels
    (``tenant_*:``) and nothing else, the data commands only.

    ElastiCache keeps users in its API, not in ``ACL SETUSER``; this string is what its
    ``CreateUser``/``ModifyUser`` receive (no ``reset*`` rules: a new user starts with nothing).
    """
    return " ".join(("on", *redis_patterns(f"{TENANT_PREFIX}*"), *REDIS_DATA_RULES))
