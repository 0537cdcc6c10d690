"""Markers of stacks `plan` left unplanned on purpose: round trip, damage, and the review's note."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualisys_infra.core.errors import UsageError
from qualisys_infra.terraform.waiting import (
    read_marker,
    unplanned_in,
    unplanned_markdown,
    unplanned_text,
    waits_for,
    write_marker,
)


def test_markers_round_trip_and_are_listed_per_folder(tmp_path: Path) -> None:
    assert read_marker(tmp_path / "dev-data.waiting") is None
    write_marker(tmp_path / "dev-data.waiting", waits_for(["dev-network"]))
    write_marker(tmp_path / "dev-apps.waiting", "no image of hello has been released yet")
    (tmp_path / "dev-network.json").write_text("{}", encoding="utf-8")
    found = unplanned_in(tmp_path)
    assert found == {
        "dev-apps": "no image of hello has been released yet",
        "dev-data": "waits for dev-network: it reads outputs their plans create or change; apply those plans, then plan again",
    }
    assert unplanned_markdown(found).splitlines()[1:] == [
        "> [!NOTE]",
        "> Not planned:",
        "> - `dev-apps`: no image of hello has been released yet",
        f"> - `dev-data`: {found['dev-data']}",
    ]
    assert unplanned_text(found).splitlines()[0] == "not planned: dev-apps: no image of hello has been released yet"
    assert unplanned_markdown({}) == unplanned_text({}) == ""


@pytest.mark.parametrize("text", ["{broken", "[]", '{"reason": ""}', '{"reason": 3}', '{"waits_for": ["a"]}'])
def test_fails_if_a_damaged_marker_is_not_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "dev-data.waiting").write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=r"dev-data\.waiting: not a marker of an unplanned stack") as refused:
        read_marker(tmp_path / "dev-data.waiting")
    assert refused.value.exit_code == 2
