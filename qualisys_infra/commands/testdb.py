"""qualisys-infra testdb: multi-tenant test databases for CI (the pytest fixtures make their own).

Typical use in a CI job:
  NAME=$(qualisys-infra testdb create --json | jq -r .name)
  ... run the tests against it ...
  qualisys-infra testdb drop "$NAME"

create makes a PostgreSQL database (a unique name unless --name is given) with the tenancy
migrations applied and the tenants acme and globex created and seeded (the data of tenants seed),
and prints its name and URLs: the admin URL and the app_user URL. Passwords in them are shown as
*** unless --show-passwords is given (for a step that writes them into its environment, never into
a log). drop drops a database made by create, and refuses any other.

Connection: the admin URL comes from --admin-url or $QUALISYS_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), a login that may create databases and roles.
app_user's password, when set, is $QUALISYS_APP_USER_PASSWORD (roles are cluster-wide: it is the
password of app_user on the whole server).

Exit codes: 0 success; 2 bad input (a name, a URL), a server that cannot be reached or logged
into, or a database that is not a test database; 1 a statement failed once connected.
"""

from __future__ import annotations

import argparse
import json

from qualisys_infra.commands.context import Context
from qualisys_infra.core.errors import UsageError

CREATE_DESCRIPTION = """\
Create a test database: migrations applied (tenants init), the tenants created and seeded
(deterministic data: 1 organization, 3 projects, 5 runs per project per tenant). Prints the name
and the URLs; on any failure the new database is dropped again. An existing database of the same
name is an error.
"""

DROP_DESCRIPTION = """\
Drop a test database made by testdb create (its sessions are ended first). A database without
testdb's mark is refused, whatever its name; one that does not exist is not an error (exit 0).
"""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    testdb = sub.add_parser(
        "testdb",
        help="create and drop multi-tenant PostgreSQL test databases (migrations, seeded tenants) for CI",
        description=__doc__,
    )
    testdb.set_defaults(func=run)
    actions = testdb.add_subparsers(dest="testdb_command", required=True, metavar="ACTION")

    def admin(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--admin-url",
            default=None,
            metavar="URL",
            help="admin URL of the server, postgresql://USER[:PASSWORD]@HOST:PORT/DB (default:"
            " $QUALISYS_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/postgres)",
        )

    create = actions.add_parser("create", help="a test database with seeded tenants", description=CREATE_DESCRIPTION)
    create.add_argument(
        "--name", default=None, metavar="NAME", help="the database's name (default: qualisys_test_ and 12 hex digits)"
    )
    create.add_argument(
        "--tenant",
        action="append",
        dest="tenants",
        metavar="SLUG",
        help="a tenant to create and seed, repeatable (default: acme and globex)",
    )
    create.add_argument("--json", action="store_true", help="print the result as JSON (default: lines)")
    create.add_argument(
        "--show-passwords",
        action="store_true",
        help="print the URLs with their passwords (default: *** in their place)",
    )
    admin(create)

    drop = actions.add_parser("drop", help="drop a test database made by create", description=DROP_DESCRIPTION)
    drop.add_argument("name", metavar="NAME", help="the test database to drop")
    admin(drop)

    listing = actions.add_parser(
        "list", help="the test databases on the server", description="List the databases made by testdb create."
    )
    listing.add_argument("--json", action="store_true", help="print the names as a JSON list (default: lines)")
    admin(listing)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from qualisys_infra.tenancy import testdb, urls

    environ = ctx.environ
    admin = args.admin_url or testdb.admin_url(environ)
    urls.postgres_params(admin, option="--admin-url")
    command = args.testdb_command
    if command == "create":
        if args.name is not None:
            testdb.validate_name(args.name)
        if args.tenants is not None and not args.tenants:
            raise UsageError("testdb create: --tenant needs a slug")
        database = testdb.create(
            admin,
            name=args.name,
            tenants=args.tenants or testdb.DEFAULT_TENANTS,
            app_password=environ.get(testdb.APP_PASSWORD_VARIABLE) or None,
        )

        def shown(url: str) -> str:
            return url if args.show_passwords else urls.mask(url)

        result = {
            "name": database.name,
            "admin_url": shown(database.admin_url),
            "app_url": shown(database.app_url),
            "tenants": {t.slug: {"schema": t.schema, "id": t.id} for t in database.tenants.values()},
        }
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"testdb: created {database.name}")
            print(f"admin_url  {result['admin_url']}")
            print(f"app_url    {result['app_url']}")
            for tenant in database.tenants.values():
                print(f"tenant     {tenant.slug} (schema {tenant.schema}, id {tenant.id})")
        return 0
    if command == "drop":
        if testdb.drop(admin, args.name):
            print(f"testdb: dropped {args.name}")
        else:
            print(f"testdb: {args.name} does not exist; nothing to drop")
        return 0
    names = testdb.list_databases(admin)
    if args.json:
        print(json.dumps(names))
    else:
        for name in names:
            print(name)
        print(f"testdb: {len(names)} test database{'' if len(names) == 1 else 's'}")
    return 0
