"""Benchmark (GitHub parity): on real commits, the GitHub review posts what `check` prints.

For a sample of a project's commits that touch its tests, runs `review-bot check --git
SHA~1..SHA --format json`, then opens the same change as a pull request on the fake GitHub
(tests/fakes/github.py: base and head trees from git, each file's `patch` from `git diff`)
and lets the real `review-bot serve` review it. Compares the fingerprints: those `check`
prints against those the review carries, inline or listed in its body. Also reports the
reviews refused with 422 (none expected: every comment is placed against the hunks first).

Needs NOVA_GIT (a git directory of openstack/nova, e.g. from the search tool's fetch); the
sample is every 20th of its latest 3,000 commits under nova/tests. Unset, it says so and
exits 0.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from common import progress
from parity import Tally, cli_fingerprints, commits, git, trees

from tests.fakes.github import FakeGitHub
from tests.integration.github_service import REPO, GitHubService

FP = re.compile(r"review-bot:fp=([0-9a-f]{32})")
LISTED = re.compile(r"review-bot:listed=([0-9a-f,]+)")


def review_fingerprints(fake: FakeGitHub, number: int) -> set[str]:
    found: set[str] = set()
    for r in fake.calls("POST", rf"/pulls/{number}/reviews$"):
        if r.status == 200:
            for c in r.body["comments"]:
                found |= set(FP.findall(c["body"]))
            for m in LISTED.findall(r.body["body"]):
                found |= set(m.split(","))
    return found


def main(argv: list[str] | None = None) -> int:
    picked = commits(__doc__, "github parity", argv)
    if picked is None:
        return 0
    git_dir, shas = picked
    tally = Tally()
    fake = FakeGitHub().start()
    try:
        with tempfile.TemporaryDirectory() as d, GitHubService(Path(d), fake) as svc:
            for n, sha in enumerate(shas, 1):
                expected = cli_fingerprints(git_dir, sha)
                base, head = trees(git_dir, sha)
                pr = fake.open_pr(REPO, n, base, head)
                for entry in pr.files:  # git's own hunks, as GitHub shows them
                    diff = git(
                        git_dir, "diff", "--no-renames", f"{sha}~1", sha, "--", entry["filename"]
                    ).decode("utf-8", "replace")
                    if "@@" in diff and "patch" in entry:
                        entry["patch"] = diff[diff.index("@@") :].rstrip("\n")
                job = svc.review("opened", n, pr.head, pr.base)
                got = review_fingerprints(fake, n)
                tally.add(sha, expected, got, job)
                progress(f"{n}/{len(shas)} {sha[:12]}: {len(expected)} printed, {len(got)} posted")
    finally:
        fake.stop()
    refused = [r for r in fake.requests if r.method == "POST" and r.status == 422]
    return tally.report(
        "github parity",
        f"; {len(refused)} reviews refused with 422; "
        f"{len(fake.schema_errors)} request bodies that break GitHub's schemas",
    )


if __name__ == "__main__":
    sys.exit(main())
