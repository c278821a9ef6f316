"""`review-bot check` against the truth: `ast-grep scan --json=stream` on one generated project.

The issue's acceptance test: with no --config, `check` runs every rule that
`sgconfig.yml` lists, exactly as `ast-grep scan` would. We write a self-contained
ast-grep project (two rule packs, a util directory, rules using every feature we
reimplement: severities, message interpolation, fix templates, transforms,
files/ignores globs, local and global utils), generate a deterministic tree of test
files, run both real processes in the project root and require the same findings
(position, rule, message, severity, note) and the same fixes (replacement text and
replaced byte range), as multisets.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

SEED = 20240611

SGCONFIG = """\
ruleDirs:
  - rules/style
  - rules/correctness
utilDirs:
  - utils
"""

# Global utils; `in-test-function` reaches `test-function` through another `matches`.
# `$TESTFN` is captured only here: the CLI gives it to no rule's message.
UTILS = {
    "utils/test-function.yml": """\
id: test-function
language: python
rule:
  kind: function_definition
  has:
    field: name
    regex: '^test'
    pattern: $TESTFN
""",
    "utils/in-test-function.yml": """\
id: in-test-function
language: python
rule:
  inside:
    matches: test-function
    stopBy: end
""",
}

RULES = {
    # $$$ARGS in pattern, fix and message; a global util chain.
    "rules/style/no-print.yml": """\
id: no-print
language: python
severity: warning
message: "print($$$ARGS) in a test [$TESTFN]: use logging"
note: pytest captures output anyway.
rule:
  pattern: print($$$ARGS)
  matches: in-test-function
fix: logger.info($$$ARGS)
""",
    # Two rules in one file; single-line fix with two captures.
    "rules/style/unittest.yml": """\
id: assert-equal
language: python
severity: info
message: assertEqual($A, $B) is a plain assert
rule:
  pattern: self.assertEqual($A, $B)
fix: assert $A == $B
---
id: assert-raises-callable
language: python
severity: warning
message: use assertRaises($EXC) as a context manager
rule:
  pattern: self.assertRaises($EXC, $FN, $$$ARGS)
  inside:
    kind: expression_statement
# A multi-line fix inside an indented block: every line gets the match's indent.
fix: |-
  with self.assertRaises($EXC):
      $FN($$$ARGS)
""",
    # A multi-line template with a multi-line capture (re-indented twice).
    "rules/style/expected-list.yml": """\
id: expected-list
language: python
severity: hint
message: name the expected value of $A
rule:
  pattern: assert $A == $B
constraints:
  B:
    kind: list
    regex: "\\\\n"
fix: |-
  expected = $B
  assert $A == expected
""",
    # transform: convert, in a fix and a message.
    "rules/style/camel-test-name.yml": """\
id: camel-test-name
language: python
severity: info
message: test name $NAME is not snake_case, say $SNAKE
rule:
  pattern: $NAME
  kind: identifier
  regex: '^test[A-Z]'
  inside:
    kind: function_definition
    field: name
transform:
  SNAKE:
    convert:
      source: $NAME
      toCase: snakeCase
fix: $SNAKE
""",
    # A fix object: expandEnd swallows the trailing comma.
    "rules/style/timeout-none.yml": """\
id: timeout-none
language: python
severity: hint
message: timeout=None is the default
rule:
  kind: keyword_argument
  regex: '^timeout\\s*=\\s*None$'
  inside:
    kind: argument_list
fix:
  template: ''
  expandEnd:
    regex: '^,$'
""",
    # Disabled: must never be reported by either tool.
    "rules/style/disabled.yml": """\
id: disabled-pass
language: python
severity: off
message: never reported
rule:
  pattern: pass
""",
    # transform: substring and replace (string form too); constraints with regex.
    "rules/correctness/env-var.yml": """\
id: env-var
language: python
severity: error
message: environment variable $SHORT read without a default
rule:
  pattern: os.environ[$KEY]
constraints:
  KEY:
    regex: '^"TEST_'
transform:
  INNER:
    substring:
      source: $KEY
      startChar: 1
      endChar: -1
  SHORT: replace($INNER, replace='^TEST_', by='')
