"""The plan and the PR's existing comments -> GitHub request bodies. Pure.

GitHub takes a review whole or not at all: one comment on a line outside the file's
hunks makes the whole POST answer 422. So every comment is placed here against the
hunks of the PR's own patch first; one that does not fit goes into the review's body.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from bot.core.fingerprint import marker, read_marker
from bot.model import ChangedFile, Comment, Hunk, ReviewPlan, Severity, SkippedFile
from bot.platforms.common import headline
from bot.report.base import note_text

SUMMARY_MARKER = "<!-- review-bot:summary -->"
_FIXED_MARKER = "<!-- review-bot:fixed={} -->"
_FIXED_RE = re.compile(r"<!--\s*review-bot:fixed=([0-9a-f]+)\s*-->")
_BODY_MARKERS = re.compile(r"<!--\s*review-bot:listed=([0-9a-f,]+)\s*-->")
_STATED_MARKERS = re.compile(r"<!--\s*review-bot:stated=([0-9a-f,]+)\s*-->")
# GitHub's limit for a comment or review body is 65,536 characters.
MAX_BODY = 65_000
# Findings one review lists in its body; the rest wait for the next review, so that the
# list and its markers stay within the body's limit.
MAX_LISTED = 200


@dataclass(frozen=True)
class Placed:
    """A finding as an inline comment: its lines on the RIGHT side, and its body."""

    comment: Comment
    start_line: int
    line: int
    body: str

    def request(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.comment.path,
            "line": self.line,
            "side": "RIGHT",
            "body": self.body,
        }
        # GitHub refuses start_line == line ("start line must precede the end line").
        if self.start_line < self.line:
            out["start_line"] = self.start_line
            out["start_side"] = "RIGHT"
        return out


@dataclass(frozen=True)
class Unplaced:
    comment: Comment
    reason: str


@dataclass(frozen=True)
class Draft:
    """One review to POST; ``listed`` are the findings its body carries instead."""

    commit_id: str
    event: str
    inline: tuple[Placed, ...]
    listed: tuple[Unplaced, ...]
    # Files not reviewed and notes that no earlier review of the bot has stated.
    skipped: tuple[SkippedFile, ...] = ()
    notes: tuple[str, ...] = ()
    unlisted: int = 0  # new findings past MAX_LISTED, left for the next review

    @property
    def needs_history(self) -> bool:
        """Whether earlier reviews' bodies may already say part of this one."""
        return bool(self.listed or self.skipped or self.notes)

    def request(self) -> dict[str, Any]:
        return {
            "commit_id": self.commit_id,
            "event": self.event,
            "body": review_body(self),
            "comments": [p.request() for p in self.inline],
        }

    def demote(self, fingerprints: set[str] | None, reason: str) -> Draft:
        """This draft with the given inline comments (all when None) moved to the body."""
        moved = [
            p for p in self.inline if fingerprints is None or p.comment.fingerprint in fingerprints
        ]
        kept = tuple(p for p in self.inline if p not in moved)
        return replace(
            self, inline=kept, listed=(*self.listed, *(Unplaced(p.comment, reason) for p in moved))
        )


# --- what the PR already carries ----------------------------------------------------------------


