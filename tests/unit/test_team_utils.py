"""Team settings that replace a shipped util: rules.cleanup_bases, rules.uses_uuidsentinel.

Run through configured_rules on the bundled rules, as the CLI and the service do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.models import Config, ConfigError, load_config
from bot.core.analyze import Analyzer
from bot.model import ChangedFile, FileStatus, FilterMode, SourceFile
from bot.rules.ruleset import configured_rules

PATH = "pkg/tests/unit/test_a.py"

# The base is defined elsewhere: by default it is assumed to register stopall.
ELSEWHERE = """\
from unittest import mock

from pkg.tests import base


class TestA(base.BaseTestCase):
    def setUp(self):
        super().setUp()
        mock.patch('pkg.thing').start()
"""

# One level through a base class of the same file.
THROUGH_LOCAL = """\
from unittest import mock

from pkg import test


class Local(test.TestCase):
    pass


class TestA(Local):
    def setUp(self):
        super().setUp()
        mock.patch('pkg.thing').start()
"""

LITERAL = "'0f9a2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b'"
UUID_FILE = f"""\
import unittest

from oslo_utils import timeutils


class TestA(unittest.TestCase):
    def test_a(self):
        server_id = {LITERAL}
        self.assertTrue(run(server_id))
"""


def rule_ids(source: str, rules_section: dict[str, object] | None = None) -> list[str]:
    config = Config.model_validate({"rules": rules_section or {}})
    analyzer = Analyzer(configured_rules(config, Path("/nonexistent")))
    change = ChangedFile(PATH, FileStatus.added, whole_file=True)
    return [f.rule_id for f in analyzer.analyze(SourceFile(change, source), FilterMode.added)]


def test_by_default_a_base_defined_elsewhere_is_assumed_to_stop_patches() -> None:
    assert "missing-cleanup" not in rule_ids(ELSEWHERE)
    assert "missing-cleanup" not in rule_ids(THROUGH_LOCAL)


@pytest.mark.parametrize("bases", [["test.TestCase"], [], ["Other"]])
def test_naming_other_bases_makes_the_class_checked(bases: list[str]) -> None:
    assert "missing-cleanup" in rule_ids(ELSEWHERE, {"cleanup_bases": bases})


@pytest.mark.parametrize(
    "bases", [["base.BaseTestCase"], ["BaseTestCase"], ["x.Y", "BaseTestCase"]]
)
def test_a_named_base_or_a_dotted_suffix_of_it_stops_patches(bases: list[str]) -> None:
    assert "missing-cleanup" not in rule_ids(ELSEWHERE, {"cleanup_bases": bases})


def test_a_named_base_counts_through_a_base_class_of_the_file() -> None:
    assert "missing-cleanup" not in rule_ids(THROUGH_LOCAL, {"cleanup_bases": ["test.TestCase"]})
    assert "missing-cleanup" in rule_ids(THROUGH_LOCAL, {"cleanup_bases": ["base.BaseTestCase"]})


def test_a_name_is_matched_whole_not_as_a_substring() -> None:
    # `TestCase` must not match `base.BaseTestCase`.
    assert "missing-cleanup" in rule_ids(ELSEWHERE, {"cleanup_bases": ["TestCase"]})


def test_stopall_registered_by_the_class_still_counts_with_no_named_base() -> None:
    source = ELSEWHERE.replace(
        "super().setUp()\n", "super().setUp()\n        self.addCleanup(mock.patch.stopall)\n"
    )
    assert "missing-cleanup" not in rule_ids(source, {"cleanup_bases": []})


def test_uuidsentinel_by_default_is_decided_per_file() -> None:
    # The file neither imports uuidsentinel nor is Nova code: the generic rule speaks.
    assert rule_ids(UUID_FILE) == ["magic-uuid-literal"]


def test_a_team_that_uses_uuidsentinel_gets_the_openstack_rule_everywhere() -> None:
    assert rule_ids(UUID_FILE, {"uses_uuidsentinel": True}) == ["hardcoded-uuid"]


def test_a_team_that_does_not_gets_the_generic_rule_even_in_nova_code() -> None:
    nova = UUID_FILE.replace("from oslo_utils import timeutils", "from nova import test")
    assert rule_ids(nova) == ["hardcoded-uuid"]
    assert rule_ids(nova, {"uses_uuidsentinel": False}) == ["magic-uuid-literal"]


def test_a_project_override_applies_the_setting_to_that_project_only(tmp_path: Path) -> None:
    path = tmp_path / "review-bot.yaml"
    path.write_text(
        "projects:\n  - match: 'acme/*'\n    rules:\n      cleanup_bases: [test.TestCase]\n"
    )
    config = load_config(path)
    assert config.for_project("github", "acme/api").rules.cleanup_bases == ["test.TestCase"]
    assert config.for_project("github", "other/api").rules.cleanup_bases is None


def test_a_base_that_is_not_a_python_name_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "review-bot.yaml"
    path.write_text("rules:\n  cleanup_bases:\n    - base.BaseTestCase\n    - 'base.(Test'\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}:4: rules.cleanup_bases.1:" in str(err.value)


def test_rules_without_the_util_refuse_the_setting(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yml").write_text("id: r\nlanguage: python\nrule: {pattern: f()}\n")
    (tmp_path / "sgconfig.yml").write_text("ruleDirs: [rules]\n")
    config = Config.model_validate(
        {"rules": {"sgconfig": tmp_path / "sgconfig.yml", "cleanup_bases": ["test.TestCase"]}}
    )
    with pytest.raises(ConfigError, match=r"rules\.cleanup_bases: .* no util 'cleanup-base'"):
        configured_rules(config, tmp_path)
