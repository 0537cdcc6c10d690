"""An environment's RDS database, found through the AWS API: the two logins the isolation
verification needs, with no password kept anywhere.

- the instance ``<project>-<env>`` (the data stack's name) gives the endpoint, port, database name
  and the ARN of its master secret (``rds:DescribeDBInstances``);
- the admin login is the master user, its password read from that secret in Secrets Manager
  (``secretsmanager:GetSecretValue``; the secret's resource policy admits only the roles named in
  the data stack's ``master_secret_reader_role_arns``);
- ``app_user`` has no password in the cloud (IAM database authentication, ``rds_iam``): its login is
  a 15-minute token signed with the caller's credentials for ``rds-db:connect`` on that user
  (signed locally, no API call).

TLS: IAM authentication needs it. With ``ca_file`` (the RDS certificate bundle) the server's
certificate and name are verified (``sslmode=verify-full``); without, the connection is encrypted
but the server is not authenticated (``sslmode=require``).

boto3 uses the caller's AWS credentials; ``AWS_ENDPOINT_URL_RDS`` and
``AWS_ENDPOINT_URL_SECRETS_MANAGER`` (boto3's own settings) point it elsewhere, as the tests do with
a moto server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from qualisys_infra.core.data_access import APP_DB_USER
from qualisys_infra.core.errors import ToolkitError


class AwsDatabaseError(ToolkitError):
    """The environment's database could not be found or its logins not made."""


@dataclass(frozen=True, slots=True)
class DatabaseLogins:
    """The admin and ``app_user`` URLs of one RDS instance (the password and the token inside)."""

    instance: str
    endpoint: str  # host:port
    admin_url: str
    app_url: str


def _reason(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {' '.join(str(error.get('Message', '')).split())}".rstrip(": ")
    return " ".join(str(exc).split()) or type(exc).__name__


def rds_logins(
    identifier: str,
    *,
    region: str,
    ca_file: Path | None = None,
    rds: Any = None,
    secrets: Any = None,
) -> DatabaseLogins:
    """The logins of the RDS instance ``identifier`` in ``region`` (see the module's docstring);
    :class:`AwsDatabaseError`, one line, for anything AWS refuses or lacks."""
    import boto3.session
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.session.Session()  # the credentials of now, not those a default session cached
    rds = rds or session.client("rds", region_name=region)
    secrets = secrets or session.client("secretsmanager", region_name=region)
    where = f"RDS instance {identifier} ({region})"
    try:
        found = rds.describe_db_instances(DBInstanceIdentifier=identifier).get("DBInstances") or []
    except (BotoCoreError, ClientError) as exc:
        raise AwsDatabaseError(f"{where}: cannot be described: {_reason(exc)}") from None
    if not found:
        raise AwsDatabaseError(f"{where}: not found")
    instance = found[0]
    endpoint = instance.get("Endpoint") or {}
    host, port = endpoint.get("Address"), endpoint.get("Port")
    dbname = instance.get("DBName")
    secret_arn = (instance.get("MasterUserSecret") or {}).get("SecretArn")
    if not isinstance(host, str) or not isinstance(port, int):
        raise AwsDatabaseError(f"{where}: has no endpoint yet (status {instance.get('DBInstanceStatus', '?')})")
    if not isinstance(dbname, str) or not dbname:
        raise AwsDatabaseError(f"{where}: has no initial database name")
    if not isinstance(secret_arn, str):
        raise AwsDatabaseError(f"{where}: its master password is not managed in Secrets Manager")
    if instance.get("IAMDatabaseAuthenticationEnabled") is not True:
        raise AwsDatabaseError(f"{where}: IAM database authentication is off, so {APP_DB_USER} cannot sign in")
    try:
        value = secrets.get_secret_value(SecretId=secret_arn).get("SecretString")
    except (BotoCoreError, ClientError) as exc:
        raise AwsDatabaseError(f"{where}: its master secret cannot be read: {_reason(exc)}") from None
    try:
        credentials = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        credentials = None
    user = credentials.get("username") if isinstance(credentials, dict) else None
    password = credentials.get("password") if isinstance(credentials, dict) else None
    if not isinstance(user, str) or not isinstance(password, str) or not user or not password:
        raise AwsDatabaseError(f"{where}: its master secret holds no username and password")
    try:
        token = rds.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=APP_DB_USER, Region=region)
    except (BotoCoreError, ClientError) as exc:  # no credentials to sign with
        raise AwsDatabaseError(f"{where}: cannot sign an IAM token for {APP_DB_USER}: {_reason(exc)}") from None
    tls = {"sslmode": "verify-full", "sslrootcert": str(ca_file)} if ca_file else {"sslmode": "require"}
    rest = f"{host}:{port}/{quote(dbname, safe='')}?{urlencode(tls)}"
    return DatabaseLogins(
        instance=identifier,
        endpoint=f"{host}:{port}",
        admin_url=f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{rest}",
        app_url=f"postgresql://{APP_DB_USER}:{quote(token, safe='')}@{rest}",
    )


__all__ = ["AwsDatabaseError", "DatabaseLogins", "rds_logins"]
