"""`rewriters` and `rewrite` transforms: our computation equals the ast-grep CLI's.

ast-grep-py ignores both, so review-bot computes them (bot/core/rewrite.py). Each case
runs the real CLI and our engine on the same rule and file and compares every
replacement and message.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.core.analyze import Analyzer
from bot.model import ChangedFile, FileStatus, FilterMode, SourceFile
from bot.rules.load import RuleError, compile_rule
from tests.integration.test_fix_template import _char_offset, _cli_matches

HEAD = "id: rw\nlanguage: python\nseverity: warning\n"

CASES = {
    "multi-line rewriter fix in a nested block": (
        """\
rule: {pattern: "x = $A", inside: {kind: function_definition, stopBy: end}}
rewriters:
  - id: rw
    rule: {pattern: "g($B)"}
    fix: |-
      h($B)
      k($B)
transform:
  F: {rewrite: {source: $A, rewriters: [rw]}}
fix: |-
  y = $F
  z = 1
message: "rewritten to $F"
""",
        "def f():\n    if 1:\n        x = g(1)\n",
    ),
    "joinBy with captures on deeper lines": (
        """\
rule: {pattern: "x = $A", inside: {kind: function_definition, stopBy: end}}
rewriters:
  - id: rw
    rule: {pattern: "g($B)"}
    fix: |-
      h(
          $B)
transform:
  F: {rewrite: {source: $A, rewriters: [rw], joinBy: " + "}}
fix: "y = [$F]"
""",
        "def f():\n    if 1:\n        x = [g([1,\n              2]), g(3)]\n",
    ),
    "first listed rewriter wins, outer match wins over inner": (
        """\
rule: {pattern: "call($$$ARGS)"}
rewriters:
  - id: two
    rule: {regex: "^2$", kind: integer}
    fix: "TWO"
  - id: num
    rule: {kind: integer}
    fix: "N"
  - id: lst
    rule: {kind: list}
    fix: "L"
transform:
  F: {rewrite: {source: $$$ARGS, rewriters: [two, lst, num]}}
fix: "done($F)"
""",
        "call(1, 2, [3, 4], 5)\n",
    ),
    "recursive rewriter": (
        """\
rule: {pattern: "flat($A)"}
rewriters:
  - id: unwrap
    rule: {pattern: "[$$$C]"}
    transform:
      D: {rewrite: {source: $$$C, rewriters: [unwrap]}}
    fix: $D
transform:
  F: {rewrite: {source: $A, rewriters: [unwrap]}}
fix: "flat_done($F)"
""",
        "flat([1, [2, [3, [4]]]])\n",
    ),
    "rewriter reads and is bound by the enclosing captures": (
        """\
rule: {pattern: "pair($A, $C)"}
rewriters:
  - id: same
    rule: {pattern: $C}
    fix: "SAME"
  - id: use
    rule: {kind: identifier}
    fix: "got_$C"
transform:
  F: {rewrite: {source: $A, rewriters: [same, use]}}
fix: "pair($F)"
""",
        "pair(x, x)\npair(y, z)\n",
    ),
}


def ours(rule_yaml: str, source: str) -> list[tuple[int, int, str, str]]:
    rule = compile_rule(yaml.safe_load(rule_yaml), Path("rw.yml"), "t", {})
    change = ChangedFile("code.py", FileStatus.added, whole_file=True)
    found = Analyzer([rule]).analyze(SourceFile(change, source), FilterMode.nofilter)
    out = []
    for f in found:
        assert f.fix is not None
        (edit,) = (e.edit for e in f.fix.edits)
        out.append((edit.start, edit.end, edit.replacement, f.message))
    return sorted(out)


@pytest.mark.parametrize("body,source", CASES.values(), ids=list(CASES))
def test_rewrite_equals_the_cli(tmp_path: Path, body: str, source: str) -> None:
    rule_yaml = HEAD + body
    data = source.encode()
    cli = sorted(
        (
            _char_offset(data, m["replacementOffsets"]["start"]),
            _char_offset(data, m["replacementOffsets"]["end"]),
            m["replacement"],
            m["message"],
        )
        for m in _cli_matches(tmp_path, rule_yaml, source)
    )
    assert cli, "the CLI found nothing: the case tests nothing"
    assert ours(rule_yaml, source) == cli


def test_unknown_rewriter_is_a_load_error() -> None:
    rule = (
        HEAD
        + "rule: {pattern: f($A)}\ntransform:\n  F: {rewrite: {source: $A, rewriters: [nope]}}\n"
    )
    with pytest.raises(RuleError) as err:
        compile_rule(yaml.safe_load(rule), Path("rw.yml"), "t", {})
    assert err.value.key == "transform" and "nope" in str(err.value)


def test_rewriter_without_fix_is_a_load_error() -> None:
    rule = HEAD + "rule: {pattern: f($A)}\nrewriters:\n  - {id: r, rule: {kind: integer}}\n"
    with pytest.raises(RuleError) as err:
        compile_rule(yaml.safe_load(rule), Path("rw.yml"), "t", {})
    assert err.value.key == "rewriters" and "fix" in str(err.value)


def test_rewriter_fix_reading_an_undefined_variable_is_rejected_as_by_the_cli() -> None:
    rule = HEAD + (
        "rule: {pattern: f($A)}\nrewriters:\n  - {id: r, rule: {kind: integer}, fix: $NONE}\n"
    )
    with pytest.raises(RuleError) as err:
        compile_rule(yaml.safe_load(rule), Path("rw.yml"), "t", {})
    assert err.value.key == "rewriters" and "$NONE" in str(err.value)
