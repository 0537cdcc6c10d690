"""The toolkit's one HTTP client (``qualisys_infra.core.http``) against real servers on 127.0.0.1:
pytest-httpserver (plain and TLS) for answers, :class:`~tests.trickle.TrickleServer` for servers
that answer too slowly on purpose. One test per way a server can misbehave."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from qualisys_infra.core.http import (
    MAX_REDIRECTS,
    Client,
    Failure,
    HttpError,
    expect,
    field,
    optional_field,
    shown_url,
)
from qualisys_infra.core.http import (
    Response as HttpResponse,
)
from tests.tls import Certificates, make_certificates
from tests.trickle import TrickleServer

DEADLINE = 0.6


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def _tls_server(certificates: Certificates) -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=certificates.server_context())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tls_server(_tls_server: HTTPServer) -> Iterator[HTTPServer]:
    _tls_server.clear()
    yield _tls_server
    _tls_server.clear()


def _fail(client: Client, url: str, method: str = "GET", **kwargs: object) -> HttpError:
    with pytest.raises(HttpError) as caught:
        client.request(method, url, **kwargs)  # type: ignore[arg-type]
    assert len(caught.value.lines()) == 1 and caught.value.exit_code == 2
    return caught.value


def _timed_fail(url: str, *, verify: bool | str = True) -> tuple[HttpError, float]:
    start = time.monotonic()
    with Client(timeout_seconds=DEADLINE, verify=verify) as client:
        error = _fail(client, url)
    return error, time.monotonic() - start


# -- the whole-request deadline ----------------------------------------------------------------


def test_fails_if_the_body_trickles_past_the_deadline() -> None:
    """One byte every 50 ms keeps every socket read well inside any per-read timeout."""
    with TrickleServer(head=b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n") as server:
        error, took = _timed_fail(server.url + "/index.yaml")
    assert error.kind is Failure.TIMEOUT
    assert str(error) == f"the answer was not complete within {DEADLINE:g} s"
    assert DEADLINE <= took < DEADLINE + 1


def test_fails_if_a_body_without_a_length_trickles_past_the_deadline() -> None:
    """The watchdog's shutdown ends such a body early; it must not pass for a complete answer."""
    with TrickleServer(head=b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n") as server:
        error, took = _timed_fail(server.url)
    assert error.kind is Failure.TIMEOUT
    assert took < DEADLINE + 1


def test_fails_if_the_headers_trickle_past_the_deadline() -> None:
    with TrickleServer(head=b"HTTP/1.1 200 OK\r\n", drip=b"X-Padding: a\r\n" * 1000) as server:
        error, took = _timed_fail(server.url)
    assert error.kind is Failure.TIMEOUT
    assert took < DEADLINE + 1


def test_fails_if_a_chunked_body_trickles_past_the_deadline() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    with TrickleServer(head=head, drip=b"1\r\na\r\n" * 10_000) as server:
        error, took = _timed_fail(server.url)
    assert error.kind is Failure.TIMEOUT
    assert took < DEADLINE + 1


def test_fails_if_nothing_is_answered_in_time() -> None:
    with TrickleServer(head=b"", drip=b"") as server:
        error, took = _timed_fail(server.url)
    assert str(error) == f"no answer within {DEADLINE:g} s"
    assert took < DEADLINE + 1


def test_fails_if_the_tls_handshake_never_completes() -> None:
    with TrickleServer(head=b"", drip=b"") as server:  # plain TCP: it never answers the ClientHello
        error, took = _timed_fail(server.url.replace("http://", "https://"))
    assert error.kind is Failure.TIMEOUT
    assert took < DEADLINE + 1


def test_fails_if_the_body_trickles_past_the_deadline_over_tls(certificates: Certificates) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    with TrickleServer(head=head, tls=certificates.server_context()) as server:
        error, took = _timed_fail(server.url, verify=str(certificates.ca))
    assert str(error) == f"the answer was not complete within {DEADLINE:g} s"
    assert took < DEADLINE + 1


def test_the_deadline_is_per_request(httpserver: HTTPServer) -> None:
    def slowish(_request: Request) -> Response:
        time.sleep(DEADLINE / 3)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/slowish").respond_with_handler(slowish)
    with Client(timeout_seconds=DEADLINE) as client:
        for _ in range(4):  # together longer than one deadline
            assert client.get(httpserver.url_for("/slowish")).json_object() == {}


# -- redirects ------------------------------------------------------------------------------------


def test_fails_if_a_redirect_leaves_https(
    tls_server: HTTPServer, httpserver: HTTPServer, certificates: Certificates
) -> None:
    httpserver.expect_request("/index.yaml").respond_with_data("entries: {}")
    target = httpserver.url_for("/index.yaml")
    tls_server.expect_request("/index.yaml").respond_with_data("", status=302, headers={"Location": target})
    with Client(timeout_seconds=5, verify=str(certificates.ca)) as client:
        error = _fail(client, tls_server.url_for("/index.yaml"))
    assert error.kind is Failure.REDIRECT
    assert str(error) == f"redirected to {target}, which leaves HTTPS (not followed)"
    assert httpserver.log == []  # nothing was sent in clear


def test_fails_if_a_redirect_leaves_the_origin(httpserver: HTTPServer) -> None:
    with HTTPServer(host="127.0.0.1", port=0) as other:
        other.expect_request("/steal").respond_with_data("{}")
        target = other.url_for("/steal")
        httpserver.expect_request("/api").respond_with_data("", status=307, headers={"Location": target})
        with Client(timeout_seconds=5, headers={"Authorization": "Bearer s3cret"}) as client:
            error = _fail(client, httpserver.url_for("/api"))
        assert other.log == []  # the token never reached the other origin
    assert str(error) == (
        f"redirected to {target}, another origin than http://{httpserver.host}:{httpserver.port} (not followed)"
    )
    assert "s3cret" not in str(error)


def test_a_redirect_on_the_same_origin_is_followed_with_the_headers(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new?page=2"})
    httpserver.expect_request("/new", headers={"Authorization": "Bearer t"}).respond_with_json({"ok": True})
    with Client(timeout_seconds=5, headers={"Authorization": "Bearer t"}) as client:
        answer = client.get(httpserver.url_for("/old"))
    assert answer.json_object() == {"ok": True}
    assert answer.url == httpserver.url_for("/new?page=2")


def test_fails_if_a_post_is_redirected(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/comments", method="POST").respond_with_data(
        "", status=307, headers={"Location": "/elsewhere"}
    )
    with Client(timeout_seconds=5) as client:
        error = _fail(client, httpserver.url_for("/comments"), "POST", json={"body": "x"})
    assert str(error) == f"answered 307 to a POST, redirecting to {httpserver.url_for('/elsewhere')} (not followed)"


def test_fails_if_redirects_never_end(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})
    with Client(timeout_seconds=5) as client:
        error = _fail(client, httpserver.url_for("/loop"))
    assert str(error) == f"more than {MAX_REDIRECTS} redirects, the last to {httpserver.url_for('/loop')}"


def test_a_client_that_does_not_follow_gets_the_redirect(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data("", status=302, headers={"Location": "https://elsewhere.test/"})
    with Client(timeout_seconds=5, follow_redirects=False) as client:
        answer = client.get(httpserver.url_for("/"))
    assert (answer.status, answer.headers["location"]) == (302, "https://elsewhere.test/")


# -- size -----------------------------------------------------------------------------------------


def test_fails_if_the_body_is_larger_than_the_cap(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data("x" * 5000)
    with Client(timeout_seconds=5, max_bytes=4096) as client:
        error = _fail(client, httpserver.url_for("/big"))
    assert error.kind is Failure.TOO_LARGE
    assert str(error) == "the answer is larger than 4,096 bytes (not read)"


def test_fails_if_a_body_without_a_length_grows_past_the_cap(httpserver: HTTPServer) -> None:
    def stream(_request: Request) -> Response:
        return Response(iter([b"x" * 1000] * 10_000))  # chunked, no Content-Length: counted as it arrives

    httpserver.expect_request("/stream").respond_with_handler(stream)
    with Client(timeout_seconds=5, max_bytes=64 * 1024) as client:
        error = _fail(client, httpserver.url_for("/stream"))
    assert error.kind is Failure.TOO_LARGE


def test_fails_if_a_compressed_body_inflates_past_the_cap(httpserver: HTTPServer) -> None:
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))  # 8 MiB of zeros in a few kB
    httpserver.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    with Client(timeout_seconds=5, max_bytes=1024 * 1024) as client:
        error = _fail(client, httpserver.url_for("/bomb"))
    assert len(bomb) < 1024 * 1024
    assert str(error) == "the answer is larger than 1 MiB (not read)"


# -- connection failures --------------------------------------------------------------------------


def test_fails_if_nothing_listens() -> None:
    with Client(timeout_seconds=5) as client:
        error = _fail(client, "http://127.0.0.1:9/")
    assert error.kind is Failure.CONNECT
    assert str(error) == "cannot connect (Failed to establish a new connection: [Errno 111] Connection refused)"


def test_fails_if_the_certificate_does_not_verify(tls_server: HTTPServer) -> None:
    tls_server.expect_request("/").respond_with_data("{}")
    with Client(timeout_seconds=5) as client:  # the public roots, which did not sign the test CA
        error = _fail(client, tls_server.url_for("/"))
    assert error.kind is Failure.TLS
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)


