"""Diff intake: every shape of file entry a real diff carries."""

from __future__ import annotations

import pytest

from bot.core.diff import decode_diff, parse_diff, parse_diff_hunks
from bot.core.text import split_lines
from bot.errors import DiffError
from bot.model import FileStatus, Hunk

GIT_DIFF = """\
diff --git a/nova/tests/functional/test_new.py b/nova/tests/functional/test_new.py
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/nova/tests/functional/test_new.py
@@ -0,0 +1,3 @@
+import os
+
+x = 1
diff --git a/nova/tests/test_old.py b/nova/tests/test_renamed.py
similarity index 90%
rename from nova/tests/test_old.py
rename to nova/tests/test_renamed.py
index 1111111..2222222 100644
--- a/nova/tests/test_old.py
+++ b/nova/tests/test_renamed.py
@@ -10,4 +10,5 @@ class T:
     a = 1
-    b = 2
+    b = 3
+    c = 4
     d = 5
     e = 6
diff --git a/nova/tests/test_gone.py b/nova/tests/test_gone.py
deleted file mode 100644
index 3333333..0000000
--- a/nova/tests/test_gone.py
+++ /dev/null
@@ -1,2 +0,0 @@
-a = 1
-b = 2
diff --git a/nova/tests/data.bin b/nova/tests/data.bin
index 4444444..5555555 100644
Binary files a/nova/tests/data.bin and b/nova/tests/data.bin differ
"""


def by_path(text: str) -> dict:
    return {f.path: f for f in parse_diff(text)}


def test_git_diff_statuses_lines_and_hunks() -> None:
    files = by_path(GIT_DIFF)
    new = files["nova/tests/functional/test_new.py"]
    assert new.status is FileStatus.added and new.whole_file
    assert new.added_lines == {1, 2, 3}
    renamed = files["nova/tests/test_renamed.py"]
    assert renamed.status is FileStatus.renamed
    assert renamed.old_path == "nova/tests/test_old.py"
    assert renamed.added_lines == {11, 12}
    assert renamed.hunks == (Hunk(10, 14),)
    assert not renamed.whole_file
    assert files["nova/tests/test_gone.py"].status is FileStatus.deleted
    assert files["nova/tests/data.bin"].status is FileStatus.binary


def test_each_file_knows_its_base_side() -> None:
    files = by_path(GIT_DIFF)
    renamed = files["nova/tests/test_renamed.py"]
    assert renamed.removed_lines == {11}
    assert renamed.base_hunks == (Hunk(10, 13),)
    base = renamed.base_side
    assert base is not None and base.path == "nova/tests/test_old.py"
    assert base.added_lines == {11} and base.hunks == (Hunk(10, 13),) and not base.whole_file
    gone = files["nova/tests/test_gone.py"]
    assert gone.removed_lines == {1, 2} and gone.base_path == "nova/tests/test_gone.py"
    assert gone.base_side is not None and gone.base_side.whole_file
    # A new file has no base; a binary one has no text to compare.
    assert files["nova/tests/functional/test_new.py"].base_side is None
    assert files["nova/tests/data.bin"].base_side is None


def test_plain_diff_without_git_headers() -> None:
    text = (
        "--- tests/test_a.py.orig\t2024-01-01 00:00:00\n"
        "+++ tests/test_a.py\t2024-01-02 00:00:00\n"
        "@@ -1,2 +1,3 @@\n a\n+b\n c\n"
    )
    (f,) = parse_diff(text)
    assert f.path == "tests/test_a.py"
    assert f.status is FileStatus.modified and f.old_path is None
    assert f.added_lines == {2}


def test_no_newline_at_end_of_file_marker() -> None:
    text = (
        "--- a/t/test_a.py\n+++ b/t/test_a.py\n@@ -1,2 +1,2 @@\n a\n-b\n"
        "\\ No newline at end of file\n+c\n\\ No newline at end of file\n"
    )
    (f,) = parse_diff(text)
    assert f.added_lines == {2}
    assert f.hunks == (Hunk(1, 2),)


def test_crlf_diff() -> None:
    text = "--- a/test_x.py\r\n+++ b/test_x.py\r\n@@ -1,1 +1,2 @@\r\n a\r\n+b\r\n"
    (f,) = parse_diff(text)
    assert f.added_lines == {2}


