"""Benchmark: how long a user waits for the command line to answer.

Three commands, each against a peer measured in the same run:
- `review-bot --version` against `ruff --version` (goal: under 0.1 s);
- `review-bot check --help` against `ruff check --help` (goal: under 0.1 s);
- `review-bot check` of the bundled one-file example diff against `ast-grep scan` of
  that file with the same rules (goal: under 0.5 s).
The goals are absolute, so each table's ratio goal is the goal over the peer's median.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from common import (
    AST_GREP,
    BIN,
    REPO,
    REVIEW_BOT,
    Command,
    base_parser,
    cpu_summary,
    report,
    time_commands,
    verdict,
)

EXAMPLES = REPO / "examples"
EXAMPLE_FILE = "nova/tests/functional/regressions/test_bug_2034567.py"


def _cases() -> list[tuple[str, Command, Command, float]]:
    ruff = str(BIN / "ruff")
    check = [
        str(REVIEW_BOT),
        "check",
        "--root",
        str(EXAMPLES),
        "--diff",
        str(EXAMPLES / "nova-regression.diff"),
        "--no-baseline",
        "--fail-on",
        "off",
    ]
    scan = [str(AST_GREP), "scan", "-c", str(REPO / "sgconfig.yml"), EXAMPLE_FILE]
    return [
        (
            "--version",
            Command("review-bot", [str(REVIEW_BOT), "--version"], REPO),
            Command("ruff", [ruff, "--version"], REPO),
            0.1,
        ),
        (
            "check --help",
            Command("review-bot", [str(REVIEW_BOT), "check", "--help"], REPO),
            Command("ruff", [ruff, "check", "--help"], REPO),
            0.1,
        ),
        (
            "check of a one-file diff",
            Command("review-bot check", check, REPO),
            Command("ast-grep scan", scan, EXAMPLES),
            0.5,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__ or "")
    args = parser.parse_args(argv)
    if not (EXAMPLES / EXAMPLE_FILE).is_file():
        sys.exit(f"{EXAMPLES / EXAMPLE_FILE}: the example file is missing")
    repeat = 3 if args.quick else max(args.repeat, 10)  # short commands: more samples
    missed = 0
    for name, ours, peer, seconds in _cases():
        ours_t, peer_t = time_commands([ours, peer], repeat, args.budget)
        goal = round(seconds / peer_t.median, 1)
        report(f"startup: {name}, {cpu_summary()}", ours_t, peer_t, goal)
        print(
            f"  absolute: ours {ours_t.median:.3f}s median, goal < {seconds}s: "
            f"{verdict(ours_t.median, seconds, 's')}"
        )
        missed += ours_t.median > seconds
    return 0 if missed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