fix: os.environ.get("$INNER", "")
""",
    # kind + has with field and stopBy, inside a global util, constraints on a capture.
    "rules/correctness/sleep.yml": """\
id: fixed-sleep
language: python
severity: error
message: fixed sleep of $T seconds
rule:
  kind: call
  all:
    - has:
        field: function
        regex: '^time\\.sleep$'
    - has:
        field: arguments
        has:
          pattern: $T
    - matches: in-test-function
constraints:
  T:
    regex: '^[0-9.]+$'
""",
    # A big match node; local utils, one capturing for the message; `ignores:`.
    "rules/correctness/missing-assert.yml": """\
id: missing-assert
language: python
severity: hint
message: test $NAME asserts nothing
ignores:
  - "**/test_legacy_*.py"
utils:
  named:
    has:
      field: name
      pattern: $NAME
  asserts:
    any:
      - kind: assert_statement
      - pattern: pytest.raises($$$)
      - kind: call
        has:
          field: function
          regex: '^self\\.assert'
rule:
  all:
    - matches: test-function
    - matches: named
    - not:
        has:
          matches: asserts
          stopBy: end
""",
    # follows with stopBy: end.
    "rules/correctness/setup-after-assert.yml": """\
id: setup-after-assert
language: python
severity: info
message: setup after an assertion
rule:
  kind: expression_statement
  has:
    kind: assignment
  follows:
    kind: assert_statement
    stopBy: end
""",
    # precedes (neighbor) sharing a capture; `files:`.
    "rules/correctness/return-directly.yml": """\
id: return-directly
language: python
severity: warning
message: return $V directly
files:
  - "tests/unit/**/*.py"
rule:
  kind: expression_statement
  has:
    kind: assignment
    has:
      field: left
      pattern: $V
  precedes:
    pattern: return $V
""",
    # `files:` naming one file kind only.
    "rules/correctness/session-fixture.yml": """\
id: session-fixture
language: python
severity: error
message: session-scoped fixture $NAME
files:
  - "**/conftest.py"
rule:
  kind: decorated_definition
  all:
    - has:
        field: definition
        has:
          field: name
          pattern: $NAME
    - has:
        kind: decorator
        pattern: '@pytest.fixture(scope="session")'
