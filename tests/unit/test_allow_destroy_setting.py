"""``allow_destroy`` in an environment's tfvars: the reviewed, standing source of a destroy allowance."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualisys_infra.config import load_environment
from qualisys_infra.core.errors import ConfigError

ENV_DIR = Path(__file__).resolve().parents[2] / "environments"


def _dev_with(tmp_path: Path, setting: str) -> Path:
    path = tmp_path / "dev.tfvars"
    path.write_text((ENV_DIR / "dev.tfvars").read_text(encoding="utf-8") + "\n" + setting + "\n", encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_environment(path, "environments/dev.tfvars")
    return info.value.lines()


def test_the_shipped_environments_allow_no_destroy() -> None:
    for name in ("dev", "staging", "production"):
        assert dict(load_environment(ENV_DIR / f"{name}.tfvars").allow_destroy) == {}


def test_allow_destroy_maps_stack_kinds_to_resource_addresses(tmp_path: Path) -> None:
    path = _dev_with(
        tmp_path,
        'allow_destroy = {\n  data = ["aws_db_instance.postgres", "module.db.aws_kms_key.this[0]"]\n'
        '  network = ["aws_s3_bucket.logs[\\"flow\\"]"]\n}',
    )
    config = load_environment(path)
    assert dict(config.allow_destroy) == {
        "data": ("aws_db_instance.postgres", "module.db.aws_kms_key.this[0]"),
        "network": ('aws_s3_bucket.logs["flow"]',),
    }


def test_fails_if_allow_destroy_names_a_stack_kind_that_does_not_exist(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, 'allow_destroy = {\n  database = ["aws_db_instance.postgres"]\n}')
    (line,) = _errors(path)
    assert line.startswith("environments/dev.tfvars:")
    assert line.endswith(
        'allow_destroy.database: got "database", expected a stack kind: network, cluster, data, platform, apps'
    )


@pytest.mark.parametrize(
    "address",
    ["aws_db_instance", "data.aws_iam_policy_document.x", "aws_db_instance.postgres extra", "*", "module.db"],
)
def test_fails_if_allow_destroy_holds_something_else_than_a_resource_address(tmp_path: Path, address: str) -> None:
    path = _dev_with(tmp_path, f'allow_destroy = {{\n  data = ["{address}"]\n}}')
    (line,) = _errors(path)
    assert f'allow_destroy.data[0]: got "{address}", expected a managed resource\'s address' in line


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ('allow_destroy = ["aws_db_instance.postgres"]', "expected a map from a stack kind"),
        ('allow_destroy = {\n  data = "aws_db_instance.postgres"\n}', "expected a list"),
    ],
)
def test_fails_if_allow_destroy_is_not_a_map_of_lists(tmp_path: Path, setting: str, expected: str) -> None:
    (line,) = _errors(_dev_with(tmp_path, setting))
    assert "allow_destroy" in line and expected in line
