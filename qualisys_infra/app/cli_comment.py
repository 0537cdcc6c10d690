"""``qualisys-infra comment``: the plan review as one living comment per pull request and environment.

Reviews the plan JSON files as ``review`` does (same guardrails, same ``--allow-destroy``) and keeps
the pull request's conversation in step with the latest push:

- one comment per environment, found again by the hidden marker on its first line
  (``<!-- qualisys-infra:review env=dev -->``) and by its author (the token's user), updated in
  place, never posted twice; a review too long for one comment is posted as numbered parts
  (``part=2`` ...), and the parts an earlier, longer review left are deleted. Comments by anyone
  else are never touched, whatever they contain;
- labels as tfcmt sets them, one family per environment: ``dev: plan destroy`` (a delete or a
  replace), ``dev: plan changes``, ``dev: plan no changes``, plus ``dev: plan blocked`` on a blocking
  guardrail finding; the family's stale labels are removed;
- the review appended to ``$GITHUB_STEP_SUMMARY`` when set: in full when it fits the step's 1 MiB,
  else the first comment and a note.

The repository, token and pull request come from GitHub Actions' environment: ``GITHUB_REPOSITORY``,
``GITHUB_TOKEN`` (or ``--token-env NAME``), ``--pr N`` or ``pull_request.number`` of the event in
``GITHUB_EVENT_PATH``, ``GITHUB_API_URL``.

Exit codes: 0 posted; 1 posted, and a guardrail finding blocks (as ``review``); 2 bad input or
GitHub refused (token, permission, not found, rate limit: one line saying which).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qualisys_infra.app.cli_plan import add_allow_destroy, reviews_of
from qualisys_infra.app.github import DEFAULT_API_URL, DEFAULT_TIMEOUT_SECONDS, Comment, GitHub, check_repository
from qualisys_infra.core.errors import UsageError
from qualisys_infra.plan.guardrails import blocking
from qualisys_infra.plan.review import (
    FULL_REVIEW,
    GITHUB_COMMENT_LIMIT,
    StackReview,
    render_markdown,
    summary_counts,
    summary_line,
)

STEP_SUMMARY_LIMIT = 1024 * 1024  # bytes per step
FALLBACK_AUTHOR = "github-actions[bot]"  # who posts with Actions' GITHUB_TOKEN, which cannot read /user
_ENV = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$")
_MARKER = re.compile(
    r"^<!-- qualisys-infra:review env=(?P<env>[A-Za-z0-9_.-]+)(?: part=(?P<part>[1-9][0-9]{0,3}))? -->$"
)
RESULTS = ("destroy", "changes", "no changes")


def marker(env: str, part: int, parts: int) -> str:
    """The hidden first line of comment ``part`` of ``parts``; a single comment carries no part."""
    return (
        f"<!-- qualisys-infra:review env={env} -->"
        if parts == 1
        else f"<!-- qualisys-infra:review env={env} part={part} -->"
    )


def parse_marker(body: str) -> tuple[str, int] | None:
    """``(env, part)`` from a comment's first line, or ``None`` when it is not one of ours."""
    match = _MARKER.match(body.split("\n", 1)[0].rstrip("\r"))
    return (match["env"], int(match["part"] or 1)) if match else None


