"""reviewdog's Diagnostic Format: ``rdjson`` (one DiagnosticResult) and ``rdjsonl`` (JSON Lines).

Per reviewdog's proto/rdf/reviewdog.proto: positions are 1-based lines and
1-based columns counted in UTF-8 *bytes*; a range's end is exclusive; the
severity enum is UNKNOWN_SEVERITY, ERROR, WARNING, INFO (no lower level, so
hints report as INFO); each suggestion replaces its range with its text.
"""

from __future__ import annotations

import json
from typing import Any

from bot.model import Comment, Severity
from bot.report.base import (
    TOOL_NAME,
    Report,
    Sources,
    SourceText,
    note_text,
    sorted_text_edits,
    tool_url,
)

SEVERITY = {
    Severity.error: "ERROR",
    Severity.warning: "WARNING",
    Severity.info: "INFO",
    Severity.hint: "INFO",
    Severity.off: "INFO",
}


def render_rdjson(report: Report) -> str:
    sources = Sources(report.sources)
    document = {
        "source": _source(),
        "diagnostics": [_diagnostic(f, sources, with_source=False) for f in report.comments],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_rdjsonl(report: Report) -> str:
    sources = Sources(report.sources)
    # Each line has to stand alone, so it names its source itself.
    return "".join(
        json.dumps(_diagnostic(f, sources, with_source=True), ensure_ascii=False) + "\n"
        for f in report.comments
    )


def _source() -> dict[str, str]:
    source = {"name": TOOL_NAME}
    url = tool_url()
    if url:
        source["url"] = url
    return source


def _position(source: SourceText, line: int, column: int) -> dict[str, int]:
    return {"line": line, "column": source.byte_column(line, column) + 1}


def _diagnostic(finding: Comment, sources: Sources, *, with_source: bool) -> dict[str, Any]:
    source = sources.require(finding.path)
    span = finding.span
    # rdjson has no note field; reviewdog posts the message as the comment body.
    note = note_text(finding.note)
    message = f"{finding.message}\n\n{note}" if note else finding.message
    code = {"value": finding.rule_id}
    if finding.url:
        code["url"] = finding.url
    diagnostic: dict[str, Any] = {
        "message": message,
        "location": {
            "path": finding.path,
            "range": {
                "start": _position(source, span.start.line, span.start.column),
                "end": _position(source, span.end.line, span.end.column),
            },
        },
        "severity": SEVERITY[finding.severity],
        "code": code,
    }
    if with_source:
        diagnostic["source"] = _source()
    suggestions = _suggestions(finding, source)
    if suggestions:
        diagnostic["suggestions"] = suggestions
    return diagnostic


def _suggestions(finding: Comment, source: SourceText) -> list[dict[str, Any]]:
    fix = finding.fix
    if fix is None:
        return []
    if fix.edits:
        out: list[dict[str, Any]] = []
        for edit in sorted_text_edits(fix.edits):
            start, end = edit.span.start, edit.span.end
            out.append(
                {
                    "range": {
                        "start": _position(source, start.line, start.column),
                        "end": _position(source, end.line, end.column),
                    },
                    "text": edit.replacement,
                }
            )
        return out
    sug = fix.suggestion
    if sug is None:
        return []
    # Whole-line suggestion: replace from the first line's start up to the next
    # line's start (or the file's end), line break included, as the proto describes.
    first = {"line": sug.start_line, "column": 1}
    if sug.end_line < source.line_count:
        last = {"line": sug.end_line + 1, "column": 1}
        # Keep the file's own line break (CRLF stays CRLF).
        newline = source.text[source.line_end(sug.end_line) : source.line_start(sug.end_line + 1)]
        text = sug.text + newline if sug.text else ""
    else:
        last = _position(source, sug.end_line, len(source.line(sug.end_line)))
        text = sug.text
    return [{"range": {"start": first, "end": last}, "text": text}]
