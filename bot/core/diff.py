"""Unified diff (git or plain) -> ChangedFile records, via unidiff."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import unidiff

from bot.core.text import split_lines
from bot.errors import DiffError
from bot.model import ChangedFile, FileStatus, Hunk


class _CountingLines:
    """Feeds unidiff line by line and remembers how far it got, to name the bad line."""

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines
        self.consumed = 0

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            self.consumed += 1
            yield line


@dataclass(frozen=True)
class HunkLines:
    """The new side of one hunk as the diff shows it (context and added lines): what the
    new file must hold at those lines for the diff to describe it."""

    path: str
    header_line: int  # the diff line of the hunk's '@@' header
    header: str
    lines: tuple[tuple[int, str], ...]  # (line in the new file, its text without line end)

    def first_mismatch(self, lines: Sequence[str]) -> int | None:
        """The first line of the new file (``split_lines`` of its text) that differs
        from the hunk, or None."""
        for number, expected in self.lines:
            if number > len(lines) or lines[number - 1].rstrip("\r\n") != expected.rstrip("\r"):
                return number
        return None


def decode_diff(data: bytes) -> str:
    """Diffs may mix encodings; line structure is all we need from the bytes."""
    return data.decode("utf-8", errors="surrogateescape")


def parse_diff(text: str) -> list[ChangedFile]:
    """Parse a unified diff. Raises DiffError naming the line for malformed input."""
    return parse_diff_hunks(text)[0]


def parse_diff_hunks(text: str) -> tuple[list[ChangedFile], list[HunkLines]]:
    """Parse a unified diff into its files and the new side of each of its hunks."""
    raw = split_lines(text)
    lines = _CountingLines(raw)
    try:
        patch = unidiff.PatchSet(lines)
    except unidiff.UnidiffParseError as exc:
        raise DiffError(str(exc), max(lines.consumed, 1)) from None
    if not patch and text.strip():
        first = next(i for i, line in enumerate(raw, 1) if line.strip())
        raise DiffError("no file header ('--- a/...', '+++ b/...') found", first)
    files = [_changed_file(pf) for pf in patch]
    hunks: list[HunkLines] = []
    for pf, changed in zip(patch, files, strict=True):
        for hunk in pf:
            numbers = [line.diff_line_no for line in hunk if line.diff_line_no is not None]
            if not numbers:
                continue
            _refuse_stray_line(raw, numbers[0] - 1, max(numbers))
            hunks.append(
                HunkLines(
                    changed.path,
                    numbers[0] - 1,
                    raw[numbers[0] - 2].rstrip("\r\n"),
                    tuple(
                        (line.target_line_no, line.value.rstrip("\n"))
                        for line in hunk
                        if line.target_line_no is not None and (line.is_added or line.is_context)
                    ),
                )
            )
    return files, hunks


def _refuse_stray_line(raw: list[str], header: int, last: int) -> None:
    """unidiff ends a hunk where its header's counts say and takes what follows for text
    between files, so an added line past the counts would be dropped without a word. A
    hunk line right after a hunk is such a line: `git apply` calls the patch corrupt."""
    index = last  # 0-based index of the line after the hunk's last line
    while index < len(raw) and (raw[index].startswith("\\") or not raw[index].strip("\r\n")):
        index += 1  # "\ No newline at end of file", blank separators
    if index >= len(raw):
        return
    line = raw[index].rstrip("\r\n")
    if line[:1] not in ("+", "-", " ") or line == "-- ":  # "-- ": format-patch's signature
        return
    following = raw[index + 1] if index + 1 < len(raw) else ""
    if line.startswith("--- ") and following.startswith("+++ "):
        return  # the next file's header
    raise DiffError(
        f"the hunk at line {header} ({raw[header - 1].rstrip()}) ends at line {last} by its "
        f"counts, but line {index + 1} goes on with {line[:40]!r}: the header's counts are "
        "smaller than the hunk (git apply calls this a corrupt patch)",
        index + 1,
    )


def _strip_prefix(path: str | None) -> str | None:
    if path is None or path == "/dev/null":
        return None
    for prefix in ("a/", "b/"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def _git_says_renamed(pf: unidiff.PatchedFile) -> bool:
    # unidiff calls any change of name a rename; plain diffs often name the old file
    # x.orig, so trust only git's own header.
    info = pf.patch_info or []
    return any(str(line).startswith("rename from ") for line in info)


def _changed_file(pf: unidiff.PatchedFile) -> ChangedFile:
    path = _strip_prefix(pf.target_file) or _strip_prefix(pf.source_file) or pf.path
    old_path = _strip_prefix(pf.source_file)
    if pf.is_binary_file or pf.is_symlink or pf.is_submodule:
        status = FileStatus.binary  # no text of ours to review
    elif pf.is_removed_file:
        status = FileStatus.deleted
    elif pf.is_added_file:
        status = FileStatus.added
    elif _git_says_renamed(pf):
        status = FileStatus.renamed
    else:
        status = FileStatus.modified
    added: set[int] = set()
    removed: set[int] = set()
    hunks: list[Hunk] = []
    base_hunks: list[Hunk] = []
    for hunk in pf:
        if hunk.target_length:
            hunks.append(Hunk(hunk.target_start, hunk.target_start + hunk.target_length - 1))
        if hunk.source_length:
            base_hunks.append(Hunk(hunk.source_start, hunk.source_start + hunk.source_length - 1))
        for line in hunk:
            if line.is_added and line.target_line_no is not None:
                added.add(line.target_line_no)
            elif line.is_removed and line.source_line_no is not None:
                removed.add(line.source_line_no)
    return ChangedFile(
        path=path,
        status=status,
        old_path=old_path if status is FileStatus.renamed else None,
        added_lines=frozenset(added),
        hunks=tuple(hunks),
        whole_file=status is FileStatus.added,
        removed_lines=frozenset(removed),
        base_hunks=tuple(base_hunks),
    )
