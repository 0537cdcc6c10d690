"""Small readers over synthesized Terraform JSON."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

_REF = re.compile(r"^\$\{(data\.)?([a-z0-9_]+)\.([^.}]+)\.([a-z_]+)\}$")


def _parse(value: Any) -> tuple[str, str, str] | None:
    m = _REF.match(value) if isinstance(value, str) else None
    return ((m.group(1) or "") + m.group(2), m.group(3), m.group(4)) if m else None


def ref(value: Any) -> tuple[str, str, str]:
    """``("aws_s3_bucket", "name", "id")`` for ``"${aws_s3_bucket.name.id}"``; data refs keep ``data.``.

    Fails the test when ``value`` is not a single reference.
    """
    parsed = _parse(value)
    assert parsed is not None, f"expected a reference like ${{type.name.attr}}, got {value!r}"
    return parsed


def points_to(value: Any, type_: str, name: str) -> bool:
    parsed = _parse(value)
    return parsed is not None and parsed[0] == type_ and parsed[1] == name


def one(items: dict[str, Any] | list[Any]) -> Any:
    """The single element; fails the test when there are zero or several."""
    values = list(items.values()) if isinstance(items, dict) else list(items)
    assert len(values) == 1, f"expected exactly one, got {len(values)}"
    return values[0]


def statements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A policy document's statements by sid."""
    return {s["sid"]: s for s in document["statement"]}


def prepare_broken_copy(outdir: Path, target: Path) -> list[str]:
    """Copies of two stacks: bootstrap with two checks broken, dev-network unparsable by checkov.

    Called by the session's synth fixture, which scans the copy in the background.
    """
    for stack in ("bootstrap", "dev-network"):
        shutil.copytree(outdir / "stacks" / stack, target / "stacks" / stack)
    path = target / "stacks" / "bootstrap" / "cdk.tf.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    next(iter(config["resource"]["aws_s3_bucket_public_access_block"].values()))["block_public_acls"] = False
    next(iter(config["resource"]["aws_dynamodb_table"].values()))["point_in_time_recovery"] = {"enabled": False}
    path.write_text(json.dumps(config), encoding="utf-8")
    path = target / "stacks" / "dev-network" / "cdk.tf.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["locals"] = "not an object"
    path.write_text(json.dumps(config), encoding="utf-8")
    return ["bootstrap", "dev-network"]
