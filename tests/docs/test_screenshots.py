"""Screenshots the docs show: a plan review (``qualisys-infra review --format markdown`` of a fixture
plan, rendered as a pull-request comment is) and a merged test report (``qualisys-infra report
--html`` of a real two-shard run), taken in headless Chromium.

Every run takes both into a temporary folder and checks them; ``make docs-screenshots`` runs this file
with ``QUALISYS_DOCS_ASSETS=docs/assets`` to replace the committed ones. The docs must show both.
"""

from __future__ import annotations

import os
import re
import shutil
import string
import struct
from pathlib import Path

import markdown  # type: ignore[import-untyped]
import pytest

from qualisys_infra.commands.cli import main
from tests.conftest import ROOT
from tests.docs import site
from tests.report.conftest import run_shard, write_project

ASSETS = ROOT / "docs" / "assets"
SCREENSHOTS = ("review.png", "report.png")
FIXTURE = (
    ROOT
    / "tests"
    / "fixtures"
    / "plans"
    / ("fugue_regula__rego__tests__rules__tf__aws__security_group__inputs__ingress_anywhere_infra.json")
)
ALERTS = {"CAUTION": "#d1242f", "WARNING": "#9a6700", "NOTE": "#0969da", "TIP": "#1a7f37", "IMPORTANT": "#8250df"}
COMMENT_CSS = """
body { font-family: "DejaVu Sans", sans-serif; font-size: 14px; line-height: 1.5; color: #1f2328;
       max-width: 1100px; margin: 16px auto; padding: 16px 24px; border: 1px solid #d1d9e0; border-radius: 6px; }
h2 { border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; }
code, pre { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; background: #f6f8fa; border-radius: 4px; }
code { padding: .1em .3em; } pre { padding: 8px 12px; overflow: auto; } pre code { padding: 0; }
blockquote { margin: 0 0 16px; padding: 0 1em; border-left: .25em solid #d1d9e0; }
details { margin: 4px 0; } summary { cursor: pointer; }
"""


def comment_html(text: str) -> str:
    """A review's Markdown as a page that looks like the pull-request comment (alerts coloured)."""
    renderer = markdown.Markdown(extensions=["tables", "fenced_code"])
    renderer.ESCAPED_CHARS.extend(c for c in string.punctuation if c not in renderer.ESCAPED_CHARS)  # as GitHub
    body = renderer.convert(text).replace("<details>", "<details open>", 1)  # one change's diff, unfolded
    for kind, colour in ALERTS.items():
        body = body.replace(
            f"<blockquote>\n<p>[!{kind}]",
            f'<blockquote style="border-left-color: {colour}">\n<p><strong style="color: {colour}">'
            f"{kind.title()}</strong><br>",
        )
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{COMMENT_CSS}</style></head><body>{body}</body></html>"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """review.html and report.html, made by the toolkit's own commands."""
    out = tmp_path_factory.mktemp("screenshot-pages")
    plans = out / "plans"
    plans.mkdir()
    shutil.copy2(FIXTURE, plans / "dev-network.json")  # a stack's name, as `plan` writes it
    review = out / "review.md"
    code = main(["--quiet", "--project-dir", str(ROOT), "review", str(plans / "dev-network.json"), "--format",
                 "markdown", "--no-cost", "--output", str(review)])  # fmt: skip
    assert code == 1, "the fixture's open ingress (G003) blocks"
    (out / "review.html").write_text(comment_html(review.read_text(encoding="utf-8")), encoding="utf-8")
    project = write_project(out / "calc-project")
    shards = [run_shard(project, k, 2, out) for k in (1, 2)]
    code = main(["--quiet", "--project-dir", str(ROOT), "report", "--key", "tests", "--title", "Infrastructure tests",
                 "--shards", "2", "--junit", *[str(j) for j, _ in shards], "--coverage", *[str(c) for _, c in shards],
                 "--html", str(out / "report.html")])  # fmt: skip
    assert code == 1, "the tiny project's planted failures"
    return out


def test_review_and_report_screenshots(pages: Path, tmp_path: Path) -> None:
    missing = site.missing_browser()
    assert not missing, missing
    target = Path(os.environ.get("QUALISYS_DOCS_ASSETS", "") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    with site.serve(pages) as base, site.chromium() as driver:
        site.screenshot(driver, base + "review.html", target / "review.png")
        site.screenshot(driver, base + "report.html", target / "report.png")
    for name in SCREENSHOTS:
        width, height = png_size(target / name)
        assert width >= 1000 and height >= 400, (name, width, height)
        assert (target / name).stat().st_size > 20_000, f"{name}: too small to show a page"


def test_the_docs_show_the_committed_screenshots() -> None:
    shown = {
        name: [
            p.relative_to(ROOT).as_posix()
            for p in sorted((ROOT / "docs").rglob("*.md"))
            if f"assets/{name}" in p.read_text(encoding="utf-8")
        ]
        for name in SCREENSHOTS
    }
    for name, where in shown.items():
        assert (ASSETS / name).is_file(), f"docs/assets/{name} missing: run `make docs-screenshots`"
        assert png_size(ASSETS / name)[0] >= 1000
        assert where, f"no page in docs/ shows assets/{name}"
    assert all(re.fullmatch(r"docs/[\w/-]+\.md", p) for where in shown.values() for p in where)
