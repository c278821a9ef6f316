"""The suggested fixes of a review, merged per file as `check --fix` applies them. Pure.

Each shown comment's fix is taken whole or not at all, in the plan's order (as ruff and
``ast-grep scan --update-all`` take the first of two clashing fixes):

- an edit identical to one already taken is shared, not applied twice (two findings that
  each add the same import add it once);
- an edit that overlaps a different one already taken refuses the whole fix, and the
  refusal names the file, the lines and both rules; the finding stays reported;
- everything else is applied.

The patch is a unified diff with ``a/`` and ``b/`` prefixes that ``git apply`` takes, lines
split on "\\n" only (as everywhere in review-bot), so CRLF endings and a missing final line
break survive the round trip.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.text import apply_edits, split_lines
from bot.model import Comment, TextEdit

_NO_NEWLINE = "\\ No newline at end of file\n"


@dataclass(frozen=True)
class Refused:
    """A fix not applied because one of its edits overlaps a fix already taken."""

    comment: Comment
    edit: TextEdit  # the comment's edit that clashes
    blocker: Comment  # the finding whose fix was taken first
    blocking: TextEdit  # the blocker's edit it clashes with

    @property
    def message(self) -> str:
        first = min(self.edit.span.start.line, self.blocking.span.start.line)
        last = max(_last_line(self.edit), _last_line(self.blocking))
        lines = f"{first}" if first == last else f"{first}-{last}"
        return (
            f"{self.comment.path}:{lines}: not fixed: the fix of {self.comment.rule_id} "
            f"(line {self.comment.line}) overlaps the fix of {self.blocker.rule_id} "
            f"(line {self.blocker.line})"
        )


@dataclass(frozen=True)
class FileFix:
    """The merged edits of one file and the findings they fix."""

    path: str
    text: str  # the text the findings were found in
    edits: tuple[TextEdit, ...]  # in file order, none overlapping, none repeated
    fixed: tuple[Comment, ...]

    @property
    def new_text(self) -> str:
        return apply_edits(self.text, [e.edit for e in self.edits])


@dataclass(frozen=True)
class FixPlan:
    files: tuple[FileFix, ...]  # files with something to change, in the plan's order
    refused: tuple[Refused, ...]
    unfixable: tuple[Comment, ...]  # findings that come without edits

    @property
    def fixed(self) -> tuple[Comment, ...]:
        return tuple(c for f in self.files for c in f.fixed)


def _key(edit: TextEdit) -> tuple[int, int, str]:
    return edit.span.start.offset, edit.span.end.offset, edit.replacement


def _last_line(edit: TextEdit) -> int:
    end = edit.span.end
    return end.line - 1 if end.column == 0 and end.line > edit.span.start.line else end.line


def clash(a: TextEdit, b: TextEdit) -> bool:
    """Whether two different edits cannot both apply with one meaning: their ranges share
    a character, one inserts inside the other's range, or both insert at one place (in
    which order?). Touching ranges (one ends where the other starts) do not clash."""
    if _key(a) == _key(b):
        return False
    (s1, e1, _), (s2, e2, _) = _key(a), _key(b)
    return s1 == e1 == s2 == e2 or (s1 < e2 and s2 < e1)


def plan_fixes(comments: Sequence[Comment], texts: Mapping[str, str]) -> FixPlan:
    """Which fixes of ``comments`` to apply, file by file; ``texts`` holds each file's text."""
    taken: dict[str, list[tuple[TextEdit, Comment]]] = {}
    fixed: dict[str, list[Comment]] = {}
    refused: list[Refused] = []
    unfixable: list[Comment] = []
    for comment in comments:
        edits = comment.fix.edits if comment.fix is not None else ()
        if not edits:
            unfixable.append(comment)
            continue
        held = taken.setdefault(comment.path, [])
        own: list[TextEdit] = []
        problem: Refused | None = None
        for edit in edits:
            for other, owner in [*held, *((e, comment) for e in own)]:
                if clash(edit, other):
                    problem = Refused(comment, edit, owner, other)
                    break
            if problem is not None:
                break
            own.append(edit)
        if problem is not None:
            refused.append(problem)
            continue
        known = {_key(e) for e, _ in held}
        held.extend((e, comment) for e in own if _key(e) not in known)
        fixed.setdefault(comment.path, []).append(comment)
    files = tuple(
        FileFix(
            path,
            texts[path],
            tuple(sorted((e for e, _ in taken[path]), key=lambda e: _key(e)[:2])),
            tuple(done),
        )
        for path, done in fixed.items()
    )
    return FixPlan(files, tuple(refused), tuple(unfixable))


def unified_patch(path: str, old: str, new: str, context: int = 3) -> str:
    """One file's change as a git-style unified diff; empty when nothing changes."""
    if old == new:
        return ""
    rows = [f"diff --git a/{path} b/{path}\n"]
    for row in difflib.unified_diff(
        split_lines(old), split_lines(new), f"a/{path}", f"b/{path}", n=context, lineterm="\n"
    ):
        # Only the last line of a side can lack its "\n": say so as git does.
        rows.append(row if row.endswith("\n") else row + "\n" + _NO_NEWLINE)
    return "".join(rows)
