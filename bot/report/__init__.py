"""Output formats of ``review-bot check``: one module per format, one registry.

Every renderer takes a :class:`Report` and returns the whole output as a
string ending in a newline (or an empty string when a line-per-finding
format has nothing to say).

Formats that need a file's text (rdjson's byte columns, the positions of a
fix's edits) raise ValueError when ``Report.sources`` lacks it; the text
format then prints the finding without its code frame and diff instead.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.report import gha, jsonout, rdjson, sarif, text
from bot.report.base import Report

FORMATS: dict[str, Callable[[Report], str]] = {
    "text": text.render,
    "json": jsonout.render,
    "rdjson": rdjson.render_rdjson,
    "rdjsonl": rdjson.render_rdjsonl,
    "sarif": sarif.render,
    "github": gha.render,
}


def render(fmt: str, report: Report) -> str:
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        known = ", ".join(FORMATS)
        raise ValueError(f"unknown output format {fmt!r} (expected one of: {known})") from None
    return renderer(report)


__all__ = ["FORMATS", "Report", "render"]
