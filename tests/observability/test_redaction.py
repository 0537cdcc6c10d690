"""The fluent-bit PII filter, run by LuaJIT (fluent-bit's own Lua) exactly as fluent-bit calls it:
``redact(tag, timestamp, record)`` on records shaped as the kubernetes filter leaves them (the raw
``log`` line kept, the parsed JSON under ``data``, the pod's metadata under ``kubernetes``).

One test per kind of PII the filter must remove, each in the raw line and in the parsed fields, and
one per kind of value it must keep (correlation ids, timestamps, ordinary numbers and words).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from modules.platform.log_pipeline import REDACT_FUNCTION, REDACT_SCRIPT, redact_script

LUAJIT = shutil.which("luajit")
DRIVER = Path(__file__).with_name("lua_driver.lua")


def _lua(value: Any) -> str:
    """``value`` (JSON-like) as a Lua literal."""
    if isinstance(value, str):
        return (
            "'"
            + "".join(c if c.isalnum() or c in " .:/@-_=+?&#,;{}[]()<>!*$~^|" else f"\\{ord(c):03d}" for c in value)
            + "'"
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{_lua(str(k))}] = {_lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def run_filter(records: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, Any]]:
    """What the filter returns for each record: ``code``, ``timestamp`` and ``record``."""
    assert LUAJIT, "luajit is not installed: make observability-tools"
    script = tmp_path / REDACT_SCRIPT  # the filter exactly as the ConfigMap ships it
    script.write_text(redact_script(), encoding="utf-8")
    data = tmp_path / "records.lua"
    data.write_text("return {" + ", ".join(_lua(r) for r in records) + "}\n", encoding="utf-8")
    result = subprocess.run(
        [LUAJIT, str(DRIVER), str(script), REDACT_FUNCTION, str(data)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def container_record(message: str, **fields: Any) -> dict[str, Any]:
    """A record as fluent-bit holds it after the kubernetes filter: hello's JSON line, raw and parsed."""
    parsed = {"time": "2026-12-06T07:46:24.123+00:00", "level": "INFO", "message": message, **fields}
    return {
        "log": json.dumps(parsed),
        "stream": "stdout",
        "data": parsed,
        "kubernetes": {"namespace_name": "staging", "pod_name": "hello-7d9f-abcde", "container_name": "hello"},
    }


def redacted(message: str, tmp_path: Path, **fields: Any) -> dict[str, Any]:
    (out,) = run_filter([container_record(message, **fields)], tmp_path)
    assert out["code"] == 2, "a record with PII is reported changed (2: record changed, timestamp kept)"
    assert out["timestamp"] == 1733500000.5
    record: dict[str, Any] = out["record"]
    return record


# kind of PII -> (a message carrying it, the secret part that must be gone, what stands in its place)
PII = {
    "email": ("invite sent to jane.doe+qa@example.co.uk today", "jane.doe+qa@example.co.uk", "[email]"),
    "bearer_token": (
        "upstream said 401 for Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload-part.sig_part",
        "eyJhbGciOiJIUzI1NiJ9",
        "[redacted]",
    ),
    "api_key_query": ("GET /v1/items?api_key=ak_live_93jd83jd83&page=2", "ak_live_93jd83jd83", "api_key=[redacted]"),
    "api_key_header": ("forwarding X-API-Key: 7f3c9a1e5b2d4f60", "7f3c9a1e5b2d4f60", "X-API-Key: [redacted]"),
    "api_key_json": ('body {"apiKey": "sk-proj-abc123def456"}', "sk-proj-abc123def456", '"apiKey": "[redacted]'),
    "token_param": ("callback?access_token=ya29.a0AfH6SMB&state=x", "ya29.a0AfH6SMB", "access_token=[redacted]"),
    "aws_access_key_id": ("using key AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE", "[redacted]"),
    "github_token": (
        "clone with ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "[redacted]",
    ),
    "password_in_url": (
        "connecting to postgresql://app_user:S3cr3t!pw@db.internal:5432/qualisys",
        "S3cr3t!pw",
        "postgresql://app_user:[redacted]@db.internal",
    ),
    "password_param": ("login failed password=hunter2 user=bob", "hunter2", "password=[redacted]"),
    "card_spaced": ("charged card 4111 1111 1111 1111 ok", "4111 1111 1111 1111", "[card]"),
    "card_dashed": ("charged card 5500-0000-0000-0004 ok", "5500-0000-0000-0004", "[card]"),
    "card_plain": ("charged card 4012888888881881 ok", "4012888888881881", "[card]"),
    "card_amex": ("charged card 3782 822463 10005 ok", "3782 822463 10005", "[card]"),
}


@pytest.mark.parametrize("kind", sorted(PII))
def test_each_kind_of_pii_is_removed_from_the_raw_line_and_the_parsed_message(kind: str, tmp_path: Path) -> None:
    message, secret, replacement = PII[kind]
    record = redacted(message, tmp_path)
    for where, text in (("data.message", record["data"]["message"]), ("log", record["log"])):
        assert secret not in text, f"{kind}: {where} still holds it: {text}"
    assert replacement in record["data"]["message"], record["data"]["message"]
    # What surrounds it is kept: the line stays readable.
    first = message.split()[0]
    if secret not in first:
        assert record["data"]["message"].startswith(first), record["data"]["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password", "hunter2"),
        ("api_key", "ak_93jd83jd83"),
        ("Authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
        ("client-secret", "s3cr3t-value"),
        ("session_id", "a1b2c3d4e5"),
    ],
)
def test_a_field_named_as_a_secret_loses_its_whole_value(field: str, value: str, tmp_path: Path) -> None:
    record = redacted("request failed", tmp_path, **{field: value})
    assert record["data"][field] == "[redacted]"
    assert value not in record["log"]


def test_pii_is_removed_at_any_depth_and_in_lists(tmp_path: Path) -> None:
    record = redacted(
        "batch",
        tmp_path,
        request={"headers": {"cookie": "sid=abc123"}, "recipients": ["a@example.com", "b@example.org"]},
    )
    assert record["data"]["request"]["headers"]["cookie"] == "[redacted]"
    assert record["data"]["request"]["recipients"] == ["[email]", "[email]"]


KEPT = {
    "correlation_id": "request 0b6f9c7e-3f1a-4d2b-9c8e-1a2b3c4d5e6f done",
    "trace_id": "trace_id 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
    "timestamp": "at 2026-12-06T07:46:24.123+00:00 and epoch ms 1733467584123",
    "ordinary_numbers": "order 12345 of 99 items, 1234567890123 is not Luhn-valid",
    "words_near_secret_names": "monkey=banana tokenizer ready, passwordless login enabled",
    "route": "GET /items/{id} 200 in 3.2 ms",
}


@pytest.mark.parametrize("kind", sorted(KEPT))
def test_values_that_are_not_pii_are_kept(kind: str, tmp_path: Path) -> None:
    (out,) = run_filter([container_record(KEPT[kind])], tmp_path)
    assert out["record"]["data"]["message"] == KEPT[kind]
    assert out["code"] == 0, "an unchanged record is passed on as it came (code 0)"


def test_the_pods_metadata_is_never_touched(tmp_path: Path) -> None:
    record = redacted("mail jane@example.com", tmp_path)
    assert record["kubernetes"] == container_record("x")["kubernetes"]
    assert record["stream"] == "stdout"
