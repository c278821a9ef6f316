"""The one fingerprint and the hidden marker that carries it."""

from __future__ import annotations

import pytest

from bot.core.fingerprint import fingerprint, fingerprints, marker, read_marker
from bot.model import Finding, Pos, Severity, Span

SEED_UUID = "'155d900f-4e14-4e4c-a73d-069cbf4541e6'"


def finding(
    line: int = 3,
    *,
    rule: str = "hardcoded-uuid",
    path: str = "nova/tests/functional/test_servers.py",
    matched: str = SEED_UUID,
    column: int = 10,
) -> Finding:
    offset = line * 100 + column  # any increasing offset: only file order matters
    span = Span(Pos(line, column, offset), Pos(line, column + len(matched), offset + len(matched)))
    return Finding(rule, Severity.warning, "m", path, span, matched)


def test_the_value_for_a_known_finding_is_pinned() -> None:
    # Changing this re-keys every comment the bot has posted and every SARIF alert: if it
    # must change, bump sarif.FINGERPRINT_KEY and say so in the release notes.
    assert fingerprint(finding()) == "f809700303860d52b6a2e9929bbfb598"
    assert fingerprint(finding(), 2) == "1fed262c47bbc55bc60d99d8d17b2770"


def test_lines_columns_and_whitespace_do_not_count_but_code_rule_and_path_do() -> None:
    here = fingerprint(finding(matched="f(a,  b)"))
    assert fingerprint(finding(90, column=2, matched="f(a,\n        b)")) == here
    assert fingerprint(finding(matched="f(a, c)")) != here
    assert fingerprint(finding(matched="f(a,  b)", rule="other")) != here
    assert fingerprint(finding(matched="f(a,  b)", path="nova/tests/test_b.py")) != here


def test_identical_code_in_one_file_is_numbered_in_file_order() -> None:
    first, second, elsewhere = finding(1), finding(5), finding(9, path="nova/tests/test_b.py")
    assert fingerprints([first, second, elsewhere]) == [
        fingerprint(first, 1),
        fingerprint(second, 2),
        fingerprint(elsewhere, 1),
    ]
    # The order the findings come in does not matter; their place in the file does.
    assert fingerprints([second, first]) == [fingerprint(second, 2), fingerprint(first, 1)]
    assert len(set(fingerprints([first, second, elsewhere]))) == 3


def test_marker_round_trips_inside_a_comment_body() -> None:
    fp = fingerprint(finding())
    body = f"Hard-coded UUID: use `uuids.server`.\n\n```suggestion\nx\n```\n{marker(fp)}\n"
    assert marker(fp) == f"<!-- review-bot:fp={fp} -->"
    assert read_marker(body) == fp


@pytest.mark.parametrize(
    "body",
    [
        "LGTM, thanks",  # a human's comment
        "<!-- review-bot:fp=abc -->",  # too short to be ours
        "<!-- something-else:fp=f809700303860d52b6a2e9929bbfb598 -->",
    ],
)
def test_a_body_without_our_marker_reads_as_none(body: str) -> None:
    assert read_marker(body) is None
