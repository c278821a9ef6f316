"""Region matching (bot/core/matching.py) equals a full scan filtered to the regions.

`match_rules` searches only the subtrees a hunk covers plus the nodes straddling a
region boundary. The claim: for any regions, it returns exactly what matching the
whole file returns, restricted to nodes whose line span overlaps a region. The
rules below lean on what could break that claim: ancestors (`inside`), whole
subtrees (`has` with `stopBy: end`), siblings (`follows`/`precedes`), captures
shared between relations, constraints, global/local/recursive utils, and match
nodes that enclose whole functions, classes or the module.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence

import pytest
from ast_grep_py import SgNode, SgRoot

from bot.core.analyze import Analyzer, RuleMatcher
from bot.core.compiled import CompiledRule
from bot.core.matching import Region, match_rules, regions_from_lines
from bot.model import ChangedFile, FileStatus, FilterMode, SourceFile
from bot.rules.load import load_project

SEED = 7321

UTIL = """\
id: test-function
language: python
rule:
  kind: function_definition
  has: {field: name, regex: '^test_'}
"""

RULES = """\
id: print-in-test
language: python
severity: warning
message: print($$$ARGS)
rule:
  pattern: print($$$ARGS)
  inside: {matches: test-function, stopBy: end}
---
id: test-without-assert
language: python
severity: hint
message: $NAME asserts nothing
utils:
  asserts:
    any:
      - kind: assert_statement
      - {kind: call, has: {field: function, regex: '^self\\.assert'}}
rule:
  all:
    - matches: test-function
    - has: {field: name, pattern: $NAME}
    - not: {has: {matches: asserts, stopBy: end}}
---
id: class-with-sleep
language: python
severity: error
message: class $C sleeps
rule:
  kind: class_definition
  has: {field: name, pattern: $C}
  all:
    - has:
        kind: call
        has: {field: function, regex: '^time\\.sleep$'}
        stopBy: end
---
id: decorated-test
language: python
severity: info
message: marked test
rule:
  kind: decorated_definition
  has:
    kind: decorator
    regex: pytest\\.mark
  all:
    - has: {field: definition, matches: test-function}
---
id: setup-after-assert
language: python
severity: info
message: setup after assert
rule:
  kind: expression_statement
  has: {kind: assignment}
  follows: {kind: assert_statement, stopBy: end}
---
id: assign-then-return
language: python
severity: warning
message: return $V directly
rule:
  kind: expression_statement
  has:
    kind: assignment
    has: {field: left, pattern: $V}
  precedes: {pattern: return $V}
---
id: env-var
language: python
severity: error
message: env $KEY
rule:
  pattern: os.environ[$KEY]
constraints:
  KEY: {regex: '^"TEST_'}
---
id: multi-line-string
language: python
severity: hint
message: long string
rule:
  kind: string
  regex: '\\n'
---
id: call-in-multiline-call
language: python
severity: hint
message: $F inside a multi-line call
rule:
  kind: call
  has: {field: function, pattern: $F}
  inside:
    kind: call
    regex: '\\n'
    stopBy: end
---
id: keyword-in-multiline-call
language: python
severity: hint
message: keyword $K
rule:
  kind: keyword_argument
  has: {field: name, pattern: $K}
  inside:
    kind: argument_list
    regex: '\\n'
---
id: module-imports-time
language: python
severity: info
message: module imports time
rule:
  kind: module
  has: {kind: import_statement, regex: '^import time$'}
---
id: self-attribute-chain
language: python
severity: hint
message: attribute chain $A
utils:
  # Recursive: the pre-check in bot/core/matching.py cannot inline it.
  chain:
    any:
      - {kind: identifier, regex: '^self$'}
      - {kind: attribute, has: {field: object, matches: chain}}
rule:
  kind: attribute
  pattern: $A
  has: {field: object, matches: chain}
  not: {inside: {kind: attribute, field: object}}
