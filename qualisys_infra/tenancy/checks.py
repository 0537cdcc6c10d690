"""The result of one isolation check, shared by the catalog checks and the probes."""

from __future__ import annotations

from dataclasses import dataclass

LISTED = 8  # problems named in one detail before "and N more"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def summary(problems: list[str], ok: str) -> str:
    """``ok`` when there are no problems, else the first :data:`LISTED` of them and how many more."""
    if not problems:
        return ok
    more = len(problems) - LISTED
    return "; ".join(problems[:LISTED]) + (f"; and {more} more" if more > 0 else "")


def check(name: str, problems: list[str], ok: str) -> Check:
    return Check(name, not problems, summary(problems, ok))