# -- shapes ---------------------------------------------------------------------------------------


def _answer(httpserver: HTTPServer, body: str | bytes) -> HttpResponse:
    httpserver.expect_request("/shape").respond_with_data(body, content_type="application/json")
    with Client(timeout_seconds=5) as client:
        return client.get(httpserver.url_for("/shape"))


def test_fails_if_the_body_is_not_json(httpserver: HTTPServer) -> None:
    answer = _answer(httpserver, "<html>login</html>")
    with pytest.raises(HttpError, match=r"^the answer is not JSON$") as caught:
        answer.json()
    assert caught.value.kind is Failure.SHAPE


def test_fails_if_the_body_is_not_utf8_json(httpserver: HTTPServer) -> None:
    answer = _answer(httpserver, b'{"a": "\xff"}')
    with pytest.raises(HttpError, match=r"^the answer is not JSON$"):
        answer.json()


def test_fails_if_the_json_nests_too_deeply(httpserver: HTTPServer) -> None:
    answer = _answer(httpserver, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(HttpError, match=r"^the answer is JSON nested too deeply to read$"):
        answer.json()


def test_fails_if_a_list_comes_instead_of_an_object(httpserver: HTTPServer) -> None:
    answer = _answer(httpserver, json.dumps([{"id": 1}]))
    with pytest.raises(HttpError, match=r"^the answer is a list, expected an object$"):
        answer.json_object()


def test_fails_if_an_object_comes_instead_of_a_list(httpserver: HTTPServer) -> None:
    answer = _answer(httpserver, json.dumps({"message": "Moved"}))
    with pytest.raises(HttpError, match=r"^the answer is an object, expected a list$"):
        answer.json_list()


def test_fails_if_a_key_is_missing() -> None:
    with pytest.raises(HttpError, match=r"^label 1 has no `name`$") as caught:
        field({"color": "red"}, "name", str, "label 1")
    assert caught.value.kind is Failure.SHAPE


@pytest.mark.parametrize(
    ("value", "expected", "kind"),
    [
        (True, int, "true or false"),  # JSON's true is not a number, though Python's bool is an int
        ("12", int, "a string"),
        (None, str, "null"),
        ([], dict, "a list"),
        (1.5, int, "a number"),
    ],
)
def test_fails_if_a_value_has_the_wrong_type(value: object, expected: type, kind: str) -> None:
    with pytest.raises(HttpError, match=rf"^`id` of comment 3 is {kind}, expected "):
        field({"id": value}, "id", expected, "comment 3")


def test_values_of_the_right_type_pass() -> None:
    assert field({"id": 7}, "id", int, "x") == 7
    assert expect(3, float, "x") == 3  # an integer is a number
    assert optional_field({"body": None}, "body", str, "x", "") == ""
    assert optional_field({}, "body", str, "x", "-") == "-"


def test_urls_in_messages_hide_passwords_and_secret_parameters() -> None:
    assert shown_url("https://user:pw@mirror.test/charts/index.yaml?token=abc&x=1") == (
        "https://user:***@mirror.test/charts/index.yaml?token=***&x=***"  # x: not a known option, masked
    )
    assert shown_url("https://tok@mirror.test/i") == "https://***@mirror.test/i"


def test_a_response_reads_the_link_header(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/page").respond_with_data(
        "[]", headers={"Link": '</page?page=2>; rel="next", <https://x.test/last>; rel="last"'}
    )
    with Client(timeout_seconds=5) as client:
        links = client.get(httpserver.url_for("/page")).links()
    assert links == {"next": httpserver.url_for("/page?page=2"), "last": "https://x.test/last"}


def test_fails_if_the_timeout_is_not_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Client(timeout_seconds=0)


def test_a_reason_phrase_is_one_line_with_control_characters_escaped() -> None:
    head = b"HTTP/1.1 500 Broken\x1b[2J\x07 \xe2\x80\xaeTAE\r\nContent-Length: 0\r\n\r\n"
    with TrickleServer(head=head, drip=b"") as server, Client(timeout_seconds=5) as client:
        answer = client.get(server.url)
    assert answer.status == 500
    assert answer.reason.isprintable() and "\\x1b" in answer.reason and "\\x07" in answer.reason
