"""Where the bundled rules apply: the test globs and the rules' `files:` agree, and the
UUID rules leave constants modules alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.globs import GlobSet
from bot.core.options import DEFAULT_TEST_GLOBS
from bot.rules.load import load_project

SGCONFIG = Path(__file__).resolve().parents[2] / "sgconfig.yml"
# Rules that are scoped to a part of Nova on purpose.
NARROWER = {"conf-set-directly", "hardcoded-hostname-unbound"}


@pytest.fixture(scope="module")
def rules():  # type: ignore[no-untyped-def]
    return {r.id: r for r in load_project(SGCONFIG)}


@pytest.mark.parametrize(
    "path",
    ["test/units/module_utils/test_api.py", "pkg/testing/helpers.py", "ansible/test/sanity.py"],
)
def test_default_globs_take_the_test_and_testing_layouts(path: str) -> None:
    assert GlobSet(DEFAULT_TEST_GLOBS).matches(path)


def test_every_rule_reads_the_same_test_files_as_the_default_globs(rules) -> None:  # type: ignore[no-untyped-def]
    for rule_id, rule in rules.items():
        if rule_id in NARROWER:
            continue
        for path in ("test/units/test_a.py", "pkg/testing/helpers.py", "pkg/conftest.py"):
            assert rule.applies_to(path), (rule_id, path)


@pytest.mark.parametrize(
    "rule_id",
    [
        "hardcoded-uuid",
        "hardcoded-uuid-repeated",
        "hardcoded-uuid-constant",
        "uuid-not-from-constants",
    ],
)
def test_uuid_rules_leave_constants_modules_alone(rules, rule_id: str) -> None:  # type: ignore[no-untyped-def]
    assert rules[rule_id].applies_to("cinder/tests/unit/test_volume.py")
    assert not rules[rule_id].applies_to("cinder/tests/unit/fake_constants.py")
