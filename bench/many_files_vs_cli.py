"""Benchmark (b): many whole test files.

`review-bot check DIR` (paths mode: every line counts as new) on 300 Nova-style test
files of 400 lines each, against `ast-grep scan DIR` with the same rules. Both must
report the same findings. Goal: ours at most 1.2x the peer's time; ast-grep is a
multi-threaded native binary, we pay for Python start-up and a process pool.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from common import (
    NOUNS,
    TestCodeGenerator,
    ast_grep,
    base_parser,
    check_syntax,
    compare_findings,
    cpu_summary,
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

GOAL = 1.2
FILES_PER_DIR = 30  # spread over sub-packages, as in a real tests/ tree


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--files", type=int, metavar="N", help="number of files (default: 300)")
    parser.add_argument("--lines", type=int, metavar="N", help="lines per file (default: 400)")
    args = parser.parse_args(argv)
    sgconfig = sgconfig_arg(parser, args.sgconfig)
    n_files = args.files or (20 if args.quick else 300)
    n_lines = args.lines or (200 if args.quick else 400)
    rules = rule_count(sgconfig)

    with work_dir(args.keep) as work:
        tree = work / "many-tree"
        progress(f"generating {n_files} test files of {n_lines} lines in {tree}")
        gen = TestCodeGenerator(args.seed)
        size = 0
        for i in range(n_files):
            text = gen.module(n_lines).text
            name = (
                f"nova/tests/functional/{NOUNS[i // FILES_PER_DIR % len(NOUNS)]}"
                f"/test_{NOUNS[i % len(NOUNS)]}_{i}.py"
            )
            check_syntax(text, name)
            write(tree / name, text)
            size += len(text)

        ours = review_bot("--root", tree, tree / "nova", sgconfig=sgconfig)
        peer = ast_grep("nova", sgconfig=sgconfig, cwd=tree)
        ours_t, peer_t, peer_all = race(ours, peer, args, tree, sgconfig)

    title = (
        f"many_files_vs_cli: {n_files} files x {n_lines} lines ({size:,} bytes), "
        f"{rules} rules, {cpu_summary()}"
    )
    report(title, ours_t, peer_t, GOAL, args.quick)
    same = compare_findings(ours_findings(ours_t.stdout), peer_all, "in all files")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
