"""The documentation site builds with ``mkdocs build --strict`` and every built page, opened in
headless Chromium, has no broken link, anchor or image and fetches nothing from outside the site.

Both start processes (mkdocs, chromedriver), so ``make check`` defers them and ``make test`` runs them;
each has a twin that plants the fault in a copy and shows the check fails.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.docs import site


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's docs, built as `make docs` builds them, into a temporary folder."""
    out = tmp_path_factory.mktemp("site") / "site"
    result = site.build(ROOT / "mkdocs.yml", out)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}"
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    missing = site.missing_browser()
    assert not missing, missing
    with site.chromium() as driver:
        yield driver


def test_the_site_builds_strict_with_every_journey_and_reference_page(built: Path) -> None:
    pages = site.pages_of(built)
    for page in ("index.html", "setup.html", "plan-and-review.html", "troubleshooting.html", "reference/cli.html"):
        assert page in pages
    assert (built / "search" / "search_index.js").is_file(), "the offline plugin's inlined search index"


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    config = site.copy_project_docs(tmp_path)
    page = tmp_path / "docs" / "troubleshooting.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nSee [nowhere](no-such-page.md).\n", encoding="utf-8")
    result = site.build(config, tmp_path / "site")
    assert result.returncode == 1
    assert "no-such-page.md" in result.stderr


def test_every_page_opens_with_no_broken_link_anchor_or_image(built: Path, browser: object) -> None:
    with site.serve(built) as base:
        problems = site.check_pages(browser, base, built, site.pages_of(built))
    assert problems == []


def test_the_browser_check_finds_a_planted_broken_link_anchor_image_and_outside_fetch(
    built: Path, browser: object, tmp_path: Path
) -> None:
    broken = tmp_path / "site"
    shutil.copytree(built, broken)
    page = broken / "troubleshooting.html"
    planted = (
        '<a href="no-such-page.html">gone</a> <a href="index.html#no-such-anchor">moved</a> '
        '<img src="assets/no-such-image.png" alt="missing"> <img src="http://outside.invalid/outside.png" alt="outside">'
    )
    page.write_text(page.read_text(encoding="utf-8").replace("</article>", planted + "</article>", 1), encoding="utf-8")
    with site.serve(broken) as base:
        problems = site.check_pages(browser, base, broken, ["troubleshooting.html"])
    text = "\n".join(problems)
    assert f"troubleshooting.html: broken link {base}no-such-page.html (no such page)" in problems
    assert f"troubleshooting.html: broken anchor {base}index.html#no-such-anchor" in text
    assert f"troubleshooting.html: image {base}assets/no-such-image.png did not load (naturalWidth 0)" in problems
    assert "fetched http://outside.invalid/outside.png from outside the site" in text
