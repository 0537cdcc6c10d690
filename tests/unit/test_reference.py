"""The README's settings reference is generated from the dataclasses and kept current."""

from __future__ import annotations

from qualisys_infra.config.reference import BEGIN, END, render
from tests.conftest import ROOT


def test_readme_settings_reference_is_up_to_date() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert block == render(), "README.md is out of date: run `make docs`"


def test_reference_lists_every_key() -> None:
    rendered = render()
    for key in ("`vpc_cidr`", "`node_groups.<group>.max_size`", "`state_bucket_name`", "`nat_mode`"):
        assert key in rendered
