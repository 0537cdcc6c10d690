"""Database and Redis URLs: parsed strictly here, and only ever shown with their secrets masked.

Every message that mentions a URL goes through :func:`mask`; every message that quotes a driver
(psycopg, libpq, redis-py) goes through :func:`scrub`, since drivers echo pieces of the DSN (a
malformed percent-escape, the host part after a second ``@``). Both are the toolkit's one
masking function (:mod:`qualisys_infra.core.masking`): the password and every parameter that can
hold a secret (``password``, ``sslpassword``, ``sslkey``, ``passfile``...) become ``***``.
PostgreSQL URLs are parsed by :func:`postgres_params` and handed to psycopg as keywords, so libpq
never parses (or quotes) the password at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

import psycopg

from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.masking import MASK, one_line, scrub
from qualisys_infra.core.masking import mask_url as mask
from qualisys_infra.tenancy.names import TenancyError

__all__ = ["MASK", "UrlError", "check_redis_url", "mask", "postgres_params", "scrub", "with_credentials"]

POSTGRES_SCHEMES = ("postgresql", "postgres")
REDIS_SCHEMES = ("redis", "rediss", "unix")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class UrlError(TenancyError):
    """A database or Redis URL that cannot be parsed (exit 2, like any bad input)."""


@dataclass(frozen=True, slots=True)
class _Parts:
    scheme: str
    userinfo: str | None  # everything before the last '@', raw
    rest: str  # host[:port][,host[:port]...][/path][?query], raw


def _split(url: str) -> _Parts | None:
    """Scheme, credentials and the rest; the credentials end at the *last* ``@`` (as
    :mod:`qualisys_infra.core.masking` reads them, so what is parsed as a password is what is masked)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    at = rest.rfind("@")
    if at < 0:
        return _Parts(scheme.lower(), None, rest)
    return _Parts(scheme.lower(), rest[:at], rest[at + 1 :])


_printable = one_line


def _decode(value: str, what: str, url: str, option: str) -> str:
    if _BAD_ESCAPE.search(value):
        raise UrlError(f"{option}: {mask(url)}: malformed percent-escape in the {what}")
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise UrlError(f"{option}: {mask(url)}: the {what} is not UTF-8 once percent-decoded") from None


def _host_port(item: str, url: str, option: str) -> tuple[str, str]:
    if item.startswith("["):
        end = item.find("]")
        if end < 0:
            raise UrlError(f"{option}: {mask(url)}: malformed host: '[' without ']'")
        host, after = item[1:end], item[end + 1 :]
        if after and not after.startswith(":"):
            raise UrlError(f"{option}: {mask(url)}: malformed host: unexpected text after ']'")
        port = after[1:]
    else:
        host, _, port = item.partition(":")
        if "[" in host or "]" in host:
            raise UrlError(f"{option}: {mask(url)}: malformed host")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise UrlError(f"{option}: {mask(url)}: port must be a number from 1 to 65535")
    return _decode(host, "host", url, option), port


def postgres_params(url: str, *, option: str = "--database-url") -> dict[str, str]:
    """libpq keywords (user, password, host, port, dbname, query options) of a ``postgresql://`` URL.

    Raises :class:`UrlError` naming ``option`` and showing the URL masked.
    """
    parts = _split(url)
    if parts is None or parts.scheme not in POSTGRES_SCHEMES:
        raise UrlError(f"{option}: got {mask(url)!r}, expected postgresql://USER[:PASSWORD]@HOST:PORT/DB")
    params: dict[str, str] = {}
    if parts.userinfo is not None:
        user, colon, password = parts.userinfo.partition(":")
        if user:
            params["user"] = _decode(user, "user name", url, option)
        if colon:
            params["password"] = _decode(password, "password", url, option)
    authority, _, query = parts.rest.partition("?")
    authority, _, path = authority.partition("/")
    if authority:
        pairs = [_host_port(item, url, option) for item in authority.split(",")]
        params["host"] = ",".join(host for host, _ in pairs)
        if any(port for _, port in pairs):
            params["port"] = ",".join(port for _, port in pairs)
    if path:
        params["dbname"] = _decode(path, "database name", url, option)
    for item in filter(None, query.split("&")):
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise UrlError(f"{option}: {mask(url)}: malformed query parameter {mask(item)!r}, expected NAME=VALUE")
        params[_decode(key, "query", url, option)] = _decode(value, "query", url, option)
    try:
        psycopg.conninfo.make_conninfo("", **params)
    except psycopg.ProgrammingError as exc:
        raise UrlError(f"{option}: {mask(url)}: {scrub(str(exc), url)}") from None
    return params


def with_credentials(url: str, user: str, password: str | None, *, option: str = "--database-url") -> str:
    """``url`` with another user and password (percent-encoded), host, database and options kept."""
    parts = _split(url)
    if parts is None:
        raise UrlError(f"{option}: got {mask(url)!r}, expected postgresql://USER[:PASSWORD]@HOST:PORT/DB")
    credentials = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return f"{url.partition('://')[0]}://{credentials}@{parts.rest}"


def check_redis_url(url: str, *, option: str = "--redis-url") -> None:
    """Refuse a Redis URL redis-py would misread, before anything is written anywhere."""
    parts = _split(url)
    if parts is None or parts.scheme not in REDIS_SCHEMES:
        raise UrlError(f"{option}: got {mask(url)!r}, expected redis://[USER[:PASSWORD]@]HOST:PORT/DB")
    if parts.userinfo is not None:
        user, _, password = parts.userinfo.partition(":")
        _decode(user, "user name", url, option)
        _decode(password, "password", url, option)
    authority, _, query = parts.rest.partition("?")
    authority, _, path = authority.partition("/")
    if parts.scheme != "unix":
        if "," in authority:
            raise UrlError(f"{option}: {mask(url)}: one host only")
        _host_port(authority, url, option)
        if path and not path.isdigit():
            raise UrlError(f"{option}: {mask(url)}: the database must be a number, got {_printable(path)!r}")
    _decode(query, "query", url, option)


def app_user_url(admin_url: str, environ: Mapping[str, str]) -> str:
    """The admin URL with the user app_user and ``$QUALISYS_APP_USER_PASSWORD``."""
    return with_credentials(admin_url, "app_user", environ.get("QUALISYS_APP_USER_PASSWORD"))


# The admin login of every command that opens the database (tenants, dev seed, signoff tests 2 and 6):
# its --database-url, else this variable. Read here once.
DATABASE_URL_VARIABLE = "QUALISYS_DATABASE_URL"


def admin_url(given: str | None, environ: Mapping[str, str]) -> str | None:
    """The admin database URL: ``given`` (``--database-url``), else ``$QUALISYS_DATABASE_URL``, else none."""
    return given or environ.get(DATABASE_URL_VARIABLE) or None


def require_admin_url(given: str | None, environ: Mapping[str, str], command: str) -> str:
    """:func:`admin_url`, or the one-line error naming both ways to give it (exit 2)."""
    url = admin_url(given, environ)
    if url is None:
        raise UsageError(f"{command}: no database: pass --database-url or set {DATABASE_URL_VARIABLE}")
    return url
