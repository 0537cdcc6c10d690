"""Commands that act on one environment (release, test-pool render, signoff) resolve ``--env`` through
one function, :func:`qualisys_infra.config.resolve_environment_name`: ``all`` and names of no file are
refused in one line, exit 2."""

from __future__ import annotations

import pytest

from qualisys_infra.commands.cli import main
from qualisys_infra.config import resolve_environment_name
from qualisys_infra.core.errors import UsageError
from tests.conftest import ENV_DIR, ROOT


def test_one_environment_is_its_own_name() -> None:
    assert resolve_environment_name("staging", ENV_DIR) == "staging"


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        ("all", "--env: got 'all', expected one environment"),
        ("qa", r"--env: got 'qa', expected an environment of environments/\*\.tfvars \(dev, staging, production\)$"),
    ],
)
def test_all_or_a_name_of_no_file_is_refused(requested: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        resolve_environment_name(requested, ENV_DIR)


@pytest.mark.parametrize(
    "argv",
    [
        ["test-pool", "render", "--env", "all", "--image", "r/qualisys-playwright-runner:1.0"],
        ["release", "--env", "all", "--service", "hello", "--image-tag", "0123abc"],
        ["signoff", "--env", "all", "--only", "1"],
    ],
    ids=["test-pool render", "release", "signoff"],
)
def test_every_one_environment_command_refuses_all(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(["--project-dir", str(ROOT), *argv]) == 2
    err = capsys.readouterr().err
    assert err == "error: --env: got 'all', expected one environment\n"
