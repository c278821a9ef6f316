"""copies-in-file: a match's copies counted in one walk of the file."""

from __future__ import annotations

import copy
import dataclasses
import random
from collections import Counter
from pathlib import Path

import pytest
from ast_grep_py import SgRoot

from bot.core.copies import COPIES_IN_FILE, FileCopies, keeps
from bot.rules.load import RuleError, load_project

SOURCE = """\
A = 'x'


def test_a():
    use('x', 'y', "x")
    use('z')
"""


def strings(source: str) -> tuple[list, FileCopies]:  # type: ignore[type-arg]
    root = SgRoot(source, "python").root()
    return root.find_all(kind="string"), FileCopies(root)


def test_copies_are_same_kind_same_text_in_file_order() -> None:
    nodes, copies = strings(SOURCE)
    texts = [n.text() for n in nodes]
    assert texts == ["'x'", "'x'", "'y'", '"x"', "'z'"]
    first, second = nodes[0], nodes[1]
    assert copies.starts(second) == [first.range().start.index, second.range().start.index]
    # Another quote style is another literal, as ast-grep compares a bound metavariable.
    assert len(copies.starts(nodes[3])) == 1


def test_one_keeps_only_a_literal_without_copies() -> None:
    nodes, copies = strings(SOURCE)
    assert [keeps("one", n, copies) for n in nodes] == [False, False, True, True, True]


def test_first_of_many_keeps_only_the_first_copy() -> None:
    nodes, copies = strings(SOURCE)
    assert [keeps("first-of-many", n, copies) for n in nodes] == [True, False, False, False, False]


def test_an_unknown_mode_is_an_error_not_a_silent_keep() -> None:
    nodes, copies = strings(SOURCE)
    with pytest.raises(ValueError, match="unknown mode 'twice'"):
        keeps("twice", nodes[0], copies)


def test_the_loader_refuses_an_unknown_mode_with_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yml").write_text(
        "id: r\nlanguage: python\nmetadata:\n  copies-in-file: twice\nrule: {kind: string}\n"
    )
    (tmp_path / "sgconfig.yml").write_text("ruleDirs: [rules]\n")
    with pytest.raises(RuleError) as err:
        load_project(tmp_path / "sgconfig.yml")
    assert err.value.key == "metadata" and err.value.line == 3
    assert "copies-in-file: must be one of one, first-of-many" in str(err.value)


def test_the_analyzer_applies_it_through_the_rule(tmp_path: Path) -> None:
    from bot.core.analyze import Analyzer
    from bot.model import ChangedFile, FileStatus, FilterMode, SourceFile

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yml").write_text(
        "id: r\nlanguage: python\nmetadata:\n  copies-in-file: first-of-many\n"
        "rule: {kind: string, inside: {stopBy: end, kind: function_definition}}\n"
    )
    (tmp_path / "sgconfig.yml").write_text("ruleDirs: [rules]\n")
    analyzer = Analyzer(load_project(tmp_path / "sgconfig.yml"))
    change = ChangedFile("tests/test_a.py", FileStatus.added, whole_file=True)
    found = analyzer.analyze(SourceFile(change, SOURCE), FilterMode.added)
    # The first 'x' is at module level, which the rule does not match: no finding, not
    # a report of the second copy.
    assert found == []
    twice = SOURCE.replace("A = 'x'", "A = 'w'").replace("use('z')", "use('x')")
    (finding,) = analyzer.analyze(SourceFile(change, twice), FilterMode.added)
    assert (finding.span.start.line, finding.matched) == (5, "'x'")


# --- the shipped UUID rules give what their former whole-module YAML gave ---------------

# The clauses that the three rules used to say in YAML, walking the module once per
# literal; kept here as the reference the extension must reproduce.
_COPY = {"any": [{"pattern": "$LIT"}, {"has": {"stopBy": "end", "pattern": "$LIT"}}]}
_TWICE = {
    "inside": {
        "stopBy": "end",
        "kind": "module",
        "has": {"stopBy": "end", **_COPY, "precedes": {"stopBy": "end", **_COPY}},
    }
}
_FORMER = {
    "hardcoded-uuid": [{"pattern": "$LIT"}, {"not": _TWICE}],
    "hardcoded-uuid-constant": [{"pattern": "$LIT"}, {"not": _TWICE}],
    "hardcoded-uuid-repeated": [
        {"pattern": "$LIT"},
        _TWICE,
        {
            "not": {
                "any": [
                    {"follows": {"stopBy": "end", **_COPY}},
                    {"inside": {"stopBy": "end", "follows": {"stopBy": "end", **_COPY}}},
                ]
            }
        },
    ],
}
_LITERALS = [
    "'0f9a2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b'",
    '"0f9a2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"',
    "'1a3b5c7d-9e0f-4a1b-8c2d-3e4f5a6b7c8d'",
    "'2b4c6d8e-0f1a-4b2c-9d3e-4f5a6b7c8d9e'",
    "'3d5e7f90-1a2b-4c3d-9e8f-7a6b5c4d3e2f'",
]


def _random_module(rng: random.Random) -> str:
    lit = lambda: rng.choice(_LITERALS)  # noqa: E731
    lines = ["from oslo_utils.fixture import uuidsentinel as uuids", ""]
    for i in range(rng.randint(0, 2)):
        lines.append(f"CONST_{i}_UUID = {lit()}")
    lines += ["", "", "class TestA(test.TestCase):"]
    if rng.random() < 0.5:
        lines.append(f"    group_uuid = {lit()}")
    for m in range(rng.randint(1, 4)):
        lines.append(f"    def test_{m}(self):")
        for _ in range(rng.randint(1, 4)):
            lines.append(
                "        "
                + rng.choice(
                    [
                        f"server_id = {lit()}",
                        f"self.port_id = {lit()}",
                        f"make(volume_id={lit()})",
                        f"body = {{'imageRef': {lit()}}}",
                        f"self.assertEqual({lit()}, got)",
                        f"use([{lit()}, {lit()}])",
                    ]
                )
            )
    return "\n".join(lines) + "\n"


def test_the_uuid_rules_equal_their_former_whole_module_yaml() -> None:
    from bot.core.analyze import Analyzer
    from bot.model import ChangedFile, FileStatus, FilterMode, SourceFile

    sgconfig = Path(__file__).resolve().parents[2] / "sgconfig.yml"
    shipped = [r for r in load_project(sgconfig) if r.id in _FORMER]
    former = []
    for rule in shipped:
        config = copy.deepcopy(rule.config)
        config["rule"]["all"] = [*_FORMER[rule.id], *config["rule"]["all"]]
        metadata = {k: v for k, v in rule.metadata.items() if k != COPIES_IN_FILE}
        former.append(dataclasses.replace(rule, config=config, metadata=metadata))
    ours, theirs = Analyzer(shipped), Analyzer(former)
    rng = random.Random(20261202)
    change = ChangedFile("nova/tests/unit/test_a.py", FileStatus.added, whole_file=True)
    seen: Counter[str] = Counter()
    for _ in range(150):
        source = SourceFile(change, _random_module(rng))
        got = [(f.rule_id, f.span, f.message) for f in ours.analyze(source, FilterMode.added)]
        want = [(f.rule_id, f.span, f.message) for f in theirs.analyze(source, FilterMode.added)]
        assert got == want, source.text
        seen.update(rule_id for rule_id, _, _ in got)
    # Not vacuous: every rule fired, and the repeated literals were there to count.
    assert min(seen[r] for r in _FORMER) >= 20, seen
