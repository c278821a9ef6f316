"""bot.fix_template against the truth: the ast-grep CLI's own `replacement` and `message`.

Each parity case writes a rule and a Python file, runs `ast-grep scan --json=stream`
on them, runs the same rule through ast-grep-py, and requires our rendering to give
exactly the CLI's replacement text, replaced range and message for every match.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from ast_grep_py import SgNode, SgRoot

from bot.core.fix_template import FixSpec, interpolate_message, render_fix
from bot.model import Edit


def _ast_grep() -> str:
    # The CLI installed next to this interpreter is the pinned one; PATH is a fallback.
    local = Path(sys.executable).parent / "ast-grep"
    if local.exists():
        return str(local)
    found = shutil.which("ast-grep")
    if found is None:
        pytest.fail("the ast-grep CLI is not installed (pip install -e '.[dev]')")
    return found


def _char_offset(data: bytes, byte_offset: int) -> int:
    """The CLI reports UTF-8 byte offsets; ours are character offsets."""
    return len(data[:byte_offset].decode("utf-8"))


def _cli_matches(tmp_path: Path, rule_yaml: str, source: str) -> list[dict[str, Any]]:
    rule_file = tmp_path / "rule.yml"
    rule_file.write_text(rule_yaml, encoding="utf-8")
    code_file = tmp_path / "code.py"
    # Bytes, so that CRLF and non-ASCII text reach the CLI unchanged.
    code_file.write_bytes(source.encode("utf-8"))
    proc = subprocess.run(
        [_ast_grep(), "scan", "--rule", str(rule_file), "--json=stream", str(code_file)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert not proc.stderr.strip(), proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _our_matches(config: dict[str, Any], source: str) -> list[SgNode]:
    sg_config: dict[str, Any] = {"rule": config["rule"]}
    for key in ("constraints", "transform", "utils"):
        if key in config:
            sg_config[key] = config[key]
    return SgRoot(source, config["language"]).root().find_all(sg_config)  # type: ignore[arg-type]


def _header(body: str) -> str:
    return "id: parity\nlanguage: python\nseverity: warning\n" + body


# The tree does not keep the whitespace before a file's first token, so on that line
# only interpolate_message(..., text=...) can know a tab, form feed or BOM from spaces.
_FIRST_LINE_RULE = """
rule: {pattern: foo($$$A)}
message: "m\\n  $$$A"
fix: "bar(\\n  $$$A)"
"""

# The cursed-but-real shapes: each one pins down one CLI behaviour named in its id.
_LONG_TEMPLATE_LINE = "z" * 520
PARITY_CASES: list[tuple[str, str, str]] = [
    (
        "single_line",
        """
rule: {pattern: print($A)}
message: Use logging instead of print($A)
fix: logger.info($A)
""",
        "print(1)\nif x:\n    print('a', end='')\n",
    ),
    (
        "multi_line_template_in_indented_block",
        """
rule: {pattern: assert $A == $B}
message: compare with assertEqual
fix: |-
  self.assertEqual(
      $A,
      $B,
  )
""",
        "class T:\n    def test(self):\n        if ok:\n            assert f(1) == 2\n",
    ),
    (
        "multi_line_captures_at_different_indents",
        """
rule: {pattern: call($$$ARGS)}
message: "args:\\n  $$$ARGS end"
fix: |-
  wrap(
      $$$ARGS,
  )  $$$ARGS
""",
        "class C:\n"
        "    def m(self):\n"
        "        x = call(a,\n"
        "          b)\n"
        "        if y:\n"
        "            z = call(\n"
        "                    deep,\n"
        "                more)\n"
        "  # under-indented comment\n",
    ),
    (
        "single_capture_spanning_lines",
        """
rule: {pattern: print($A)}
message: "found $A and $B here"
fix: |-
  log(
    $A
  )
""",
        "def f():\n    if x:\n        print(foo(1,\n                  2))\n    print('é')\n",
    ),
    (
        "malformed_capture_indent_is_stripped_only_where_present",
        """
rule: {pattern: keep($A)}
message: m
fix: |-
  out(
          $A)
