"""A small client for the part of GitHub's REST API the pull-request review uses: issue comments
and labels; the sticky comments built on it; and the pull request, token and job summary as GitHub
Actions hands them to a step.

A sticky comment is one comment per pull request and name (``qualisys-infra:review env=dev``,
``qualisys-report:tests``), found again by the hidden marker on its first line and by its author,
edited in place, never posted twice; a body longer than GitHub's 65,536 characters
(:data:`qualisys_infra.core.github_text.COMMENT_LIMIT`) is posted as
numbered parts (``<!-- NAME part=2 -->``), and the parts an earlier, longer body left are deleted.
``qualisys-infra comment`` (plan reviews) and ``qualisys-infra report`` (test reports) both use it.

Every failure is a :class:`GitHubError` of one line (exit 2): a refused token (401), a missing
permission (403), a repository or pull request the token cannot see (404), a rate limit (403 or
429 with ``x-ratelimit-remaining: 0``, or a ``retry-after``: the line says when to try again), a
network error, a request not complete within ``--timeout`` (connection, headers and body
together), an answer over 32 MiB, and an answer of the wrong shape (not JSON, a list where an
object belongs, a comment without an ``id``, a label without a ``name``). Requests go through the
toolkit's one HTTP client (:mod:`qualisys_infra.core.http`). The token is sent only to the API's
own origin (a ``Link`` header or a redirect pointing elsewhere is refused) and never appears in a
message.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from qualisys_infra.core import http
from qualisys_infra.core.argtypes import seconds
from qualisys_infra.core.errors import ToolkitError, UsageError
from qualisys_infra.core.github_text import COMMENT_LIMIT, STEP_SUMMARY_LIMIT

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_TIMEOUT_SECONDS = 20.0
API_VERSION = "2022-11-28"
PER_PAGE = 100  # GitHub's largest page
MAX_PAGES = 200  # 20,000 comments: a pull request with more is not worth reading to the end
MAX_ANSWER_BYTES = 32 * 1024 * 1024  # a page of 100 comments of 65,536 characters, JSON-escaped, with room
FALLBACK_AUTHOR = "github-actions[bot]"  # who posts with Actions' GITHUB_TOKEN, which cannot read /user
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class GitHubError(ToolkitError):
    """GitHub refused or did not answer a request. Exit code 2."""


@dataclass(frozen=True, slots=True)
class Comment:
    """One issue (pull-request conversation) comment."""

    id: int
    body: str
    author: str  # login; "" for a deleted user


def user_agent() -> str:
    version = "0"
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        version = importlib.metadata.version("qualisys-infra")
    return f"qualisys-infra/{version} (+pull-request review)"


def check_repository(repository: str, what: str) -> str:
    if not _REPOSITORY.match(repository):
        raise GitHubError(f"{what}: {repository!r} is not OWNER/NAME")
    return repository


@dataclass(frozen=True, slots=True)
class PullRequest:
    number: int
    title: str
    url: str


class GitHub:
    """Issue comments and labels of one repository, through one HTTP session."""

    def __init__(
        self,
        *,
        token: str,
        repository: str,
        api_url: str = DEFAULT_API_URL,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        token_name: str = "GITHUB_TOKEN",  # noqa: S107 - the variable's name, not a token
    ) -> None:
        self.repository = check_repository(repository, "repository")
        self.api_url = api_url.rstrip("/")
        parts = urlsplit(self.api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise GitHubError(f"GITHUB_API_URL: {api_url!r} is not an http(s) URL")
        self._origin = http.origin(self.api_url)
        self.timeout_seconds = timeout_seconds
        self.token_name = token_name
        self.http = http.Client(
            timeout_seconds=timeout_seconds,
            max_bytes=MAX_ANSWER_BYTES,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "User-Agent": user_agent(),
                "X-GitHub-Api-Version": API_VERSION,
            },
        )

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    # -- reading ------------------------------------------------------------------------------

    def viewer_login(self) -> str | None:
        """The token's user; ``None`` for a token that cannot ask (Actions' ``GITHUB_TOKEN``, an app)."""
        response = self._request("GET", f"{self.api_url}/user", accept=(200, 403, 404))
        if response.status != 200:
            return None
        with shaped("GET /user"):
            return http.field(response.json_object(), "login", str, "the user")

    def issue_comments(self, number: int) -> list[Comment]:
        """Every comment of issue or pull request ``number``, oldest first, all pages."""
        path = f"/repos/{self.repository}/issues/{number}/comments"
        with shaped(f"GET {path}"):
            return [_comment(item, n) for n, item in self._pages(path)]

    def issue_labels(self, number: int) -> list[str]:
        path = f"/repos/{self.repository}/issues/{number}/labels"
        with shaped(f"GET {path}"):
            return [http.field(item, "name", str, f"label {n}") for n, item in self._pages(path)]

    def latest_pull_request(self) -> PullRequest | None:
        """The most recently updated pull request, ``None`` when there is none; an answer of the
        wrong shape is a :class:`GitHubError`."""
        path = f"/repos/{self.repository}/pulls"
        url = f"{self.api_url}{path}?state=all&sort=updated&direction=desc&per_page=1"
        response = self._request("GET", url, accept=(200,))
        with shaped(f"GET {path}"):
            items = response.json_list()
            if not items:
                return None
            first = http.expect(items[0], dict, "pull request 1")
            number = http.field(first, "number", int, "pull request 1")
            title = http.optional_field(first, "title", str, "pull request 1", "")
            link = http.optional_field(first, "html_url", str, "pull request 1", "")
        return PullRequest(number, " ".join(title.split())[:80], link)

    # -- writing ------------------------------------------------------------------------------

    def create_comment(self, number: int, body: str) -> int:
        path = f"/repos/{self.repository}/issues/{number}/comments"
        response = self._request("POST", self.api_url + path, json={"body": body}, accept=(201,))
        with shaped(f"POST {path}"):
            return http.field(response.json_object(), "id", int, "the new comment")

    def update_comment(self, comment_id: int, body: str) -> None:
        path = f"/repos/{self.repository}/issues/comments/{comment_id}"
        self._request("PATCH", self.api_url + path, json={"body": body}, accept=(200,))

    def delete_comment(self, comment_id: int) -> None:
        path = f"/repos/{self.repository}/issues/comments/{comment_id}"
        self._request("DELETE", self.api_url + path, accept=(204, 404))  # already gone is fine

    def add_labels(self, number: int, labels: list[str]) -> None:
        path = f"/repos/{self.repository}/issues/{number}/labels"
        self._request("POST", self.api_url + path, json={"labels": labels}, accept=(200,))

    def remove_label(self, number: int, label: str) -> None:
        path = f"/repos/{self.repository}/issues/{number}/labels/{quote(label, safe='')}"
        self._request("DELETE", self.api_url + path, accept=(200, 204, 404))  # already removed is fine

    # -- plumbing -----------------------------------------------------------------------------

    def _pages(self, path: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
        """``(n, item)`` for every item of every page of the list at ``path`` (``n`` from 1); an
        answer that is not a list of objects is a :class:`~qualisys_infra.core.http.HttpError`."""
        url: str | None = f"{self.api_url}{path}?per_page={PER_PAGE}"
        count = 0
        for _ in range(MAX_PAGES):
            if url is None:
                return
            self._check_origin(url)
            response = self._request("GET", url, accept=(200,))
            for item in response.json_list():
                count += 1
                yield count, http.expect(item, dict, f"item {count}")
            url = response.links().get("next")
        raise GitHubError(f"GitHub: GET {path}: more than {MAX_PAGES} pages")

    def _check_origin(self, url: str) -> None:
        if http.origin(url) != self._origin:
            parts = urlsplit(url)
            raise GitHubError(f"GitHub: a next-page link leaves {self.api_url}: {parts.scheme}://{parts.netloc}")

    def _request(self, method: str, url: str, *, json: Any = None, accept: tuple[int, ...] = (200,)) -> http.Response:
        what = f"{method} {urlsplit(url).path}"
        try:
            response = self.http.request(method, url, json=json)
        except http.HttpError as exc:
            if exc.kind is http.Failure.CONNECT:
                raise GitHubError(f"GitHub: {what}: cannot connect to {self.api_url} ({exc.cause})") from None
            raise GitHubError(f"GitHub: {what}: {exc}") from None
        status = response.status
        if status in (403, 429):
            limited = _rate_limit(response)
            if limited:
                raise GitHubError(f"GitHub: {what}: {limited}")
        if status in accept:
            return response
        message = _message(response)
        if status == 401:
            raise GitHubError(
                f"GitHub: {what}: 401 Unauthorized: the token in {self.token_name} was refused "
                f"(expired, revoked or not a GitHub token){message}"
            )
        if status == 403:
            raise GitHubError(
                f"GitHub: {what}: 403 Forbidden: the token may not do this; the job needs "
                f"`permissions: pull-requests: write` and `issues: write`{message}"
            )
        if status == 404:
            raise GitHubError(
                f"GitHub: {what}: 404 Not Found: no such repository, pull request or comment, or the token "
                f"cannot see it{message}"
            )
        raise GitHubError(f"GitHub: {what}: HTTP {status} {response.reason}".rstrip() + message)

    @staticmethod
    def _json(response: http.Response, what: str) -> Any:
        """The answer as JSON, of any shape (the caller checks it)."""
        with shaped(what):
            return response.json()


@contextlib.contextmanager
def shaped(what: str) -> Iterator[None]:
    """An answer of the wrong shape (:class:`~qualisys_infra.core.http.HttpError`) read inside the
    block becomes a :class:`GitHubError` naming the request: ``GitHub: GET /user: the answer is a list, ...``."""
    try:
        yield
    except http.HttpError as exc:
        raise GitHubError(f"GitHub: {what}: {exc}") from None


def _comment(item: Mapping[str, Any], number: int) -> Comment:
    """A :class:`Comment` from an item of the comment list; a deleted user (``null``) has no login."""
    where = f"comment {number}"
    user = http.optional_field(item, "user", dict, where, {})
    login = http.optional_field(user, "login", str, f"the user of {where}", "")
    return Comment(
        http.field(item, "id", int, where),
        http.optional_field(item, "body", str, where, ""),
        login,
    )


# -- sticky comments ---------------------------------------------------------------------------

_STICKY = re.compile(r"^<!-- (?P<name>[^\n]+?)(?: part=(?P<part>[1-9][0-9]{0,3}))? -->$")
_STICKY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:=/ -]{0,99}$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
PART_NOTE_RESERVE = 400  # characters kept free in each part for its marker and the "part N of M" note


def sticky_marker(name: str, part: int = 1, parts: int = 1) -> str:
    """The hidden first line of comment ``part`` of ``parts`` named ``name``; a single comment carries no part."""
    if not _STICKY_NAME.match(name) or "--" in name or name.endswith((" ", "-")):
        raise ValueError(f"{name!r} cannot name a sticky comment")
    return f"<!-- {name} -->" if parts == 1 else f"<!-- {name} part={part} -->"


def parse_sticky(body: str) -> tuple[str, int] | None:
    """``(name, part)`` from a comment's first line, or ``None`` when it carries no sticky marker."""
    match = _STICKY.match(body.split("\n", 1)[0].rstrip("\r"))
    return (match["name"], int(match["part"] or 1)) if match else None


