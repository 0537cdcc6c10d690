"""Structured diffs of JSON documents held in string attributes (IAM policies, container definitions)."""

from __future__ import annotations

import json
from typing import Any

from qualisys_infra.plan.guardrails import check
from qualisys_infra.plan.jsondiff import DiffLine, json_string_diff
from qualisys_infra.plan.model import parse_plan
from qualisys_infra.plan.review import StackReview
from qualisys_infra.plan.review_markdown import render_comment
from qualisys_infra.plan.review_text import render_json, render_text

GET = {"Version": "2012-10-17", "Statement": [{"Sid": "s", "Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
ALL = {"Version": "2012-10-17", "Statement": [{"Sid": "s", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def lines(before: Any, after: Any) -> list[str]:
    return [f"{'    ' * d.depth}{d.marker} {d.text}" for d in json_string_diff("policy", before, after)]


def _update(attribute: str, before: Any, after: Any, **change: Any) -> StackReview:
    plan = parse_plan(
        {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": "aws_iam_policy.p",
                    "type": "aws_iam_policy",
                    "name": "p",
                    "change": {
                        "actions": ["update"],
                        "before": {attribute: json.dumps(before), "name": "p"},
                        "after": {attribute: json.dumps(after), "name": "p"},
                        **change,
                    },
                }
            ],
        },
        "policy",
    )
    return StackReview("iam", plan, check(plan))


def test_one_changed_action_is_one_changed_line() -> None:
    assert lines(GET, ALL) == [
        "~ policy = jsonencode(",
        "    ~ {",
        "        ~ Statement = [",
        "            ~ {",
        '                ~ Action = "s3:Get*" -> "s3:*"',
        "                  # (3 unchanged attributes hidden)",
        "              }",
        "          ]",
        "          # (1 unchanged attribute hidden)",
        "      }",
        "  )",
    ]
    changed = [d for d in json_string_diff("policy", GET, ALL) if d.marker != " " and not d.opens]
    assert changed == [DiffLine("~", 4, 'Action = "s3:Get*" -> "s3:*"')]


def test_keys_added_and_removed_and_list_elements() -> None:
    before = {"a": 1, "gone": True, "list": ["x", "y", "z"], "nested": {"k": "v"}}
    after = {"a": 1, "new": {"deep": [1]}, "list": ["x", "z", "w"], "nested": {"k": "v2", "extra": None}}
    assert lines(before, after) == [
        "~ policy = jsonencode(",
        "    ~ {",
        "        - gone   = true -> null",
        "        ~ list   = [",
        '            - "y",',
        '            + "w",',
        "              # (2 unchanged elements hidden)",
        "          ]",
        "        ~ nested = {",
        "            + extra = null",
        '            ~ k     = "v" -> "v2"',
        "          }",
        '        + new    = {"deep": [1]}',
        "          # (1 unchanged attribute hidden)",
        "      }",
        "  )",
    ]


def test_a_number_and_a_boolean_are_not_equal() -> None:
    assert lines({"x": 1}, {"x": True})[2] == "        ~ x = 1 -> true"


def test_an_iam_policy_change_reads_as_one_line_in_markdown_text_and_json() -> None:
    review = _update("policy", GET, ALL)
    markdown = render_comment([review])
    assert '!                 Action = "s3:Get*" -> "s3:*"' in markdown.splitlines()
    assert [line for line in markdown.splitlines() if line.startswith(("!", "+", "-"))] == [
        '!                 Action = "s3:Get*" -> "s3:*"'
    ], "only the changed value is coloured"
    assert '\\"Statement\\"' not in markdown, "no long escaped string"
    text = render_text([review])
    assert '                        ~ Action = "s3:Get*" -> "s3:*"' in text.splitlines()
    machine = json.loads(render_json([review]))["stacks"][0]["changes"][0]["attributes"][0]["lines"]
    assert '                ~ Action = "s3:Get*" -> "s3:*"' in machine


def test_container_definitions_change_shows_only_the_changed_path() -> None:
    before = [{"name": "app", "image": "app:1", "environment": [{"name": "A", "value": "1"}], "cpu": 256}]
    after = [{"name": "app", "image": "app:2", "environment": [{"name": "A", "value": "1"}], "cpu": 256}]
    markdown = render_comment([_update("container_definitions", before, after)])
    assert '!             image = "app:1" -> "app:2"' in markdown
    assert "# (3 unchanged attributes hidden)" in markdown


def test_a_secret_inside_a_json_document_stays_masked() -> None:
    secret = "hunter2-very-secret"  # noqa: S105 - a test value that must never be rendered
    review = _update(
        "policy",
        {"token": "a", "other": 1},
        {"token": secret, "other": 2},
        after_sensitive={"policy": True},
    )
    for rendered in (render_comment([review]), render_text([review]), render_json([review])):
        assert secret not in rendered
        assert "(sensitive value)" in rendered


def test_a_secret_copied_into_a_json_document_is_masked_there_too() -> None:
    secret = "hunter2-very-secret"  # noqa: S105 - a test value that must never be rendered
    plan = parse_plan(
        {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": "aws_ecs_task_definition.t",
                    "type": "aws_ecs_task_definition",
                    "name": "t",
                    "change": {
                        "actions": ["update"],
                        "before": {"password": "old-secret-1", "container_definitions": json.dumps([{"e": "x"}])},
                        "after": {
                            "password": secret,
                            # the secret written with a JSON escape: not found in the raw string
                            "container_definitions": '[{"e": "\\u0068unter2-very-secret"}]',
                        },
                        "before_sensitive": {"password": True},
                        "after_sensitive": {"password": True},
                    },
                }
            ],
        },
        "copied",
    )
    review = StackReview("ecs", plan, [])
    for rendered in (render_comment([review]), render_text([review]), render_json([review])):
        assert secret not in rendered


def test_strings_that_are_not_json_documents_keep_the_plain_diff() -> None:
    markdown = render_comment([_update("description", "plain", "text")])
    assert '- description = "\\"plain\\""' in markdown


def test_a_deep_document_is_cut_not_crashed() -> None:
    deep: Any = "leaf"
    for _ in range(60):
        deep = {"k": deep}
    other: Any = "other"
    for _ in range(60):
        other = {"k": other}
    found = json_string_diff("policy", deep, other)
    assert len(found) < 80
    assert any("->" in d.text for d in found)