""",
        "def f():\n        keep([\n    1,\n\n            2,\n  ])\n",
    ),
    (
        "multi_args_include_separators_and_empty_multi",
        """
rule: {pattern: old($$$ARGS)}
message: "old($$$ARGS) [$ARGS]"
fix: new($$$ARGS)
""",
        "old()\nold(1)\nold(1,   2 ,3)\nold(a, *b, c=1, **d)\nold(x,)\n",
    ),
    (
        "single_and_multi_readers_cross",
        """
rule: {pattern: "foo($A, $$$R)"}
message: "m $A|$$A|$_|$B|$$$R|$$$Z|$a|$ |$$|$$$|$$$$A|$A1|$1|$R|$$R|$$$A|$"
fix: "bar($A|$$A|$$$R|$a|$ |$$|$$$|$$$$A|$R|$$R|$$$A|$)"
""",
        "foo(1, 2,   3)\nfoo(x)\nfoo(y, )\n",
    ),
    (
        "expand_end_removes_trailing_comma",
        """
rule:
  kind: keyword_argument
  has: {field: name, regex: ^debug$}
message: drop debug=$$$X
fix:
  template: ''
  expandEnd: {regex: ','}
""",
        "run(a, debug=True, b=2)\nrun(debug=False)\nrun(\n    a,\n    debug=1,\n)\n",
    ),
    (
        "expand_start_removes_leading_comma",
        """
rule:
  kind: keyword_argument
  has: {field: name, regex: ^debug$}
message: m
fix:
  template: ''
  expandStart: {regex: ','}
""",
        "run(a, debug=True)\nrun(debug=False)\n",
    ),
    (
        "expand_stop_by_end_and_rule",
        """
rule: {pattern: b, kind: identifier}
message: m
fix:
  template: Z
  expandStart: {kind: integer, stopBy: end}
  expandEnd: {kind: identifier, stopBy: {regex: '^2$'}}
""",
        "foo(a, b, c)\nfoo(b , 2, c)\nx = [1, b, 2,\n     b,\n]\n",
    ),
    (
        "expand_rule_sees_the_match_captures",
        """
rule: {kind: identifier, pattern: $X, inside: {kind: argument_list}}
message: m
fix:
  template: Z
  expandEnd: {pattern: $X, stopBy: end}
  expandStart: {pattern: "$Y", stopBy: end}
""",
        "foo(a, b, a)\nbar(c, d(e), d(e))\n",
    ),
    (
        "expand_multi_line_template_uses_node_indent",
        """
rule: {pattern: value}
message: m
fix:
  template: |-
    first,
    second
  expandStart: {regex: ',', stopBy: end}
  expandEnd: {regex: ','}
""",
        "def f():\n    return g(\n        a, value,\n        b)\n",
    ),
    (
        "transforms_substring_replace_convert",
        """
rule: {all: [{pattern: "old_name($A, $B)"}, {pattern: $W}]}
transform:
  NEW: {substring: {source: $A, startChar: 0, endChar: 5}}
  REP: {replace: {source: $A, replace: _, by: '-'}}
  CAM: {convert: {source: $A, toCase: camelCase}}
  WHOLE: {replace: {source: $W, replace: old, by: new}}
message: "$NEW $REP $CAM $$NEW $$$NEW $WHOLE"
fix: |-
  $WHOLE
  x = [
      $WHOLE,
      $CAM, $REP, $NEW]
""",
        "def f():\n    if x:\n        old_name(alpha_beta,\n                 gamma)\n",
    ),
    (
        "message_multi_line_is_indented",
        """
rule: {pattern: print($$$A)}
message: |-
  line one $$$A
    line two
  $UNSET$$$A
fix: pass
""",
        "def f():\n    print(1,\n          2)\n",
    ),
    (
        "tabs_are_not_indentation",
        """
rule: {pattern: call($$$ARGS)}
message: "m:\\n  $$$ARGS"
fix: |-
  wrap(
      $$$ARGS,
  )
""",
        "if x:\n\tw = call(t,\n\t\t u)\nif y:\n  \tv = call(s,\n  \t   r)\n",
    ),
    (
        "crlf_keeps_captured_cr_and_template_lf",
        """
