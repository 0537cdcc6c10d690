"""The provider-schema gate without the engine: the index, the check, the cache and check-schema.

Schemas come from the installed bindings' jsii assemblies through the project's cache (the first
run of a fresh checkout extracts them once, about 10 s). Cache tests use their own folder and the
small helm binding.
"""

from __future__ import annotations

import copy
import json
import marshal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.commands.cli import main
from qualisys_infra.core.errors import ToolkitError
from qualisys_infra.gates.schema import (
    SchemaError,
    SchemaReport,
    assert_matches_provider_schema,
    check_config,
    forget_loaded,
    load_index,
)
from qualisys_infra.gates.schema import index as schema_index
from tests.conftest import ROOT

META = {"//": {"metadata": {"path": "unit/logs/bucket", "uniqueId": "logs_bucket_1"}}}


def _config() -> dict[str, Any]:
    """A small configuration in the engine's JSON form that matches every schema."""
    return {
        "terraform": {
            "backend": {"s3": {"bucket": "state", "key": "unit/x.tfstate", "encrypt": True, "use_lockfile": True}},
            "required_providers": {"aws": {"source": "hashicorp/aws", "version": load_index("aws").provider_version}},
        },
        "provider": {"aws": [{"region": "us-east-1", "default_tags": [{"tags": {"Project": "unit"}}]}]},
        "data": {
            "aws_iam_policy_document": {
                "doc": {
                    "statement": [
                        {
                            "actions": ["s3:GetObject"],
                            "resources": ["${aws_s3_bucket.bucket.arn}/*"],
                            "principals": [{"type": "AWS", "identifiers": ["*"]}],
                        }
                    ]
                }
            },
            "terraform_remote_state": {
                "net": {"backend": "s3", "config": {"bucket": "state", "key": "dev/network.tfstate"}},
            },
        },
        "resource": {
            "aws_s3_bucket": {"bucket": {**META, "bucket": "logs", "force_destroy": False, "tags": {"a": "b"}}},
            "aws_s3_bucket_versioning": {
                "versioning": {
                    "//": {"metadata": {"path": "unit/logs/versioning"}},
                    "bucket": "${aws_s3_bucket.bucket.id}",
                    "versioning_configuration": {"status": "Enabled"},
                }
            },
            "aws_cloudwatch_log_group": {
                "group": {
                    "name": "/unit",
                    "retention_in_days": 30,
                    "count": 1,
                    "depends_on": ["aws_s3_bucket.bucket"],
                    "lifecycle": {"prevent_destroy": True, "ignore_changes": ["tags", "kms_key_id"]},
                    "provider": "aws",
                }
            },
        },
        "output": {"bucket": {"value": "${aws_s3_bucket.bucket.id}"}},
    }


def _messages(report: SchemaReport) -> list[str]:
    return [str(v) for v in report.violations]


# --- the index ---------------------------------------------------------------------------------


def test_index_holds_types_terraform_names_shapes_and_required() -> None:
    aws = load_index("aws")
    assert (aws.provider, aws.provider_source) == ("aws", "hashicorp/aws")
    assert len(aws.names("resource")) > 1000 and "aws_iam_policy_document" in aws.names("data")
    bucket = aws.block("resource", "aws_s3_bucket")
    assert bucket is not None
    assert bucket["bucket"] == (False, "string")
    assert bucket["force_destroy"] == (False, "bool")
    assert bucket["tags"] == (False, ("map", "string"))
    versioning = aws.block("resource", "aws_s3_bucket_versioning")
    assert versioning is not None
    assert versioning["bucket"][0] is True
    required, shape = versioning["versioning_configuration"]
    assert required is True and shape[0] == "object" and "status" in shape[1]
    assert aws.block("resource", "aws_s3_bucket_versionin") is None


