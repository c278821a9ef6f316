"""`review-bot check`'s intake against what a real user hands it (issue 12): diffs whose
counts or tree do not fit, paths that leave the root, links, FIFOs, ignored files, files
that are not tests or do not parse, and git ranges with three dots or unknown names.

The CLI runs in-process through ``main()`` on a small self-contained ast-grep project.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.integration.cli_project import git, run_check, team_project

RULES = {
    "patch.yml": """\
id: patch-start
language: python
severity: warning
message: a patcher started and never stopped
rule: {pattern: "mock.patch($$$).start()"}
""",
    "first.yml": """\
id: first-server
language: python
severity: error
message: check the list before taking [0]
rule: {pattern: "$L.get_servers()[0]"}
""",
}
BASE = """\
import mock


class T:
    def test_a(self):
        x = 1
"""
HEAD = BASE.replace("x = 1", "x = 2\n        m = mock.patch('a').start()")
FIRST = "x.get_servers()[0]\n"


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with rules and a config; the tree under test goes in ``repo/``."""
    team_project(tmp_path, RULES)
    (tmp_path / "repo" / "tests").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


run = run_check


def findings(out: str) -> set[tuple[str, str]]:
    return {(f["path"], f["rule_id"]) for f in json.loads(out)["findings"]}


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


# --- 1. a diff whose hunks do not fit -------------------------------------------------------

OVERLONG = (
    "--- a/tests/test_x.py\n+++ b/tests/test_x.py\n@@ -1,5 +1,5 @@\n"
    " import mock\n \n \n class T:\n     def test_a(self):\n"
    "-        x = 1\n+        x = 2\n+        m = mock.patch('a').start()\n"
)


def test_a_hunk_longer_than_its_header_is_refused_naming_the_line(proj: Path, capsys) -> None:
    (proj / "repo/tests/test_x.py").write_text(HEAD)
    (proj / "p.diff").write_text(OVERLONG)
    code, out, err = run(capsys, "--diff", "p.diff", "--root", "repo")
    assert code == 2 and out == ""
    assert "review-bot: error: malformed diff at line 9:" in err and "@@ -1,5 +1,5 @@" in err
    # With the right counts, the finding the short header hid is there.
    (proj / "p.diff").write_text(OVERLONG.replace("@@ -1,5 +1,5 @@", "@@ -1,6 +1,7 @@"))
    code, out, err = run(capsys, "--diff", "p.diff", "--root", "repo", "--format", "json")
    assert findings(out) == {("tests/test_x.py", "patch-start")}
    assert "warning" not in err  # the tree is the version the diff was made for


def test_a_diff_made_against_another_tree_is_reviewed_with_a_warning(proj: Path, capsys) -> None:
    (proj / "repo/tests/test_x.py").write_text(BASE)  # the base, not the diff's new side
    (proj / "p.diff").write_text(OVERLONG.replace("@@ -1,5 +1,5 @@", "@@ -1,6 +1,7 @@"))
    code, _, err = run(capsys, "--diff", "p.diff", "--root", "repo", "--fail-on", "off")
    assert code == 0
    (line,) = [w for w in err.splitlines() if w.startswith("review-bot: warning:")]
    assert line.startswith("review-bot: warning: tests/test_x.py:6: ")
    assert "hunk at line 3 (@@ -1,6 +1,7 @@)" in line and "--root repo" in line


# --- 2. paths that leave the root -----------------------------------------------------------


def test_diff_paths_outside_the_root_are_refused(proj: Path, capsys) -> None:
    (proj / "etc/tests").mkdir(parents=True)
    (proj / "etc/tests/test_x.py").write_text(FIRST)
    (proj / "p.diff").write_text(
        "--- /dev/null\n+++ b/../etc/tests/test_x.py\n@@ -0,0 +1 @@\n+x.get_servers()[0]\n"
    )
    code, out, err = run(capsys, "--diff", "p.diff", "--root", "repo")
    assert code == 2 and out == ""
    assert "review-bot: error: ../etc/tests/test_x.py: outside --root repo" in err
    # Through a link in the tree, too.
    (proj / "repo/tests/elsewhere").symlink_to(proj / "etc/tests")
    (proj / "p.diff").write_text(
        "--- /dev/null\n+++ b/tests/elsewhere/test_x.py\n@@ -0,0 +1 @@\n+x.get_servers()[0]\n"
    )
    code, out, err = run(capsys, "--diff", "p.diff", "--root", "repo")
    assert code == 2 and "tests/elsewhere/test_x.py: outside --root repo" in err