def label_family(env: str) -> dict[str, str]:
    """The labels of one environment, by result: ``destroy``, ``changes``, ``no changes``, ``blocked``."""
    return {result: f"{env}: plan {result}" for result in (*RESULTS, "blocked")}


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "comment",
        help="post the plan review on the pull request: one comment per environment, updated on every push, labels",
        description="Review plan JSON files (as `review`) and keep ONE comment per pull request and environment "
        "up to date: found again by a hidden marker, edited in place, split into numbered parts when longer than "
        "GitHub's 65,536 characters. Sets the labels `ENV: plan destroy`, `ENV: plan changes`, `ENV: plan no "
        "changes` and `ENV: plan blocked`, removing stale ones, and appends the review to $GITHUB_STEP_SUMMARY. "
        "Reads GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_EVENT_PATH and GITHUB_API_URL as GitHub Actions sets them. "
        "Exit 1 when a guardrail finding blocks (the comment is posted all the same), 2 when GitHub refuses.",
    )
    parser.add_argument("plans", nargs="+", type=Path, metavar="PLAN.json", help="`terraform show -json` output files")
    parser.add_argument("--env", required=True, metavar="ENV", help="environment the plans belong to, e.g. dev")
    add_allow_destroy(parser)
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
        "--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, metavar="SECONDS", help="per request to GitHub"
    )


@dataclass(frozen=True, slots=True)
class Context:
    """Where the comment goes, read from the command line and GitHub Actions' environment."""

    repository: str
    number: int
    token: str
    token_name: str
    api_url: str
    run_url: str | None = None


def context(args: argparse.Namespace, environ: Mapping[str, str]) -> Context:
    token_name: str = args.token_env
    token = environ.get(token_name, "").strip()
    if not token:
        raise UsageError(
            f"comment: no token: ${token_name} is empty or not set (in a workflow: `env: {token_name}: "
            "${{ github.token }}` and `permissions: pull-requests: write`)"
        )
    repository = args.repository or environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise UsageError("comment: no repository: pass --repository OWNER/NAME or set $GITHUB_REPOSITORY")
    check_repository(repository, "--repository" if args.repository else "GITHUB_REPOSITORY")
    number = args.pr if args.pr is not None else _event_pr(environ.get("GITHUB_EVENT_PATH", ""))
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


def _event_pr(path: str) -> int:
    missing = "comment: no pull request number: pass --pr N, or run on a pull_request event"
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


def result_of(reviews: Sequence[StackReview]) -> str:
    """``destroy`` (a delete or replace anywhere), ``changes`` or ``no changes``."""
    counts = summary_counts([r.plan for r in reviews])
    if counts["destroy"] or counts["replace"]:
        return "destroy"
    return "changes" if any(r.plan.has_changes for r in reviews) else "no changes"


@dataclass
class Outcome:
    """What one run did on the pull request."""

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    added_labels: list[str] = field(default_factory=list)
    removed_labels: list[str] = field(default_factory=list)


def bodies(reviews: Sequence[StackReview], env: str, *, full_review: str = FULL_REVIEW) -> list[str]:
    """The comment bodies, each with its marker line and the environment in its title."""
    parts = render_markdown(reviews, full_review=full_review)
    out = [f"{marker(env, n, len(parts))}\n{_titled(body, env)}" for n, body in enumerate(parts, 1)]
    for number, body in enumerate(out, 1):
        if len(body) > GITHUB_COMMENT_LIMIT:  # render_markdown keeps 1,536 characters of margin
            raise UsageError(f"comment: part {number} is {len(body):,} characters, over GitHub's 65,536")
    return out


def _titled(body: str, env: str) -> str:
    return body.replace("## Terraform plan review", f"## Terraform plan review: `{env}`", 1)


def sync_comments(github: GitHub, number: int, env: str, author: str, wanted: Sequence[str], outcome: Outcome) -> None:
    """Make the pull request hold exactly ``wanted`` as ``author``'s comments for ``env``."""
    ours: dict[int, list[Comment]] = {}
    for comment in github.issue_comments(number):
        found = parse_marker(comment.body)
        if found is not None and found[0] == env and comment.author == author:
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
    for stale in ours.values():  # parts of an earlier, longer review
        for comment in stale:
            github.delete_comment(comment.id)
            outcome.deleted.append(comment.id)


def sync_labels(github: GitHub, number: int, env: str, wanted: set[str], outcome: Outcome) -> None:
    family = set(label_family(env).values())
    current = set(github.issue_labels(number))
    add = sorted(wanted - current)
    if add:
        github.add_labels(number, add)
        outcome.added_labels += add
    for stale in sorted((current & family) - wanted):
        github.remove_label(number, stale)
        outcome.removed_labels.append(stale)