rule: {pattern: call($$$ARGS)}
message: "m:\\n  $$$ARGS"
fix: |-
  wrap(
      $$$ARGS,
  )
""",
        "class C:\r\n    def m(self):\r\n        x = call(a,\r\n          b)\r\n",
    ),
    (
        "non_ascii_offsets",
        """
rule: {pattern: f($A)}
message: "über $A"
fix: |-
  g(
    $A)
""",
        "s = 'ünïcödé'; f('日本')\nif x:\n    t = '😀'; f(\n        'é')\n",
    ),
    (
        "look_back_window_511_bytes_on_a_later_line",
        """
rule: {pattern: foo($A)}
message: m
fix: |-
  bar(
    $A)
""",
        # 13 + 2*249 = 511 bytes from the line start to foo: the line start is in reach.
        "if x:\n    v = '" + "é" * 249 + "' + foo(y)\n",
    ),
    (
        "look_back_window_512_bytes_on_a_later_line",
        """
rule: {pattern: foo($A)}
message: m
fix: |-
  bar(
    $A)
""",
        # One byte more and the CLI no longer finds the line start: indent 0.
        "if x:\n    v = 'a" + "é" * 249 + "' + foo(y)\n",
    ),
    (
        "look_back_window_512_bytes_on_the_first_line",
        """
rule: {pattern: foo($A)}
message: m
fix: |-
  bar(
    $A)
""",
        # The first line has no newline to find; 512 bytes are still in reach there.
        "  v = 'a" + "é" * 250 + "' + foo(y)\n  w = 'ab" + "é" * 250 + "' + foo(z)\n",
    ),
    (
        "look_back_window_in_the_template",
        f"""
rule: {{pattern: keep($A)}}
message: m
fix: "  {_LONG_TEMPLATE_LINE}($A)\\n  $A"
""",
        "def f():\n    keep([\n        1,\n    ])\n",
    ),
    (
        "template_indent_counts_the_whole_template",
        """
rule: {pattern: "pair($A, $B)"}
message: m
fix: "  $A $B"
""",
        "def f():\n    pair([\n        1], [\n        2])\n",
    ),
    (
        "node_after_code_on_its_line_and_blank_lines",
        """
rule: {pattern: old($$$A)}
message: m
fix: |-
  new(

      $$$A
  )
""",
        "def f():\n    x = y = old(\n\n        1,\n        2)\n",
    ),
    (
        "decorated_function_multi_line_template",
        """
rule:
  pattern: |-
    def $F($$$P):
        $$$BODY
message: function $F
fix: |-
  @traced
  def $F($$$P):
      $$$BODY
