"""Findings -> what is worth saying: the threshold and in-code suppressions. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.model import Finding, Severity

# `# review-bot: ignore` or `# review-bot: ignore[rule-a, rule-b]`; the ast-grep CLI's own
# `# ast-grep-ignore` / `# ast-grep-ignore: rule-a, rule-b` is honoured too, so a
# suppression written for one tool silences the other.
_SUPPRESS = re.compile(
    r"#\s*(?:review-bot:\s*ignore(?:\[(?P<ours>[^\]]*)\])?"
    r"|ast-grep-ignore(?::\s*(?P<sg>[\w\-, ]*))?)"
)


def _suppressed_ids(line: str) -> set[str] | None:
    """Rule ids a line suppresses; an empty set means all rules; None means none."""
    ids: set[str] | None = None
    for m in _SUPPRESS.finditer(line):
        listed = m.group("ours") if m.group("ours") is not None else m.group("sg")
        names = {n.strip() for n in (listed or "").split(",") if n.strip()}
        if not names:
            return set()
        ids = (ids or set()) | names
    return ids


def _silences(line: str, rule_id: str) -> bool:
    ids = _suppressed_ids(line)
    return ids is not None and (not ids or rule_id in ids)


def _comment_only(line: str) -> bool:
    return line.lstrip().startswith("#")


def is_suppressed(finding: Finding, lines: Sequence[str]) -> bool:
    """The ast-grep CLI's placement rules, for its comments and ours alike.

    A suppression silences a finding that starts on its own line, or on the next line
    when the comment stands alone on its line (a trailing comment on the line above
    does not reach down). A suppression alone on line 1, followed by a blank line,
    silences the whole file.
    """
    rule = finding.rule_id
    file_level = len(lines) >= 2 and _comment_only(lines[0]) and not lines[1].strip()
    if file_level and _silences(lines[0], rule):
        return True
    start = finding.span.start.line
    if 1 <= start <= len(lines) and _silences(lines[start - 1], rule):
        return True
    above = start - 1
    return (
        1 <= above <= len(lines)
        and _comment_only(lines[above - 1])
        and _silences(lines[above - 1], rule)
    )


@dataclass(frozen=True)
class Selection:
    shown: list[Finding]
    below_threshold: int
    suppressed: int


def select(
    findings: Sequence[Finding], sources: Mapping[str, str], min_severity: Severity
) -> Selection:
    """Drop what is below the threshold or suppressed in the code; sort the rest."""
    split_cache: dict[str, list[str]] = {}
    shown: list[Finding] = []
    below = suppressed = 0
    for f in findings:
        if f.severity < min_severity or f.severity is Severity.off:
            below += 1
            continue
        lines = split_cache.get(f.path)
        if lines is None:
            lines = split_cache[f.path] = sources.get(f.path, "").splitlines()
        if is_suppressed(f, lines):
            suppressed += 1
            continue
        shown.append(f)
    shown.sort(key=lambda f: (f.path, f.span.start.line, f.span.start.column, f.rule_id))
    return Selection(shown, below, suppressed)
