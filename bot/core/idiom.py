"""Follow the file's existing practice: a finding that the unchanged code of the same
file already shows is not this change's fault, and a core reviewer would not ask the
patch to differ from its neighbours.

Two checks, both on findings that touch added lines of a file that has unchanged
lines too (an added file has none, so nothing is damped there):

- **Idiom**: the same rule already matches at least ``threshold`` unchanged lines of
  the file.
- **Copies** (rules with ``metadata: {new-copies-only: true}``, a review-bot extension
  the ast-grep CLI ignores): the matched text also stands on an unchanged line, so the
  change did not introduce it (``hardcoded-uuid-repeated``: a literal some unchanged
  test already repeats).

Pure: findings and texts in, the findings to demote out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from bot.model import ChangedFile, Finding

NEW_COPIES_ONLY = "new-copies-only"


def _touches(finding: Finding, lines: frozenset[int]) -> bool:
    return not lines.isdisjoint(finding.span.lines)


def unchanged_match_lines(
    context: Sequence[Finding], changes: Mapping[str, ChangedFile]
) -> dict[tuple[str, str], set[int]]:
    """(path, rule) -> the unchanged lines that rule matches, from whole-file findings."""
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    for f in context:
        change = changes.get(f.path)
        if change is not None and not _touches(f, change.added_lines):
            found[f.path, f.rule_id].add(f.span.start.line)
    return found


def _on_unchanged_line(text: str, needle: str, added: frozenset[int]) -> bool:
    start = text.find(needle)
    while start != -1:
        if text.count("\n", 0, start) + 1 not in added:
            return True
        start = text.find(needle, start + 1)
    return False


def established(
    candidates: Sequence[Finding],
    context: Sequence[Finding],
    changes: Mapping[str, ChangedFile],
    texts: Mapping[str, str],
    threshold: int,
) -> frozenset[Finding]:
    """The ``candidates`` that follow what unchanged lines of their file already do.
    ``context``: the whole-file findings of the candidates' rules in their files."""
    if threshold <= 0:
        return frozenset()
    practice = unchanged_match_lines(context, changes)
    damped = set()
    for f in candidates:
        change = changes.get(f.path)
        if change is None or change.whole_file or not _touches(f, change.added_lines):
            continue
        if len(practice.get((f.path, f.rule_id), ())) >= threshold or (
            f.metadata.get(NEW_COPIES_ONLY)
            and _on_unchanged_line(texts.get(f.path, ""), f.matched, change.added_lines)
        ):
            damped.add(f)
    return frozenset(damped)
