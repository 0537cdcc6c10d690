"""``qualisys-infra comment`` against a real HTTP server on 127.0.0.1 that answers like GitHub's REST API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from qualisys_infra.commands.cli import main
from tests.fake_github import BOT, PR, REPO, TOKEN, FakeGitHub, serve
from tests.plan.conftest import FIXTURES
from tests.trickle import TrickleServer

UPDATE = FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-update.json"
DESTROY = FIXTURES / "snyk_cli__test__fixtures__iac__terraform-plan__tf-plan-destroy.json"  # blocks (G001)
MARK = "<!-- qualisys-infra:review env=dev -->"


@pytest.fixture
def github(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    return serve(httpserver, monkeypatch)


def comment(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The command as `qualisys-infra` runs it: a ToolkitError becomes `error: ...` lines and its exit code
    (cli.main); any other exception escapes and fails the test."""
    code = main(["comment", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_first_run_creates_the_comment_and_the_second_updates_it_in_place(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = comment(capsys, str(UPDATE), "--env", "dev", "--pr", str(PR))
    assert (code, err) == (0, "")
    [ours] = github.ours()
    assert ours["body"].startswith(MARK + "\n") and "Terraform plan review: `dev`" in ours["body"]
    assert github.labels == ["dev: plan changes"]
    assert "1 created" in out

    code, out, err = comment(capsys, str(DESTROY), "--env", "dev", "--pr", str(PR))
    assert code == 1, "a blocking finding exits 1, as `review` does; the comment is posted all the same"
    assert err == "" and "blocking guardrail finding" in out
    [again] = github.ours()
    assert again["id"] == ours["id"] and "8 to destroy" in again["body"]
    assert github.calls("PATCH") == [f"/repos/{REPO}/issues/comments/{ours['id']}"]
    assert github.calls("POST").count(f"/repos/{REPO}/issues/{PR}/comments") == 1, "posted once, in the first run"
    assert sorted(github.labels) == ["dev: plan blocked", "dev: plan destroy"]

    github.log.clear()
    code, out, _ = comment(capsys, str(DESTROY), "--env", "dev", "--pr", str(PR))
    assert code == 1 and "1 unchanged" in out and "labels unchanged" in out
    assert github.calls("PATCH") == [] and github.calls("POST") == [] and github.calls("DELETE") == []
    assert len(github.ours()) == 1


def test_comment_listing_follows_every_page_and_never_posts_twice(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in range(5):
        github.seed("alice", f"looks good {n}")
    assert comment(capsys, str(UPDATE), "--env", "dev", "--pr", str(PR))[0] == 0
    for n in range(4):
        github.seed("bob", f"another remark {n}")  # ours is now on page 3 of 5
    github.log.clear()
    assert (
        comment(capsys, str(DESTROY), "--env", "dev", "--pr", str(PR), "--allow-destroy", "aws_s3_bucket.terra_ci")[0]
        == 0
    )
    listing = [args for method, path, args in github.log if method == "GET" and path.endswith("/comments")]
    assert [a.get("page", "1") for a in listing] == ["1", "2", "3", "4", "5"]
    assert all(a["per_page"] == "100" for a in listing)
    assert len(github.ours()) == 1 and github.calls("PATCH")


def test_a_comment_by_someone_else_with_the_same_marker_is_left_alone(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    copied = github.seed("mallory", f"{MARK}\n## Terraform plan review: `dev`\nquoted by a person")
    staging = github.seed(BOT, "<!-- qualisys-infra:review env=staging -->\nthe staging review")
    quoted = github.seed(BOT, f"> {MARK}\nnot a marker: not on the first line")
    code, _, err = comment(capsys, str(UPDATE), "--env", "dev", "--pr", str(PR))
    assert (code, err) == (0, "")
    assert github.comments[copied]["body"].endswith("quoted by a person")
    assert github.comments[staging]["body"] == "<!-- qualisys-infra:review env=staging -->\nthe staging review"
    assert quoted in github.comments and not github.calls("PATCH") and not github.calls("DELETE")
    assert len(github.ours()) == 1 and len(github.ours("staging")) == 1


def test_with_actions_token_the_author_is_github_actions_bot(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    github.viewer = None  # GET /user: 403 "Resource not accessible by integration"
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "pull_request": {"number": PR}}), encoding="utf-8")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, out, err = comment(capsys, str(UPDATE), "--env", "dev")
    assert (code, err) == (0, "") and "as github-actions[bot]" in out
    code, out, _ = comment(capsys, str(DESTROY), "--env", "dev")
    assert code == 1 and len(github.ours()) == 1 and "1 updated" in out


def test_an_oversized_review_is_split_and_the_extra_parts_are_deleted_when_it_shrinks(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks.plans import big_plan

    big = tmp_path / "dev-big.json"
    big.write_text(json.dumps(big_plan(12_000, attributes=1)), encoding="utf-8")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, err = comment(capsys, str(big), "--env", "dev", "--pr", str(PR))
    assert (code, err) == (0, "")
    parts = sorted(github.ours(), key=lambda c: c["id"])
    assert len(parts) > 1
    for number, part in enumerate(parts, 1):
        assert len(part["body"]) <= 65_536
        assert part["body"].startswith(f"<!-- qualisys-infra:review env=dev part={number} -->\n")
        assert f"part {number} of {len(parts)}" in part["body"]
    assert github.labels == ["dev: plan destroy"]
    written = summary.read_text(encoding="utf-8")
    assert summary.stat().st_size <= 1024 * 1024
    assert "does not fit the job summary's 1 MiB" in written and "job summary: the first comment" in out

    first = parts[0]["id"]
    code, out, _ = comment(capsys, str(UPDATE), "--env", "dev", "--pr", str(PR))
    assert code == 0 and f"{len(parts) - 1} deleted" in out
    [only] = github.ours()
    assert only["id"] == first and only["body"].startswith(MARK + "\n") and "part 1 of" not in only["body"]
    assert github.labels == ["dev: plan changes"]


def test_labels_follow_the_result_and_only_the_stale_ones_of_the_family_go(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    github.labels = ["bug", "dev: plan destroy", "dev: plan blocked", "staging: plan destroy"]
    empty = tmp_path / "dev-network.json"
    empty.write_text(
        json.dumps({"format_version": "1.2", "resource_changes": [], "planned_values": {"root_module": {}}}),
        encoding="utf-8",
    )
    code, out, _ = comment(capsys, str(empty), "--env", "dev", "--pr", str(PR))
    assert code == 0
    assert sorted(github.labels) == ["bug", "dev: plan no changes", "staging: plan destroy"]
    assert "+dev: plan no changes" in out and "-dev: plan blocked" in out and "-dev: plan destroy" in out
    assert f"/repos/{REPO}/issues/{PR}/labels/dev: plan destroy" in github.calls("DELETE")
    code, _, _ = comment(capsys, str(FIXTURES / "hashicorp_terraform-json__testdata__moved_block__plan.json"),
                         "--env", "dev", "--pr", str(PR))  # fmt: skip
    assert code == 0 and sorted(github.labels) == ["bug", "dev: plan changes", "staging: plan destroy"]


def test_the_full_review_goes_to_the_step_summary_when_it_fits(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step output\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = comment(capsys, str(DESTROY), "--env", "dev", "--pr", str(PR))
    assert code == 1 and "job summary: the full review" in out
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step output\n") and "Terraform plan review: `dev`" in text


def _error(code: int, err: str) -> str:
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    assert TOKEN not in err
    return lines[0]


@pytest.mark.parametrize(
    ("unset", "argv", "expected"),
    [
        ("GITHUB_TOKEN", ["--pr", "7"], "no token: $GITHUB_TOKEN is empty or not set"),
        ("GITHUB_REPOSITORY", ["--pr", "7"], "no repository"),
        (None, [], "no pull request number: pass --pr N"),
        (None, ["--pr", "7", "--token-env", "QUALISYS_GH_TOKEN"], "no token: $QUALISYS_GH_TOKEN"),
    ],
)
def test_fails_in_one_line_without_token_repository_or_pull_request(
    github: FakeGitHub,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    unset: str | None,
    argv: list[str],
    expected: str,
) -> None:
    if unset:
        monkeypatch.delenv(unset)
    line = _error(*comment(capsys, str(UPDATE), "--env", "dev", *argv)[::2])
    assert expected in line
    assert github.log == [], "nothing was sent"


def test_fails_in_one_line_for_an_event_without_a_pull_request(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}), encoding="utf-8")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert "has no pull_request.number" in _error(*comment(capsys, str(UPDATE), "--env", "dev")[::2])


RESET = int(time.time()) + 600


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ((401, {}, {"message": "Bad credentials"}), "401 Unauthorized: the token in GITHUB_TOKEN was refused"),
        ((403, {}, {"message": "Resource not accessible by integration"}), "403 Forbidden"),
        ((404, {}, {"message": "Not Found"}), "404 Not Found"),
        pytest.param(  # an id of its own: the one pytest derives holds the clock time, and node ids must be stable
            (
                403,
                {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(RESET)},
                {"message": "API rate limit exceeded"},
            ),
            "rate limit exhausted; it resets at " + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(RESET)),
            id="403-rate-limit-exhausted-resets-at",
        ),
        ((429, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "IN_10_MIN"}, {}), "(in 10 min)"),
        ((429, {"retry-after": "30"}, {"message": "secondary"}), "secondary rate limit; retry after 30 s"),
        ((502, {}, {}), "HTTP 502"),
    ],
)
def test_fails_in_one_line_when_github_refuses(
    github: FakeGitHub,
    capsys: pytest.CaptureFixture[str],
    failure: tuple[int, dict[str, str], dict[str, Any]],
    expected: str,
) -> None:
    status, headers, body = failure
    if headers.get("x-ratelimit-reset") == "IN_10_MIN":  # relative to when the test runs, not collection
        headers = {**headers, "x-ratelimit-reset": str(int(time.time()) + 600)}
    github.failure = (status, headers, body)
    line = _error(*comment(capsys, str(UPDATE), "--env", "dev", "--pr", str(PR), "--author", BOT)[::2])
    assert expected in line and line.startswith("error: GitHub: GET /repos/acme/infra/issues/7/comments: ")


