"""The shipped rule packs on the seed-shaped example: the five concerns, and nothing more.

examples/ holds a new Nova functional regression test shaped like the reviewed one
(two servers booted in one request, then a live migration). These tests pin what
the bot would post on it, so a rule change that adds noise or loses a concern fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples"
TEST = "nova/tests/functional/regressions/test_bug_2034567.py"


def review(*extra: str) -> list[dict]:
    exe = Path(sys.executable).parent / "review-bot"
    done = subprocess.run(
        [
            str(exe),
            "check",
            "--root",
            str(EXAMPLE),
            "--diff",
            str(EXAMPLE / "nova-regression.diff"),
            "--format",
            "json",
            "--fail-on",
            "off",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["findings"]


def line_of(text: str) -> int:
    lines = (EXAMPLE / TEST).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_all_five_concerns_are_found_at_hint() -> None:
    rules = {f["rule_id"] for f in review("--min-severity", "hint")}
    assert rules & {"hardcoded-uuid", "fixture-constant-uuid"}  # 1. hard-coded UUID
    assert "hardcoded-hostname" in rules  # 2. host1/host2
    assert "unchecked-first-element" in rules  # 3. get_servers()[0]
    assert "missing-cleanup" in rules  # 4. state changed without cleanup
    assert "latest-microversion" in rules  # 5. microversion = 'latest'


def test_default_threshold_posts_exactly_the_judged_findings() -> None:
    posted = {(f["range"]["start"]["line"], f["rule_id"]) for f in review()}
    assert posted == {
        (line_of("mock.patch("), "missing-cleanup"),
        (line_of("image_uuid='155d900f"), "fixture-constant-uuid"),
        (line_of("search_opts={'name': 'lm-batch-1'}") - 1, "unchecked-first-element"),
        (line_of("self.assertEqual('host1'"), "hardcoded-hostname"),
        (line_of("'host': 'host2'"), "hardcoded-hostname"),
        (line_of("self.assertEqual('host2'"), "hardcoded-hostname"),
        (line_of("missing_uuid = '"), "hardcoded-uuid"),
    }


def test_idioms_stay_quiet_even_at_hint() -> None:
    quiet = [
        "self._start_compute('host1')",  # defining a compute with a literal name
        "uuids.batch",  # the uuidsentinel idiom
        "self.assertEqual(2, len(servers))",  # a length check before use
        "self.compute1.host, sibling[0]",  # indexing after assertEqual(1, len(...))
        "fixtures.MockPatch(",  # a fixture-managed patch
    ]
    flagged = {f["range"]["start"]["line"] for f in review("--min-severity", "hint")}
    for text in quiet:
        assert line_of(text) not in flagged, text


def test_the_unchecked_index_fix_inserts_the_length_assertion() -> None:
    (finding,) = [f for f in review() if f["rule_id"] == "unchecked-first-element"]
    suggestion = finding["fix"]["suggestion"]["text"]
    assert "self.assertEqual(1, len(" in suggestion
    compile(suggestion.strip() if "\n" not in suggestion else "if 1:\n" + suggestion, "s", "exec")