""",
}


# --- the generated tree --------------------------------------------------------------

_WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "zeta"]
_TEXT = ["é", "café", "日本", "naïve", "Ωmega", "plain", "über"]


def _statement(rng: random.Random, n: int) -> list[str]:
    """One randomly chosen test statement (possibly several lines), unindented."""
    w = rng.choice(_WORDS)
    t = rng.choice(_TEXT)
    choices: list[list[str]] = [
        [f"{w}_{n} = make_{w}({n})"],
        [f'print("{t}", {w}_{n})'],
        [f'label = "{t}"; print(label, "{t}")'],
        ["print(", f'    "{t}",', f"    {w},", ")"],
        [f"time.sleep({rng.choice(['0.5', '2', '1.25'])})"],
        ["time.sleep(delay)"],
        [f"assert {w} == [", f'    "{t}",', f"    {n},", "]"],
        [f"assert {w} == [{n}, {n + 1}]"],
        [f"assert {w} == {n}"],
        [f'client.get("/{t}", timeout=None, verify=False)'],
        [f'client.get("/{w}", timeout=None)'],
        ["client.post(", f'    "/{t}",', "    timeout=None,", ")"],
        [f'token = os.environ["TEST_{w.upper()}"]'],
        ['home = os.environ["HOME"]'],
        [f'x = "{t}"; y = os.environ["TEST_{w.upper()}_{n}"]'],
        ["# ast-grep-ignore: no-print", f'print("{t} quiet")'],
        ['DOC = """', f"print({w}) is text, not code: {t}", 'time.sleep(1)"""'],
        ["pass"],
    ]
    return rng.choice(choices)


def _function(rng: random.Random, name: str, params: str, indent: str, n: int) -> list[str]:
    lines = [f"{indent}def {name}({params}):"]
    for i in range(rng.randint(2, 6)):
        lines += [f"{indent}    {line}" for line in _statement(rng, n * 10 + i)]
    return lines


def _helper(rng: random.Random, n: int) -> list[str]:
    w = rng.choice(_WORDS)
    body = [f"result = {w} * {n}", "return result"]
    if rng.random() < 0.3:
        body = [f"result = {w} * {n}", "other = result", "return result"]
    return [f"def make_{w}_{n}({w}):", *[f"    {line}" for line in body]]


def _method_lines(rng: random.Random, n: int) -> list[str]:
    name = rng.choice([f"test_{rng.choice(_WORDS)}_{n}", f"test{rng.choice(_WORDS).title()}{n}"])
    body = [
        rng.choice(
            [
                f"self.assertEqual(make({n}), {n})",
                f'self.assertEqual(parse("{rng.choice(_TEXT)}"), [\n    {n},\n])',
                f'self.assertRaises(ValueError, parse, "{rng.choice(_TEXT)}", {n})',
                "self.assertRaises(KeyError, lookup)",
                f'print("{rng.choice(_TEXT)}")',
                f"value = {n}",
            ]
        )
        for _ in range(rng.randint(1, 3))
    ]
    lines = [f"    def {name}(self):"]
    for stmt in body:
        lines += ["        " + part for part in stmt.split("\n")]
    return lines


def _module(rng: random.Random, index: int, items: int) -> str:
    lines = [
        f"# Generated module {index}: {rng.choice(_TEXT)} {rng.choice(_TEXT)}",
        "import os",
        "import time",
        "import unittest",
        "",
        "import pytest",
        "",
    ]
    for n in range(rng.randint(items, items + 4)):
        kind = rng.random()
        lines.append("")
        if kind < 0.5:
            name = rng.choice([f"test_{rng.choice(_WORDS)}_{n}", f"testCamel{n}Case"])
            lines += _function(rng, name, rng.choice(["", "client", "client, delay"]), "", n)
        elif kind < 0.7:
            lines += _helper(rng, n)
        else:
            lines.append(f"class Test{rng.choice(_WORDS).title()}{n}(unittest.TestCase):")
            for m in range(rng.randint(1, 3)):
                if m:
                    lines.append("")
                lines += _method_lines(rng, n * 10 + m)
    return "\n".join(lines) + "\n"


_CONFTEST = """\
import pytest


@pytest.fixture(scope="session")
def database():
    print("日本 session")
    return connect()


@pytest.fixture(scope="function")
def client():
    return Client()


@pytest.fixture(scope="session")
def settings(database):
    assert database
    return {"é": 1}
