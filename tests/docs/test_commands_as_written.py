"""Every shell example in the README and the docs runs as written, or says what it needs.

A reader meets the examples in order: README.md, then the docs pages in the order of mkdocs.yml's
``nav``, then services/hello/README.md. Every fenced block whose info string is ``sh``, ``bash`` or
``console`` is an example. The line just above its opening fence (blank lines between are allowed)
may carry one marker, an HTML comment, which the rendered page does not show:

``<!-- needs: WHAT; WHAT -->``
    not run here; each WHAT is one of :data:`NEEDS` (an AWS account, a cluster, ...), so the marker
    says why in words the reader can act on.
``<!-- run-by: make test -->``
    not run again here, because ``make test`` itself runs it: every command of the block must be
    ``make TARGET`` with a target the Makefile's ``test`` rule runs (checked against the Makefile).
``<!-- exit: N -->``
    run, and the block's last command must exit N (an example of a refusal); the others exit 0.

An example without a marker is run, every command must exit 0. ``shell``, ``zsh`` and other shell
spellings are refused (say ``sh``), so that no example escapes the check by its spelling.

How they run: the project's files (``git ls-files``: the tracked ones, and new ones not ignored, as
the rest of the suite sees the working tree) are copied into a scratch folder, with ``.venv``,
``node_modules``, ``.tools`` and ``.cache`` linked in (what ``make setup`` made; the copies are dated
2000-01-01 so that make finds setup done and never reinstalls into the linked ``.venv``). Each page's
examples run in one bash, from the project folder, in order (a ``cd`` or an ``export`` holds for the
rest of that page, as in one terminal), with ``.venv/bin`` first on PATH and no ``QUALISYS_*``
variables inherited. In ``console`` blocks only the lines starting with ``$`` are commands; in the
others every line but comments is one, a trailing backslash joining lines.

The parsing and marker checks are in-process and run in ``make check``; running the examples
starts processes, needs PostgreSQL and Redis (the tour's tenants change the cluster-wide roles, so
the ``database`` fixture puts it in tests/tiers.py's ``postgres`` group) and runs in ``make test``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT

# What a block may need instead of running here, and why this machine cannot give it.
NEEDS = {
    "AWS credentials": "an AWS account and credentials: nothing on these machines reaches AWS",
    "saved plans": "plans/<env>/ written by `qualisys-infra plan`, which needs AWS credentials",
    "a cluster": "an EKS cluster the stacks applied, reached through its Kubernetes API",
    "a container runtime": "podman-compose or docker compose, and a registry to pull images from",
    "GitHub": "a GitHub repository, a pull request and a token",
    "Grafana": "a deployed Grafana and a service-account token",
    "checkov": "checkov's virtualenv (.tools/checkov, made by make scan and make test) and minutes of CPU; "
    "tests/synth/test_security.py runs the same gate in make test",
    "a quiet machine": "minutes of every core, and ratios that mean something only on a machine doing nothing else",
    "the network": "downloads from publishers other than PyPI, Debian and npm",
    "a server left running": "it serves until stopped (Ctrl-C), in a terminal of its own",
    "placeholders": "values to fill in first (written <LIKE_THIS>)",
}
SHELL_LANGUAGES = ("sh", "bash", "console")
REFUSED_LANGUAGES = ("shell", "zsh", "shell-session", "bash-session", "sh-session", "ksh", "fish", "terminal")
# The pages outside docs/ whose examples count, around the docs pages.
FIRST = "README.md"
LAST = ("services/hello/README.md",)
# The reading order when mkdocs.yml is not there (the docs site's nav, issue 28).
FALLBACK_NAV = (
    "index.md",
    "setup.md",
    "adding-an-environment.md",
    "plan-and-review.md",
    "deploy-and-release.md",
    "tenants.md",
    "local-platform.md",
    "signoff.md",
    "security.md",
    "architecture.md",
    "benchmarks.md",
    "troubleshooting.md",
)
TIMEOUT_PER_PAGE = 1800.0
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>[a-z-]+)\s*:\s*(?P<value>.*?)\s*-->\s*$")
ANY_COMMENT = re.compile(r"^\s*<!--.*-->\s*$")


class DocError(Exception):
    """A page's example or marker that breaks the rules above: ``file:line: what, what is expected``."""


@dataclass
class Example:
    page: str
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    needs: tuple[str, ...] = ()
    run_by: str | None = None
    exit_code: int = 0
    commands: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def runs(self) -> bool:
        return not self.needs and self.run_by is None


