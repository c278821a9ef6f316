"""Bytes of a changed file -> SourceFile, or a Problem saying why it was skipped."""

from __future__ import annotations

from bot.model import ChangedFile, Problem, SourceFile


def decode_source(change: ChangedFile, data: bytes, max_bytes: int) -> SourceFile | Problem:
    if len(data) > max_bytes:
        return Problem(
            change.path,
            f"skipped: {len(data):,} bytes is over the "
            f"limit of {max_bytes:,} (limits.max_file_bytes)",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The ast-grep CLI skips such files too; say so rather than guess an encoding.
        return Problem(change.path, f"skipped: not valid UTF-8 (byte {exc.start})")
    return SourceFile(change, text.removeprefix("\ufeff"))
