"""Output formats of ``review-bot check``: one module per format, one registry.

Every renderer takes a :class:`Report` and returns the whole output as a
string ending in a newline (or an empty string when a line-per-finding
format has nothing to say).

Formats that need a file's text (rdjson's byte columns, the positions of a
fix's edits) raise ValueError when ``Report.sources`` lacks it; the text
format then prints the finding without its code frame and diff instead.

The registry names modules rather than importing them, so that the command line
can list the formats in ``--help`` without loading any renderer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.report.base import Report

# format name -> (module under bot.report, function)
_RENDERERS: dict[str, tuple[str, str]] = {
    "text": ("text", "render"),
    "json": ("jsonout", "render"),
    "rdjson": ("rdjson", "render_rdjson"),
    "rdjsonl": ("rdjson", "render_rdjsonl"),
    "sarif": ("sarif", "render"),
    "github": ("gha", "render"),
    "concise": ("concise", "render"),
}
FORMATS: tuple[str, ...] = tuple(_RENDERERS)


def renderer(fmt: str) -> Callable[[Report], str]:
    try:
        module, function = _RENDERERS[fmt]
    except KeyError:
        known = ", ".join(FORMATS)
        raise ValueError(f"unknown output format {fmt!r} (expected one of: {known})") from None
    return getattr(importlib.import_module(f"bot.report.{module}"), function)


def render(fmt: str, report: Report) -> str:
    return renderer(fmt)(report)


__all__ = ["FORMATS", "render", "renderer"]
