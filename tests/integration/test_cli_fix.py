"""`review-bot check --fix` end to end: real files in tmp_path, the real CLI, real git."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.integration.cli_project import team_project

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = "nova/tests/functional/regressions/test_bug_2034567.py"

RULES = {
    "pin.yml": """\
id: latest-mv
language: python
severity: warning
message: "pin the microversion instead of 'latest'"
rule: {pattern: "microversion = 'latest'", inside: {kind: class_definition, stopBy: end}}
fix: "microversion = '2.90'"
""",
    "log.yml": """\
id: print-call
language: python
severity: warning
message: use the logger
rule: {pattern: "print($X)"}
fix: "LOG.info($X)"
""",
    "first.yml": """\
id: first-server
language: python
severity: error
message: check the list before taking [0]
rule: {pattern: "$L.get_servers()[0]"}
fix: "$L.get_servers()[-1]"
""",
}
TEST_FILE = """\
class TestBug(base.TestCase):
    microversion = 'latest'

    def test_it(self):
        print(self.api.get_servers()[0])
"""


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "HOME": str(root),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    return subprocess.run(
        ["git", *args], cwd=root, check=check, capture_output=True, text=True, env=env
    )


def check(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", "--color", "never", *args])
    out, err = capfd.readouterr()
    return code, out, err


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the bundled example; the bundled rules apply (no sgconfig.yml here)."""
    copy = tmp_path / "examples"
    shutil.copytree(REPO / "examples", copy)
    monkeypatch.chdir(tmp_path)
    return copy


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with its own three rules; the test file holds two fixes that overlap."""
    team_project(tmp_path, RULES, config=False)
    (tmp_path / "nova" / "tests").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def keys(findings: list[dict[str, object]]) -> set[tuple[object, object]]:
    return {(f["rule_id"], f["matched"]) for f in findings}


def test_diff_fix_prints_a_patch_git_applies_and_then_nothing_fixed_is_reported(
    example: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    target = example / EXAMPLE
    before = target.read_bytes()
    diff = str(example / "nova-regression.diff")
    _, out, _ = check(capfd, "--root", str(example), "--diff", diff, "--format", "json")
    fixable = [f for f in json.loads(out)["findings"] if f.get("fix")]
    assert len(fixable) >= 2

    code, patch, err = check(capfd, "--root", str(example), "--diff", diff, "--fix")

    assert code == 0
    assert target.read_bytes() == before  # a patch, not a write
    assert patch.startswith(f"diff --git a/{EXAMPLE} b/{EXAMPLE}\n--- a/{EXAMPLE}\n")
    assert f"Would fix {len(fixable)} findings in 1 file" in err
    (example.parent / "fix.patch").write_text(patch)
    assert git(example, "apply", "--check", "../fix.patch", check=False).returncode == 0
    git(example, "apply", "../fix.patch")
    assert target.read_bytes() != before
    # The diff's added lines no longer describe the file, so review the fixed file itself.
    code, out, _ = check(capfd, "--root", str(example), str(target), "--format", "json")
    assert not keys(fixable) & keys(json.loads(out)["findings"])


def test_paths_fix_writes_what_the_patch_would_and_keeps_the_mode(
    example: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    target = example / EXAMPLE
    target.chmod(0o640)
    other = tmp_path / "other"
    shutil.copytree(example, other)
    _, patch, _ = check(
        capfd, "--root", str(other), "--diff", str(other / "nova-regression.diff"), "--fix"
    )
    (tmp_path / "fix.patch").write_text(patch)
    git(other, "apply", "../fix.patch")

    code, out, err = check(capfd, "--root", str(example), str(example / "nova"), "--fix")

    assert code == 0
    assert "Fixed " in err and " in 1 file" in err
    assert out.strip().endswith("No findings")  # the report shows what remains: nothing
    assert target.read_bytes() == (other / EXAMPLE).read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temp file


def test_two_findings_that_need_one_import_add_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "nova/tests/unit/test_x.py"
    path.parent.mkdir(parents=True)
    path.write_text(
        "from oslo_utils import timeutils\n\nfrom nova import test\n\n\n"
        "class TestX(test.NoDBTestCase):\n\n"
        "    def test_a(self):\n"
        "        instance_uuid = '1b2f64c1-7d3e-4a8b-b5c6-0e1f2a3b4c5d'\n"
        "        self.assertTrue(timeutils.utcnow(), instance_uuid)\n\n"
        "    def test_b(self):\n"
        "        host_uuid = '2c3f64c1-7d3e-4a8b-b5c6-0e1f2a3b4c5d'\n"
        "        self.assertIsNotNone(host_uuid)\n"
    )
    _, out, _ = check(capfd, "nova", "--format", "json")
    findings = json.loads(out)["findings"]
    assert [f["rule_id"] for f in findings] == ["hardcoded-uuid", "hardcoded-uuid"]
    assert all(len(f["fix"]["edits"]) == 2 for f in findings)  # the literal and the import

    code, _, err = check(capfd, "nova", "--fix")

    text = path.read_text()
    assert code == 0
    assert "Fixed 2 findings in 1 file" in err
    assert text.count("from oslo_utils.fixture import uuidsentinel as uuids\n") == 1
    assert text.startswith(
        "from oslo_utils.fixture import uuidsentinel as uuids\nfrom oslo_utils import timeutils\n"
    )
    assert "instance_uuid = uuids.instance\n" in text
    assert "host_uuid = uuids.host\n" in text


def test_an_overlapping_fix_is_refused_named_and_still_reported(
    proj: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = proj / "nova/tests/test_bug.py"
    path.write_text(TEST_FILE)

    code, out, err = check(capfd, "nova", "--fix")

    assert (
        "review-bot: nova/tests/test_bug.py:5: not fixed: the fix of first-server (line 5) "
        "overlaps the fix of print-call (line 5)"
    ) in err
    assert "Fixed 2 findings in 1 file (1 refused: overlapping)" in err
    # The fixes that do not overlap are applied...
    assert path.read_text() == TEST_FILE.replace("'latest'", "'2.90'").replace(
        "print(self.api.get_servers()[0])", "LOG.info(self.api.get_servers()[0])"
    )
    # ...and the refused finding is what the report still shows, with its fix, and the
    # exit code is --fail-on's for it (an error).
    assert code == 1
    assert "nova/tests/test_bug.py:5:18: error[first-server]" in out
    assert "+        LOG.info(self.api.get_servers()[-1])" in out
    assert "latest-mv" not in out and "print-call" not in out


def test_exit_code_is_zero_when_every_shown_finding_was_fixed(
    proj: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = proj / "nova/tests/test_bug.py"
    path.write_text("def test_it(self):\n    server = self.api.get_servers()[0]\n")
    assert check(capfd, "nova")[0] == 1  # an error-level finding, --fail-on error

    code, out, err = check(capfd, "nova", "--fix")

    assert code == 0
    assert out.strip().endswith("No findings")
    assert "Fixed 1 finding in 1 file" in err
    assert path.read_text() == "def test_it(self):\n    server = self.api.get_servers()[-1]\n"
    assert check(capfd, "nova")[0] == 0


def test_crlf_and_a_byte_order_mark_are_kept_outside_the_edits(
    proj: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = proj / "nova/tests/test_bug.py"
    original = b"\xef\xbb\xbf" + TEST_FILE.replace("print(", "x = (").encode().replace(
        b"\n", b"\r\n"
    )
    path.write_bytes(original)

    code, _, err = check(capfd, "nova", "--fix")

    assert code == 0, err
    assert path.read_bytes() == original.replace(b"'latest'", b"'2.90'").replace(
        b"get_servers()[0]", b"get_servers()[-1]"
    )


def test_diff_fix_patch_applies_to_a_crlf_file_without_a_final_newline(
    proj: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    git(proj, "init", "-q")
    path = proj / "nova/tests/test_bug.py"
    original = TEST_FILE.rstrip("\n").replace("\n", "\r\n").encode()
    path.write_bytes(original)
    git(proj, "add", "-A")
    git(proj, "commit", "-qm", "base")
    change = git(proj, "diff", "--no-color", "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "HEAD")
    (proj / "change.diff").write_text(change.stdout)

    code, patch, err = check(capfd, "--diff", "change.diff", "--fix", "--fail-on", "off")

    assert code == 0, err
    assert path.read_bytes() == original
    (proj / "fix.patch").write_bytes(patch.encode())
    assert git(proj, "apply", "--check", "fix.patch", check=False).returncode == 0
    git(proj, "apply", "fix.patch")
    assert path.read_bytes() == original.replace(b"'latest'", b"'2.90'").replace(
        b"print(self", b"LOG.info(self"
    )


def test_fix_with_git_is_a_usage_error(proj: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = proj / "nova/tests/test_bug.py"
    git(proj, "init", "-q")
    git(proj, "commit", "-q", "--allow-empty", "-m", "base")
    path.write_text(TEST_FILE)
    git(proj, "add", "-A")
    git(proj, "commit", "-qm", "test")

    code, out, err = check(capfd, "--git", "HEAD~1..HEAD", "--fix")

    assert code == 2
    assert out == ""
    assert "--fix" in err and "--git" in err
    assert path.read_text() == TEST_FILE
