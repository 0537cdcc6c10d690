"""Reading one tfvars file: its values (python-hcl2) and the line each key and item stands on.

python-hcl2 gives values but no line numbers for attributes, and silently keeps the last of two
equal keys. The lark tree it parses first has both, so this module reads the file once, walks the
tree for lines and duplicate keys, and turns the same tree into values.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from qualisys_infra.core.errors import ConfigError, Violation
from qualisys_infra.core.files import not_utf8

KeyPath = tuple[str | int, ...]
# No setting of this platform nests more than a few levels; the parser recurses once per level.
MAX_DEPTH = 32

_OPTIONS = hcl2.SerializationOptions(
    with_comments=False,
    with_meta=False,
    explicit_blocks=False,
    strip_string_quotes=True,
    preserve_heredocs=False,
)


@dataclass(frozen=True, slots=True)
class HclDocument:
    """A parsed tfvars file: top-level values, and the line of every key path in it."""

    display_name: str
    values: dict[str, Any]
    lines: dict[KeyPath, int]

    def line_of(self, path: KeyPath) -> int:
        """The line of ``path``, or of its nearest ancestor that is in the file (1 for none)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 1


def read_hcl(path: Path, display_name: str) -> HclDocument:
    """Parse ``path``; raise :class:`ConfigError` naming the file and line for anything unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            [Violation(display_name, 1, "file", "not found, expected an HCL file of `key = value` lines")]
        ) from None
    except OSError as exc:
        raise ConfigError([Violation(display_name, 1, "file", f"cannot be read: {exc.strerror or exc}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, what = not_utf8(data, exc)
        raise ConfigError([Violation(display_name, line, "file", what)]) from None
    unterminated = _unterminated_string_line(text)
    if unterminated is not None:
        raise ConfigError(
            [
                Violation(
                    display_name,
                    unterminated,
                    "syntax",
                    'not valid HCL: unterminated string; expected a closing " on the same line',
                )
            ]
        )
    deep = _too_deep_line(text)
    if deep is not None:
        raise ConfigError(
            [
                Violation(
                    display_name,
                    deep,
                    "syntax",
                    f"nested deeper than {MAX_DEPTH} lists or maps, expected flat settings",
                )
            ]
        )
    try:
        tree = hcl2.parses_to_tree(text)
    except RecursionError:  # pragma: no cover - _too_deep_line stops every nesting the parser cannot take
        raise ConfigError([Violation(display_name, 1, "syntax", "nested too deeply to read")]) from None
    except UnexpectedInput as exc:
        raise ConfigError([_syntax_violation(display_name, exc)]) from None
    except LarkError as exc:  # pragma: no cover - lark raises UnexpectedInput for every syntax error
        raise ConfigError([Violation(display_name, 1, "syntax", f"not valid HCL: {exc}")]) from None

    lines: dict[KeyPath, int] = {}
    duplicates: list[Violation] = []
    blocks: list[Violation] = []
    body = tree.children[0] if tree.children and isinstance(tree.children[0], Tree) else tree
    for child in body.children:
        if not isinstance(child, Tree):
            continue
        if child.data == "block":
            line = _first_line(child) or 1
            blocks.append(
                Violation(display_name, line, "syntax", "blocks are not allowed in tfvars, expected `key = value`")
            )
        elif child.data == "attribute":
            name = _identifier(child.children[0])
            line = _first_line(child) or 1
            if (name,) in lines:
                duplicates.append(
                    Violation(
                        display_name,
                        line,
                        name,
                        f"set twice (first on line {lines[(name,)]}), expected each key once",
                    )
                )
                continue
            lines[(name,)] = line
            _index_expression(child.children[-1], (name,), lines, display_name, duplicates, text)
    if duplicates or blocks:
        raise ConfigError(sorted([*blocks, *duplicates], key=lambda v: v.line))

    try:
        values = hcl2.transform(tree).serialize(options=_OPTIONS)
    except VisitError as exc:  # a template python-hcl2 cannot read, e.g. `%{ for }` with no `%{ endfor }`
        node = exc.obj
        line = (_first_line(node) if isinstance(node, Tree | Token) else None) or 1
        raise ConfigError(
            [Violation(display_name, line, "syntax", f"not valid HCL: {exc.orig_exc}; expected `key = value` lines")]
        ) from None
    if not isinstance(values, dict):  # pragma: no cover - a body always serializes to a dict
        raise ConfigError([Violation(display_name, 1, "syntax", "expected `key = value` lines")])
    return HclDocument(display_name=display_name, values=values, lines=lines)


def _too_deep_line(text: str) -> int | None:
    """The line where brackets outside strings first nest deeper than :data:`MAX_DEPTH`.

    The parser and the serializer recurse once per level; a hostile file of thousands of ``[``
    would end in a RecursionError rather than a message.
    """
    depth = 0
    in_string = False
    escaped = False
    line = 1
    for ch in text:
        if ch == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{(":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif ch in "]})":
            depth -= 1
    return None


def _unterminated_string_line(text: str) -> int | None:
    """The first line with a string that does not close on it (HCL strings are one line).

    The parser would read on to the next quote and report a confusing place further down.
    """
    heredoc: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        in_string = False
        i = 0
        while i < len(line):
            ch = line[i]
            if in_string:
                if ch == "\\":
                    i += 1
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch == "#" or line.startswith("//", i):
                break
            elif line.startswith("<<", i):
                heredoc = line[i + 2 :].lstrip("-~").strip() or None
                break
            i += 1
        if in_string:
            return number
    return None


def _syntax_violation(display_name: str, exc: UnexpectedInput) -> Violation:
    line = getattr(exc, "line", None)
    if not isinstance(line, int) or line < 1:
        line = 1
    if isinstance(exc, UnexpectedEOF):
        what = "the file ends in the middle of a value"
    elif isinstance(exc, UnexpectedCharacters):
        what = f"unexpected character {exc.char!r} at column {exc.column}"
    else:
        token = getattr(exc, "token", None)
        shown = str(token).strip() if token is not None else ""
        what = f"unexpected {shown!r} at column {getattr(exc, 'column', '?')}" if shown else "unexpected input"
    return Violation(display_name, line, "syntax", f"not valid HCL: {what}; expected `key = value` lines")


def _identifier(node: Tree[Token] | Token) -> str:
    for token in _tokens(node):
        return str(token)
    return ""


def _key_text(node: Tree[Token] | Token, source: str) -> str:
    """The text of an object key: a bare identifier or a quoted string.

    A quoted key is read from the source between its quotes, so that a key holding a template
    (``"a%{ if x }b%{ endif }"``) keeps the spaces its tokens drop, as the serializer keeps them.
    """
    tokens = _tokens(node)
    quotes = [t for t in tokens if t.type == "DBLQUOTE"]
    if len(quotes) == 2 and quotes[0].end_pos is not None and quotes[1].start_pos is not None:
        text = source[quotes[0].end_pos : quotes[1].start_pos]
    else:
        text = "".join(str(t) for t in tokens if t.type not in ("DBLQUOTE",))
    if any(t.type == "DBLQUOTE" for t in tokens) and "\\" in text:
        with contextlib.suppress(ValueError):  # the serializer decodes escapes the same way
            decoded = json.loads(f'"{text}"')
            if isinstance(decoded, str):
                return decoded
    return text


def _tokens(node: Tree[Token] | Token) -> list[Token]:
    if isinstance(node, Token):
        return [node]
    return [t for t in node.scan_values(lambda v: isinstance(v, Token))]


def _first_line(node: Tree[Token] | Token) -> int | None:
    for token in _tokens(node):
        if token.line is not None:
            return int(token.line)
    return None


def _index_expression(
    node: Tree[Token] | Token,
    path: KeyPath,
    lines: dict[KeyPath, int],
    display_name: str,
    duplicates: list[Violation],
    source: str,
) -> None:
    """Record the line of every object key and tuple item below ``node``."""
    if not isinstance(node, Tree):
        return
    if node.data == "expr_term" and len(node.children) == 1 and isinstance(node.children[0], Tree):
        _index_expression(node.children[0], path, lines, display_name, duplicates, source)
        return
    if node.data == "object":
        for elem in node.children:
            if not isinstance(elem, Tree) or elem.data != "object_elem":
                continue
            key = _key_text(elem.children[0], source)
            line = _first_line(elem) or lines.get(path, 1)
            if (*path, key) in lines:
                duplicates.append(
                    Violation(
                        display_name,
                        line,
                        ".".join(str(p) for p in (*path, key)),
                        f"set twice (first on line {lines[(*path, key)]}), expected each key once",
                    )
                )
                continue
            lines[(*path, key)] = line
            _index_expression(elem.children[-1], (*path, key), lines, display_name, duplicates, source)
    elif node.data == "tuple":
        index = 0
        for item in node.children:
            if isinstance(item, Tree):
                lines[(*path, index)] = _first_line(item) or lines.get(path, 1)
                _index_expression(item, (*path, index), lines, display_name, duplicates, source)
                index += 1
