"""Benchmark (a): one small hunk in a very large test file.

`review-bot check --diff` on a 40-line hunk added in the middle of a 30,000-line
Nova-style functional test file, against `ast-grep scan` of the whole file with the
same rules. Both must agree on the findings that touch the added lines. Goal: ours
at most 0.5x the peer's time, since we only search the part of the tree the hunk touches.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Sequence

from common import (
    FLAGGED,
    LARGE_FILE,
    TestCodeGenerator,
    ast_grep,
    base_parser,
    check_syntax,
    compare_findings,
    cpu_summary,
    large_file_lines,
    ours_findings,
    progress,
    race,
    report,
    review_bot,
    rule_count,
    sgconfig_arg,
    work_dir,
    write,
)

GOAL = 0.5
HUNK_LINES = 40
_HUNK_HEADER = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def unified_diff(old: str, new: str, path: str) -> str:
    """A git-style diff of one modified file, as `review-bot check --diff` reads it."""
    body = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return f"diff --git a/{path} b/{path}\n" + "".join(body)


def added_lines(diff: str) -> set[int]:
    """1-based new-file lines the diff adds; parsed here, independently of review-bot."""
    added: set[int] = set()
    line_no = 0
    for line in diff.splitlines():
        if m := _HUNK_HEADER.match(line):
            line_no = int(m.group(1))
        elif line_no and line.startswith("+") and not line.startswith("+++"):
            added.add(line_no)
            line_no += 1
        elif line_no and line.startswith(" "):
            line_no += 1
    return added


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    args = parser.parse_args(argv)
    sgconfig = sgconfig_arg(parser, args.sgconfig)
    total = large_file_lines(args.quick)
    rules = rule_count(sgconfig)

    progress(f"generating a {total:,}-line test file with a {HUNK_LINES}-line hunk")
    gen = TestCodeGenerator(args.seed)
    module = gen.module(total - HUNK_LINES)
    # The hunk is a whole new test method holding one of each flagged statement (so
    # every rule meant for them has work to do), inserted at the method boundary
    # nearest the middle of the file.
    hunk = gen.method(HUNK_LINES, flagged=0, include=FLAGGED)
    at = min(module.method_starts, key=lambda i: abs(i - len(module.lines) // 2))
    old = module.text
    new_lines = module.lines[:at] + hunk + module.lines[at:]
    new = "".join(line + "\n" for line in new_lines)
    check_syntax(new, LARGE_FILE)

    with work_dir(args.keep) as work:
        tree = work / "hunk-tree"
        write(tree / LARGE_FILE, new)
        diff = unified_diff(old, new, LARGE_FILE)
        diff_path = work / "hunk.diff"
        write(diff_path, diff)
        added = added_lines(diff)
        # difflib may slide an insertion over identical neighbouring lines; what matters
        # is one contiguous run of HUNK_LINES added lines.
        if len(added) != HUNK_LINES or max(added) - min(added) != HUNK_LINES - 1:
            sys.exit(f"bad diff {diff_path}: adds lines {sorted(added)}")

        ours = review_bot("--diff", diff_path, "--root", tree, sgconfig=sgconfig)
        peer = ast_grep(LARGE_FILE, sgconfig=sgconfig, cwd=tree)
        ours_t, peer_t, peer_all = race(ours, peer, args, tree, sgconfig)

    title = (
        f"hunk_vs_cli: {total:,}-line file ({len(new):,} bytes), {HUNK_LINES}-line hunk "
        f"at lines {min(added)}-{max(added)}, {rules} rules, {cpu_summary()}"
    )
    report(title, ours_t, peer_t, GOAL, args.quick)
    in_hunk = [f for f in peer_all if not added.isdisjoint(f.lines)]
    print(f"  ast-grep findings in the whole file: {len(peer_all)}")
    same = compare_findings(ours_findings(ours_t.stdout), in_hunk, "touching the hunk")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
