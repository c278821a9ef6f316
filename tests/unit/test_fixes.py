"""Which fixes `check --fix` applies (core/fixes.py): shared edits once, clashes refused."""

from __future__ import annotations

from bot.core.fixes import clash, plan_fixes, unified_patch
from bot.core.text import SourceText
from bot.model import Comment, Fix, Pos, Severity, Span, TextEdit

PATH = "nova/tests/test_x.py"
TEXT = "import os\n\na = 'one'\nb = 'two'\n"
IMPORT = "from oslo_utils.fixture import uuidsentinel as uuids\n"


def edit(start: int, end: int, replacement: str, text: str = TEXT) -> TextEdit:
    index = SourceText(PATH, text)
    return TextEdit(
        Span(Pos(*index.position(start), start), Pos(*index.position(end), end)), replacement
    )


def at(needle: str, replacement: str, text: str = TEXT) -> TextEdit:
    start = text.index(needle)
    return edit(start, start + len(needle), replacement, text)


def comment(rule: str, *edits: TextEdit) -> Comment:
    span = edits[0].span if edits else Span(Pos(1, 0, 0), Pos(1, 0, 0))
    return Comment(
        fingerprint=f"{rule}-{span.start.offset}",
        rule_id=rule,
        severity=Severity.warning,
        path=PATH,
        span=span,
        message="m",
        matched="",
        fix=Fix(edits, None) if edits else None,
    )


def test_an_edit_two_fixes_share_is_applied_once() -> None:
    add_import = edit(len("import os\n"), len("import os\n"), IMPORT)
    first = comment("hardcoded-uuid", at("'one'", "uuids.one"), add_import)
    second = comment("hardcoded-uuid", at("'two'", "uuids.two"), add_import)

    plan = plan_fixes([first, second], {PATH: TEXT})

    assert plan.refused == () and plan.fixed == (first, second)
    (file,) = plan.files
    assert file.new_text == f"import os\n{IMPORT}\na = uuids.one\nb = uuids.two\n"


def test_an_overlapping_fix_is_refused_whole_and_the_rest_still_applies() -> None:
    taken = comment("rule-a", at("a = 'one'", "a = 1"))
    # Its second edit is harmless, but half a fix is not applied.
    clashing = comment("rule-b", at("'one'", "'uno'"), at("'two'", "'dos'"))
    apart = comment("rule-c", at("import os", "import sys"))

    plan = plan_fixes([taken, clashing, apart], {PATH: TEXT})

    assert plan.fixed == (taken, apart)
    (refused,) = plan.refused
    assert refused.comment is clashing and refused.blocker is taken
    assert refused.message == (
        f"{PATH}:3: not fixed: the fix of rule-b (line 3) overlaps the fix of rule-a (line 3)"
    )
    assert plan.files[0].new_text == "import sys\n\na = 1\nb = 'two'\n"


def test_the_refusal_names_every_line_the_clash_spans() -> None:
    taken = comment("rule-a", at("'one'\nb", "x"))
    clashing = comment("rule-b", at("b = 'two'\n", ""))
    refused = plan_fixes([taken, clashing], {PATH: TEXT}).refused[0]
    assert refused.message.startswith(f"{PATH}:3-4: not fixed: the fix of rule-b (line 4)")


def test_what_clashes() -> None:
    assert clash(edit(0, 3, "x"), edit(2, 5, "y"))  # share a character
    assert clash(edit(0, 4, "x"), edit(2, 2, "y"))  # inserts inside the other
    assert clash(edit(2, 2, "x"), edit(2, 2, "y"))  # two inserts at one place: which first?
    assert not clash(edit(2, 2, "x"), edit(2, 2, "x"))  # the same edit
    assert not clash(edit(0, 2, "x"), edit(2, 4, "y"))  # touching ranges
    assert not clash(edit(2, 2, "x"), edit(2, 4, "y"))  # an insert before a replacement


def test_findings_without_edits_are_unfixable_not_fixed() -> None:
    bare = comment("no-fix")
    plan = plan_fixes([bare], {PATH: TEXT})
    assert plan.unfixable == (bare,) and plan.files == () and plan.fixed == ()


def test_the_patch_is_git_style_and_keeps_crlf_and_a_missing_final_newline() -> None:
    old = "a\r\nb\r\nc"
    new = "a\r\nB\r\nc!"
    assert unified_patch("x/t.py", old, new) == (
        "diff --git a/x/t.py b/x/t.py\n"
        "--- a/x/t.py\n"
        "+++ b/x/t.py\n"
        "@@ -1,3 +1,3 @@\n"
        " a\r\n"
        "-b\r\n"
        "-c\n"
        "\\ No newline at end of file\n"
        "+B\r\n"
        "+c!\n"
        "\\ No newline at end of file\n"
    )
    assert unified_patch("x/t.py", old, old) == ""


def test_the_patch_splits_lines_on_newline_only() -> None:
    # A form feed is not a line break for ast-grep, git or review-bot.
    patch = unified_patch("t.py", "a\x0cb\nc\n", "a\x0cb\nC\n")
    assert "@@ -1,2 +1,2 @@\n a\x0cb\n-c\n+C\n" in patch
