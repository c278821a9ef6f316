"""review-bot's own JSON format, for scripts. Stable: fields are only ever added.

::

    {
      "schema_version": 1,              # bumped only if a field changes meaning
      "version": "0.1.0",               # review-bot's version
      "findings": [
        {
          "rule_id": "no-sleep", "severity": "warning",   # hint | info | warning | error
          "message": "...", "note": "..." | null, "url": "https://..." | null,
          "pack": "...",
          "path": "tests/test_x.py",                      # relative to the repository root
          "range": {"start": {"line": 4, "column": 19}, "end": {"line": 4, "column": 34}},
          "matched": "time.sleep(0.5)",
          "fix": {
            "edits": [{"start": {...}, "end": {...}, "replacement": "..."}],
            "suggestion": {"start_line": 4, "end_line": 4, "text": "..."} | null
          } | null
        }
      ],
      "problems": [{"path": "...", "message": "...", "level": "warning",
                    "reason": "too_large"}],  # any SkipReason (bot/model.py)
      "summary": {"analysed_files": 3, "below_threshold": 2, "suppressed": 0,
                  "in_base": 1, "established": 0, "baseline": true,
                  "by_rule": {...}, "by_severity": {...}}
    }

"note" is the rule's note as written (as ``ast-grep scan --json`` gives it; the other
formats trim it). "url" is an absolute link to the rule's page (``review.docs_url``), or
null.

Each finding also carries its "fingerprint" (core/fingerprint.py): its identity across
revisions and line moves.

Lines are 1-based; columns are 1-based and count characters (Unicode code
points), not bytes; "end" is exclusive, so an end at column 1 of the next line
means the range takes the line break too.
"""

from __future__ import annotations

import json
from typing import Any

from bot.model import Comment
from bot.report.base import Report

SCHEMA_VERSION = 1


def render(report: Report) -> str:
    summary = report.plan.summary
    document = {
        "schema_version": SCHEMA_VERSION,
        "version": report.tool_version,
        "findings": [_finding(c) for c in report.comments],
        "problems": [
            {"path": s.path, "message": s.message, "level": "warning", "reason": s.reason.value}
            for s in report.skipped
        ],
        "summary": {
            "analysed_files": summary.analysed_files,
            "below_threshold": summary.below_threshold,
            "suppressed": summary.suppressed,
            "in_base": summary.in_base,
            "established": summary.established,
            "baseline": summary.baseline,
            "by_rule": report.plan.by_rule(),
            "by_severity": {s.name: n for s, n in report.plan.by_severity().items()},
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _point(line: int, column: int) -> dict[str, int]:
    return {"line": line, "column": column + 1}


def _finding(finding: Comment) -> dict[str, Any]:
    span = finding.span
    fix: dict[str, Any] | None = None
    if finding.fix is not None:
        edits = [
            {
                "start": _point(edit.span.start.line, edit.span.start.column),
                "end": _point(edit.span.end.line, edit.span.end.column),
                "replacement": edit.replacement,
            }
            for edit in finding.fix.edits
        ]
        sug = finding.fix.suggestion
        fix = {
            "edits": edits,
            "suggestion": None
            if sug is None
            else {"start_line": sug.start_line, "end_line": sug.end_line, "text": sug.text},
        }
    return {
        "rule_id": finding.rule_id,
        "severity": finding.severity.name,
        "message": finding.message,
        "note": finding.note,
        "url": finding.url,
        "pack": finding.pack,
        "path": finding.path,
        "range": {
            "start": _point(span.start.line, span.start.column),
            "end": _point(span.end.line, span.end.column),
        },
        "matched": finding.matched,
        "fingerprint": finding.fingerprint,
        "fix": fix,
    }
