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
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from qualisys_infra.commands.context import Context as RunContext
from qualisys_infra.commands.options import add_allow_destroy, add_pricing_options
from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.github_text import STEP_SUMMARY_LIMIT
from qualisys_infra.delivery.github import (
    FALLBACK_AUTHOR,
    Context,
    GitHub,
    Outcome,
    add_pull_request_options,
    append_step_summary,
    fit_step_summary,
    parse_sticky,
    pull_request_context,
    sticky_bodies,
    sticky_marker,
    summary_room,
    sync_sticky,
)
from qualisys_infra.plan.guardrails import blocking
from qualisys_infra.plan.review import StackReview, summary_counts, summary_line
from qualisys_infra.plan.review_markdown import FULL_REVIEW, render_markdown
from qualisys_infra.terraform.pipeline import priced_reviews, reviewed_allowances, reviews_of
from qualisys_infra.terraform.waiting import unplanned_in, unplanned_markdown

_ENV = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$")
_REVIEW = "qualisys-infra:review env="
RESULTS = ("destroy", "changes", "no changes")


def sticky_name(env: str) -> str:
    """The sticky-comment name of an environment's review (:func:`qualisys_infra.delivery.github.sticky_marker`)."""
    return f"{_REVIEW}{env}"


def marker(env: str, part: int, parts: int) -> str:
    """The hidden first line of comment ``part`` of ``parts``; a single comment carries no part."""
    return sticky_marker(sticky_name(env), part, parts)


def parse_marker(body: str) -> tuple[str, int] | None:
    """``(env, part)`` from a comment's first line, or ``None`` when it is not one of ours."""
    found = parse_sticky(body)
    if found is None or not found[0].startswith(_REVIEW) or not _ENV.match(found[0].removeprefix(_REVIEW)):
        return None
    return found[0].removeprefix(_REVIEW), found[1]


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
    parser.add_argument(
        "plans",
        nargs="+",
        type=Path,
        metavar="PLAN.json",
        help="`terraform show -json` output files, or a folder of them such as plans/dev (the toolkit's own "
        "review.json and <stack>.reviewed.json beside them are left out)",
    )
    parser.add_argument("--env", required=True, metavar="ENV", help="environment the plans belong to, e.g. dev")
    add_allow_destroy(parser)
    add_pricing_options(parser, review=True)
    add_pull_request_options(parser)
    parser.set_defaults(func=run)


def context(args: argparse.Namespace, environ: Mapping[str, str]) -> Context:
    return pull_request_context(args, environ, "comment")


def result_of(reviews: Sequence[StackReview]) -> str:
    """``destroy`` (a delete or replace anywhere), ``changes`` or ``no changes``."""
    counts = summary_counts([r.plan for r in reviews])
    if counts["destroy"] or counts["replace"]:
        return "destroy"
    return "changes" if any(r.plan.has_changes for r in reviews) else "no changes"


def bodies(reviews: Sequence[StackReview], env: str, *, full_review: str = FULL_REVIEW, note: str = "") -> list[str]:
    """The comment bodies, each with its marker line and the environment in its title; ``note`` (a
    few lines: what `plan` left unplanned) ends the first."""
    parts = render_markdown(reviews, full_review=full_review)  # keeps 1,536 characters of margin
    titled = [_titled(body, env) for body in parts]
    return sticky_bodies(sticky_name(env), [titled[0] + note, *titled[1:]])


def _titled(body: str, env: str) -> str:
    return body.replace("## Terraform plan review", f"## Terraform plan review: `{env}`", 1)


def sync_comments(github: GitHub, number: int, env: str, author: str, wanted: Sequence[str], outcome: Outcome) -> None:
    """Make the pull request hold exactly ``wanted`` as ``author``'s comments for ``env``."""
    sync_sticky(github, number, sticky_name(env), author, wanted, outcome)


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


def step_summary(full: str, first: str, room: int) -> tuple[str, str]:
    """``(text, what)`` to append: the full review when it fits ``room`` bytes, else the first comment
    and a note, else nothing."""
    return fit_step_summary(
        full,
        first,
        room,
        name="the full review",
        note="The full review ({size:,} bytes) does not fit the job summary's 1 MiB; this is the first "
        "pull-request comment. Every detail: `qualisys-infra review PLAN.json... --format markdown --output "
        "review.md` writes `review-full.md`.",
    )


def run(args: argparse.Namespace, ctx: RunContext) -> int:
    environ = ctx.environ
    env: str = args.env
    if not _ENV.match(env):
        raise UsageError(f"--env: {env!r}: letters, digits, '.', '_' and '-' only, at most 30 characters")
    where = context(args, environ)
    # with the destroys the environment's reviewed tfvars allow, as `plan` and `deploy` judge them
    project = ctx.project
    reviews = reviews_of(args.plans, args.allow_destroy, reviewed_allowances(project, env))
    # the comment shows what `plan` showed: the monthly cost
    reviews = priced_reviews(reviews, args, project, today=ctx.today())
    stop = [f for r in reviews for f in blocking(r.findings)]
    result = result_of(reviews)

    folder = args.plans[0] if args.plans[0].is_dir() else args.plans[0].parent
    unplanned = unplanned_markdown(unplanned_in(folder))  # what `plan` left out, and why
    full = _titled(render_markdown(reviews, limit=None)[0], env) + unplanned
    summary = Path(environ["GITHUB_STEP_SUMMARY"]) if environ.get("GITHUB_STEP_SUMMARY") else None
    room = summary_room(summary) if summary else 0
    full_review, summary_note = FULL_REVIEW, ""
    if summary and len(full.encode("utf-8")) + 1 <= room:
        full_review = f"[the job summary]({where.run_url})" if where.run_url else "the job summary of this run"
    wanted = bodies(reviews, env, full_review=full_review, note=unplanned)
    if summary:
        text, what = step_summary(full, wanted[0], room)
        if text:
            append_step_summary(summary, text)
        summary_note = f"; job summary: {what}"

    labels = label_family(env)
    wanted_labels = {labels[result]} | ({labels["blocked"]} if stop else set())
    outcome = Outcome()
    with where.client(args.timeout) as github:
        author = args.author or github.viewer_login() or FALLBACK_AUTHOR
        sync_comments(github, where.number, env, author, wanted, outcome)
        sync_labels(github, where.number, env, wanted_labels, outcome)

    labels_done = [f"+{name}" for name in outcome.added_labels] + [f"-{name}" for name in outcome.removed_labels]
    print(
        f"comment: {where.repository}#{where.number} {env}: {summary_line(summary_counts([r.plan for r in reviews]))}; "
        f"comments as {author} {outcome.comments_line()}; labels {', '.join(labels_done) or 'unchanged'}{summary_note}"
    )
    if stop:
        print(f"comment: {len(stop)} blocking guardrail finding(s); `deploy` will refuse these plans")
        return 1
    return 0


__all__ = ["STEP_SUMMARY_LIMIT", "add_commands", "label_family", "marker", "parse_marker", "run", "sticky_name"]
