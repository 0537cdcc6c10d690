"""``qualisys-infra report``: exit codes, the files it writes, the job summary, and the sticky comment
against a real HTTP server on 127.0.0.1 that answers like GitHub's REST API (tests/fake_github.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from qualisys_infra.delivery.report import ReportData, parse_report_data
from tests.fake_github import BOT, PR, REPO, TOKEN, FakeGitHub, serve
from tests.report.conftest import Command, Shards, command_runner

MARK = "<!-- qualisys-report:tests"


@pytest.fixture
def github(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    return serve(httpserver, monkeypatch)


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Command:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return command_runner("report", capsys)


def inputs(shards: Shards, *extra: str | Path) -> list[str | Path]:
    return ["--key", "tests", "--title", "Infrastructure tests", "--junit", *shards.junit,
            "--coverage", *shards.coverage, *extra]  # fmt: skip


def _error(code: int, err: str) -> str:
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    assert TOKEN not in err
    return lines[0]


def test_failed_tests_exit_1_and_every_file_is_written(report: Command, shards: Shards, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, err = report(
        *inputs(shards, "--markdown", out / "report.md", "--html", out / "report.html"),
        "--merged-coverage", out / "coverage.xml",
    )  # fmt: skip
    assert (code, err) == (1, "")
    assert stdout == (
        "report: tests: failed (3 failed tests and 2 errors): 7 passed, 3 failed, 2 errors, 2 skipped of 14; "
        "coverage 81.25 %\n"
    )
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert parse_report_data(markdown) == ReportData(7, 3, 2, 2, 81.25, None)
    assert "<title>Infrastructure tests: failed</title>" in (out / "report.html").read_text(encoding="utf-8")
    assert 'lines-covered="10"' in (out / "coverage.xml").read_text(encoding="utf-8")


def test_passing_tests_exit_0_and_the_minimum_coverage_decides(report: Command, shards: Shards) -> None:
    passing = ["--key", "unit", "--title", "Unit", "--junit", shards.junit[0], "--coverage", *shards.coverage]
    code, stdout, _ = report(*passing, "--min-coverage", "81.25")
    assert code == 0 and stdout.startswith("report: unit: passed: 4 passed, 0 failed, 0 errors, 0 skipped of 4;")
    code, stdout, _ = report(*passing, "--min-coverage", "81.26")
    assert code == 1 and "coverage 81.25 % is below the minimum 81.26 %" in stdout
    code, _, _ = report(*passing, "--shards", "2")
    assert code == 1, "a shard that sent nothing is an error"


def test_json_on_standard_output(report: Command, shards: Shards, baseline_a: Path) -> None:
    code, stdout, _ = report(*inputs(shards, "--baseline-coverage", baseline_a, "--json"))
    assert code == 1
    data: dict[str, Any] = json.loads(stdout)
    assert data["verdict"] == "failed"
    assert {k: data["tests"][k] for k in ("passed", "failed", "errors", "skipped", "total")} == {
        "passed": 7, "failed": 3, "errors": 2, "skipped": 2, "total": 14,
    }  # fmt: skip
    assert data["coverage"]["percent"] == 81.25 and data["coverage"]["baseline"] == 50.0
    assert data["coverage"]["delta"] == 31.25 and data["coverage_dropped"] == []
    assert len(data["failures"]) == 5 and data["slowest"][0]["test"] == "tests.test_b::test_slow"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--junit", "nowhere.xml"], "error: --junit: nowhere.xml: no such file"),
        (["--key", "a b"], "error: --key: 'a b': letters, digits"),
        (["--min-coverage", "101"], "error: --min-coverage: got 101, expected a percentage from 0 to 100"),
        (["--shards", "0"], "error: --shards: 0 is not a number of shards"),
        (["--summary"], "error: --summary: $GITHUB_STEP_SUMMARY is not set"),
        (["--baseline-coverage", "main.xml"], "error: --baseline-coverage: main.xml: no such file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(report: Command, shards: Shards, argv: list[str], expected: str) -> None:
    line = _error(*report(*inputs(shards), *argv)[::2])
    assert line.startswith(expected), line


def test_a_corrupt_shard_file_names_the_file(report: Command, shards: Shards, tmp_path: Path) -> None:
    broken = tmp_path / "coverage-3.xml"
    broken.write_bytes(shards.coverage[0].read_bytes()[:-40])
    line = _error(*report(*inputs(shards, broken))[::2])
    assert line.startswith(f"error: --coverage: {broken}: not XML: ")


def test_fails_if_a_junit_file_is_not_utf8_and_declares_no_encoding(
    report: Command, shards: Shards, tmp_path: Path
) -> None:
    latin = tmp_path / "junit-latin.xml"
    latin.write_bytes(b'<testsuites>\n<testsuite name="caf\xe9"><testcase name="a" time="1"/></testsuite></testsuites>')
    line = _error(*report("--key", "t", "--title", "T", "--junit", latin, "--coverage", *shards.coverage)[::2])
    assert line == f"error: --junit: {latin}:2: not UTF-8 text (byte 0xe9 at column 21); save the file as UTF-8"


def test_a_junit_file_that_declares_its_encoding_is_read(report: Command, shards: Shards, tmp_path: Path) -> None:
    latin = tmp_path / "junit-latin.xml"
    latin.write_bytes(
        b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<testsuites><testsuite name="caf\xe9" time="1">'
        b'<testcase name="caf\xe9" time="1"/></testsuite></testsuites>'
    )
    code, stdout, err = report("--key", "t", "--title", "T", "--junit", latin, "--coverage", *shards.coverage, "--json")
    assert (code, err) == (0, "")
    assert json.loads(stdout)["tests"]["passed"] == 1


def _outputs(out: Path) -> dict[str, Path]:
    return {"--html": out / "report.html", "--markdown": out / "report.md", "--merged-coverage": out / "coverage.xml"}


@pytest.mark.parametrize("blocked", ["--html", "--markdown", "--merged-coverage"])
def test_fails_if_one_output_cannot_be_written_and_then_none_is_written(
    report: Command, shards: Shards, tmp_path: Path, blocked: str
) -> None:
    """`--html a.html --markdown /unwritable/x.md` once left a.html written: every output or none."""
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    targets = {**_outputs(out), blocked: tmp_path / "a-file" / "x"}
    code, stdout, err = report(*inputs(shards), *(a for option, path in targets.items() for a in (option, path)))
    line = _error(code, err)
    assert line.startswith(f"error: {blocked}: {tmp_path / 'a-file'}") and line.endswith("; nothing was written")
    assert stdout == ""
    assert sorted(p.name for p in out.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "out"]


def test_fails_if_an_output_is_a_folder_and_the_earlier_outputs_are_kept(
    report: Command, shards: Shards, tmp_path: Path
) -> None:
    """Replacing outputs of an earlier run: one that cannot be replaced leaves every old file as it was."""
    out = tmp_path / "out"
    out.mkdir()
    targets = _outputs(out)
    for path in targets.values():
        path.write_text("the earlier run's", encoding="utf-8")
    targets["--merged-coverage"].unlink()
    targets["--merged-coverage"].mkdir()
    code, _, err = report(*inputs(shards), *(a for option, path in targets.items() for a in (option, path)))
    assert _error(code, err).startswith(f"error: --merged-coverage: {targets['--merged-coverage']}: cannot be written")
    assert {p.name: p.read_text(encoding="utf-8") for p in out.iterdir() if p.is_file()} == {
        "report.html": "the earlier run's",
        "report.md": "the earlier run's",
    }
    assert sorted(p.name for p in out.iterdir()) == ["coverage.xml", "report.html", "report.md"]


def test_fails_if_two_outputs_name_one_file(report: Command, shards: Shards, tmp_path: Path) -> None:
    same = tmp_path / "report"
    line = _error(*report(*inputs(shards), "--html", same, "--markdown", same)[::2])
    assert line == f"error: --markdown: {same} is also the --html output; give each its own file"
    assert not same.exists()


def test_fails_if_an_output_cannot_be_written_from_the_command_line(shards: Shards, tmp_path: Path) -> None:
    """The issue's reproduction as a process: exit 2, one line, no traceback, and no a.html."""
    (tmp_path / "unwritable").write_text("a file where a folder is expected", encoding="utf-8")
    argv = [str(a) for a in inputs(shards, "--html", "a.html", "--markdown", "unwritable/x.md")]
    done = subprocess.run(
        [sys.executable, "-m", "qualisys_infra", "report", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"},
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("error: --markdown: unwritable/x.md: cannot be written: ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unwritable"]


def test_the_job_summary_gets_the_full_report_within_its_1_mib(
    report: Command, shards: Shards, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, stdout, _ = report(*inputs(shards, "--summary"))
    assert code == 1 and stdout.rstrip().endswith("; job summary: the full report")
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n") and "## ❌ Infrastructure tests: failed" in text

    summary.write_text("x" * (1024 * 1024 - 200), encoding="utf-8")  # room for less than the report
    code, stdout, _ = report(*inputs(shards, "--summary"))
    assert code == 1 and "job summary: nothing (the step summary is full)" in stdout
    assert summary.stat().st_size == 1024 * 1024 - 200


def test_post_creates_one_comment_then_updates_it_in_place(
    github: FakeGitHub,
    report: Command,
    shards: Shards,
    baseline_a: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    github.seed("alice", f"{MARK} -->\nquoted by a person: not ours")
    github.seed(BOT, "<!-- qualisys-infra:review env=dev -->\nthe plan review")
    code, stdout, err = report(*inputs(shards, "--post", "--pr", str(PR)))
    assert (code, err) == (1, "")
    [ours] = github.marked(MARK)
    assert ours["body"].startswith(f"{MARK} -->\n<!-- qualisys-report-data ")
    assert parse_report_data(ours["body"]) == ReportData(7, 3, 2, 2, 81.25, None)
    assert f"{REPO}#{PR}: comments as {BOT} 1 created" in stdout

    # the next push: same key, better coverage against main, and a link to the job summary
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    github.log.clear()
    code, stdout, _ = report(*inputs(shards, "--post", "--pr", str(PR), "--summary", "--baseline-coverage", baseline_a))
    assert code == 1 and "1 updated" in stdout
    [again] = github.marked(MARK)
    assert again["id"] == ours["id"] and "▲ +31.25 against main" in again["body"]
    assert f"[the job summary](https://github.com/{REPO}/actions/runs/42)" in again["body"]
    assert github.calls("PATCH") == [f"/repos/{REPO}/issues/comments/{ours['id']}"] and not github.calls("POST")
    assert len(github.comments) == 3, "the person's comment and the plan review are left alone"

    github.log.clear()
    code, stdout, _ = report(*inputs(shards, "--post", "--pr", str(PR), "--summary", "--baseline-coverage", baseline_a))
    assert "1 unchanged" in stdout and not github.calls("PATCH") and not github.calls("POST")


def test_another_key_is_another_comment(github: FakeGitHub, report: Command, shards: Shards) -> None:
    assert report(*inputs(shards, "--post", "--pr", str(PR)))[0] == 1
    code, _, _ = report("--key", "unit", "--title", "Unit", "--junit", shards.junit[0], "--coverage",
                        shards.coverage[0], "--post", "--pr", str(PR))  # fmt: skip
    assert code == 0
    assert len(github.marked(MARK)) == 1 and len(github.marked("<!-- qualisys-report:unit -->")) == 1


def test_a_report_longer_than_a_comment_is_posted_in_parts_and_they_shrink_back(
    github: FakeGitHub, report: Command, shards: Shards, tmp_path: Path
) -> None:
    many = tmp_path / "junit-many.xml"
    cases = "".join(
        f'<testcase classname="tests.test_many" name="test_{n:04d}" time="0.01">'
        f'<failure message="AssertionError: {"x" * 150} {n}">trace</failure></testcase>'
        for n in range(800)
    )
    many.write_text(f'<testsuites><testsuite name="pytest" time="8">{cases}</testsuite></testsuites>', "utf-8")
    github.page_size = 100
    code, stdout, _ = report("--key", "tests", "--title", "Many", "--junit", many, "--coverage", *shards.coverage,
                             "--post", "--pr", str(PR))  # fmt: skip
    assert code == 1
    parts = sorted(github.marked(MARK), key=lambda c: c["id"])
    assert len(parts) >= 3 and f"{len(parts)} created" in stdout
    for number, part in enumerate(parts, 1):
        assert part["body"].startswith(f"{MARK} part={number} -->\n") and len(part["body"]) <= 65_536
    assert parse_report_data(parts[0]["body"]) == ReportData(0, 800, 0, 0, 81.25, None)

    code, stdout, _ = report(*inputs(shards, "--post", "--pr", str(PR)))
    assert code == 1 and f"1 updated, {len(parts) - 1} deleted" in stdout
    [only] = github.marked(MARK)
    assert only["id"] == parts[0]["id"] and only["body"].startswith(f"{MARK} -->\n")


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ((401, {}, {"message": "Bad credentials"}), "401 Unauthorized: the token in GITHUB_TOKEN was refused"),
        ((403, {}, {"message": "Resource not accessible by integration"}), "403 Forbidden"),
        ((404, {}, {"message": "Not Found"}), "404 Not Found"),
        ((403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "IN_10_MIN"}, {}), "rate limit exhausted"),
        ((429, {"retry-after": "30"}, {"message": "secondary"}), "secondary rate limit; retry after 30 s"),
    ],
)
def test_github_refusing_is_one_line_and_exit_2(
    github: FakeGitHub,
    report: Command,
    shards: Shards,
    failure: tuple[int, dict[str, str], dict[str, Any]],
    expected: str,
    tmp_path: Path,
) -> None:
    status, headers, body = failure
    if headers.get("x-ratelimit-reset") == "IN_10_MIN":
        headers = {**headers, "x-ratelimit-reset": str(int(time.time()) + 600)}
    github.failure = (status, headers, body)
    html = tmp_path / "report.html"
    code, _, err = report(*inputs(shards, "--post", "--pr", str(PR), "--author", BOT, "--html", html))
    line = _error(code, err)
    assert expected in line and line.startswith(f"error: GitHub: GET /repos/{REPO}/issues/{PR}/comments: ")
    assert html.is_file(), "the artifact is written before posting"


@pytest.mark.parametrize(
    ("unset", "argv", "expected"),
    [
        ("GITHUB_TOKEN", ["--pr", "7"], "error: report: no token: $GITHUB_TOKEN is empty or not set"),
        ("GITHUB_REPOSITORY", ["--pr", "7"], "error: report: no repository"),
        (None, [], "error: report: no pull request number: pass --pr N"),
    ],
)
def test_post_without_token_repository_or_pull_request_sends_nothing(
    github: FakeGitHub,
    report: Command,
    shards: Shards,
    monkeypatch: pytest.MonkeyPatch,
    unset: str | None,
    argv: list[str],
    expected: str,
) -> None:
    if unset:
        monkeypatch.delenv(unset)
    line = _error(*report(*inputs(shards, "--post", *argv))[::2])
    assert line.startswith(expected) and github.log == []


def test_with_actions_token_the_pull_request_comes_from_the_event(
    github: FakeGitHub, report: Command, shards: Shards, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    github.viewer = None  # GET /user: 403, as for Actions' GITHUB_TOKEN
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": PR}}), encoding="utf-8")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, stdout, _ = report(*inputs(shards, "--post"))
    assert code == 1 and "comments as github-actions[bot] 1 created" in stdout
    assert len(github.marked(MARK)) == 1
