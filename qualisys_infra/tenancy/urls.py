"""Database and Redis URLs: parsed strictly here, and only ever shown with the password masked.

Every message that mentions a URL goes through :func:`mask`; every message that quotes a driver
(psycopg, libpq, redis-py) goes through :func:`scrub`, since drivers echo pieces of the DSN (a
malformed percent-escape, the host part after a second ``@``). PostgreSQL URLs are parsed by
:func:`postgres_params` and handed to psycopg as keywords, so libpq never parses (or quotes) the
password at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

import psycopg

from qualisys_infra.tenancy.names import TenancyError

MASK = "***"
POSTGRES_SCHEMES = ("postgresql", "postgres")
REDIS_SCHEMES = ("redis", "rediss", "unix")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PASSWORD_PARAM = re.compile(r"((?:^|[?&;\s])password\s*=\s*)('[^']*'|[^&;\s]*)", re.IGNORECASE)
_SHORTEST_SCRUBBED = 3  # shorter fragments of a password are too common to replace in running text


class UrlError(TenancyError):
    """A database or Redis URL that cannot be parsed (exit 2, like any bad input)."""


@dataclass(frozen=True, slots=True)
class _Parts:
    scheme: str
    userinfo: str | None  # everything before the last '@', raw
    rest: str  # host[:port][,host[:port]...][/path][?query], raw


def _split(url: str) -> _Parts | None:
    """Scheme, credentials and the rest; the credentials end at the *last* ``@``.

    A raw ``@``, ``/`` or ``?`` in a password then stays in the credentials (and is masked)
    instead of spilling into the host part, as it does in libpq and urllib.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    at = rest.rfind("@")
    if at < 0:
        return _Parts(scheme.lower(), None, rest)
    return _Parts(scheme.lower(), rest[:at], rest[at + 1 :])


def _printable(text: str) -> str:
    """``text`` on one line: control characters escaped, so a message stays one line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def mask(url: str) -> str:
    """``url`` with its password (and any ``password=`` parameter) replaced by ``***``; never raises."""
    parts = _split(url)
    if parts is None:
        return _printable(_PASSWORD_PARAM.sub(rf"\1{MASK}", url))
    shown = f"{url.partition('://')[0]}://"
    if parts.userinfo is not None:
        user, colon, _ = parts.userinfo.partition(":")
        shown += f"{user}{':' + MASK if colon else ''}@"
    return _printable(shown + _PASSWORD_PARAM.sub(rf"\1{MASK}", parts.rest))


def _secrets(url: str) -> list[str]:
    """The password of ``url`` as written, decoded, and the pieces a driver may quote, longest first."""
    found: list[str] = []
    parts = _split(url)
    if parts is not None and parts.userinfo is not None and ":" in parts.userinfo:
        password = parts.userinfo.partition(":")[2]
        found += [password, unquote(password)]
        for piece in re.split(r"[@:/?#]", password):
            found += [piece, unquote(piece)]
    for match in _PASSWORD_PARAM.finditer(url):
        found += [match.group(2), unquote(match.group(2)).strip("'")]
    return sorted({s for s in found if len(s) >= _SHORTEST_SCRUBBED}, key=len, reverse=True)


def scrub(text: str, *urls: str) -> str:
    """``text`` (a driver's message) on one line, with each URL masked and its password removed."""
    for url in urls:
        if url:
            text = text.replace(url, mask(url))
            for secret in _secrets(url):
                text = text.replace(secret, MASK)
    return _printable(" ".join(line.strip() for line in text.splitlines() if line.strip()))


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