def _commands(language: str, text: str) -> list[str]:
    """The commands of a block, continuation lines joined."""
    commands: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not pending:
            if language == "console":
                if not line.startswith("$"):
                    continue  # output
                line = line[1:].lstrip()
            if not line.strip() or line.lstrip().startswith("#"):
                continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        commands.append(pending + line)
        pending = ""
    if pending:
        commands.append(pending)
    return commands


def _marker(page: str, lines: list[str], fence_index: int) -> tuple[str, str] | None:
    """The marker just above the fence at ``fence_index`` (0-based), if any."""
    i = fence_index - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    if i < 0:
        return None
    found = MARKER.match(lines[i])
    if found and found["kind"] in ("needs", "run-by", "exit"):
        return found["kind"], found["value"]
    if found and found["kind"].startswith(("need", "run", "exit", "skip", "expect")):
        raise DocError(f"{page}:{i + 1}: unknown marker `{found['kind']}`, expected `needs:`, `run-by:` or `exit:`")
    return None


def make_test_targets(makefile: Path = ROOT / "Makefile") -> frozenset[str]:
    """The targets ``make test`` runs: the ``test`` rule's prerequisites, the targets its recipe makes
    with ``$(MAKE)``, and ``test`` itself."""
    text = makefile.read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", text, flags=re.MULTILINE))
    rule = re.search(r"^test:(?P<prerequisites>[^#\n]*)(?:#[^\n]*)?\n(?P<recipe>(?:\t[^\n]*\n)*)", text, re.MULTILINE)
    if rule is None:
        raise DocError("Makefile: no `test:` rule, expected the target `make test` runs")
    ran = {"test"} | {word for word in rule["prerequisites"].split() if word in targets}
    for line in rule["recipe"].splitlines():
        if "$(MAKE)" in line:
            ran |= {word for word in line.split() if word in targets}
    return frozenset(ran)