def test_backends_come_from_the_core_package_in_snake_case() -> None:
    core = load_index("terraform")
    s3 = core.block("backend", "s3")
    assert s3 is not None
    assert {"bucket", "key", "kms_key_id", "use_lockfile", "ec2_metadata_service_endpoint"} <= set(s3)
    assert s3["bucket"] == (True, "string")
    assert {"s3", "local", "gcs", "azurerm", "cloud"} <= core.names("backend")


# --- the check -----------------------------------------------------------------------------------


def test_a_valid_configuration_passes_with_its_blocks_counted() -> None:
    report = check_config(_config(), "unit")
    assert report.ok, _messages(report)
    # 3 resources, 2 data sources, 1 provider, 1 backend
    assert report.checked == 7
    assert report.untyped == ()


def test_expressions_stand_for_any_value_anywhere() -> None:
    config = _config()
    bucket = config["resource"]["aws_s3_bucket"]["bucket"]
    bucket.update(force_destroy="${var.destroy}", tags="${local.tags}", object_lock_configuration="${local.x}")
    config["resource"]["aws_cloudwatch_log_group"]["group"]["retention_in_days"] = "${var.days}"
    config["resource"]["aws_cloudwatch_log_group"]["group"]["name"] = "/unit/%{if var.x}a%{endif}"
    assert check_config(config, "unit").ok


def test_fails_if_an_escaped_template_stands_where_a_block_belongs() -> None:
    """`$${` is Terraform's escape for a literal `${`: the string is a literal, not an expression."""
    config = _config()
    config["resource"]["aws_s3_bucket_versioning"]["versioning"]["versioning_configuration"] = "$${local.x}"
    assert _messages(check_config(config, "unit")) == [
        "unit: unit/logs/versioning (aws_s3_bucket_versioning.versioning): versioning_configuration: "
        "expected a block (an object), got the string '$${local.x}'"
    ]


def test_terraform_converts_numeric_and_boolean_strings_so_they_pass() -> None:
    config = _config()
    config["resource"]["aws_cloudwatch_log_group"]["group"]["retention_in_days"] = "30"
    config["resource"]["aws_s3_bucket"]["bucket"]["force_destroy"] = "false"
    config["resource"]["aws_s3_bucket"]["bucket"]["bucket"] = 12
    assert check_config(config, "unit").ok


def test_fails_if_an_attribute_is_misspelled() -> None:
    config = _config()
    config["resource"]["aws_s3_bucket"]["bucket"]["force_destory"] = True
    assert _messages(check_config(config, "unit")) == [
        "unit: unit/logs/bucket (aws_s3_bucket.bucket): force_destory: unknown attribute; did you mean 'force_destroy'?"
    ]


def test_fails_if_a_key_is_camel_case() -> None:
    config = _config()
    config["resource"]["aws_s3_bucket"]["bucket"]["forceDestroy"] = True
    assert _messages(check_config(config, "unit")) == [
        "unit: unit/logs/bucket (aws_s3_bucket.bucket): forceDestroy: unknown attribute (camelCase?); "
        "Terraform's name is 'force_destroy'"
    ]


def test_fails_if_a_string_stands_where_a_block_belongs() -> None:
    config = _config()
    config["resource"]["aws_s3_bucket_versioning"]["versioning"]["versioning_configuration"] = "Enabled"
    assert _messages(check_config(config, "unit")) == [
        "unit: unit/logs/versioning (aws_s3_bucket_versioning.versioning): versioning_configuration: "
        "expected a block (an object), got the string 'Enabled'"
    ]


def test_fails_if_a_required_attribute_is_missing() -> None:
    config = _config()
    del config["resource"]["aws_s3_bucket_versioning"]["versioning"]["versioning_configuration"]["status"]
    assert _messages(check_config(config, "unit")) == [
        "unit: unit/logs/versioning (aws_s3_bucket_versioning.versioning): versioning_configuration.status: "
        "missing required attribute"
    ]


