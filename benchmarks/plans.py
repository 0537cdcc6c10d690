"""Generated plan JSON of any size, with every kind of change, for size and speed tests."""

from __future__ import annotations

from typing import Any

ACTIONS = (
    ["create"],
    ["update"],
    ["delete", "create"],
    ["create", "delete"],
    ["delete"],
    ["no-op"],
    ["forget"],
    ["read"],
)


def big_plan(resources: int, *, attributes: int = 12) -> dict[str, Any]:
    """A plan with ``resources`` changes cycling through every action array Terraform emits."""
    changes = []
    for i in range(resources):
        actions = ACTIONS[i % len(ACTIONS)]
        before = {f"attr_{k}": f"before-{i}-{k}" for k in range(attributes)} | {"password": f"hunter{i:06d}"}
        after = {f"attr_{k}": f"after-{i}-{k}" if k % 3 == 0 else f"before-{i}-{k}" for k in range(attributes)}
        after |= {"password": f"hunter{i + 1:06d}"}
        mode = "data" if actions == ["read"] else "managed"
        changes.append(
            {
                "address": f"{'data.' if mode == 'data' else ''}aws_thing.item_{i}",
                "mode": mode,
                "type": "aws_thing",
                "name": f"item_{i}",
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": actions,
                    "before": None if actions == ["create"] else before,
                    "after": None if actions in (["delete"], ["forget"]) else after,
                    "after_unknown": {"id": True} if actions[0] == "create" else {},
                    "before_sensitive": {"password": True},
                    "after_sensitive": {"password": True},
                    **({"replace_paths": [["attr_0"]]} if "delete" in actions and "create" in actions else {}),
                },
            }
        )
    return {
        "format_version": "1.2",
        "terraform_version": "1.15.0",
        "resource_changes": changes,
        "output_changes": {"endpoint": {"actions": ["update"], "before": "a", "after": "b", "after_unknown": False}},
    }