def examples(page: str, text: str, run_by_make_test: frozenset[str] | None = None) -> list[Example]:
    """Every shell example of one page, with its marker checked. Raises :class:`DocError`."""
    lines = text.splitlines()
    found: list[Example] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            if MARKER.match(lines[i]) and MARKER.match(lines[i])["kind"] in ("needs", "run-by", "exit"):  # type: ignore[index]
                j = i + 1
                while j < len(lines) and not lines[j].strip():
                    j += 1
                if j == len(lines) or not FENCE.match(lines[j]):
                    raise DocError(f"{page}:{i + 1}: a marker with no code block after it, expected one right below")
            i += 1
            continue
        fence, info = opening["fence"], opening["info"].strip()
        language = info.split()[0].lower() if info else ""
        j = i + 1
        while j < len(lines):
            closing = FENCE.match(lines[j])
            if (
                closing
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            j += 1
        if j == len(lines):
            raise DocError(f"{page}:{i + 1}: a code block that is never closed, expected a closing {fence}")
        body = "\n".join(
            line[len(opening["indent"]) :] if line.startswith(opening["indent"]) else line for line in lines[i + 1 : j]
        )
        marker = _marker(page, lines, i)
        if language in REFUSED_LANGUAGES:
            raise DocError(
                f"{page}:{i + 1}: a `{language}` block, expected `sh` (or `console` with $ prompts) so that it is checked"
            )
        if language not in SHELL_LANGUAGES:
            if marker is not None:
                raise DocError(
                    f"{page}:{i + 1}: a `{marker[0]}:` marker on a `{language or 'plain'}` block, expected it on a shell block"
                )
            i = j + 1
            continue
        example = Example(page=page, line=i + 1, language=language, text=body, commands=_commands(language, body))
        if not example.commands:
            raise DocError(f"{example.where}: a shell block with no command, expected at least one")
        if marker is not None:
            kind, value = marker
            if kind == "needs":
                wants = tuple(part.strip() for part in value.split(";") if part.strip())
                unknown = [want for want in wants if want not in NEEDS]
                if not wants or unknown:
                    raise DocError(
                        f"{example.where}: needs {', '.join(map(repr, unknown)) or 'nothing'}, "
                        f"expected one or more of: {'; '.join(NEEDS)}"
                    )
                example.needs = wants
            elif kind == "run-by":
                if value != "make test":
                    raise DocError(f"{example.where}: run-by `{value}`, expected `run-by: make test`")
                targets = run_by_make_test if run_by_make_test is not None else make_test_targets()
                for command in example.commands:
                    words = shlex.split(command, comments=True)
                    if len(words) < 2 or words[0] != "make" or not all(w in targets for w in words[1:]):
                        raise DocError(
                            f"{example.where}: `{command}` is marked run by make test, expected only "
                            f"`make TARGET` with a target make test runs ({', '.join(sorted(targets))})"
                        )
                example.run_by = value
            else:
                if not re.fullmatch(r"[0-9]{1,3}", value) or int(value) == 0:
                    raise DocError(
                        f"{example.where}: exit `{value}`, expected the non-zero exit code of the last command"
                    )
                example.exit_code = int(value)
        found.append(example)
        i = j + 1
    return found


def reading_order(root: Path = ROOT) -> list[str]:
    """README.md, the docs pages in mkdocs.yml's nav order (then any other docs/*.md), the hello README."""
    docs = root / "docs"
    nav: list[str] = []
    mkdocs = root / "mkdocs.yml"
    if mkdocs.is_file():
        text = mkdocs.read_text(encoding="utf-8")
        section = re.search(r"^nav:\s*\n(?P<body>(?:[ \t-][^\n]*\n?)*)", text, re.MULTILINE)
        if section:
            nav = re.findall(r"([\w./-]+\.md)\s*$", section["body"], re.MULTILINE)
    if not nav:
        nav = list(FALLBACK_NAV)
    pages = [FIRST]
    for name in nav:
        if "/" not in name and (docs / name).is_file() and f"docs/{name}" not in pages:
            pages.append(f"docs/{name}")
    pages += (
        sorted(f"docs/{p.name}" for p in docs.glob("*.md") if f"docs/{p.name}" not in pages) if docs.is_dir() else []
    )
    pages += [page for page in LAST if (root / page).is_file()]
    return pages


def all_examples(root: Path = ROOT) -> list[Example]:
    targets = make_test_targets(root / "Makefile")
    found: list[Example] = []
    for page in reading_order(root):
        found += examples(page, (root / page).read_text(encoding="utf-8"), targets)
    return found


# --- the rules, each with a planted page that breaks it (in-process: make check) ---


def test_every_example_is_run_or_says_what_it_needs() -> None:
    found = all_examples()
    assert any(example.runs for example in found), "no example runs: the tour must"
    readme_runs = [example for example in found if example.page == FIRST and example.runs]
    assert readme_runs, "README.md's tour must run here"


def test_the_docs_home_page_lists_every_marker_and_need() -> None:
    home = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for text in ("<!-- exit: N -->", "<!-- run-by: make test -->", "<!-- needs: WHAT; WHAT -->", *NEEDS):
        assert f"`{text}`" in home, f"docs/index.md does not explain `{text}`"


def test_the_reading_order_starts_with_the_readme_and_follows_the_nav(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    for name in ("index.md", "b.md", "a.md", "extra.md"):
        (tmp_path / "docs" / name).write_text("# x\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("# r\n", encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: x\nnav:\n  - Home: index.md\n  - Journeys:\n      - B: b.md\n      - A: a.md\n"
        "  - Reference:\n      - CLI: reference/cli.md\ntheme: {name: material}\n",
        encoding="utf-8",
    )
    assert reading_order(tmp_path) == ["README.md", "docs/index.md", "docs/b.md", "docs/a.md", "docs/extra.md"]


def test_an_unmarked_block_is_run_and_a_marked_one_is_not() -> None:
    page = "text\n\n```sh\nmake synth\n```\n\n<!-- needs: AWS credentials; a cluster -->\n```sh\nqualisys-infra deploy --env dev\n```\n"
    runnable, marked = examples("p.md", page, frozenset({"test"}))
    assert runnable.runs and runnable.commands == ["make synth"]
    assert not marked.runs and marked.needs == ("AWS credentials", "a cluster")


def test_console_blocks_run_only_the_prompted_lines_and_backslashes_join() -> None:
    page = "```console\n$ qualisys-infra review \\\n    plan.json\nPlan: 1 to add\n$ echo done\n```\n"
    (example,) = examples("p.md", page, frozenset())
    assert example.commands == ["qualisys-infra review      plan.json", "echo done"]


def test_other_blocks_are_not_examples() -> None:
    page = "```\ncdktf.out/\n```\n\n```python\nimport os\n```\n\n```hcl\nx = 1\n```\n"
    assert examples("p.md", page, frozenset()) == []


@pytest.mark.parametrize(
    ("page", "message"),
    [
        (
            "<!-- needs: a good reason -->\n```sh\nmake x\n```\n",
            "p.md:2: needs 'a good reason', expected one or more of",
        ),
        ("<!-- needs: -->\n```sh\nmake x\n```\n", "needs nothing, expected"),
        ("<!-- skip: slow -->\n```sh\nmake x\n```\n", "p.md:1: unknown marker `skip`"),
        ("<!-- exit: 0 -->\n```sh\nfalse\n```\n", "exit `0`, expected the non-zero exit code"),
        ("<!-- exit: one -->\n```sh\nfalse\n```\n", "exit `one`"),
        ("<!-- run-by: make test -->\n```sh\nmake dev\n```\n", "`make dev` is marked run by make test"),
        ("<!-- run-by: make test -->\n```sh\nrm -rf /\n```\n", "`rm -rf /` is marked run by make test"),
        ("<!-- run-by: ci -->\n```sh\nmake lint\n```\n", "expected `run-by: make test`"),
        ("<!-- needs: a cluster -->\n\ntext\n", "p.md:1: a marker with no code block after it"),
        ("<!-- needs: a cluster -->\n```yaml\na: 1\n```\n", "a `needs:` marker on a `yaml` block"),
        ("```shell\nmake synth\n```\n", "p.md:1: a `shell` block, expected `sh`"),
        ("```zsh\nmake synth\n```\n", "a `zsh` block"),
        ("```sh\n# only a comment\n```\n", "a shell block with no command"),
        ("```sh\nmake synth\n", "p.md:1: a code block that is never closed"),
    ],
)
def test_fails_if_a_block_escapes_the_check(page: str, message: str) -> None:
    with pytest.raises(DocError, match=re.escape(message)):
        examples("p.md", page, frozenset({"test", "lint"}))


def test_run_by_make_test_is_read_from_the_makefile(tmp_path: Path) -> None:
    makefile = tmp_path / "Makefile"
    makefile.write_text(
        "lint: setup ## x\n\t@true\nservices:\n\t@true\nscan:\n\t@true\n"
        "test: services $(CHECKOV) ## y\n\t@$(MAKE) -j3 lint\n\t@pytest\n",
        encoding="utf-8",
    )
    assert make_test_targets(makefile) == {"test", "services", "lint"}
    assert {"test", "lint", "service-hello", "services"} <= make_test_targets()


def test_the_benchmarks_page_names_what_make_bench_runs() -> None:
    """The benchmarks the page describes are the ones `make bench` runs, in its order (issue 28)."""
    listed = re.search(r"^BENCHMARKS\s*:=(.*)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert listed, "Makefile: no BENCHMARKS list"
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert re.findall(r"^\| `benchmarks/(bench_\w+)\.py` \|", page, re.MULTILINE) == listed[1].split()


def test_the_setup_page_names_the_columns_environments_prints(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/setup.md lists `environments`' columns in words; they are the ones it prints, in its order."""
    from qualisys_infra.commands.cli import main

    assert main(["--quiet", "--project-dir", str(ROOT), "environments"]) == 0
    printed = capsys.readouterr().out.splitlines()[0].split()
    page = (ROOT / "docs" / "setup.md").read_text(encoding="utf-8")
    sentence = page.split("`environments` validates every file and prints", 1)[1].split(", then the state", 1)[0]
    assert re.findall(r"`([A-Z][A-Z_]+)`", sentence) == printed


# --- running them (make test) ---


def _scratch_copy(target: Path) -> Path:
    """The project's files in ``target`` as the rest of the suite sees them (tracked, and new ones not yet
    added but not ignored), setup's output linked in."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    old = 946684800  # 2000-01-01: older than setup's stamps, so make never reinstalls into the linked .venv
    for name in filter(None, listed):
        source = ROOT / name
        if not source.is_file() or source.is_symlink():
            continue
        copy = target / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
        shutil.copymode(source, copy)
        os.utime(copy, (old, old))
    for made_by_setup in (".venv", "node_modules", ".tools", ".cache"):
        if (ROOT / made_by_setup).exists():
            (target / made_by_setup).symlink_to(ROOT / made_by_setup)
    return target


def _script(page_examples: list[Example], status: Path) -> str:
    """One bash script for a page: each command, then its exit code to ``status``; stop at a wrong one."""
    parts = ["exec 3>>" + shlex.quote(str(status))]
    for n, example in enumerate(page_examples):
        for k, command in enumerate(example.commands):
            expected = example.exit_code if k == len(example.commands) - 1 else 0
            parts += [
                f"printf '\\n$ %s\\n' {shlex.quote(command)}",
                command,
                "__qi_rc=$?",
                f'printf "%s %s %s\\n" {n} {k} "$__qi_rc" >&3',
                f'[ "$__qi_rc" -eq {expected} ] || exit 97',
            ]
    return "\n".join(parts) + "\nexit 0\n"


# The databases the examples create and drop: absent before they run, dropped after (a failed run leaves none).
TOUR_DATABASES = ("qualisys_tour", "qualisys_test_tour", "qualisys_test_docs")


@pytest.fixture
def database() -> Iterator[str]:
    """The README tour's database on the local PostgreSQL: absent before the tour (it runs createdb),
    dropped after it. The fixture's name puts this test in tests/tiers.py's postgres group: the tour's
    `tenants init` changes the cluster-wide roles the other database tests use."""
    import psycopg

    admin = os.environ.get("QUALISYS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in TOUR_DATABASES:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    drop()
    yield admin
    drop()


def run_page(page_examples: list[Example], project: Path, env: dict[str, str], work: Path) -> str | None:
    """Run one page's runnable examples in one bash in ``project``: None, or what went wrong."""
    name = page_examples[0].page.replace("/", "-")
    status, log = work / f"status-{name}", work / f"log-{name}"
    status.write_text("", encoding="utf-8")
    with log.open("w", encoding="utf-8") as out:
        subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", _script(page_examples, status)],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=TIMEOUT_PER_PAGE,
            check=False,
        )
    results = [tuple(int(x) for x in line.split()) for line in status.read_text(encoding="utf-8").splitlines()]
    tail = "\n".join(log.read_text(encoding="utf-8").splitlines()[-40:])
    for n, k, code in results:
        example = page_examples[n]
        wanted = example.exit_code if k == len(example.commands) - 1 else 0
        if code != wanted:
            return f"{example.where}: `{example.commands[k]}` exited {code}, expected {wanted}\n{tail}"
    expected = sum(len(example.commands) for example in page_examples)
    if len(results) != expected:
        return f"{page_examples[0].page}: {len(results)} of {expected} commands ran (the shell stopped)\n{tail}"
    return None


def reader_env(project: Path) -> dict[str, str]:
    """A reader's shell in ``project``: its .venv first on PATH, its code first, no QUALISYS_* settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("QUALISYS_")}
    env["PATH"] = f"{project / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(project)  # the copy's code, not the editable install's
    env.pop("VIRTUAL_ENV", None)
    return env


def test_fails_if_a_command_exits_otherwise_than_written(tmp_path: Path) -> None:
    page = (
        "```sh\ncd sub\nexport GREETING=hello\n```\n\n<!-- exit: 3 -->\n```sh\n"
        'test "$GREETING" = hello && test "$(basename "$PWD")" = sub\nsh -c \'exit 3\'\n```\n'
    )
    (tmp_path / "sub").mkdir()
    env = reader_env(tmp_path)
    assert run_page(examples("p.md", page, frozenset()), tmp_path, env, tmp_path) is None  # cd and export hold
    failing = examples("p.md", "```sh\ntrue\nfalse\necho never\n```\n", frozenset())
    assert (run_page(failing, tmp_path, env, tmp_path) or "").startswith("p.md:1: `false` exited 1, expected 0")
    wrong_code = examples("p.md", "<!-- exit: 2 -->\n```sh\nsh -c 'exit 1'\n```\n", frozenset())
    assert (run_page(wrong_code, tmp_path, env, tmp_path) or "").startswith(
        "p.md:2: `sh -c 'exit 1'` exited 1, expected 2"
    )
    stopped = examples("p.md", "```sh\nexit 0\necho never\n```\n", frozenset())
    assert "p.md: 0 of 2 commands ran (the shell stopped)" in (run_page(stopped, tmp_path, env, tmp_path) or "")


def test_every_runnable_example_runs_as_written(tmp_path: Path, database: str) -> None:
    found = all_examples()
    project = _scratch_copy(tmp_path / "project")
    env = reader_env(project)
    ran = 0
    for page in reading_order():
        page_examples = [example for example in found if example.page == page and example.runs]
        if page_examples:
            failure = run_page(page_examples, project, env, tmp_path)
            if failure:
                pytest.fail(failure)
            ran += len(page_examples)
    assert ran > 0
