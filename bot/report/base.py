"""What every output format shares: the Report, source lookups and column conversions.

Comments carry 1-based lines and 0-based *character* columns. Each format wants
its own unit (UTF-8 bytes for rdjson, code points for SARIF, terminal cells for
the text frame), so the conversions live here, next to the one line index they
all use.
"""

from __future__ import annotations

import functools
import importlib.metadata
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.text import SourceText, apply_edits, sorted_text_edits, utf8_len
from bot.model import Comment, ReviewPlan, SkippedFile

__all__ = ["SourceText", "apply_edits", "sorted_text_edits", "utf8_len"]

TOOL_NAME = "review-bot"


@dataclass(frozen=True)
class Report:
    plan: ReviewPlan  # what to say; the formats only choose how
    sources: Mapping[str, str]  # path -> full file text (for code frames and byte columns)
    tool_version: str  # e.g. "0.1.0"
    color: bool = False

    @property
    def comments(self) -> Sequence[Comment]:
        return self.plan.comments

    @property
    def skipped(self) -> Sequence[SkippedFile]:
        return self.plan.summary.skipped


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


def note_text(note: str | None) -> str | None:
    """A rule's note as it is shown: no trailing whitespace on any line, no blank lines
    before or after it (a YAML block scalar, ``note: |``, ends with a line break).

    Only the shown text is trimmed; the json format carries the note as the rule wrote
    it, as ``ast-grep scan --json`` does.
    """
    if note is None:
        return None
    lines = [line.rstrip() for line in note.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines) or None


def cell_width(text: str) -> int:
    """Terminal cells a string takes: wide CJK takes two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


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
