"""Benchmark (d): one very large new test file.

A commit adds a 30,000-line Nova-style functional test file whole; `review-bot check
--git HEAD~1..HEAD` reviews it (every line is added, so the whole file is analysed),
against `ast-grep scan` of the file with the same rules. Both must report the same
findings. Goal: ours at most 1.0x the peer's time: there is no hunk to narrow the search
to, so this is the cost of a whole large file. The CLI's own scan of it is held to a
goal of its own, under 5 s, so that the ratio is taken against a sane baseline.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence

from common import (
    LARGE_FILE,
    TestCodeGenerator,
    ast_grep,
    base_parser,
    check_syntax,
    compare_findings,
    cpu_summary,
    git,
    large_file_lines,
    ours_findings,
    progress,
    race,
    report,
    review_bot,
    rule_count,
    sgconfig_arg,
    verdict,
    work_dir,
    write,
)

GOAL = 1.0
CLI_GOAL_SECONDS = 5.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    args = parser.parse_args(argv)
    sgconfig = sgconfig_arg(parser, args.sgconfig)
    total = large_file_lines(args.quick)
    rules = rule_count(sgconfig)

    progress(f"generating a {total:,}-line test file, added whole in one commit")
    text = TestCodeGenerator(args.seed).module(total).text
    check_syntax(text, LARGE_FILE)

    with work_dir(args.keep) as work:
        repo = work / "new-file-repo"
        # Afresh each time: a repository kept from an earlier run would already have the
        # file, and the second commit would add nothing.
        shutil.rmtree(repo, ignore_errors=True)
        repo.mkdir()
        git(repo, "init", "-q")
        git(repo, "commit", "-q", "--allow-empty", "-m", "empty")
        write(repo / LARGE_FILE, text)
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "add a large test file")

        # --root points review-bot at the repository while it runs beside sgconfig.yml.
        ours = review_bot("--git", "HEAD~1..HEAD", "--root", repo, sgconfig=sgconfig)
        peer = ast_grep(LARGE_FILE, sgconfig=sgconfig, cwd=repo)
        # The file is new, so every finding of the CLI is on an added line.
        ours_t, peer_t, peer_all = race(ours, peer, args, repo, sgconfig)

    title = (
        f"new_file_vs_cli: {total:,}-line new file ({len(text):,} bytes), {rules} rules, "
        f"{cpu_summary()}"
    )
    report(title, ours_t, peer_t, GOAL, args.quick)
    print(
        f"  CLI's own scan of it under {CLI_GOAL_SECONDS:g} s: {peer_t.median:.3f}s "
        f"(median wall): {verdict(peer_t.median, CLI_GOAL_SECONDS, ' s')}"
    )
    same = compare_findings(ours_findings(ours_t.stdout), peer_all, "in the new file")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
