"""``qualisys-infra charts`` against chart repositories served on 127.0.0.1 (pytest-httpserver)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from modules.platform.charts import AUTOSCALER_RELEASES, CHARTS, Chart, every_pin
from qualisys_infra.commands.charts import add_commands, run
from qualisys_infra.commands.context import Context
from qualisys_infra.delivery.charts import MIRROR_HINT, ChartIndexError, Row, compare, index_url_via, render

CONTEXT = Context(project=Path.cwd(), environ={})  # charts reads neither the project nor the environment


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="qualisys-infra")
    add_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(["charts", *argv])


def _index(charts: Mapping[str, list[tuple[str, str]]]) -> str:
    """An index.yaml with ``chart: [(version, appVersion), ...]``."""
    entries = {
        chart: [{"name": chart, "version": v, "appVersion": a, "urls": [f"{chart}-{v}.tgz"]} for v, a in versions]
        for chart, versions in charts.items()
    }
    text: str = yaml.safe_dump({"apiVersion": "v1", "entries": entries})
    return text


def _serve_every_repository(httpserver: HTTPServer, *, newer: Mapping[str, str] = {}) -> None:
    """Serve the index of every pinned repository at the mirror path, each pin being the newest
    release of its chart unless ``newer`` names a newer version for it."""
    by_repository: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for chart in every_pin().values():
        versions = by_repository.setdefault(chart.repository, {}).setdefault(chart.chart, [])
        versions.append((chart.version, chart.app_version))
        versions.append(("0.0.1", chart.app_version))
    for chart_name, version in newer.items():
        chart = CHARTS[chart_name]
        by_repository[chart.repository][chart.chart].append((version, chart.app_version))
    url = index_url_via("")
    for repository, charts in by_repository.items():
        path = url(repository)  # "/<host>/<path>/index.yaml" for an empty mirror prefix
        httpserver.expect_request(path).respond_with_data(_index(charts), content_type="application/x-yaml")


def test_every_pin_is_up_to_date_when_the_repositories_have_nothing_newer(
    httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve_every_repository(httpserver)
    assert run(_args("--mirror", httpserver.url_for("/"), "--fail-on-outdated"), CONTEXT) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["chart", "pinned", "latest", "repository"]
    assert len(lines) == 1 + len(every_pin()) + 1
    assert "*" not in out
    assert lines[-1] == f"0 of {len(every_pin())} pinned charts behind their repository"
    for chart in CHARTS.values():
        assert any(line.split()[1:] == [chart.version, chart.version, chart.repository] for line in lines)


def test_a_chart_behind_is_marked_and_fails_only_with_fail_on_outdated(
    httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve_every_repository(httpserver, newer={"metrics-server": "99.0.0"})
    assert run(_args("--mirror", httpserver.url_for("/")), CONTEXT) == 0
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.startswith("metrics-server")]
    assert row.split() == [
        "metrics-server",
        "*",
        CHARTS["metrics-server"].version,
        "99.0.0",
        CHARTS["metrics-server"].repository,
    ]
    assert out.splitlines()[-1].startswith("1 of ")
    assert run(_args("--mirror", httpserver.url_for("/"), "--fail-on-outdated"), CONTEXT) == 1


def test_pre_releases_and_other_minors_of_the_autoscaler_are_not_offered(httpserver: HTTPServer) -> None:
    pin = AUTOSCALER_RELEASES["1.33"].chart
    httpserver.expect_request("/autoscaler/index.yaml").respond_with_data(
        _index(
            {
                "cluster-autoscaler": [
                    (pin.version, pin.app_version),
                    ("9.51.1-rc.1", "1.33.7"),  # a pre-release of the same line
                    ("9.52.0", "1.34.1"),  # the next Kubernetes minor
                    ("9.59.0", "1.35.0"),
                ]
            }
        )
    )
    pins = {"autoscaler 1.33": Chart(**{**_fields(pin), "repository": httpserver.url_for("/autoscaler")})}
    (row,) = compare(pins, index_url=index_url_via(None), timeout_seconds=5)
    assert (row.latest, row.behind) == (pin.version, False)
    unconstrained = {
        "any": Chart(**{**_fields(pin), "same_app_minor": False, "repository": pins["autoscaler 1.33"].repository})
    }
    (row,) = compare(unconstrained, index_url=index_url_via(None), timeout_seconds=5)
    assert (row.latest, row.behind) == ("9.59.0", True)


def test_versions_compare_as_numbers_not_text() -> None:
    assert Row(name="x", pinned="9.9.0", latest="9.10.0", repository="r").behind
    assert not Row(name="x", pinned="10.0.0", latest="9.99.99", repository="r").behind
    assert "x *" in render([Row(name="x", pinned="1.0.0", latest="1.0.1", repository="r")])


def test_mirror_keeps_the_repository_host_and_path() -> None:
    via = index_url_via("http://127.0.0.1:8080/mirror/")
    assert via("https://aws.github.io/eks-charts") == "http://127.0.0.1:8080/mirror/aws.github.io/eks-charts/index.yaml"
    assert via("https://kubernetes-sigs.github.io/metrics-server/") == (
        "http://127.0.0.1:8080/mirror/kubernetes-sigs.github.io/metrics-server/index.yaml"
    )
    assert index_url_via(None)("https://kubernetes-sigs.github.io/metrics-server/") == (
        "https://kubernetes-sigs.github.io/metrics-server/index.yaml"
    )


def _fields(chart: Chart) -> dict[str, Any]:
    return {f: getattr(chart, f) for f in Chart.__dataclass_fields__}


def _one_pin(httpserver: HTTPServer) -> dict[str, Chart]:
    return {"metrics-server": Chart(**{**_fields(CHARTS["metrics-server"]), "repository": httpserver.url_for("/repo")})}


def _error(httpserver: HTTPServer, *, timeout_seconds: float = 5) -> str:
    with pytest.raises(ChartIndexError) as info:
        compare(_one_pin(httpserver), index_url=index_url_via(None), timeout_seconds=timeout_seconds)
    assert info.value.exit_code == 2
    (line,) = info.value.lines()  # one line, for `error: ...`
    return line


def test_fails_if_the_index_is_not_found(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/repo/index.yaml").respond_with_data("no such file", status=404)
    assert _error(httpserver) == f"{httpserver.url_for('/repo/index.yaml')}: HTTP 404 NOT FOUND"


def test_fails_if_the_index_is_not_yaml(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/repo/index.yaml").respond_with_data("entries: {metrics-server: [\n  - : :\n\t}")
    assert ": not YAML (" in _error(httpserver)


def test_fails_if_the_yaml_is_not_a_repository_index(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/repo/index.yaml").respond_with_data("- just\n- a list\n")
    assert _error(httpserver).endswith(": not a Helm repository index (no `entries` map)")


def test_fails_if_the_index_lacks_the_chart(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/repo/index.yaml").respond_with_data(_index({"other": [("1.0.0", "1.0.0")]}))
    assert _error(httpserver).endswith(": has no chart 'metrics-server'")


def test_fails_if_the_repository_does_not_answer_in_time(httpserver: HTTPServer) -> None:
    def slow(_request: Request) -> Response:
        time.sleep(1.0)
        return Response(_index({"metrics-server": [("3.13.1", "0.8.1")]}))

    httpserver.expect_request("/repo/index.yaml").respond_with_handler(slow)
    assert _error(httpserver, timeout_seconds=0.2).endswith(": no answer within 0.2 s")


def test_fails_if_nothing_listens() -> None:
    pins = {"x": Chart(repository="http://127.0.0.1:9/repo", chart="x", version="1.0.0", app_version="1.0.0")}
    with pytest.raises(
        ChartIndexError,
        match=r"^http://127\.0\.0\.1:9/repo/index\.yaml: cannot be fetched \(Failed to establish a new connection: "
        r".*\); without network, pass --mirror URL \(a mirror serving URL/<host>/<path>/index\.yaml\)$",
    ):
        compare(pins, index_url=index_url_via(None), timeout_seconds=2)


def test_without_network_every_repository_is_named_with_the_way_past_it() -> None:
    """`charts` without network named only the first repository and did not mention --mirror."""
    pins = {
        name: Chart(repository=f"http://127.0.0.1:9/{name}", chart=name, version="1.0.0", app_version="1.0.0")
        for name in ("one", "two", "three")
    }
    with pytest.raises(ChartIndexError) as info:
        compare(pins, index_url=index_url_via(None), timeout_seconds=2)
    (line,) = info.value.lines()
    assert line.startswith(
        "3 of 3 chart repositories cannot be reached (http://127.0.0.1:9/one/index.yaml, "
        "http://127.0.0.1:9/two/index.yaml, http://127.0.0.1:9/three/index.yaml); the first cannot be fetched ("
    )
    assert line.endswith("; " + MIRROR_HINT) and info.value.exit_code == 2


def test_a_repository_that_answers_wrongly_is_not_a_network_problem(httpserver: HTTPServer) -> None:
    """Several failures are all named; --mirror is suggested only when a repository was unreachable."""
    pins = {
        name: Chart(repository=httpserver.url_for(f"/{name}"), chart=name, version="1.0.0", app_version="1.0.0")
        for name in ("one", "two")
    }
    with pytest.raises(ChartIndexError) as info:
        compare(pins, index_url=index_url_via(None), timeout_seconds=2)
    (line,) = info.value.lines()
    assert line.startswith("2 of 2 chart repositories failed: ") and line.count("HTTP 500") == 2
    assert "--mirror" not in line


def test_the_command_fails_with_exit_2_and_one_line(httpserver: HTTPServer) -> None:
    """What the CLI's dispatcher does with the error: ``error: <line>`` and the error's exit code."""
    with pytest.raises(ChartIndexError) as info:
        run(_args("--mirror", httpserver.url_for("/nothing-here")), CONTEXT)
    assert info.value.exit_code == 2
    assert len(info.value.lines()) == 1 and "HTTP 500" in info.value.lines()[0]