"""


# --- a generated test file of a few hundred lines ------------------------------------


def _statements(rng: random.Random, n: int) -> list[str]:
    options: list[list[str]] = [
        [f"value_{n} = compute({n})"],
        [f"assert value == {n}"],
        [f'print("é{n}", value)'],
        ["print(", f'    "日本 {n}",', "    value,", ")"],
        ["time.sleep(0.1)"],
        [f'token = os.environ["TEST_TOKEN_{n}"]'],
        ['home = os.environ["HOME"]'],
        [
            "response = client.post(",
            f'    "/items/{n}",',
            "    json=build(",
            f"        name=str({n}),",
            "        tags=[],",
            "    ),",
            "    timeout=5,",
            ")",
        ],
        [f"self.assertEqual(self.client.session.get({n}), {n})"],
        ['text = """', "first line", f"    print({n}) inside a string", "last line", '"""'],
        [f"result = helper({n})", "return result"],
    ]
    return rng.choice(options)


def _body(rng: random.Random, indent: str, n: int) -> list[str]:
    lines: list[str] = []
    for i in range(rng.randint(2, 6)):
        stmts = _statements(rng, n * 10 + i)
        lines += [indent + s for s in stmts]
        if stmts[-1].startswith("return"):
            break
    return lines


def generate_source(seed: int = SEED) -> str:
    rng = random.Random(seed)
    lines = ['"""Generated module: naïve 日本."""', "import os", "import time", "", "import pytest"]
    n = 0
    while len(lines) < 320:
        n += 1
        lines.append("")
        kind = rng.random()
        if kind < 0.45:
            if rng.random() < 0.3:
                lines.append("@pytest.mark.slow")
            lines.append(f"def test_case_{n}(client):")
            lines += _body(rng, "    ", n)
        elif kind < 0.6:
            lines.append(f"def helper_{n}(value):")
            lines += _body(rng, "    ", n)
        else:
            lines.append(f"class TestGroup{n}:")
            lines.append(f'    """Group {n}."""')
            for m in range(rng.randint(1, 3)):
                lines.append("")
                lines.append(f"    def test_method_{n}_{m}(self):")
                lines += _body(rng, "        ", n * 10 + m)
    return "\n".join(lines) + "\n"


# --- helpers -----------------------------------------------------------------------------

Match = tuple[str, int, int]  # rule id, start and end character index


def _line_span(node: SgNode) -> tuple[int, int]:
    """0-based first and last line a node has a character on (an end at column 0 of
    a later line means the node stops with the line break before it)."""
    rng = node.range()
    last = rng.end.line
    if rng.end.column == 0 and last > rng.start.line:
        last -= 1
    return rng.start.line, last


def _key(rule_id: str, node: SgNode) -> Match:
    rng = node.range()
    return rule_id, rng.start.index, rng.end.index


def _expected(full: Sequence[tuple[RuleMatcher, SgNode]], regions: Sequence[Region]) -> set[Match]:
    keep = set()
    for m, node in full:
        first, last = _line_span(node)
        if any(not (last < lo or first > hi) for lo, hi in regions):
            keep.add(_key(m.rule.id, node))
    return keep


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> list[CompiledRule]:
    # Through the real loader, so global utils are merged as in production.
    root = tmp_path_factory.mktemp("matching")
    (root / "rules").mkdir()
    (root / "utils").mkdir()
    (root / "rules" / "rules.yml").write_text(RULES, encoding="utf-8")
    (root / "utils" / "test-function.yml").write_text(UTIL, encoding="utf-8")
    (root / "sgconfig.yml").write_text("ruleDirs: [rules]\nutilDirs: [utils]\n", encoding="utf-8")
    return load_project(root / "sgconfig.yml")


@pytest.fixture(scope="module")
def source() -> str:
    return generate_source()


@pytest.fixture(scope="module")
def root(source: str) -> SgNode:
    return SgRoot(source, "python").root()


@pytest.fixture(scope="module")
def matchers(rules: list[CompiledRule]) -> list[RuleMatcher]:
    return [RuleMatcher(r) for r in rules]


@pytest.fixture(scope="module")
def full(root: SgNode, matchers: list[RuleMatcher]) -> list[tuple[RuleMatcher, SgNode]]:
    return match_rules(root, matchers, None)


def _line_of(source: str, needle: str, start: int = 0) -> int:
    """0-based line of the first occurrence of ``needle``."""
    offset = source.index(needle, start)
    return source.count("\n", 0, offset)


def _edge_regions(source: str) -> dict[str, list[Region]]:
    last = source.count("\n") - 1  # the text ends with a line break
    string_start = _line_of(source, 'text = """')
    call_start = _line_of(source, "response = client.post(")
    return {
        "first line": [(0, 0)],
        "last line": [(last, last)],
        "past the end": [(last + 1, last + 5)],
        "inside a long string": [(string_start + 2, string_start + 2)],
        "string's first line": [(string_start, string_start)],
        "one line of a multi-line call": [(call_start + 3, call_start + 3)],
        "nested call's closing line": [(call_start + 5, call_start + 5)],
        "whole file": [(0, last)],
        "two far apart lines": [(1, 1), (last - 1, last - 1)],
        "empty": [],
    }


def _random_regions(source: str, count: int) -> Iterable[list[Region]]:
    rng = random.Random(SEED)
    lines = source.count("\n")
    for i in range(count):
        if i % 2:
            chosen = rng.sample(range(1, lines + 1), rng.randint(1, 12))
        else:  # hunk-like runs
            chosen = []
            for _ in range(rng.randint(1, 3)):
                start = rng.randint(1, lines)
                chosen += range(start, min(lines, start + rng.randint(0, 15)) + 1)
        yield regions_from_lines(chosen)


