"""One file's text: a line index, column units and edit application. Pure.

The core (whole-line suggestions, rule tests) and every output format share it, so
lines are counted one way everywhere: on "\\n" only, as ast-grep counts them.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from functools import cached_property

from bot.model import Edit, TextEdit


class SourceText:
    """One file's text with a line index.

    Lines are split on "\\n" only, like ast-grep counts them; str.splitlines()
    would also split on \\x0c, \\u2028 and friends and shift every line after them.
    """

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        starts = [0]
        pos = text.find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = text.find("\n", pos + 1)
        self._starts = starts

    @cached_property
    def newline(self) -> str:
        """The file's line ending: CRLF when most lines end so."""
        crlf = self.text.count("\r\n")
        return "\r\n" if crlf and crlf * 2 >= self.text.count("\n") else "\n"

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def line_start(self, line: int) -> int:
        """Offset of the first character of ``line`` (1-based)."""
        return self._starts[self._check_line(line) - 1]

    def line_end(self, line: int) -> int:
        """Offset just past the last character of ``line``, before its "\\n" (and "\\r")."""
        line = self._check_line(line)
        end = self._starts[line] - 1 if line < len(self._starts) else len(self.text)
        if end > self._starts[line - 1] and self.text[end - 1] == "\r":
            end -= 1
        return end

    def line(self, line: int) -> str:
        """The text of ``line`` without its line terminator."""
        return self.text[self.line_start(line) : self.line_end(line)]

    def position(self, offset: int) -> tuple[int, int]:
        """(1-based line, 0-based character column) of a character offset."""
        if not 0 <= offset <= len(self.text):
            raise ValueError(f"{self.path}: offset {offset} is outside the file")
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1]

    def byte_column(self, line: int, column: int) -> int:
        """0-based UTF-8 byte column of a 0-based character column on ``line``."""
        start = self.line_start(line)
        return utf8_len(self.text[start : start + column])

    def _check_line(self, line: int) -> int:
        if not 1 <= line <= len(self._starts):
            raise ValueError(f"{self.path}: line {line} is outside the file")
        return line


def split_lines(text: str) -> list[str]:
    """Lines with their ends, as a diff has them: ended by '\\n' alone. str.splitlines()
    would also cut at a form feed or a vertical tab, which Python sources may hold inside
    a line."""
    lines = text.split("\n")
    last = lines.pop()
    out = [line + "\n" for line in lines]
    if last:
        out.append(last)
    return out


def utf8_len(text: str) -> int:
    # surrogateescape gives back the original byte for text decoded with it;
    # a stray surrogate of any other origin still has to count as something.
    try:
        return len(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass"))


def sorted_edits(edits: Sequence[Edit]) -> list[Edit]:
    """Edits in file order; overlapping edits have no single meaning, so refuse them."""
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise ValueError(f"overlapping edits at offsets {before.start} and {after.start}")
    for edit in ordered:
        if edit.end < edit.start:
            raise ValueError(f"edit ends before it starts ({edit.start}..{edit.end})")
    return ordered


def sorted_text_edits(edits: Sequence[TextEdit]) -> list[TextEdit]:
    """``sorted_edits`` for edits with resolved positions."""
    sorted_edits([e.edit for e in edits])
    return sorted(edits, key=lambda e: (e.span.start.offset, e.span.end.offset))


def apply_edits(text: str, edits: Sequence[Edit], base: int = 0) -> str:
    """Apply edits whose offsets are relative to ``base`` to ``text``."""
    parts: list[str] = []
    pos = 0
    for edit in sorted_edits(edits):
        start, end = edit.start - base, edit.end - base
        if start < pos or end > len(text):
            raise ValueError(f"edit {edit.start}..{edit.end} falls outside the text")
        parts += [text[pos:start], edit.replacement]
        pos = end
    parts.append(text[pos:])
    return "".join(parts)
