"""`review-bot check` end to end: every intake path, every format, every bad input.

The CLI runs in-process through ``main()`` (same code as the console script) on a
small self-contained ast-grep project, so these tests do not depend on how the
shipped rule packs evolve. A few run the real console script as a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.integration.cli_project import git, run_check, team_project

RULES = {
    "pin.yml": """\
id: latest-mv
language: python
severity: warning
message: "pinned microversion instead of $V"
rule: {pattern: "microversion = $V", inside: {kind: class_definition, stopBy: end}}
fix: "microversion = '2.90'"
""",
    "first.yml": """\
id: first-server
language: python
severity: error
message: check the list before taking [0]
rule: {pattern: "$L.get_servers()[0]"}
""",
    "quiet.yml": """\
id: quiet-hint
language: python
severity: hint
message: a hint
rule: {pattern: "print($$$)"}
""",
}
TEST_FILE = """\
class TestBug(base.TestCase):
    microversion = 'latest'

    def test_it(self):
        server = self.api.get_servers()[0]
        print(server)
"""


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with rules, a config and one committed test file."""
    team_project(tmp_path, RULES)
    (tmp_path / "nova" / "tests").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


run = run_check


def new_file_diff(path: str, text: str) -> str:
    lines = text.splitlines(keepends=True)
    body = "".join("+" + line for line in lines)
    return f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"


def test_diff_file_reads_new_contents_from_root(proj: Path, capsys) -> None:
    (proj / "nova/tests/test_bug.py").write_text(TEST_FILE)
    (proj / "p.diff").write_text(new_file_diff("nova/tests/test_bug.py", TEST_FILE))
    code, out, _ = run(capsys, "--diff", "p.diff", "--fail-on", "off")
    assert code == 0
    assert "nova/tests/test_bug.py:2:5: warning[latest-mv]" in out
    assert "nova/tests/test_bug.py:5:18: error[first-server]" in out
    assert "+    microversion = '2.90'" in out  # the fix, as a small diff
    assert "quiet-hint" not in out  # below the default threshold (warning)


def test_only_added_lines_count_by_default(proj: Path, capsys) -> None:
    (proj / "nova/tests/test_bug.py").write_text(TEST_FILE)
    diff = (
        "--- a/nova/tests/test_bug.py\n+++ b/nova/tests/test_bug.py\n"
        "@@ -3,3 +3,4 @@\n \n     def test_it(self):\n"
        "+        server = self.api.get_servers()[0]\n         print(server)\n"
    )
    (proj / "p.diff").write_text(diff)
    _, out, _ = run(capsys, "--diff", "p.diff", "--format", "json", "--fail-on", "off")
    assert [f["rule_id"] for f in json.loads(out)["findings"]] == ["first-server"]
    _, out, _ = run(
        capsys, "--diff", "p.diff", "--format", "json", "--filter-mode", "file", "--fail-on", "off"
    )
    assert {f["rule_id"] for f in json.loads(out)["findings"]} == {"first-server", "latest-mv"}
    _, out, _ = run(
        capsys,
        "--diff",
        "p.diff",
        "--format",
        "json",
        "--filter-mode",
        "diff_context",
        "--min-severity",
        "hint",
        "--fail-on",
        "off",
    )
    assert {f["rule_id"] for f in json.loads(out)["findings"]} == {"first-server", "quiet-hint"}


def test_diff_from_stdin_via_the_console_script(proj: Path) -> None:
    (proj / "nova/tests/test_bug.py").write_text(TEST_FILE)
    exe = Path(sys.executable).parent / "review-bot"
    done = subprocess.run(
        [str(exe), "check", "-c", "review-bot.yaml", "--diff", "-", "--format", "json"],
        input=new_file_diff("nova/tests/test_bug.py", TEST_FILE),
        capture_output=True,
        text=True,
        cwd=proj,
        check=False,
    )
    assert done.returncode == 1, done.stderr  # an error-severity finding fails by default
    assert len(json.loads(done.stdout)["findings"]) == 2