"""


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))  # bytes: no newline translation


def make_project(root: Path, seed: int = SEED, modules: int = 4, items: int = 6) -> list[str]:
    """Write the ast-grep project; returns the relative paths of the Python files.

    ``modules`` test modules per directory, each with ``items`` to ``items + 4``
    top-level functions and classes.
    """
    rng = random.Random(seed)
    _write(root, "sgconfig.yml", SGCONFIG)
    for rel, text in {**UTILS, **RULES}.items():
        _write(root, rel, text)
    files: dict[str, str] = {}
    for i in range(modules):
        files[f"tests/unit/test_mod{i}.py"] = _module(rng, i, items)
        files[f"tests/functional/api/test_flow{i}.py"] = _module(rng, 1000 + i, items)
    files["tests/unit/test_legacy_api.py"] = _module(rng, 99, items)  # missing-assert ignores it
    files["tests/conftest.py"] = _CONFTEST
    files["tests/functional/conftest.py"] = _module(rng, 50, items)
    # Hidden directories are skipped by both tools.
    files["tests/.cache/test_hidden.py"] = 'def test_hidden():\n    print("hidden")\n'
    for rel, text in files.items():
        _write(root, rel, text)
    # Not Python: no rule applies.
    _write(root, "tests/unit/data.txt", "def test_x():\n    print(1)\n")
    return sorted(files)


# --- running both tools ----------------------------------------------------------------


def _executable(name: str) -> str:
    # The tools installed next to this interpreter are the pinned ones; PATH is a fallback.
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` is not installed (pip install -e '.[dev]')")
    return found


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, encoding="utf-8", timeout=120, check=False
    )


Key = tuple[Any, ...]


def cli_findings(root: Path) -> Counter[Key]:
    proc = _run([_executable("ast-grep"), "scan", "--json=stream"], root)
    # Exit 1 means "found error-severity findings", which this tree has; then that is
    # all stderr may say (a rule the CLI skipped with a warning would also go there).
    assert proc.returncode in (0, 1), proc.stderr
    said = proc.stderr.strip()
    if proc.returncode == 1:
        assert said.startswith("Error: ") and "error(s) found in code" in said, said
        said = "\n".join(said.splitlines()[2:]).strip()
    assert not said, proc.stderr
    found: Counter[Key] = Counter()
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        m = json.loads(line)
        rng = m["range"]
        fix = None
        if "replacement" in m:
            offsets = m["replacementOffsets"]
            fix = (m["replacement"], offsets["start"], offsets["end"])
        found[
            (
                m["file"],
                m["ruleId"],
                rng["start"]["line"] + 1,
                rng["start"]["column"],
                rng["end"]["line"] + 1,
                rng["end"]["column"],
                m["message"],
                m["severity"],
                m["note"],
                fix,
            )
        ] += 1
    return found


def _byte_offset(text: str, line: int, column: int) -> int:
    """1-based line and 1-based character column -> UTF-8 byte offset (the CLI's unit)."""
    lines = text.split("\n")  # ast-grep counts lines on "\n" only
    chars = sum(len(x) + 1 for x in lines[: line - 1]) + column - 1
    return len(text[:chars].encode("utf-8"))


def our_findings(root: Path, *extra: str) -> Counter[Key]:
    # No --config: the embedded defaults, which take ./sgconfig.yml.
    args = [_executable("review-bot"), "check", "--format", "json", "--min-severity", "hint"]
    args += ["--fail-on", "off", "--filter-mode", "nofilter", *extra, "."]
    proc = _run(args, root)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["problems"] == [], document["problems"]
    texts: dict[str, str] = {}
    found: Counter[Key] = Counter()
    for f in document["findings"]:
        if f["path"] not in texts:
            # Bytes, decoded: read_text() would turn CRLF into LF and shift every offset.
            texts[f["path"]] = (root / f["path"]).read_bytes().decode("utf-8")
        text = texts[f["path"]]
        rng = f["range"]
        fix = None
        if f["fix"] is not None:
            # The CLI applies one edit per finding; so must we.
            (edit,) = f["fix"]["edits"]
            start, end = edit["start"], edit["end"]
            fix = (
                edit["replacement"],
                _byte_offset(text, start["line"], start["column"]),
                _byte_offset(text, end["line"], end["column"]),
            )
        found[
            (
                f["path"],
                f["rule_id"],
                rng["start"]["line"],
                rng["start"]["column"] - 1,  # ours are 1-based
                rng["end"]["line"],
                rng["end"]["column"] - 1,
                f["message"],
                f["severity"],
                f["note"],
                fix,
            )
        ] += 1
    return found


def _describe(keys: Counter[Key]) -> str:
    out = []
    for key, count in sorted(keys.items(), key=lambda kv: repr(kv[0])):
        path, rule, sl, sc, el, ec, message, severity, note, fix = key
        times = f" (x{count})" if count > 1 else ""
        out.append(f"  {path}:{sl}:{sc}-{el}:{ec} {rule} [{severity}] {message!r}{times}")
        if note is not None:
            out.append(f"      note={note!r}")
        if fix is not None:
            out.append(f"      fix bytes {fix[1]}..{fix[2]} -> {fix[0]!r}")
    return "\n".join(out)


def parity_diff(cli: Counter[Key], ours: Counter[Key]) -> str:
    only_cli, only_ours = cli - ours, ours - cli
    if not only_cli and not only_ours:
        return ""
    return (
        f"only from `ast-grep scan` ({sum(only_cli.values())}):\n{_describe(only_cli)}\n"
        f"only from `review-bot check` ({sum(only_ours.values())}):\n{_describe(only_ours)}"
    )


# --- the tests ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parity") / "project"
    make_project(root)
    return root


@pytest.fixture(scope="module")
def cli(project: Path) -> Counter[Key]:
    return cli_findings(project)


def test_findings_and_fixes_equal_ast_grep_scan(project: Path, cli: Counter[Key]) -> None:
    diff = parity_diff(cli, our_findings(project))
    if diff:
        pytest.fail("review-bot check differs from ast-grep scan:\n" + diff, pytrace=False)


def _rule_ids() -> set[str]:
    return {
        line.split(":", 1)[1].strip()
        for text in RULES.values()
        for line in text.splitlines()
        if line.startswith("id:")
    }


def test_the_tree_exercises_every_rule_and_feature(project: Path, cli: Counter[Key]) -> None:
    """Guards the parity test against a vacuous pass: the CLI itself must find plenty."""
    keys = list(cli.elements())
    assert len(keys) >= 150
    by_rule = Counter(key[1] for key in keys)
    assert set(by_rule) == _rule_ids() - {"disabled-pass"}, by_rule  # `off` is never reported
    assert min(by_rule.values()) >= 2, by_rule
    assert {key[7] for key in keys} == {"hint", "info", "warning", "error"}
    fixes = [key[9] for key in keys if key[9] is not None]
    assert any("\n" in fix[0] for fix in fixes), "no multi-line fix"
    assert any(fix[0] == "" for fix in fixes), "no deletion fix"
    # Character and byte offsets must disagree, or a unit mix-up would go unnoticed.
    texts = {key[0]: (project / key[0]).read_bytes().decode("utf-8") for key in keys}
    assert any(
        len(texts[key[0]].encode("utf-8")[: key[9][1]].decode("utf-8")) != key[9][1]
        for key in keys
        if key[9] is not None
    )
    assert any(not texts[k[0]].split("\n")[k[2] - 1][: k[3]].isascii() for k in keys)
    # The line-level suppressions both tools honour are in the tree.
    assert sum(t.count("# ast-grep-ignore: no-print") for t in texts.values()) >= 2
    # files:, ignores:, hidden directories and non-Python files.
    paths = {key[0] for key in keys}
    assert not any(p.startswith("tests/.cache/") or not p.endswith(".py") for p in paths)
    assert {k[1] for k in keys if k[0] == "tests/unit/test_legacy_api.py"} >= {"no-print"}
    assert ("tests/unit/test_legacy_api.py", "missing-assert") not in {k[:2] for k in keys}
    assert all(k[0].startswith("tests/unit/") for k in keys if k[1] == "return-directly")
    assert all(k[0].endswith("conftest.py") for k in keys if k[1] == "session-fixture")


def test_generated_tree_is_deterministic(tmp_path: Path) -> None:
    # The same seed must give the same tree, or a failure could not be reproduced.
    a, b = tmp_path / "a", tmp_path / "b"
    assert make_project(a) == make_project(b)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def test_worker_pool_gives_the_same_findings(tmp_path: Path) -> None:
    # Two worker processes (the rules pickled into each) share the files between them.
    root = tmp_path / "project"
    make_project(root, seed=SEED + 1, modules=16, items=40)
    cli = cli_findings(root)
    assert sum(cli.values()) >= 1000
    diff = parity_diff(cli, our_findings(root, "--jobs", "2"))
    if diff:
        pytest.fail("review-bot check --jobs 2 differs from ast-grep scan:\n" + diff, pytrace=False)


def test_suppression_comments_equal_ast_grep_scan(tmp_path: Path) -> None:
    root = tmp_path / "project"
    make_project(root, modules=0)
    # A comment on line 1 followed by a blank line: the CLI suppresses the whole file.
    _write(
        root,
        "tests/test_file_level.py",
        textwrap.dedent("""\
        # ast-grep-ignore

        def test_a():
            print("é")
        """),
    )
    # A trailing comment suppresses its own line only, and the CLI reports it unused.
    _write(
        root,
        "tests/test_trailing.py",
        textwrap.dedent("""\
        def test_b():
            x = 1  # ast-grep-ignore
            print(x)
            assert x
        """),
    )
    cli = cli_findings(root)
    # The CLI also reports each suppression that silenced nothing as a hint of its own;
    # review-bot does not (a bot comment about a comment is noise). Compare the rest.
    unused = Counter({k: n for k, n in cli.items() if k[1] == "unused-suppression"})
    assert unused, "the trailing comment should be reported unused by the CLI"
    diff = parity_diff(cli - unused, our_findings(root))
    if diff:
        pytest.fail("review-bot check differs from ast-grep scan:\n" + diff, pytrace=False)
