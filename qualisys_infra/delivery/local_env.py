"""The local platform's settings, as compose reads them: ``.env`` in the project folder overridden by
the environment, and the URLs of the app, PostgreSQL (as postgres and as app_user) and Redis built
from them. Read by ``dev check``, ``dev seed`` and ``signoff --local``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.files import read_text

DEFAULT_ENV_FILE = ".env"


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines of a compose ``.env`` file (comments, blank lines, ``export`` and
    matching quotes allowed); a line that is none of these is an error naming the line."""
    values: dict[str, str] = {}
    text = read_text(path, str(path))
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, equals, value = line.partition("=")
        key = key.strip()
        if not equals or not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise UsageError(f"{path}:{number}: expected NAME=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def settings(env_file: Path | None, environ: Mapping[str, str], folder: Path | None = None) -> dict[str, str]:
    """The .env values (``env_file``, else ``.env`` in ``folder``, else in the current folder, if
    there is one) overridden by the environment (compose's order)."""
    path = env_file if env_file is not None else (folder or Path()) / DEFAULT_ENV_FILE
    if env_file is None and not path.is_file():
        return dict(environ)
    return {**read_env_file(path), **environ}


def _password(values: Mapping[str, str], name: str, what: str) -> str:
    password = values.get(name)
    if not password:
        raise UsageError(f"dev check: no {what}: set {name} in .env (copy .env.example) or pass the URL")
    return quote(password, safe="")


def app_url(values: Mapping[str, str]) -> str:
    """The app as the host sees it: ``$QUALISYS_DEV_APP_URL``, else http://localhost:$HELLO_PORT."""
    return values.get("QUALISYS_DEV_APP_URL") or f"http://localhost:{values.get('HELLO_PORT') or 3000}"


def database_url(values: Mapping[str, str]) -> str:
    """compose's PostgreSQL as postgres: ``$QUALISYS_DEV_DATABASE_URL``, else built from .env."""
    url = values.get("QUALISYS_DEV_DATABASE_URL")
    if url:
        return url
    password = _password(values, "POSTGRES_PASSWORD", "database password")
    port = values.get("POSTGRES_PORT") or "5432"
    return f"postgresql://postgres:{password}@127.0.0.1:{port}/{values.get('POSTGRES_DB') or 'qualisys'}"


def app_database_url(values: Mapping[str, str], database: str) -> str:
    """app_user's login: ``$QUALISYS_DEV_APP_DATABASE_URL``, else ``database`` as app_user."""
    from qualisys_infra.tenancy import urls

    return values.get("QUALISYS_DEV_APP_DATABASE_URL") or urls.with_credentials(
        database, "app_user", values.get("QUALISYS_APP_USER_PASSWORD") or None
    )


def redis_url(values: Mapping[str, str]) -> str:
    """compose's Redis as qualisys_admin: ``$QUALISYS_DEV_REDIS_URL``, else built from .env."""
    url = values.get("QUALISYS_DEV_REDIS_URL")
    if url:
        return url
    password = _password(values, "REDIS_ADMIN_PASSWORD", "Redis admin password")
    return f"redis://qualisys_admin:{password}@127.0.0.1:{values.get('REDIS_PORT') or 6379}/0"
