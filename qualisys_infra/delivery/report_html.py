"""The test report as one self-contained HTML page (the ``test-report`` artifact): every failure with
its traceback, the slowest tests and every file's coverage against the baseline. Everything from the
inputs is escaped by :mod:`qualisys_infra.core.github_text`, as in the Markdown."""

from __future__ import annotations

from qualisys_infra.core.github_text import html_block
from qualisys_infra.core.github_text import html_text as e
from qualisys_infra.delivery.report import Report, coverage_line, duration, plural

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:78em;padding:0 1em;
color:#1f2328}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;padding:.25em .6em;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}code,pre{font:12px ui-monospace,Menlo,Consolas,monospace}
pre{background:#f6f8fa;padding:.6em;overflow:auto;white-space:pre-wrap;max-height:30em}
.passed{color:#1a7f37}.failed,.error,.drop{color:#cf222e}.skipped{color:#9a6700}.up{color:#1a7f37}
"""


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML page: every failure with its traceback, the
    slowest tests and every file's coverage against the baseline. Everything from the inputs is escaped."""
    tests, coverage = report.tests, report.coverage
    verdict = "passed" if report.ok else "failed"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{e(report.title)}: {verdict}</title><style>{_STYLE}</style></head><body>",
        f'<h1>{e(report.title)}: <span class="{verdict}">{verdict}</span></h1>',
    ]
    if report.reasons():
        out.append(f"<p><strong>Failed</strong>: {e('; '.join(report.reasons()))}.</p>")
    shards = len(tests.shard_seconds) + tests.missing_shards
    out += [
        "<table><tr>"
        + "".join(f'<th class="n">{h}</th>' for h in ("passed", "failed", "errors", "skipped", "total"))
        + "<th>duration</th></tr><tr>"
        + "".join(
            f'<td class="n {cls}">{n:,}</td>'
            for cls, n in (
                ("passed", tests.passed),
                ("failed", tests.failed),
                ("error", tests.errors),
                ("skipped", tests.skipped),
                ("", tests.total),
            )
        )
        + f"<td>{e(duration(tests.seconds))} ({e(plural(shards, 'shard'))})</td></tr></table>",
        f"<p>{_coverage_html(report)}</p>",
    ]
    if tests.missing_shards:
        out.append(f'<p class="error">{e(plural(tests.missing_shards, "shard"))} sent no test results.</p>')
    problems = tests.problems()
    if problems:
        out.append(f"<h2>Failed ({len(problems):,})</h2>")
        for case in problems:
            label = "error" if case.outcome == "error" else "failed"
            out.append(
                f'<details><summary><span class="{label}">{label}</span> <code>{e(case.id, in_code=True)}</code>'
                f"{' — ' + e(case.first_line) if case.first_line else ''}</summary>"
                f"<pre>{html_block(case.details or case.message)}</pre></details>"
            )
    slowest = tests.slowest()
    if slowest:
        out.append(f"<h2>The {len(slowest)} slowest tests</h2>")
        out.append('<table><tr><th>test</th><th class="n">seconds</th><th>outcome</th></tr>')
        out += [
            f'<tr><td><code>{e(c.id, in_code=True)}</code></td><td class="n">{c.seconds:.2f}</td>'
            f'<td class="{c.outcome}">{c.outcome}</td></tr>'
            for c in slowest
        ]
        out.append("</table>")
    out.append(f"<h2>Coverage by file ({len(coverage.files):,})</h2>")
    out.append(
        '<table><tr><th>file</th><th class="n">lines</th><th class="n">branches</th><th class="n">coverage</th>'
        + ('<th class="n">main</th><th class="n">change</th>' if report.baseline else "")
        + "</tr>"
    )
    for name in sorted(coverage.files):
        file = coverage.files[name]
        row = (
            f"<tr><td><code>{e(name, in_code=True)}</code></td>"
            f'<td class="n">{file.lines_covered:,}/{file.lines_valid:,}</td>'
            f'<td class="n">{file.branches_covered:,}/{file.branches_valid:,}</td>'
            f'<td class="n">{file.percent:.2f} %</td>'
        )
        if report.baseline is not None:
            before = report.baseline.files.get(name)
            if before is None:
                row += '<td class="n">new</td><td class="n"></td>'
            else:
                change = round(file.percent, 2) - round(before.percent, 2)
                cls = "drop" if change < 0 else "up" if change > 0 else ""
                row += f'<td class="n">{before.percent:.2f} %</td><td class="n {cls}">{change:+.2f}</td>'
        out.append(row + "</tr>")
    out += ["</table>", "</body></html>"]
    return "\n".join(out) + "\n"


def _coverage_html(report: Report) -> str:
    text = e(coverage_line(report).replace("**", ""))
    return f"<strong>{text.split(' · ', 1)[0]}</strong>" + (" · " + text.split(" · ", 1)[1] if " · " in text else "")
