"""The toolkit's one masking function: every part of a URL that can hold a secret, in any message."""

from __future__ import annotations

import pytest

from qualisys_infra.core.masking import is_secret_name, mask_text, mask_url, scrub
from qualisys_infra.tenancy import urls

SECRET = "Sup3rS3cret"  # noqa: S105 - a fake secret the messages must never show


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://app:{SECRET}@db:5432/x", "postgresql://app:***@db:5432/x"),
        (f"redis://:{SECRET}@cache:6379/0", "redis://:***@cache:6379/0"),
        (f"https://user:{SECRET}@grafana.example.com/", "https://user:***@grafana.example.com/"),
        (f"https://{SECRET}@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("postgresql://app_user@db/x", "postgresql://app_user@db/x"),
        ("redis://admin@cache:6379/0", "redis://admin@cache:6379/0"),
    ],
    ids=["postgres-password", "redis-password", "https-password", "https-token-as-user", "postgres-user", "redis-user"],
)
def test_fails_if_userinfo_shows_a_secret(url: str, shown: str) -> None:
    assert mask_url(url) == shown


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "sslpassword",
        "passfile",
        "sslkey",
        "PASSWORD",
        "ssl%70assword",
        "token",
        "access_token",
        "X-Amz-Security-Token",
        "api_key",
        "apikey",
        "client_secret",
        "auth",
        "Authorization",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "sig",
        "pwd",
    ],
)
def test_fails_if_a_secret_query_parameter_is_shown(name: str) -> None:
    url = f"postgresql://db/x?sslmode=require&{name}={SECRET}&application_name=ci"
    assert mask_url(url) == f"postgresql://db/x?sslmode=require&{name}=***&application_name=ci"


@pytest.mark.parametrize("name", ["sslmode", "application_name", "connect_timeout", "target_session_attrs"])
def test_parameters_that_hold_no_secret_are_shown(name: str) -> None:
    assert not is_secret_name(name)
    assert mask_url(f"https://api.example.com/x?{name}=v1") == f"https://api.example.com/x?{name}=v1"


def test_a_name_without_a_secret_word_is_shown_in_running_text_but_masked_in_a_url() -> None:
    assert not is_secret_name("author")
    assert mask_text("author=ana", pairs=True) == "author=ana"
    assert mask_url("https://api.example.com/x?author=ana") == "https://api.example.com/x?author=***"


def test_fails_if_a_secret_in_the_fragment_is_shown() -> None:
    assert mask_url(f"https://app.example.com/cb#state=s&access_token={SECRET}") == (
        "https://app.example.com/cb#state=s&access_token=***"
    )


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        (f"host=db sslpassword={SECRET} user=u", "host=db sslpassword=*** user=u"),
        (f"host=db password = '{SECRET} x' user=u", "host=db password = *** user=u"),
        (f'host=db password="{SECRET} x" user=u', "host=db password=*** user=u"),
        (f"host=db sslkey={SECRET};user=u", "host=db sslkey=***;user=u"),
    ],
    ids=["keyword", "single-quoted-with-spaces", "double-quoted", "semicolon"],
)
def test_fails_if_a_keyword_dsn_shows_a_secret(dsn: str, shown: str) -> None:
    assert mask_url(dsn) == shown
    assert mask_text(dsn) == shown


def test_fails_if_running_text_shows_a_url_secret() -> None:
    text = f"GET https://u:{SECRET}@h/x?token={SECRET} failed; retry postgresql://a:{SECRET}@db/x?sslpassword={SECRET}"
    assert mask_text(text) == ("GET https://u:***@h/x?token=*** failed; retry postgresql://a:***@db/x?sslpassword=***")


def test_text_masking_without_pairs_leaves_key_value_prose_alone() -> None:
    text = f"expected api_key = value lines, got 'https://x:{SECRET}@h'"
    assert mask_text(text, pairs=False) == "expected api_key = value lines, got 'https://x:***@h'"


def test_fails_if_scrub_leaves_an_echoed_parameter_secret() -> None:
    url = f"postgresql://app@db/x?sslpassword={SECRET}%21"
    message = f'could not decrypt "{SECRET}!" with the key\nfor {url}'
    scrubbed = scrub(message, url)
    assert SECRET not in scrubbed
    assert "\n" not in scrubbed


@pytest.mark.parametrize("char", ["\n", "\x1b", "\u202e", "\u2066"])
def test_fails_if_a_masked_url_spans_lines_or_hides_its_direction(char: str) -> None:
    shown = mask_url(f"postgresql://app@db{char}evil/x")
    assert char not in shown
    assert shown == "postgresql://app@db" + char.encode("unicode_escape").decode("ascii") + "evil/x"


def test_tenancy_urls_use_the_one_masking_function() -> None:
    assert urls.mask is mask_url
    assert urls.scrub is scrub


def test_the_documented_url_form_stays_readable_in_messages() -> None:
    """Help and error texts show `USER[:PASSWORD]@`: a placeholder, not a credential (the CLI's safety
    net masked it into `USER[:***@`); a real password beside the placeholder user is still masked."""
    from qualisys_infra.core.masking import mask_text

    advice = "expected postgresql://USER[:PASSWORD]@HOST:PORT/DB"
    assert mask_text(advice, pairs=False) == advice
    assert "hunter2" not in mask_text("postgresql://USER:hunter2@db/x", pairs=False)


@pytest.mark.parametrize("name", ["pw", "jwt", "sid", "session", "cred", "x-custom", "PW", "p%77"])
def test_fails_if_a_url_parameter_not_known_to_be_safe_is_shown(name: str) -> None:
    """Inside a URL every parameter is masked unless it is a known option (the hostile review's
    `?pw=Sup3rSecret` was shown: `pw` holds none of the secret words)."""
    from qualisys_infra.core.masking import mask_text, mask_url

    url = f"postgresql://h/db?sslmode=require&{name}=Sup3rSecret#frag={name}"
    assert "Sup3rSecret" not in mask_url(url)
    assert "Sup3rSecret" not in mask_text(f"error: --database-url: got {url}", pairs=False)
    assert "sslmode=require" in mask_url(url)


def test_known_url_options_stay_readable() -> None:
    from qualisys_infra.core.masking import mask_url

    shown = "postgresql://app@db:5432/x?sslmode=verify-full&connect_timeout=5&application_name=qualisys"
    assert mask_url(shown) == shown