def test_fails_if_an_attribute_of_a_neighbouring_resource_type_is_used() -> None:
    config = _config()
    config["resource"]["aws_s3_bucket"]["bucket"]["versioning_configuration"] = {"status": "Enabled"}
    (message,) = _messages(check_config(config, "unit"))
    assert message.startswith("unit: unit/logs/bucket (aws_s3_bucket.bucket): versioning_configuration: unknown")
    assert "'versioning_configuration' is an attribute of aws_s3_bucket_versioning" in message


def test_fails_if_values_have_the_wrong_shape() -> None:
    config = _config()
    group = config["resource"]["aws_cloudwatch_log_group"]["group"]
    group.update(retention_in_days="thirty", skip_destroy=1, tags=["a"], name={"a": 1})
    messages = _messages(check_config(config, "unit"))
    assert sorted(m.split(": ", 2)[2] for m in messages) == [
        "name: expected a string (an attribute), got an object",
        "retention_in_days: expected a number, got the string 'thirty'",
        "skip_destroy: expected a bool, got the number 1",
        "tags: expected a map (an object), got a list of 1",
    ]


def test_fails_if_a_nested_key_is_unknown_naming_its_path() -> None:
    config = _config()
    principal = config["data"]["aws_iam_policy_document"]["doc"]["statement"][0]["principals"][0]
    principal["identifier"] = principal.pop("identifiers")
    assert _messages(check_config(config, "unit")) == [
        "unit: data.aws_iam_policy_document.doc: statement[0].principals[0].identifier: unknown attribute; "
        "did you mean 'identifiers'?",
        "unit: data.aws_iam_policy_document.doc: statement[0].principals[0].identifiers: missing required attribute",
    ]


def test_fails_if_a_single_block_is_given_twice() -> None:
    config = _config()
    versioning = config["resource"]["aws_s3_bucket_versioning"]["versioning"]
    versioning["versioning_configuration"] = [{"status": "Enabled"}, {"status": "Suspended"}]
    assert _messages(check_config(config, "unit")) == [
        "unit: unit/logs/versioning (aws_s3_bucket_versioning.versioning): versioning_configuration: "
        "at most one block allowed, got 2"
    ]


def test_fails_if_the_resource_type_is_unknown() -> None:
    config = _config()
    config["resource"]["aws_s3_buckett"] = {"b": {"bucket": "x"}}
    assert _messages(check_config(config, "unit")) == [
        f"unit: aws_s3_buckett.b: unknown resource type 'aws_s3_buckett' in {load_index('aws').label}; "
        "did you mean 'aws_s3_bucket'?"
    ]


def test_fails_if_a_backend_provider_or_remote_state_key_is_unknown() -> None:
    config = _config()
    config["terraform"]["backend"]["s3"]["bucket_name"] = "x"
    config["provider"]["aws"][0]["regoin"] = "us-east-1"
    config["data"]["terraform_remote_state"]["net"]["config"]["kms_key"] = "k"
    assert _messages(check_config(config, "unit")) == [
        "unit: data.terraform_remote_state.net: config.kms_key: unknown attribute; did you mean 'kms_key_id'?",
        "unit: provider.aws: regoin: unknown attribute; did you mean 'region'?",
        "unit: terraform.backend.s3: bucket_name: unknown attribute; did you mean 'bucket'?",
    ]


def test_a_backend_may_be_partial_but_remote_state_may_not() -> None:
    config = _config()
    del config["terraform"]["backend"]["s3"]["bucket"]
    del config["data"]["terraform_remote_state"]["net"]["config"]["key"]
    assert _messages(check_config(config, "unit")) == [
        "unit: data.terraform_remote_state.net: config.key: missing required attribute"
    ]


def test_fails_if_a_lifecycle_names_no_attribute_or_a_meta_argument_is_unknown() -> None:
    config = _config()
    group = config["resource"]["aws_cloudwatch_log_group"]["group"]
    group["lifecycle"] = {"ignore_changes": ["tag"], "prevent_destory": True}
    assert _messages(check_config(config, "unit")) == [
        "unit: aws_cloudwatch_log_group.group: lifecycle.ignore_changes[0]: 'tag' names no attribute of this block; "
        "did you mean 'tags'?",
        "unit: aws_cloudwatch_log_group.group: lifecycle.prevent_destory: unknown lifecycle argument; "
        "did you mean 'prevent_destroy'?",
    ]


