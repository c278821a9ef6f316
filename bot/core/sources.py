"""Which files of a change are reviewed, their bytes, and their text. Pure: reading goes
through the change's own readers, which the caller runs where blocking is allowed."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.globs import GlobSet
from bot.core.options import CheckOptions
from bot.model import (
    Change,
    ChangedFile,
    FileStatus,
    FilterMode,
    SkippedFile,
    SkipReason,
    Snapshot,
    SourceFile,
)


def select_sources(
    files: Sequence[ChangedFile], options: CheckOptions
) -> tuple[list[ChangedFile], list[SkippedFile]]:
    """The test files to review (deleted ones included: their base side may hold the
    code a change moved elsewhere), and every test file that will not be, with why."""
    tests = GlobSet(options.test_globs)
    candidates = [f for f in files if tests.matches(f.path)]
    limit = options.max_files
    skipped = [
        SkippedFile(
            f.path,
            SkipReason.over_max_files,
            f"skipped: {len(candidates)} test files changed; only the first {limit} "
            "are analysed (limits.max_files)",
        )
        for f in candidates[limit:]
    ]
    wanted: list[ChangedFile] = []
    for f in candidates[:limit]:
        if f.status is FileStatus.binary:
            skipped.append(SkippedFile(f.path, SkipReason.binary, "skipped: binary file"))
        else:
            wanted.append(f)
    return wanted, skipped


def needs_base(changed: ChangedFile, mode: FilterMode) -> bool:
    """Whether the base side can hold a finding to compare against."""
    base = changed.base_side
    if base is None:
        return False
    return (
        base.whole_file
        or mode in (FilterMode.file, FilterMode.nofilter)
        or bool(base.added_lines if mode is FilterMode.added else base.hunks)
    )


def snapshot(change: Change, options: CheckOptions) -> Snapshot:
    """Select the files to review and read what their review will use: the new bytes of
    every file still there, and, for the baseline, the base bytes of every file whose base
    side counts. Readers may block: the service runs this in a thread."""
    wanted, skipped = select_sources(change.files, options)
    head = {f.path: change.read(f.path) for f in wanted if f.status is not FileStatus.deleted}
    base: dict[str, bytes] | None = None
    if options.baseline and change.read_base is not None:
        base = {}
        for f in wanted:
            if needs_base(f, options.filter_mode):
                path = f.base_path
                assert path is not None, "needs_base implies a base path"
                base[path] = change.read_base(path)
    tests = GlobSet(options.test_globs)
    unread = [s for s in change.skipped if tests.matches(s.path)]
    return Snapshot(tuple(wanted), head, base, (*unread, *skipped))


def decode_source(change: ChangedFile, data: bytes, max_bytes: int) -> SourceFile | SkippedFile:
    """Bytes -> text, or why the file is skipped."""
    if len(data) > max_bytes:
        return SkippedFile(
            change.path,
            SkipReason.too_large,
            f"skipped: {len(data):,} bytes is over the "
            f"limit of {max_bytes:,} (limits.max_file_bytes)",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The ast-grep CLI skips such files too; say so rather than guess an encoding.
        return SkippedFile(
            change.path, SkipReason.not_utf8, f"skipped: not valid UTF-8 (byte {exc.start})"
        )
    return SourceFile(change, text.removeprefix("\ufeff"))
