"""plan(): findings in, the ReviewPlan out; and the plan's JSON form."""

from __future__ import annotations

import dataclasses
import json

from bot.core.fingerprint import fingerprint
from bot.core.plan import plan, plan_from_json, plan_to_json
from bot.model import (
    Finding,
    Fix,
    LineSuggestion,
    Pos,
    ReviewPlan,
    Severity,
    SkippedFile,
    SkipReason,
    Span,
    TextEdit,
)

PATH = "tests/test_a.py"
TEXT = (
    "def test_a():\n"  # 1
    "    x = 'abc'\n"  # 2
    "    y = 'abc'  # review-bot: ignore\n"  # 3
    "    z = 'abc'\n"  # 4
    "    time.sleep(1)\n"  # 5
)


def at(line: int, needle: str, *, rule: str = "r", sev: Severity = Severity.warning) -> Finding:
    lines = TEXT.split("\n")
    column = lines[line - 1].index(needle)
    offset = sum(len(x) + 1 for x in lines[: line - 1]) + column
    span = Span(Pos(line, column, offset), Pos(line, column + len(needle), offset + len(needle)))
    return Finding(rule, sev, f"{rule} at {line}", PATH, span, needle)


def test_threshold_suppression_and_baseline_each_count_what_they_drop() -> None:
    head = [
        at(5, "time.sleep(1)", rule="no-sleep"),
        at(2, "'abc'"),
        at(3, "'abc'"),  # suppressed in the code
        at(4, "'abc'"),
        at(2, "x", rule="low", sev=Severity.info),  # below the threshold
    ]
    # The same code on the base side, in another file: moved code is old code.
    base = [dataclasses.replace(at(5, "time.sleep(1)", rule="no-sleep"), path="tests/test_b.py")]
    got = plan(head, {PATH: TEXT}, Severity.warning, base=base, analysed_files=1)
    assert [(c.rule_id, c.line) for c in got.comments] == [("r", 2), ("r", 4)]
    s = got.summary
    assert (s.below_threshold, s.suppressed, s.in_base, s.baseline) == (1, 1, 1, True)
    assert s.analysed_files == 1
    assert got.by_rule() == {"r": 2}
    assert got.by_severity() == {Severity.warning: 2}


def test_fingerprints_number_over_every_head_finding_so_a_suppression_shifts_nothing() -> None:
    head = [at(2, "'abc'"), at(3, "'abc'"), at(4, "'abc'")]
    got = plan(head, {PATH: TEXT}, Severity.warning)
    # Line 4 is the third 'abc' of rule r in the file, whether or not line 3 is posted.
    assert [c.fingerprint for c in got.comments] == [
        fingerprint(head[0], 1),
        fingerprint(head[2], 3),
    ]
    assert not got.summary.baseline and got.summary.in_base == 0


def test_the_plan_round_trips_through_json() -> None:
    finding = at(5, "time.sleep(1)", rule="no-sleep", sev=Severity.error)
    edit = TextEdit(finding.span, "clock.advance(1)")
    finding = Finding(
        "no-sleep",
        Severity.error,
        "Do not sleep",
        PATH,
        finding.span,
        finding.matched,
        pack="python",
        note="Use the clock fixture.",
        url="https://example.org/no-sleep",
        fix=Fix((edit,), LineSuggestion(5, 5, "    clock.advance(1)")),
    )
    skipped = [SkippedFile("tests/test_big.py", SkipReason.too_large, "skipped: too big")]
    original = plan([finding], {PATH: TEXT}, Severity.warning, base=[], skipped=skipped)
    data = json.loads(json.dumps(plan_to_json(original)))
    assert data["comments"][0]["severity"] == "error"  # by name, for people reading it
    assert data["by_rule"] == {"no-sleep": 1} and data["by_severity"] == {"error": 1}
    assert data["summary"]["skipped"][0]["reason"] == "too_large"
    back = plan_from_json(data)
    assert back == original
    assert back.comments[0].suggestion == LineSuggestion(5, 5, "    clock.advance(1)")


def test_an_empty_plan_round_trips() -> None:
    assert plan_from_json(plan_to_json(ReviewPlan())) == ReviewPlan()
