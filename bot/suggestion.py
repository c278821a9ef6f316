"""Exact edits -> a Fix with a whole-line suggestion, as a GitHub suggestion block needs."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from bot.model import Edit, Fix, LineSuggestion

_BARE_LF = re.compile(r"(?<!\r)\n")


class LineIndex:
    """Character offset <-> 1-based line lookups for one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def line_start(self, line: int) -> int:
        return self.starts[line - 1]

    def line_end(self, line: int) -> int:
        """Offset of the end of ``line``, before its terminator."""
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        if end > self.line_start(line) and self.text[end - 1] == "\r" and line < len(self.starts):
            end -= 1
        return end


def newline_of(text: str) -> str:
    """The file's line ending: CRLF when most lines end so."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"


def with_line_endings(edit: Edit, newline: str) -> Edit:
    if newline == "\n" or "\n" not in edit.replacement:
        return edit
    return Edit(edit.start, edit.end, _BARE_LF.sub(newline, edit.replacement))


def _indent_chars(lines: Sequence[str]) -> set[str]:
    chars: set[str] = set()
    for line in lines:
        stripped = line.lstrip(" \t")
        if stripped.strip():
            chars.update(line[: len(line) - len(stripped)])
    return chars


def _line_suggestion(index: LineIndex, edits: Sequence[Edit]) -> LineSuggestion | None:
    first = index.line_of(min(e.start for e in edits))
    last = index.line_of(max(max(e.end - 1, e.start) for e in edits))
    block_start, block_end = index.line_start(first), index.line_end(last)
    pieces: list[str] = []
    cursor = block_start
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < cursor:
            return None  # overlapping edits: no single meaning
        pieces += [index.text[cursor : edit.start], edit.replacement]
        cursor = edit.end
    pieces.append(index.text[cursor:block_end] if cursor <= block_end else "")
    new = "".join(pieces)
    old = index.text[block_start:block_end]
    if "\n" in new.rstrip("\r\n") and {" ", "\t"} <= _indent_chars(
        old.splitlines() + new.splitlines()
    ):
        # Spaces and tabs in one multi-line block would break Python's indentation.
        return None
    return LineSuggestion(first, last, new)


def build_fix(text: str, edits: Sequence[Edit], finding_lines: range) -> Fix | None:
    """Keep the exact edits; add a suggestion of the lines around the finding.

    Edits outside the finding's lines (an import at the top, say) stay in ``edits``
    for platforms that take several edits, but not in the line suggestion. A
    multi-line fix that would mix tabs and spaces is dropped entirely.
    """
    if not edits:
        return None
    index = LineIndex(text)
    newline = newline_of(text)
    edits = tuple(with_line_endings(e, newline) for e in edits)
    local = [
        e
        for e in edits
        if index.line_of(e.start) <= finding_lines[-1]
        and index.line_of(max(e.end - 1, e.start)) >= finding_lines[0]
    ]
    suggestion = _line_suggestion(index, local) if local else None
    if local and suggestion is None:
        return None
    return Fix(edits=edits, suggestion=suggestion)
