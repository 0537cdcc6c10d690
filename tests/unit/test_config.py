"""The tfvars loader: the shipped files load, and every validation rule fails with its message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qualisys_infra.config import (
    load_account,
    load_environment,
    load_settings,
    resolve_environment_names,
)
from qualisys_infra.core.errors import ConfigError, UsageError
from qualisys_infra.core.settings import NatMode
from tests.conftest import ENVIRONMENT_NAMES

ENV_DIR = Path(__file__).resolve().parents[2] / "environments"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _dev_with(tmp_path: Path, old: str, new: str, *, name: str = "dev.tfvars") -> Path:
    text = (ENV_DIR / "dev.tfvars").read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in dev.tfvars"
    return _write(tmp_path, name, text.replace(old, new, 1))


def _errors(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_environment(path, f"environments/{path.name}")
    return info.value.lines()


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# --- the shipped files ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_shipped_environment_loads(name: str) -> None:
    env = load_environment(ENV_DIR / f"{name}.tfvars")
    assert env.environment == name
    assert env.az_count >= 2
    assert len(env.public_subnet_cidrs) == len(env.private_subnet_cidrs) == env.az_count


def test_spec_values_per_environment() -> None:
    envs = {n: load_environment(ENV_DIR / f"{n}.tfvars") for n in ENVIRONMENT_NAMES}
    assert envs["dev"].vpc_cidr == "10.0.0.0/16"
    assert envs["dev"].nat_mode is NatMode.SINGLE
    assert envs["production"].nat_mode is NatMode.PER_AZ
    assert envs["dev"].rds_instance_class == "db.t3.medium"
    assert envs["production"].rds_instance_class == "db.r5.large"
    assert envs["production"].rds_multi_az and envs["staging"].rds_multi_az
    assert envs["dev"].node_groups.general.instance_types == ("t3.medium",)
    assert envs["dev"].node_groups.playwright.instance_types == ("c5.xlarge",)
    assert envs["staging"].log_retention_days == 30
    assert envs["production"].log_retention_days == 90
    assert len({e.vpc_cidr for e in envs.values()}) == 3


def test_settings_are_frozen() -> None:
    env = load_environment(ENV_DIR / "dev.tfvars")
    with pytest.raises(AttributeError):
        env.az_count = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        env.tags["Owner"] = "someone"  # type: ignore[index]


def test_account_loads() -> None:
    account = load_account(ENV_DIR / "account.tfvars")
    assert account.state_bucket_name == "qualisys-terraform-state"
    assert account.lock_table_name == "terraform-state-lock"
    assert account.state_key_alias == "alias/qualisys-terraform-state"
    assert account.state_noncurrent_version_retention_days == 30


# --- file-level failures -------------------------------------------------------------------------


def test_fails_if_file_is_missing(tmp_path: Path) -> None:
    assert _errors(tmp_path / "dev.tfvars") == [
        "environments/dev.tfvars:1: file: not found, expected an HCL file of `key = value` lines"
    ]


def test_fails_if_file_is_not_utf8(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, '"engineering"', '"ingenier\u00eda"')
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    assert _errors(path) == [
        f"environments/dev.tfvars:{_line_of_bytes(path, b'ingenier')}: file: not UTF-8 text (byte 0xed at column 26); "
        "save the file as UTF-8"
    ]


def _line_of_bytes(path: Path, needle: bytes) -> int:
    return next(n for n, line in enumerate(path.read_bytes().splitlines(), start=1) if needle in line)


def test_fails_if_hcl_is_broken(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, 'region      = "us-east-1"', 'region      = "us-east-1')
    (line,) = _errors(path)
    assert line.startswith(f"environments/dev.tfvars:{_line_of(path, 'region')}: syntax: not valid HCL")


def test_fails_if_key_is_set_twice(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "az_count    = 2", "az_count    = 2\naz_count = 3")
    (line,) = _errors(path)
    assert line == (
        f"environments/dev.tfvars:{_line_of(path, 'az_count = 3')}: az_count: set twice "
        f"(first on line {_line_of(path, 'az_count    = 2')}), expected each key once"
    )


def test_fails_if_a_block_is_used(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "az_count    = 2", 'az_count    = 2\nvariable "x" {\n}')
    assert any("blocks are not allowed in tfvars" in e for e in _errors(path))


# --- structure: unknown, missing, types ------------------------------------------------------------


def test_fails_if_key_is_unknown_and_suggests_the_closest(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "nat_mode              =", "nat_mod               =")
    errors = _errors(path)
    assert errors == [
        f"environments/dev.tfvars:{_line_of(path, 'nat_mod ')}: nat_mod: unknown key, did you mean `nat_mode`?"
    ]


def test_fails_if_required_key_is_missing(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, 'vpc_cidr              = "10.0.0.0/16"\n', "")
    assert "environments/dev.tfvars:1: vpc_cidr: missing required key, expected an IPv4 network" in _errors(path)[0]


def test_fails_if_nested_key_is_missing(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "    desired_size   = 2\n", "")
    (line,) = _errors(path)
    assert line.startswith(
        f"environments/dev.tfvars:{_line_of(path, 'general = {')}: node_groups.general.desired_size:"
    )
    assert "missing required key" in line


def test_fails_if_type_is_wrong(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "az_count    = 2", 'az_count    = "2"')
    (line,) = _errors(path)
    assert line == (
        f'environments/dev.tfvars:{_line_of(path, "az_count")}: az_count: got "2" (a string), '
        "expected a whole number of AZs (2 to 6)"
    )


def test_fails_if_bool_is_a_string(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "rds_multi_az                  = false", 'rds_multi_az = "no"')
    (line,) = _errors(path)
    assert line.endswith('rds_multi_az: got "no" (a string), expected true or false')


def test_fails_if_number_is_a_bool(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "    max_size       = 4", "    max_size       = true")
    (line,) = _errors(path)
    assert "node_groups.general.max_size: got true (a bool), expected" in line


def test_fails_if_list_item_has_wrong_type(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, '["t3.medium"]', '["t3.medium", 5]')
    (line,) = _errors(path)
    assert "node_groups.general.instance_types[1]: got 5 (a number), expected a string" in line


def test_fails_if_value_is_an_expression(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, 'region      = "us-east-1"', "region      = var.region")
    (line,) = _errors(path)
    assert line == (
        f'environments/dev.tfvars:{_line_of(path, "var.region")}: region: got "${{var.region}}", expected a '
        'literal value (tfvars take no expressions): Terraform would evaluate "${"; write "$${" for a literal "${"'
    )


_INTERPOLATION = 'Terraform would evaluate "${"; write "$${" for a literal "${"'
_DIRECTIVE = 'Terraform would evaluate "%{"; write "%%{" for a literal "%{"'


@pytest.mark.parametrize(
    ("old", "new", "needle", "field", "message"),
    [
        (
            '"engineering"',
            '"%{ if true }X%{ endif }"',
            "endif",
            "tags.CostCenter",
            f'got "%{{ if true }}X%{{ endif }}", expected a literal value (tfvars take no expressions): {_DIRECTIVE}',
        ),
        (
            '"engineering"',
            '"eng-${local.x}"',
            "local.x",
            "tags.CostCenter",
            f'got "eng-${{local.x}}", expected a literal value (tfvars take no expressions): {_INTERPOLATION}',
        ),
        (
            '"engineering"',
            '"\\u0024{local.x}"',
            "u0024",
            "tags.CostCenter",
            f'got "${{local.x}}", expected a literal value (tfvars take no expressions): {_INTERPOLATION}',
        ),
        (
            '"engineering"',
            '"$$$${x}%{ if a }y%{ endif }"',
            "endif",
            "tags.CostCenter",
            f'got "$$$${{x}}%{{ if a }}y%{{ endif }}", expected a literal value (tfvars take no expressions): {_DIRECTIVE}',
        ),
        (
            "CostCenter  =",
            '"Cost%{ if true }x%{ endif }" =',
            "Cost%",
            "tags.Cost%{ if true }x%{ endif }",
            f'got key "Cost%{{ if true }}x%{{ endif }}", expected a literal value (tfvars take no expressions): {_DIRECTIVE}',
        ),
        (
            "CostCenter  =",
            '"Cost${x}" =',
            "Cost$",
            "tags.Cost${x}",
            f'got key "Cost${{x}}", expected a literal value (tfvars take no expressions): {_INTERPOLATION}',
        ),
        (
            "  dev = {",
            '  "dev${x}" = {',
            "dev$",
            "namespaces.dev${x}",
            f'got key "dev${{x}}", expected a literal value (tfvars take no expressions): {_INTERPOLATION}',
        ),
        (
            '["t3.medium"]',
            '["t3.medium", "%{ if true }t3.large%{ endif }"]',
            "t3.large",
            "node_groups.general.instance_types[1]",
            'got "%{ if true }t3.large%{ endif }", expected a literal value (tfvars take no expressions): '
            + _DIRECTIVE,
        ),
        (
            '["t3.medium"]',
            '["${local.t}"]',
            "local.t",
            "node_groups.general.instance_types[0]",
            f'got "${{local.t}}", expected a literal value (tfvars take no expressions): {_INTERPOLATION}',
        ),
        (
            'CostCenter  = "engineering"',
            "CostCenter  = <<EOT\n%{ if true }X%{ endif }\nEOT",
            "CostCenter",
            "tags.CostCenter",
            f'got "%{{ if true }}X%{{ endif }}", expected a literal value (tfvars take no expressions): {_DIRECTIVE}',
        ),
    ],
    ids=[
        "directive-in-a-map-value",
        "interpolation-in-a-map-value",
        "interpolation-spelled-with-a-unicode-escape",
        "directive-after-an-escape",
        "directive-in-a-map-key",
        "interpolation-in-a-map-key",
        "interpolation-in-a-key-of-a-map-of-objects",
        "directive-in-a-list-item",
        "interpolation-in-a-list-item",
        "directive-in-a-heredoc",
    ],
)
def test_fails_if_a_string_holds_a_terraform_template_sequence(
    tmp_path: Path, old: str, new: str, needle: str, field: str, message: str
) -> None:
    """Every string of a tfvars file reaches cdk.tf.json, where Terraform evaluates `${` and `%{`."""
    path = _dev_with(tmp_path, old, new)
    assert _errors(path) == [f"environments/dev.tfvars:{_line_of(path, needle)}: {field}: {message}"]


def test_fails_if_a_template_directive_is_unterminated(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, '"engineering"', '"%{ for a in b }x"')
    assert _errors(path) == [
        f"environments/dev.tfvars:{_line_of(path, 'for a')}: syntax: not valid HCL: "
        "Unterminated template for directive; expected `key = value` lines"
    ]


def test_escaped_template_sequences_are_kept_as_terraform_reads_them(tmp_path: Path) -> None:
    """`$${` and `%%{` stay escaped in the settings, so the JSON Terraform reads holds the escape."""
    path = _dev_with(tmp_path, '"engineering"', '"b%%{ if x }$$${y}"')
    env = load_environment(path, "environments/dev.tfvars")
    assert dict(env.tags) == {"Environment": "dev", "CostCenter": "b%%{ if x }$$${y}"}


def test_fails_if_enum_value_is_unknown(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, 'nat_mode              = "single"', 'nat_mode = "per-az"')
    (line,) = _errors(path)
    assert line.endswith('nat_mode: got "per-az", expected one of "single", "per_az" (did you mean "per_az"?)')


# --- values ------------------------------------------------------------------------------------------


def test_fails_if_environment_does_not_match_file_name(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, 'environment = "dev"', 'environment = "staging"')
    errors = _errors(path)
    assert 'environments/dev.tfvars:3: environment: got "staging", expected "dev" (the file\'s own name)' in errors


def test_fails_if_region_is_invalid(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, '"us-east-1"', '"useast1"')
    assert 'region: got "useast1", expected an AWS region' in _errors(path)[0]


def test_fails_if_az_count_is_below_two(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "az_count    = 2", "az_count    = 1")
    errors = _errors(path)
    assert any("az_count: got 1, expected a whole number from 2 to 6" in e for e in errors)


def test_fails_if_cidr_is_invalid(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, '"10.0.0.0/16"', '"10.0.0.300/16"')
    errors = _errors(path)
    assert errors[0].startswith(f'environments/dev.tfvars:{_line_of(path, "vpc_cidr")}: vpc_cidr: got "10.0.0.300/16"')
    assert "expected an IPv4 network in CIDR notation" in errors[0]


def test_fails_if_cidr_has_host_bits_and_suggests_the_network(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, '"10.0.0.0/16"', '"10.0.0.1/16"')
    assert '(did you mean "10.0.0.0/16"?)' in _errors(path)[0]


def test_fails_if_vpc_is_public_or_too_large(tmp_path: Path) -> None:
    assert "expected a private range" in _errors(_dev_with(tmp_path, '"10.0.0.0/16"', '"8.8.0.0/16"'))[0]
    assert "from /16 to /24" in _errors(_dev_with(tmp_path, '"10.0.0.0/16"', '"10.0.0.0/8"'))[0]


def test_fails_if_subnet_is_outside_the_vpc(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, '"10.0.1.0/24"]', '"10.9.1.0/24"]')
    (line,) = _errors(path)
    assert line == (
        f"environments/dev.tfvars:{_line_of(path, 'public_subnet_cidrs')}: public_subnet_cidrs[1]: "
        'got "10.9.1.0/24", expected a network inside vpc_cidr "10.0.0.0/16"'
    )


def test_fails_if_subnets_overlap(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, '["10.0.8.0/24", "10.0.9.0/24"]', '["10.0.8.0/24", "10.0.0.0/23"]')
    (line,) = _errors(path)
    assert line.endswith(
        'database_subnet_cidrs[1]: got "10.0.0.0/23", which overlaps public_subnet_cidrs[0] "10.0.0.0/24"'
    )


def test_fails_if_subnet_count_differs_from_az_count(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, '["10.0.8.0/24", "10.0.9.0/24"]', '["10.0.8.0/24"]')
    assert _errors(path) == [
        f"environments/dev.tfvars:{_line_of(path, 'database_subnet_cidrs')}: database_subnet_cidrs: "
        "got 1 networks, expected one per AZ (az_count = 2)"
    ]


def test_fails_if_min_is_above_max(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "    min_size       = 1", "    min_size       = 5")
    errors = _errors(path)
    assert (
        f"environments/dev.tfvars:{_line_of(path, 'max_size       = 4')}: node_groups.general.max_size: got 4, expected >= min_size (5)"
        in errors
    )
    assert any("node_groups.general.desired_size: got 2, expected >= min_size (5)" in e for e in errors)


def test_fails_if_desired_is_above_max(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "    desired_size   = 2", "    desired_size   = 9")
    (line,) = _errors(path)
    assert line.endswith("node_groups.general.desired_size: got 9, expected <= max_size (4)")


@pytest.mark.parametrize(
    ("group", "old", "cap"), [("general", "max_size       = 4", 10), ("playwright", "max_size       = 5", 20)]
)
def test_fails_if_node_group_exceeds_the_spec_cap(tmp_path: Path, group: str, old: str, cap: int) -> None:
    path = _dev_with(tmp_path, old, f"max_size       = {cap + 1}")
    errors = _errors(path)
    assert any(
        f"node_groups.{group}.max_size: got {cap + 1}, expected a whole number from 1 to {cap} (the spec's cap" in e
        for e in errors
    )


def test_fails_if_node_group_name_is_unknown(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "  playwright = {", "  playwrite = {")
    errors = _errors(path)
    assert any("node_groups.playwrite: unknown key, did you mean `playwright`?" in e for e in errors)


def test_fails_if_retention_is_not_a_cloudwatch_value(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "flow_log_retention_days = 30", "flow_log_retention_days = 45")
    (line,) = _errors(path)
    assert re.search(
        r"flow_log_retention_days: got 45, expected a CloudWatch retention period \(1, 3, .*nearest is 30\)",
        line,
    )


def test_fails_if_deletion_protection_or_failover_is_off_in_a_pipeline_environment(tmp_path: Path) -> None:
    text = (ENV_DIR / "staging.tfvars").read_text(encoding="utf-8")
    text = text.replace("redis_replicas_per_shard      = 1", "redis_replicas_per_shard = 0")
    path = _write(tmp_path, "staging.tfvars", text + "rds_deletion_protection = false\n")
    errors = _errors(path)
    assert any(
        'rds_deletion_protection: got false, expected true in staging (delivery = "pipeline"; only a manual' in e
        for e in errors
    )
    assert any("redis_replicas_per_shard: got 0, expected >= 1 in staging (Multi-AZ failover;" in e for e in errors)


def test_a_manual_environment_may_drop_protection_whatever_its_name(tmp_path: Path) -> None:
    # The rule follows delivery, not the name: staging's file made manual may drop protection, and a
    # copy named sandbox that stays in the pipeline may not.
    text = (ENV_DIR / "staging.tfvars").read_text(encoding="utf-8") + "rds_deletion_protection = false\n"
    manual = text.replace('delivery = "pipeline"', 'delivery = "manual"')
    assert manual != text
    assert not load_environment(_write(tmp_path, "staging.tfvars", manual), "environments/staging.tfvars").pipeline


def test_an_approved_environment_of_any_name_must_be_highly_available(tmp_path: Path) -> None:
    text = (ENV_DIR / "production.tfvars").read_text(encoding="utf-8").replace('"per_az"', '"single"')
    errors = _errors(_write(tmp_path, "production.tfvars", text))
    assert any('nat_mode: got "single", expected "per_az" in production' in e for e in errors)
    unapproved = text.replace("approval = true", "approval = false")
    assert unapproved != text
    assert not load_environment(_write(tmp_path, "production.tfvars", unapproved), "x").approval


def test_fails_if_production_is_not_highly_available(tmp_path: Path) -> None:
    text = (ENV_DIR / "production.tfvars").read_text(encoding="utf-8")
    text = text.replace('"per_az"', '"single"').replace("rds_multi_az                  = true", "rds_multi_az = false")
    path = _write(tmp_path, "production.tfvars", text)
    errors = _errors(path)
    assert any('nat_mode: got "single", expected "per_az" in production' in e for e in errors)
    assert any("rds_multi_az: got false, expected true in production" in e for e in errors)


def test_reports_every_violation_of_a_file_at_once(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, "az_count    = 2", 'az_count = "2"\nbogus = 1')
    text = path.read_text(encoding="utf-8").replace('"10.0.0.0/16"', '"10.0.0.1/16"')
    text = text.replace("    min_size       = 1", "    min_size       = 7")
    path.write_text(text, encoding="utf-8")
    errors = _errors(path)
    assert len(errors) == 5, errors
    assert [int(e.split(":")[1]) for e in errors] == sorted(int(e.split(":")[1]) for e in errors)
    assert all(e.startswith("environments/dev.tfvars:") for e in errors)


# --- account and cross-file rules ---------------------------------------------------------------------


def test_fails_if_bucket_name_is_invalid(tmp_path: Path) -> None:
    text = (ENV_DIR / "account.tfvars").read_text(encoding="utf-8")
    path = _write(tmp_path, "account.tfvars", text.replace('"qualisys-terraform-state"', '"Qualisys_State"'))
    with pytest.raises(ConfigError) as info:
        load_account(path, "environments/account.tfvars")
    assert 'state_bucket_name: got "Qualisys_State", expected an S3 bucket name' in info.value.lines()[0]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'github_repository             = "qualisys/qualisys"',
            'github_repository = "qualisys"',
            'github_repository: got "qualisys", expected "OWNER/REPO"',
        ),
        (
            '["main"]',
            '["feature/*"]',
            'github_deploy_branches[0]: got "feature/*", expected a branch name without wildcards',
        ),
        (
            "[500, 1000, 2000]",
            "[1000, 500]",
            "budget_limits_usd: got [1000, 500], expected increasing positive amounts",
        ),
        (
            '["platform-alerts@qualisys.example"]',
            '["not-an-email"]',
            'budget_alert_emails[0]: got "not-an-email", expected an e-mail address',
        ),
        (
            "anomaly_threshold_percent = 150",
            "anomaly_threshold_percent = 90",
            "anomaly_threshold_percent: got 90, expected a whole number from 101 to 1000",
        ),
        ('"qualisys-web"', '"web"', 'ecr_repositories[1]: got "web", expected a lower-case name like qualisys-api'),
        (
            "cloudtrail_retention_days      = 90",
            "cloudtrail_retention_days = 100",
            "cloudtrail_retention_days: got 100, expected a CloudWatch retention period",
        ),
    ],
)
def test_fails_if_an_account_setting_is_invalid(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = (ENV_DIR / "account.tfvars").read_text(encoding="utf-8")
    assert old in text, old
    path = _write(tmp_path, "account.tfvars", text.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_account(path, "environments/account.tfvars")
    (line,) = info.value.lines()
    assert message in line
    assert line.startswith(f"environments/account.tfvars:{_line_of(path, new)}:")


def test_fails_if_environment_networks_overlap(tmp_path: Path) -> None:
    for name in ("account", *ENVIRONMENT_NAMES):
        (tmp_path / f"{name}.tfvars").write_text((ENV_DIR / f"{name}.tfvars").read_text(encoding="utf-8"))
    staging = tmp_path / "staging.tfvars"
    staging.write_text(staging.read_text().replace("10.1.", "10.0."), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, ENVIRONMENT_NAMES, root=tmp_path.parent)
    (line,) = info.value.lines()
    assert line.startswith(f"{tmp_path.name}/staging.tfvars:{_line_of(staging, 'vpc_cidr')}: vpc_cidr:")
    dev_line = _line_of(tmp_path / "dev.tfvars", "vpc_cidr")
    assert f'overlaps {tmp_path.name}/dev.tfvars:{dev_line} vpc_cidr "10.0.0.0/16"' in line


def test_settings_collect_violations_of_every_file(tmp_path: Path) -> None:
    for name in ("account", *ENVIRONMENT_NAMES):
        (tmp_path / f"{name}.tfvars").write_text((ENV_DIR / f"{name}.tfvars").read_text(encoding="utf-8"))
    (tmp_path / "dev.tfvars").write_text("environment = \n", encoding="utf-8")
    (tmp_path / "production.tfvars").unlink()
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, ENVIRONMENT_NAMES)
    files = [line.split(":")[0] for line in info.value.lines()]
    assert files == [str(tmp_path / "dev.tfvars"), str(tmp_path / "production.tfvars")]


def test_resolves_environment_names() -> None:
    assert resolve_environment_names(["all"], ENV_DIR) == ("dev", "staging", "production")
    assert resolve_environment_names(["production", "dev"], ENV_DIR) == ("dev", "production")
    expected = (
        r"--env: got 'prod', expected an environment of environments/\*.tfvars \(dev, staging, production\) or all "
        r"\(did you mean production\?\)"
    )
    with pytest.raises(UsageError, match=expected):
        resolve_environment_names(["prod"], ENV_DIR)


# --- strings reach the JSON exactly as written: no control characters ----------------------------


def _string_settings(name: str) -> list[tuple[int, str, str]]:
    """(line, key, value) of every `key = "value"` line of a shipped file."""
    found = []
    for number, line in enumerate((ENV_DIR / name).read_text(encoding="utf-8").splitlines(), start=1):
        m = re.match(r'^\s*(\w+)\s*=\s*"([^"]*)"\s*$', line)
        if m:
            found.append((number, m.group(1), m.group(2)))
    return found


@pytest.mark.parametrize("name", ["account.tfvars", "dev.tfvars"])
@pytest.mark.parametrize("escape", ["\\n", "\\t", "\\r"])
def test_fails_if_any_string_setting_ends_in_a_control_character(tmp_path: Path, name: str, escape: str) -> None:
    """Every string of both kinds of file, each with a trailing newline (tab, CR): `re.match` with
    `$` once let `region = "us-east-1\\n"` and a bucket name ending in a newline through."""
    settings = _string_settings(name)
    assert len(settings) >= 5
    original = (ENV_DIR / name).read_text(encoding="utf-8").splitlines(keepends=True)
    for number, key, value in settings:
        lines = list(original)
        lines[number - 1] = lines[number - 1].replace(f'"{value}"', f'"{value}{escape}"', 1)
        path = _write(tmp_path, name, "".join(lines))
        with pytest.raises(ConfigError) as info:
            if name == "account.tfvars":
                load_account(path, f"environments/{name}")
            else:
                load_environment(path, f"environments/{name}")
        fields = [e.split(": ")[1] for e in info.value.lines()]
        assert [f for f in fields if re.search(rf"(^|\.){key}(\[\d+\])?$", f)], (key, info.value.lines())
        assert all("printable text" in e for e in info.value.lines()), info.value.lines()
        assert all("\n" not in e for e in info.value.lines()), "messages stay on one line"


def test_fails_if_a_tag_name_holds_a_newline(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, 'CostCenter  = "engineering"', '"Cost\\nCenter" = "engineering"')
    errors = _errors(path)
    assert errors == [
        f"environments/dev.tfvars:{_line_of(path, 'Cost')}: tags.Cost\\nCenter: "
        'got "Cost\\nCenter", expected printable text (it contains a newline)'
    ]


# --- public exposure is network arithmetic ------------------------------------------------------


@pytest.mark.parametrize(
    "cidrs",
    [
        '["0.0.0.0/0"]',
        '["0.0.0.0/1", "128.0.0.0/1"]',
        '["1.0.0.0/8"]',
        "[" + ", ".join(f'"{i * 4}.0.0.0/6"' for i in range(64)) + "]",
    ],
    ids=["internet", "two-halves", "a-public-slash-8", "sixty-four-sixths"],
)
def test_fails_if_eks_public_access_reaches_the_internet(tmp_path: Path, cidrs: str) -> None:
    path = _write(
        tmp_path,
        "dev.tfvars",
        (ENV_DIR / "dev.tfvars").read_text(encoding="utf-8") + f"\neks_public_access_cidrs = {cidrs}\n",
    )
    errors = _errors(path)
    assert len(errors) == 1, errors
    assert (
        f"environments/dev.tfvars:{_line_of(path, 'eks_public_access_cidrs')}: eks_public_access_cidrs: got networks reaching"
        in errors[0]
    )
    assert "expected office or VPN ranges" in errors[0]


def test_eks_public_access_takes_office_ranges(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "dev.tfvars",
        (ENV_DIR / "dev.tfvars").read_text(encoding="utf-8")
        + '\neks_public_access_cidrs = ["198.51.100.0/24", "1.2.3.4/32"]\n',
    )
    env = load_environment(path, "environments/dev.tfvars")
    assert env.eks_public_access_cidrs == ("198.51.100.0/24", "1.2.3.4/32")


# --- hostile structure ----------------------------------------------------------------------------


def test_fails_if_values_nest_thousands_deep(tmp_path: Path) -> None:
    path = _dev_with(tmp_path, 'nat_mode              = "single"', "nat_mode = " + "[" * 5000 + "]" * 5000)
    errors = _errors(path)
    assert errors == [
        f"environments/dev.tfvars:{_line_of(path, 'nat_mode')}: syntax: nested deeper than 32 lists or maps, "
        "expected flat settings"
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'eks_kubernetes_version = "1.36"',
            'eks_kubernetes_version = "1.29"',
            'eks_kubernetes_version: got "1.29", expected a version "1.30" or newer',
        ),
        (
            'eks_kubernetes_version = "1.36"',
            'eks_kubernetes_version = "1.x"',
            'eks_kubernetes_version: got "1.x", expected a version "1.30" or newer',
        ),
        (
            "az_count    = 2",
            'az_count    = 2\nredis_engine_version = "6.2"',
            'redis_engine_version: got "6.2", expected a Redis version "7.0" or newer',
        ),
    ],
)
def test_fails_if_a_version_is_older_than_supported(tmp_path: Path, old: str, new: str, expected: str) -> None:
    errors = _errors(_dev_with(tmp_path, old, new))
    assert any(expected in e for e in errors), errors
