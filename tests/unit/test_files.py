"""Reading what a user hands the toolkit (one line, exit 2) and writing several outputs (all or none)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from qualisys_infra.core import files
from qualisys_infra.core.errors import UsageError


def _error(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(UsageError) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    assert info.value.exit_code == 2
    (line,) = info.value.lines()
    return line


# --- reading ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a\nb\ncaf\xe9\n", "f:3: not UTF-8 text (byte 0xe9 at column 4); save the file as UTF-8; run it again"),
        (b"\xff\xfea\x00", "f:1: not UTF-8 text (byte 0xff at column 1); save the file as UTF-8; run it again"),
        (b"ok\n\xc3", "f:2: not UTF-8 text (byte 0xc3 at column 1); save the file as UTF-8; run it again"),
    ],
    ids=["latin-1", "utf-16", "cut-in-a-character"],
)
def test_fails_if_a_text_file_is_not_utf8(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(content)
    assert _error(files.read_text, path, "f", hint="run it again") == message


def test_fails_if_a_text_file_is_missing_or_a_folder(tmp_path: Path) -> None:
    assert _error(files.read_text, tmp_path / "nope", "nope") == "nope: not found"
    assert _error(files.read_text, tmp_path, "here") == "here: is a folder, expected a file"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "x.json: nested more than 100 levels deep"),
        ('{"a": ' * 101 + "1" + "}" * 101, "x.json: nested more than 100 levels deep"),
        ("[" * 101 + "]" * 101, "x.json: nested more than 100 levels deep"),
        ("{\n  nope", "x.json:2: not valid JSON: Expecting property name enclosed in double quotes at column 3"),
        ("1" * 5000, "x.json: not valid JSON: Exceeds the limit (4300 digits) for integer string conversion"),
    ],
    ids=["past-the-parser", "objects", "lists", "syntax", "huge-integer"],
)
def test_fails_if_json_is_not_json_or_nests_too_deep(text: str, message: str) -> None:
    assert _error(files.loads_json, text, "x.json").startswith(message)


def test_json_at_the_depth_limit_is_read() -> None:
    assert files.loads_json("[" * 100 + "]" * 100, "x.json") is not None
    assert files.loads_json('{"a": [1]}', "x.json", max_depth=2) == {"a": [1]}
    assert _error(files.loads_json, '{"a": [[1]]}', "x.json", max_depth=2) == "x.json: nested more than 2 levels deep"


# --- writing ------------------------------------------------------------------------------------------


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_writes_every_output(tmp_path: Path) -> None:
    files.write_all({tmp_path / "a.html": "<p>a</p>", tmp_path / "sub" / "b.md": "# b", tmp_path / "c.bin": b"\x00"})
    assert (tmp_path / "a.html").read_text(encoding="utf-8") == "<p>a</p>"
    assert (tmp_path / "sub" / "b.md").read_text(encoding="utf-8") == "# b"
    assert (tmp_path / "c.bin").read_bytes() == b"\x00"
    assert _names(tmp_path) == ["a.html", "c.bin", "sub"]


def test_fails_if_one_output_cannot_be_written_and_writes_none(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    outputs = {tmp_path / "a.html": "a", tmp_path / "new" / "deeper" / "b.md": "b", tmp_path / "file" / "c.md": "c"}
    line = _error(files.write_all, outputs, what={tmp_path / "file" / "c.md": "--markdown"})
    assert line == (
        f"--markdown: {tmp_path / 'file' / 'c.md'}: cannot be written: {tmp_path / 'file'} is a file, not a folder; "
        "nothing was written"
    )
    assert _names(tmp_path) == ["file"], "no output, no temporary file, no folder made for an output"


def test_fails_if_an_output_is_a_folder_and_keeps_the_earlier_outputs(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text("old a", encoding="utf-8")
    (tmp_path / "b.md").mkdir()
    line = _error(files.write_all, {tmp_path / "a.html": "new a", tmp_path / "b.md": "b"})
    assert line == f"{tmp_path / 'b.md'}: cannot be written: it is a folder; nothing was written"
    assert (tmp_path / "a.html").read_text(encoding="utf-8") == "old a"
    assert _names(tmp_path) == ["a.html", "b.md"]


def test_fails_if_a_rename_fails_part_way_and_puts_back_what_was_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last step can fail too (a full disk's metadata, a file system gone read-only): the outputs
    already renamed go back to what they were, or away if they are new."""
    (tmp_path / "a.html").write_text("old a", encoding="utf-8")
    real_replace = os.replace
    calls: list[str] = []

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(Path(dst).name)
        if Path(dst).name == "c.md" and Path(src).suffix == ".tmp":
            raise OSError(30, "Read-only file system")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    outputs = {tmp_path / "a.html": "new a", tmp_path / "b.md": "new b", tmp_path / "c.md": "new c"}
    line = _error(files.write_all, outputs)
    assert line == f"{tmp_path / 'c.md'}: cannot be written: Read-only file system; nothing was written"
    assert calls[:3] == ["a.html", "b.md", "c.md"]
    assert (tmp_path / "a.html").read_text(encoding="utf-8") == "old a"
    assert _names(tmp_path) == ["a.html"]


def test_an_interrupt_while_writing_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.html").write_text("old a", encoding="utf-8")
    real_fdopen = os.fdopen
    opened: list[int] = []

    def fdopen(fd: int, mode: str) -> object:
        opened.append(fd)
        if len(opened) == 2:
            os.close(fd)
            raise KeyboardInterrupt
        return real_fdopen(fd, mode)

    monkeypatch.setattr(os, "fdopen", fdopen)
    with pytest.raises(KeyboardInterrupt):
        files.write_all({tmp_path / "a.html": "new a", tmp_path / "b.md": "b"})
    assert _names(tmp_path) == ["a.html"]
    assert (tmp_path / "a.html").read_text(encoding="utf-8") == "old a"


def test_a_replaced_output_keeps_its_permissions_and_a_new_one_follows_the_umask(tmp_path: Path) -> None:
    kept = tmp_path / "kept.md"
    kept.write_text("old", encoding="utf-8")
    kept.chmod(0o600)
    old_umask = os.umask(0o027)
    try:
        files.write_all({kept: "new", tmp_path / "new.md": "new"})
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "new.md").stat().st_mode) == 0o640