def test_git_range_takes_contents_from_git_not_the_tree(proj: Path, capsys) -> None:
    git(proj, "init", "-q")
    git(proj, "add", "sgconfig.yml")
    git(proj, "commit", "-qm", "base")
    (proj / "nova/tests/test_bug.py").write_text(TEST_FILE)
    git(proj, "add", "nova/tests/test_bug.py")
    git(proj, "commit", "-qm", "add test")
    (proj / "nova/tests/test_bug.py").write_text("# rewritten in the tree\n")
    code, out, _ = run(capsys, "--git", "HEAD~1..HEAD", "--format", "json")
    assert code == 1
    assert {f["rule_id"] for f in json.loads(out)["findings"]} == {"first-server", "latest-mv"}


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


MOVED = """\
class TestBug(base.TestCase):
    def test_one(self):
        {one}

    def test_two(self):
        {two}
"""
FIRST = "server = self.api.get_servers()[0]"


def test_git_range_drops_code_that_was_moved_or_renamed(proj: Path, capsys) -> None:
    git(proj, "init", "-q")
    (proj / "nova/tests/test_bug.py").write_text(MOVED.format(one=FIRST, two="pass"))
    commit_all(proj, "base")
    # The finding moves to another method, and the file is renamed; one real new finding.
    (proj / "nova/tests/test_bug.py").unlink()
    moved = MOVED.format(one="pass", two=FIRST) + "\n    def test_three(self):\n"
    moved += "        other = self.admin_api.get_servers()[0]\n"
    (proj / "nova/tests/test_renamed.py").write_text(moved)
    commit_all(proj, "move")
    _, out, err = run(capsys, "--git", "HEAD~1..HEAD", "--format", "json")
    doc = json.loads(out)
    assert [f["matched"] for f in doc["findings"]] == ["self.admin_api.get_servers()[0]"]
    assert doc["summary"]["in_base"] == 1 and doc["summary"]["baseline"] is True
    assert "baseline" not in err  # the base is at hand: nothing to warn about
    # --no-baseline reports the moved line too.
    _, out, _ = run(capsys, "--git", "HEAD~1..HEAD", "--format", "json", "--no-baseline")
    doc = json.loads(out)
    assert len(doc["findings"]) == 2 and doc["summary"]["baseline"] is False


def test_a_diff_has_no_base_so_the_cli_says_once_that_the_baseline_is_off(
    proj: Path, capsys
) -> None:
    (proj / "nova/tests/test_bug.py").write_text(TEST_FILE)
    (proj / "p.diff").write_text(new_file_diff("nova/tests/test_bug.py", TEST_FILE))
    _, out, err = run(capsys, "--diff", "p.diff", "--fail-on", "off")
    assert err.count("baseline off") == 1 and "--git" in err
    assert "first-server" in out
    _, _, err = run(capsys, "--diff", "p.diff", "--fail-on", "off", "--no-baseline")
    assert "baseline" not in err


def test_git_range_errors_are_clear(proj: Path, capsys) -> None:
    git(proj, "init", "-q")
    code, _, err = run(capsys, "--git", "nope..HEAD")
    assert code == 2 and "git" in err
    code, _, err = run(capsys, "--git", "HEAD")
    assert code == 2 and "A..B" in err


def test_paths_mode_scans_whole_test_files_only(proj: Path, capsys) -> None:
    (proj / "nova/tests/test_bug.py").write_text(TEST_FILE)
    (proj / "nova/helper.py").write_text(TEST_FILE)  # not a test file
    code, out, _ = run(capsys, "nova", "--format", "json", "--fail-on", "warning")
    assert code == 1
    paths = {f["path"] for f in json.loads(out)["findings"]}
    assert paths == {"nova/tests/test_bug.py"}


