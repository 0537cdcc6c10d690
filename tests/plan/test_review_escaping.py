"""Control and bidirectional characters in names (addresses, for_each keys, stack, output and input
names, moved-from addresses, left-out addresses) are shown escaped in every review format and in the
``--allow-destroy`` hint, exactly as diff values are: ``\\u202e``, never the character itself."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from qualisys_infra.core.github_text import shown
from qualisys_infra.plan.guardrails import blocking, check
from qualisys_infra.plan.model import parse_plan
from qualisys_infra.plan.review import StackReview
from qualisys_infra.plan.review_markdown import render_markdown
from qualisys_infra.plan.review_text import render_json, render_text
from qualisys_infra.plan.words import shell_word

# Each hides or reorders what a reader sees: bidirectional overrides, embeddings, isolates and marks,
# zero-width and invisible characters, a tag character (ASCII smuggling), C0/C1 controls, separators.
HIDDEN = {
    "RLO": "\u202e",
    "LRO": "\u202d",
    "RLE": "\u202b",
    "PDF": "\u202c",
    "LRI": "\u2066",
    "RLI": "\u2067",
    "FSI": "\u2068",
    "PDI": "\u2069",
    "LRM": "\u200e",
    "RLM": "\u200f",
    "ALM": "\u061c",
    "ZWSP": "\u200b",
    "ZWJ": "\u200d",
    "BOM": "\ufeff",
    "TAG": "\U000e0041",
    "ESC": "\x1b",
    "DEL": "\x7f",
    "NEL": "\x85",
    "LS": "\u2028",
    "NBSP": "\u00a0",
    "TAB": "\t",
}
# As JSON writes each (a diff value's escape), except DEL, which JSON leaves raw.
ESCAPED = {name: "\\u007f" if name == "DEL" else json.dumps(char)[1:-1] for name, char in HIDDEN.items()}


def _plan(char: str) -> Any:
    key = f"invoice{char}fdp.exe"
    return parse_plan(
        {
            "format_version": "1.2",
            "variables": {f"tag{char}": {"value": f"v1{char}"}},
            "resource_changes": [
                {
                    "address": f'aws_s3_bucket.b["{key}"]',
                    "type": "aws_s3_bucket",
                    "change": {"actions": ["delete"], "before": {"bucket": key}, "after": None},
                },
                {
                    "address": f'module.m["{key}"].aws_kms_key.k',
                    "module_address": f'module.m["{key}"]',
                    "type": "aws_kms_key",
                    "change": {"actions": ["delete", "create"], "before": {"description": "a"}, "after": {}},
                },
                {
                    "address": "aws_iam_role.moved",
                    "previous_address": f'aws_iam_role.old["{key}"]',
                    "type": "aws_iam_role",
                    "change": {"actions": ["no-op"], "before": {"name": "r"}, "after": {"name": "r"}},
                },
                {
                    "address": f'aws_iam_role.r["{key}"]',
                    "type": "aws_iam_role",
                    "change": {
                        "actions": ["create"],
                        "after": {
                            "assume_role_policy": json.dumps(
                                {
                                    "Statement": {
                                        "Effect": "Allow",
                                        "Sid": key,
                                        "Principal": "*",
                                        "Action": "sts:AssumeRole",
                                    }
                                }
                            )
                        },
                    },
                },
            ],
            "output_changes": {f"url{char}": {"actions": ["update"], "before": "a", "after": "b"}},
        },
        "hostile",
    )


def _review(char: str) -> StackReview:
    plan = _plan(char)
    stack = f"dev{char}-data"
    return StackReview(stack, plan, check(plan, stack=stack), left_out=(f'terraform_data.x["{char}"]',))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    return []


@pytest.mark.parametrize("name", sorted(HIDDEN))
def test_fails_if_a_hidden_character_reaches_a_review_raw(name: str) -> None:
    char, escaped = HIDDEN[name], ESCAPED[name]
    review = _review(char)
    assert {f.rule for f in blocking(review.findings)} >= {"G001", "G014"}
    outputs = {
        "markdown": "".join(render_markdown([review])),
        "markdown (full)": "".join(render_markdown([review], limit=None)),
        "markdown (names only)": "".join(render_markdown([review], limit=3_000)),
        "text": render_text([review]),
        "text (colour)": render_text([review], color=True),
        "json": render_json([review]),
    }
    parsed = json.loads(outputs["json"])
    outputs["json (parsed)"] = "\n".join(_strings(parsed))
    outputs["findings (str)"] = "\n".join(str(f) for f in review.findings)
    outputs["hints"] = "\n".join(f.hint_text for f in review.findings)
    outputs["text (colour)"] = re.sub(r"\x1b\[\d+m", "", outputs["text (colour)"])  # the palette's own
    for where, text in outputs.items():
        assert char not in text, f"{name} raw in {where}"
    # The escape is there instead, in the names of every format.
    text = outputs["text"]
    for needle in (
        f'aws_s3_bucket.b["invoice{escaped}fdp.exe"]',  # a destroyed resource, and its finding
        f'module.m["invoice{escaped}fdp.exe"].aws_kms_key.k',  # a module instance key
        f'moved from aws_iam_role.old["invoice{escaped}fdp.exe"]',  # a moved-from address
        f"dev{escaped}-data",  # the stack name
        f"url{escaped}",  # an output name
        f"tag{escaped} = v1{escaped}",  # an input
        f'terraform_data.x["{escaped}"]',  # a left-out address
        f'statement "invoice{escaped}fdp.exe" allows anyone',  # a Sid inside a finding's message
    ):
        assert needle in text, needle
    stacks = parsed["stacks"][0]
    assert stacks["name"] == f"dev{escaped}-data" and stacks["left_out"] == [f'terraform_data.x["{escaped}"]']
    assert {o["name"] for o in stacks["outputs"]} == {f"url{escaped}"}
    assert f'aws_s3_bucket.b["invoice{escaped}fdp.exe"]' in {c["address"] for c in stacks["changes"]}
    assert f'aws_s3_bucket.b["invoice{escaped}fdp.exe"]' in {f["address"] for f in stacks["findings"]}


@pytest.mark.parametrize("name", sorted(HIDDEN))
def test_fails_if_the_allow_destroy_hint_does_not_pass_the_exact_address(name: str) -> None:
    """The hint shows no raw character, and pasted into a shell it still names the exact address."""
    review = _review(HIDDEN[name])
    (finding,) = [f for f in review.findings if f.rule == "G001" and f.address.startswith("aws_s3_bucket")]
    assert HIDDEN[name] not in finding.hint
    word = finding.hint.removeprefix("--allow-destroy ")
    echoed = subprocess.run(
        ["bash", "-c", f"printf '%s' {word}"], capture_output=True, check=True, text=True, encoding="utf-8"
    ).stdout
    assert echoed == finding.address


@pytest.mark.parametrize(
    ("address", "word"),
    [
        ("aws_s3_bucket.state", "aws_s3_bucket.state"),
        ('aws_s3_bucket.b["logs"]', "'aws_s3_bucket.b[\"logs\"]'"),
        ('aws_s3_bucket.b["it\'s"]', "'aws_s3_bucket.b[\"it'\"'\"'s\"]'"),
        ('aws_s3_bucket.b["a\u202eb"]', "$'aws_s3_bucket.b[\"a\\u202eb\"]'"),
        ('aws_s3_bucket.b["a\\\u202e\'"]', "$'aws_s3_bucket.b[\"a\\\\\\u202e\\'\"]'"),
        ('aws_s3_bucket.b["\U000e0041"]', "$'aws_s3_bucket.b[\"\\U000e0041\"]'"),
    ],
)
def test_shell_word_quotes_for_copy_and_paste(address: str, word: str) -> None:
    assert shell_word(address) == word
    echoed = subprocess.run(["bash", "-c", f"printf '%s' {word}"], capture_output=True, check=True, text=True).stdout
    assert echoed == address


def test_shown_escapes_as_diff_values_do_and_is_idempotent() -> None:
    raw = "a\u202eb\u2066c\x1bd\ne\U000e0041f"
    assert shown(raw) == json.dumps(raw)[1:-1]
    assert shown(shown(raw)) == shown(raw)
    assert shown("café ✓ 東京") == "café ✓ 東京", "printable text stays as it is"