def test_fails_in_one_line_with_a_wrong_token_or_pull_request(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "expired")
    assert "401 Unauthorized" in _error(*comment(capsys, str(UPDATE), "--env", "dev", "--pr", "7")[::2])
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    assert "404 Not Found" in _error(*comment(capsys, str(UPDATE), "--env", "dev", "--pr", "8")[::2])


def test_fails_in_one_line_when_github_cannot_be_reached(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    assert "cannot connect" in _error(*comment(capsys, str(UPDATE), "--env", "dev", "--pr", "7")[::2])


def test_a_next_page_link_to_another_host_is_refused(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(github.server, "url_for", lambda path: "http://elsewhere.invalid" + path)
    for n in range(3):
        github.seed("alice", f"remark {n}")
    assert "leaves" in _error(*comment(capsys, str(UPDATE), "--env", "dev", "--pr", "7")[::2])


def test_the_comment_says_what_plan_limited_or_left_unplanned(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The pull request reads the comment, not review.md: it must carry plan's scope note (from
    <stack>.scope) and the stacks plan left unplanned (from <stack>.waiting), as review.md does."""
    from qualisys_infra.terraform.secret_reads import PlanScope, scope_file
    from qualisys_infra.terraform.waiting import waits_for, write_marker

    folder = tmp_path / "dev"
    folder.mkdir()
    plan_json = folder / "dev-platform.json"
    plan_json.write_bytes(UPDATE.read_bytes())
    scope_file(plan_json).write_text(PlanScope(refresh=False).record(), encoding="utf-8")
    write_marker(folder / "dev-apps.waiting", waits_for(["dev-platform"]))
    code, _, err = comment(capsys, str(plan_json), "--env", "dev", "--pr", str(PR))
    assert (code, err) == (0, "")
    [ours] = github.ours()
    assert "> [!NOTE]\n> Planned without refresh: refreshing this stack reads Kubernetes Secrets" in ours["body"]
    assert (
        ours["body"]
        .rstrip()
        .endswith(
            "> - `dev-apps`: waits for dev-platform: it reads outputs their plans create or change;"
            " apply those plans, then plan again"
        )
    )


def test_the_comment_takes_the_plans_folder_and_skips_the_toolkits_own_files(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`comment plans/dev` (and `plans/dev/*.json`) as the README writes it: review.json and
    <stack>.reviewed.json, which plan writes beside the plans, are not plans."""
    from qualisys_infra.terraform.waiting import waits_for, write_marker

    folder = tmp_path / "dev"
    folder.mkdir()
    (folder / "dev-platform.json").write_bytes(UPDATE.read_bytes())
    (folder / "review.json").write_text('{"stacks": []}', encoding="utf-8")
    (folder / "dev-platform.reviewed.json").write_text('{"plan_sha256": "0"}', encoding="utf-8")
    write_marker(folder / "dev-apps.waiting", waits_for(["dev-platform"]))
    for plans in ([str(folder)], sorted(str(p) for p in folder.glob("*.json"))):
        code, out, err = comment(capsys, *plans, "--env", "dev", "--pr", str(PR))
        assert (code, err) == (0, "")
        assert "1 to change" in out
        [ours] = github.ours()
        assert "`dev-platform`" in ours["body"] and "review.json" not in ours["body"]
        assert "> - `dev-apps`: waits for dev-platform" in ours["body"]  # the folder's unplanned stacks


def test_the_comment_judges_destroys_with_the_allowances_of_the_environments_tfvars(
    github: FakeGitHub, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plan` and `deploy` allow what allow_destroy in environments/<env>.tfvars lists for a stack kind:
    the comment on the same plans must block exactly what they block."""
    import shutil

    from tests.conftest import ROOT

    shutil.copytree(ROOT / "environments", tmp_path / "environments")
    tfvars = tmp_path / "environments" / "dev.tfvars"
    tfvars.write_text(
        tfvars.read_text(encoding="utf-8") + '\nallow_destroy = {\n  data = ["aws_s3_bucket.terra_ci"]\n}\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "plans"
    folder.mkdir()
    for stack in ("dev-data", "dev-network"):
        (folder / f"{stack}.json").write_bytes(DESTROY.read_bytes())
    code, out, err = comment(capsys, str(folder / "dev-data.json"), "--env", "dev", "--pr", str(PR))
    assert (code, err) == (0, ""), out
    assert github.labels == ["dev: plan destroy"]
    code, out, _ = comment(capsys, str(folder / "dev-network.json"), "--env", "dev", "--pr", str(PR))
    assert code == 1 and "1 blocking guardrail finding" in out
    assert sorted(github.labels) == ["dev: plan blocked", "dev: plan destroy"]


# -- the GitHub client against hostile answers: one line, exit 2, never a traceback ---------------------


def _answering(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, path: str, method: str, response: Response
) -> FakeGitHub:
    """The fake GitHub, except that ``method path`` gets ``response`` (registered first, so it answers)."""
    httpserver.expect_request(path, method=method).respond_with_response(response)
    return serve(httpserver, monkeypatch)


def _post(capsys: pytest.CaptureFixture[str]) -> str:
    return _error(*comment(capsys, str(UPDATE), "--env", "dev", "--pr", str(PR), "--author", BOT)[::2])


COMMENTS = f"/repos/{REPO}/issues/{PR}/comments"
LABELS = f"/repos/{REPO}/issues/{PR}/labels"


def test_fails_if_github_trickles_past_the_timeout(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One byte every 50 ms satisfies any per-read timeout; --timeout bounds the whole request."""
    serve_env = {"GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": TOKEN}
    for name, value in serve_env.items():
        monkeypatch.setenv(name, value)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    with TrickleServer(head=head, drip=b"[" + b" " * 99_999) as server:
        monkeypatch.setenv("GITHUB_API_URL", server.url)
        start = time.monotonic()
        line = _error(
            *comment(capsys, str(UPDATE), "--env", "dev", "--pr", str(PR), "--author", BOT, "--timeout", "1")[::2]
        )
        took = time.monotonic() - start
    assert line == f"error: GitHub: GET {COMMENTS}: the answer was not complete within 1 s"
    assert took < 3


def test_fails_if_a_label_has_no_name(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _answering(httpserver, monkeypatch, LABELS, "GET", _json_response(200, [{"name": "ok"}, {"color": "red"}]))
    assert _post(capsys) == f"error: GitHub: GET {LABELS}: label 2 has no `name`"


def test_fails_if_creating_a_comment_answers_a_list(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = _json_response(201, [{"id": 1}])
    httpserver.expect_request(COMMENTS, method="POST").respond_with_response(handler)
    serve(httpserver, monkeypatch)
    assert _post(capsys) == f"error: GitHub: POST {COMMENTS}: the answer is a list, expected an object"


def test_fails_if_a_comment_id_is_not_a_number(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = [{"id": "101", "body": MARK, "user": {"login": BOT}}]
    _answering(httpserver, monkeypatch, COMMENTS, "GET", _json_response(200, listed))
    assert _post(capsys) == f"error: GitHub: GET {COMMENTS}: `id` of comment 1 is a string, expected an integer"


def test_fails_if_a_list_comes_as_an_object(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _answering(httpserver, monkeypatch, COMMENTS, "GET", _json_response(200, {"message": "Moved Permanently"}))
    assert _post(capsys) == f"error: GitHub: GET {COMMENTS}: the answer is an object, expected a list"


def test_fails_if_a_list_item_is_not_an_object(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _answering(httpserver, monkeypatch, COMMENTS, "GET", _json_response(200, [17]))
    assert _post(capsys) == f"error: GitHub: GET {COMMENTS}: item 1 is an integer, expected an object"


def test_fails_if_github_answers_something_that_is_not_json(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = Response("<html>Sign in to your proxy</html>", status=200, content_type="text/html")
    _answering(httpserver, monkeypatch, COMMENTS, "GET", page)
    assert _post(capsys) == f"error: GitHub: GET {COMMENTS}: the answer is not JSON"


def test_fails_if_github_redirects_to_another_origin(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    away = "http://127.0.0.2:9/collect"
    _answering(httpserver, monkeypatch, COMMENTS, "GET", Response("", status=302, headers={"Location": away}))
    line = _post(capsys)
    assert line.startswith(f"error: GitHub: GET {COMMENTS}: redirected to {away}, another origin than http://")
    assert line.endswith("(not followed)")


def test_fails_if_the_answer_is_larger_than_the_cap(
    github: FakeGitHub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from qualisys_infra.delivery import github as github_module

    monkeypatch.setattr(github_module, "MAX_ANSWER_BYTES", 4096)
    github.seed("alice", "x" * 5000)
    assert _post(capsys) == f"error: GitHub: GET {COMMENTS}: the answer is larger than 4,096 bytes (not read)"


def _json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
