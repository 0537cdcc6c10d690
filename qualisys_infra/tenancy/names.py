"""Validated tenant identifiers: slugs, schema names, Redis keys. Never formatted into SQL by hand."""

from __future__ import annotations

import re

from qualisys_infra.core.errors import ToolkitError

# Matched with ``fullmatch`` only: ``re.match`` with ``$`` accepts a trailing newline.
SLUG = re.compile(r"[a-z][a-z0-9_]{2,40}")
SCOPE = re.compile(r"[a-z][a-z0-9_]{0,30}")
KEY = re.compile(r"[A-Za-z0-9_.\-/=]{1,200}")  # no ':' (the separator), no glob characters, no spaces
RESERVED = frozenset(
    {
        "public",
        "platform",
        "admin",
        "root",
        "postgres",
        "system",
        "default",
        "template",
        "information_schema",
        "app_user",
    }
)
SCHEMA_PREFIX = "tenant_"


class TenancyError(ToolkitError):
    """Bad tenant input, or a database/Redis problem reported in the user's terms."""


def validate_slug(slug: str) -> str:
    """``slug`` if it is a valid tenant slug; raises :class:`TenancyError` saying what is allowed."""
    if not SLUG.fullmatch(slug):
        raise TenancyError(f"tenant slug: got {slug!r}, expected 3-41 characters matching ^[a-z][a-z0-9_]{{2,40}}$")
    if slug in RESERVED or slug.startswith(("pg_", "tenant_")):
        raise TenancyError(f"tenant slug: got {slug!r}, which is reserved")
    return slug


def schema_name(slug: str) -> str:
    return SCHEMA_PREFIX + validate_slug(slug)


def redis_key(tenant: str, scope: str, key: str) -> str:
    """``tenant_<slug>:<scope>:<key>``: the one way keys are built, so a tenant's ACL covers them."""
    prefix = schema_name(tenant)
    if not SCOPE.fullmatch(scope):
        raise TenancyError(f"redis scope: got {scope!r}, expected ^[a-z][a-z0-9_]{{0,30}}$")
    if not KEY.fullmatch(key):
        raise TenancyError(
            f"redis key: got {key!r}, expected 1-200 of A-Z a-z 0-9 _ . - / = (no ':' or glob characters)"
        )
    return f"{prefix}:{scope}:{key}"


def redis_user(tenant: str) -> str:
    """The Redis ACL user of a tenant: its key prefix."""
    return schema_name(tenant)
