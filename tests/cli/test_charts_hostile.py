"""``qualisys-infra charts`` against hostile chart repositories on 127.0.0.1: every one ends in one
line ``error: ...`` and exit 2, within the deadline, never a traceback. Run through the CLI's
``main`` (in-process), as a user runs the command."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Response

from modules.platform.charts import every_pin
from qualisys_infra.commands.cli import main
from qualisys_infra.delivery import charts as cli_charts
from qualisys_infra.delivery.charts import index_url_via
from tests.tls import Certificates, make_certificates
from tests.trickle import TrickleServer
from tests.unit.test_safe_yaml import ALIAS_BOMB


def _charts(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, float]:
    start = time.monotonic()
    code = main(["charts", *argv])
    took = time.monotonic() - start
    _, err = capsys.readouterr()
    return code, err, took


def _one_error(code: int, err: str) -> str:
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    assert "Traceback" not in err
    return lines[0]


def _serve_every_index(server: HTTPServer, body: str | bytes | Response) -> None:
    """Every pinned repository's index at the mirror path, each answered with ``body``."""
    for repository in {chart.repository for chart in every_pin().values()}:
        handler = server.expect_request(index_url_via("")(repository))
        if isinstance(body, Response):
            handler.respond_with_response(body)
        else:
            handler.respond_with_data(body, content_type="application/x-yaml")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_mirror(certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> Iterator[HTTPServer]:
    """An HTTPS mirror whose CA the command trusts (through $REQUESTS_CA_BUNDLE, as a user's would be)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates.ca))
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=certificates.server_context())
    server.start()
    yield server
    server.stop()


def test_fails_if_the_index_is_an_alias_bomb(httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    """Under 900 bytes that PyYAML turned into a 70 s MemoryError traceback."""
    _serve_every_index(httpserver, ALIAS_BOMB)
    code, err, took = _charts(capsys, "--mirror", httpserver.url_for("/"))
    line = _one_error(code, err)
    assert line.endswith("/index.yaml: refused: line 2, column 8: uses the YAML alias *a (aliases are refused)")
    assert took < 5


def test_fails_if_the_index_nests_too_deeply(httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    _serve_every_index(httpserver, "entries: " + "[" * 100_000)
    line = _one_error(*_charts(capsys, "--mirror", httpserver.url_for("/"))[:2])
    assert line.endswith(": nested more than 64 levels deep")


def test_fails_if_the_mirror_redirects_from_https_to_http(
    tls_mirror: HTTPServer, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request("/plain/index.yaml").respond_with_data("entries: {}")
    target = httpserver.url_for("/plain/index.yaml")
    _serve_every_index(tls_mirror, Response("", status=301, headers={"Location": target}))
    line = _one_error(*_charts(capsys, "--mirror", tls_mirror.url_for("/"))[:2])
    assert line.endswith(f"/index.yaml: redirected to {target}, which leaves HTTPS (not followed)")
    assert httpserver.log == []


def test_fails_if_the_mirror_redirects_to_another_origin(
    httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    target = "http://127.0.0.2:9/index.yaml"
    _serve_every_index(httpserver, Response("", status=302, headers={"Location": target}))
    line = _one_error(*_charts(capsys, "--mirror", httpserver.url_for("/"))[:2])
    assert f"/index.yaml: redirected to {target}, another origin than http://" in line


def test_fails_if_the_mirror_trickles_past_the_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    """One byte every 50 ms kept `charts --timeout 3` running past 10 minutes."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-yaml\r\nContent-Length: 100000\r\n\r\n"
    with TrickleServer(head=head, drip=b"entries:\n" + b" " * 99_991) as server:
        code, err, took = _charts(capsys, "--mirror", server.url, "--timeout", "1")
    line = _one_error(code, err)
    assert line.endswith("/index.yaml: the answer was not complete within 1 s")
    assert took < 3


def test_fails_if_the_index_is_larger_than_the_cap(
    httpserver: HTTPServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_charts, "MAX_INDEX_BYTES", 64 * 1024)
    _serve_every_index(httpserver, "entries: {}\n" + "#" * (65 * 1024))
    line = _one_error(*_charts(capsys, "--mirror", httpserver.url_for("/"))[:2])
    assert line.endswith("/index.yaml: the answer is larger than 65,536 bytes (not read)")


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"name": "x", "appVersion": "1.0"}], "`version` is null, expected a string"),  # a missing key
        ([{"version": 3.13}], "`version` is a number, expected a string"),  # a wrong type
        (["3.13.1"], "is a string, expected a mapping"),  # a list item that is not a mapping
    ],
    ids=["missing-version", "version-not-a-string", "entry-not-a-mapping"],
)
def test_fails_if_a_chart_entry_has_the_wrong_shape(
    httpserver: HTTPServer, capsys: pytest.CaptureFixture[str], entries: list[object], message: str
) -> None:
    charts = {chart.chart: copy.deepcopy(entries) for chart in every_pin().values()}  # no YAML anchors
    _serve_every_index(httpserver, yaml.safe_dump({"apiVersion": "v1", "entries": charts}))
    line = _one_error(*_charts(capsys, "--mirror", httpserver.url_for("/"))[:2])
    assert ": entry 1 of '" in line and line.endswith(message)


def test_fails_if_the_entries_are_a_list(httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    _serve_every_index(httpserver, "entries: [a, b]\n")
    line = _one_error(*_charts(capsys, "--mirror", httpserver.url_for("/"))[:2])
    assert line.endswith("/index.yaml: not a Helm repository index (no `entries` map)")


def test_fails_if_the_index_is_not_yaml(httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    _serve_every_index(httpserver, b"\xff\xfe\x00garbage: [")
    line = _one_error(*_charts(capsys, "--mirror", httpserver.url_for("/"))[:2])
    assert "/index.yaml: not YAML (" in line


def test_a_password_in_the_mirror_url_is_not_shown(capsys: pytest.CaptureFixture[str]) -> None:
    line = _one_error(*_charts(capsys, "--mirror", "http://reader:s3cret@127.0.0.1:9/m", "--timeout", "2")[:2])
    assert "s3cret" not in line and "reader:***@127.0.0.1:9" in line
