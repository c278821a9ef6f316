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

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REVIEW_BOT, progress

from tests.fakes.github import FakeGitHub
from tests.integration.github_service import REPO, GitHubService

FP = re.compile(r"review-bot:fp=([0-9a-f]{32})")
LISTED = re.compile(r"review-bot:listed=([0-9a-f,]+)")


def git(git_dir: str, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", git_dir, *args], capture_output=True).stdout


def sample(git_dir: str, count: int) -> list[str]:
    log = git(git_dir, "log", "--no-merges", "--format=%H", "-n", "3000", "--", "nova/tests/*")
    return log.decode().split()[19::20][:count]


def cli_fingerprints(git_dir: str, sha: str) -> set[str]:
    out = subprocess.run(
        [str(REVIEW_BOT), "check", "--git", f"{sha}~1..{sha}", "--format", "json"],
        capture_output=True,
        env={**os.environ, "GIT_DIR": git_dir},
        cwd=tempfile.gettempdir(),  # the bundled rules, as the service below uses them
        check=False,
    )
    return {f["fingerprint"] for f in json.loads(out.stdout)["findings"]}


def trees(git_dir: str, sha: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    names = git(git_dir, "diff", "--no-renames", "--name-only", f"{sha}~1", sha).decode().split()
    sides = []
    for rev in (f"{sha}~1", sha):
        files = {}
        for path in names:
            shown = subprocess.run(
                ["git", "--git-dir", git_dir, "show", f"{rev}:{path}"], capture_output=True
            )
            if shown.returncode == 0:
                files[path] = shown.stdout
        sides.append(files)
    return sides[0], sides[1]


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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commits", type=int, default=150, help="sample size (default 150)")
    args = parser.parse_args(argv)
    git_dir = os.environ.get("NOVA_GIT")
    if not git_dir:
        print("github parity: skipped (set NOVA_GIT to a git directory of openstack/nova)")
        return 0
    shas = sample(git_dir, args.commits)
    fake = FakeGitHub().start()
    same = findings = posted = 0
    differ: list[str] = []
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
                findings += len(expected)
                posted += len(got)
                if got == expected and job.state.value == "done":
                    same += 1
                else:
                    differ.append(
                        f"{sha[:12]} {job.state.value}: check-only "
                        f"{sorted(expected - got)} review-only {sorted(got - expected)}"
                    )
                progress(f"{n}/{len(shas)} {sha[:12]}: {len(expected)} printed, {len(got)} posted")
    finally:
        fake.stop()
    refused = [r for r in fake.requests if r.method == "POST" and r.status == 422]
    print(
        f"github parity: {same}/{len(shas)} commits post exactly what check prints; "
        f"{findings} findings printed, {posted} posted; {len(refused)} reviews refused with 422; "
        f"{len(fake.schema_errors)} request bodies that break GitHub's schemas"
    )
    for line in differ:
        print("  differs:", line)
    return 0 if same == len(shas) else 1


if __name__ == "__main__":
    sys.exit(main())
