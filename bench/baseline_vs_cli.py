"""Benchmark (c): what "new findings only" costs.

A change to a 30,000-line Nova-style functional test file moves one flagged 40-line test
method from near the top to near the bottom, and adds one new flagged method in the
middle. `review-bot check --git A..B` reviews it with the baseline (the base side of each
hunk analysed too, the moved method's findings dropped) and without (`--no-baseline`),
against `ast-grep scan` of the whole new file with the same rules, all in the same run.

Goal: with the baseline, ours at most 0.5x the peer's time, as for one hunk without it.
The baseline's own cost is printed as the ratio of the two review-bot runs. The exit
status is 1 if the baseline dropped a finding whose code is not in the moved method, or
kept none of the new method's.

Two things the numbers show by design: a finding of the new method whose code is also in
the moved method (the same `microversion = 'latest'` line, say) is dropped with it; and
a moved finding whose rule changed with its new surroundings (a host literal in a class
that now stores the started compute) is kept, because it is new.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence

from common import (
    FLAGGED,
    TestCodeGenerator,
    ast_grep,
    base_parser,
    check_syntax,
    cpu_summary,
    git,
    progress,
    report,
    review_bot,
    rule_count,
    sgconfig_arg,
    time_commands,
    work_dir,
    write,
)

GOAL = 0.5
METHOD_LINES = 40
PATH = "nova/tests/functional/test_servers_large.py"


Found = tuple[str, str, int]  # rule, matched code (whitespace collapsed), first line


def findings(stdout: str) -> set[Found]:
    return {
        (f["rule_id"], " ".join(f["matched"].split()), f["range"]["start"]["line"])
        for f in json.loads(stdout)["findings"]
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    args = parser.parse_args(argv)
    sgconfig = sgconfig_arg(parser, args.sgconfig)
    total = 3_000 if args.quick else 30_000
    rules = rule_count(sgconfig)

    progress(f"generating a {total:,}-line test file; one method moves, one is new")
    gen = TestCodeGenerator(args.seed)
    module = gen.module(total - 2 * METHOD_LINES)
    moved = gen.method(METHOD_LINES, flagged=0, include=FLAGGED)
    new = gen.method(METHOD_LINES, flagged=0, include=FLAGGED)
    starts = module.method_starts
    top, middle, bottom = starts[1], starts[len(starts) // 2], starts[-2]
    lines = module.lines
    old_lines = lines[:top] + moved + lines[top:]
    new_lines = lines[:middle] + new + lines[middle:bottom] + moved + lines[bottom:]
    old_text = "".join(line + "\n" for line in old_lines)
    new_text = "".join(line + "\n" for line in new_lines)
    check_syntax(old_text, PATH)
    check_syntax(new_text, PATH)

    with work_dir(args.keep) as work:
        repo = work / "baseline-repo"
        repo.mkdir(exist_ok=True)
        git(repo, "init", "-q")
        write(repo / PATH, old_text)
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "base")
        write(repo / PATH, new_text)
        git(repo, "commit", "-qam", "move one test, add one")

        with_base = review_bot("--git", "HEAD~1..HEAD", "--root", repo, sgconfig=sgconfig)
        without = dataclasses.replace(
            review_bot("--git", "HEAD~1..HEAD", "--root", repo, "--no-baseline", sgconfig=sgconfig),
            label="review-bot --no-baseline",
        )
        peer = ast_grep(PATH, sgconfig=sgconfig, cwd=repo)
        ours_t, off_t, peer_t = time_commands([with_base, without, peer], args.repeat, args.budget)

    title = (
        f"baseline_vs_cli: {total:,}-line file, one {METHOD_LINES}-line method moved and one "
        f"added, {rules} rules, {cpu_summary()}"
    )
    report(title, ours_t, peer_t, GOAL, args.quick)
    print(
        f"  baseline cost: {ours_t.median / off_t.median:.2f}x review-bot --no-baseline "
        f"({ours_t.median:.3f}s against {off_t.median:.3f}s, median wall)"
    )
    kept, all_found = findings(ours_t.stdout), findings(off_t.stdout)
    dropped = all_found - kept
    new_lines_at = range(middle + 1, middle + METHOD_LINES + 1)  # 1-based, in the new file
    moved_code = " ".join("\n".join(moved).split())
    in_new = {f for f in all_found if f[2] in new_lines_at}
    # Whatever is dropped must be code the moved method has; a new finding with code of
    # its own must stay.
    wrong = sorted(f for f in dropped if f[1] not in moved_code)
    lost = sorted(f for f in in_new if f[1] not in moved_code and f not in kept)
    ok = bool(dropped) and kept <= all_found and not wrong and not lost
    kept_moved = len(kept - in_new)
    print(
        f"  findings: {len(all_found)} without the baseline, {len(kept)} with it: "
        f"{len(dropped)} dropped (all code of the moved method: {'yes' if not wrong else 'NO'}), "
        f"{len(kept & in_new)}/{len(in_new)} of the new method's kept, "
        f"{kept_moved} moved one(s) kept as new in their new place"
    )
    for f in wrong + lost:
        print(f"  unexpected: {'dropped' if f in wrong else 'lost'} {f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
