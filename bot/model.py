"""The data that flows through the bot: plain frozen dataclasses, no I/O.

Positions follow one convention everywhere: lines are 1-based, columns are
0-based offsets in *characters* (what ast-grep-py reports), offsets are
character indexes into the decoded file text. Output formats convert to
their own conventions (for example rdjson's 1-based UTF-8 byte columns).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """Ordered so that comparisons mean "at least as severe as"."""

    off = 0
    hint = 1
    info = 2
    warning = 3
    error = 4

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls[value]
        except KeyError:
            names = ", ".join(s.name for s in cls)
            raise ValueError(f"unknown severity {value!r} (expected one of: {names})") from None


class FilterMode(enum.StrEnum):
    """Which findings to keep, named as reviewdog names its filter modes."""

    added = "added"  # the finding touches an added line
    diff_context = "diff_context"  # it touches a hunk
    file = "file"  # it is in a changed file
    nofilter = "nofilter"  # everything


class FileStatus(enum.StrEnum):
    added = "added"
    modified = "modified"
    renamed = "renamed"
    deleted = "deleted"
    binary = "binary"


@dataclass(frozen=True)
class Pos:
    line: int  # 1-based
    column: int  # 0-based, in characters
    offset: int  # character index into the file text


@dataclass(frozen=True)
class Span:
    start: Pos
    end: Pos

    @property
    def lines(self) -> range:
        """Lines the span touches; an end at column 0 does not touch its line."""
        last = self.end.line
        if self.end.column == 0 and last > self.start.line:
            last -= 1
        return range(self.start.line, last + 1)


@dataclass(frozen=True)
class Hunk:
    """A hunk of the new file: lines ``start..end`` (inclusive), 1-based."""

    start: int
    end: int


@dataclass(frozen=True)
class ChangedFile:
    path: str
    status: FileStatus
    old_path: str | None = None
    added_lines: frozenset[int] = frozenset()
    hunks: tuple[Hunk, ...] = ()
    # True when the diff said the whole file is new or the caller asked for the whole file.
    whole_file: bool = False


Reader = Callable[[str], bytes]


@dataclass(frozen=True)
class Change:
    """The changed files of a change and a way to read each one's new bytes.

    ``read`` raises ``IntakeError`` for a path it cannot read.
    """

    files: list[ChangedFile]
    read: Reader


@dataclass(frozen=True)
class SourceFile:
    """A changed file with its new contents, ready for analysis."""

    change: ChangedFile
    text: str

    @property
    def path(self) -> str:
        return self.change.path


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` (character offsets) with ``replacement``."""

    start: int
    end: int
    replacement: str


@dataclass(frozen=True)
class LineSuggestion:
    """The new text of whole lines ``start_line..end_line``: what a suggestion block carries.

    ``text`` has no trailing line break. An empty ``text`` is ambiguous on its own (an
    empty line, or the lines deleted); the exact ``Fix.edits`` say which.
    """

    start_line: int
    end_line: int
    text: str


@dataclass(frozen=True)
class Fix:
    edits: tuple[Edit, ...]
    suggestion: LineSuggestion | None


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: Severity
    message: str
    path: str
    span: Span
    matched: str
    pack: str = ""
    note: str | None = None
    url: str | None = None
    fix: Fix | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def line(self) -> int:
        return self.span.start.line


@dataclass(frozen=True)
class Problem:
    """Something we could not analyse, reported instead of silently dropped."""

    path: str
    message: str
    level: str = "warning"


# --- jobs of the service --------------------------------------------------------------------


@dataclass(frozen=True)
class JobKey:
    """One review of one revision."""

    platform: str
    project: str
    change: str
    revision: str


class JobState(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    dead = "dead"
    superseded = "superseded"


@dataclass(frozen=True)
class Job:
    """A job as the store holds it; adapters read ``key`` and ``payload``."""

    id: int
    key: JobKey
    state: JobState
    attempts: int
    payload: dict[str, Any]
    delivery_id: str | None
    not_before: float
    lease_owner: str | None
    lease_expires: float | None
    result: dict[str, Any] | None
    last_error: str | None
    created: float
    updated: float