def test_dynamic_blocks_are_checked_against_the_block_they_generate() -> None:
    config = _config()
    doc = config["data"]["aws_iam_policy_document"]["doc"]
    statement = doc.pop("statement")[0]
    doc["dynamic"] = {"statement": {"for_each": "${var.s}", "content": {**statement, "action": ["x"]}}}
    assert _messages(check_config(config, "unit")) == [
        "unit: data.aws_iam_policy_document.doc: dynamic.statement.content.action: unknown attribute; "
        "did you mean 'actions'?"
    ]


def test_untyped_levels_are_listed_not_failed() -> None:
    config = _config()
    config["terraform"]["required_providers"]["random"] = {"source": "hashicorp/random"}
    config["resource"]["random_id"] = {"suffix": {"byte_length": 4, "anything": True}}
    config["resource"]["aws_wafv2_web_acl"] = {
        "acl": {
            "name": "a",
            "scope": "REGIONAL",
            "default_action": {"allow": {}},
            "visibility_config": {
                "cloudwatch_metrics_enabled": True,
                "metric_name": "m",
                "sampled_requests_enabled": True,
            },
            "rule": [
                {
                    "name": "r",
                    "priority": 1,
                    "override_action": {"none": {}},
                    "statement": {"managed_rule_group_statement": {"name": "x", "vendor_name": "AWS"}},
                    "visibility_config": {
                        "cloudwatch_metrics_enabled": True,
                        "metric_name": "r",
                        "sampled_requests_enabled": True,
                    },
                }
            ],
        }
    }
    report = check_config(config, "unit")
    assert report.ok, _messages(report)
    assert sorted(str(u) for u in report.untyped) == [
        "unit: aws_wafv2_web_acl.acl: rule[0].statement: untyped: the binding types this level as any",
        "unit: random_id.suffix: no schema: no cdktn binding installed for provider hashicorp/random",
    ]
    assert sorted(u.pattern for u in report.untyped) == ["aws_wafv2_web_acl.rule[*].statement", "random_id"]


def test_a_provider_from_another_namespace_is_not_checked_with_the_hashicorp_schema() -> None:
    config = _config()
    config["terraform"]["required_providers"]["aws"] = {"source": "example/aws"}
    config["resource"]["aws_s3_bucket"]["bucket"]["not_an_attribute"] = 1
    report = check_config(config, "unit")
    assert report.ok
    assert {u.reason for u in report.untyped} == {"no schema: no cdktn binding installed for provider example/aws"}


def test_a_pinned_provider_version_other_than_the_schemas_is_noted() -> None:
    config = _config()
    config["terraform"]["required_providers"]["aws"]["version"] = "6.1.0"
    aws = load_index("aws")
    report = check_config(config, "unit")
    assert report.ok
    assert report.notes == (
        f"provider aws: the configuration pins 6.1.0; the schema checked is that of {aws.provider_version} ({aws.label})",
    )


def test_fails_if_levels_are_not_objects() -> None:
    report = check_config({"resource": ["x"], "provider": {"aws": "x"}, "terraform": {"backend": {"s3": 3}}}, "unit")
    assert _messages(report) == [
        "unit: resource: expected an object of resource types, got a list of 1",
        "unit: provider.aws: expected a block (an object), got the string 'x'",
        "unit: terraform.backend.s3: expected a block (an object), got the number 3",
    ]


def test_schema_error_is_exit_code_1_with_one_line_per_violation() -> None:
    config = _config()
    config["resource"]["aws_s3_bucket"]["bucket"]["forceDestroy"] = True
    config["provider"]["aws"][0]["regoin"] = "x"
    report = check_config(config, "unit")
    with pytest.raises(SchemaError) as raised:
        report.raise_for_violations()
    assert isinstance(raised.value, ToolkitError) and raised.value.exit_code == 1
    assert raised.value.lines() == _messages(report) and len(raised.value.lines()) == 2
    check_config(_config(), "unit").raise_for_violations()


