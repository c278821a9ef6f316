"""What every output format shares: the Report, source lookups and column conversions.

Findings carry 1-based lines and 0-based *character* columns. Each format wants
its own unit (UTF-8 bytes for rdjson, code points for SARIF, terminal cells for
the text frame), so the conversions live here, next to the one line index they
all use.
"""

from __future__ import annotations

import bisect
import functools
import importlib.metadata
import itertools
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.model import Edit, Finding, Problem, Severity

TOOL_NAME = "review-bot"


@dataclass(frozen=True)
class Report:
    findings: Sequence[Finding]  # already filtered and sorted by the caller
    problems: Sequence[Problem]
    sources: Mapping[str, str]  # path -> full file text (for code frames and byte columns)
    tool_version: str  # e.g. "0.1.0"
    color: bool = False


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


def utf8_len(text: str) -> int:
    # surrogateescape gives back the original byte for text decoded with it;
    # a stray surrogate of any other origin still has to count as something.
    try:
        return len(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass"))


class Sources:
    """Lazily indexed view of ``Report.sources``: each file is indexed once per render."""

    def __init__(self, texts: Mapping[str, str]) -> None:
        self._texts = texts
        self._cache: dict[str, SourceText] = {}

    def get(self, path: str) -> SourceText | None:
        found = self._cache.get(path)
        if found is None and path in self._texts:
            found = self._cache[path] = SourceText(path, self._texts[path])
        return found

    def require(self, path: str) -> SourceText:
        found = self.get(path)
        if found is None:
            raise ValueError(f"no source text for {path!r}: Report.sources must hold every path")
        return found


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


def cell_width(text: str) -> int:
    """Terminal cells a string takes: wide CJK takes two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def severity_counts(findings: Sequence[Finding]) -> dict[Severity, int]:
    counts: dict[Severity, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return counts


@functools.cache
def tool_url() -> str | None:
    """The project URL from the installed package metadata, if it declares one.

    Formats that have a slot for the tool's home page (rdjson source.url, SARIF
    informationUri) fill it from here rather than from a guessed address.
    """
    try:
        meta = importlib.metadata.metadata(TOOL_NAME)
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in ("homepage", "repository", "source") and url.strip():
            return url.strip()
    for home in meta.get_all("Home-page") or []:
        if str(home).strip() not in ("", "UNKNOWN"):
            return str(home).strip()
    return None
