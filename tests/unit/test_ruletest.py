"""`review-bot rules test`: the CLI's cases, and those under `review-bot:` only we run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import YamlError
from bot.rules.load import load_project, read_sgconfig
from bot.rules.ruletest import run_rule_tests

RULE = "id: one-int\nlanguage: python\nmetadata:\n  copies-in-file: one\nrule: {kind: integer}\n"


def results(tmp_path: Path, tests: str) -> list[str]:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "r.yml").write_text(RULE)
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "one-int-test.yml").write_text(tests)
    sgconfig = tmp_path / "sgconfig.yml"
    sgconfig.write_text("ruleDirs: [rules]\ntestConfigs:\n  - testDir: tests\n")
    (result,) = run_rule_tests(read_sgconfig(sgconfig), load_project(sgconfig))
    return result.failures


def test_review_bot_cases_run_with_the_cli_ones(tmp_path: Path) -> None:
    tests = (
        "id: one-int\nvalid: ['x']\ninvalid: ['1']\n"
        "review-bot:\n  valid: ['f(1, 1)']\n  invalid: ['f(1, 2)']\n"
    )
    assert results(tmp_path, tests) == []


def test_a_failing_review_bot_case_is_reported(tmp_path: Path) -> None:
    tests = "id: one-int\nvalid: ['x']\nreview-bot:\n  valid: ['f(1, 2)']\n  invalid: ['f(1, 1)']\n"
    failures = results(tmp_path, tests)
    assert [f.splitlines()[0] for f in failures] == [
        "valid case was flagged:",
        "invalid case was not flagged:",
    ]


@pytest.mark.parametrize(
    ("block", "line", "message"),
    [
        ("review-bot: ['1']\n", 3, "must be a mapping"),
        ("review-bot:\n  vaild: ['1']\n", 4, "unknown key 'vaild'"),
        ("review-bot:\n  valid: 1\n", 4, "'valid' must be a list of code"),
    ],
)
def test_a_malformed_review_bot_block_names_file_and_line(
    tmp_path: Path, block: str, line: int, message: str
) -> None:
    with pytest.raises(YamlError) as err:
        results(tmp_path, "id: one-int\nvalid: ['x']\n" + block)
    assert err.value.line == line and message in str(err.value)
    assert str(err.value).startswith(str(tmp_path / "tests" / "one-int-test.yml"))