def test_assert_matches_provider_schema_reads_as_a_list() -> None:
    assert_matches_provider_schema(_config(), "unit")
    config = _config()
    config["resource"]["aws_s3_bucket"]["bucket"]["force_destory"] = True
    with pytest.raises(AssertionError) as raised:
        assert_matches_provider_schema(config, "unit")
    assert str(raised.value) == (
        "unit: 1 provider-schema violation:\n"
        "  unit: unit/logs/bucket (aws_s3_bucket.bucket): force_destory: unknown attribute; did you mean 'force_destroy'?"
    )


def test_the_check_leaves_its_input_untouched() -> None:
    config = _config()
    before = copy.deepcopy(config)
    check_config(config, "unit")
    assert config == before


# --- the cache -------------------------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    forget_loaded()
    return tmp_path / "cache"


def _no_extraction(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(package: str, directory: Path) -> None:
        raise AssertionError(f"extraction of {package} was started")

    monkeypatch.setattr(schema_index, "_start_build", refuse)


def test_the_index_is_extracted_once_then_read_from_the_cache(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_index("helm", cache_dir=cache)
    assert first.extracted and first.path.parent == cache
    assert first.path.name == f"cdktn_provider_helm-{first.version}.schema"
    stamp = first.path.stat().st_mtime_ns
    forget_loaded()
    _no_extraction(monkeypatch)
    second = load_index("helm", cache_dir=cache)
    assert not second.extracted and second.path.stat().st_mtime_ns == stamp
    assert second.block("resource", "helm_release") == first.block("resource", "helm_release")
    assert [p.name for p in cache.iterdir()] == [first.path.name]  # no temporary file left


def test_extraction_reports_progress_and_prints_nothing(cache: Path, capfd: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    load_index("helm", cache_dir=cache, progress=lines.append)
    assert capfd.readouterr() == ("", "")
    assert lines[0].startswith("extracting the cdktn_provider_helm ") and "schema extracted in" in lines[1]


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: raw[:-10] + bytes(b ^ 0xFF for b in raw[-10:]),  # payload flipped: digest differs
        lambda raw: b"not a cache at all",
        lambda raw: b"",
    ],
    ids=["truncated", "flipped", "garbage", "empty"],
)
def test_a_corrupt_cache_is_rebuilt(cache: Path, damage: Any) -> None:
    path = load_index("helm", cache_dir=cache).path
    path.write_bytes(damage(path.read_bytes()))
    forget_loaded()
    rebuilt = load_index("helm", cache_dir=cache)
    assert rebuilt.extracted
    assert rebuilt.block("resource", "helm_release") is not None


@pytest.mark.parametrize(("field", "value"), [("format", 0), ("python", "cpython-2.7-m2"), ("version", "0.0.1")])
def test_a_cache_of_another_format_python_or_version_is_rebuilt(cache: Path, field: str, value: Any) -> None:
    path = load_index("helm", cache_dir=cache).path
    raw = path.read_bytes()
    start = len(schema_index.MAGIC) + 8
    size = int.from_bytes(raw[len(schema_index.MAGIC) : start], "little")
    header = marshal.loads(raw[start : start + size])  # noqa: S302 - the file this test wrote
    header[field] = value
    head = marshal.dumps(header)
    path.write_bytes(schema_index.MAGIC + len(head).to_bytes(8, "little") + head + raw[start + size :])
    forget_loaded()
    assert load_index("helm", cache_dir=cache).extracted


def test_fails_if_a_provider_has_no_binding(cache: Path) -> None:
    with pytest.raises(schema_index.SchemaCacheError, match="random: no binding installed"):
        load_index("random", cache_dir=cache)


# --- check-schema ------------------------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--quiet", "check-schema", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _write(path: Path, config: Any) -> Path:
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def test_check_schema_exits_0_when_everything_matches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, str(_write(tmp_path / "main.tf.json", _config())))
    assert (code, err) == (0, "")
    assert (
        out
        == "check-schema: ok: 7 blocks in 1 configuration match their providers' schemas; 0 untyped levels not checked\n"
    )


