"""Exact edits -> a Fix with a whole-line suggestion, as a GitHub suggestion block needs."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core.text import SourceText, apply_edits
from bot.model import Edit, Fix, LineSuggestion, Pos, Span, TextEdit

_BARE_LF = re.compile(r"(?<!\r)\n")


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


def _line_suggestion(index: SourceText, edits: Sequence[Edit]) -> LineSuggestion | None:
    first = index.position(min(e.start for e in edits))[0]
    last = index.position(max(max(e.end - 1, e.start) for e in edits))[0]
    block_start, block_end = index.line_start(first), index.line_end(last)
    # An edit may end past the block (it deletes the line break too): take that in.
    block_text_end = max(block_end, max(e.end for e in edits))
    try:
        new = apply_edits(index.text[block_start:block_text_end], edits, base=block_start)
    except ValueError:
        return None  # overlapping edits: no single meaning
    old = index.text[block_start:block_end]
    if "\n" in new.rstrip("\r\n") and {" ", "\t"} <= _indent_chars(
        old.splitlines() + new.splitlines()
    ):
        # Spaces and tabs in one multi-line block would break Python's indentation.
        return None
    return LineSuggestion(first, last, new)


def build_fix(index: SourceText, edits: Sequence[Edit], finding_lines: range) -> Fix | None:
    """Keep the exact edits; add a suggestion of the lines around the finding.

    Edits outside the finding's lines (an import at the top, say) stay in ``edits``
    for platforms that take several edits, but not in the line suggestion. A
    multi-line fix that would mix tabs and spaces is dropped entirely. ``index`` is
    built once per file: a file can have thousands of fixes.
    """
    text = index.text
    # A rule whose rewriters all declined leaves the text as it was: that is no fix.
    edits = [e for e in edits if text[e.start : e.end] != e.replacement]
    if not edits:
        return None
    edits = tuple(with_line_endings(e, index.newline) for e in edits)
    local = [
        e
        for e in edits
        if index.position(e.start)[0] <= finding_lines[-1]
        and index.position(max(e.end - 1, e.start))[0] >= finding_lines[0]
    ]
    suggestion = _line_suggestion(index, local) if local else None
    if local and suggestion is None:
        return None
    return Fix(edits=tuple(_resolved(index, e) for e in edits), suggestion=suggestion)


def _resolved(index: SourceText, edit: Edit) -> TextEdit:
    def pos(offset: int) -> Pos:
        return Pos(*index.position(offset), offset)

    return TextEdit(Span(pos(edit.start), pos(edit.end)), edit.replacement)
