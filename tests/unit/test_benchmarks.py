"""`make bench` runs every benchmark, and the one generated file the docs quote lists them all, with
the machine, date and commit (issue 28, "Say what the numbers are"). No benchmark is run here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks import report
from tests.conftest import ROOT

RESULTS = ROOT / "docs" / "benchmarks" / "results.md"


def benchmark_modules(root: Path = ROOT) -> list[str]:
    return sorted(p.stem for p in (root / "benchmarks").glob("bench_*.py"))


def make_bench(makefile: str) -> list[str]:
    """The benchmarks ``make bench`` runs: the BENCHMARKS variable, which the bench recipe must pass
    to benchmarks.report (and only it: a benchmark run beside it would miss the results file)."""
    found = re.search(r"^BENCHMARKS\s*:?=(.*)$", makefile, re.MULTILINE)
    recipe = re.search(r"^bench:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    if not found or not recipe:
        return []
    lines = recipe.group(1).splitlines()
    if len(lines) != 1 or "-m benchmarks.report" not in lines[0] or "$(BENCHMARKS)" not in lines[0]:
        return []
    return found.group(1).split()


def header_problems(text: str, benchmarks: list[str]) -> list[str]:
    """What the results file lacks: its title, a non-empty value for every header field, and for each
    benchmark an entry in the list and a section of its own."""
    problems = [] if text.startswith(report.TITLE + "\n") else [f"does not start with {report.TITLE!r}"]
    for field in report.FIELDS:
        row = re.search(rf"^\| {re.escape(field)} \| (.+) \|$", text, re.MULTILINE)
        if not row or not row.group(1).strip():
            problems.append(f"no {field!r} row")
    listed = text.split("\n## Benchmarks\n", 1)[-1].split("\n## ", 1)[0]
    for name in benchmarks:
        if f"[`{name}`](#{name})" not in listed:
            problems.append(f"{name} is not in the list of benchmarks")
        if f"\n## {name}\n" not in text:
            problems.append(f"{name} has no section")
    return problems


def test_make_bench_runs_every_benchmark() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert sorted(make_bench(makefile)) == benchmark_modules()


def test_a_benchmark_left_out_of_make_bench_is_noticed() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    without = re.sub(r"^(BENCHMARKS\s*:?=.*) bench_schema", r"\1", makefile, flags=re.MULTILINE)
    assert "bench_schema" not in make_bench(without)
    beside = makefile.replace("$(BENCHMARKS)\n", "$(BENCHMARKS)\n\t@$(BIN)/python -m benchmarks.bench_synth\n")
    assert make_bench(beside) == [], "a benchmark run outside the report does not count"


def test_the_results_file_lists_every_benchmark_with_machine_date_and_commit() -> None:
    assert RESULTS.is_file(), "run `make bench` and commit docs/benchmarks/results.md"
    assert header_problems(RESULTS.read_text(encoding="utf-8"), benchmark_modules()) == []


def test_a_results_file_without_a_field_or_a_benchmark_is_noticed() -> None:
    names = ["bench_a", "bench_b"]
    machine = report.Machine(cpus=2, model="Test CPU", memory_gib=8, kernel="Linux 6", python="3.11", node="v22")
    results = [report.Result("bench_a", "figure: 1.0 x floor\n", 0, 3.0), report.Result("bench_b", skipped="why")]
    good = report.render(results, host=machine, date="2026-12-06 10:00 UTC", commit="abc", load=("1", "2"))
    assert header_problems(good, names) == []
    assert "```text\nfigure: 1.0 x floor\n```" in good
    assert "not run in this run (why)" in good
    no_commit = re.sub(r"^\| git commit \|.*\n", "", good, flags=re.MULTILINE)
    assert header_problems(no_commit, names) == ["no 'git commit' row"]
    assert header_problems(good, [*names, "bench_c"]) == [
        "bench_c is not in the list of benchmarks",
        "bench_c has no section",
    ]


def test_report_lists_skipped_benchmarks_and_runs_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    machine = report.Machine(cpus=2, model="Test CPU", memory_gib=8, kernel="Linux 6", python="3.11", node="v22")
    monkeypatch.setattr(report, "machine", lambda _env: machine)

    def no_run(name: str, _env: dict[str, str]) -> report.Result:
        raise AssertionError(f"{name} was run")

    monkeypatch.setattr(report, "run", no_run)
    out = tmp_path / "results.md"
    names = benchmark_modules()
    argv = ["--output", str(out), *(a for n in names for a in ("--skip", n)), *names]
    assert report.main(argv) == 0
    text = out.read_text(encoding="utf-8")
    assert header_problems(text, names) == []
    assert re.search(r"^\| git commit \| `[0-9a-f]{40}", text, re.MULTILINE)


def test_report_refuses_an_unknown_benchmark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        report.main(["--output", str(tmp_path / "r.md"), "bench_nothing"])
    assert exc.value.code == 2
    assert "no benchmarks/bench_nothing.py" in capsys.readouterr().err


def test_the_generated_projects_are_valid_and_their_environments_apart(tmp_path: Path) -> None:
    """bench_environments' projects load as this toolkit's settings: 12 environments, named apart,
    networks apart (the loader's rules across environments), each added one a staging copy."""
    from benchmarks.bench_environments import make_project
    from qualisys_infra.config import environment_names, load_settings

    names = make_project(tmp_path / "project", 12, ROOT)
    env_dir = tmp_path / "project" / "environments"
    assert sorted(environment_names(env_dir)) == sorted(names)
    assert len(set(names)) == 12
    settings = load_settings(env_dir, names, root=tmp_path / "project")
    assert len({e.vpc_cidr for e in settings.environments}) == 12
    staging = next(e for e in settings.environments if e.environment == "staging")
    qa = next(e for e in settings.environments if e.environment == "qa09")
    assert (qa.vpc_cidr, qa.ingress_domain) == ("10.19.0.0/16", "qa09.qualisys.dev")
    assert qa.node_groups == staging.node_groups
