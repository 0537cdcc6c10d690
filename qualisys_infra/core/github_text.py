"""Text that goes into GitHub: the one set of escaping rules and size limits for every comment and summary.

The plan review, the test report, the cost review, sign-off and release write Markdown (and the
HTML GitHub allows in it) that holds text from outside: addresses and values from a plan, test
names and failure messages, tenant and step names. Each such value goes through one function here,
chosen by where it lands, so a character is escaped the same way whoever writes it:

- :func:`shown`: one line of printable characters; a line break, control, bidirectional or
  invisible character is written as its escape (``\\n``, ``\\u202e``). Every function below starts
  with it, so no value can add a line, reorder what a reader sees or hide text.
- :func:`md_text`: inline Markdown text (a heading, a list item, a table cell): every ASCII
  punctuation character backslash-escaped, so no link, image, emphasis, HTML tag, table pipe or
  heading can come from the value, and ``@`` followed by an invisible joiner (:data:`NO_MENTION`),
  so no ``@user`` or ``@org/team`` is notified.
- :func:`md_code`: a whole code span, its backtick fence longer than any run inside; in a table
  (``in_table``) a pipe is ``\\|``, which GitHub's table parser reads as a pipe even inside code.
- :func:`html_text`: text inside an HTML element (``<summary>``, ``<code>``), entities for
  ``& < > " '``, and outside ``<code>`` no mention.
- :func:`code_line` and :func:`fence_for`: a line inside a fenced block and a fence no line closes.

Limits, as GitHub documents them (read 2026-12-06):

- :data:`COMMENT_LIMIT`: an issue or pull-request comment body holds at most 65,536 characters
  (the REST API answers 422 "body is too long (maximum is 65536 characters)");
- :data:`STEP_SUMMARY_LIMIT`: ``$GITHUB_STEP_SUMMARY`` takes at most 1 MiB per step
  (docs.github.com, "Workflow commands for GitHub Actions", "Adding a job summary").
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

COMMENT_LIMIT = 65_536  # characters in one issue or pull-request comment body
STEP_SUMMARY_LIMIT = 1024 * 1024  # bytes of $GITHUB_STEP_SUMMARY per step
NO_MENTION = "\u2060"  # a word joiner after "@": GitHub links no @user or @org/team outside code

_LINE_BREAKS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BACKTICKS = re.compile(r"`+")
# Every ASCII punctuation character, backslash-escaped (CommonMark lets any of them be escaped).
_MD_ESCAPES = {ord(c): "\\" + c for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"} | {ord("@"): "\\@" + NO_MENTION}
_PLAIN = re.compile(r"[\w.\[\]\"\-/:=+,() ]*")  # no backtick, control, line-break or pipe character


def _escaped(char: str) -> str:
    """One character as JSON writes it (``\\u202e``; a pair of surrogates above U+FFFF), as diff values read."""
    if char in _LINE_BREAKS:
        return _LINE_BREAKS[char]
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def shown(text: object) -> str:
    """``text`` on one line of printable characters: every control, format (bidirectional overrides
    and isolates, zero-width and invisible characters, tag characters), separator other than the
    space, private-use or unassigned character is written as its escape, the way diff values are
    written (``\\u202e``, ``\\n``), so an address or key can neither reorder nor hide what a reader
    sees. Idempotent: what it returns it returns unchanged."""
    line = text if type(text) is str else str(text)
    if line.isprintable():
        return line  # the common case: nothing to replace
    return "".join(c if c == " " or c.isprintable() else _escaped(c) for c in line)


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def md_text(text: object) -> str:
    """Markdown inline text (a heading, a table cell, a list item): one line, every punctuation
    character backslash-escaped and no mention (GitHub finds those in the rendered text, so ``@`` is
    followed by an invisible joiner)."""
    return shown(text).translate(_MD_ESCAPES)


def md_code(text: object, *, in_table: bool = False) -> str:
    """A whole Markdown code span holding ``text`` literally: a backtick fence longer than any run inside."""
    if (
        isinstance(text, str)
        and text
        and text.isascii()
        and _PLAIN.fullmatch(text)
        and text[0] != " "
        and text[-1] != " "
    ):
        return f"`{text}`"  # an ordinary address: nothing to escape
    line = shown(text)
    longest = max((len(run) for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * (longest + 1)
    if not line.strip() or line.startswith(("`", " ")) or line.endswith(("`", " ")):
        line = f" {line} "
    if in_table:
        line = line.replace("|", "\\|")  # GitHub's table parser reads \| as a pipe, even inside code
    return f"{fence}{line}{fence}"


def html_text(text: object, *, in_code: bool = False) -> str:
    """Text inside an HTML element (``<summary>``, ``<code>``, a report page): entities for
    ``& < > " '``, one line, and outside ``<code>`` no mention."""
    escaped = html.escape(shown(text), quote=True)
    return escaped if in_code else escaped.replace("@", "@" + NO_MENTION)


def html_block(text: object) -> str:
    """Several lines inside an HTML ``<pre>`` (a traceback): each line as :func:`html_text` in code."""
    return "\n".join(html_text(line, in_code=True) for line in str(text).splitlines())


def code_line(text: object) -> str:
    """A value on one line inside a fenced block (the fence comes from :func:`fence_for`)."""
    return shown(text)


def fence_for(lines: Sequence[str]) -> str:
    """A code fence that no line of ``lines`` can close: longer than any backtick run in them."""
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    return "`" * max(3, longest + 1)
