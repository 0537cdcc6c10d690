"""Environments are data (issue 25): every environments/<name>.tfvars but account.tfvars is one.

A copy of the project gets a qa.tfvars (staging's file with its own name, network, hosts and
namespace) and every reader of environments finds it: the loader, Settings.deliveries, --env, and the
rules between environments, which fail with one line naming the file and line (exit 2 at the CLI).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.commands.cli import main
from qualisys_infra.config import environment_names, load_settings, read_environments, resolve_environment_names
from qualisys_infra.config.hclfile import read_hcl
from qualisys_infra.config.reader import Reader
from qualisys_infra.core.errors import ConfigError, UsageError
from qualisys_infra.core.settings import AccountConfig, Delivery, EnvironmentConfig, EnvironmentDelivery
from tests.conftest import ENV_DIR

QA_CIDR = "10.3.0.0/16"


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def qa_text(name: str = "qa", cidr: str = QA_CIDR) -> str:
    """staging.tfvars as a new user would copy it: its own name, network, hosts and namespace."""
    text = (ENV_DIR / "staging.tfvars").read_text(encoding="utf-8")
    second = cidr.split(".")[1]
    text = text.replace('environment = "staging"', f'environment = "{name}"')
    text = text.replace('"10.1.', f'"10.{second}.')
    text = text.replace("staging.qualisys.dev", f"{name}.qualisys.dev")
    text = text.replace('Environment = "staging"', f'Environment = "{name}"')
    # its own namespace, a copy of staging's (the apps stack deploys into it)
    start = text.index("  staging = {")
    block = text[start : text.index("}", start) + 2]
    return text.replace(block, block + block.replace("  staging = {", f"  {name} = {{"), 1)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A copy of the project's environments/ with qa.tfvars added."""
    env_dir = tmp_path / "environments"
    env_dir.mkdir()
    for path in ENV_DIR.glob("*.tfvars"):
        (env_dir / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (env_dir / "qa.tfvars").write_text(qa_text(), encoding="utf-8")
    yield tmp_path


def _errors(project: Path, names: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(project / "environments", names, root=project)
    return info.value.lines()


# --- a new file is a new environment ------------------------------------------------------------------


def test_the_shipped_environments_keep_their_order_and_delivery() -> None:
    assert environment_names(ENV_DIR) == ("dev", "staging", "production")
    settings = load_settings(ENV_DIR, ("dev",), root=ENV_DIR.parent)
    assert settings.deliveries == (
        EnvironmentDelivery(name="dev", region="us-east-1", delivery=Delivery.MANUAL, approval=False),
        EnvironmentDelivery(name="staging", region="us-east-1", delivery=Delivery.PIPELINE, approval=False),
        EnvironmentDelivery(name="production", region="us-east-1", delivery=Delivery.PIPELINE, approval=True),
    )
    assert settings.pipeline_environments == ("staging", "production")


def test_a_copy_of_staging_is_a_fourth_environment(project: Path) -> None:
    env_dir = project / "environments"
    assert environment_names(env_dir) == ("dev", "qa", "staging", "production")
    settings = load_settings(env_dir, resolve_environment_names(["qa"], env_dir), root=project)
    (qa,) = settings.environments
    assert (qa.environment, qa.vpc_cidr, qa.delivery, qa.approval) == ("qa", QA_CIDR, Delivery.PIPELINE, False)
    assert [d.name for d in settings.deliveries] == ["dev", "qa", "staging", "production"]
    assert settings.pipeline_environments == ("qa", "staging", "production")
    everything = load_settings(env_dir, resolve_environment_names(["all"], env_dir), root=project)
    assert [e.environment for e in everything.environments] == ["dev", "qa", "staging", "production"]


def test_every_delivery_is_read_whichever_environments_are_loaded(project: Path) -> None:
    settings = load_settings(project / "environments", (), root=project)
    assert settings.environments == ()
    assert len(settings.deliveries) == 4


def test_order_is_manual_then_pipeline_then_approval_each_by_name(project: Path) -> None:
    env_dir = project / "environments"
    sandbox = qa_text("sandbox", "10.4.0.0/16").replace('delivery = "pipeline"', 'delivery = "manual"')
    (env_dir / "sandbox.tfvars").write_text(sandbox, encoding="utf-8")
    eu = qa_text("production-eu", "10.5.0.0/16").replace("\napproval = false", "\napproval = true")
    (env_dir / "production-eu.tfvars").write_text(eu, encoding="utf-8")
    assert environment_names(env_dir) == ("dev", "sandbox", "qa", "staging", "production", "production-eu")


def test_delivery_defaults_to_manual_without_approval(project: Path) -> None:
    qa = project / "environments" / "qa.tfvars"
    text = qa.read_text(encoding="utf-8").replace('delivery = "pipeline"\n', "").replace("approval = false\n", "")
    qa.write_text(text, encoding="utf-8")
    (entry,) = [e for e in read_environments(project / "environments") if e.name == "qa"]
    assert (entry.delivery, entry.approval) == (Delivery.MANUAL, False)


def test_unknown_environment_lists_the_files_found(project: Path) -> None:
    with pytest.raises(UsageError) as info:
        resolve_environment_names(["q"], project / "environments")
    assert str(info.value) == (
        "--env: got 'q', expected an environment of environments/*.tfvars (dev, qa, staging, production) or all "
        "(did you mean qa?)"
    )


# --- rules across environments: one line each, naming the file and line ---------------------------------


def test_fails_if_networks_overlap_naming_both_files(project: Path) -> None:
    qa = project / "environments" / "qa.tfvars"
    qa.write_text(
        qa.read_text(encoding="utf-8").replace('vpc_cidr              = "10.3.0.0/16"', 'vpc_cidr = "10.1.0.0/16"')
    )
    staging = project / "environments" / "staging.tfvars"
    lines = [line for line in _errors(project) if "vpc_cidr" in line.split(": ")[1]]
    assert lines == [
        f'environments/staging.tfvars:{_line_of(staging, "vpc_cidr ")}: vpc_cidr: got "10.1.0.0/16", which overlaps '
        f'environments/qa.tfvars:{_line_of(qa, "vpc_cidr =")} vpc_cidr "10.1.0.0/16"; expected a separate network per '
        "environment (so they can be peered)"
    ]


def test_fails_if_a_name_is_not_a_dns_label(project: Path) -> None:
    env_dir = project / "environments"
    (env_dir / "qa.tfvars").rename(env_dir / "QA.tfvars")
    qa = env_dir / "QA.tfvars"
    assert _errors(project) == [
        f'environments/QA.tfvars:{_line_of(qa, "environment =")}: environment: "QA" is not a DNS label: expected '
        "1-63 lower-case letters, digits and single -, from a letter to a letter or digit "
        '(did you mean "qa"?): rename the file and its `environment`'
    ]


@pytest.mark.parametrize("name", ["all", "bootstrap", "-qa", "qa-", "q--a", "1qa", "q_a", "qa.eu"])
def test_fails_if_a_name_is_reserved_or_malformed(project: Path, name: str) -> None:
    env_dir = project / "environments"
    (env_dir / "qa.tfvars").rename(env_dir / f"{name}.tfvars")
    (line,) = _errors(project)
    assert line.startswith(f"environments/{name}.tfvars:3: environment: ")
    assert ("is reserved" if name in ("all", "bootstrap") else "is not a DNS label") in line


def test_fails_if_two_files_name_the_same_environment(project: Path) -> None:
    qa = project / "environments" / "qa.tfvars"
    qa.write_text(qa.read_text(encoding="utf-8").replace('environment = "qa"', 'environment = "staging"'))
    assert _errors(project) == [
        'environments/qa.tfvars:3: environment: got "staging", which is staging.tfvars\'s own, expected "qa" '
        "(the file's own name)"
    ]


def test_fails_if_a_name_is_too_long_for_the_names_built_from_it(project: Path) -> None:
    env_dir = project / "environments"
    name = "performance-testing-eu-west-1x"  # 30 characters: qualisys-<name>-apply is 45
    assert len(name) == 30
    (env_dir / "qa.tfvars").unlink()
    (env_dir / f"{name}.tfvars").write_text(qa_text(name), encoding="utf-8")
    load_settings(env_dir, (), root=project)  # fits exactly
    longer = name + "y"
    (env_dir / f"{name}.tfvars").unlink()
    (env_dir / f"{longer}.tfvars").write_text(qa_text(longer), encoding="utf-8")
    assert _errors(project) == [
        f'environments/{longer}.tfvars:3: environment: got "{longer}", which makes a runner scale set\'s name '
        f'(actions-runner-controller) "qualisys-{longer}-apply" 46 characters, over its limit of 45: expected a '
        'name of at most 30 characters with project "qualisys"'
    ]


def test_fails_if_approval_is_asked_of_a_manual_environment(project: Path) -> None:
    qa = project / "environments" / "qa.tfvars"
    text = qa.read_text(encoding="utf-8").replace('delivery = "pipeline"', 'delivery = "manual"')
    qa.write_text(text.replace("\napproval = false", "\napproval = true"))
    (line,) = _errors(project)
    assert line.startswith(
        f"environments/qa.tfvars:{_line_of(qa, 'approval = true')}: approval: got true with delivery"
    )


def test_fails_if_a_bad_delivery_is_in_a_file_not_loaded(project: Path) -> None:
    qa = project / "environments" / "qa.tfvars"
    qa.write_text(qa.read_text(encoding="utf-8").replace('delivery = "pipeline"', 'delivery = "ci"'))
    (line,) = _errors(project, ("dev",))
    assert line.startswith(f'environments/qa.tfvars:{_line_of(qa, "delivery =")}: delivery: got "ci", expected one of')


def test_fails_if_two_environments_share_a_host(project: Path) -> None:
    qa = project / "environments" / "qa.tfvars"
    qa.write_text(qa.read_text(encoding="utf-8").replace('"grafana.qa.qualisys.dev"', '"grafana.staging.qualisys.dev"'))
    staging = project / "environments" / "staging.tfvars"
    (line,) = _errors(project)
    assert line == (
        f"environments/staging.tfvars:{_line_of(staging, 'grafana_domain ')}: grafana_domain: got "
        f'"grafana.staging.qualisys.dev", which is environments/qa.tfvars:{_line_of(qa, "grafana_domain ")} '
        "grafana_domain: expected a host of this environment's own (each environment's certificate and DNS "
        "record name it)"
    )


def test_fails_if_the_environment_has_no_namespace_of_its_own(project: Path) -> None:
    (project / "environments" / "qa.tfvars").write_text(qa_text().replace("  qa = {", "  other = {"), encoding="utf-8")
    qa = project / "environments" / "qa.tfvars"
    errors = _errors(project, ("qa",))
    assert errors == [
        f'environments/qa.tfvars:{_line_of(qa, "namespaces =")}: namespaces: has no "qa", expected the '
        "environment's own namespace (its apps deploy there): add namespaces.qa with a quota",
        f'environments/qa.tfvars:{_line_of(qa, "  other = {")}: namespaces.other: got namespace "other", expected '
        "the platform's own (monitoring, playwright-pool) or an environment's (dev, qa, staging, production)",
    ]


# --- bounds: written once, in the settings' field metadata, and checked by the reader ------------------


def _bounded(cls: type[Any], raw: Mapping[str, Any], path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (key path, field) with ``bounds`` below ``cls``, read at ``raw``'s shape."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if "bounds" in f.metadata:
            yield (*path, f.name), f
        elif dataclasses.is_dataclass(tp):
            yield from _bounded(typing.cast(type[Any], tp), raw.get(f.name, {}), (*path, f.name))
        elif typing.get_origin(tp) is Mapping and dataclasses.is_dataclass(typing.get_args(tp)[1]):
            first = next(iter(raw.get(f.name, {})))
            yield from _bounded(typing.get_args(tp)[1], raw[f.name][first], (*path, f.name, first))


def _cases() -> Iterator[Any]:
    for cls, file in ((EnvironmentConfig, "dev.tfvars"), (AccountConfig, "account.tfvars")):
        raw = read_hcl(ENV_DIR / file, file).values
        for path, f in _bounded(cls, raw, ()):
            low, high = f.metadata["bounds"]
            for value in (low - 1, high + 1):
                yield pytest.param(cls, file, path, value, (low, high), id=f"{'.'.join(path)}={value}")


@pytest.mark.parametrize(("cls", "file", "path", "value", "bounds"), list(_cases()))
def test_the_reader_checks_every_fields_bounds(
    cls: type[Any], file: str, path: tuple[str, ...], value: int, bounds: tuple[int, int]
) -> None:
    doc = read_hcl(ENV_DIR / file, file)
    target: dict[str, Any] = doc.values
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    reader = Reader(doc)
    reader.read(cls, doc.values, ())
    name = re.escape(".".join(path))
    messages = [f"{v.field}: {v.message}" for v in reader.violations]
    assert any(
        re.fullmatch(rf"{name}: got {value}, expected a whole number from {bounds[0]} to {bounds[1]}", m)
        for m in messages
    ), messages


def test_bounds_cover_the_ranges_the_rules_used_to_write() -> None:
    """The ranges moved from rules.py into the table: none was lost (21 of them)."""
    fields = {(case.values[0], case.values[2][-1]) for case in _cases()}
    assert len(fields) == 21


# --- through the command line: `environments` and its JSON, the workflows' input ------------------------


def _cli(capsys: pytest.CaptureFixture[str], project: Path, *argv: str) -> tuple[int, str, str]:
    from qualisys_infra.commands.cli import main

    code = main(["--project-dir", str(project), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_environments_lists_the_copy(capsys: pytest.CaptureFixture[str], project: Path) -> None:
    code, out, err = _cli(capsys, project, "environments")
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split()[:3] for line in lines[1:5]] == [
        ["dev", "us-east-1", "manual"],
        ["qa", "us-east-1", "pipeline"],
        ["staging", "us-east-1", "pipeline"],
        ["production", "us-east-1", "pipeline"],
    ]
    assert lines[5].startswith("environments: 4 valid;")


def test_environments_json_has_every_environment_with_its_delivery(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    import json

    code, out, err = _cli(capsys, project, "environments", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["valid"] is True
    listed = [{k: v for k, v in e.items() if k != "settings"} for e in report["environments"]]
    assert listed == [
        {
            "name": n,
            "region": "us-east-1",
            "delivery": d,
            "approval": a,
            "vpc_cidr": c,
            "file": f"environments/{n}.tfvars",
        }
        for n, d, a, c in (
            ("dev", "manual", False, "10.0.0.0/16"),
            ("qa", "pipeline", False, QA_CIDR),
            ("staging", "pipeline", False, "10.1.0.0/16"),
            ("production", "pipeline", True, "10.2.0.0/16"),
        )
    ]
    qa = report["environments"][1]["settings"]
    assert qa["namespaces"]["qa"]["pods"] == 80 and qa["node_groups"]["playwright"]["max_size"] == 17


@pytest.mark.parametrize(
    ("case", "file", "start"),
    [
        ("overlap", "staging.tfvars", 'vpc_cidr: got "10.1.0.0/16", which overlaps environments/qa.tfvars:'),
        ("bad-name", "QA.tfvars", 'environment: "QA" is not a DNS label'),
        ("duplicate", "qa.tfvars", 'environment: got "staging", which is staging.tfvars\'s own'),
    ],
)
def test_the_cli_gives_one_line_with_file_and_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], project: Path, case: str, file: str, start: str
) -> None:
    env_dir = project / "environments"
    qa = env_dir / "qa.tfvars"
    if case == "overlap":
        qa.write_text(qa_text(cidr="10.1.0.0/16"), encoding="utf-8")  # staging's network, subnets and all
        needle = "vpc_cidr "
    elif case == "bad-name":
        qa.rename(env_dir / "QA.tfvars")
        needle = "environment ="
    else:
        qa.write_text(qa.read_text(encoding="utf-8").replace('environment = "qa"', 'environment = "staging"'))
        needle = "environment ="
    for argv in (["environments"], ["--quiet", "synth", "--env", "dev"]):
        code, out, err = _cli(capsys, project, *argv)
        assert (code, out) == (2, ""), err
        (line,) = err.splitlines()
        assert line.startswith(f"error: environments/{file}:{_line_of(env_dir / file, needle)}: {start}"), line


@pytest.mark.parametrize(
    "name",
    ["monitoring", "playwright-pool", "arc-systems", "arc-runners-plan", "arc-runners-apply", "default", "kube-x"],
)
def test_fails_if_a_name_is_a_namespace_the_platform_has(project: Path, name: str) -> None:
    # An environment's name is its namespace: named after the apply runners' namespace, its platform
    # stack would give the release role a Role there, and make a second namespace of that name.
    env_dir = project / "environments"
    (env_dir / "qa.tfvars").rename(env_dir / f"{name}.tfvars")
    (line,) = _errors(project)
    assert line.startswith(f"environments/{name}.tfvars:3: environment: ")
    assert "is a namespace the cluster or the platform has" in line


def test_fails_if_the_project_has_no_environment(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path in (project / "environments").glob("*.tfvars"):
        if path.name != "account.tfvars":
            path.unlink()
    assert main(["--project-dir", str(project), "environments"]) == 2
    assert capsys.readouterr().err == (
        "error: environments:1: environments: no environment files: expected at least one <name>.tfvars besides "
        "account.tfvars (copy staging.tfvars: docs/adding-an-environment.md)\n"
    )


def test_a_directory_named_like_an_environment_is_refused_and_hidden_files_are_not_environments(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_dir = project / "environments"
    (env_dir / ".#dev.tfvars").symlink_to("root@host.123:1")  # an editor's lock file, while dev is open
    assert environment_names(env_dir) == ("dev", "qa", "staging", "production")
    (env_dir / "sandbox.tfvars").mkdir()
    assert main(["--project-dir", str(project), "environments"]) == 2
    assert capsys.readouterr().err.startswith("error: environments/sandbox.tfvars:1: file: cannot be read")
