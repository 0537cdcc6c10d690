"""A small client for the part of GitHub's REST API the pull-request review uses: issue comments
and labels.

Every failure is a :class:`GitHubError` of one line (exit 2): a refused token (401), a missing
permission (403), a repository or pull request the token cannot see (404), a rate limit (403 or
429 with ``x-ratelimit-remaining: 0``, or a ``retry-after``: the line says when to try again), a
network error or a timeout. The token is sent only to the API's own origin (a ``Link`` header
pointing elsewhere is refused) and never appears in a message.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from qualisys_infra.core.errors import ToolkitError

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_TIMEOUT_SECONDS = 20.0
API_VERSION = "2022-11-28"
PER_PAGE = 100  # GitHub's largest page
MAX_PAGES = 200  # 20,000 comments: a pull request with more is not worth reading to the end
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
        self._origin = (parts.scheme, parts.netloc)
        self.timeout_seconds = timeout_seconds
        self.token_name = token_name
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "User-Agent": user_agent(),
                "X-GitHub-Api-Version": API_VERSION,
            }
        )

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *_: object) -> None:
        self.session.close()

    # -- reading ------------------------------------------------------------------------------

    def viewer_login(self) -> str | None:
        """The token's user; ``None`` for a token that cannot ask (Actions' ``GITHUB_TOKEN``, an app)."""
        response = self._request("GET", f"{self.api_url}/user", accept=(200, 403, 404))
        if response.status_code != 200:
            return None
        login = self._json(response, "GET /user").get("login")
        return login if isinstance(login, str) else None

    def issue_comments(self, number: int) -> list[Comment]:
        """Every comment of issue or pull request ``number``, oldest first, all pages."""
        comments = []
        for item in self._pages(f"/repos/{self.repository}/issues/{number}/comments"):
            user = item.get("user") if isinstance(item.get("user"), dict) else {}
            login = user.get("login") if isinstance(user, dict) else None
            if isinstance(item.get("id"), int):
                comments.append(
                    Comment(item["id"], str(item.get("body") or ""), login if isinstance(login, str) else "")
                )
        return comments

    def issue_labels(self, number: int) -> list[str]:
        return [str(item["name"]) for item in self._pages(f"/repos/{self.repository}/issues/{number}/labels")]

    # -- writing ------------------------------------------------------------------------------

    def create_comment(self, number: int, body: str) -> int:
        path = f"/repos/{self.repository}/issues/{number}/comments"
        response = self._request("POST", self.api_url + path, json={"body": body}, accept=(201,))
        created = self._json(response, f"POST {path}").get("id")
        if not isinstance(created, int):
            raise GitHubError(f"GitHub: POST {path}: the answer has no comment id")
        return created

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

    def _pages(self, path: str) -> Iterator[Mapping[str, Any]]:
        url: str | None = f"{self.api_url}{path}?per_page={PER_PAGE}"
        for _ in range(MAX_PAGES):
            if url is None:
                return
            self._check_origin(url)
            response = self._request("GET", url, accept=(200,))
            items = self._json(response, f"GET {path}")
            if not isinstance(items, list):
                raise GitHubError(f"GitHub: GET {path}: expected a list, got {type(items).__name__}")
            yield from (item for item in items if isinstance(item, dict))
            url = response.links.get("next", {}).get("url")
        raise GitHubError(f"GitHub: GET {path}: more than {MAX_PAGES} pages")

    def _check_origin(self, url: str) -> None:
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self._origin:
            raise GitHubError(f"GitHub: a next-page link leaves {self.api_url}: {parts.scheme}://{parts.netloc}")

    def _request(
        self, method: str, url: str, *, json: Any = None, accept: tuple[int, ...] = (200,)
    ) -> requests.Response:
        what = f"{method} {urlsplit(url).path}"
        try:
            response = self.session.request(method, url, json=json, timeout=self.timeout_seconds)
        except requests.Timeout:
            raise GitHubError(f"GitHub: {what}: no answer within {self.timeout_seconds:g} s") from None
        except requests.RequestException as exc:
            raise GitHubError(f"GitHub: {what}: cannot connect to {self.api_url} ({_reason(exc)})") from None
        status = response.status_code
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
        raise GitHubError(f"GitHub: {what}: HTTP {status} {response.reason or ''}".rstrip() + message)

    @staticmethod
    def _json(response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise GitHubError(f"GitHub: {what}: the answer is not JSON") from None


def _rate_limit(response: requests.Response) -> str | None:
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
    if response.status_code == 429:
        return "too many requests (HTTP 429); retry later"
    if "rate limit" in _message(response).lower():
        return f"rate limited{_message(response)}"
    return None


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    return f"{round(seconds / 60)} min"


def _message(response: requests.Response) -> str:
    """``: <GitHub's message>``, one line, clipped; empty when there is none."""
    try:
        payload = response.json()
    except ValueError:
        return ""
    text = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(text, str) or not text.strip():
        return ""
    line = " ".join(text.split())
    return f": {line[:200]}"


def _reason(exc: requests.RequestException) -> str:
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    reason = getattr(inner, "reason", None)
    text = str(reason if isinstance(reason, BaseException) else exc).strip()
    text = text.splitlines()[0][:200] if text else type(exc).__name__
    return re.sub(r"^<?[A-Za-z.]*HTTPS?Connection(?:Pool)?(?:\([^)]*\)|\s+object at 0x[0-9a-f]+)?>?: ", "", text)


__all__ = ["DEFAULT_API_URL", "Comment", "GitHub", "GitHubError", "check_repository", "user_agent"]