def test_non_utf8_bytes_in_a_diff_do_not_break_parsing() -> None:
    data = b"--- a/test_x.py\n+++ b/test_x.py\n@@ -1,1 +1,2 @@\n a\n+s = '\xe9'\n"
    (f,) = parse_diff(decode_diff(data))
    assert f.added_lines == {2}


def test_hunk_shorter_than_its_header_names_the_line() -> None:
    text = "--- a/test_x.py\n+++ b/test_x.py\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n"
    with pytest.raises(DiffError) as err:
        parse_diff(text)
    assert err.value.line == 6
    assert "line 6" in str(err.value)


def test_garbage_inside_a_hunk_names_the_line() -> None:
    text = "--- a/test_x.py\n+++ b/test_x.py\n@@ -1,2 +1,2 @@\n a\n?b\n"
    with pytest.raises(DiffError) as err:
        parse_diff(text)
    assert err.value.line == 5
    assert "?b" in str(err.value)


def test_text_that_is_not_a_diff_is_an_error_naming_its_first_line() -> None:
    with pytest.raises(DiffError) as err:
        parse_diff("\n\nhello world\n")
    assert err.value.line == 3


def test_empty_diff_is_no_change() -> None:
    assert parse_diff("") == []


# The report of issue 12: five context lines and three changed ones under a header that
# counts five; unidiff stops after the fifth and took the rest for text between files.
OVERLONG = (
    "--- a/tests/test_x.py\n+++ b/tests/test_x.py\n@@ -1,5 +1,5 @@\n"
    " import mock\n \n \n class T:\n     def test_a(self):\n"
    "-        x = 1\n+        x = 2\n+        m = mock.patch('a').start()\n"
)


def test_hunk_longer_than_its_header_names_the_first_line_past_it() -> None:
    with pytest.raises(DiffError) as err:
        parse_diff(OVERLONG)
    assert err.value.line == 9
    assert "line 9" in str(err.value) and "@@ -1,5 +1,5 @@" in str(err.value)
    # Past a "\ No newline" marker or a blank line, too.
    marker = OVERLONG.replace("-        x = 1\n", "\\ No newline at end of file\n-    x\n")
    with pytest.raises(DiffError) as err:
        parse_diff(marker)
    assert err.value.line == 10


def test_what_may_follow_a_hunk_is_not_taken_for_a_stray_line() -> None:
    hunk = "@@ -1,2 +1,2 @@\n a\n-b\n+c\n"
    two_files = (
        f"--- a/t/test_a.py\n+++ b/t/test_a.py\n{hunk}\n"
        f"--- a/t/test_b.py\n+++ b/t/test_b.py\n{hunk}"
    )
    assert [f.path for f in parse_diff(two_files)] == ["t/test_a.py", "t/test_b.py"]
    # git format-patch ends with a signature; git log -p puts the next commit there.
    signed = f"--- a/t/test_a.py\n+++ b/t/test_a.py\n{hunk}-- \n2.39.5\n\n"
    assert parse_diff(signed)[0].added_lines == {2}
    logged = f"--- a/t/test_a.py\n+++ b/t/test_a.py\n{hunk}\ncommit abc\n\n    message\n"
    assert parse_diff(logged)[0].added_lines == {2}


def test_a_form_feed_inside_a_line_does_not_split_it() -> None:
    text = "--- a/t/test_a.py\n+++ b/t/test_a.py\n@@ -1,2 +1,2 @@\n a\n-b\x0cc\n+b\x0cd\n"
    (f,) = parse_diff(text)
    assert f.added_lines == {2} and f.removed_lines == {2}


def test_each_hunk_knows_its_new_side_lines_and_where_the_file_differs() -> None:
    text = "--- a/t/test_a.py\n+++ b/t/test_a.py\n@@ -3,3 +3,3 @@\n c\n-d\n+D\n e\n"
    _, (hunk,) = parse_diff_hunks(text)
    assert hunk.path == "t/test_a.py" and hunk.header_line == 3
    assert hunk.lines == ((3, "c"), (4, "D"), (5, "e"))
    assert hunk.first_mismatch(split_lines("a\nb\nc\nD\ne\nf\n")) is None
    assert hunk.first_mismatch(split_lines("a\r\nb\r\nc\r\nD\r\ne\r\n")) is None
    assert hunk.first_mismatch(split_lines("a\nb\nc\nd\ne\n")) == 4  # the tree has the base version
    assert hunk.first_mismatch(split_lines("a\nb\nc\nD\n")) == 5  # shorter than the hunk
