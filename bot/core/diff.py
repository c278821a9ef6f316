"""Unified diff (git or plain) -> ChangedFile records, via unidiff."""

from __future__ import annotations

from collections.abc import Iterator

import unidiff

from bot.errors import DiffError
from bot.model import ChangedFile, FileStatus, Hunk


class _CountingLines:
    """Feeds unidiff line by line and remembers how far it got, to name the bad line."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines(keepends=True)
        self.consumed = 0

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            self.consumed += 1
            yield line


def decode_diff(data: bytes) -> str:
    """Diffs may mix encodings; line structure is all we need from the bytes."""
    return data.decode("utf-8", errors="surrogateescape")


def parse_diff(text: str) -> list[ChangedFile]:
    """Parse a unified diff. Raises DiffError naming the line for malformed input."""
    lines = _CountingLines(text)
    try:
        patch = unidiff.PatchSet(lines)
    except unidiff.UnidiffParseError as exc:
        raise DiffError(str(exc), max(lines.consumed, 1)) from None
    if not patch and text.strip():
        first = next(i for i, line in enumerate(text.splitlines(), 1) if line.strip())
        raise DiffError("no file header ('--- a/...', '+++ b/...') found", first)
    return [_changed_file(pf) for pf in patch]


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
