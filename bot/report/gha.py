"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` line per finding.

Escaping follows the runner's own parser (actions/runner ActionCommand.cs):
property values escape %, \\r, \\n, ":" and ","; the message escapes %, \\r and
\\n. Without it a newline in a message would end the command early and let the
rest of the line be read as output, or as another command.

Columns are 1-based characters with an exclusive end, as ruff's github format
writes them, and are left out when a finding spans lines: the annotation API
takes columns only for single-line annotations.
"""

from __future__ import annotations

from bot.model import Comment, Severity, SkippedFile
from bot.report.base import TOOL_NAME, Report, note_text

COMMAND = {
    Severity.error: "error",
    Severity.warning: "warning",
    Severity.info: "notice",
    Severity.hint: "notice",
    Severity.off: "notice",
}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: dict[str, str | int], message: str) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items())
    head = f"{name} {props}" if props else name
    return f"::{head}::{escape_data(message)}"


def render(report: Report) -> str:
    lines = [_finding(c) for c in report.comments]
    lines += [_skipped(s) for s in report.skipped]
    return "".join(line + "\n" for line in lines)


def _finding(finding: Comment) -> str:
    span = finding.span
    # span.lines drops the next line when a match ends with a line break.
    end_line = span.lines[-1]
    props: dict[str, str | int] = {
        "file": finding.path,
        "line": span.start.line,
        "endLine": end_line,
    }
    if span.end.line == span.start.line:
        props["col"] = span.start.column + 1
        props["endColumn"] = span.end.column + 1
    props["title"] = finding.rule_id
    message = finding.message
    note = note_text(finding.note)
    if note:
        message += f"\n\n{note}"
    if finding.url:
        message += f"\n\n{finding.url}"
    return command(COMMAND[finding.severity], props, message)


def _skipped(skipped: SkippedFile) -> str:
    props: dict[str, str | int] = {"file": skipped.path, "title": f"{TOOL_NAME}: not analysed"}
    return command(COMMAND[Severity.warning], props, skipped.message)
