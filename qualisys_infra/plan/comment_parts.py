"""A long comment as several: blocks of Markdown packed into bodies that each fit GitHub's limit.

A review too long for one comment is split the way Atlantis splits long plans, never cut: blocks
(a heading, one change's name, one diff) go into a body while they fit; a group of blocks (a fold,
an alert) cut by a new body is closed there and reopened, with its "continued" text, in the next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Group:
    """Markdown around consecutive blocks (a fold, an alert); reopened with ``again`` in the next comment."""

    opener: str
    closer: str
    again: str


@dataclass(frozen=True, slots=True)
class Block:
    text: str
    group: Group | None = None


class Comments(list[str]):
    """The comment bodies of one review, in order; most reviews are one comment (``comments.single``)."""

    def __init__(self, parts: Iterable[str], *, full: int, named: int, counted: int) -> None:
        super().__init__(parts)
        self.full, self.named, self.counted = full, named, counted

    @property
    def single(self) -> str:
        """The one comment body; a review split into several has no single body."""
        if len(self) != 1:
            raise ValueError(f"the review is split into {len(self)} comments; post each of them")
        return self[0]


def pack(blocks: Sequence[Block], limit: float, title: Callable[[int, int], str]) -> list[str]:
    """Blocks into comment bodies of at most ``limit`` characters, each starting with ``title(n, of)``;
    a group cut by a new comment is closed there and reopened (with its ``again`` text) in the next."""
    cap = limit - len(title(99_999, 99_999))
    parts: list[list[str]] = []
    current: list[str] = []
    size = 0
    group: Group | None = None
    for block in blocks:
        text = block.text
        if block.group is group and group is not None and size + len(text) + len(group.closer) <= cap:
            current.append(text)  # the common case: the next line of a list
            size += len(text)
            continue
        switching = block.group is not group
        closing = group.closer if group is not None and switching else ""
        opening = block.group.opener if block.group is not None and switching else ""
        keep_to_close = block.group.closer if block.group is not None else ""
        need = len(closing) + len(opening) + len(text) + len(keep_to_close)
        if size + need > cap and current:
            if group is not None:
                current.append(group.closer)
            parts.append(current)
            current, size, group = [], 0, None
            closing = ""
            opening = block.group.again if block.group is not None else ""
        room = cap - size - len(closing) - len(opening) - len(keep_to_close)
        if len(text) > room:  # one block longer than a whole comment: cut, never over the limit
            text = text[: max(0, int(room) - 2)] + "…\n"
        current += [closing, opening, text]
        size += len(closing) + len(opening) + len(text)
        group = block.group
    if group is not None:
        current.append(group.closer)
    parts.append(current)
    return [title(n, len(parts)) + "".join(p).rstrip("\n") + "\n" for n, p in enumerate(parts, 1)]
