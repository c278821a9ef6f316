"""Rule loading: the CLI's format, validated at load with file, line, rule id and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from ast_grep_py import SgRoot

from bot.errors import YamlError
from bot.model import Severity
from bot.rules.load import KNOWN_LANGUAGES, RuleError, load_project


def project(tmp_path: Path, rule: str, util: str | None = None) -> Path:
    (tmp_path / "rules" / "python").mkdir(parents=True)
    (tmp_path / "rules" / "python" / "r.yml").write_text(rule)
    sg = "ruleDirs: [rules/python]\n"
    if util is not None:
        (tmp_path / "utils").mkdir()
        (tmp_path / "utils" / "u.yml").write_text(util)
        sg += "utilDirs: [utils]\n"
    (tmp_path / "sgconfig.yml").write_text(sg)
    return tmp_path / "sgconfig.yml"


def load_error(tmp_path: Path, rule: str) -> RuleError:
    with pytest.raises(RuleError) as err:
        load_project(project(tmp_path, rule))
    return err.value


def test_a_valid_rule_loads_with_its_pack_and_defaults(tmp_path: Path) -> None:
    (rule,) = load_project(project(tmp_path, "id: r\nlanguage: python\nrule: {pattern: f()}\n"))
    assert rule.id == "r" and rule.pack == "python"
    assert rule.severity is Severity.hint  # the CLI's default
    assert rule.applies_to("tests/test_a.py") and not rule.applies_to("tests/a.js")


def test_unknown_top_level_key_names_file_line_id_and_key(tmp_path: Path) -> None:
    err = load_error(tmp_path, "id: r\nlanguage: python\nrule: {pattern: f()}\nsevrity: error\n")
    assert err.key == "sevrity" and err.rule_id == "r" and err.line == 4
    assert str(err).startswith(str(tmp_path / "rules/python/r.yml") + ":4:")


def test_unknown_key_inside_the_rule_body_is_rejected(tmp_path: Path) -> None:
    err = load_error(tmp_path, "id: r\nlanguage: python\nrule: {patern: f()}\n")
    assert err.key == "rule" and "patern" in str(err)


def test_pattern_that_does_not_parse_is_rejected(tmp_path: Path) -> None:
    # ast-grep-py would silently match nothing for this pattern.
    err = load_error(tmp_path, "id: r\nlanguage: python\nrule: {pattern: 'foo(('}\n")
    assert err.key == "rule" and "does not parse" in str(err)


def test_nested_bad_pattern_is_found_too(tmp_path: Path) -> None:
    rule = "id: r\nlanguage: python\nrule:\n  pattern: f()\n  inside: {pattern: 'def ::'}\n"
    assert "does not parse" in str(load_error(tmp_path, rule))


def test_fix_variable_never_captured(tmp_path: Path) -> None:
    rule = "id: r\nlanguage: python\nrule: {pattern: f($A)}\nfix: g($B)\n"
    err = load_error(tmp_path, rule)
    assert err.key == "fix" and "$B" in str(err) and err.line == 4


def test_fix_may_use_variables_captured_in_relational_rules_and_transforms(
    tmp_path: Path,
) -> None:
    rule = (
        "id: r\nlanguage: python\nrule:\n  pattern: f($A)\n  inside: {pattern: 'def $F(): $$$'"
        ", stopBy: end}\ntransform:\n  U: {convert: {source: $A, toCase: upperCase}}\n"
        "fix: g($F, $U)\n"
    )
    (loaded,) = load_project(project(tmp_path, rule))
    assert loaded.fix is not None


def test_unknown_language_is_an_error_not_a_panic(tmp_path: Path) -> None:
    err = load_error(tmp_path, "id: r\nlanguage: klingon\nrule: {pattern: f()}\n")
    assert err.key == "language" and "klingon" in str(err)


@pytest.mark.parametrize("language", sorted(KNOWN_LANGUAGES))
def test_every_known_language_is_one_ast_grep_parses(language: str) -> None:
    assert SgRoot("", language).root().kind()


def test_unknown_severity(tmp_path: Path) -> None:
    err = load_error(tmp_path, "id: r\nlanguage: python\nseverity: fatal\nrule: {kind: call}\n")
    assert err.key == "severity" and err.line == 3


def test_missing_id(tmp_path: Path) -> None:
    assert load_error(tmp_path, "language: python\nrule: {kind: call}\n").key == "id"


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(YamlError) as err:
        load_project(project(tmp_path, "id: r\nlanguage: python\nrule: {pattern: [\n"))
    assert err.value.line is not None and "invalid YAML" in str(err.value)


def test_duplicate_rule_ids_across_documents(tmp_path: Path) -> None:
    rule = (
        "id: r\nlanguage: python\nrule: {kind: call}\n---\nid: r\nlanguage: python\n"
        "rule: {kind: call}\n"
    )
    err = load_error(tmp_path, rule)
    assert err.key == "id" and "duplicate" in str(err)


def test_bad_glob_in_files(tmp_path: Path) -> None:
    err = load_error(tmp_path, "id: r\nlanguage: python\nrule: {kind: call}\nfiles: ['[ab']\n")
    assert err.key == "files"


def test_global_util_is_merged_into_the_rule(tmp_path: Path) -> None:
    util = "id: is-get\nlanguage: python\nrule: {pattern: get($$$)}\n"
    rule = "id: r\nlanguage: python\nrule: {matches: is-get}\n"
    (loaded,) = load_project(project(tmp_path, rule, util))
    assert loaded.config["utils"] == {"is-get": {"pattern": "get($$$)"}}


def test_a_util_files_own_utils_are_reached_through_it(tmp_path: Path) -> None:
    util = (
        "id: in-get\nlanguage: python\nrule: {inside: {stopBy: end, matches: is-get}}\n"
        "utils:\n  is-get: {pattern: get($$$)}\n"
    )
    rule = "id: r\nlanguage: python\nrule: {kind: integer, matches: in-get}\n"
    (loaded,) = load_project(project(tmp_path, rule, util))
    assert loaded.config["utils"]["is-get"] == {"pattern": "get($$$)"}
    found = SgRoot("get(1)\nput(2)\n", "python").root().find_all(loaded.config)
    assert [n.text() for n in found] == ["1"]


def test_a_util_files_local_util_may_not_clash_with_the_rules(tmp_path: Path) -> None:
    util = (
        "id: in-get\nlanguage: python\nrule: {inside: {matches: helper}}\n"
        "utils:\n  helper: {pattern: get($$$)}\n"
    )
    rule = (
        "id: r\nlanguage: python\nrule: {all: [{matches: in-get}, {matches: helper}]}\n"
        "utils:\n  helper: {kind: integer}\n"
    )
    with pytest.raises(RuleError) as err:
        load_project(project(tmp_path, rule, util))
    assert err.value.key == "utils.helper" and str(err.value).startswith(
        str(tmp_path / "utils" / "u.yml")
    )


def test_a_message_gets_no_variable_that_only_a_global_util_captures(tmp_path: Path) -> None:
    # The ast-grep CLI renders `$FN` empty here; `$A` is the rule's own capture.
    util = "id: in-fn\nlanguage: python\nrule: {inside: {stopBy: end, has: {pattern: $FN}}}\n"
    rule = (
        "id: r\nlanguage: python\nmessage: '$A in [$FN]'\nrule: {pattern: g($A), matches: in-fn}\n"
    )
    (loaded,) = load_project(project(tmp_path, rule, util))
    assert loaded.message == "$A in []"
    fixed = rule + "fix: h($FN)\n"
    (tmp_path / "rules" / "python" / "r.yml").write_text(fixed)
    with pytest.raises(RuleError, match=r"a global util's captures do not count.*\$FN"):
        load_project(tmp_path / "sgconfig.yml")


def test_constraints_in_a_util_file_are_refused_not_ignored(tmp_path: Path) -> None:
    util = "id: u\nlanguage: python\nrule: {pattern: $A}\nconstraints:\n  A: {kind: integer}\n"
    rule = "id: r\nlanguage: python\nrule: {matches: u}\n"
    with pytest.raises(RuleError) as err:
        load_project(project(tmp_path, rule, util))
    assert err.value.key == "constraints" and err.value.line == 4
    assert "not supported in a util file" in str(err.value)


def test_reference_to_a_missing_util_is_rejected(tmp_path: Path) -> None:
    err = load_error(tmp_path, "id: r\nlanguage: python\nrule: {matches: nowhere}\n")
    assert err.key == "rule"


def test_unknown_sgconfig_key(tmp_path: Path) -> None:
    (tmp_path / "sgconfig.yml").write_text("ruleDir: [rules]\n")
    with pytest.raises(YamlError) as err:
        load_project(tmp_path / "sgconfig.yml")
    assert "ruleDir" in str(err.value) and err.value.line == 1


def test_files_and_ignores_use_cli_glob_semantics(tmp_path: Path) -> None:
    rule = (
        "id: r\nlanguage: python\nrule: {kind: call}\nfiles: ['tests/**/*.py']\n"
        "ignores: ['**/fixtures/**']\n"
    )
    (loaded,) = load_project(project(tmp_path, rule))
    assert loaded.applies_to("tests/unit/test_a.py")
    assert loaded.applies_to("./tests/test_a.py")
    assert not loaded.applies_to("nova/tests/test_a.py")  # globs anchor at the root
    assert not loaded.applies_to("tests/fixtures/glance.py")


def test_severity_off_is_the_string_off_as_in_yaml_1_2(tmp_path: Path) -> None:
    (rule,) = load_project(
        project(
            tmp_path, "id: r\nlanguage: python\nseverity: off\nrule: {kind: call}\nmessage: yes\n"
        )
    )
    assert rule.severity is Severity.off and rule.message == "yes"


def test_duplicate_key_is_rejected_with_its_line(tmp_path: Path) -> None:
    rule = "id: r\nlanguage: python\nrule:\n  kind: call\n  kind: string\n"
    with pytest.raises(YamlError) as err:
        load_project(project(tmp_path, rule))
    assert err.value.line == 5 and "duplicate key 'kind'" in str(err.value)


def test_requires_import_must_be_an_import_statement(tmp_path: Path) -> None:
    rule = (
        "id: r\nlanguage: python\nrule: {pattern: f($A)}\nfix: g($A)\n"
        "metadata:\n  requires-import: 'uuids = 1'\n"
    )
    err = load_error(tmp_path, rule)
    assert err.key == "metadata" and "not an import statement" in str(err)
