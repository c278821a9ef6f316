"""What the platform parity benchmarks share: a sample of real Nova commits that touch its
tests, what `review-bot check --git` prints for each, the commit's trees, and the tally of
commits whose review carries exactly those fingerprints."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field

from common import REVIEW_BOT

from bot.model import Job


def git(git_dir: str, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", git_dir, *args], capture_output=True).stdout


def sample(git_dir: str, count: int) -> list[str]:
    """Every 20th of the latest 3,000 non-merge commits under nova/tests."""
    log = git(git_dir, "log", "--no-merges", "--format=%H", "-n", "3000", "--", "nova/tests/*")
    return log.decode().split()[19::20][:count]


def commits(doc: str | None, name: str, argv: list[str] | None) -> tuple[str, list[str]] | None:
    """NOVA_GIT and the sample from the command line; None (said) when NOVA_GIT is unset."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commits", type=int, default=150, help="sample size (default 150)")
    args = parser.parse_args(argv)
    git_dir = os.environ.get("NOVA_GIT")
    if not git_dir:
        print(f"{name}: skipped (set NOVA_GIT to a git directory of openstack/nova)")
        return None
    return git_dir, sample(git_dir, args.commits)


def cli_fingerprints(git_dir: str, sha: str) -> set[str]:
    out = subprocess.run(
        [str(REVIEW_BOT), "check", "--git", f"{sha}~1..{sha}", "--format", "json"],
        capture_output=True,
        env={**os.environ, "GIT_DIR": git_dir},
        cwd=tempfile.gettempdir(),  # the bundled rules, as the service uses them
        check=False,
    )
    return {f["fingerprint"] for f in json.loads(out.stdout)["findings"]}


def trees(git_dir: str, sha: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The changed files as they are in the parent and in the commit."""
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


@dataclass
class Tally:
    commits: int = 0
    same: int = 0
    printed: int = 0
    posted: int = 0
    differ: list[str] = field(default_factory=list)

    def add(self, sha: str, expected: set[str], got: set[str], job: Job) -> None:
        self.commits += 1
        self.printed += len(expected)
        self.posted += len(got)
        if got == expected and job.state.value == "done":
            self.same += 1
        else:
            self.differ.append(
                f"{sha[:12]} {job.state.value} {job.last_error or ''}: check-only "
                f"{sorted(expected - got)} review-only {sorted(got - expected)}"
            )

    def report(self, name: str, extra: str) -> int:
        """Print the result; the exit code (1 when any commit differs)."""
        print(
            f"{name}: {self.same}/{self.commits} commits post exactly what check prints; "
            f"{self.printed} findings printed, {self.posted} posted{extra}"
        )
        for line in self.differ:
            print("  differs:", line)
        return 0 if self.same == self.commits else 1