def test_check_schema_exits_1_on_a_violation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config()
    config["resource"]["aws_s3_bucket"]["bucket"]["forceDestroy"] = True
    code, out, _ = _cli(capsys, str(_write(tmp_path / "main.tf.json", config)))
    assert code == 1
    assert "FAILED  " in out and "forceDestroy: unknown attribute (camelCase?)" in out
    assert out.splitlines()[-1].startswith("check-schema: FAILED: 1 violation in 7 blocks in 1 configuration")


def test_check_schema_reads_a_synth_output_folder_by_stack_and_prints_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for stack in ("one", "two"):
        (tmp_path / "out" / "stacks" / stack).mkdir(parents=True)
        _write(tmp_path / "out" / "stacks" / stack / "cdk.tf.json", _config())
    bad = _config()
    bad["provider"]["aws"][0]["regoin"] = "x"
    _write(tmp_path / "out" / "stacks" / "two" / "cdk.tf.json", bad)
    code, out, _ = _cli(capsys, str(tmp_path / "out"), "--json")
    report = json.loads(out)
    assert code == 1 and report["configurations"] == ["one", "two"]
    assert [(v["stack"], v["address"], v["attribute"]) for v in report["violations"]] == [
        ("two", "provider.aws", "regoin")
    ]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.tf.json", "missing.tf.json: not found"),
        (
            lambda d: _text(d / "bad.tf.json", "{\n  not json"),
            "bad.tf.json:2: not valid JSON: Expecting property name enclosed in double quotes at column 3",
        ),
        (lambda d: _text(d / "list.tf.json", "[1, 2]"), "list.tf.json: not a Terraform JSON object (got list)"),
        (
            lambda d: _bytes(d / "latin.tf.json", b'{\n"a": "caf\xe9"}'),
            "latin.tf.json:2: not UTF-8 text (byte 0xe9 at column 10); save the file as UTF-8",
        ),
        (lambda d: _folder(d / "empty"), "empty: holds no Terraform JSON"),
        (
            lambda d: _text(d / "deep.tf.json", '{"resource": ' + "[" * 100_000 + "]" * 100_000 + "}"),
            "deep.tf.json: nested more than 100 levels deep",
        ),
        (
            lambda d: _text(d / "deeper.tf.json", '{"locals": {"x": ' + "[" * 500 + "]" * 500 + "}}"),
            "deeper.tf.json: nested more than 100 levels deep",
        ),
    ],
    ids=[
        "missing",
        "not-json",
        "not-object",
        "not-utf8",
        "empty-folder",
        "deeper-than-the-parser-recurses",
        "deeper-than-a-walk-may-go",
    ],
)
def test_fails_if_input_is_unreadable_with_exit_2_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, make: Any, message: str
) -> None:
    path = make(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, err = _cli(capsys, str(path.relative_to(tmp_path)))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith(f"error: {message}"), err
    assert "Traceback" not in err


def _text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _bytes(path: Path, raw: bytes) -> Path:
    path.write_bytes(raw)
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def test_check_schema_as_a_process_exits_exactly_with_no_traceback(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.tf.json", _config())
    bad_config = _config()
    bad_config["resource"]["aws_s3_bucket"]["bucket"]["force_destory"] = True
    bad = _write(tmp_path / "bad.tf.json", bad_config)
    command = [sys.executable, "-m", "qualisys_infra", "--quiet", "check-schema"]
    codes = []
    for target in (good, bad, tmp_path / "missing.tf.json"):
        done = subprocess.run([*command, str(target)], capture_output=True, text=True, cwd=ROOT, check=False)
        assert "Traceback" not in done.stderr
        codes.append(done.returncode)
    assert codes == [0, 1, 2]