def posted(comments: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The bot's top-level comments by fingerprint (a reply is never a finding)."""
    out: dict[str, Mapping[str, Any]] = {}
    for c in comments:
        fp = read_marker(str(c.get("body") or ""))
        if fp is not None and c.get("in_reply_to_id") is None:
            out.setdefault(fp, c)
    return out


def answered(comments: Iterable[Mapping[str, Any]]) -> set[str]:
    """Fingerprints whose thread already has the bot's "fixed" reply."""
    return {m.group(1) for c in comments if (m := _FIXED_RE.search(str(c.get("body") or "")))}


def _marked(pattern: re.Pattern[str], bodies: Iterable[str]) -> set[str]:
    return {v for body in bodies for m in pattern.finditer(body) for v in m.group(1).split(",")}


def listed(review_bodies: Iterable[str]) -> set[str]:
    """Fingerprints earlier reviews listed in their body (findings that could not go inline)."""
    return _marked(_BODY_MARKERS, review_bodies)


def stated(review_bodies: Iterable[str]) -> set[str]:
    """Keys of the skipped files and notes earlier reviews have already said."""
    return _marked(_STATED_MARKERS, review_bodies)


def statement_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _skip_key(s: SkippedFile) -> str:
    return statement_key(f"{s.path}\0{s.reason}")


def fixed_reply(fingerprint: str, sha: str) -> str:
    return f"Fixed in `{sha[:12]}`.\n\n{_FIXED_MARKER.format(fingerprint)}"


# --- placing a finding -----------------------------------------------------------------------


def _hunk_of(hunks: Sequence[Hunk], line: int) -> Hunk | None:
    return next((h for h in hunks if h.start <= line <= h.end), None)


def place(comment: Comment, diff: ChangedFile | None) -> Placed | Unplaced:
    """Where GitHub accepts this finding: lines of one hunk of its file on the RIGHT side.
    With a suggestion, the comment covers exactly the suggested lines; when those leave
    the hunk, the comment covers the finding and the fix is described in words."""
    if diff is None:
        return Unplaced(comment, "file not in the pull request's diff")
    suggestion = comment.suggestion
    if suggestion is not None:
        hunk = _hunk_of(diff.hunks, suggestion.end_line)
        body = inline_body(comment, with_suggestion=True)
        if hunk is not None and hunk.start <= suggestion.start_line and len(body) <= MAX_BODY:
            return Placed(comment, suggestion.start_line, suggestion.end_line, body)
    first, last = comment.span.lines.start, comment.span.lines.stop - 1
    hunk = _hunk_of(diff.hunks, last)
    if hunk is None:
        return Unplaced(comment, "outside the diff's hunks")
    body = inline_body(comment, False)
    if len(body) > MAX_BODY:
        body = inline_body(comment, False, describe=False)  # the fix alone is too large
    if len(body) > MAX_BODY:
        return Unplaced(comment, "its comment would be over GitHub's size limit")
    # A finding that starts above its hunk is commented on where the hunk starts.
    return Placed(comment, max(first, hunk.start), last, body)


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _heading(c: Comment) -> str:
    return f"**{c.rule_id}** ({c.severity.name}): {c.message}"


def _described_fix(c: Comment, with_suggestion: bool) -> str:
    """The parts of the fix a suggestion block cannot carry, in words and code."""
    if c.fix is None:
        return ""
    s = c.suggestion
    lines = range(s.start_line, s.end_line + 1) if (s is not None and with_suggestion) else range(0)
    outside = [
        e for e in c.fix.edits if not (e.span.start.line in lines and e.span.end.line in lines)
    ]
    if not outside:
        return ""
    parts = [
        "The fix also needs edits that a suggestion cannot show here:"
        if with_suggestion
        else "Suggested fix (GitHub cannot show it as a suggestion here):"
    ]
    for e in outside:
        what = "insert" if e.span.start.offset == e.span.end.offset else "replace with"
        body = e.replacement.rstrip("\n")
        fence = _fence(body)
        parts.append(f"- line {e.span.start.line}, {what}:\n\n{fence}python\n{body}\n{fence}")
    return "\n".join(parts)


def inline_body(c: Comment, with_suggestion: bool, *, describe: bool = True) -> str:
    parts = [_heading(c)]
    note = note_text(c.note)
    if note:
        parts.append(note)
    if with_suggestion and c.suggestion is not None:
        fence = _fence(c.suggestion.text)
        parts.append(f"{fence}suggestion\n{c.suggestion.text}\n{fence}")
    described = _described_fix(c, with_suggestion) if describe else ""
    if described:
        parts.append(described)
    elif not describe and c.fix is not None:
        parts.append("_The suggested fix is too large to show here._")
    if c.url and urlsplit(c.url).scheme in ("http", "https"):
        parts.append(f"[Rule: {c.rule_id}]({c.url})")
    parts.append(marker(c.fingerprint))
    return "\n\n".join(parts)


# --- the review ----------------------------------------------------------------------------


def draft(
    plan: ReviewPlan,
    diffs: Mapping[str, ChangedFile],
    already: Iterable[str],
    *,
    commit_id: str,
    event: str = "COMMENT",
    max_inline: int = 30,
    said: Iterable[str] = (),
) -> Draft | None:
    """The review of what the plan has that the PR does not carry yet (``already``: the
    fingerprints it carries; ``said``: the statements earlier reviews made), or None when
    there is nothing new to say."""
    known = set(already)
    new = [c for c in plan.comments if c.fingerprint not in known]
    said_keys = set(said)
    skipped = tuple(s for s in plan.summary.skipped if _skip_key(s) not in said_keys)
    notes = tuple(n for n in plan.summary.notes if statement_key(n) not in said_keys)
    if not (new or skipped or notes):
        return None
    inline: list[Placed] = []
    out: list[Unplaced] = []
    for c in new:
        where = place(c, diffs.get(c.path))
        if isinstance(where, Unplaced):
            out.append(where)
        elif len(inline) >= max_inline:
            out.append(Unplaced(c, f"past github.max_inline ({max_inline})"))
        else:
            inline.append(where)
    return Draft(
        commit_id,
        event,
        tuple(inline),
        tuple(out[:MAX_LISTED]),
        skipped,
        notes,
        max(len(out) - MAX_LISTED, 0),
    )


def revalidate(d: Draft, diffs: Mapping[str, ChangedFile]) -> Draft:
    """After a 422: move every inline comment that no longer fits the PR's diff to the body;
    when all still fit (the 422 names none), move them all, so the review is not lost."""
    stale = {
        p.comment.fingerprint
        for p in d.inline
        if isinstance(place(p.comment, diffs.get(p.comment.path)), Unplaced)
    }
    reason = "the diff changed while the review was being posted"
    return d.demote(stale or None, reason)


def _counts(comments: Sequence[Comment], more: int = 0) -> str:
    """The headline and the table by rule; ``more``: new findings this review leaves out."""
    head = headline(comments, more)
    if not comments:
        return head
    rows = "\n".join(f"| `{r}` | {k} |" for r, k in ReviewPlan(tuple(comments)).by_rule().items())
    return f"{head}\n\n| rule | findings |\n|---|---|\n{rows}"


def not_reviewed(skipped: Sequence[SkippedFile]) -> str:
    if not skipped:
        return ""
    rows = "\n".join(f"- `{s.path}`: {s.message}" for s in skipped)
    return f"**Not reviewed:**\n{rows}"


def review_body(d: Draft) -> str:
    comments = [p.comment for p in d.inline] + [u.comment for u in d.listed]
    parts = [_counts(comments, d.unlisted)]
    if d.listed:
        rows = [
            f"- `{u.comment.path}:{u.comment.line}` **{u.comment.rule_id}**: {u.comment.message} "
            f"_({u.reason})_"
            for u in d.listed
        ]
        if d.unlisted:
            rows.append(f"- … and {d.unlisted} more, which a later review lists.")
        parts.append("**Not inline:**\n" + "\n".join(rows))
    if d.skipped:
        parts.append(not_reviewed(d.skipped))
    parts += [f"**Note:** {n}" for n in d.notes]
    tail = [SUMMARY_MARKER]
    if d.listed:
        tail.append(
            f"<!-- review-bot:listed={','.join(u.comment.fingerprint for u in d.listed)} -->"
        )
    keys = [_skip_key(s) for s in d.skipped] + [statement_key(n) for n in d.notes]
    if keys:
        tail.append(f"<!-- review-bot:stated={','.join(keys)} -->")
    end = "\n".join(tail)
    body = "\n\n".join(parts)
    if len(body) + len(end) > MAX_BODY:
        body = body[: MAX_BODY - len(end) - 40] + "\n\n… (cut at GitHub's size limit)"
    return f"{body}\n\n{end}"


# --- the check run -------------------------------------------------------------------------


def check_conclusion(plan: ReviewPlan, fail_on: Severity) -> str:
    if fail_on is not Severity.off and any(c.severity >= fail_on for c in plan.comments):
        return "failure"
    return "neutral"


def check_output(plan: ReviewPlan, new: int) -> dict[str, str]:
    n = len(plan.comments)
    title = f"{n} finding{'s' if n != 1 else ''} ({new} new)" if n else "No findings"
    parts = [
        f"{plan.summary.analysed_files} test file(s) analysed; {n} finding(s), {new} newly posted."
    ]
    if plan.comments:
        parts.append("\n".join(f"- `{r}`: {k}" for r, k in plan.by_rule().items()))
    skipped = not_reviewed(plan.summary.skipped)
    if skipped:
        parts.append(skipped)
    parts += [f"**Note:** {n}" for n in plan.summary.notes]
    return {"title": title, "summary": "\n\n".join(parts)[:MAX_BODY]}
