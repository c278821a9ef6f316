"""Precision of the default review on hand-judged realistic patches.

For each case in expected.yaml, runs `review-bot check` exactly as the bot would
review the patch (default threshold, added lines only) and compares what would be
posted with the judgement. Prints findings posted, how many are judged right, and
precision; misses are listed too. Exit 1 when something posted is not expected.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from checkjson import check_json

HERE = Path(__file__).resolve().parent


def posted(case_dir: Path, diff: Path, threshold: str) -> set[tuple[str, int, str]]:
    report = check_json("--root", case_dir, "--diff", diff, threshold=threshold)
    return {(f["path"], f["range"]["start"]["line"], f["rule_id"]) for f in report["findings"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expected", type=Path, default=HERE / "expected.yaml")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every finding")
    args = parser.parse_args()
    spec = yaml.safe_load(args.expected.read_text())
    threshold = spec.get("threshold", "warning")
    total_posted = total_right = total_expected = 0
    wrong: list[str] = []
    missed: list[str] = []
    for case in spec["cases"]:
        diff = args.expected.parent / case["diff"]
        got = posted(diff.parent, diff, threshold)
        want = {(e["path"], e["line"], e["rule"]) for e in case.get("expected") or []}
        right = got & want
        total_posted += len(got)
        total_right += len(right)
        total_expected += len(want)
        wrong += [f"{case['id']}: {p}:{ln} {r}" for p, ln, r in sorted(got - want)]
        missed += [f"{case['id']}: {p}:{ln} {r}" for p, ln, r in sorted(want - got)]
        if args.verbose:
            print(f"{case['id']}: posted {len(got)}, right {len(right)}, expected {len(want)}")
    precision = total_right / total_posted if total_posted else 1.0
    recall = total_right / total_expected if total_expected else 1.0
    print(f"cases: {len(spec['cases'])}, threshold: {threshold}")
    print(f"findings posted: {total_posted}")
    print(f"judged right:    {total_right}")
    print(f"precision:       {precision:.2f}")
    print(f"recall:          {recall:.2f} ({total_right}/{total_expected} expected findings)")
    for line in wrong:
        print(f"  not expected: {line}")
    for line in missed:
        print(f"  missed:       {line}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