def test_paths_outside_the_root_are_refused(proj: Path, capsys) -> None:
    (proj / "etc/tests").mkdir(parents=True)
    (proj / "etc/tests/test_x.py").write_text(FIRST)
    (proj / "repo/tests/test_link.py").symlink_to(proj / "etc/tests/test_x.py")
    code, _, err = run(capsys, "repo/tests/test_link.py", "--root", "repo")
    assert code == 2 and "tests/test_link.py: outside --root repo" in err
    # From inside the tree, with the default root (.), a walk of a directory beside it.
    os.chdir(proj / "repo")
    code = main(["check", "-c", "../review-bot.yaml", "../etc"])
    err = capsys.readouterr().err
    assert code == 2 and "../etc/tests/test_x.py: outside --root ." in err


# --- 6. links and FIFOs ---------------------------------------------------------------------


@pytest.mark.timeout(60)  # reading a FIFO used to hang
def test_dangling_links_and_fifos_are_skipped_with_a_warning(proj: Path, capsys) -> None:
    tests = proj / "repo/tests"
    (tests / "test_ok.py").write_text(FIRST)
    (tests / "test_gone.py").symlink_to(tests / "test_nowhere.py")
    os.mkfifo(tests / "test_fifo.py")
    (tests / "test_alias.py").symlink_to("test_ok.py")
    code, out, err = run(capsys, "repo", "--root", "repo", "--format", "json")
    assert code == 1  # not 2: the run went on
    assert findings(out) == {("tests/test_ok.py", "first-server")}
    assert "warning: tests/test_gone.py: skipped: a dangling symbolic link" in err
    assert "warning: tests/test_fifo.py: skipped: not a regular file (a FIFO)" in err
    # A directory walk does not follow links (the ast-grep CLI does not either)...
    assert "warning: tests/test_alias.py: skipped: a symbolic link" in err
    # ...but a link named on the command line is followed, under its own name.
    named = ["repo/tests/test_alias.py", "repo/tests/test_gone.py", "repo/tests/test_fifo.py"]
    code, out, err = run(capsys, *named, "--root", "repo", "--format", "json")
    assert code == 1 and findings(out) == {("tests/test_alias.py", "first-server")}
    assert "tests/test_gone.py: skipped: a dangling" in err and "test_fifo.py: skipped" in err


@pytest.mark.timeout(60)  # reading a FIFO used to hang
def test_a_fifo_named_in_a_diff_is_an_error_not_a_hang(proj: Path, capsys) -> None:
    os.mkfifo(proj / "repo/tests/test_fifo.py")
    (proj / "p.diff").write_text(
        "--- /dev/null\n+++ b/tests/test_fifo.py\n@@ -0,0 +1 @@\n+x.get_servers()[0]\n"
    )
    code, _, err = run(capsys, "--diff", "p.diff", "--root", "repo")
    assert code == 2 and "tests/test_fifo.py: not a regular file" in err


# --- 7. .gitignore --------------------------------------------------------------------------


def test_directory_walks_leave_out_what_git_ignores(proj: Path, capsys) -> None:
    repo = proj / "repo"
    git(repo, "init", "-q")
    for path in (
        "tests/test_ok.py",
        "build/tests/test_built.py",
        "tests/test_ignored.py",
        "tests/sub/test_nested.py",
        "tests/sub/test_kept.py",
        "tests/test_excluded.py",
    ):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(FIRST)
    (repo / ".gitignore").write_text("build/\ntests/test_ignored.py\n")
    (repo / "tests/sub/.gitignore").write_text("test_*.py\n!test_kept.py\n")
    with (repo / ".git/info/exclude").open("a") as exclude:
        exclude.write("tests/test_excluded.py\n")
    _, out, _ = run(capsys, "repo", "--root", "repo", "--format", "json")
    assert {p for p, _ in findings(out)} == {"tests/test_ok.py", "tests/sub/test_kept.py"}
    _, out, _ = run(capsys, "repo", "--root", "repo", "--format", "json", "--no-ignore")
    assert len(findings(out)) == 6
    # Named on the command line, an ignored file or directory is analysed (as ast-grep does).
    _, out, _ = run(
        capsys,
        "repo/tests/test_ignored.py",
        "repo/build",
        "--root",
        "repo",
        "--format",
        "json",
    )
    assert {p for p, _ in findings(out)} == {"tests/test_ignored.py", "build/tests/test_built.py"}