def _check(
    root: SgNode,
    matchers: Sequence[RuleMatcher],
    full: Sequence[tuple[RuleMatcher, SgNode]],
    regions: list[Region],
) -> set[Match]:
    found = match_rules(root, matchers, regions)
    keys = [_key(m.rule.id, n) for m, n in found]
    assert len(keys) == len(set(keys)), f"duplicates for {regions}"
    expected = _expected(full, regions)
    got = set(keys)
    assert got == expected, (
        f"regions {regions}: missing {sorted(expected - got)}, extra {sorted(got - expected)}"
    )
    return expected


# --- the tests ---------------------------------------------------------------------------


def test_generated_source_is_what_the_edge_cases_need(
    source: str, full: list[tuple[RuleMatcher, SgNode]], rules: list[CompiledRule]
) -> None:
    # Without these the edge cases below would test nothing.
    assert 300 <= source.count("\n") <= 400
    assert source == generate_source()  # deterministic
    by_rule = {m.rule.id for m, _ in full}
    assert by_rule == {r.id for r in rules}, {r.id for r in rules} - by_rule


@pytest.mark.parametrize("case", list(_edge_regions(generate_source())))
def test_edge_regions_equal_filtered_full_scan(
    case: str,
    source: str,
    root: SgNode,
    matchers: list[RuleMatcher],
    full: list[tuple[RuleMatcher, SgNode]],
) -> None:
    regions = _edge_regions(source)[case]
    expected = _check(root, matchers, full, regions)
    if case == "empty":
        assert expected == set()
    elif case == "past the end":
        # Only the module (whose last line is the last text line) cannot reach here.
        assert expected == set()
    elif case == "whole file":
        assert expected == {_key(m.rule.id, n) for m, n in full}
    else:
        assert expected, "an edge case that expects nothing proves nothing"


def test_random_regions_equal_filtered_full_scan(
    source: str,
    root: SgNode,
    matchers: list[RuleMatcher],
    full: list[tuple[RuleMatcher, SgNode]],
) -> None:
    straddled: set[str] = set()
    seen: set[str] = set()
    for regions in _random_regions(source, 150):
        expected = _check(root, matchers, full, regions)
        seen |= {rule_id for rule_id, _, _ in expected}
        for m, node in full:
            first, last = _line_span(node)
            overlapping = [r for r in regions if not (last < r[0] or first > r[1])]
            if overlapping and not any(lo <= first and last <= hi for lo, hi in overlapping):
                straddled.add(m.rule.id)  # found only through the straddling-node path
    assert seen == {m.rule.id for m in matchers}
    # The enclosing-node rules must have been found through a straddling node.
    assert {"test-without-assert", "class-with-sleep", "module-imports-time"} <= straddled
    assert {"decorated-test", "multi-line-string", "call-in-multiline-call"} <= straddled
    assert "setup-after-assert" in straddled  # a multi-line assignment with a sibling relation


def test_findings_through_regions_equal_the_full_file_filtered(
    source: str, rules: list[CompiledRule]
) -> None:
    """The same at the Analyzer level, captures included: a straddling match is
    re-found with an anchored search, whose messages and fixes must not differ."""
    analyzer = Analyzer(rules)
    path = "tests/test_generated.py"
    whole = analyzer.analyze(
        SourceFile(ChangedFile(path, FileStatus.added, whole_file=True), source), FilterMode.added
    )
    rng = random.Random(SEED + 1)
    lines = source.count("\n")
    compared = 0
    for _ in range(40):
        start = rng.randint(1, lines)
        added = frozenset(range(start, min(lines, start + rng.randint(0, 6)) + 1))
        change = ChangedFile(path, FileStatus.modified, added_lines=added)
        got = analyzer.analyze(SourceFile(change, source), FilterMode.added)
        expected = [f for f in whole if not added.isdisjoint(f.span.lines)]
        assert got == expected
        compared += len(expected)
    assert compared >= 100


@pytest.mark.parametrize(
    ("lines", "regions"),
    [
        ([], []),
        ([1], [(0, 0)]),
        ([3, 1, 2], [(0, 2)]),
        ([1, 2, 4], [(0, 1), (3, 3)]),
        ([10, 10, 11, 5], [(4, 4), (9, 10)]),
        (range(1, 101), [(0, 99)]),
        ([7, 9, 8, 20, 2], [(1, 1), (6, 8), (19, 19)]),
        (iter([5, 6]), [(4, 5)]),
    ],
)
def test_regions_from_lines(lines: Iterable[int], regions: list[Region]) -> None:
    # 1-based line numbers in any order, duplicates allowed -> sorted 0-based runs.
    assert regions_from_lines(lines) == regions


def test_regions_from_lines_merges_random_sets_exactly() -> None:
    rng = random.Random(SEED)
    for _ in range(200):
        lines = {rng.randint(1, 60) for _ in range(rng.randint(0, 30))}
        regions = regions_from_lines(lines)
        covered = {line + 1 for lo, hi in regions for line in range(lo, hi + 1)}
        assert covered == lines
        # Maximal runs: sorted, and separated by at least one line not in the set.
        assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(regions))
