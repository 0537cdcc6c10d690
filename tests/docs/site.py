"""The documentation site as a reader gets it: built with ``mkdocs build --strict`` (as ``make docs``
builds it), served over HTTP on 127.0.0.1 and opened page by page in Debian's headless Chromium
(``/usr/bin/chromium`` driven through ``/usr/bin/chromedriver`` by selenium; ``make browser-tools``
installs both).

:func:`check_pages` opens pages and returns every problem a reader would meet: a link to a page that
is not there, a link to an anchor (``#id``) its page does not have, an image that did not load
(``naturalWidth`` 0), anything fetched from another host (the site is offline), and errors on the
browser's console.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MKDOCS_ENV = {"NO_MKDOCS_2_WARNING": "1"}  # Material's banner about MkDocs 2.0 (not an error of ours)

# What the browser reports about one page, read after its load event.
PAGE_FACTS = """
return {
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id)
       .concat([...document.querySelectorAll('a[name]')].map(a => a.name)),
  images: [...document.images].map(i => [i.currentSrc || i.src, i.complete ? i.naturalWidth : 0]),
  resources: performance.getEntriesByType('resource').map(r => r.name),
};
"""


def build(config: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``config`` into ``out``."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(out)],
        cwd=config.parent,
        env={**os.environ, **MKDOCS_ENV},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def copy_project_docs(target: Path) -> Path:
    """mkdocs.yml and docs/ copied into ``target`` (to plant faults in); the copy's mkdocs.yml."""
    shutil.copy2(ROOT / "mkdocs.yml", target / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", target / "docs")
    return target / "mkdocs.yml"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """``folder`` over HTTP on 127.0.0.1 (a free port); yields the base URL, ending in ``/``."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="docs-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def missing_browser() -> str:
    """Why the browser check cannot run here, or ``""``."""
    absent = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    return (
        f"{', '.join(absent)} missing: run `make browser-tools` (Debian's chromium and chromium-driver)"
        if absent
        else ""
    )


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """Debian's Chromium, headless, through Debian's chromedriver (no driver downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespaces for the sandbox
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class _Page:
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


def pages_of(site: Path) -> list[str]:
    """Every HTML page of a built site, as paths relative to it (``index.html``, ``reference/cli.html``)."""
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))


def _target(site: Path, base: str, url: str) -> str | None:
    """The site page ``url`` points at (relative to ``site``), ``""`` when it is not a file there, or
    None when ``url`` leaves the site (another host, mailto:, javascript:)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or f"{parts.scheme}://{parts.netloc}/" != base:
        return None
    path = unquote(parts.path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path if (site / path).is_file() else ""


def check_pages(driver: Any, base: str, site: Path, pages: Sequence[str]) -> list[str]:
    """Open each of ``pages`` (paths in ``site``, served at ``base``); every problem found, one line each."""
    problems: list[str] = []
    seen: dict[str, _Page] = {}
    driver.get_log("browser")  # drop anything logged before the first page
    for page in pages:
        driver.get(base + page)
        facts = driver.execute_script(PAGE_FACTS)
        seen[page] = _Page(links=list(facts["links"]), ids=set(facts["ids"]))
        for src, width in facts["images"]:
            if not width:
                problems.append(f"{page}: image {src} did not load (naturalWidth 0)")
        for resource in facts["resources"]:
            if not resource.startswith((base, "data:", "blob:")):
                problems.append(f"{page}: fetched {resource} from outside the site (the site must work offline)")
        for entry in driver.get_log("browser"):
            if entry.get("level") == "SEVERE":
                problems.append(f"{page}: console error: {entry.get('message', '')}")
    ids_of: dict[str, set[str]] = {page: facts.ids for page, facts in seen.items()}
    for page, facts in seen.items():
        for link in facts.links:
            url, fragment = urldefrag(link)
            target = _target(site, base, url)
            if target is None:
                continue
            if target == "":
                problems.append(f"{page}: broken link {link} (no such page)")
                continue
            if fragment and not fragment.startswith("__"):  # Material's own toggles (#__drawer, #__search)
                if target not in ids_of:
                    driver.get(base + target)
                    ids_of[target] = set(driver.execute_script(PAGE_FACTS)["ids"])
                if unquote(fragment) not in ids_of[target]:
                    problems.append(f"{page}: broken anchor {link} (no id {fragment!r} on {target})")
    return problems


def screenshot(driver: Any, url: str, out: Path, *, width: int = 1200, max_height: int = 1800) -> None:
    """A PNG of the page at ``url``: ``width`` wide, as tall as the page (up to ``max_height``)."""
    driver.set_window_size(width, 900)
    driver.get(url)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(width, min(max(height, 400), max_height))
    out.write_bytes(driver.get_screenshot_as_png())