# --- 8. files named that are not tests, or do not parse -------------------------------------


def test_a_named_file_that_is_not_a_test_file_is_skipped_with_a_warning(proj: Path, capsys) -> None:
    (proj / "repo/helper.py").write_text(FIRST)
    (proj / "repo/tests/test_ok.py").write_text(FIRST)
    code, _, err = run(capsys, "repo/helper.py", "repo/tests/test_ok.py", "--root", "repo")
    assert code == 1
    assert "review-bot: warning: helper.py: not a test file (test_files.globs)" in err
    _, _, err = run(capsys, "repo", "--root", "repo")
    assert "helper.py" not in err  # a directory walk leaves non-tests out quietly


def test_a_file_that_does_not_parse_is_reviewed_with_a_warning(proj: Path, capsys) -> None:
    text = "class T:\n    def test_a(self):\n        x = )\n        y.get_servers()[0]\n"
    (proj / "repo/tests/test_broken.py").write_text(text)
    (proj / "repo/tests/test_missing.py").write_text("def test_b(:\n    pass\n")
    (proj / "repo/tests/test_ok.py").write_text(FIRST)
    code, out, err = run(capsys, "repo", "--root", "repo", "--format", "json")
    assert code == 1 and ("tests/test_broken.py", "first-server") in findings(out)
    assert "review-bot: warning: tests/test_broken.py:3:13: does not parse" in err
    assert "review-bot: warning: tests/test_missing.py:1:12: lacks a ')'" in err
    assert "test_ok.py" not in err


# --- 9 and 19. git ranges -------------------------------------------------------------------


def test_three_dot_range_reviews_from_the_merge_base(proj: Path, capsys) -> None:
    repo = proj / "repo"
    git(repo, "init", "-q", "-b", "main")
    (repo / "tests/test_x.py").write_text(BASE)
    (repo / "tests/test_main.py").write_text(FIRST)
    commit_all(repo, "base")
    git(repo, "checkout", "-qb", "topic")
    (repo / "tests/test_x.py").write_text(HEAD)
    commit_all(repo, "topic")
    git(repo, "checkout", "-q", "main")
    (repo / "tests/test_main.py").write_text("x = 1\n")  # main fixed it since the branch
    commit_all(repo, "main moves on")
    code, out, _ = run(capsys, "--git", "main...topic", "--root", "repo", "--format", "json")
    assert code == 0 and findings(out) == {("tests/test_x.py", "patch-start")}
    # Two dots compare the tips: main's fix shows up, reversed, as the topic's doing.
    _, out, _ = run(capsys, "--git", "main..topic", "--root", "repo", "--format", "json")
    assert ("tests/test_main.py", "first-server") in findings(out)
    # An empty side is HEAD, as for git.
    _, out, _ = run(capsys, "--git", "...topic", "--root", "repo", "--format", "json")
    assert findings(out) == {("tests/test_x.py", "patch-start")}


def test_an_unknown_revision_is_named(proj: Path, capsys) -> None:
    repo = proj / "repo"
    git(repo, "init", "-q")
    (repo / "tests/test_x.py").write_text(BASE)
    commit_all(repo, "base")
    code, _, err = run(capsys, "--git", "nope..HEAD", "--root", "repo")
    assert code == 2
    assert "review-bot: error: --git nope..HEAD: unknown revision 'nope'" in err
    code, _, err = run(capsys, "--git", "HEAD...nope", "--root", "repo")
    assert code == 2 and "--git HEAD...nope: unknown revision 'nope'" in err