def test_non_utf8_and_oversized_files_are_skipped_with_a_warning(proj: Path, capsys) -> None:
    (proj / "nova/tests/test_latin1.py").write_bytes(b"s = '\xe9'\nx.get_servers()[0]\n")
    (proj / "nova/tests/test_big.py").write_text("x.get_servers()[0]\n" + "a = 1\n" * 20_000)
    (proj / "nova/tests/test_ok.py").write_text("x.get_servers()[0]\n")
    with (proj / "review-bot.yaml").open("a") as config:
        config.write("limits:\n  max_file_bytes: 100000\n")
    code, out, err = run(capsys, "nova", "--format", "json")
    assert code == 1
    assert {f["path"] for f in json.loads(out)["findings"]} == {"nova/tests/test_ok.py"}
    assert "test_latin1.py: skipped: not valid UTF-8" in err
    assert "test_big.py: skipped:" in err and "limits.max_file_bytes" in err


def test_deleted_and_binary_files_in_a_diff_are_skipped(proj: Path, capsys) -> None:
    diff = (
        "diff --git a/nova/tests/test_old.py b/nova/tests/test_old.py\n"
        "deleted file mode 100644\n--- a/nova/tests/test_old.py\n+++ /dev/null\n"
        "@@ -1 +0,0 @@\n-x.get_servers()[0]\n"
        "diff --git a/nova/tests/test_img.py b/nova/tests/test_img.py\n"
        "index 1111111..2222222 100644\n"
        "Binary files a/nova/tests/test_img.py and b/nova/tests/test_img.py differ\n"
    )
    (proj / "p.diff").write_text(diff)
    code, out, _ = run(capsys, "--diff", "p.diff")
    assert code == 0
    assert "test_img.py" in out and "binary" in out  # reported, not silently dropped
    assert "test_old.py" not in out


def test_crlf_file_keeps_crlf_in_the_suggested_fix(proj: Path, capsys) -> None:
    text = TEST_FILE.replace("\n", "\r\n")
    (proj / "nova/tests/test_bug.py").write_bytes(text.encode())
    _, out, _ = run(capsys, "nova", "--format", "json", "--fail-on", "off")
    found = {f["rule_id"]: f for f in json.loads(out)["findings"]}
    assert found["latest-mv"]["range"]["start"]["line"] == 2
    assert found["latest-mv"]["fix"]["suggestion"]["text"] == "    microversion = '2.90'"


def test_malformed_diff_exits_2_naming_the_line(proj: Path, capsys) -> None:
    (proj / "p.diff").write_text("--- a/t/test_x.py\n+++ b/t/test_x.py\n@@ -1,2 +1,2 @@\n a\n?b\n")
    code, out, err = run(capsys, "--diff", "p.diff")
    assert code == 2 and out == ""
    assert "malformed diff at line 5" in err


def test_missing_new_contents_is_an_input_error(proj: Path, capsys) -> None:
    (proj / "p.diff").write_text(new_file_diff("nova/tests/test_gone.py", "x = 1\n"))
    code, _, err = run(capsys, "--diff", "p.diff")
    assert code == 2 and "nova/tests/test_gone.py" in err and "--root" in err


def test_broken_rule_file_exits_2_naming_file_rule_and_key(proj: Path, capsys) -> None:
    (proj / "rules/team/bad.yml").write_text(
        "id: bad\nlanguage: python\nrule: {kind: call}\nmesage: typo\n"
    )
    code, _, err = run(capsys, "nova")
    assert code == 2
    assert "rules/team/bad.yml:4" in err and "'bad'" in err and "'mesage'" in err


def test_bad_config_exits_2_naming_the_key(proj: Path, capsys) -> None:
    (proj / "review-bot.yaml").write_text("review:\n  min_severity: loud\n")
    code, _, err = run(capsys, "nova")
    assert code == 2 and "review.min_severity" in err and "review-bot.yaml:2" in err


