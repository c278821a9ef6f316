"""Idiom damping: a finding that unchanged lines of its file already show is demoted."""

from __future__ import annotations

import pytest

from bot.core.idiom import NEW_COPIES_ONLY, established
from bot.model import ChangedFile, FileStatus, FilterMode, Finding, Pos, Severity, Span

PATH = "pkg/tests/test_x.py"


def finding(line: int, rule: str = "r", matched: str = "x", **metadata: object) -> Finding:
    return Finding(
        rule_id=rule,
        severity=Severity.warning,
        message="m",
        path=PATH,
        span=Span(Pos(line, 0, 0), Pos(line, 1, 1)),
        matched=matched,
        metadata=dict(metadata),
    )


def changes(*added: int, whole: bool = False) -> dict[str, ChangedFile]:
    return {
        PATH: ChangedFile(PATH, FileStatus.modified, added_lines=frozenset(added), whole_file=whole)
    }


def test_demoted_when_the_rule_matches_enough_unchanged_lines() -> None:
    new = finding(10)
    context = [new, finding(3), finding(5)]
    assert established([new], context, changes(10), {}, threshold=2) == {new}


def test_kept_below_the_threshold_and_for_other_rules() -> None:
    new = finding(10)
    context = [new, finding(3), finding(5, rule="other"), finding(7, rule="other")]
    assert established([new], context, changes(10), {}, threshold=2) == frozenset()


def test_matches_on_other_added_lines_are_not_practice() -> None:
    new = finding(10)
    context = [new, finding(11), finding(12)]
    assert established([new], context, changes(10, 11, 12), {}, threshold=2) == frozenset()


def test_an_added_file_has_no_practice_to_follow() -> None:
    new = finding(10)
    context = [new, finding(3), finding(5)]
    assert established([new], context, changes(10, whole=True), {}, threshold=2) == frozenset()


def test_threshold_zero_turns_it_off() -> None:
    new = finding(10)
    assert established([new], [new, finding(1), finding(2)], changes(10), {}, 0) == frozenset()


def test_new_copies_only_looks_for_the_text_on_unchanged_lines() -> None:
    literal = "'0f9a2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b'"
    text = f"a = {literal}\nb = 1\nc = {literal}\n"
    new = finding(3, matched=literal, **{NEW_COPIES_ONLY: True})
    # Line 1 is unchanged and holds a copy: the change did not introduce the literal.
    assert established([new], [new], changes(3), {PATH: text}, threshold=2) == {new}
    # Both copies are added: it is new.
    assert established([new], [new], changes(1, 3), {PATH: text}, threshold=2) == frozenset()


# --- through run_check, with the real rules ----------------------------------------------

NOVA = "nova/tests/unit/test_a.py"
LITERAL = "'0f9a2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b'"


def _review(old: str, new: str, **options: object):  # type: ignore[no-untyped-def]
    import dataclasses

    from bot.core.diff import parse_diff
    from bot.core.options import CheckOptions
    from bot.core.pipeline import run_check
    from bot.core.sources import snapshot
    from bot.model import Change
    from bot.rules.load import load_project
    from tests.unit.test_baseline import SGCONFIG, unified

    files = parse_diff(unified(NOVA, NOVA, old, new))
    change = Change(files, lambda p: new.encode(), read_base=lambda p: old.encode())
    opts = dataclasses.replace(CheckOptions(), **options)
    return run_check(snapshot(change, opts), load_project(SGCONFIG), opts, jobs=1).plan


def _module(*tests: str) -> str:
    head = "import unittest\nfrom unittest import mock\n\n\nclass TestA(unittest.TestCase):\n"
    return head + "".join(tests)


def _test(name: str, line: str) -> str:
    return f"    def {name}(self):\n        {line}\n        self.assertTrue(run())\n\n"


@pytest.mark.parametrize("mode", [FilterMode.added, FilterMode.file])
def test_a_patch_like_its_unchanged_neighbours_is_not_posted(mode: FilterMode) -> None:
    # In `file` mode the first run already covers the whole file and is reused.
    start = "mock.patch('pkg.a.f').start()"
    old = _module(_test("test_one", start), _test("test_two", start))
    new = old + _test("test_three", "mock.patch('pkg.a.g').start()")
    plan = _review(old, new, filter_mode=mode)
    assert plan.comments == () and plan.summary.established == 1
    # The same change with damping off posts it: the case bites.
    off = _review(old, new, idiom_threshold=0)
    assert [c.rule_id for c in off.comments] == ["missing-cleanup"]


def test_a_uuid_that_unchanged_tests_already_repeat_is_not_blamed_on_the_new_line() -> None:
    head = "from nova import test\n\n\nclass TestA(test.NoDBTestCase):\n"
    old = head + _test("test_one", f"a = make({LITERAL})") + _test("test_two", f"b({LITERAL})")
    new = head + _test("test_zero", f"c({LITERAL})") + old[len(head) :]
    assert [c.rule_id for c in _review(old, new).comments] == []
    # Added together with its copy, the literal is the change's own: reported once.
    fresh = head + _test("test_zero", f"c({LITERAL})") + _test("test_z", f"d({LITERAL})")
    plan = _review(head, fresh)
    assert [c.rule_id for c in plan.comments] == ["hardcoded-uuid-repeated"]
