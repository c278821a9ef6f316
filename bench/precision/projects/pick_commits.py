"""Pick the commits the cross-project precision benchmark judges.

Walks one project's history (non-merge commits only) and keeps those that add at
least ``--min-lines`` lines to test files. From these it takes ``--count`` commits
spread evenly over the years, alternating bug fixes and other changes within a year,
in a fixed order (by commit id), so the same history always yields the same picks.

    python bench/precision/projects/pick_commits.py --git-dir $NEUTRON_GIT > ids.txt

The ids are then written into ``projects/<name>.yaml`` by hand, next to the labels.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from bot.core.globs import GlobSet  # noqa: E402
from bot.core.options import DEFAULT_TEST_GLOBS  # noqa: E402

FIX = re.compile(r"\b(fix|fixes|fixed|bug|regression|closes-bug)\b", re.IGNORECASE)


def candidates(git_dir: str, min_lines: int) -> list[tuple[str, int, bool]]:
    """(sha, year, is_fix) of each commit that adds enough test lines."""
    tests = GlobSet(DEFAULT_TEST_GLOBS)
    out = subprocess.run(
        [
            "git",
            "--git-dir",
            git_dir,
            "log",
            "--no-merges",
            "--numstat",
            "--format=\x1e%H %ad %s",
            "--date=format:%Y",
            # Only paths that can be tests: mirrors may lack some large unrelated blobs.
            "--",
            "*test*",
        ],
        capture_output=True,
        text=True,
        errors="replace",
        check=True,
    ).stdout
    picked = []
    for record in out.split("\x1e")[1:]:
        head, *stats = record.strip("\n").split("\n")
        sha, year, subject = [*head.split(" ", 2), ""][:3]
        added = 0
        for row in stats:
            parts = row.split("\t")
            if len(parts) == 3 and parts[0].isdigit() and tests.matches(parts[2]):
                added += int(parts[0])
        if added >= min_lines:
            picked.append((sha, int(year), bool(FIX.search(subject))))
    return picked


def spread(commits: list[tuple[str, int, bool]], count: int) -> list[str]:
    by_year: dict[int, list[tuple[str, bool]]] = defaultdict(list)
    for sha, year, is_fix in commits:
        by_year[year].append((sha, is_fix))
    years = sorted(by_year)
    queues = {
        y: [sorted(s for s, f in by_year[y] if f), sorted(s for s, f in by_year[y] if not f)]
        for y in years
    }
    chosen: list[str] = []
    turn = 0
    while len(chosen) < count and any(q[0] or q[1] for q in queues.values()):
        for y in years:
            fixes, others = queues[y]
            first, second = (fixes, others) if turn % 2 == 0 else (others, fixes)
            source = first or second
            if source and len(chosen) < count:
                chosen.append(source.pop(0))
        turn += 1
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git-dir", required=True, help="the project's git directory")
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--min-lines", type=int, default=20)
    parser.add_argument("--since", type=int, default=2014, help="first year considered")
    args = parser.parse_args()
    found = [c for c in candidates(args.git_dir, args.min_lines) if c[1] >= args.since]
    for sha in spread(found, args.count):
        print(sha)
    return 0


if __name__ == "__main__":
    sys.exit(main())
