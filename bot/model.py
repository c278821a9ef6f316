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

# The two enums the command line's parser names live apart, so that it need not build
# every dataclass below to print --help.
from bot.levels import FilterMode as FilterMode
from bot.levels import Severity as Severity


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
    """One file of a change: its new side (``path``, ``added_lines``, ``hunks``) and its
    base side (``base_path``, ``removed_lines``, ``base_hunks``), all 1-based lines."""

    path: str
    status: FileStatus
    old_path: str | None = None
    added_lines: frozenset[int] = frozenset()
    hunks: tuple[Hunk, ...] = ()
    # True when the diff said the whole file is new or the caller asked for the whole file.
    whole_file: bool = False
    removed_lines: frozenset[int] = frozenset()
    base_hunks: tuple[Hunk, ...] = ()

    @property
    def base_path(self) -> str | None:
        """Where the file was in the base; None when the change added it."""
        if self.status is FileStatus.added:
            return None
        return self.old_path or self.path

    @property
    def base_side(self) -> ChangedFile | None:
        """The base side as a file of its own, so the same region logic analyses it: its
        "added" lines are the lines the change removed. None when there is no base."""
        base = self.base_path
        if base is None or self.status is FileStatus.binary:
            return None
        return ChangedFile(
            path=base,
            status=FileStatus.modified,
            added_lines=self.removed_lines,
            hunks=self.base_hunks,
            whole_file=self.status is FileStatus.deleted,
        )


Reader = Callable[[str], bytes]


@dataclass(frozen=True)
class Change:
    """The changed files of a change and a way to read each one's new bytes.

    ``read`` raises ``IntakeError`` for a path it cannot read.
    """

    files: list[ChangedFile]
    read: Reader
    # The base side's bytes by base path, when the intake has them (a git range does, a
    # plain diff does not); without it the review cannot tell new findings from old ones.
    read_base: Reader | None = None
    # Test files the platform could not give us (a diff too large to show, say).
    skipped: tuple[SkippedFile, ...] = ()
    # The repository's own settings file, read at the base revision (config/repo.py).
    repo_config: bytes | None = None
    # What the review must say about the change as a whole (files past a platform's cap).
    notes: tuple[str, ...] = ()
    # What the CLI's intake must tell its user, each naming a file (a skipped link, a diff
    # made against another version of the tree); the CLI prints them on stderr.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """A change with the bytes already read: what the core analyses (and a process pool can
    pickle, unlike a reader). ``base`` is None when the base side is not at hand."""

    files: tuple[ChangedFile, ...]  # the files to review
    head: dict[str, bytes]
    base: dict[str, bytes] | None = None
    skipped: tuple[SkippedFile, ...] = ()  # test files not selected, and why


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
class TextEdit:
    """An exact edit with its positions resolved, so a platform needs no file text."""

    span: Span
    replacement: str

    @property
    def edit(self) -> Edit:
        return Edit(self.span.start.offset, self.span.end.offset, self.replacement)


@dataclass(frozen=True)
class Fix:
    """What ``ast-grep scan --update-all`` would write (``edits``), and the same as the new
    text of whole lines (``suggestion``), which is what a GitHub suggestion block carries."""

    edits: tuple[TextEdit, ...]
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


class SkipReason(enum.StrEnum):
    binary = "binary"
    too_large = "too_large"  # over limits.max_file_bytes
    not_utf8 = "not_utf8"
    over_max_files = "over_max_files"  # past limits.max_files
    analysis_failed = "analysis_failed"
    time_budget = "time_budget"  # over limits.analysis_seconds_per_file or _per_job
    memory = "memory"  # over limits.analysis_memory_mb
    no_diff = "no_diff"  # the platform sent no diff for it (too large to show)


@dataclass(frozen=True)
class SkippedFile:
    """A test file that was not reviewed, and why: reported, never silently dropped."""

    path: str
    reason: SkipReason
    message: str


@dataclass(frozen=True)
class SyntaxProblem:
    """Where a reviewed file does not parse. Its findings stand, but rules may miss code
    near it: tree-sitter recovers, and what it could not place is an ERROR node, or a
    token it had to insert (``missing``)."""

    path: str
    line: int  # 1-based
    column: int  # 0-based, in characters
    missing: str | None = None  # the inserted token's kind; None for an ERROR node

    def describe(self) -> str:
        what = "does not parse" if self.missing is None else f"lacks a {self.missing!r}"
        return (
            f"{self.path}:{self.line}:{self.column + 1}: {what} (a syntax error); "
            "rules may miss code around it"
        )


# --- the review plan: what to say, for every output ------------------------------------------


@dataclass(frozen=True)
class Comment:
    """One finding to post. ``fingerprint`` is its identity across revisions and line moves
    (core/fingerprint.py); adapters put it in the comment's hidden marker."""

    fingerprint: str
    rule_id: str
    severity: Severity
    path: str
    span: Span
    message: str
    matched: str
    pack: str = ""
    note: str | None = None
    url: str | None = None
    fix: Fix | None = None

    @property
    def line(self) -> int:
        return self.span.start.line

    @property
    def suggestion(self) -> LineSuggestion | None:
        return None if self.fix is None else self.fix.suggestion


@dataclass(frozen=True)
class PlanSummary:
    """What was not said, and why; counts of what is said derive from the comments."""

    analysed_files: int = 0
    skipped: tuple[SkippedFile, ...] = ()
    below_threshold: int = 0
    suppressed: int = 0
    in_base: int = 0  # findings the base side already had (moved, re-indented, renamed code)
    established: int = 0  # findings that follow what unchanged lines of the file already do
    baseline: bool = False  # whether the base side was compared at all
    # Fingerprints of every finding at the head, posted or not: a comment posted earlier
    # whose fingerprint is not here was fixed (unless its file was skipped).
    present: tuple[str, ...] = ()
    # What the review must say besides findings (a broken repository config, say).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewPlan:
    """Everything a review says, platform-neutral: the CLI's formats and every adapter
    render from this, so `review-bot check` prints what the bot posts."""

    comments: tuple[Comment, ...] = ()
    summary: PlanSummary = field(default_factory=PlanSummary)

    def by_rule(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.comments:
            counts[c.rule_id] = counts.get(c.rule_id, 0) + 1
        return dict(sorted(counts.items()))

    def by_severity(self) -> dict[Severity, int]:
        counts: dict[Severity, int] = {}
        for c in self.comments:
            counts[c.severity] = counts.get(c.severity, 0) + 1
        return dict(sorted(counts.items(), reverse=True))


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
