"""SARIF 2.1.0, shaped for GitHub code scanning uploads.

Facts this module relies on (SARIF 2.1.0 spec and its JSON schema; GitHub's
"SARIF support for code scanning" page):

- Columns are 1-based and, unless ``run.columnKind`` says otherwise, consumers
  may assume UTF-16 code units; a run with text results SHALL state its unit.
  We state "unicodeCodePoints", which is exactly our character columns.
- ``region.endColumn`` is the column *after* the region's last character.
- ``partialFingerprints`` keys are versioned hierarchical strings ("name/v1").
  GitHub itself only reads ``primaryLocationLineHash``, which its upload-sarif
  action computes from the file when absent and warns about when a supplied
  value disagrees with its own, so we leave that key to GitHub and put our
  line-independent fingerprint (core/fingerprint.py, the one the platforms'
  comments carry) under our own key. v1 was an older hash with a ":N" suffix;
  the key changed with the value, so no alert is silently re-keyed.
- Problems (files we could not analyse) are tool execution notifications.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

from bot.model import Comment, Severity, SkippedFile, TextEdit
from bot.report.base import TOOL_NAME, Report, Sources, note_text, sorted_text_edits, tool_url

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "reviewBot/v2"
# GitHub truncates rule descriptions beyond this many characters.
MAX_DESCRIPTION = 1024

LEVEL = {
    Severity.error: "error",
    Severity.warning: "warning",
    Severity.info: "note",
    Severity.hint: "note",
    Severity.off: "none",
}


def render(report: Report) -> str:
    sources = Sources(report.sources)
    rule_ids = sorted({f.rule_id for f in report.comments})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    first: dict[str, Comment] = {}
    for finding in report.comments:
        first.setdefault(finding.rule_id, finding)

    driver: dict[str, Any] = {"name": TOOL_NAME, "version": report.tool_version}
    url = tool_url()
    if url:
        driver["informationUri"] = url
    driver["rules"] = [_rule(first[rule_id]) for rule_id in rule_ids]

    results = [_result(c, index[c.rule_id], sources) for c in report.comments]

    run = {
        "tool": {"driver": driver},
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [_notification(s) for s in report.skipped],
            }
        ],
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _uri(path: str) -> str:
    # artifactLocation.uri is a URI reference: spaces, '#', '%' and the like are escaped.
    return quote(path, safe="/")


def _help_uri(url: str | None) -> str | None:
    """The rule's page when it is an absolute URI, as helpUri must be; a repository path
    (``docs/rules/x.md``, when nothing linked it) would resolve against the viewer's page."""
    if url is None:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _rule(finding: Comment) -> dict[str, Any]:
    summary = finding.message.strip().split("\n", 1)[0][:MAX_DESCRIPTION] or finding.rule_id
    help_text = note_text(finding.note) or finding.message
    help_uri = _help_uri(finding.url)
    if help_uri:
        help_text = f"{help_text}\n\n{help_uri}"
    rule: dict[str, Any] = {
        "id": finding.rule_id,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": finding.message.strip()[:MAX_DESCRIPTION] or summary},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": LEVEL[finding.severity]},
    }
    if help_uri:
        rule["helpUri"] = help_uri
    if finding.pack:
        rule["properties"] = {"pack": finding.pack}
    return rule


def _region(start: tuple[int, int], end: tuple[int, int]) -> dict[str, int]:
    """A text region from (1-based line, 0-based column) pairs; endColumn is exclusive."""
    return {
        "startLine": start[0],
        "startColumn": start[1] + 1,
        "endLine": end[0],
        "endColumn": end[1] + 1,
    }


def _result(finding: Comment, rule_index: int, sources: Sources) -> dict[str, Any]:
    span = finding.span
    end = (span.end.line, span.end.column)
    if span.end.column == 0 and span.end.line > span.start.line:
        # A match that takes its final line break ends at column 0 of the next
        # line; report it as ending on its last real line instead, since GitHub
        # only shows alerts whose every line is in the pull request's diff.
        source = sources.require(finding.path)
        last = span.end.line - 1
        end = (last, len(source.line(last)))
    note = note_text(finding.note)
    message = f"{finding.message}\n\n{note}" if note else finding.message
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL[finding.severity],
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.path)},
                    "region": _region((span.start.line, span.start.column), end),
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
    }
    fix = _fix(finding, sources)
    if fix is not None:
        result["fixes"] = [fix]
    return result


def _fix(finding: Comment, sources: Sources) -> dict[str, Any] | None:
    fix = finding.fix
    if fix is None:
        return None
    source = sources.require(finding.path)
    if fix.edits:
        replacements = [_replacement(edit) for edit in sorted_text_edits(fix.edits)]
    elif fix.suggestion is not None:
        sug = fix.suggestion
        start = (sug.start_line, 0)
        if not sug.text and sug.end_line < source.line_count:
            # Deleting whole lines takes their line breaks with them.
            end = (sug.end_line + 1, 0)
        else:
            end = (sug.end_line, len(source.line(sug.end_line)))
        replacements = [
            {"deletedRegion": _region(start, end), "insertedContent": {"text": sug.text}}
        ]
    else:
        return None
    return {
        "description": {"text": f"Apply the suggested fix for {finding.rule_id}"},
        "artifactChanges": [
            {"artifactLocation": {"uri": _uri(finding.path)}, "replacements": replacements}
        ],
    }


def _replacement(edit: TextEdit) -> dict[str, Any]:
    start, end = edit.span.start, edit.span.end
    region = _region((start.line, start.column), (end.line, end.column))
    return {"deletedRegion": region, "insertedContent": {"text": edit.replacement}}


def _notification(skipped: SkippedFile) -> dict[str, Any]:
    return {
        "level": "warning",
        "message": {"text": skipped.message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(skipped.path)}}}],
    }
