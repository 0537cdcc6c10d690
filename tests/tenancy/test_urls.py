"""The one helper every message about a database or Redis URL goes through."""

from __future__ import annotations

import pytest

from qualisys_infra.tenancy import urls

SECRET = "Sup3rS3cret"  # noqa: S105 - a fake password the messages must never show


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://app:{SECRET}@db:5432/x", "postgresql://app:***@db:5432/x"),
        (f"postgresql://app:p@ss@{SECRET}@db/x", "postgresql://app:***@db/x"),
        (f"postgresql://app:%zz{SECRET}@db/x", "postgresql://app:***@db/x"),
        (f"postgresql://app:{SECRET}/?#@db/x", "postgresql://app:***@db/x"),
        (f"postgresql://db/x?sslmode=require&password={SECRET}", "postgresql://db/x?sslmode=require&password=***"),
        (f"redis://:{SECRET}@cache:6379/0", "redis://:***@cache:6379/0"),
        (f"host=db password={SECRET}", "host=db password=***"),
        ("postgresql://app@db/x\nrest", "postgresql://app@db/x\\nrest"),
        ("postgresql://[::1", "postgresql://[::1"),
    ],
)
def test_fails_if_mask_shows_any_part_of_the_password(url: str, shown: str) -> None:
    assert urls.mask(url) == shown


def test_fails_if_scrub_leaves_a_fragment_a_driver_echoed() -> None:
    url = f"postgresql://app:p@ss{SECRET}@db/x"
    message = f'failed to resolve host "ss{SECRET}@db": not known\nretry {url}'
    assert SECRET not in urls.scrub(message, url)
    assert "\n" not in urls.scrub(message, url)


def test_with_credentials_keeps_host_database_and_options() -> None:
    url = "postgresql://postgres:x@[::1]:5433/db?sslmode=disable"
    built = urls.with_credentials(url, "app_user", "p@ss/w:rd%")
    assert built == "postgresql://app_user:p%40ss%2Fw%3Ard%25@[::1]:5433/db?sslmode=disable"
    assert urls.postgres_params(built) == {
        "user": "app_user",
        "password": "p@ss/w:rd%",
        "host": "::1",
        "port": "5433",
        "dbname": "db",
        "sslmode": "disable",
    }