""",
        "class K:\n    def run(self, a,\n            b):\n"
        "        x = 1\n        if x:\n            y = 2\n",
    ),
    # Rebuilding the text from the tree is exact when spaces precede the first token.
    ("spaces_before_first_token", _FIRST_LINE_RULE, "\r\n  \r\n    foo(a,\n      b)\n"),
]


# Exact only with text= (see _FIRST_LINE_RULE): the CLI counts no indent after these.
TEXT_ONLY_CASES: list[tuple[str, str, str]] = [
    ("byte_order_mark_is_not_indentation", _FIRST_LINE_RULE, "\ufeff  foo(a,\n      b)\n"),
    ("tab_before_first_token", _FIRST_LINE_RULE, "\n\n\tfoo(a,\n      b)\n"),
    ("form_feed_before_first_token", _FIRST_LINE_RULE, "\x0c  foo(a,\n      b)\n"),
]


def _assert_parity(tmp_path: Path, rule_body: str, source: str, *, rebuilt_text: bool) -> None:
    rule_yaml = _header(rule_body)
    config = yaml.safe_load(rule_yaml)
    spec = FixSpec.parse(config["fix"])
    transformed = set(config.get("transform", {}))
    cli = _cli_matches(tmp_path, rule_yaml, source)
    assert cli, "the case must produce at least one CLI match to compare with"
    ours = {(n.range().start.index, n.range().end.index): n for n in _our_matches(config, source)}
    data = source.encode("utf-8")
    assert len(ours) == len(cli)
    for match in cli:
        byte_span = match["range"]["byteOffset"]
        span = (_char_offset(data, byte_span["start"]), _char_offset(data, byte_span["end"]))
        node = ours[span]
        offsets = match["replacementOffsets"]
        expected = Edit(
            _char_offset(data, offsets["start"]),
            _char_offset(data, offsets["end"]),
            match["replacement"],
        )
        assert render_fix(node, spec, source, transformed) == expected
        message = config["message"]
        assert interpolate_message(message, node, transformed, text=source) == match["message"]
        if rebuilt_text:
            assert interpolate_message(message, node, transformed) == match["message"]


@pytest.mark.parametrize(
    ("rule_body", "source"),
    [pytest.param(body, src, id=case_id) for case_id, body, src in PARITY_CASES],
)
def test_parity_with_cli(tmp_path: Path, rule_body: str, source: str) -> None:
    _assert_parity(tmp_path, rule_body, source, rebuilt_text=True)


@pytest.mark.parametrize(
    ("rule_body", "source"),
    [pytest.param(body, src, id=case_id) for case_id, body, src in TEXT_ONLY_CASES],
)
def test_parity_with_cli_given_the_text(tmp_path: Path, rule_body: str, source: str) -> None:
    _assert_parity(tmp_path, rule_body, source, rebuilt_text=False)


# --- FixSpec ---------------------------------------------------------------------------


def test_parse_string_form() -> None:
    spec = FixSpec.parse("new($$$ARGS)")
    assert spec == FixSpec("new($$$ARGS)")
    assert spec.expand_start is None and spec.expand_end is None


def test_parse_object_form() -> None:
    spec = FixSpec.parse(
        {"template": "", "expandEnd": {"regex": ","}, "expandStart": {"kind": "x", "stopBy": "end"}}
    )
    assert spec.template == ""
    assert spec.expand_end == {"regex": ","}
    assert spec.expand_start == {"kind": "x", "stopBy": "end"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"template": "x", "expandEnds": {"regex": ","}}, "'expandEnds'"),
        ({"template": "x", "expand_end": {"regex": ","}}, "'expand_end'"),
        ({"expandEnd": {"regex": ","}}, "'template'"),
        ({"template": 3}, "fix.template must be a string"),
        ({"template": "x", "expandEnd": ","}, "fix.expandEnd must be a rule object"),
        ({"template": "x", "expandStart": {"stopBy": "end"}}, "fix.expandStart has no rule"),
        ({"template": "x", "expandEnd": {"regex": ",", "stopBy": "far"}}, "stopBy"),
        ({"template": "x", "expandEnd": {"regexp": ","}}, "'regexp' in fix.expandEnd"),
        (None, "fix must be a string or an object"),
        (["x"], "fix must be a string or an object"),
    ],
)
def test_parse_errors(raw: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FixSpec.parse(raw)


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ("plain text", set()),
        ("$A", {"A"}),
        ("f($A, $$B, $$$ARGS)", {"A", "B", "ARGS"}),
        # The CLI counts `$_` and digit names as variables (and rejects them as undefined).
        ("$_ $A1 $1", {"_", "A1", "1"}),
        # Lowercase, a bare `$` and a `$` run without a name are literal text.
        ("$a $ $$ $$$ cost: 5$", set()),
        # `$$$$A` is a literal `$` followed by `$$$A`.
        ("$$$$A", {"A"}),
        ("$A$B", {"A", "B"}),
    ],
)
def test_variables(template: str, names: set[str]) -> None:
    assert FixSpec(template).variables() == names


def test_spec_compares_by_fields_not_by_compiled_template() -> None:
    assert FixSpec.parse("$A") == FixSpec("$A")
    assert FixSpec("$A") != FixSpec("$B")
    assert FixSpec("x", expand_end={"regex": ","}) != FixSpec("x")


def test_render_rejects_text_the_node_was_not_parsed_from() -> None:
    source = "print(1)\n"
    node = SgRoot(source, "python").root().find(pattern="print($A)")
    assert node is not None
    with pytest.raises(ValueError, match="not the text"):
        render_fix(node, FixSpec("x"), "# shifted\n" + source)