def test_fail_on_sets_the_exit_code(proj: Path, capsys) -> None:
    (proj / "nova/tests/test_bug.py").write_text("class T:\n    microversion = 'latest'\n")
    assert run(capsys, "nova", "--fail-on", "error")[0] == 0
    assert run(capsys, "nova", "--fail-on", "warning")[0] == 1
    assert run(capsys, "nova", "--fail-on", "off")[0] == 0
    assert run(capsys, "nova", "--fail-on", "severe")[0] == 2


@pytest.mark.parametrize("fmt", ["json", "rdjson", "sarif"])
def test_structured_formats_parse_and_carry_the_findings(proj: Path, capsys, fmt: str) -> None:
    (proj / "nova/tests/test_bug.py").write_text(TEST_FILE)
    _, out, _ = run(capsys, "nova", "--format", fmt)
    data = json.loads(out)
    text = json.dumps(data)
    assert "latest-mv" in text and "first-server" in text


def test_rdjsonl_is_one_diagnostic_per_line(proj: Path, capsys) -> None:
    (proj / "nova/tests/test_bug.py").write_text(TEST_FILE)
    _, out, _ = run(capsys, "nova", "--format", "rdjsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(d["code"]["value"] for d in lines) == ["first-server", "latest-mv"]


def test_github_format_is_workflow_commands(proj: Path, capsys) -> None:
    (proj / "nova/tests/test_bug.py").write_text(TEST_FILE)
    _, out, _ = run(capsys, "nova", "--format", "github")
    assert out.startswith("::warning file=nova/tests/test_bug.py,line=2")
    assert "::error file=nova/tests/test_bug.py,line=5" in out


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["check"],
        ["rules"],
        ["rules", "list"],
        ["rules", "test"],
        ["config"],
        ["config", "check"],
        ["serve"],
        ["jobs"],
        ["jobs", "list"],
        ["jobs", "show"],
        ["jobs", "retry"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    exe = Path(sys.executable).parent / "review-bot"
    done = subprocess.run(
        [str(exe), *command, "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "usage: review-bot" in done.stdout


def test_rules_list_shows_id_severity_pack_and_summary(proj: Path, capsys) -> None:
    assert main(["rules", "list", "-c", "review-bot.yaml"]) == 0
    out = capsys.readouterr().out
    assert any(line.split()[:3] == ["first-server", "error", "team"] for line in out.splitlines())


def test_config_check(proj: Path, capsys) -> None:
    assert main(["config", "check", "review-bot.yaml"]) == 0
    assert "ok (3 rules)" in capsys.readouterr().out
    (proj / "bad.yaml").write_text("limits: {max_files: 0}\n")
    assert main(["config", "check", "bad.yaml"]) == 2
    assert "limits.max_files" in capsys.readouterr().err


def test_idiom_threshold_on_the_command_line_overrides_the_config(proj: Path, capsys) -> None:
    # Two unchanged tests already take the first server unchecked; a third is added.
    git(proj, "init", "-q")
    two = MOVED.format(one=FIRST, two=FIRST)
    (proj / "nova/tests/test_bug.py").write_text(two)
    commit_all(proj, "base")
    added = two + "\n    def test_three(self):\n        " + FIRST + "\n"
    (proj / "nova/tests/test_bug.py").write_text(added)
    commit_all(proj, "third")
    _, out, _ = run(capsys, "--git", "HEAD~1..HEAD", "--format", "json")
    doc = json.loads(out)
    assert doc["findings"] == [] and doc["summary"]["established"] == 1
    _, out, _ = run(capsys, "--git", "HEAD~1..HEAD", "--format", "json", "--idiom-threshold", "0")
    doc = json.loads(out)
    assert [f["range"]["start"]["line"] for f in doc["findings"]] == [9]
    with pytest.raises(SystemExit):
        run(capsys, "--git", "HEAD~1..HEAD", "--idiom-threshold", "-1")
    assert "expected a whole number >= 0" in capsys.readouterr().err
