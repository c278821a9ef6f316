"""Exact edits -> whole-line suggestions: line endings, tabs, edits far from the finding."""

from __future__ import annotations

from bot.core.suggestion import build_fix
from bot.core.text import SourceText
from bot.model import Edit


def edit_of(text: str, old: str, new: str) -> Edit:
    start = text.index(old)
    return Edit(start, start + len(old), new)


def test_single_line_edit_becomes_the_whole_new_line() -> None:
    text = "def test(self):\n    image = 'abc'\n    go()\n"
    fix = build_fix(SourceText("t.py", text), [edit_of(text, "'abc'", "uuids.image")], range(2, 3))
    assert fix is not None and fix.suggestion is not None
    assert (fix.suggestion.start_line, fix.suggestion.end_line) == (2, 2)
    assert fix.suggestion.text == "    image = uuids.image"


def test_multi_line_replacement_spans_the_replaced_lines_only() -> None:
    text = "a()\nservers = get()\nserver = servers[0]\nb()\n"
    old = "server = servers[0]"
    new = "self.assertEqual(1, len(servers))\nserver = servers[0]"
    fix = build_fix(SourceText("t.py", text), [edit_of(text, old, new)], range(3, 4))
    assert fix is not None and fix.suggestion is not None
    assert (fix.suggestion.start_line, fix.suggestion.end_line) == (3, 3)
    assert fix.suggestion.text == new


def test_crlf_file_keeps_crlf_in_edits_and_suggestion() -> None:
    text = "a()\r\n    x = 1\r\nb()\r\n"
    fix = build_fix(
        SourceText("t.py", text), [edit_of(text, "x = 1", "y = 1\n    z = 2")], range(2, 3)
    )
    assert fix is not None and fix.suggestion is not None
    assert fix.edits[0].replacement == "y = 1\r\n    z = 2"
    assert fix.suggestion.text == "    y = 1\r\n    z = 2"
    assert SourceText("t.py", text).newline == "\r\n"


def test_multi_line_fix_in_tab_indented_code_is_dropped() -> None:
    text = "def test(self):\n\tserver = servers[0]\n"
    new = "self.assertEqual(1, len(servers))\n    server = servers[0]"
    assert (
        build_fix(
            SourceText("t.py", text), [edit_of(text, "server = servers[0]", new)], range(2, 3)
        )
        is None
    )


def test_single_line_fix_in_tab_indented_code_is_kept() -> None:
    text = "def test(self):\n\tx = 'abc'\n"
    fix = build_fix(SourceText("t.py", text), [edit_of(text, "'abc'", "uuids.x")], range(2, 3))
    assert fix is not None and fix.suggestion is not None
    assert fix.suggestion.text == "\tx = uuids.x"


def test_edit_far_from_the_finding_stays_an_edit_but_not_in_the_suggestion() -> None:
    text = "import os\n\n\ndef test():\n    x = 'abc'\n"
    literal = edit_of(text, "'abc'", "uuids.x")
    import_edit = Edit(
        len("import os\n"),
        len("import os\n"),
        "from oslo_utils.fixture import uuidsentinel as uuids\n",
    )
    fix = build_fix(SourceText("t.py", text), [literal, import_edit], range(5, 6))
    assert fix is not None and len(fix.edits) == 2
    assert fix.suggestion is not None and fix.suggestion.start_line == 5
    assert fix.suggestion.text == "    x = uuids.x"


def test_deleting_a_whole_line() -> None:
    text = "a = 1\nb = 2\nc = 3\n"
    fix = build_fix(SourceText("t.py", text), [edit_of(text, "b = 2\n", "")], range(2, 3))
    assert fix is not None and fix.suggestion is not None
    assert (fix.suggestion.start_line, fix.suggestion.end_line) == (2, 2)
    assert fix.suggestion.text == ""


def test_line_index() -> None:
    index = SourceText("t.py", "ab\r\ncd\nef")
    assert [index.position(i)[0] for i in (0, 3, 4, 7, 9)] == [1, 1, 2, 3, 3]
    assert index.line_end(1) == 2 and index.line_end(2) == 6 and index.line_end(3) == 9
