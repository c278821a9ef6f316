"""The one identity of a finding, and the hidden marker that carries it in a comment.

A fingerprint must survive a rebase, an edit above the finding and a re-indent, or a
bot re-posts every comment on each new revision (reviewdog's fingerprint holds the line
number, and that is its users' most-reported complaint). So it is built from the rule id,
the path, the matched code with whitespace runs collapsed, and the finding's occurrence
among identical (rule, path, code) triples of its file, in file order: never a line.

Changing what goes in re-keys every posted comment and every code-scanning alert, so
``tests/unit/test_fingerprint.py`` pins the value of one known finding.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence

from bot.model import Finding

FINGERPRINT_LENGTH = 32  # hex digits: 128 bits
_MARKER = "<!-- review-bot:fp={} -->"
_MARKER_RE = re.compile(rf"<!--\s*review-bot:fp=([0-9a-f]{{{FINGERPRINT_LENGTH}}})\s*-->")


def normalised(code: str) -> str:
    """Matched code with whitespace runs collapsed: re-indenting keeps its identity."""
    return " ".join(code.split())


def fingerprint(finding: Finding, occurrence: int = 1) -> str:
    """``occurrence`` is 1 for the first of identical (rule, path, code) triples in a file."""
    parts = (finding.rule_id, finding.path, normalised(finding.matched), str(occurrence))
    data = "\0".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:FINGERPRINT_LENGTH]


def fingerprints(findings: Sequence[Finding]) -> list[str]:
    """The fingerprint of each finding; occurrences count in file order, whatever the
    order of ``findings``."""
    order = sorted(
        range(len(findings)),
        key=lambda i: (findings[i].path, findings[i].span.start.offset, findings[i].rule_id),
    )
    seen: Counter[tuple[str, str, str]] = Counter()
    out = [""] * len(findings)
    for i in order:
        f = findings[i]
        key = (f.rule_id, f.path, normalised(f.matched))
        seen[key] += 1
        out[i] = fingerprint(f, seen[key])
    return out


def marker(fp: str) -> str:
    """The hidden line a platform comment carries, so the bot knows what it already said."""
    return _MARKER.format(fp)


def read_marker(body: str) -> str | None:
    """The fingerprint in a comment body, or None for a comment that is not the bot's."""
    found = _MARKER_RE.search(body)
    return found.group(1) if found else None
