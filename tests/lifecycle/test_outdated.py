"""`qualisys-infra outdated`: one table of every pin that ages, from the repository's tables, offline
by default. A small project is laid out per test with one ageing pin planted in each table (a fixed
"today"), and each is reported; `--refresh` compares charts and actions with servers on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_httpserver import HTTPServer

from modules.platform.charts import CHARTS, every_pin
from qualisys_infra.commands.cli import main
from qualisys_infra.core.runtime import PROJECT_ROOT
from qualisys_infra.delivery import charts as cli_charts

TODAY = "2026-12-06"
CHECKOUT = "3d3c42e5aac5ba805825da76410c181273ba90b1"
TJ_BAD = "0e58ed8671d6b60d0890c21b07f8835ace038e67"
WORKFLOW = f"""name: ci
on: push
jobs:
  test:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@{CHECKOUT} # v7.0.1
      - uses: ./.github/actions/setup
"""
COMPOSE = """services:
  postgres:
    image: postgres:16-alpine3.24@sha256:{digest}
  redis:
    image: redis:7.4-bookworm@sha256:{digest}
""".replace("{digest}", "a" * 64)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT_ROOT / "environments", tmp_path / "environments")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(WORKFLOW, encoding="utf-8")
    (tmp_path / "compose.yaml").write_text(COMPOSE, encoding="utf-8")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "seed.Dockerfile").write_text(f"FROM python:3.13-slim-trixie@sha256:{'b' * 64}\n", "utf-8")
    (tmp_path / "package.json").write_text(json.dumps({"devDependencies": {"node": "24.11.0"}}), encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.13"\n', encoding="utf-8")
    return tmp_path


def _outdated(project: Path, capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, list[dict[str, str]]]:
    code = main(["--project-dir", str(project), "--quiet", "outdated", "--json", "--today", TODAY, *options])
    return code, json.loads(capsys.readouterr().out)


def _row(rows: list[dict[str, str]], kind: str, name: str) -> dict[str, str]:
    (row,) = [r for r in rows if r["kind"] == kind and r["name"] == name]
    return row


def test_a_current_project_has_nothing_past_its_end_of_life(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, rows = _outdated(project, capsys)
    assert code == 0
    assert {r["kind"] for r in rows} == {"kubernetes", "chart", "action", "image", "node", "python"}
    assert all(r["state"] in ("supported", "ending", "extended") for r in rows)
    assert _row(rows, "kubernetes", "EKS (dev)")["state"] == "supported"
    assert len([r for r in rows if r["kind"] == "chart"]) == len(every_pin())


def test_the_table_is_one_aligned_table_with_a_verdict(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--project-dir", str(project), "--quiet", "outdated", "--today", TODAY]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:6] == ["KIND", "NAME", "PINNED", "STATE", "UNTIL", "WHERE"]
    assert lines[-1].startswith("outdated: 0 past end of life, ")
    assert lines[-1].endswith(f"on {TODAY} (offline: the tables' dates; --refresh asks)")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_reports_a_kubernetes_minor_past_extended_support(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _replace(project / "environments" / "dev.tfvars", '"1.36"', '"1.33"')
    code, rows = _outdated(project, capsys, "--today", "2027-07-29")
    row = _row(rows, "kubernetes", "EKS (dev)")
    assert code == 1 and row["state"] == "ended" and row["pinned"] == "1.33"
    assert row["where"] == "environments/dev.tfvars"


def test_reports_a_kubernetes_minor_in_extended_support_as_ageing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _replace(project / "environments" / "dev.tfvars", '"1.36"', '"1.33"')
    code, rows = _outdated(project, capsys)
    row = _row(rows, "kubernetes", "EKS (dev)")
    assert code == 0 and row["state"] == "extended" and row["until"] == "2027-07-29"


def test_reports_a_known_compromised_action_commit(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workflow = project / ".github" / "workflows" / "ci.yml"
    workflow.write_text(WORKFLOW + f"      - uses: tj-actions/changed-files@{TJ_BAD} # v45.0.7\n", encoding="utf-8")
    code, rows = _outdated(project, capsys)
    row = _row(rows, "action", "tj-actions/changed-files")
    assert code == 1 and row["state"] == "ended"
    assert "known-compromised commit: CVE-2025-30066" in row["note"]
    assert row["where"] == ".github/workflows/ci.yml:9"


def test_reports_an_action_tag_behind_the_table(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _replace(project / ".github" / "workflows" / "ci.yml", "# v7.0.1", "# v6.0.0")
    code, rows = _outdated(project, capsys)
    row = _row(rows, "action", "actions/checkout")
    assert code == 0 and row["state"] == "ending" and "behind v7.0.1" in row["note"]


def test_reports_an_image_on_an_ended_distribution(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _replace(project / "compose.yaml", "redis:7.4-bookworm", "redis:7-alpine3.21")
    code, rows = _outdated(project, capsys)
    row = _row(rows, "image", "redis:7-alpine3.21")
    assert code == 1 and row["state"] == "ended" and row["until"] == "2026-11-01"
    assert row["where"] == "compose.yaml:5"


def test_reports_an_image_on_a_distribution_in_lts_only_as_ageing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, rows = _outdated(project, capsys)
    assert _row(rows, "image", "redis:7.4-bookworm")["state"] == "extended"


def test_reports_an_image_whose_base_it_cannot_tell(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _replace(project / "compose.yaml", "redis:7.4-bookworm", "redis:7")
    code, rows = _outdated(project, capsys)
    row = _row(rows, "image", "redis:7")
    assert code == 0 and row["state"] == "ending" and "base distribution unknown" in row["note"]


def test_reports_a_node_past_its_end_of_life(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _replace(project / "package.json", "24.11.0", "20.19.0")
    code, rows = _outdated(project, capsys)
    assert code == 1 and _row(rows, "node", "Node.js (jsii, cdktn-cli)")["state"] == "ended"


def test_reports_node_22_as_ending_within_its_window(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _replace(project / "package.json", "24.11.0", "22.23.3")
    code, rows = _outdated(project, capsys)
    row = _row(rows, "node", "Node.js (jsii, cdktn-cli)")
    assert code == 0 and row["state"] == "ending" and row["until"] == "2027-04-30"


def test_reports_a_python_past_its_end_of_life(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _replace(project / "dev" / "seed.Dockerfile", "python:3.13-slim-trixie", "python:3.10-slim-trixie")
    code, rows = _outdated(project, capsys)
    (row,) = [r for r in rows if r["kind"] == "python" and r["pinned"] == "3.10"]
    assert code == 1 and (row["state"], row["where"]) == ("ended", "dev/seed.Dockerfile:1")


def test_fails_if_today_is_not_a_date(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--project-dir", str(project), "outdated", "--today", "soon"]) == 2
    assert capsys.readouterr().err == "error: --today: got 'soon', expected a date YYYY-MM-DD\n"


def _serve_charts(httpserver: HTTPServer, newer: dict[str, str]) -> None:
    by_repository: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for chart in every_pin().values():
        entries = by_repository.setdefault(chart.repository, {}).setdefault(chart.chart, [])
        entries.append({"name": chart.chart, "version": chart.version, "appVersion": chart.app_version})
    for name, version in newer.items():
        chart = CHARTS[name]
        by_repository[chart.repository][chart.chart].append({"name": name, "version": version, "appVersion": "x"})
    url = cli_charts.index_url_via("")
    for repository, charts in by_repository.items():
        httpserver.expect_request(url(repository)).respond_with_data(
            yaml.safe_dump({"apiVersion": "v1", "entries": charts}), content_type="application/x-yaml"
        )


def test_refresh_reports_a_chart_behind_and_an_action_runtime_github_removed(
    project: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = project / ".github" / "workflows" / "ci.yml"
    sha = "c" * 40
    workflow.write_text(WORKFLOW + f"      - uses: example/old-node@{sha} # v1.2.0\n", encoding="utf-8")
    _serve_charts(httpserver, {"metrics-server": "3.14.0"})
    httpserver.expect_request("/api/repos/actions/checkout/releases/latest").respond_with_json({"tag_name": "v7.0.1"})
    httpserver.expect_request("/api/repos/example/old-node/releases/latest").respond_with_json({"tag_name": "v1.3.0"})
    httpserver.expect_request(f"/raw/example/old-node/{sha}/action.yml").respond_with_data(
        "name: old\nruns:\n  using: node20\n  main: index.js\n"
    )
    code, rows = _outdated(
        project,
        capsys,
        "--refresh",
        "--mirror",
        httpserver.url_for("/"),
        "--github-api",
        httpserver.url_for("/api"),
        "--github-raw",
        httpserver.url_for("/raw"),
    )
    assert code == 1
    chart = _row(rows, "chart", "metrics-server")
    assert chart["state"] == "ending" and chart["note"].startswith("behind 3.14.0")
    action = _row(rows, "action", "example/old-node")
    assert action["state"] == "ended" and "runs on node20, removed from GitHub's runners 2026-09-16" in action["note"]
    assert "behind v1.3.0 (GitHub's latest release)" in action["note"]
    assert _row(rows, "action", "actions/checkout")["state"] == "supported"


def test_fails_if_refresh_cannot_read_a_source(
    project: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve_charts(httpserver, {})
    httpserver.expect_request("/api/repos/actions/checkout/releases/latest").respond_with_data("no", status=503)
    code = main(
        [
            "--project-dir",
            str(project),
            "outdated",
            "--refresh",
            "--mirror",
            httpserver.url_for("/"),
            "--github-api",
            httpserver.url_for("/api"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert (
        err
        == f"error: {httpserver.url_for('/api')}/repos/actions/checkout/releases/latest: HTTP 503 SERVICE UNAVAILABLE\n"
    )
