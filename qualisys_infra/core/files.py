"""Files a user hands the toolkit, and files it writes: one-line errors, and all or nothing.

:func:`read_text` and :func:`loads_json` turn every way a text file can be wrong (missing, a
folder, unreadable, not UTF-8, not JSON, nested deeper than any walk of it may go) into one
:class:`UsageError` line naming the file (and the line where there is one): exit 2, never a
traceback. :func:`write_all` writes several outputs of one command so that either every one of
them is replaced or none is.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qualisys_infra.core.errors import UsageError

# Deeper than any Terraform configuration, plan or record of this toolkit; keeps every recursive
# walk of what was read (and json.loads itself, which recurses once per level) far from Python's limit.
MAX_JSON_DEPTH = 100


def _then(hint: str) -> str:
    return f"; {hint}" if hint else ""


def read_text(path: Path, shown: str | None = None, *, hint: str = "") -> str:
    """The UTF-8 text of ``path``; a one-line :class:`UsageError` (``shown`` names the file) otherwise."""
    shown = str(path) if shown is None else shown
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{shown}: not found{_then(hint)}") from None
    except IsADirectoryError:
        raise UsageError(f"{shown}: is a folder, expected a file{_then(hint)}") from None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot be read: {exc.strerror or exc}{_then(hint)}") from None
    return decode_text(data, shown, hint=hint)


def not_utf8(data: bytes, exc: UnicodeDecodeError) -> tuple[int, str]:
    """The line of the first byte of ``data`` that is not UTF-8, and what to say of it."""
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    return line, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column}); save the file as UTF-8"


def decode_text(data: bytes, shown: str, *, hint: str = "") -> str:
    """``data`` decoded as UTF-8; the first byte that is not UTF-8 is one line naming its line and byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, what = not_utf8(data, exc)
        raise UsageError(f"{shown}:{line}: {what}{_then(hint)}") from None


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects and arrays more than ``limit`` levels deep (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def loads_json(text: str | bytes, shown: str, *, hint: str = "", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``text`` parsed as JSON; a one-line :class:`UsageError` for anything that is not JSON, not
    UTF-8, or nested more than ``max_depth`` levels deep."""
    if isinstance(text, bytes):
        text = decode_text(text, shown, hint=hint)
    try:
        value = json.loads(text)
    except RecursionError:
        raise UsageError(f"{shown}: nested more than {max_depth} levels deep{_then(hint)}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{shown}:{exc.lineno}: not valid JSON: {exc.msg} at column {exc.colno}{_then(hint)}"
        ) from None
    except ValueError as exc:  # an integer too long to convert
        raise UsageError(f"{shown}: not valid JSON: {str(exc).splitlines()[0]}{_then(hint)}") from None
    if json_depth_exceeds(value, max_depth):
        raise UsageError(f"{shown}: nested more than {max_depth} levels deep{_then(hint)}")
    return value


def read_json(path: Path, shown: str | None = None, *, hint: str = "", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """:func:`read_text`, then :func:`loads_json`."""
    shown = str(path) if shown is None else shown
    return loads_json(read_text(path, shown, hint=hint), shown, hint=hint, max_depth=max_depth)


def write_all(outputs: Mapping[Path, str | bytes], *, what: Mapping[Path, str] | None = None) -> None:
    """Write every file of ``outputs`` or none of them.

    Each is written to a temporary file beside its target (so the rename stays on one file system),
    and only when all are written are they renamed into place. A target that existed is kept aside
    until then, so a rename failing part way puts back what was there. Any failure is a one-line
    :class:`UsageError` naming the output (``what`` gives the option that named it, e.g. ``--html``).
    New outputs get the user's umask, replaced ones keep their permissions.
    """
    written: list[tuple[Path, Path]] = []  # (temporary, target)
    kept: list[tuple[Path, Path]] = []  # (the target as it was, target)
    placed: list[Path] = []
    created: list[Path] = []  # folders made for the outputs, parents first
    target = Path()
    try:
        for target, content in outputs.items():
            missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                created += [p for p in reversed(missing) if p not in created]
            except FileExistsError:  # says "File exists" of a parent that is a file
                blocking = next(p for p in (target.parent, *target.parent.parents) if p.exists() and not p.is_dir())
                raise NotADirectoryError(20, f"{blocking} is a file, not a folder") from None
            temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            written.append((temporary, target))
            with os.fdopen(fd, "wb") as out:
                out.write(content.encode("utf-8") if isinstance(content, str) else content)
        for temporary, target in written:
            if target.is_dir():
                raise IsADirectoryError(21, "it is a folder")
            if target.exists():
                aside = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
                try:
                    os.link(target, aside)
                except OSError:  # a file system without hard links
                    shutil.copy2(target, aside)
                kept.append((aside, target))
                shutil.copymode(target, temporary)  # a replaced output keeps its permissions
        for temporary, target in written:
            os.replace(temporary, target)
            placed.append(target)
    except BaseException as exc:
        restore = dict((t, a) for a, t in kept)
        for done in placed:
            with contextlib.suppress(OSError):
                if done in restore:
                    os.replace(restore.pop(done), done)
                else:
                    done.unlink()
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
        for aside in restore.values():
            aside.unlink(missing_ok=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):
            name = (what or {}).get(target)
            where = f"{name}: {target}" if name else str(target)
            raise UsageError(f"{where}: cannot be written: {exc.strerror or exc}; nothing was written") from None
        raise
    for aside, _ in kept:
        aside.unlink(missing_ok=True)
