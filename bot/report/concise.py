"""One line per finding, for terminals, editors and problem matchers, like ruff's concise
output (``ruff check --output-format concise``)::

    tests/test_x.py:4:19: warning[no-sleep] Do not sleep in tests
    tests/test_y.py:9:5: error[no-network] Network call in a unit test
    Found 2 findings.

The line is the text format's header: the column is 1-based and counts characters. A
message's line breaks become spaces, so each finding stays on its line; notes, links,
code frames and fixes are left to the other formats. The last line counts the findings
("No findings." when there are none), as ruff ends with "Found N errors." or "All
checks passed!". Files that could not be analysed go to stderr (``check`` prints them),
so stdout holds nothing but findings and the count.
"""

from __future__ import annotations

import re

from bot.report.base import Report
from bot.report.text import _BOLD, _clean, _count, _Painter, header

_LINE_BREAK = re.compile(r"[ \t]*(?:\r\n|\r|\n)[ \t]*")


def _one_line(message: str) -> str:
    return _clean(_LINE_BREAK.sub(" ", message).strip())


def render(report: Report) -> str:
    paint = _Painter(report.color)
    lines = [header(c, _one_line(c.message), paint) for c in report.comments]
    n = len(report.comments)
    lines.append(paint(f"Found {_count(n, 'finding')}." if n else "No findings.", _BOLD))
    return "".join(line + "\n" for line in lines)
