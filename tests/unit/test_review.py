"""Threshold and in-code suppression."""

from __future__ import annotations

from bot.core.review import is_suppressed, select
from bot.model import Finding, Pos, Severity, Span


def finding(
    line: int,
    rule: str = "hardcoded-uuid",
    sev: Severity = Severity.warning,
    matched: str = "'abc'",
    path: str = "tests/test_a.py",
) -> Finding:
    return Finding(rule, sev, "m", path, Span(Pos(line, 4, 0), Pos(line, 9, 0)), matched)


def test_review_bot_ignore_on_the_line_or_the_line_above() -> None:
    lines = [
        "x = 1",
        "y = 'abc'  # review-bot: ignore[hardcoded-uuid]",
        "# review-bot: ignore",
        "z = 'abc'",
        "w = 'abc'",
    ]
    assert is_suppressed(finding(2), lines)
    assert is_suppressed(finding(4), lines)
    assert not is_suppressed(finding(5), lines)


def test_trailing_comment_on_the_line_above_does_not_reach_down() -> None:
    lines = ["x = 1  # review-bot: ignore", "y = 'abc'"]
    assert not is_suppressed(finding(2), lines)
    assert is_suppressed(finding(1), lines)


def test_file_level_suppression_on_line_one_followed_by_a_blank_line() -> None:
    lines = ["# review-bot: ignore[hardcoded-uuid]", "", "a = 1", "y = 'abc'"]
    assert is_suppressed(finding(4), lines)
    assert not is_suppressed(finding(4, rule="other"), lines)
    assert not is_suppressed(finding(4), ["# review-bot: ignore", "a = 1", "x", "y"])


def test_ignore_for_another_rule_does_not_suppress() -> None:
    lines = ["y = 'abc'  # review-bot: ignore[hardcoded-hostname, missing-cleanup]"]
    assert not is_suppressed(finding(1), lines)
    assert is_suppressed(finding(1, rule="missing-cleanup"), lines)


def test_ast_grep_ignore_is_honoured() -> None:
    lines = ["# ast-grep-ignore: hardcoded-uuid", "y = 'abc'", "# ast-grep-ignore", "z = 1"]
    assert is_suppressed(finding(2), lines)
    assert is_suppressed(finding(4, rule="anything"), lines)


def test_select_applies_threshold_and_counts_what_it_dropped() -> None:
    texts = {"tests/test_a.py": "a\nb\nc  # review-bot: ignore\nd\n"}
    found = [finding(4, sev=Severity.info), finding(3), finding(2), finding(1, sev=Severity.error)]
    chosen = select(found, texts, Severity.warning)
    assert [f.line for f in chosen.shown] == [1, 2]
    assert chosen.below_threshold == 1 and chosen.suppressed == 1
