"""``signoff --aws-database``: the isolation verification (6) against an environment's RDS instance
found through the AWS API, as the pipeline runs it after each staging deploy. A moto server on
127.0.0.1 stands in for RDS and Secrets Manager."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from qualisys_infra.delivery.aws_database import AwsDatabaseError, rds_logins
from qualisys_infra.tenancy import urls
from tests.runner.conftest import Moto, moto  # noqa: F401 - the session's moto server
from tests.signoff.conftest import parse, run_json, smoke

INSTANCE = "qualisys-staging"  # account.tfvars' project and the environment, as the data stack names it
REGION = "us-east-1"
PASSWORD = "P@55w0rd!"  # noqa: S105 - what moto puts in a managed master secret


@pytest.fixture
def aws(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:  # noqa: F811
    """boto3 pointed at the moto server for RDS and Secrets Manager, with test credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", moto.endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTSIGNOFF")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    yield moto


def _instance(aws: Moto, *, managed: bool = True, iam: bool = True) -> dict[str, Any]:
    """The staging instance as the data stack makes it (managed master secret, IAM authentication)."""
    rds = aws.client("rds")
    extra: dict[str, Any] = {"ManageMasterUserPassword": True} if managed else {"MasterUserPassword": "not-managed-1"}
    created: dict[str, Any] = rds.create_db_instance(
        DBInstanceIdentifier=INSTANCE,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        MasterUsername="qualisys_admin",
        DBName="qualisys_master",
        EnableIAMDatabaseAuthentication=iam,
        AllocatedStorage=20,
        **extra,
    )["DBInstance"]
    return created


@pytest.fixture
def instance(aws: Moto) -> Iterator[dict[str, Any]]:
    created = _instance(aws)
    yield created
    aws.client("rds").delete_db_instance(DBInstanceIdentifier=INSTANCE, SkipFinalSnapshot=True)


def test_the_logins_are_the_master_secret_and_an_iam_token_for_app_user(instance: dict[str, Any]) -> None:
    logins = rds_logins(INSTANCE, region=REGION)
    host, port = instance["Endpoint"]["Address"], instance["Endpoint"]["Port"]
    assert logins.endpoint == f"{host}:{port}"
    admin = urls.postgres_params(logins.admin_url)
    assert admin == {
        "user": "admin",  # moto's managed secret; RDS puts the master user's name there
        "password": PASSWORD,
        "host": host,
        "port": str(port),
        "dbname": "qualisys_master",
        "sslmode": "require",
    }
    app = urls.postgres_params(logins.app_url, option="--app-database-url")
    assert app["user"] == "app_user" and app["host"] == host and app["sslmode"] == "require"
    # the password is an IAM token: a presigned rds-db:connect for app_user on this endpoint
    token = urlsplit("https://" + app["password"])
    assert f"{token.hostname}:{token.port}" == logins.endpoint
    query = parse_qs(token.query)
    assert query["Action"] == ["connect"] and query["DBUser"] == ["app_user"]
    credential = unquote(query["X-Amz-Credential"][0])
    assert credential.startswith("AKIDTESTSIGNOFF/") and credential.endswith(f"/{REGION}/rds-db/aws4_request")


def test_a_ca_file_makes_the_logins_verify_the_server(instance: dict[str, Any], tmp_path: Path) -> None:
    bundle = tmp_path / "rds-global-bundle.pem"
    logins = rds_logins(INSTANCE, region=REGION, ca_file=bundle)
    for url in (logins.admin_url, logins.app_url):
        params = urls.postgres_params(url)
        assert (params["sslmode"], params["sslrootcert"]) == ("verify-full", str(bundle))


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        ("none", f"RDS instance {INSTANCE} ({REGION}): cannot be described: DBInstanceNotFound"),
        ("password", "its master password is not managed in Secrets Manager"),
        ("no-iam", "IAM database authentication is off, so app_user cannot sign in"),
        ("secret-gone", "its master secret cannot be read: ResourceNotFoundException"),
        ("secret-without-password", "its master secret holds no username and password"),
    ],
)
def test_fails_if_the_instance_or_its_secret_is_not_as_the_data_stack_makes_it(
    aws: Moto, setup: str, says: str
) -> None:
    if setup != "none":
        created = _instance(aws, managed=setup != "password", iam=setup != "no-iam")
        secret = (created.get("MasterUserSecret") or {}).get("SecretArn")
        if setup == "secret-gone":
            aws.client("secretsmanager").delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)
        if setup == "secret-without-password":
            aws.client("secretsmanager").put_secret_value(SecretId=secret, SecretString='{"username": "admin"}')
    try:
        with pytest.raises(AwsDatabaseError) as caught:
            rds_logins(INSTANCE, region=REGION)
        assert says in str(caught.value) and len(caught.value.lines()) == 1
    finally:
        if setup != "none":
            aws.client("rds").delete_db_instance(DBInstanceIdentifier=INSTANCE, SkipFinalSnapshot=True)


def test_signoff_6_reaches_the_staging_database_with_those_logins_and_never_shows_them(
    instance: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # The moto endpoint's host name does not resolve here: the verification could not run, and the
    # line saying so names the endpoint with neither the master password nor the token in it.
    code, report = run_json(capsys, "--env", "staging", "--only", "6", "--aws-database", environ={})
    assert code == 1
    result = smoke(report, 6)
    assert result["verdict"] == "could not run"
    assert instance["Endpoint"]["Address"] in result["detail"] and "cannot connect" in result["detail"]
    shown = str(report)
    assert PASSWORD not in shown and "X-Amz-Signature" not in shown and "AKIDTESTSIGNOFF" not in shown


def test_fails_if_the_staging_instance_cannot_be_found(aws: Moto, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(capsys, "--env", "staging", "--only", "6", "--aws-database", environ={})
    assert code == 1
    assert smoke(report, 6)["detail"] == (
        f"endpoint: RDS instance {INSTANCE} ({REGION}): cannot be described: DBInstanceNotFound: DBInstance"
        f" {INSTANCE} not found."
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--aws-database", "--database-url", "postgresql://a@h/d"], "--aws-database and --database-url: choose one"),
        (["--aws-database", "--app-database-url", "postgresql://a@h/d"], "--aws-database and --app-database-url"),
        (["--database-ca-file", "/nonexistent/ca.pem", "--aws-database"], "--database-ca-file: /nonexistent/ca.pem"),
        (["--database-ca-file", __file__], "--database-ca-file: used only with --aws-database"),
    ],
)
def test_fails_if_the_database_options_conflict(argv: list[str], message: str) -> None:
    from qualisys_infra.commands.signoff import Plan
    from qualisys_infra.core.errors import UsageError

    args = parse("--env", "staging", "--only", "6", *argv)
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        Plan(args, {}, args.project_dir)