def summary_room(path: Path) -> int:
    """Bytes the step summary can still take (GitHub allows 1 MiB per step)."""
    try:
        used = path.stat().st_size if path.exists() else 0
    except OSError:
        used = 0
    return STEP_SUMMARY_LIMIT - used


def step_summary(full: str, first: str, room: int) -> tuple[str, str]:
    """``(text, what)`` to append: the full review when it fits ``room`` bytes, else the first comment
    and a note, else nothing."""
    size = len(full.encode("utf-8")) + 1
    if size <= room:
        return full, "the full review"
    note = (
        f"\n> [!NOTE]\n> The full review ({size:,} bytes) does not fit the job summary's 1 MiB; this is the "
        "first pull-request comment. Every detail: `qualisys-infra review PLAN.json... --format markdown "
        "--output review.md` writes `review-full.md`.\n"
    )
    text = first + note
    if len(text.encode("utf-8")) + 1 <= room:
        return text, "the first comment (the full review exceeds 1 MiB)"
    return "", "nothing (the step summary is full)"


def append(path: Path, text: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as stream:
            stream.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise UsageError(f"GITHUB_STEP_SUMMARY: {path}: cannot be written: {exc.strerror or exc}") from None


def run(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    env: str = args.env
    if not _ENV.match(env):
        raise UsageError(f"--env: {env!r}: letters, digits, '.', '_' and '-' only, at most 30 characters")
    where = context(args, environ)
    reviews = reviews_of(args.plans, args.allow_destroy)
    stop = [f for r in reviews for f in blocking(r.findings)]
    result = result_of(reviews)

    full = _titled(render_markdown(reviews, limit=None)[0], env)
    summary = Path(environ["GITHUB_STEP_SUMMARY"]) if environ.get("GITHUB_STEP_SUMMARY") else None
    room = summary_room(summary) if summary else 0
    full_review, summary_note = FULL_REVIEW, ""
    if summary and len(full.encode("utf-8")) + 1 <= room:
        full_review = f"[the job summary]({where.run_url})" if where.run_url else "the job summary of this run"
    wanted = bodies(reviews, env, full_review=full_review)
    if summary:
        text, what = step_summary(full, wanted[0], room)
        if text:
            append(summary, text)
        summary_note = f"; job summary: {what}"

    labels = label_family(env)
    wanted_labels = {labels[result]} | ({labels["blocked"]} if stop else set())
    outcome = Outcome()
    with GitHub(
        token=where.token,
        repository=where.repository,
        api_url=where.api_url,
        timeout_seconds=args.timeout,
        token_name=where.token_name,
    ) as github:
        author = args.author or github.viewer_login() or FALLBACK_AUTHOR
        sync_comments(github, where.number, env, author, wanted, outcome)
        sync_labels(github, where.number, env, wanted_labels, outcome)

    done = [
        f"{len(ids)} {word}"
        for word, ids in (
            ("created", outcome.created),
            ("updated", outcome.updated),
            ("unchanged", outcome.unchanged),
            ("deleted", outcome.deleted),
        )
        if ids
    ]
    labels_done = [f"+{name}" for name in outcome.added_labels] + [f"-{name}" for name in outcome.removed_labels]
    print(
        f"comment: {where.repository}#{where.number} {env}: {summary_line(summary_counts([r.plan for r in reviews]))}; "
        f"comments as {author} {', '.join(done)}; labels {', '.join(labels_done) or 'unchanged'}{summary_note}"
    )
    if stop:
        print(f"comment: {len(stop)} blocking guardrail finding(s); `deploy` will refuse these plans")
        return 1
    return 0


__all__ = ["add_commands", "label_family", "marker", "parse_marker", "run"]
