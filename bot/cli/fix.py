"""`review-bot check --fix`: apply the shown findings' fixes to the tree, or print them as
a patch. Which edits apply is decided in core/fixes.py; this module reads and writes.

A file is written only when it still holds the text the findings were found in, and
atomically (a temporary file beside it, then ``os.replace``), keeping its mode and every
byte outside the edits: line endings, a byte order mark.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.core.fixes import FileFix, FixPlan, plan_fixes, unified_patch
from bot.errors import IntakeError
from bot.model import Comment

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class FixOutcome:
    plan: FixPlan
    applied: tuple[FileFix, ...]  # the files written (or, for a patch, that it changes)
    stale: tuple[FileFix, ...]  # files changed since they were read: left alone

    @property
    def fixed(self) -> tuple[Comment, ...]:
        return tuple(c for f in self.applied for c in f.fixed)

    def remaining(self, comments: tuple[Comment, ...]) -> tuple[Comment, ...]:
        done = {id(c) for c in self.fixed}
        return tuple(c for c in comments if id(c) not in done)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _current(root: Path, fix: FileFix) -> bytes | None:
    """The byte order mark the file on disk starts with (b"" for none), or None when the
    file no longer holds the text that was analysed."""
    try:
        data = (root / fix.path).read_bytes()
    except OSError as exc:
        raise IntakeError(f"{root / fix.path}: cannot read it again ({exc.strerror})") from None
    bom = _BOM if data.startswith(_BOM) else b""
    try:
        same = data[len(bom) :].decode("utf-8") == fix.text
    except UnicodeDecodeError:
        same = False
    return bom if same else None


def write_atomically(target: Path, data: bytes) -> None:
    """Replace ``target``'s contents in one step, keeping its mode; through a symlink, the
    file it points to is replaced, not the link."""
    real = Path(os.path.realpath(target))
    try:
        mode = stat.S_IMODE(real.stat().st_mode)
        fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".fix")
    except OSError as exc:
        raise IntakeError(f"{target}: cannot write the fix ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise IntakeError(f"{target}: cannot write the fix ({exc.strerror})") from None


def fix_findings(
    comments: tuple[Comment, ...],
    texts: Mapping[str, str],
    root: Path,
    *,
    patch: TextIO | None,
    err: TextIO,
) -> FixOutcome:
    """Apply the fixes of ``comments`` under ``root``; with ``patch``, write a unified diff
    of them there instead and leave the tree alone. Refusals and the summary go to ``err``."""
    plan = plan_fixes(comments, texts)
    applied: list[FileFix] = []
    stale: list[FileFix] = []
    chunks: list[str] = []
    for fix in plan.files:
        bom = _current(root, fix)
        if bom is None:
            stale.append(fix)
            print(
                f"review-bot: {fix.path}: not fixed: the file changed since it was read",
                file=err,
            )
            continue
        if patch is not None:
            prefix = bom.decode("utf-8")
            chunks.append(unified_patch(fix.path, prefix + fix.text, prefix + fix.new_text))
        else:
            write_atomically(root / fix.path, bom + fix.new_text.encode("utf-8"))
        applied.append(fix)
    if patch is not None:
        # Bytes, not text: the terminal's encoding must not touch a CRLF or a non-ASCII line.
        patch.flush()
        patch.buffer.write("".join(chunks).encode("utf-8"))
        patch.buffer.flush()
    for refused in plan.refused:
        print(f"review-bot: {refused.message}", file=err)
    outcome = FixOutcome(plan, tuple(applied), tuple(stale))
    if patch is not None:
        for comment in plan.unfixable:
            print(
                f"review-bot: {comment.path}:{comment.line}:{comment.span.start.column + 1}: "
                f"{comment.rule_id}: not fixed: the finding has no fix",
                file=err,
            )
    verb = "Would fix" if patch is not None else "Fixed"
    summary = f"{verb} {_plural(len(outcome.fixed), 'finding')} in {_plural(len(applied), 'file')}"
    if plan.refused:
        summary += f" ({len(plan.refused)} refused: overlapping)"
    print(summary, file=err)
    return outcome