def sticky_bodies(name: str, parts: Sequence[str], *, what: str = "comment") -> list[str]:
    """The comment bodies for ``parts``: each with its marker line, each checked against GitHub's limit."""
    out = [f"{sticky_marker(name, n, len(parts))}\n{body}" for n, body in enumerate(parts, 1)]
    for number, body in enumerate(out, 1):
        if len(body) > COMMENT_LIMIT:
            raise UsageError(f"{what}: part {number} is {len(body):,} characters, over GitHub's {COMMENT_LIMIT:,}")
    return out


def fold(text: str, limit: int = COMMENT_LIMIT - PART_NOTE_RESERVE) -> list[str]:
    """``text`` as one part when it fits ``limit`` characters, else as parts cut between lines.

    A part never ends inside a code fence or a ``<details>`` block: an open one is closed at the end
    of the part and opened again at the start of the next. The first part ends with a note saying
    how many parts there are, each later one begins with its number. A line longer than half a
    part is cut.
    """
    if len(text) <= limit:
        return [text]
    room = limit - 200  # for the notes
    chunks: list[list[str]] = [[]]
    size = 0
    fence: tuple[str, str] | None = None  # the open fence: its opening line and its marker
    details: list[str] = []  # the open <details> lines, outermost first
    for line in _cut_lines(text.split("\n"), room // 2):
        closers = _closers(fence, details)
        if chunks[-1] and size + len(line) + 1 + sum(len(c) + 1 for c in closers) > room:
            chunks[-1] += closers
            chunks.append([*details, *([fence[0]] if fence else [])])
            size = sum(len(item) + 1 for item in chunks[-1])
        chunks[-1].append(line)
        size += len(line) + 1
        stripped = line.strip()
        opener = _FENCE.match(line)
        if fence is not None:
            marker = fence[1]
            if stripped and set(stripped) == {marker[0]} and len(stripped) >= len(marker):
                fence = None
        elif opener:
            fence = (line, opener[1])
        elif stripped.startswith("<details"):
            details.append(line)
        elif stripped.startswith("</details>") and details:
            details.pop()
    total = len(chunks)
    first = (
        "\n".join(chunks[0]) + f"\n\n> [!NOTE]\n> Longer than one GitHub comment: part 1 of {total}, continued below."
    )
    rest = [
        f"_(part {number} of {total}, continued from above)_\n\n" + "\n".join(lines)
        for number, lines in enumerate(chunks[1:], 2)
    ]
    return [first, *rest]


def _closers(fence: tuple[str, str] | None, details: Sequence[str]) -> list[str]:
    return ([fence[1]] if fence else []) + ["</details>"] * len(details)


def _cut_lines(lines: list[str], width: int) -> Iterator[str]:
    for line in lines:
        while len(line) > width:
            yield line[:width]
            line = line[width:]
        yield line


@dataclass
class Outcome:
    """What one run did on the pull request."""

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    added_labels: list[str] = field(default_factory=list)
    removed_labels: list[str] = field(default_factory=list)

    def comments_line(self) -> str:
        """``1 created, 2 deleted``: the comment counts that are not zero."""
        return ", ".join(
            f"{len(ids)} {word}"
            for word, ids in (
                ("created", self.created),
                ("updated", self.updated),
                ("unchanged", self.unchanged),
                ("deleted", self.deleted),
            )
            if ids
        )


def sync_sticky(
    github: GitHub, number: int, name: str, author: str, wanted: Sequence[str], outcome: Outcome | None = None
) -> Outcome:
    """Make pull request ``number`` hold exactly ``wanted`` (bodies from :func:`sticky_bodies`) as
    ``author``'s comments named ``name``. Comments by anyone else are never touched, whatever they hold."""
    outcome = Outcome() if outcome is None else outcome
    ours: dict[int, list[Comment]] = {}
    for comment in github.issue_comments(number):
        found = parse_sticky(comment.body)
        if found is not None and found[0] == name and comment.author == author:
            ours.setdefault(found[1], []).append(comment)
    for part, body in enumerate(wanted, 1):
        existing = ours.pop(part, [])
        if existing:
            keep, *extra = existing  # oldest first; a second copy (two jobs raced) is removed
            if keep.body != body:
                github.update_comment(keep.id, body)
                outcome.updated.append(keep.id)
            else:
                outcome.unchanged.append(keep.id)
            for comment in extra:
                github.delete_comment(comment.id)
                outcome.deleted.append(comment.id)
        else:
            outcome.created.append(github.create_comment(number, body))
    for stale in ours.values():  # parts of an earlier, longer body
        for comment in stale:
            github.delete_comment(comment.id)
            outcome.deleted.append(comment.id)
    return outcome


# -- the pull request, token and job summary as GitHub Actions hands them to a step ---------------


def add_pull_request_options(parser: argparse.ArgumentParser) -> None:
    """``--pr``, ``--repository``, ``--token-env``, ``--author`` and ``--timeout``, for a command that posts."""
    parser.add_argument(
        "--pr", type=int, default=None, metavar="N", help="pull request number (default: from $GITHUB_EVENT_PATH)"
    )
    parser.add_argument(
        "--repository", default=None, metavar="OWNER/NAME", help="repository (default: $GITHUB_REPOSITORY)"
    )
    parser.add_argument(
        "--token-env", default="GITHUB_TOKEN", metavar="NAME", help="environment variable holding the token"
    )
    parser.add_argument(
        "--author",
        default=None,
        metavar="LOGIN",
        help="login the comments are posted as (default: the token's user, or github-actions[bot] for Actions' "
        "token); only its comments are updated or deleted",
    )
    parser.add_argument(
        "--timeout",
        type=seconds("--timeout"),
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="each request to GitHub must be answered in full (connection, headers, body) within this",
    )


@dataclass(frozen=True, slots=True)
class Context:
    """Where a comment goes, read from the command line and GitHub Actions' environment."""

    repository: str
    number: int
    token: str
    token_name: str
    api_url: str
    run_url: str | None = None

    def client(self, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> GitHub:
        return GitHub(
            token=self.token,
            repository=self.repository,
            api_url=self.api_url,
            timeout_seconds=timeout_seconds,
            token_name=self.token_name,
        )


def pull_request_context(args: argparse.Namespace, environ: Mapping[str, str], command: str) -> Context:
    """The :class:`Context` from :func:`add_pull_request_options`' arguments and the environment;
    a :class:`UsageError` naming what is missing (messages start with ``command``)."""
    token_name: str = args.token_env
    token = environ.get(token_name, "").strip()
    if not token:
        raise UsageError(
            f"{command}: no token: ${token_name} is empty or not set (in a workflow: `env: {token_name}: "
            "${{ github.token }}` and `permissions: pull-requests: write`)"
        )
    repository = args.repository or environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise UsageError(f"{command}: no repository: pass --repository OWNER/NAME or set $GITHUB_REPOSITORY")
    check_repository(repository, "--repository" if args.repository else "GITHUB_REPOSITORY")
    number = args.pr if args.pr is not None else _event_pr(environ.get("GITHUB_EVENT_PATH", ""), command)
    if number < 1:
        raise UsageError(f"--pr: {number} is not a pull request number")
    server, run_id = environ.get("GITHUB_SERVER_URL", ""), environ.get("GITHUB_RUN_ID", "")
    run_url = (
        f"{server}/{repository}/actions/runs/{run_id}"
        if re.match(r"^https://[\w.:-]+$", server) and run_id.isdigit()
        else None
    )
    return Context(
        repository=repository,
        number=number,
        token=token,
        token_name=token_name,
        api_url=environ.get("GITHUB_API_URL") or DEFAULT_API_URL,
        run_url=run_url,
    )


def _event_pr(path: str, command: str) -> int:
    missing = f"{command}: no pull request number: pass --pr N, or run on a pull_request event"
    if not path:
        raise UsageError(f"{missing} ($GITHUB_EVENT_PATH is not set)")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"GITHUB_EVENT_PATH: {path}: cannot be read: {exc.strerror or exc}") from None
    except ValueError:
        raise UsageError(f"GITHUB_EVENT_PATH: {path}: not JSON") from None
    pull = event.get("pull_request") if isinstance(event, dict) else None
    number = pull.get("number") if isinstance(pull, dict) else None
    if not isinstance(number, int) or isinstance(number, bool):
        raise UsageError(f"{missing} (the event in $GITHUB_EVENT_PATH has no pull_request.number)")
    return number


def summary_room(path: Path) -> int:
    """Bytes the step summary can still take (GitHub allows 1 MiB per step)."""
    try:
        used = path.stat().st_size if path.exists() else 0
    except OSError:
        used = 0
    return STEP_SUMMARY_LIMIT - used


def fit_step_summary(full: str, first: str, room: int, *, note: str, name: str) -> tuple[str, str]:
    """``(text, what)`` to append to the step summary: ``full`` when it fits ``room`` bytes, else
    ``first`` (the first comment) and ``note`` (``{size}``: the full text's bytes; where the rest is),
    else nothing. ``name`` says what ``full`` is, for ``what``: ``the full review``."""
    size = len(full.encode("utf-8")) + 1
    if size <= room:
        return full, name
    text = first + f"\n> [!NOTE]\n> {note.format(size=size)}\n"
    if len(text.encode("utf-8")) + 1 <= room:
        return text, f"the first comment ({name} exceeds 1 MiB)"
    return "", "nothing (the step summary is full)"


def append_step_summary(path: Path, text: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as stream:
            stream.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise UsageError(f"GITHUB_STEP_SUMMARY: {path}: cannot be written: {exc.strerror or exc}") from None


def _rate_limit(response: http.Response) -> str | None:
    """The one line for a rate-limited answer, or ``None`` when the 403/429 is something else."""
    headers = response.headers
    if headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset", "")
        if reset.isdigit():
            at = int(reset)
            wait = max(0, at - int(time.time()))
            stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
            return f"API rate limit exhausted; it resets at {stamp} (in {_duration(wait)})"
        return "API rate limit exhausted (no reset time given)"
    retry = headers.get("retry-after", "")
    if retry.isdigit():
        return f"secondary rate limit; retry after {_duration(int(retry))}"
    if response.status == 429:
        return "too many requests (HTTP 429); retry later"
    if "rate limit" in _message(response).lower():
        return f"rate limited{_message(response)}"
    return None


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    return f"{round(seconds / 60)} min"


def _message(response: http.Response) -> str:
    """``: <GitHub's message>``, one line, clipped; empty when there is none."""
    try:
        payload = response.json()
    except http.HttpError:
        return ""
    text = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(text, str) or not text.strip():
        return ""
    line = " ".join(text.split())
    return f": {line[:200]}"


__all__ = [
    "DEFAULT_API_URL",
    "FALLBACK_AUTHOR",
    "Comment",
    "Context",
    "GitHub",
    "GitHubError",
    "Outcome",
    "PullRequest",
    "add_pull_request_options",
    "append_step_summary",
    "check_repository",
    "fit_step_summary",
    "fold",
    "parse_sticky",
    "pull_request_context",
    "sticky_bodies",
    "sticky_marker",
    "summary_room",
    "sync_sticky",
    "user_agent",
]
