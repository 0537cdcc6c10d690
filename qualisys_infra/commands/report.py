"""``qualisys-infra report``: one test report from the JUnit XML and coverage of every shard.

Merges the shards (:mod:`qualisys_infra.delivery.report`: tests counted once each, coverage unioned by
line and branch), compares the coverage with a baseline (main's ``coverage.xml``) and writes it
where it is read:

- ``--post``: one sticky comment per pull request and ``--key``, the same mechanism as the plan
  review's (:func:`qualisys_infra.delivery.github.sync_sticky`): found again by its hidden marker
  ``<!-- qualisys-report:KEY -->`` and its author, edited in place, never posted twice, split into
  numbered parts over GitHub's 65,536 characters. Its second line is the hidden data line
  ``<!-- qualisys-report-data {...} -->`` that ``signoff`` reads (:func:`report.parse_report_data`);
- ``--summary``: the full report appended to ``$GITHUB_STEP_SUMMARY``, within the step's 1 MiB;
- ``--markdown OUT``, ``--html OUT`` (self-contained, kept as a CI artifact), ``--merged-coverage
  OUT`` (the union as one Cobertura file: the next baseline), ``--json`` (on standard output).

Exit codes: 0 every test passed and coverage is at or above ``--min-coverage``; 1 a test failed or
errored, a shard sent nothing (``--shards``) or coverage is below the minimum (everything is
written and posted all the same); 2 bad input (a missing or corrupt XML file, named with what is
wrong) or GitHub refused (token, permission, not found, rate limit: one line saying which).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from qualisys_infra.commands.context import Context
from qualisys_infra.core.argtypes import percent
from qualisys_infra.core.errors import UsageError
from qualisys_infra.core.files import write_all
from qualisys_infra.delivery.cobertura import coverage_xml
from qualisys_infra.delivery.github import (
    FALLBACK_AUTHOR,
    Outcome,
    add_pull_request_options,
    append_step_summary,
    fit_step_summary,
    fold,
    pull_request_context,
    sticky_bodies,
    summary_room,
    sync_sticky,
)
from qualisys_infra.delivery.report import Report, build_report, files_of, render_markdown, report_json, sticky_name
from qualisys_infra.delivery.report_html import render_html

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$")
HTML_ARTIFACT = "the HTML report (artifact `test-report`)"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "report",
        help="merge the JUnit XML and coverage of every test shard into one report: comment, job summary, HTML",
        description="Merge the JUnit XML (pytest --junitxml) and Cobertura coverage.xml files of every shard of a "
        "test run: tests counted once each, coverage unioned line by line and branch by branch. Compare the "
        "coverage with a baseline (main's coverage.xml). Write the report as Markdown, HTML, a sticky pull-request "
        "comment (--post: one per pull request and --key, updated in place) and the job summary (--summary). "
        "Exit 1 when a test failed or errored or coverage is below --min-coverage, 2 for a missing or corrupt "
        "input file or when GitHub refuses.",
    )
    parser.add_argument(
        "--key", required=True, metavar="KEY", help="which report this is, e.g. tests (one comment per key)"
    )
    parser.add_argument(
        "--title", required=True, metavar="TITLE", help="the report's heading, e.g. 'Infrastructure tests'"
    )
    parser.add_argument(
        "--junit", required=True, nargs="+", action="extend", type=Path, metavar="FILE", help="JUnit XML, one per shard"
    )
    parser.add_argument(
        "--coverage",
        required=True,
        nargs="+",
        action="extend",
        type=Path,
        metavar="FILE",
        help="Cobertura coverage.xml, one per shard",
    )
    parser.add_argument(
        "--baseline-coverage", type=Path, default=None, metavar="FILE", help="coverage.xml to compare with (main's)"
    )
    parser.add_argument(
        "--min-coverage",
        type=percent("--min-coverage"),
        default=None,
        metavar="PCT",
        help="exit 1 when coverage is below PCT percent",
    )
    parser.add_argument(
        "--shards",
        type=int,
        default=None,
        metavar="N",
        help="how many shards ran: each one without a JUnit file counts as an error",
    )
    parser.add_argument("--markdown", type=Path, default=None, metavar="OUT", help="write the full report as Markdown")
    parser.add_argument("--html", type=Path, default=None, metavar="OUT", help="write the report as one HTML page")
    parser.add_argument(
        "--merged-coverage", type=Path, default=None, metavar="OUT", help="write the union as one Cobertura file"
    )
    parser.add_argument("--post", action="store_true", help="post or update the report's comment on the pull request")
    parser.add_argument("--summary", action="store_true", help="append the report to $GITHUB_STEP_SUMMARY")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of one line")
    add_pull_request_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    environ = ctx.environ
    key: str = args.key
    if not _KEY.match(key):
        raise UsageError(f"--key: {key!r}: letters, digits, '.', '_' and '-' only, at most 30 characters")
    title = " ".join(str(args.title).split())
    if not title:
        raise UsageError("--title: empty")
    minimum: float | None = args.min_coverage
    if minimum is not None and not 0 <= minimum <= 100:
        raise UsageError(f"--min-coverage: {minimum:g} is not a percentage between 0 and 100")
    if args.shards is not None and args.shards < 1:
        raise UsageError(f"--shards: {args.shards} is not a number of shards")
    summary = Path(environ["GITHUB_STEP_SUMMARY"]) if environ.get("GITHUB_STEP_SUMMARY") else None
    if args.summary and summary is None:
        raise UsageError("--summary: $GITHUB_STEP_SUMMARY is not set (it is, in a GitHub Actions step)")
    where = pull_request_context(args, environ, "report") if args.post else None

    report = build_report(
        key,
        title,
        files_of(args.junit),
        files_of(args.coverage),
        baseline=args.baseline_coverage,
        min_coverage=minimum,
        shards=args.shards,
    )
    outputs: dict[str, tuple[Path, str]] = {}
    if args.html is not None:
        outputs["--html"] = (args.html, render_html(report))
    if args.markdown is not None:
        outputs["--markdown"] = (args.markdown, render_markdown(report, max_failures=None, max_drops=None))
    if args.merged_coverage is not None:
        outputs["--merged-coverage"] = (args.merged_coverage, coverage_xml(report.coverage))
    seen: dict[Path, str] = {}
    for option, (path, _) in outputs.items():
        if path.resolve() in seen:
            raise UsageError(f"{option}: {path} is also the {seen[path.resolve()]} output; give each its own file")
        seen[path.resolve()] = option
    # all or none: a report whose Markdown cannot be written leaves no HTML of it behind either
    write_all({path: text for path, text in outputs.values()}, what={path: o for o, (path, _) in outputs.items()})

    notes: list[str] = []
    full = render_markdown(report, max_failures=None, max_drops=None)
    in_summary = False
    if args.summary and summary is not None:
        room = summary_room(summary)
        in_summary = len(full.encode("utf-8")) + 1 <= room
    details = _details(where.run_url if where else None, in_summary, html=args.html is not None)
    wanted = sticky_bodies(sticky_name(key), fold(render_markdown(report, details=details)), what="report")
    if args.summary and summary is not None:
        text, what = fit_step_summary(
            full,
            wanted[0],
            summary_room(summary),
            name="the full report",
            note="The full report ({size:,} bytes) does not fit the job summary's 1 MiB; this is the first "
            "pull-request comment. Every test and file: " + HTML_ARTIFACT + ".",
        )
        if text:
            append_step_summary(summary, text)
        notes.append(f"job summary: {what}")

    if where is not None:
        outcome = Outcome()
        with where.client(args.timeout) as github:
            author = args.author or github.viewer_login() or FALLBACK_AUTHOR
            sync_sticky(github, where.number, sticky_name(key), author, wanted, outcome)
        notes.append(f"{where.repository}#{where.number}: comments as {author} {outcome.comments_line()}")

    if args.json:
        print(json.dumps(report_json(report), indent=2, ensure_ascii=False))
    else:
        print(f"report: {key}: {_line(report)}" + "".join(f"; {note}" for note in notes))
    return 0 if report.ok else 1


def _details(run_url: str | None, in_summary: bool, *, html: bool) -> str | None:
    places = []
    if in_summary:
        places.append(f"[the job summary]({run_url})" if run_url else "the job summary of this run")
    if html:
        places.append(HTML_ARTIFACT)
    return " and ".join(places) or None


def _line(report: Report) -> str:
    tests = report.tests
    delta = "" if report.delta is None else f" ({report.delta:+.2f} against main)"
    verdict = "passed" if report.ok else "failed (" + "; ".join(report.reasons()) + ")"
    return (
        f"{verdict}: {tests.passed:,} passed, {tests.failed:,} failed, {tests.errors:,} "
        f"error{'' if tests.errors == 1 else 's'}, "
        f"{tests.skipped:,} skipped of {tests.total:,}; coverage {report.percent:.2f} %{delta}"
    )


__all__ = ["add_commands", "run"]
