"""New findings only: a finding the base side of the change already has is not posted.

Each case is a real unified diff (difflib, with git's headers where git would write them)
run through the real rules. Each also runs with the baseline off, to show that the case
bites: without the base, the old finding is reported.
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path

import pytest

from bot.core.compiled import CompiledRule
from bot.core.diff import parse_diff
from bot.core.options import CheckOptions
from bot.core.pipeline import run_check
from bot.core.sources import snapshot
from bot.model import Change, ReviewPlan
from bot.rules.load import load_project

SGCONFIG = Path(__file__).resolve().parents[2] / "sgconfig.yml"
OLD_PATCH = "mock.patch('nova.compute.api.API.get').start()"
NEW_PATCH = "mock.patch('nova.network.neutron.API.show_port').start()"

HEADER = "import unittest\nfrom unittest import mock\n\n\nclass TestA(unittest.TestCase):\n"


def body(*methods: str) -> str:
    return HEADER + "\n".join(methods)


def method(name: str, *lines: str) -> str:
    return f"    def {name}(self):\n" + "".join(f"        {line}\n" for line in lines)


@pytest.fixture(scope="module")
def rules() -> list[CompiledRule]:
    return load_project(SGCONFIG)


def unified(old_path: str | None, new_path: str | None, old: str, new: str) -> str:
    """A git-style diff of one file; None on a side means the file is absent there."""
    a = f"a/{old_path}" if old_path else "/dev/null"
    b = f"b/{new_path}" if new_path else "/dev/null"
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), a, b, n=3
    )
    head = f"diff --git a/{old_path or new_path} b/{new_path or old_path}\n"
    if old_path and new_path and old_path != new_path:
        head += f"similarity index 90%\nrename from {old_path}\nrename to {new_path}\n"
    elif not old_path:
        head += "new file mode 100644\n"
    elif not new_path:
        head += "deleted file mode 100644\n"
    return head + "".join(lines)


def review(
    rules: list[CompiledRule],
    diffs: list[str],
    head: dict[str, str],
    base: dict[str, str],
    *,
    baseline: bool = True,
) -> ReviewPlan:
    files = parse_diff("".join(diffs))
    change = Change(
        files,
        lambda p: head[p].encode(),
        read_base=lambda p: base[p].encode(),
    )
    options = dataclasses.replace(CheckOptions(), baseline=baseline)
    return run_check(snapshot(change, options), rules, options, jobs=1).plan


def comments(plan: ReviewPlan) -> list[tuple[str, str]]:
    return [(c.rule_id, c.matched) for c in plan.comments]


PATH = "nova/tests/unit/test_a.py"


def test_a_block_moved_between_two_test_methods_gets_no_comment(rules: list) -> None:
    old = body(method("test_one", OLD_PATCH, "self.assertTrue(1)"), method("test_two", "pass"))
    new = body(method("test_one", "self.assertTrue(1)"), method("test_two", OLD_PATCH, "pass"))
    diff = [unified(PATH, PATH, old, new)]
    plan = review(rules, diff, {PATH: new}, {PATH: old})
    assert comments(plan) == []
    assert plan.summary.in_base == 1 and plan.summary.baseline
    # Without the base the same change reports the moved line: the case bites.
    off = review(rules, diff, {PATH: new}, {PATH: old}, baseline=False)
    assert comments(off) == [("missing-cleanup", OLD_PATCH)]
    assert not off.summary.baseline and off.summary.in_base == 0


def test_the_same_block_re_indented_gets_no_comment(rules: list) -> None:
    old = body(method("test_one", OLD_PATCH, "self.assertTrue(1)"))
    new = body(method("test_one", "if True:", "    " + OLD_PATCH, "self.assertTrue(1)"))
    diff = [unified(PATH, PATH, old, new)]
    assert comments(review(rules, diff, {PATH: new}, {PATH: old})) == []
    assert comments(review(rules, diff, {PATH: new}, {PATH: old}, baseline=False)) == [
        ("missing-cleanup", OLD_PATCH)
    ]


@pytest.mark.parametrize("rename_detected", [True, False], ids=["rename", "delete-and-add"])
def test_a_renamed_file_with_one_new_finding_gets_exactly_that_one(
    rules: list, rename_detected: bool
) -> None:
    old_path, new_path = "nova/tests/unit/test_old.py", "nova/tests/unit/test_new.py"
    old = body(method("test_one", OLD_PATCH, "self.assertTrue(1)"))
    new = body(method("test_one", OLD_PATCH, "self.assertTrue(1)"), method("test_two", NEW_PATCH))
    if rename_detected:
        diffs = [unified(old_path, new_path, old, new)]
    else:
        # What a diff without rename detection shows: the whole file deleted and re-added.
        diffs = [unified(old_path, None, old, ""), unified(None, new_path, "", new)]
    plan = review(rules, diffs, {new_path: new}, {old_path: old})
    assert comments(plan) == [("missing-cleanup", NEW_PATCH)]
    assert [c.path for c in plan.comments] == [new_path]
    if not rename_detected:
        assert plan.summary.in_base == 1
        off = review(rules, diffs, {new_path: new}, {old_path: old}, baseline=False)
        assert sorted(comments(off)) == sorted(
            [("missing-cleanup", OLD_PATCH), ("missing-cleanup", NEW_PATCH)]
        )


def test_a_real_new_finding_beside_a_moved_one_is_kept(rules: list) -> None:
    old = body(method("test_one", OLD_PATCH, "self.assertTrue(1)"), method("test_two", "pass"))
    new = body(
        method("test_one", "self.assertTrue(1)"),
        method("test_two", OLD_PATCH, NEW_PATCH, "pass"),
    )
    plan = review(rules, [unified(PATH, PATH, old, new)], {PATH: new}, {PATH: old})
    assert comments(plan) == [("missing-cleanup", NEW_PATCH)]
    assert plan.summary.in_base == 1


def test_code_moved_from_another_file_counts_as_old(rules: list) -> None:
    other = "nova/tests/unit/test_b.py"
    old_a = body(method("test_one", OLD_PATCH, "self.assertTrue(1)"))
    new_a = body(method("test_one", "self.assertTrue(1)"))
    old_b = body(method("test_two", "pass"))
    new_b = body(method("test_two", OLD_PATCH, "pass"))
    diffs = [unified(PATH, PATH, old_a, new_a), unified(other, other, old_b, new_b)]
    plan = review(rules, diffs, {PATH: new_a, other: new_b}, {PATH: old_a, other: old_b})
    assert comments(plan) == [] and plan.summary.in_base == 1


def test_without_base_contents_nothing_is_dropped_and_the_summary_says_so(rules: list) -> None:
    old = body(method("test_one", OLD_PATCH, "self.assertTrue(1)"), method("test_two", "pass"))
    new = body(method("test_one", "self.assertTrue(1)"), method("test_two", OLD_PATCH, "pass"))
    change = Change(parse_diff(unified(PATH, PATH, old, new)), lambda p: new.encode())
    options = CheckOptions()
    plan = run_check(snapshot(change, options), rules, options, jobs=1).plan
    assert comments(plan) == [("missing-cleanup", OLD_PATCH)]
    assert not plan.summary.baseline
