"""The human format: a header per finding, a code frame, the fix as a diff, a summary.

Shaped like ruff's and ast-grep's terminal output::

    tests/test_x.py:4:19: warning[no-sleep] Do not sleep in tests
      |
    4 |     label = "日本"; time.sleep(0.5)
      |                     ^^^^^^^^^^^^^^^
      |
      = note: use the clock fixture
      = fix:
        @@ -4 +4 @@
        -    label = "日本"; time.sleep(0.5)
        +    label = "日本"; clock.advance(0.5)

    1 finding (1 warning) in 1 file

The header column is 1-based and counts characters, as editors do.

A rule's note is long and the same for each of its findings, so it is printed once,
with the rule's first finding; a later finding of the rule points back at it
(``= note: see line N above``, or ``PATH:LINE:COL`` in another file) and keeps its
own ``see:`` link.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from bot.model import Comment, Severity, SkipReason
from bot.report.base import Report, Sources, SourceText, apply_edits, cell_width, note_text

# Frames longer than this show their head and tail only.
MAX_FRAME_LINES = 6
_HEAD_LINES = 3
_TAIL_LINES = 2
_TAB = "    "

_RESET = "\x1b[0m"
_BOLD = "1"
_DIM = "2"
_RED = "31"
_GREEN = "32"
_YELLOW = "33"
_BLUE = "34"
_CYAN = "36"
_SEVERITY_STYLE = {
    Severity.error: (_BOLD, _RED),
    Severity.warning: (_BOLD, _YELLOW),
    Severity.info: (_BOLD, _BLUE),
    Severity.hint: (_BOLD, _CYAN),
    Severity.off: (_DIM,),
}
# Plural nouns for the summary; "info" has none.
_PLURAL = {"error": "errors", "warning": "warnings", "hint": "hints", "info": "info", "off": "off"}
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Messages may quote source text; keep their line breaks, drop other controls.
_CONTROL_IN_MESSAGE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@$")


class _Painter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *codes: str) -> str:
        if not self.enabled or not codes or not text:
            return text
        return f"\x1b[{';'.join(codes)}m{text}{_RESET}"


def render(report: Report) -> str:
    paint = _Painter(report.color)
    sources = Sources(report.sources)
    first: dict[str, Comment] = {}  # rule id -> the finding that prints its note
    blocks = []
    for c in report.comments:
        noted = first.setdefault(c.rule_id, c)
        blocks.append(_finding_block(c, sources.get(c.path), paint, None if noted is c else noted))
    label = paint("warning:", *_SEVERITY_STYLE[Severity.warning])
    over_limit = [s for s in report.skipped if s.reason is SkipReason.over_max_files]
    for skipped in report.skipped:
        if skipped.reason is not SkipReason.over_max_files:
            blocks.append(
                f"{label} could not analyse {paint(_clean(skipped.path), _BOLD)}: "
                f"{_clean(skipped.message)}\n"
            )
    if over_limit:
        # One line for all of them: a huge change would otherwise print thousands.
        blocks.append(
            f"{label} {_count(len(over_limit), 'test file')} not analysed: "
            f"{_clean(over_limit[0].message.removeprefix('skipped: '))}\n"
        )
    blocks.append(paint(_summary(report), _BOLD) + "\n")
    return "\n".join(blocks)


def _summary(report: Report) -> str:
    findings = report.comments
    if findings:
        counts = report.plan.by_severity()
        parts = [
            f"{n} {sev.name if n == 1 else _PLURAL[sev.name]}"
            for sev, n in sorted(counts.items(), reverse=True)
        ]
        files = len({f.path for f in findings})
        text = f"{_count(len(findings), 'finding')} ({', '.join(parts)}) in {_count(files, 'file')}"
    else:
        text = "No findings"
    if report.skipped:
        skipped = len({s.path for s in report.skipped})
        text += f"; {_count(skipped, 'file')} could not be analysed"
    if report.plan.summary.in_base:
        text += f"; {report.plan.summary.in_base} already in the base, not shown"
    if report.plan.summary.established:
        n = report.plan.summary.established
        text += f"; {n} following the file's existing practice, not shown"
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _location(finding: Comment) -> str:
    start = finding.span.start
    return f"{_clean(finding.path)}:{start.line}:{start.column + 1}"


def header(finding: Comment, message: str, paint: _Painter) -> str:
    """``path:line:col: severity[rule] message``, the line editors and problem matchers read."""
    style = _SEVERITY_STYLE[finding.severity]
    return (
        f"{paint(_location(finding) + ':', _BOLD)} "
        f"{paint(finding.severity.name, *style)}{paint(f'[{finding.rule_id}]', _DIM)} {message}"
    )


def _finding_block(
    finding: Comment, source: SourceText | None, paint: _Painter, noted: Comment | None
) -> str:
    """``noted``: the earlier finding of the same rule that printed the note, if any."""
    style = _SEVERITY_STYLE[finding.severity]
    # Continuation lines of a multi-line message stay under the header.
    lines = [header(finding, _clean(finding.message).replace("\n", "\n  "), paint)]
    frame = _frame_rows(finding, source) if source is not None else []
    width = max((len(gutter) for gutter, _ in frame if gutter), default=1)
    bar = paint(" " * width + " |", _BLUE)
    if frame:
        lines.append(bar)
        for gutter, text in frame:
            if gutter is None:
                carets = text.lstrip(" ")
                lines.append(f"{bar} {text[: len(text) - len(carets)]}{paint(carets, *style)}")
            else:
                lines.append(f"{paint(gutter.rjust(width) + ' |', _BLUE)} {text}".rstrip())
        lines.append(bar)
    eq = paint(" " * width + " =", _BLUE)
    note = note_text(finding.note)
    if note and noted is not None and note == note_text(noted.note):
        where = f"line {noted.line}" if noted.path == finding.path else _location(noted)
        lines.append(f"{eq} note: see {where} above")
    elif note:
        # Continuation lines line up under the note's first; blank ones stay empty.
        first_row, *rows = _clean(note).split("\n")
        lines.append(f"{eq} note: {first_row}")
        lines += [" " * (width + 9) + row if row else "" for row in rows]
    if finding.url:
        lines.append(f"{eq} see: {finding.url}")
    diff = _fix_diff(finding, source) if source is not None else []
    if diff:
        lines.append(f"{eq} fix:")
        pad = " " * (width + 3)
        for row in diff:
            color = _RED if row.startswith("-") else _GREEN if row.startswith("+") else _CYAN
            lines.append(pad + paint(row, color))
    return "\n".join(lines) + "\n"


def _clean(text: str) -> str:
    """Text from rules or files made safe for a terminal (no escape sequences)."""
    return _CONTROL_IN_MESSAGE.sub("\N{REPLACEMENT CHARACTER}", text)


def _display(text: str) -> str:
    """Source text made safe and aligned for a terminal: tabs expanded, controls hidden."""
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", text.replace("\t", _TAB))


def _frame_rows(finding: Comment, source: SourceText) -> list[tuple[str | None, str]]:
    """(gutter, text) rows; a None gutter marks an underline row."""
    span = finding.span
    numbers = list(span.lines)
    numbers = [n for n in numbers if 1 <= n <= source.line_count]
    if len(numbers) > MAX_FRAME_LINES:
        shown: Sequence[int | None] = [*numbers[:_HEAD_LINES], None, *numbers[-_TAIL_LINES:]]
    else:
        shown = numbers
    rows: list[tuple[str | None, str]] = []
    for number in shown:
        if number is None:
            rows.append(("...", ""))
            continue
        text = source.line(number)
        lo = span.start.column if number == span.start.line else _indent(text)
        hi = span.end.column if number == span.end.line else len(text)
        lo, hi = min(lo, len(text)), min(max(hi, lo), len(text))
        rows.append((str(number), _display(text)))
        if hi > lo or number == span.start.line:
            prefix = cell_width(_display(text[:lo]))
            carets = max(1, cell_width(_display(text[lo:hi])))
            rows.append((None, " " * prefix + "^" * carets))
    return rows


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _fix_diff(finding: Comment, source: SourceText) -> list[str]:
    """The fix as unified-diff hunks of just the lines it touches (no file headers)."""
    fix = finding.fix
    if fix is None:
        return []
    if fix.edits:
        first = min(e.span.start.line for e in fix.edits)
        last = max(e.span.end.line for e in fix.edits)
        lo, hi = source.line_start(first), source.line_end(last)
        old = source.text[lo:hi]
        new = apply_edits(old, [e.edit for e in fix.edits], base=lo)
        old_lines, new_lines = old.split("\n"), new.split("\n")
    elif fix.suggestion is not None:
        sug = fix.suggestion
        first = sug.start_line
        old_lines = [source.line(n) for n in range(sug.start_line, sug.end_line + 1)]
        new_lines = sug.text.split("\n") if sug.text else []
    else:
        return []
    old_lines = [line.removesuffix("\r") for line in old_lines]
    new_lines = [line.removesuffix("\r") for line in new_lines]
    rows: list[str] = []
    for row in difflib.unified_diff(old_lines, new_lines, n=0, lineterm=""):
        if row.startswith(("---", "+++")):
            continue
        # difflib numbers the window from 1; shift the hunk to the real file lines.
        match = _HUNK.match(row)
        if match:
            shift = first - 1
            row = (
                f"@@ -{int(match[1]) + shift}{match[2] or ''} "
                f"+{int(match[3]) + shift}{match[4] or ''} @@"
            )
        else:
            row = row[0] + _display(row[1:])
        rows.append(row)
    return rows
