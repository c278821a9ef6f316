"""review-bot's own JSON format, for scripts. Stable: fields are only ever added.

::

    {
      "schema_version": 1,              # bumped only if a field changes meaning
      "version": "0.1.0",               # review-bot's version
      "findings": [
        {
          "rule_id": "no-sleep", "severity": "warning",   # hint | info | warning | error
          "message": "...", "note": "..." | null, "url": "..." | null, "pack": "...",
          "path": "tests/test_x.py",                      # relative to the repository root
          "range": {"start": {"line": 4, "column": 19}, "end": {"line": 4, "column": 34}},
          "matched": "time.sleep(0.5)",
          "fix": {
            "edits": [{"start": {...}, "end": {...}, "replacement": "..."}],
            "suggestion": {"start_line": 4, "end_line": 4, "text": "..."} | null
          } | null
        }
      ],
      "problems": [{"path": "...", "message": "...", "level": "warning"}]
    }

Lines are 1-based; columns are 1-based and count characters (Unicode code
points), not bytes; "end" is exclusive, so an end at column 1 of the next line
means the range takes the line break too.
"""

from __future__ import annotations

import json
from typing import Any

from bot.model import Finding
from bot.report.base import Report, Sources

SCHEMA_VERSION = 1


def render(report: Report) -> str:
    sources = Sources(report.sources)
    document = {
        "schema_version": SCHEMA_VERSION,
        "version": report.tool_version,
        "findings": [_finding(f, sources) for f in report.findings],
        "problems": [
            {"path": p.path, "message": p.message, "level": p.level} for p in report.problems
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _point(line: int, column: int) -> dict[str, int]:
    return {"line": line, "column": column + 1}


def _finding(finding: Finding, sources: Sources) -> dict[str, Any]:
    span = finding.span
    fix: dict[str, Any] | None = None
    if finding.fix is not None:
        edits: list[dict[str, Any]] = []
        if finding.fix.edits:
            # Edits carry offsets only; lines and columns need the file text.
            source = sources.require(finding.path)
            for edit in finding.fix.edits:
                edits.append(
                    {
                        "start": _point(*source.position(edit.start)),
                        "end": _point(*source.position(edit.end)),
                        "replacement": edit.replacement,
                    }
                )
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
        "fix": fix,
    }
